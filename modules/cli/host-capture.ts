/**
 * Screen capture for the host agent: Debian's ffmpeg grabs the X11 display (`x11grab`) and
 * writes an MJPEG stream to its stdout, which is cut into whole JPEG frames here. Each frame is
 * exactly what the browser customer module sends on the screen channel (modules/web/wire.ts),
 * so the supporter console shows a host's screen like a customer's.
 *
 * Every ffmpeg this module starts is tracked: `stop()` ends it (SIGTERM, then SIGKILL), and an
 * `exit` hook kills whatever is still running when the agent exits, so none is left behind.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, constants, statSync } from "node:fs";
import { platform } from "node:os";
import { delimiter, join } from "node:path";

/** The values of `host run --capture`. */
export const CAPTURE_MODES = ["none", "x11"] as const;
export type CaptureMode = (typeof CAPTURE_MODES)[number];

/** Frames per second asked of ffmpeg; fewer go out when the line is slow (see the agent). */
export const CAPTURE_FPS = 5;
/** Wider screens are scaled down to this width (as the browser module does). */
export const CAPTURE_MAX_WIDTH = 1920;
/** One JPEG larger than this is not a frame but a broken stream: the splitter resynchronises. */
const MAX_JPEG_BYTES = 16 * 1024 * 1024;

/** What `host run` will do for the screen channel, decided once at start. */
export type CapturePlan =
	| { mode: "x11"; display: string; ffmpeg: string; fps: number }
	| { mode: "none"; reason: string; requested: boolean };

/** The first executable file called `name` on `PATH`, or null. */
export function findExecutable(name: string, path: string | undefined): string | null {
	for (const dir of (path ?? "").split(delimiter)) {
		if (!dir) continue;
		const file = join(dir, name);
		try {
			if (!statSync(file).isFile()) continue;
			accessSync(file, constants.X_OK);
			return file;
		} catch {
			// not here
		}
	}
	return null;
}

const FALLBACK = "the supporter sees a text snapshot instead of the screen";

/**
 * Decides how to capture: `requested` is the `--capture` flag (undefined: x11 where possible).
 * A plan of mode "none" carries the one line the agent logs about why.
 */
export function planCapture(
	requested: CaptureMode | undefined,
	env: NodeJS.ProcessEnv = process.env,
	os: string = platform(),
): CapturePlan {
	if (requested === "none") {
		return {
			mode: "none",
			requested: true,
			reason: `Screen capture is off (--capture none): ${FALLBACK}.`,
		};
	}
	const explicit = requested === "x11";
	let reason: string | null = null;
	const display = env.DISPLAY ?? "";
	const ffmpeg = findExecutable("ffmpeg", env.PATH);
	if (os !== "linux") {
		reason = `No screen capture on ${os} yet (only Linux with X11): ${FALLBACK}.`;
	} else if (!display) {
		reason = env.WAYLAND_DISPLAY
			? `No X11 display (DISPLAY is not set; Wayland is not supported): ${FALLBACK}.`
			: `No X11 display (DISPLAY is not set): ${FALLBACK}.`;
	} else if (!ffmpeg) {
		reason = `ffmpeg was not found on PATH (apt-get install ffmpeg): ${FALLBACK}.`;
	}
	if (reason !== null || !ffmpeg) {
		return { mode: "none", requested: explicit, reason: reason ?? FALLBACK };
	}
	return { mode: "x11", display, ffmpeg, fps: CAPTURE_FPS };
}

/** A rectangle of the X screen in pixels (one monitor of several). */
export interface CaptureArea {
	x: number;
	y: number;
	width: number;
	height: number;
}

/**
 * ffmpeg's input arguments for grabbing the X screen `display` (or only `area`, one monitor) at
 * `fps` frames a second, with the pointer drawn in. Every capture (pictures and video) starts
 * with these.
 */
export function x11grabInputArgs(display: string, fps: number, area?: CaptureArea): string[] {
	// x11grab takes the region as -video_size plus a "+x,y" offset on the display name.
	const region = area
		? ["-video_size", `${area.width}x${area.height}`, "-i", `${display}+${area.x},${area.y}`]
		: ["-i", display];
	return [
		"-hide_banner",
		"-loglevel",
		"error",
		// Raw frames need no probing; the default probe waits for about 3 s of pictures first.
		"-probesize",
		"32",
		"-analyzeduration",
		"0",
		"-f",
		"x11grab",
		"-draw_mouse",
		"1",
		"-framerate",
		String(fps),
		...region,
	];
}

