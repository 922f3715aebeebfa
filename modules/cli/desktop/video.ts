/**
 * Video for the native module (docs/modules.md §6, docs/protocol.md §2.3): ONE long-running
 * ffmpeg per shared screen grabs the X display (x11grab) and encodes it in real time, as VP8
 * (libvpx) in IVF or as H.264 (libx264, zero latency) in Annex B, on its stdout. This file splits
 * that stream into frames as it arrives, without buffering more than one frame, and runs the
 * process: key frames on request, a lower frame rate or bitrate when the link asks for it, a
 * restart with back-off when ffmpeg dies, and a clean stop.
 *
 * What Debian's ffmpeg 5.1 offers, measured on this project's machine:
 * - A key frame on request without a restart (VP8): libvpx honours the frame metadata
 *   `vp8-flags` (1 = VPX_EFLAG_FORCE_KF), the `metadata` filter adds it, and its timeline
 *   `enable` is switched live through ffmpeg's stdin command `c` (read at most every 100 ms):
 *   on at the request, off again at the first key frame, so a request costs one to a few key
 *   frames. A one-shot expression (`if(ld(0),0,st(0,1))`) did not work in 5.1: ld/st do not keep
 *   their value between frames there. When no key frame follows within
 *   {@link KEY_FRAME_FALLBACK_MS} (ffmpeg busy, a command lost), ffmpeg is restarted, whose first
 *   frame is a key frame. libx264 has no live path in ffmpeg 5.1: H.264 key frames are restarts.
 * - Half the frame rate without a restart: the `framestep` filter's `enable`, the same way.
 *   Bitrate has no live path: a new bitrate is a restart (its cost is a key frame).
 * - With `-copyts` and `-enc_time_base 1:1000000`, an IVF frame's pts is x11grab's capture time
 *   in microseconds since the epoch, which becomes the chunk's timestamp.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { CAPTURE_MAX_WIDTH, type CaptureArea, x11grabInputArgs } from "../host-capture.ts";

/** The frame rate asked of ffmpeg for video. */
export const VIDEO_FPS = 30;
/** The target bitrate at full quality, kbit/s (1080p desktop with text stays readable). */
export const VIDEO_BITRATE_KBPS = 2500;
/** One encoded frame larger than this is not a frame but a broken stream. */
export const MAX_VIDEO_FRAME_BYTES = 4 * 1024 * 1024;

/** The codecs this module encodes, as WebCodecs codec strings or patterns. */
export type VideoCodecKind = "vp8" | "h264";

/**
 * Which codec to encode for a viewer's `decode` list (most wanted first): the first entry that is
 * "vp8" or an H.264 string of the Baseline, Main or High profile ("avc1.42…", "avc1.4D…",
 * "avc1.64…"); null when none is (the viewer gets JPEG pictures).
 */
export function chooseVideoCodec(decode: readonly string[]): VideoCodecKind | null {
	for (const codec of decode) {
		if (codec === "vp8") return "vp8";
		if (/^avc1\.(42|4d|64)[0-9a-f]{4}$/i.test(codec)) return "h264";
	}
	return null;
}

/** One encoded frame as it left ffmpeg. */
export interface EncodedFrame {
	key: boolean;
	/** Capture time in µs since the epoch (VP8); for H.264 the time the frame left ffmpeg. */
	timestampUs: number;
	/** One VP8 frame, or one H.264 access unit in Annex B. */
	data: Uint8Array;
}

/** A stream that cannot be split any more (wrong container, absurd sizes): restart ffmpeg. */
export class VideoStreamError extends Error {}

/** Appends `chunk` to `buf`, copying only the unconsumed rest. */
function append(buf: Uint8Array, chunk: Uint8Array): Uint8Array {
	if (buf.length === 0) return chunk.slice();
	const joined = new Uint8Array(buf.length + chunk.length);
	joined.set(buf);
	joined.set(chunk, buf.length);
	return joined;
}

// ---------------------------------------------------------------------------------------------
// IVF (VP8)

const IVF_HEADER_BYTES = 32;
const IVF_FRAME_HEADER_BYTES = 12;

