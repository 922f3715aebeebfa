/**
 * Sends the showing side's screen on the screen channel, for the host agent and the customer
 * module alike: video (VP8 or H.264, video.ts, stream 3) when the viewer says it decodes one,
 * else JPEG frames from ffmpeg's x11grab (host-capture.ts, stream 1) while the module shows, or a
 * text snapshot once a second when there is no capture.
 */
import type { SessionClient } from "../../sdk/session.ts";
import {
	encodeVideoChunk,
	KEYFRAME_REQUEST_MIN_MS,
	SCREEN_STREAM,
	VIDEO_STREAM,
	type VideoFeedback,
} from "../../web/wire.ts";
import type { Output } from "../common.ts";
import {
	type CaptureArea,
	type CaptureHandle,
	type CapturePlan,
	startX11Capture,
} from "../host-capture.ts";
import { chooseVideoCodec, type VideoCodecKind, VideoEncoder } from "./video.ts";

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
/** Video chunks being sealed at once; more are dropped (a key frame is asked for afterwards). */
const MAX_VIDEO_IN_FLIGHT = 4;
/** Reports with losses in a row before the encoder steps down; clean reports before it steps up. */
const LOSSY_REPORTS_TO_STEP_DOWN = 2;
const CLEAN_REPORTS_TO_STEP_UP = 10;
/** A viewer switching codecs again and again costs an ffmpeg start each: at most one per this. */
const CODEC_SWITCH_MIN_MS = 1000;
/**
 * Receiver reports are counted at most one per this many ms, and the encoder changes level at
 * most once per LEVEL_CHANGE_MIN_MS: a level change can restart ffmpeg, and a viewer sending
 * reports as fast as it can must not make the PC start ffmpeg without end.
 */
