/**
 * The screen as video (docs/protocol.md §2.3): WebCodecs `VideoEncoder` on the showing side,
 * `VideoDecoder` → canvas on the viewing side, each chunk sealed by the SDK and sent on the
 * screen channel's stream 3; the viewer's feedback (codecs, key frame requests, reports) comes
 * back on stream 4. Pictures (JPEG, screen.ts) stay the fallback: a shower sends video only after
 * the viewer said which codecs it decodes and one of them can be encoded here.
 *
 * Everything from the peer is untrusted: a malformed chunk or feedback message is dropped and
 * counted (the SDK reports it as `rejected`), a decoder error makes the viewer wait for the next
 * key chunk, and nothing a peer sends can throw out of these handlers.
 */
import type { ConsentState } from "../../protocol/control.ts";
import { CHANNELS } from "../../protocol/frame.ts";
import type { SessionClient } from "../sdk/session.ts";
import {
	encodeVideoChunk,
	KEYFRAME_REQUEST_MIN_MS,
	nextVideoIndex,
	pickVideoCodec,
	SCREEN_STREAM,
	VIDEO_STREAM,
	type VideoChunk,
	type VideoFeedback,
} from "./wire.ts";

/**
 * Codecs this page can offer, most wanted first. VP8 leads for compatibility (every WebCodecs
 * browser and the native module's libvpx have it); VP9 and H.264 (High, Annex B; Baseline 3.1
 * cannot encode 1080p in Chromium) are used where VP8 is missing on one side.
 */
/** Chunks waiting in the VideoDecoder (WebCodecs `decodeQueueSize`) before new ones are dropped. */
const MAX_DECODE_QUEUE = 8;

export const VIDEO_CODECS = ["vp8", "vp09.00.10.08", "avc1.640028", "avc1.42E01F"] as const;

/** A whole screen frame's cap is 1 MiB (protocol §2.1); a larger chunk is dropped, not sent. */
const MAX_CHUNK_FRAME_BYTES = 1024 * 1024 - 1024;
/** Above this many unsent bytes on the socket, frames are skipped before they are encoded. */
const MAX_BACKLOG_BYTES = 256 * 1024;
/**
 * Frames that may wait in the encoder; a new frame is skipped while this many wait (a key chunk
 * is not): each one waiting is latency, and a busy machine is better served by fewer frames than
 * by late ones.
 */
const MAX_ENCODE_QUEUE = 1;
const TARGET_FPS = 30;
const MIN_FPS = 5;
/** A key chunk at least this often, so a recording or a viewer that missed a request recovers. */
const KEYFRAME_INTERVAL_MS = 10_000;
/** Bits per pixel and frame at full quality: 1920×1080 at 30 frames/s ≈ 2.5 Mbit/s. */
const BITS_PER_PIXEL_FRAME = 0.04;
const MIN_BITRATE = 150_000;
const MAX_BITRATE = 8_000_000;
/** How often bitrate, frame rate and size may change. */
const ADAPT_INTERVAL_MS = 1000;
/** How long the link must stay clear before quality goes back up a step. */
const RECOVER_AFTER_MS = 2000;
const MIN_SCALE = 0.5;
/** A static screen delivers no frames: a requested key chunk is made from the last one. */
const STILL_FRAME_MS = 200;

// ---------------------------------------------------------------------------------------------
// The showing side

/** What the viewer last said, kept per session so a sender started later still knows it. */
interface FeedbackHub {
	/** The viewer's last `codecs` list, or null before any. */
	codecs: string[] | null;
	listeners: Set<(feedback: VideoFeedback) => void>;
}

const hubs = new WeakMap<SessionClient, FeedbackHub>();

/**
 * Starts keeping the viewer's video feedback for `session`; idempotent. Call it when the session
 * is created, so a `codecs` message that arrives before the screen is shared is not lost.
 */
export function watchVideoFeedback(session: SessionClient): FeedbackHub {
	let hub = hubs.get(session);
	if (hub) return hub;
	const created: FeedbackHub = { codecs: null, listeners: new Set() };
	hub = created;
	hubs.set(session, created);
	session.on("videoFeedback", (feedback) => {
		if (feedback.t === "codecs") created.codecs = feedback.decode;
		for (const listener of created.listeners) listener(feedback);
	});
	return created;
}

/** Waits for the next frame slot (screen.ts's worker clock), `wait` ms on the fallback. */
export type FrameClock = { next(wait: number): Promise<void>; stop(): void };