/** VP8 (RFC 6386 §9.1): bit 0 of the first byte of a frame is 0 for a key frame. */
export function isVp8KeyFrame(frame: Uint8Array): boolean {
	return frame.length > 0 && ((frame[0] as number) & 1) === 0;
}

/**
 * Splits an IVF stream (32-byte file header "DKIF", then per frame a 12-byte header: size u32 LE,
 * pts u64 LE, and the frame) into frames as bytes arrive, whatever the read boundaries. Holds at
 * most one incomplete frame. `push` throws {@link VideoStreamError} on a stream that is not IVF or
 * announces a frame over {@link MAX_VIDEO_FRAME_BYTES}; the splitter is unusable after that.
 */
export class IvfSplitter {
	#buf: Uint8Array = new Uint8Array(0);
	#header: { fourcc: string; width: number; height: number } | null = null;
	#broken = false;

	/** The file header's codec (e.g. "VP80") and size, once read. */
	get header(): { fourcc: string; width: number; height: number } | null {
		return this.#header;
	}

	push(chunk: Uint8Array): EncodedFrame[] {
		if (this.#broken) throw new VideoStreamError("the IVF stream was broken before");
		let buf = append(this.#buf, chunk);
		const out: EncodedFrame[] = [];
		if (!this.#header) {
			if (buf.length < IVF_HEADER_BYTES) {
				this.#buf = buf;
				return out;
			}
			const view = new DataView(buf.buffer, buf.byteOffset, IVF_HEADER_BYTES);
			const magic = String.fromCharCode(...buf.subarray(0, 4));
			const headerBytes = view.getUint16(6, true);
			if (magic !== "DKIF" || headerBytes !== IVF_HEADER_BYTES) {
				this.#broken = true;
				throw new VideoStreamError("not an IVF stream");
			}
			this.#header = {
				fourcc: String.fromCharCode(...buf.subarray(8, 12)),
				width: view.getUint16(12, true),
				height: view.getUint16(14, true),
			};
			buf = buf.subarray(IVF_HEADER_BYTES);
		}
		while (buf.length >= IVF_FRAME_HEADER_BYTES) {
			const view = new DataView(buf.buffer, buf.byteOffset, IVF_FRAME_HEADER_BYTES);
			const size = view.getUint32(0, true);
			if (size === 0 || size > MAX_VIDEO_FRAME_BYTES) {
				this.#broken = true;
				throw new VideoStreamError(`IVF frame of ${size} bytes`);
			}
			if (buf.length < IVF_FRAME_HEADER_BYTES + size) break;
			const pts = view.getBigUint64(4, true);
			const data = buf.slice(IVF_FRAME_HEADER_BYTES, IVF_FRAME_HEADER_BYTES + size);
			out.push({
				key: isVp8KeyFrame(data),
				timestampUs: pts > BigInt(Number.MAX_SAFE_INTEGER) ? 0 : Number(pts),
				data,
			});
			buf = buf.subarray(IVF_FRAME_HEADER_BYTES + size);
		}
		this.#buf = buf.slice();
		return out;
	}
}

// ---------------------------------------------------------------------------------------------
// Annex B (H.264)

/** NAL unit types (ITU-T H.264 Table 7-1) the splitter looks at. */
const NAL_IDR = 5;
const NAL_SEI = 6;
const NAL_SPS = 7;
const NAL_PPS = 8;
const NAL_AUD = 9;

/** Start of every NAL unit in `buf` (index of its header byte, after the 00 00 01). */
function nalStarts(buf: Uint8Array, from: number): number[] {
	const starts: number[] = [];
	for (let i = from; i + 2 < buf.length; i++) {
		if ((buf[i + 2] as number) > 1) {
			i += 2; // no start code can begin at i, i+1 or i+2
			continue;
		}
		if (buf[i] === 0 && buf[i + 1] === 0 && buf[i + 2] === 1) {
			starts.push(i + 3);
			i += 2;
		}
	}
	return starts;
}

/** True when the access unit (Annex B) holds an IDR slice (NAL type 5). */
export function isH264KeyFrame(au: Uint8Array): boolean {
	return nalStarts(au, 0).some((s) => ((au[s] as number) & 0x1f) === NAL_IDR);
}

/**
 * The WebCodecs codec string of an access unit's SPS ("avc1." + profile_idc, constraint flags
 * and level_idc in hex, e.g. "avc1.42C028"), or null when it holds no SPS.
 */
export function h264CodecString(au: Uint8Array): string | null {
	for (const s of nalStarts(au, 0)) {
		if (((au[s] as number) & 0x1f) !== NAL_SPS || s + 3 >= au.length) continue;
		const hex = (b: number) => b.toString(16).toUpperCase().padStart(2, "0");
		return `avc1.${hex(au[s + 1] as number)}${hex(au[s + 2] as number)}${hex(au[s + 3] as number)}`;
	}
	return null;
}

/** Reads bits and exp-Golomb codes from an RBSP (emulation prevention bytes removed). */
class BitReader {
	#bytes: Uint8Array;
	#bit = 0;

