/**
 * Sending and showing a shared screen, for whichever side shows: the customer by default, the
 * supporter after a view switch. Video (video.ts) once the viewer asks for a codec this browser
 * encodes; otherwise pictures, whole JPEGs on the screen channel (wire.ts).
 */
import type { SessionClient } from "../sdk/session.ts";
import { canEncodeVideo, startVideoSender } from "./video.ts";
import { SCREEN_STREAM } from "./wire.ts";

/** The largest encoded frame sent; the relay and browsers handle 1 MiB WebSocket messages. */
const MAX_FRAME_BYTES = 900 * 1024;
/** Above this many unsent bytes the line is too slow: frames are skipped and quality drops. */
const MAX_BACKLOG_BYTES = 256 * 1024;
const FRAME_INTERVAL_MS = 150;
const MAX_WIDTH = 1920;
/** The frame clock's worker script (modules/web/frame-timer.ts), served by this server. */
export const FRAME_TIMER_URL = "/assets/frame-timer.js";

/** Waits for the next frame slot: `wait` is what the main-thread fallback sleeps. */
type FrameClock = { next(wait: number): Promise<void>; stop(): void };

/**
 * The capture loop's clock. A dedicated worker ticks every `interval` ms: a background tab's
 * main-thread timers are throttled by Chromium (the customer who switches to the shared window
 * leaves /join in the background), a worker's are not. A tick that arrives while a frame is
 * still being encoded is kept, so a slow frame is followed at once by the next, as before.
 * Without a worker (it cannot start, or fails later), the clock falls back to `setTimeout`.
 * `marker.dataset.frameClock` says which clock runs ("worker" once a tick arrived; the tests
 * read it).
 */
function frameClock(interval: number, marker: HTMLElement): FrameClock {
	let worker: Worker | null = null;
	let waiting: (() => void) | null = null;
	let ticked = false;
	const release = (): void => {
		const resolve = waiting;
		waiting = null;
		resolve?.();
	};
	try {
		worker = new Worker(FRAME_TIMER_URL);
		worker.onmessage = () => {
			marker.dataset.frameClock = "worker";
			if (waiting) release();
			else ticked = true;
		};
		worker.onerror = () => {
			// Blocked, missing or crashed: the main-thread timer takes over.
			worker?.terminate();
			worker = null;
			marker.dataset.frameClock = "timer";
			release();
		};
		worker.postMessage({ interval });
	} catch {
		worker = null;
	}
	if (!worker) marker.dataset.frameClock = "timer";
	return {
		next(wait) {
			if (!worker) return new Promise((resolve) => setTimeout(resolve, Math.max(10, wait)));
			if (ticked) {
				ticked = false;
				return Promise.resolve();
			}
			return new Promise((resolve) => {
				waiting = resolve;
			});
		},
		stop() {
			worker?.terminate();
			worker = null;
			release();
		},
	};
}

/** Opens the browser's own picker: the user chooses a window, a screen or a tab. */
export function pickScreen(): Promise<MediaStream> {
	return navigator.mediaDevices.getDisplayMedia({
		// Video wants 30 frames/s; the picture loop takes what it needs from them.
		video: { frameRate: { ideal: 30, max: 30 } },
		audio: false,
	});
}

/**
 * Sends the shared screen: as video (video.ts) while the viewer asked for a codec this browser
 * encodes, else as pictures. Pictures: draws the shared video into a canvas and sends it as
 * JPEG, about 6 times a second (paced by a
 * worker's clock, so a background tab keeps sending; see {@link frameClock}), while
 * `active()` holds and this side is the relay's shower (frames sent before the relay recorded
 * the grant would be dropped and counted as violations). When the socket's backlog grows,
 * frames are skipped and quality and size go down; as it drains they come back up: adaptive to
 * the bandwidth without measuring it.
 */