/**
 * ffmpeg's arguments: the whole X screen (or only `area`, one monitor), scaled to at most
 * `maxWidth`, as MJPEG on stdout.
 */
export function ffmpegArgs(
	display: string,
	fps: number,
	maxWidth = CAPTURE_MAX_WIDTH,
	area?: CaptureArea,
): string[] {
	return ["-nostdin", ...x11grabInputArgs(display, fps, area), ...mjpegOutputArgs(maxWidth)];
}

/**
 * ffmpeg's output arguments for every capture source (x11grab here, gdigrab and avfoundation in
 * desktop/plans.ts): scaled to at most `maxWidth` pixels, MJPEG on stdout, one picture per packet.
 */
export function mjpegOutputArgs(maxWidth: number): string[] {
	return [
		"-vf",
		`scale='trunc(min(${maxWidth},iw)/2)*2':-2`,
		"-pix_fmt",
		"yuvj420p",
		"-f",
		"image2pipe",
		"-c:v",
		"mjpeg",
		"-q:v",
		"5",
		// Each picture goes out as soon as it is encoded, not when a 32 KiB pipe buffer fills.
		"-flush_packets",
		"1",
		"-",
	];
}

// ---------------------------------------------------------------------------------------------
// Cutting an MJPEG stream into JPEGs

/**
 * Where the JPEG at the start of `buf` ends (the index after its EOI), -1 when it is not complete
 * yet, or -2 when the bytes are not a well-formed JPEG. Walks the marker segments by their
 * lengths and the entropy-coded data by its byte stuffing, so an FF D9 inside a segment (a
 * table, a comment) does not end the picture early.
 */
export function jpegEnd(buf: Uint8Array): number {
	if (buf.length < 2) return -1;
	if (buf[0] !== 0xff || buf[1] !== 0xd8) return -2;
	let i = 2;
	for (;;) {
		if (i + 1 >= buf.length) return -1;
		if (buf[i] !== 0xff) return -2;
		const marker = buf[i + 1] as number;
		if (marker === 0xff) {
			i += 1; // fill byte
			continue;
		}
		if (marker === 0xd9) return i + 2;
		if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
			i += 2; // no length
			continue;
		}
		if (marker === 0x00 || marker === 0xd8) return -2;
		if (i + 3 >= buf.length) return -1;
		const length = ((buf[i + 2] as number) << 8) | (buf[i + 3] as number);
		if (length < 2) return -2;
		i += 2 + length;
		if (marker !== 0xda) continue;
		// Entropy-coded data after SOS: FF 00 is a stuffed FF, FF D0–D7 a restart marker; any other
		// marker ends the scan (EOI, or the tables of a next scan).
		for (;;) {
			if (i + 1 >= buf.length) return -1;
			if (buf[i] !== 0xff) {
				i += 1;
				continue;
			}
			const next = buf[i + 1] as number;
			if (next === 0x00 || (next >= 0xd0 && next <= 0xd7)) i += 2;
			else if (next === 0xff) i += 1;
			else break;
		}
	}
}

/** Cuts a byte stream of concatenated JPEGs (ffmpeg's `image2pipe` MJPEG) into single JPEGs. */
export class JpegSplitter {
	#buf: Uint8Array = new Uint8Array(0);
	/** Bytes thrown away because they were not part of a well-formed JPEG. */
	discarded = 0;