	constructor(bytes: Uint8Array) {
		this.#bytes = bytes;
	}

	u(n: number): number {
		let v = 0;
		for (let i = 0; i < n; i++) {
			const byte = this.#bytes[this.#bit >> 3];
			if (byte === undefined) throw new RangeError("end of data");
			v = v * 2 + ((byte >> (7 - (this.#bit & 7))) & 1);
			this.#bit += 1;
		}
		return v;
	}

	ue(): number {
		let zeros = 0;
		while (this.u(1) === 0) {
			zeros += 1;
			if (zeros > 31) throw new RangeError("bad exp-Golomb code");
		}
		return 2 ** zeros - 1 + this.u(zeros);
	}

	se(): number {
		const k = this.ue();
		return k % 2 === 1 ? (k + 1) / 2 : -k / 2;
	}
}

/** Profiles whose SPS carries chroma format and bit depths (ITU-T H.264 §7.3.2.1.1). */
const HIGH_PROFILES = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);

/**
 * The picture size an access unit's SPS describes (cropping applied), or null when it holds no
 * SPS or one this parser does not read (scaling matrices, 4:4:4 with separate planes).
 */
export function h264PictureSize(au: Uint8Array): { width: number; height: number } | null {
	for (const s of nalStarts(au, 0)) {
		if (((au[s] as number) & 0x1f) !== NAL_SPS) continue;
		const next = nalStarts(au, s).find((n) => n > s);
		const end = next === undefined ? au.length : next - 3;
		const rbsp: number[] = [];
		for (let i = s + 1; i < end; i++) {
			// 00 00 03 → 00 00: the 03 only prevents a start code.
			if (au[i] === 3 && au[i - 1] === 0 && au[i - 2] === 0 && i - 2 > s) continue;
			rbsp.push(au[i] as number);
		}
		try {
			const r = new BitReader(new Uint8Array(rbsp));
			const profile = r.u(8);
			r.u(16); // constraint flags, level
			r.ue(); // seq_parameter_set_id
			let chroma = 1;
			if (HIGH_PROFILES.has(profile)) {
				chroma = r.ue();
				if (chroma === 3 && r.u(1) === 1) return null;
				r.ue();
				r.ue();
				r.u(1);
				if (r.u(1) === 1) return null; // scaling matrices: not read here
			}
			r.ue(); // log2_max_frame_num_minus4
			const pocType = r.ue();
			if (pocType === 0) r.ue();
			else if (pocType === 1) {
				r.u(1);
				r.se();
				r.se();
				const n = r.ue();
				for (let i = 0; i < n; i++) r.se();
			}
			r.ue(); // max_num_ref_frames
			r.u(1);
			const widthMbs = r.ue() + 1;
			const heightUnits = r.ue() + 1;
			const frameMbsOnly = r.u(1);
			if (frameMbsOnly === 0) r.u(1);
			r.u(1);
			let crop = [0, 0, 0, 0];
			if (r.u(1) === 1) crop = [r.ue(), r.ue(), r.ue(), r.ue()];
			const cropX = chroma === 0 || chroma === 3 ? 1 : 2;
			const cropY = (chroma === 1 ? 2 : 1) * (2 - frameMbsOnly);
			const [left, right, top, bottom] = crop as [number, number, number, number];
			return {
				width: widthMbs * 16 - (left + right) * cropX,
				height: (2 - frameMbsOnly) * heightUnits * 16 - (top + bottom) * cropY,
			};
		} catch {
			return null;
		}
	}
	return null;
}

/**
 * Splits an H.264 Annex B byte stream into access units (ITU-T H.264 §7.4.1.2.3): a unit ends
 * where the next begins, at an access unit delimiter, or at an SPS, PPS or SEI, or a slice with
 * first_mb_in_slice = 0, that follows a slice of the current unit. So a unit is complete only
 * when the next one starts (one frame later): Annex B carries no lengths. Bytes before the first
 * start code are dropped; a unit over {@link MAX_VIDEO_FRAME_BYTES} is dropped (counted in
 * `discarded`) and the splitter resynchronises at the next unit.
 */
export class AnnexBSplitter {
	#buf: Uint8Array = new Uint8Array(0);
	/** Start codes that begin before `#scanned - 2` have been found. */
	#scanned = 0;
	/** NAL header positions found but not classified yet (their bytes have not all arrived). */
	#pending: number[] = [];
	/** Where the current unit's first start code begins in #buf; -1 before the first one. */
	#unitStart = -1;
	#hasSlice = false;
	/** Bytes thrown away: before the first start code, units without a slice, units too large. */
	discarded = 0;

	push(chunk: Uint8Array): Uint8Array[] {
		this.#buf = append(this.#buf, chunk);
		const buf = this.#buf;
		this.#pending.push(...nalStarts(buf, Math.max(0, this.#scanned - 2)));
		this.#scanned = buf.length;
		const out: Uint8Array[] = [];
		while (this.#pending.length > 0) {
			const s = this.#pending[0] as number;
			if (s + 1 >= buf.length) break; // header byte and the one after it are needed
			this.#pending.shift();
			const type = (buf[s] as number) & 0x1f;
			const slice = type === 1 || type === NAL_IDR;
			// first_mb_in_slice is ue(v): 0 is the single bit 1.
			const firstMb = slice && ((buf[s + 1] as number) & 0x80) !== 0;
			const at = s >= 4 && buf[s - 4] === 0 ? s - 4 : s - 3;
			const begins =
				type === NAL_AUD ||
				(this.#hasSlice && (type === NAL_SPS || type === NAL_PPS || type === NAL_SEI || firstMb));
			if (this.#unitStart < 0) {
				this.discarded += at;
				this.#unitStart = at;
			} else if (begins) {
				if (this.#hasSlice) out.push(buf.slice(this.#unitStart, at));
				else this.discarded += at - this.#unitStart;
				this.#unitStart = at;
				this.#hasSlice = false;
			}
			if (slice) this.#hasSlice = true;
		}
		this.#compact();
		return out;
	}

	/** Drops what was emitted or discarded; a unit over the cap is dropped whole. */
	#compact(): void {
		// Before the first unit, only a start code that may be arriving is kept: its up to three
		// zeros, or the found one whose NAL header has not arrived.
		const waiting = this.#pending[0];
		let cut =
			this.#unitStart >= 0
				? this.#unitStart
				: waiting !== undefined
					? Math.max(0, waiting - 4)
					: Math.max(0, this.#buf.length - 3);
		if (this.#unitStart < 0) this.discarded += cut;
		if (this.#buf.length - cut > MAX_VIDEO_FRAME_BYTES) {
			this.discarded += this.#buf.length - cut;
			cut = this.#buf.length;
			this.#pending = [];
			this.#unitStart = -1;
			this.#hasSlice = false;
		}
		this.#buf = this.#buf.slice(cut);
		this.#scanned = Math.max(0, this.#scanned - cut);
		this.#pending = this.#pending.map((p) => p - cut);
		if (this.#unitStart >= 0) this.#unitStart -= cut;
	}
}

// ---------------------------------------------------------------------------------------------
// ffmpeg's arguments

/** How hard the encoder works; the agent steps down when the link asks and up again later. */
export interface VideoLevel {
	/** Target bitrate, kbit/s. */
	kbps: number;
	/** Every second captured frame only (a live switch, no restart). */
	halfRate: boolean;
}

/** From full quality down: the steps {@link VideoEncoder.stepDown} takes. */
export const VIDEO_LEVELS: readonly VideoLevel[] = [
	{ kbps: VIDEO_BITRATE_KBPS, halfRate: false },
	{ kbps: VIDEO_BITRATE_KBPS, halfRate: true },
	{ kbps: Math.round(VIDEO_BITRATE_KBPS / 2), halfRate: true },
	{ kbps: Math.round(VIDEO_BITRATE_KBPS / 5), halfRate: true },
];

export interface VideoArgsOptions {
	display: string;
	codec: VideoCodecKind;
	fps: number;
	level: VideoLevel;
	maxWidth?: number;
	area?: CaptureArea;
}

/**
 * ffmpeg's arguments: x11grab of the display (or only `area`), scaled to at most `maxWidth`
 * (full resolution below it), real-time VP8 in IVF or H.264 Annex B on stdout, one frame per
 * write. stdin stays open for the live commands.
 */
export function videoFfmpegArgs(options: VideoArgsOptions): string[] {
	const { display, codec, fps, level, area } = options;
	const maxWidth = options.maxWidth ?? CAPTURE_MAX_WIDTH;
	const filters = [
		// Live switches (stdin command `c`): half rate, and one forced VP8 key frame.
		`framestep=step=2:enable=${level.halfRate ? 1 : 0}`,
		// BT.709 limited range (docs/protocol.md §2.3): what a browser's VP8 decoder assumes;
		// swscale's default would be BT.601, whose planes shown as BT.709 shift the colours.
		`scale='trunc(min(${maxWidth},iw)/2)*2':-2:out_color_matrix=bt709:out_range=tv`,
		"format=yuv420p",
		...(codec === "vp8" ? ["metadata=mode=add:key=vp8-flags:value=1:enable=0"] : []),
	];
	const kbps = `${level.kbps}k`;
	const encoder =
		codec === "vp8"
			? [
					"-c:v",
					"libvpx",
					"-deadline",
					"realtime",
					"-cpu-used",
					"16",
					"-lag-in-frames",
					"0",
					"-error-resilient",
					"1",
					"-static-thresh",
					"100",
					// One thread: libvpx's VP8 row threads wait for each other by spinning, which on two
					// busy cores cost 85 ms of CPU per 1080p frame against 11 ms with one thread
					// (measured, docs/performance.md).
					"-threads",
					"1",
					"-b:v",
					kbps,
					"-maxrate",
					kbps,
					"-bufsize",
					`${Math.round(level.kbps / 2)}k`,
					"-undershoot-pct",
					"95",
					// Key frames only when asked for (or at a restart).
					"-g",
					"1000000",
					"-f",
					"ivf",
				]
			: [
					"-c:v",
					"libx264",
					"-preset",
					"ultrafast",
					"-tune",
					"zerolatency",
					// H.264 says its colour space in the bitstream (VUI): the same BT.709 limited range.
					"-colorspace",
					"bt709",
					"-color_primaries",
					"bt709",
					"-color_trc",
					"bt709",
					"-color_range",
					"tv",
					"-b:v",
					kbps,
					"-maxrate",
					kbps,
					"-bufsize",
					`${Math.round(level.kbps / 2)}k`,
					"-g",
					"1000000",
					"-aud",
					"1",
					"-f",
					"h264",
				];
	return [
		...x11grabInputArgs(display, fps, area),
		// Timestamps stay x11grab's wallclock capture times, in µs in the output.
		"-copyts",
		"-vf",
		filters.join(","),
		"-fps_mode",
		"passthrough",
		"-enc_time_base",
		"1:1000000",
		...encoder,
		"-flush_packets",
		"1",
		"-",
	];
}

/** The stdin commands that start and end forcing VP8 key frames (see the file's comment). */
const keyFrameCommand = (on: boolean) => `cmetadata -1 enable ${on ? 1 : 0}\n`;
/** A key frame request that brought none within this many ms restarts ffmpeg. */
export const KEY_FRAME_FALLBACK_MS = 700;
const halfRateCommand = (on: boolean) => `cframestep -1 enable ${on ? 1 : 0}\n`;

// ---------------------------------------------------------------------------------------------
// The encoder process

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Kills every video ffmpeg still running (the agent's exit paths call this). */
export function killAllVideoEncoders(signal: NodeJS.Signals = "SIGKILL"): void {
	for (const child of running) {
		try {
			child.kill(signal);
		} catch {
			// already gone
		}
	}
}

/** One frame as the encoder hands it on: numbered, with the codec description of key frames. */
export interface VideoFrame extends EncodedFrame {
	/** +1 per frame since this encoder started (u32), across ffmpeg restarts. */
	index: number;
	/** WebCodecs codec string ("vp8", "avc1.42C028"). */
	codec: string;
	/** Coded size in pixels. */
	width: number;
	height: number;
}

/** What the encoder reports for the log; never picture content. */
export type VideoEncoderEvent =
	| { type: "started"; pid: number | undefined; codec: VideoCodecKind; level: VideoLevel }
	| {
			type: "exited";
			pid: number | undefined;
			code: number | null;
			signal: string | null;
			error: string | null;
			frames: number;
	  }
	| { type: "restarting"; delayMs: number; reason: string }
	| { type: "failed"; reason: string };

export interface VideoEncoderOptions {
	ffmpeg: string;
	display: string;
	codec: VideoCodecKind;
	fps?: number;
	maxWidth?: number;
	area?: CaptureArea;
	env?: NodeJS.ProcessEnv;
	onFrame: (frame: VideoFrame) => void;
	onEvent?: (event: VideoEncoderEvent) => void;
	/** Key frame requests closer together than this are merged into one (ms). */
	keyFrameMinMs?: number;
}

/** Restart back-off: 250 ms doubling to 8 s; after this many quick failures the encoder gives up. */
const RESTART_FIRST_MS = 250;
const RESTART_MAX_MS = 8000;
const MAX_QUICK_FAILURES = 5;
/** A process that ran this long resets the back-off. */
const HEALTHY_MS = 10_000;

/**
 * Runs one ffmpeg that encodes the screen while started; `onFrame` gets each frame in order.
 * `requestKeyFrame` forces the next frame to be a key frame (VP8 live, H.264 by a restart),
 * at most one per `keyFrameMinMs`; `stepDown`/`stepUp` move through {@link VIDEO_LEVELS}.
 * A dead ffmpeg is restarted with back-off; after {@link MAX_QUICK_FAILURES} failures in a row
 * without a frame, it reports `failed` and stays stopped. `stop()` ends ffmpeg (SIGTERM, SIGKILL
 * after 2 s) and resolves once it has exited, so no process outlives it.
 */
export class VideoEncoder {
	readonly #o: VideoEncoderOptions;
	#child: ChildProcess | null = null;
	#exited: Promise<void> = Promise.resolve();
	#stopped = true;
	#index = 0;
	#level = 0;
	#failures = 0;
	#restartTimer: ReturnType<typeof setTimeout> | null = null;
	#lastKeyRequest = 0;
	#keyTimer: ReturnType<typeof setTimeout> | null = null;
	#codecString: string | null = null;
	/** A VP8 key frame was asked of ffmpeg and none has come yet. */
	#forcing = false;
	#fallbackTimer: ReturnType<typeof setTimeout> | null = null;
	/** Key frame requests that needed a restart because ffmpeg did not answer in time. */
	keyFrameRestarts = 0;
	#size = { width: 0, height: 0 };
	/** Frames handed on since start. */
	frames = 0;
	/** Key frames asked of ffmpeg (after rate limiting). */
	keyFramesForced = 0;
	/** ffmpeg processes started (1 + restarts). */
	starts = 0;

	constructor(options: VideoEncoderOptions) {
		this.#o = options;
	}

	/** The running ffmpeg's pid (for CPU accounting), or undefined. */
	get pid(): number | undefined {
		return this.#child?.pid;
	}

	get codec(): VideoCodecKind {
		return this.#o.codec;
	}

	get level(): VideoLevel {
		return VIDEO_LEVELS[this.#level] as VideoLevel;
	}

	start(): void {
		if (!this.#stopped) return;
		this.#stopped = false;
		this.#failures = 0;
		this.#spawn();
	}

	/**
	 * Asks for a key frame. Requests within `keyFrameMinMs` of the last honoured one are merged
	 * into one at the end of that window. Returns false when the encoder is stopped.
	 */
	requestKeyFrame(): boolean {
		if (this.#stopped) return false;
		const minMs = this.#o.keyFrameMinMs ?? 500;
		const wait = this.#lastKeyRequest + minMs - Date.now();
		if (wait > 0) {
			this.#keyTimer ??= setTimeout(() => {
				this.#keyTimer = null;
				this.requestKeyFrame();
			}, wait);
			return true;
		}
		this.#lastKeyRequest = Date.now();
		this.keyFramesForced += 1;
		if (this.#o.codec !== "vp8") {
			this.#restartNow();
			return true;
		}
		this.#forcing = true;
		this.#command(keyFrameCommand(true));
		if (this.#fallbackTimer) clearTimeout(this.#fallbackTimer);
		this.#fallbackTimer = setTimeout(() => {
			this.#fallbackTimer = null;
			if (!this.#forcing || this.#stopped) return;
			this.#forcing = false;
			this.keyFrameRestarts += 1;
			this.#restartNow();
		}, KEY_FRAME_FALLBACK_MS);
		return true;
	}

	/** One level lower (half rate live, then a lower bitrate by a restart); false at the bottom. */
	stepDown(): boolean {
		return this.#setLevel(this.#level + 1);
	}

	/** One level higher; false at full quality. */
	stepUp(): boolean {
		return this.#setLevel(this.#level - 1);
	}

	#setLevel(next: number): boolean {
		if (next < 0 || next >= VIDEO_LEVELS.length || next === this.#level) return false;
		const before = this.level;
		this.#level = next;
		const after = this.level;
		if (this.#stopped) return true;
		if (after.kbps !== before.kbps) this.#restartNow();
		else if (after.halfRate !== before.halfRate) this.#command(halfRateCommand(after.halfRate));
		return true;
	}

	/** Ends ffmpeg; resolves once it has exited. */
	async stop(): Promise<void> {
		this.#stopped = true;
		if (this.#restartTimer) clearTimeout(this.#restartTimer);
		if (this.#keyTimer) clearTimeout(this.#keyTimer);
		if (this.#fallbackTimer) clearTimeout(this.#fallbackTimer);
		this.#fallbackTimer = null;
		this.#forcing = false;
		this.#restartTimer = null;
		this.#keyTimer = null;
		this.#kill(this.#child);
		await this.#exited;
	}

	#command(line: string): void {
		const stdin = this.#child?.stdin;
		if (!stdin || stdin.destroyed) return;
		stdin.write(line);
	}

	/** A new ffmpeg now (new arguments, or an H.264 key frame); the old one is killed. */
	#restartNow(): void {
		if (this.#forcing) this.#forcing = false;
		const old = this.#child;
		this.#child = null;
		this.#kill(old);
		const previous = this.#exited;
		this.#spawn();
		this.#exited = Promise.all([previous, this.#exited]).then(() => {});
	}

	#kill(child: ChildProcess | null): void {
		if (!child || child.exitCode !== null || child.signalCode !== null) return;
		child.stdin?.destroy();
		child.kill("SIGTERM");
		const timer = setTimeout(() => child.kill("SIGKILL"), 2000);
		child.once("exit", () => clearTimeout(timer));
	}

	#spawn(): void {
		if (!exitHookInstalled) {
			exitHookInstalled = true;
			process.on("exit", () => killAllVideoEncoders("SIGKILL"));
		}
		const o = this.#o;
		const level = this.level;
		const args = videoFfmpegArgs({
			display: o.display,
			codec: o.codec,
			fps: o.fps ?? VIDEO_FPS,
			level,
			...(o.maxWidth ? { maxWidth: o.maxWidth } : {}),
			...(o.area ? { area: o.area } : {}),
		});
		const child = spawn(o.ffmpeg, args, {
			stdio: ["pipe", "pipe", "pipe"],
			env: o.env ?? process.env,
		});
		this.#child = child;
		this.starts += 1;
		running.add(child);
		const startedAt = Date.now();
		let frames = 0;
		let stderr = "";
		const ivf = o.codec === "vp8" ? new IvfSplitter() : null;
		const annexB = o.codec === "h264" ? new AnnexBSplitter() : null;
		const emit = (frame: EncodedFrame) => {
			if (this.#child !== child || this.#stopped) return;
			frames += 1;
			this.frames += 1;
			this.#failures = 0;
			if (frame.key) {
				if (this.#forcing) {
					this.#forcing = false;
					this.#command(keyFrameCommand(false));
				}
				if (ivf?.header) {
					this.#codecString = "vp8";
					this.#size = { width: ivf.header.width, height: ivf.header.height };
				} else if (annexB) {
					this.#codecString = h264CodecString(frame.data) ?? this.#codecString;
					this.#size = h264PictureSize(frame.data) ?? this.#size;
				}
			}
			if (!this.#codecString) return; // a delta frame before any key frame: undecodable
			const index = this.#index;
			this.#index = (this.#index + 1) % 0x1_0000_0000;
			o.onFrame({
				...frame,
				index,
				codec: this.#codecString,
				width: this.#size.width,
				height: this.#size.height,
			});
		};
		child.stdin?.on("error", () => {
			// ffmpeg exited; the exit handler deals with it.
		});
		child.stdout?.on("data", (chunk: Buffer) => {
			if (this.#child !== child) return;
			try {
				if (ivf) for (const frame of ivf.push(chunk)) emit(frame);
				else if (annexB) {
					const now = Date.now() * 1000;
					for (const au of annexB.push(chunk)) {
						emit({ key: isH264KeyFrame(au), timestampUs: now, data: au });
					}
				}
			} catch (err) {
				stderr += `\n${(err as Error).message}`;
				this.#kill(child);
			}
		});
		child.stderr?.on("data", (chunk: Buffer) => {
			stderr = (stderr + chunk.toString("utf8")).slice(-2000);
		});
		o.onEvent?.({ type: "started", pid: child.pid, codec: o.codec, level });
		this.#exited = new Promise<void>((resolve) => {
			let done = false;
			const finish = (code: number | null, signal: string | null, spawnError?: Error) => {
				if (done) return;
				done = true;
				running.delete(child);
				// Lines that are ffmpeg's answers to our commands are not errors.
				const lines = stderr
					.split("\n")
					.map((l) => l.trim())
					.filter((l) => l && !/^(Enter command|Command reply|Processing command)/.test(l));
				const error = spawnError?.message ?? lines.at(-1) ?? null;
				o.onEvent?.({ type: "exited", pid: child.pid, code, signal, error, frames });
				resolve();
				if (this.#child === child) {
					this.#child = null;
					if (!this.#stopped) this.#scheduleRestart(Date.now() - startedAt, frames, error);
				}
			};
			child.once("error", (err) => finish(null, null, err));
			child.once("exit", (code, signal) => finish(code, signal));
		});
	}

	#scheduleRestart(ranMs: number, frames: number, error: string | null): void {
		if (ranMs >= HEALTHY_MS || frames > 0) this.#failures = 0;
		this.#failures += 1;
		const reason = error ?? "ffmpeg exited";
		if (this.#failures > MAX_QUICK_FAILURES) {
			this.#stopped = true;
			this.#o.onEvent?.({ type: "failed", reason });
			return;
		}
		const delayMs = Math.min(RESTART_MAX_MS, RESTART_FIRST_MS * 2 ** (this.#failures - 1));
		this.#o.onEvent?.({ type: "restarting", delayMs, reason });
		this.#restartTimer = setTimeout(() => {
			this.#restartTimer = null;
			if (!this.#stopped) this.#spawn();
		}, delayMs);
	}
}