export async function sendScreen(
	session: SessionClient,
	role: "customer" | "supporter",
	video: HTMLVideoElement,
	backlog: () => number,
	active: () => boolean,
): Promise<void> {
	const canvas = document.createElement("canvas");
	const context = canvas.getContext("2d", { alpha: false });
	if (!context) return;
	let quality = 0.7;
	let scale = 1;
	const clock = frameClock(FRAME_INTERVAL_MS, video);
	const videoOut = canEncodeVideo()
		? startVideoSender({
				session,
				role,
				video,
				backlog,
				active,
				clock: (interval) => frameClock(interval, video),
			})
		: null;
	// The relay's back-pressure (the viewer is behind) counts like a full socket of our own.
	const behind = () => session.peerLagging || backlog() >= MAX_BACKLOG_BYTES;
	while (active() && !session.finished) {
		const started = performance.now();
		if (videoOut?.sending) {
			await clock.next(FRAME_INTERVAL_MS); // video goes out instead of pictures
			continue;
		}
		const state = session.state;
		const allowed = state?.shower === role && state.phase === "active";
		if (allowed && video.videoWidth > 0 && !behind()) {
			const factor = Math.min(1, MAX_WIDTH / video.videoWidth) * scale;
			canvas.width = Math.max(1, Math.round(video.videoWidth * factor));
			canvas.height = Math.max(1, Math.round(video.videoHeight * factor));
			context.drawImage(video, 0, 0, canvas.width, canvas.height);
			const blob = await new Promise<Blob | null>((resolve) =>
				canvas.toBlob(resolve, "image/jpeg", quality),
			);
			if (blob && blob.size <= MAX_FRAME_BYTES) {
				await session
					.send("screen", SCREEN_STREAM, new Uint8Array(await blob.arrayBuffer()))
					.catch(() => undefined); // the session ended meanwhile; the loop ends below
				if (quality < 0.8) quality += 0.02;
				if (scale < 1) scale = Math.min(1, scale + 0.05);
			} else {
				quality = Math.max(0.3, quality - 0.15);
				scale = Math.max(0.4, scale - 0.1);
			}
		} else if (allowed && behind()) {
			quality = Math.max(0.3, quality - 0.1);
			scale = Math.max(0.4, scale - 0.05);
		}
		await clock.next(FRAME_INTERVAL_MS - (performance.now() - started));
	}
	clock.stop();
	videoOut?.stop();
}

/**
 * Shows received pictures on a canvas. The newest frame wins: while one decodes, only the
 * latest waiting one is kept, so a slow machine drops frames instead of falling behind.
 * `data-frames` counts what was drawn (the tests read it).
 */
export function screenViewer(canvas: HTMLCanvasElement): (bytes: Uint8Array) => void {
	const context = canvas.getContext("2d", { alpha: false });
	let decoding = false;
	let pending: Uint8Array | null = null;
	const draw = (bytes: Uint8Array): void => {
		if (decoding) {
			pending = bytes;
			return;
		}
		decoding = true;
		const blob = new Blob([bytes as Uint8Array<ArrayBuffer>], { type: "image/jpeg" });
		createImageBitmap(blob)
			.then((image) => {
				if (canvas.width !== image.width || canvas.height !== image.height) {
					canvas.width = image.width;
					canvas.height = image.height;
				}
				context?.drawImage(image, 0, 0);
				image.close();
				canvas.dataset.frames = String(Number(canvas.dataset.frames ?? 0) + 1);
			})
			.catch(() => {
				// The host agent sends a text snapshot until it captures screens (modules/cli/host.ts):
				// shown as text; anything else that does not decode is skipped.
				const text = snapshotText(bytes);
				if (text === null || !context) return;
				drawSnapshot(canvas, context, text);
				canvas.dataset.snapshot = text;
				canvas.dataset.frames = String(Number(canvas.dataset.frames ?? 0) + 1);
			})
			.finally(() => {
				decoding = false;
				const next = pending;
				pending = null;
				if (next) draw(next);
			});
	};
	return draw;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** Short printable UTF-8 (a host's text snapshot), or null. */
function snapshotText(bytes: Uint8Array): string | null {
	if (bytes.length === 0 || bytes.length > 4096) return null;
	try {
		const text = strictUtf8.decode(bytes);
		// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters mean "not text"
		return /[\u0000-\u0008\u000e-\u001f\u007f]/.test(text) ? null : text;
	} catch {
		return null;
	}
}

function drawSnapshot(
	canvas: HTMLCanvasElement,
	context: CanvasRenderingContext2D,
	text: string,
): void {
	canvas.width = 960;
	canvas.height = 540;
	context.fillStyle = "#12263f";
	context.fillRect(0, 0, canvas.width, canvas.height);
	context.fillStyle = "#ffffff";
	context.font = "24px monospace";
	text
		.split("\n")
		.slice(0, 18)
		.forEach((line, i) => {
			context.fillText(line.slice(0, 70), 24, 48 + i * 28);
		});
}