const REPORT_MIN_MS = 800;
const LEVEL_CHANGE_MIN_MS = 3000;

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
	/** What the viewer decodes (its last `codecs`); null: pictures. */
	let videoCodec: VideoCodecKind | null = null;
	let video: VideoEncoder | null = null;
	let videoFailed = false;
	let lastCodecSwitch = 0;
	let codecTimer: ReturnType<typeof setTimeout> | null = null;
	let lossy = 0;
	let clean = 0;
	let lastReportAt = 0;
	let lastLevelChangeAt = 0;

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

	const startVideo = (plan: Extract<CapturePlan, { mode: "x11" }>, codec: VideoCodecKind) => {
		let inFlight = 0;
		let sent = 0;
		let dropped = 0;
		/** A frame was dropped: deltas are useless to the viewer until the next key frame. */
		let needKey = false;
		const started = Date.now();
		const encoder: VideoEncoder = new VideoEncoder({
			ffmpeg: plan.ffmpeg,
			display: plan.display,
			codec,
			keyFrameMinMs: KEYFRAME_REQUEST_MIN_MS,
			...(options.area ? { area: options.area() } : {}),
			onFrame: (frame) => {
				if (!wanted || video !== encoder) return;
				const lagging = inFlight >= MAX_VIDEO_IN_FLIGHT || backlog() > MAX_BACKLOG_BYTES;
				if (lagging || (needKey && !frame.key)) {
					// Never queue: the relay keeps what the viewer has not read, the SDK what is not
					// sealed yet. A dropped frame breaks the chain, so ask for a key frame to resume.
					// (A key frame asked for while the line is still full would be dropped too.)
					dropped += 1;
					needKey = true;
					if (!lagging) encoder.requestKeyFrame();
					return;
				}
				needKey = false;
				const header = frame.key
					? {
							key: true as const,
							index: frame.index,
							timestampUs: frame.timestampUs,
							codec: frame.codec,
							width: frame.width,
							height: frame.height,
						}
					: { key: false as const, index: frame.index, timestampUs: frame.timestampUs };
				let payload: Uint8Array;
				try {
					payload = encodeVideoChunk(header, frame.data);
				} catch {
					dropped += 1; // a size the wire cannot carry (over 65535 pixels): never sent
					return;
				}
				if (payload.length > MAX_FRAME_BYTES) {
					dropped += 1;
					needKey = true;
					return;
				}
				inFlight += 1;
				void session
					.send("screen", VIDEO_STREAM, payload)
					.then(() => {
						sent += 1;
					})
					.catch(() => {}) // the session ended meanwhile; the state handler stops video
					.finally(() => {
						inFlight -= 1;
					});
			},
			onEvent: (event) => {
				if (event.type === "started") {
					out.event(
						"video.started",
						{
							pid: event.pid,
							codec: event.codec,
							kbps: event.level.kbps,
							halfRate: event.level.halfRate,
						},
						null,
					);
				} else if (event.type === "restarting") {
					out.event("video.restarting", { delayMs: event.delayMs, message: event.reason }, null);
				} else if (event.type === "failed") {
					// ffmpeg cannot encode here: JPEG pictures for the rest of this session.
					videoFailed = true;
					out.event(
						"video.failed",
						{ message: event.reason },
						`Video failed (ffmpeg: ${event.reason}); sending JPEG pictures instead.`,
					);
					if (video === encoder) {
						video = null;
						if (wanted && options.capture.mode === "x11") startCapture(options.capture);
					}
				}
			},
		});
		video = encoder;
		encoder.start();
		out.event(
			"capture.started",
			{ pid: encoder.pid, display: plan.display, codec },
			`Screen video (${codec}) started on ${plan.display}.`,
		);
		return () => {
			const seconds = Math.max(0.001, (Date.now() - started) / 1000);
			const fps = Math.round((sent / seconds) * 10) / 10;
			out.event(
				"capture.stopped",
				{
					pid: encoder.pid,
					codec,
					frames: encoder.frames,
					sent,
					skipped: dropped,
					fps,
					keyFrames: encoder.keyFramesForced,
				},
				`Screen video stopped (${sent} frames sent, ${fps} a second).`,
			);
		};
	};
	let videoStopped: (() => void) | null = null;

	/** Starts what the viewer can take: video when it decodes a codec we encode, else JPEG. */
	const startPictures = () => {
		if (options.capture.mode !== "x11" || captureFailed) {
			startSnapshots();
			return;
		}
		if (videoCodec && !videoFailed) videoStopped = startVideo(options.capture, videoCodec);
		else startCapture(options.capture);
	};

	const stopAll = () => {
		if (timer) {
			clearInterval(timer);
			timer = null;
		}
		const handle = capture;
		capture = null;
		if (handle) stopping = Promise.all([stopping, handle.stop()]).then(() => {});
		const encoder = video;
		video = null;
		if (encoder) {
			const report = videoStopped;
			videoStopped = null;
			stopping = Promise.all([stopping, encoder.stop()]).then(() => report?.());
		}
	};

	/** The viewer's codec choice changed: switch between video and pictures (rate-limited). */
	const switchCodec = () => {
		if (codecTimer) return;
		const wait = lastCodecSwitch + CODEC_SWITCH_MIN_MS - Date.now();
		if (wait > 0) {
			codecTimer = setTimeout(() => {
				codecTimer = null;
				switchCodec();
			}, wait);
			return;
		}
		lastCodecSwitch = Date.now();
		if (!wanted || timer) return; // not showing, or text snapshots (nothing to encode)
		const running = video ? video.codec : capture ? "jpeg" : null;
		const want = videoCodec && !videoFailed ? videoCodec : "jpeg";
		if (running === want) return;
		stopAll();
		startPictures();
	};

	return {
		showing(yes: boolean): void {
			wanted = yes;
			if (!yes) {
				stopAll();
				return;
			}
			if (capture || timer || video) return;
			startPictures();
		},
		/** Starts the capture again (the shared area changed); no-op when not capturing. */
		restart(): void {
			if (!capture && !video) return;
			stopAll();
			if (wanted) startPictures();
		},
		/**
		 * What the viewer says about video (screen stream 4, already validated by the SDK). The
		 * viewer is not trusted: its codec list only chooses among what this module encodes,
		 * switches are rate-limited, and key frame requests are merged (KEYFRAME_REQUEST_MIN_MS).
		 */
		feedback(message: VideoFeedback): void {
			if (message.t === "codecs") {
				const next = chooseVideoCodec(message.decode);
				const changed = next !== videoCodec;
				videoCodec = next;
				if (changed) switchCodec();
				else video?.requestKeyFrame(); // a resumed viewer says codecs again: it needs a key
			} else if (message.t === "keyframe") {
				video?.requestKeyFrame();
			} else if (message.t === "report" && video) {
				const now = Date.now();
				if (now - lastReportAt < REPORT_MIN_MS) return;
				lastReportAt = now;
				const mayChange = now - lastLevelChangeAt >= LEVEL_CHANGE_MIN_MS;
				if (message.lost > 0) {
					clean = 0;
					lossy += 1;
					if (lossy >= LOSSY_REPORTS_TO_STEP_DOWN && mayChange) {
						lossy = 0;
						lastLevelChangeAt = now;
						video.stepDown();
					}
				} else {
					lossy = 0;
					clean += 1;
					if (clean >= CLEAN_REPORTS_TO_STEP_UP && !session.peerLagging && mayChange) {
						clean = 0;
						lastLevelChangeAt = now;
						video.stepUp();
					}
				}
			}
		},
		/** The relay's back-pressure changed: the encoder steps down while the viewer lags. */
		backpressure(active: boolean): void {
			if (active) {
				clean = 0;
				video?.stepDown();
			}
		},
		/** Stops everything and resolves once ffmpeg has exited. */
		async close(): Promise<void> {
			wanted = false;
			if (codecTimer) clearTimeout(codecTimer);
			codecTimer = null;
			stopAll();
			await stopping;
		},
	};
}