	push(chunk: Uint8Array): Uint8Array[] {
		const joined = new Uint8Array(this.#buf.length + chunk.length);
		joined.set(this.#buf);
		joined.set(chunk, this.#buf.length);
		let buf = joined;
		const out: Uint8Array[] = [];
		for (;;) {
			const end = buf.length >= 2 ? jpegEnd(buf) : -1;
			if (end > 0) {
				out.push(buf.slice(0, end));
				buf = buf.subarray(end);
				continue;
			}
			if (end === -1 && buf.length <= MAX_JPEG_BYTES) break;
			// Broken or endless: skip to the next SOI after the first byte (a trailing FF may be the
			// first half of the next one, so it stays).
			let next = nextSoi(buf, 1);
			if (next < 0) next = buf[buf.length - 1] === 0xff ? buf.length - 1 : buf.length;
			this.discarded += next;
			buf = buf.subarray(next);
			if (buf.length < 2) break;
		}
		this.#buf = buf.slice();
		return out;
	}
}

function nextSoi(buf: Uint8Array, from: number): number {
	for (let i = from; i + 1 < buf.length; i++) {
		if (buf[i] === 0xff && buf[i + 1] === 0xd8) return i;
	}
	return -1;
}

/** Width and height from a JPEG's SOF segment, or null. */
export function jpegSize(jpeg: Uint8Array): { width: number; height: number } | null {
	let i = 2;
	while (i + 9 < jpeg.length && jpeg[i] === 0xff) {
		const marker = jpeg[i + 1] as number;
		const length = ((jpeg[i + 2] as number) << 8) | (jpeg[i + 3] as number);
		const isSof = marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker);
		if (isSof) {
			return {
				height: ((jpeg[i + 5] as number) << 8) | (jpeg[i + 6] as number),
				width: ((jpeg[i + 7] as number) << 8) | (jpeg[i + 8] as number),
			};
		}
		if (marker === 0xda) return null;
		i += 2 + length;
	}
	return null;
}

// ---------------------------------------------------------------------------------------------
// The ffmpeg process

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Kills every capture process still running (the agent's exit paths call this). */
export function killAllCaptures(signal: NodeJS.Signals = "SIGKILL"): void {
	for (const child of running) {
		try {
			child.kill(signal);
		} catch {
			// already gone
		}
	}
}

/** How a capture ended. */
export interface CaptureExit {
	code: number | null;
	signal: string | null;
	/** JPEG frames read from ffmpeg. */
	frames: number;
	/** True when `stop()` ended it; false when ffmpeg ended by itself (an error). */
	stopped: boolean;
	/** ffmpeg's last line on stderr, when it ended by itself. */
	error: string | null;
}

export interface CaptureOptions {
	ffmpeg: string;
	display: string;
	fps: number;
	maxWidth?: number;
	/** Only this part of the screen (one monitor); the whole screen when absent. */
	area?: CaptureArea;
	env?: NodeJS.ProcessEnv;
	onFrame: (jpeg: Uint8Array) => void;
	onExit: (exit: CaptureExit) => void;
}

export interface CaptureHandle {
	readonly pid: number | undefined;
	readonly frames: number;
	/** Ends ffmpeg (SIGTERM, SIGKILL after 2 s); resolves when it has exited. */
	stop(): Promise<void>;
}

/** Starts ffmpeg on the X display; frames arrive through `onFrame` until `stop()`. */
export function startX11Capture(options: CaptureOptions): CaptureHandle {
	if (!exitHookInstalled) {
		exitHookInstalled = true;
		process.on("exit", () => killAllCaptures("SIGKILL"));
	}
	const child = spawn(
		options.ffmpeg,
		ffmpegArgs(options.display, options.fps, options.maxWidth, options.area),
		{
			stdio: ["ignore", "pipe", "pipe"],
			env: options.env ?? process.env,
		},
	);
	running.add(child);
	const splitter = new JpegSplitter();
	let frames = 0;
	let stopped = false;
	let stderr = "";
	child.stdout?.on("data", (chunk: Buffer) => {
		if (stopped) return;
		for (const jpeg of splitter.push(chunk)) {
			frames += 1;
			options.onFrame(jpeg);
		}
	});
	child.stderr?.on("data", (chunk: Buffer) => {
		stderr = (stderr + chunk.toString("utf8")).slice(-2000);
	});
	const exited = new Promise<void>((resolve) => {
		let done = false;
		const finish = (code: number | null, signal: string | null, spawnError?: Error) => {
			if (done) return;
			done = true;
			running.delete(child);
			const lastLine = stderr.trim().split("\n").at(-1)?.trim() || null;
			options.onExit({
				code,
				signal,
				frames,
				stopped,
				error: stopped ? null : (spawnError?.message ?? lastLine),
			});
			resolve();
		};
		child.once("error", (err) => finish(null, null, err));
		child.once("exit", (code, signal) => finish(code, signal));
	});
	return {
		get pid() {
			return child.pid;
		},
		get frames() {
			return frames;
		},
		stop: async () => {
			if (!stopped) {
				stopped = true;
				if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
				const timer = setTimeout(() => child.kill("SIGKILL"), 2000);
				await exited;
				clearTimeout(timer);
			}
			await exited;
		},
	};
}