/** What {@link startVideoSender} needs from the page. */
export interface VideoSenderOptions {
	session: SessionClient;
	role: "customer" | "supporter";
	/** The shared video (the capture's `srcObject`): the source when frames cannot be taken from the track. */
	video: HTMLVideoElement;
	/** Bytes the page's socket has not sent yet. */
	backlog: () => number;
	/** False once this capture ended: the sender stops. */
	active: () => boolean;
	/** A frame clock ticking every `intervalMs` (screen.ts); used without MediaStreamTrackProcessor. */
	clock: (intervalMs: number) => FrameClock;
}

/** The running sender: `sending` is true while video, not pictures, goes out. */
export interface VideoSender {
	readonly sending: boolean;
	/** Ends the sender (the capture ended); idempotent. */
	stop(): void;
}

/** The part of Chromium's MediaStreamTrackProcessor used here (not in TypeScript's DOM types). */
type TrackProcessor = new (init: {
	track: MediaStreamTrack;
	maxBufferSize?: number;
}) => { readable: ReadableStream<VideoFrame> };

/** True where this page can encode video at all (WebCodecs, secure context). */
export function canEncodeVideo(): boolean {
	return typeof VideoEncoder !== "undefined" && typeof VideoFrame !== "undefined";
}

const RGB_FORMATS: ReadonlySet<string> = new Set(["RGBA", "RGBX", "BGRA", "BGRX"]);

/**
 * Whether a frame can go to the encoder as it is. VP8 carries no colour description, and the
 * wire's convention (protocol §2.3) is BT.709 limited range, which is what Chromium's decoder
 * assumes for VP8 and what its encoder makes of RGB frames (measured). YUV frames in another
 * colour space would be encoded as they are, plane by plane, and shown with shifted colours
 * (Chromium's fake capture, I420 BT.601: green came out at a third less): those are converted.
 * Frames without a readable format (`format` null) go as they are.
 */
function isBt709Ready(frame: VideoFrame): boolean {
	if (frame.format === null || RGB_FORMATS.has(frame.format)) return true;
	const { matrix, fullRange } = frame.colorSpace;
	return matrix === "bt709" && fullRange === false;
}

function even(value: number): number {
	return Math.max(2, Math.floor(value / 2) * 2);
}

