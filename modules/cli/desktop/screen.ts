/**
 * Sends the showing side's screen on the screen channel, for the host agent and the customer
 * module alike: JPEG frames from ffmpeg's x11grab (host-capture.ts) while the module shows, or a
 * text snapshot once a second when there is no capture.
 */
import type { SessionClient } from "../../sdk/session.ts";
import { SCREEN_STREAM } from "../../web/wire.ts";
import type { Output } from "../common.ts";
import {
	type CaptureArea,
	type CaptureHandle,
	type CapturePlan,
	startX11Capture,
} from "../host-capture.ts";

export interface ScreenSenderOptions {
	out: Output;
	/** Named in the text snapshot. */
	name: string;
	capture: CapturePlan;
	session: SessionClient;
	/** Unsent bytes on the session's socket (infinite when there is none). */
	backlog: () => number;
	/** The part of the screen to capture (one monitor); the whole screen when absent. */
	area?: () => CaptureArea;
}

/** The largest JPEG sent; the relay and browsers handle 1 MiB WebSocket messages (as web/screen.ts). */
const MAX_FRAME_BYTES = 900 * 1024;
/** Above this many unsent bytes on the socket, captured frames are skipped (as web/screen.ts). */
const MAX_BACKLOG_BYTES = 256 * 1024;

/**
 * Sends this host's screen while `showing(true)`: JPEG frames from ffmpeg when the agent
 * captures, otherwise (or after ffmpeg failed in this session) a text snapshot once a second, so
 * the supporter still sees frames flow. Frames are skipped while one is still being sealed or
 * the socket's backlog is high, so the rate follows the line instead of queueing up latency.
 */
export function screenSender(options: ScreenSenderOptions) {
	const { out, name, session, backlog } = options;
	let wanted = false;
	let capture: CaptureHandle | null = null;
	let captureFailed = false;
	let timer: ReturnType<typeof setInterval> | null = null;
	let stopping: Promise<void> = Promise.resolve();

	const startSnapshots = () => {
		if (timer) return;
		let n = 0;
		const tick = () => {
			n += 1;
			const text = `${name} ${new Date().toISOString()} frame ${n}`;
			void session.send("screen", SCREEN_STREAM, new TextEncoder().encode(text)).catch(() => {});
		};
		tick();
		timer = setInterval(tick, 1000);
	};

	const startCapture = (plan: Extract<CapturePlan, { mode: "x11" }>) => {
		let inFlight = false;
		let sent = 0;
		let skipped = 0;
		const started = Date.now();
		const handle = startX11Capture({
			ffmpeg: plan.ffmpeg,
			display: plan.display,
			fps: plan.fps,
			...(options.area ? { area: options.area() } : {}),
			onFrame: (jpeg) => {
				if (!wanted || capture !== handle) return;
				if (inFlight || jpeg.length > MAX_FRAME_BYTES || backlog() > MAX_BACKLOG_BYTES) {
					skipped += 1;
					return;
				}
				inFlight = true;
				void session
					.send("screen", SCREEN_STREAM, jpeg)
					.then(() => {
						sent += 1;
					})
					.catch(() => {}) // the session ended meanwhile; the state handler stops capture
					.finally(() => {
						inFlight = false;
					});
			},
			onExit: (exit) => {
				const seconds = Math.max(0.001, (Date.now() - started) / 1000);
				const fps = Math.round((sent / seconds) * 10) / 10;
				if (exit.stopped) {
					out.event(
						"capture.stopped",
						{ pid: handle.pid, frames: exit.frames, sent, skipped, fps },
						`Screen capture stopped (${sent} frames sent, ${fps} a second).`,
					);
					return;
				}
				// ffmpeg ended by itself (no access to the display, killed, …): say why once and fall
				// back to the text snapshot for the rest of this session.
				captureFailed = true;
				if (capture === handle) capture = null;
				const why = exit.error ?? `exit code ${exit.code ?? exit.signal}`;
				out.event(
					"capture.failed",
					{
						pid: handle.pid,
						code: exit.code,
						signal: exit.signal,
						frames: exit.frames,
						message: why,
					},
					`Screen capture failed (ffmpeg: ${why}); sending a text snapshot instead.`,
				);
				if (wanted) startSnapshots();
			},
		});
		capture = handle;
		out.event(
			"capture.started",
			{ pid: handle.pid, display: plan.display, fps: plan.fps },
			`Screen capture started on ${plan.display}.`,
		);
	};

	const stopAll = () => {
		if (timer) {
			clearInterval(timer);
			timer = null;
		}
		const handle = capture;
		capture = null;
		if (handle) stopping = Promise.all([stopping, handle.stop()]).then(() => {});
	};

	return {
		showing(yes: boolean): void {
			wanted = yes;
			if (!yes) {
				stopAll();
				return;
			}
			if (capture || timer) return;
			if (options.capture.mode === "x11" && !captureFailed) startCapture(options.capture);
			else startSnapshots();
		},
		/** Starts the capture again (the shared area changed); no-op when not capturing. */
		restart(): void {
			if (!capture) return;
			stopAll();
			if (wanted && options.capture.mode === "x11") startCapture(options.capture);
		},
		/** Stops everything and resolves once ffmpeg has exited. */
		async close(): Promise<void> {
			wanted = false;
			stopAll();
			await stopping;
		},
	};
}