/** Microseconds since the Unix epoch on this machine's clock: the chunks' timestamps. */
function epochMicros(): number {
	return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

/**
 * Encodes the shared screen as video once the viewer's `codecs` names one this browser encodes,
 * and sends each chunk on stream 3 with the header of protocol §2.3. Frames come from the track
 * through MediaStreamTrackProcessor where the browser has it, else from the video drawn into a
 * canvas on the frame clock. Real-time configuration: `latencyMode: "realtime"`, about 2.5
 * Mbit/s for 1080p at 30 frames/s, full resolution. While the relay reports back-pressure
 * (`peerLagging`), the socket backs up or the viewer reports loss, bitrate and then frame rate go
 * down, and only when both are at their floor the size; they come back a step at a time after
 * {@link RECOVER_AFTER_MS} of a clear link. Key chunks: on request (at most one per 500 ms), on
 * every new configuration of size or codec, and every {@link KEYFRAME_INTERVAL_MS}. Any failure
 * of the encoder ends video for this capture and pictures go out again.
 */
export function startVideoSender(options: VideoSenderOptions): VideoSender {
	const { session, role, video, backlog } = options;
	const hub = watchVideoFeedback(session);
	const marker = video;
	let codec: string | null = null;
	let failed = false;
	let stopped = false;
	let encoder: VideoEncoder | null = null;
	let config: VideoEncoderConfig | null = null;
	/** The codec and size the encoder was configured for (a change needs a key chunk). */
	let configuredKey = "";
	let index = 0;
	let lastTimestamp = 0;
	let forceKey = true;
	let keyRequested = false;
	let lastKeyAt = Number.NEGATIVE_INFINITY;
	let lastEncodedAt = Number.NEGATIVE_INFINITY;
	let lastFrameAt = 0;
	let last: VideoFrame | null = null;
	let fps = TARGET_FPS;
	let scale = 1;
	let bitrate = 0;
	let lastAdaptAt = 0;
	let lastCongestedAt = Number.NEGATIVE_INFINITY;
	let lossReported = 0;
	/** The viewer's last report said it decodes slower than the frame rate asks. */
	let viewerSlow = false;
	let looping = false;
	/** The track clone frames are read from, and its reader: both end with the sender. */
	let clone: MediaStreamTrack | null = null;
	let reader: ReadableStreamDefaultReader<VideoFrame> | null = null;
	const supportCache = new Map<string, boolean>();
	let chunksSent = 0;

	const allowed = () => {
		const state = session.state;
		return state?.shower === role && state.phase === "active";
	};

	const targetBitrate = (width: number, height: number) =>
		Math.min(
			MAX_BITRATE,
			Math.max(MIN_BITRATE * 2, width * height * TARGET_FPS * BITS_PER_PIXEL_FRAME),
		);

	const configFor = (name: string, width: number, height: number): VideoEncoderConfig => ({
		codec: name,
		width: even(width),
		height: even(height),
		bitrate: Math.round(bitrate || targetBitrate(width, height)),
		framerate: fps,
		latencyMode: "realtime",
		hardwareAcceleration: "no-preference",
		// Screen content: keep text sharp rather than smooth motion (WebCodecs contentHint).
		contentHint: "text",
		...(name.startsWith("avc1") ? { avc: { format: "annexb" as const } } : {}),
	});

	/** Whether this browser encodes `name` at the size being shared (cached per codec and size). */
	const encodes = async (name: string, width: number, height: number): Promise<boolean> => {
		const key = `${name} ${even(width)}x${even(height)}`;
		const known = supportCache.get(key);
		if (known !== undefined) return known;
		let supported = false;
		try {
			supported =
				(await VideoEncoder.isConfigSupported(configFor(name, width, height))).supported === true;
		} catch {
			supported = false; // a codec string this browser cannot even parse
		}
		if (supportCache.size >= 64) supportCache.clear(); // a viewer inventing codec strings
		supportCache.set(key, supported);
		return supported;
	};

	const sourceSize = (): [number, number] => [
		last?.displayWidth || video.videoWidth || 1920,
		last?.displayHeight || video.videoHeight || 1080,
	];

	/** A `codecs` list waiting while the previous one is checked (only the newest counts). */
	let pendingCodecs: string[] | null = null;
	let choosing = false;

	/**
	 * The viewer's codecs arrived (or changed): the first one this browser encodes wins. One list
	 * is checked at a time and only the newest waits, so a viewer that floods `codecs` costs at
	 * most one check in flight.
	 */
	const choose = async (decode: string[]): Promise<void> => {
		pendingCodecs = decode;
		if (choosing) return;
		choosing = true;
		try {
			while (pendingCodecs && !stopped) {
				const list = pendingCodecs;
				pendingCodecs = null;
				await apply(list);
			}
		} finally {
			choosing = false;
		}
	};

	const apply = async (decode: string[]): Promise<void> => {
		const [width, height] = sourceSize();
		const offered: string[] = [];
		for (const name of decode) if (await encodes(name, width, height)) offered.push(name);
		const chosen = pickVideoCodec(decode, offered);
		if (stopped) return;
		if (chosen !== codec) closeEncoder();
		codec = chosen;
		forceKey = true;
		marker.dataset.videoCodec = chosen ?? "";
		if (chosen && !looping) void run();
	};

	const onFeedback = (feedback: VideoFeedback): void => {
		if (failed || stopped) return;
		if (feedback.t === "codecs") void choose(feedback.decode);
		else if (feedback.t === "keyframe") {
			keyRequested = true;
			// A static screen delivers no new frame to make the key chunk from.
			stillSoon(STILL_FRAME_MS);
		} else if (feedback.t === "report") {
			lossReported += feedback.lost;
			viewerSlow = feedback.decodeMs > 800 / fps;
		}
	};
	hub.listeners.add(onFeedback);

	const closeEncoder = (): void => {
		if (encoder && encoder.state !== "closed") encoder.close();
		encoder = null;
		config = null;
		configuredKey = "";
	};

	const fail = (): void => {
		// The encoder broke (or cannot encode this source): pictures go out again.
		failed = true;
		closeEncoder();
		marker.dataset.videoCodec = "";
		marker.dataset.videoFailed = "true";
	};

	const output = (chunk: EncodedVideoChunk, metadata?: EncodedVideoChunkMetadata): void => {
		const name = config?.codec;
		if (!name || stopped || chunk.byteLength === 0) return; // nothing to send for an empty one
		const data = new Uint8Array(chunk.byteLength);
		chunk.copyTo(data);
		const key = chunk.type === "key";
		const timestampUs = Math.max(0, Math.round(chunk.timestamp));
		const payload = key
			? encodeVideoChunk(
					{
						key: true,
						index,
						timestampUs,
						codec: name,
						width: metadata?.decoderConfig?.codedWidth ?? config?.width ?? 2,
						height: metadata?.decoderConfig?.codedHeight ?? config?.height ?? 2,
					},
					data,
				)
			: encodeVideoChunk({ key: false, index, timestampUs }, data);
		// The index moves on even for a chunk not sent: the viewer sees the gap and asks for a key.
		index = nextVideoIndex(index);
		if (payload.byteLength > MAX_CHUNK_FRAME_BYTES) {
			forceKey = true;
			lossReported += 1;
			return;
		}
		chunksSent += 1;
		marker.dataset.videoChunks = String(chunksSent);
		void session.send("screen", VIDEO_STREAM, payload).catch(() => undefined); // session ended
	};

	const configure = (width: number, height: number): boolean => {
		if (!codec) return false;
		const w = even(width * scale);
		const h = even(height * scale);
		if (!bitrate) bitrate = targetBitrate(w, h);
		const next = configFor(codec, w, h);
		const sizeKey = `${codec} ${w}x${h}`;
		if (
			encoder &&
			config &&
			configuredKey === sizeKey &&
			config.bitrate === next.bitrate &&
			config.framerate === next.framerate
		) {
			return true;
		}
		try {
			if (!encoder || encoder.state === "closed") {
				encoder = new VideoEncoder({ output, error: fail });
			}
			encoder.configure(next);
		} catch {
			fail();
			return false;
		}
		if (configuredKey !== sizeKey) forceKey = true;
		config = next;
		configuredKey = sizeKey;
		return true;
	};

	/** Lowers or raises quality at most once per ADAPT_INTERVAL_MS (see the function's doc). */
	const adapt = (now: number, behind: boolean): void => {
		if (now - lastAdaptAt < ADAPT_INTERVAL_MS) return;
		lastAdaptAt = now;
		const congested = behind || lossReported > 0;
		lossReported = 0;
		const slow = viewerSlow;
		viewerSlow = false;
		const [width, height] = sourceSize();
		const full = targetBitrate(even(width * scale), even(height * scale));
		if (congested) {
			lastCongestedAt = now;
			if (bitrate > MIN_BITRATE) bitrate = Math.max(MIN_BITRATE, bitrate * 0.7);
			else if (fps > MIN_FPS) fps = Math.max(MIN_FPS, Math.floor(fps * 0.7));
			else if (scale > MIN_SCALE) scale = Math.max(MIN_SCALE, scale - 0.25);
		} else if (slow) {
			// The link is fine but the viewer's decoder is not: fewer frames, same quality.
			lastCongestedAt = now;
			fps = Math.max(MIN_FPS, Math.floor(fps * 0.7));
		} else if (now - lastCongestedAt > RECOVER_AFTER_MS) {
			if (fps < TARGET_FPS) fps = Math.min(TARGET_FPS, fps + 5);
			else if (scale < 1) {
				scale = Math.min(1, scale + 0.25);
				bitrate = 0; // recomputed for the new size
			} else if (bitrate < full) bitrate = Math.min(full, bitrate * 1.15);
		}
		marker.dataset.videoBitrate = String(Math.round(bitrate));
		marker.dataset.videoFps = String(fps);
		marker.dataset.videoScale = String(scale);
	};

	/**
	 * Encodes one frame (not closed here) if the link, the encoder and the frame rate allow. A
	 * frame in another colour space than BT.709 limited range is converted to RGBA first (see
	 * {@link isBt709Ready}).
	 */
	const encode = async (frame: VideoFrame, now: number, still = false): Promise<void> => {
		if (!codec || failed || !allowed()) return;
		const behind = session.peerLagging || backlog() >= MAX_BACKLOG_BYTES;
		adapt(now, behind);
		if (behind) return; // the relay would drop it for the lagging reader anyway
		const keyDue =
			forceKey ||
			(keyRequested && now - lastKeyAt >= KEYFRAME_REQUEST_MIN_MS) ||
			now - lastKeyAt >= KEYFRAME_INTERVAL_MS;
		if (still && !keyDue) return;
		if (!keyDue && now - lastEncodedAt < 1000 / fps - 4) return;
		if (!configure(frame.displayWidth, frame.displayHeight) || !encoder) return;
		if (encoder.encodeQueueSize >= MAX_ENCODE_QUEUE && !keyDue) return;
		const timestamp = Math.max(lastTimestamp + 1, epochMicros());
		lastTimestamp = timestamp;
		lastEncodedAt = now;
		if (keyDue) {
			lastKeyAt = now;
			forceKey = false;
			keyRequested = false;
		}
		let source: VideoFrame | null = null;
		try {
			source = isBt709Ready(frame)
				? new VideoFrame(frame, { timestamp })
				: await toRgba(frame, timestamp);
			if (stopped || encoder?.state !== "configured") return;
			encoder.encode(source, { keyFrame: keyDue });
		} catch {
			// The frame went away meanwhile (the capture ended) or did not convert: skipped. A key
			// chunk that was due stays due. Encoder failures arrive through its error callback.
			if (keyDue) forceKey = true;
		} finally {
			source?.close();
		}
	};

	let stillTimer: ReturnType<typeof setTimeout> | null = null;
	/** Arms the one timer of {@link encodeStill} (requests while it waits add nothing). */
	function stillSoon(ms: number): void {
		if (stillTimer === null && !stopped) stillTimer = setTimeout(encodeStill, ms);
	}

	/** A requested key chunk on a screen that delivers no frames: made from the last frame. */
	function encodeStill(): void {
		stillTimer = null;
		const now = performance.now();
		if (!last || stopped || now - lastFrameAt < STILL_FRAME_MS) return;
		const still = last.clone(); // `last` may be replaced while this one converts
		void encode(still, now, true).finally(() => still.close());
		if (keyRequested) stillSoon(KEYFRAME_REQUEST_MIN_MS);
	}

	let rgba: Uint8Array<ArrayBuffer> | null = null;
	/** The frame as RGBA: the encoder then converts it to BT.709 itself. */
	async function toRgba(frame: VideoFrame, timestamp: number): Promise<VideoFrame> {
		const rect = frame.visibleRect;
		const width = rect?.width ?? frame.displayWidth;
		const height = rect?.height ?? frame.displayHeight;
		if (rgba?.byteLength !== width * height * 4) rgba = new Uint8Array(width * height * 4);
		await frame.copyTo(rgba, { format: "RGBA" });
		return new VideoFrame(rgba, {
			format: "RGBA",
			codedWidth: width,
			codedHeight: height,
			timestamp,
		});
	}

	const keep = (frame: VideoFrame): void => {
		last?.close();
		last = frame;
		lastFrameAt = performance.now();
	};

	const running = () => !stopped && !failed && options.active() && !session.finished;

	/** Frames from the track while this capture lasts. */
	async function run(): Promise<void> {
		looping = true;
		const stream = video.srcObject instanceof MediaStream ? video.srcObject : null;
		const track = stream?.getVideoTracks()[0];
		const Processor = (globalThis as { MediaStreamTrackProcessor?: TrackProcessor })
			.MediaStreamTrackProcessor;
		try {
			if (track && Processor) await fromTrack(track, Processor);
			else await fromCanvas();
		} catch {
			fail();
		} finally {
			stop();
		}
	}

	async function fromTrack(track: MediaStreamTrack, Processor: TrackProcessor): Promise<void> {
		// A clone, so the page's own preview keeps its frames. It captures as long as it lives:
		// it ends with the shared track and with the sender (stop()).
		const own = track.clone();
		clone = own;
		track.addEventListener("ended", stop);
		const frames = new Processor({ track: own, maxBufferSize: 2 }).readable.getReader();
		reader = frames;
		marker.dataset.videoSource = "track";
		while (running()) {
			const { value: frame, done } = await frames.read();
			if (done || !frame) break;
			if (stopped) {
				frame.close();
				break;
			}
			await encode(frame, performance.now());
			keep(frame);
		}
	}

	async function fromCanvas(): Promise<void> {
		const canvas = document.createElement("canvas");
		const context = canvas.getContext("2d", { alpha: false });
		if (!context) throw new Error("no 2d context");
		marker.dataset.videoSource = "canvas";
		const clock = options.clock(Math.round(1000 / TARGET_FPS));
		try {
			while (running()) {
				const started = performance.now();
				if (codec && allowed() && video.videoWidth > 0) {
					if (canvas.width !== video.videoWidth || canvas.height !== video.videoHeight) {
						canvas.width = video.videoWidth;
						canvas.height = video.videoHeight;
					}
					context.drawImage(video, 0, 0);
					const frame = new VideoFrame(canvas, { timestamp: epochMicros() });
					await encode(frame, performance.now());
					keep(frame);
				}
				await clock.next(1000 / fps - (performance.now() - started));
			}
		} finally {
			clock.stop();
		}
	}

	function stop(): void {
		if (stopped) return;
		stopped = true;
		looping = false;
		hub.listeners.delete(onFeedback);
		if (stillTimer !== null) clearTimeout(stillTimer);
		void reader?.cancel().catch(() => undefined);
		reader = null;
		clone?.stop();
		clone = null;
		closeEncoder();
		last?.close();
		last = null;
	}

	if (hub.codecs) void choose(hub.codecs);

	return {
		get sending() {
			return codec !== null && !failed && !stopped && options.active();
		},
		stop,
	};
}

// ---------------------------------------------------------------------------------------------
// The viewing side

/**
 * One chunk as the viewer decodes it, in a form a WebM muxer takes without re-encoding (a
 * SimpleBlock per chunk, key flag, timestamp): every chunk of an unbroken chain that starts with
 * a key chunk. `codec`, `width` and `height` are those of the chain's key chunk.
 */
export interface RecordableChunk {
	key: boolean;
	/** Capture time, µs on the shower's clock (the wire's timestamp). */
	timestampUs: number;
	codec: string;
	width: number;
	height: number;
	/** The encoded bytes (one VP8/VP9 frame or one H.264 Annex B access unit). */
	data: Uint8Array;
}

/** The viewer's handle: recorders subscribe to the chunks; `receiving` says video is on. */
export interface VideoViewer {
	/** Calls `listener` for each chunk handed to the decoder; returns the unsubscribe function. */
	onChunk(listener: (chunk: RecordableChunk) => void): () => void;
	/** True while decoded video (not pictures) is being drawn. */
	readonly receiving: boolean;
}

/** The colour space of VP8 chunks on the wire (protocol §2.3). */
const VP8_COLOR_SPACE: VideoColorSpaceInit = {
	primaries: "bt709",
	transfer: "bt709",
	matrix: "bt709",
	fullRange: false,
};

/** How often the viewer sends a receiver report. */
const REPORT_INTERVAL_MS = 1000;
/** While waiting for a key chunk, a request is repeated this often (it or its answer may be lost). */
const KEYFRAME_RETRY_MS = 500;
/** Decoder errors of one codec after which the viewer stops offering it. */
const MAX_DECODER_ERRORS = 3;

/** The codecs this browser decodes, in {@link VIDEO_CODECS} order (checked once per page). */
let decodable: Promise<string[]> | null = null;
function decodableCodecs(): Promise<string[]> {
	decodable ??= (async () => {
		const found: string[] = [];
		for (const codec of VIDEO_CODECS) {
			try {
				const support = await VideoDecoder.isConfigSupported({
					codec,
					codedWidth: 1920,
					codedHeight: 1080,
					optimizeForLatency: true,
				});
				if (support.supported) found.push(codec);
			} catch {
				// a codec string this browser does not know: not offered
			}
		}
		return found;
	})();
	return decodable;
}

/**
 * Decodes the peer's video onto `canvas` (WebCodecs `VideoDecoder`, drawn with `drawImage`, so
 * the canvas has the picture's size and coordinates of the remote-control layer stay fractions
 * of it). Tells the shower its codecs when viewing starts and on every resume, asks for a key
 * chunk on an index gap, a malformed chunk or a decoder error and drops delta chunks until one
 * arrives (WebCodecs `decode()` refuses a delta after `configure()`/`reset()`), and sends a
 * receiver report about once a second. `onPicture` runs after each drawn frame. Returns null
 * where the browser has no `VideoDecoder`: the shower then keeps sending pictures.
 *
 * `canvas.dataset`: `frames` (every picture drawn, video or JPEG), `videoFrames`, `videoCodec`,
 * `videoRejected` (malformed chunks), `videoLost`, `videoResumeMs` (a resume until its first
 * decoded frame).
 */
export function videoViewer(
	canvas: HTMLCanvasElement,
	session: SessionClient,
	onPicture: () => void,
): VideoViewer | null {
	if (typeof VideoDecoder === "undefined" || typeof EncodedVideoChunk === "undefined") return null;
	const context = canvas.getContext("2d", { alpha: false });
	if (!context) return null;
	const listeners = new Set<(chunk: RecordableChunk) => void>();
	const errors = new Map<string, number>();
	let decoder: VideoDecoder | null = null;
	/** The key chunk's codec and coded size the decoder was configured with. */
	let configured: { codec: string; width: number; height: number } | null = null;
	let needKey = true;
	let lastIndex: number | null = null;
	let lastKeyRequestAt = Number.NEGATIVE_INFINITY;
	let viewing = false;
	let receiving = false;
	let resumedAt: number | null = null;
	/** The timestamp of the first key chunk decoded after a resume: its picture ends the wait. */
	let resumeKey: number | null = null;
	const decodeStarted = new Map<number, number>();
	const period = { received: 0, lost: 0, decodeMs: 0, decoded: 0 };
	const count = (name: string, by = 1) => {
		canvas.dataset[name] = String(Number(canvas.dataset[name] ?? 0) + by);
	};

	const viewsPeer = (state: ConsentState | null) =>
		state?.phase === "active" && state.shower !== null && state.shower !== session.role;

	const requestKey = (now = performance.now()): void => {
		if (now - lastKeyRequestAt < KEYFRAME_RETRY_MS) return;
		lastKeyRequestAt = now;
		void session.sendVideoFeedback({ t: "keyframe" }).catch(() => undefined);
	};

	const resetDecoder = (): void => {
		if (decoder && decoder.state !== "closed") decoder.close();
		decoder = null;
		configured = null;
		needKey = true;
		decodeStarted.clear();
	};

	/**
	 * Viewing (re)starts: the shower learns the codecs and sends a key chunk. A configured decoder
	 * is kept (a key chunk of the same codec and size needs no new configuration); what it still
	 * holds from before is drawn, then only a key chunk goes on.
	 */
	const start = async (): Promise<void> => {
		needKey = true;
		lastIndex = null;
		const offered = (await decodableCodecs()).filter(
			(codec) => (errors.get(codec) ?? 0) < MAX_DECODER_ERRORS,
		);
		if (!viewsPeer(session.state)) return;
		await session.sendVideoFeedback({ t: "codecs", decode: offered }).catch(() => undefined);
		lastKeyRequestAt = Number.NEGATIVE_INFINITY;
		requestKey();
	};

	const draw = (frame: VideoFrame): void => {
		const timestamp = frame.timestamp;
		try {
			const started = decodeStarted.get(timestamp);
			if (started !== undefined) {
				decodeStarted.delete(timestamp);
				period.decodeMs += performance.now() - started;
				period.decoded += 1;
			}
			if (canvas.width !== frame.displayWidth || canvas.height !== frame.displayHeight) {
				canvas.width = frame.displayWidth;
				canvas.height = frame.displayHeight;
			}
			context.drawImage(frame, 0, 0, canvas.width, canvas.height);
		} catch {
			// A picture the canvas cannot take (a size no canvas allocates): dropped, not thrown
			// out of the decoder's callback.
			count("videoDrawErrors");
			return;
		} finally {
			frame.close();
		}
		receiving = true;
		count("frames");
		count("videoFrames");
		if (resumedAt !== null && resumeKey !== null && timestamp >= resumeKey) {
			resumeKey = null;
			canvas.dataset.videoResumeMs = String(Math.round(performance.now() - resumedAt));
			resumedAt = null;
		}
		onPicture();
	};

	const onDecoderError = (): void => {
		const codec = configured?.codec;
		count("videoDecoderErrors");
		if (codec) errors.set(codec, (errors.get(codec) ?? 0) + 1);
		resetDecoder();
		// A codec that keeps failing is no longer offered: the shower picks another or pictures.
		if (codec && (errors.get(codec) ?? 0) >= MAX_DECODER_ERRORS) void start();
		else requestKey();
	};

	const configure = (chunk: VideoChunk & { key: true }): boolean => {
		if (
			decoder &&
			decoder.state === "configured" &&
			configured?.codec === chunk.codec &&
			configured.width === chunk.width &&
			configured.height === chunk.height
		) {
			return true;
		}
		try {
			if (!decoder || decoder.state === "closed") {
				decoder = new VideoDecoder({ output: draw, error: onDecoderError });
			}
			// H.264 without a `description` is Annex B (WebCodecs AVC codec registration).
			decoder.configure({
				codec: chunk.codec,
				codedWidth: chunk.width,
				codedHeight: chunk.height,
				optimizeForLatency: true,
				hardwareAcceleration: "no-preference",
				// VP8 describes no colour space: the wire's is BT.709 limited (protocol §2.3).
				...(chunk.codec === "vp8" ? { colorSpace: VP8_COLOR_SPACE } : {}),
			});
		} catch {
			onDecoderError(); // a codec string or size this decoder refuses outright
			return false;
		}
		configured = { codec: chunk.codec, width: chunk.width, height: chunk.height };
		canvas.dataset.videoCodec = chunk.codec;
		return true;
	};

	const onChunk = (chunk: VideoChunk): void => {
		if (!viewing) return;
		const now = performance.now();
		period.received += 1;
		if (lastIndex !== null && chunk.index !== nextVideoIndex(lastIndex)) {
			const gap = (chunk.index - nextVideoIndex(lastIndex) + 2 ** 32) % 2 ** 32;
			period.lost += gap;
			count("videoLost", gap);
			needKey = true;
		}
		lastIndex = chunk.index;
		if (!chunk.key && needKey) {
			requestKey(now);
			return; // a delta without its predecessors cannot decode
		}
		if (chunk.key && !configure(chunk)) return;
		const current = configured;
		if (!decoder || !current) return;
		// A decoder that falls behind (a slow machine, or a shower flooding chunks) does not queue
		// without end: the chunk is dropped and the viewer waits for a key frame it asks for.
		if (decoder.decodeQueueSize > MAX_DECODE_QUEUE) {
			count("videoLost", 1);
			period.lost += 1;
			needKey = true;
			requestKey(now);
			return;
		}
		try {
			decoder.decode(
				new EncodedVideoChunk({
					type: chunk.key ? "key" : "delta",
					timestamp: chunk.timestampUs,
					data: chunk.data,
				}),
			);
		} catch {
			onDecoderError();
			return;
		}
		if (chunk.key && resumedAt !== null && resumeKey === null) resumeKey = chunk.timestampUs;
		needKey = false;
		decodeStarted.set(chunk.timestampUs, now);
		if (decodeStarted.size > 64) decodeStarted.delete(decodeStarted.keys().next().value as number);
		const recordable: RecordableChunk = {
			key: chunk.key,
			timestampUs: chunk.timestampUs,
			codec: current.codec,
			width: current.width,
			height: current.height,
			data: chunk.data,
		};
		for (const listener of listeners) {
			try {
				listener(recordable);
			} catch {
				// a recorder's failure must not stop the picture
			}
		}
	};

	session.on("videoChunk", onChunk);
	session.on("rejected", (rejected) => {
		if (rejected.channel !== CHANNELS.screen || rejected.stream !== VIDEO_STREAM || !viewing)
			return;
		count("videoRejected");
		needKey = true;
		requestKey();
	});
	session.on("state", (state) => {
		const now = viewsPeer(state);
		if (now && !viewing) {
			viewing = true;
			void start();
		} else if (!now && viewing) {
			viewing = false;
			receiving = false;
			resetDecoder();
		}
	});
	session.on("open", ({ resumed }) => {
		if (!resumed) return;
		// The relay dropped what came while this side was away: start over from a key chunk.
		if (!viewing) return;
		resumedAt = performance.now();
		resumeKey = null;
		void start();
	});
	// Pictures arriving instead of video: the shower does not (or no longer) send video.
	session.on("frame", (frame) => {
		if (frame.channelName === "screen" && frame.stream === SCREEN_STREAM) receiving = false;
	});
	setInterval(() => {
		if (!viewing || period.received === 0) return;
		const report: VideoFeedback = {
			t: "report",
			received: period.received,
			lost: period.lost,
			decodeMs: period.decoded ? Math.round((period.decodeMs / period.decoded) * 100) / 100 : 0,
		};
		Object.assign(period, { received: 0, lost: 0, decodeMs: 0, decoded: 0 });
		void session.sendVideoFeedback(report).catch(() => undefined);
	}, REPORT_INTERVAL_MS);

	return {
		onChunk(listener) {
			listeners.add(listener);
			return () => listeners.delete(listener);
		},
		get receiving() {
			return receiving;
		},
	};
}
