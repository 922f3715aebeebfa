/**
 * Video on the screen channel (docs/protocol.md §2.3). The relay never sees these payloads: it
 * forwards stream 3 like every screen frame from the `shower`, and stream 4, the one flow against
 * the screen's direction, from the viewer to the shower up to {@link MAX_VIDEO_FEEDBACK_FRAME_BYTES}
 * (§3.4). A module validates what it decrypts with {@link parseVideoChunk} and
 * {@link decodeVideoFeedback}, because a peer is not trusted to send well-formed data.
 *
 * - screen (1), stream 3 ({@link VIDEO_STREAM}), shower → viewer: one encoded chunk per frame,
 *   a 13-byte header (flags, index, timestamp), on key chunks followed by the codec string and
 *   the coded size, then the chunk's bytes. Key chunks describe themselves, so a viewer needs no
 *   separate configuration message that the relay might drop for a lagging reader.
 * - screen (1), stream 4 ({@link VIDEO_FEEDBACK_STREAM}), viewer → shower: JSON
 *   {@link VideoFeedback} of at most {@link MAX_VIDEO_FEEDBACK_BYTES}: which codecs the viewer
 *   decodes, key frame requests, receiver reports.
 *
 * Codec strings are WebCodecs codec strings (W3C WebCodecs Codec Registry: "vp8",
 * "vp09.00.10.08", "avc1.42E01F"); H.264 travels as Annex B. Isomorphic (zod only).
 */
import * as z from "zod";
import { HEADER_BYTES, TAG_BYTES } from "./frame.ts";

/** The screen channel's stream for encoded video chunks, shower → viewer. */
export const VIDEO_STREAM = 3;
/** The screen channel's stream for {@link VideoFeedback}, viewer → shower. */
export const VIDEO_FEEDBACK_STREAM = 4;

/** Bit 0 of the flags byte: the chunk is a key frame (WebCodecs `EncodedVideoChunkType` "key"). */
export const VIDEO_FLAG_KEY = 0x01;
/** Header bytes of every chunk: flags u8, index u32, timestamp u64. */
export const VIDEO_CHUNK_HEADER_BYTES = 13;
/** Longest codec string of a key chunk, in bytes (ASCII). */
export const MAX_VIDEO_CODEC_LENGTH = 64;
/** Largest chunk index (u32); the index wraps to 0 after it. */
export const MAX_VIDEO_INDEX = 0xffff_ffff;

/** Largest feedback payload (JSON, UTF-8), in bytes. */
export const MAX_VIDEO_FEEDBACK_BYTES = 1024;
/**
 * Largest whole feedback frame (header, ciphertext, tag): the relay refuses a larger screen frame
 * from the viewer, so the backward direction cannot carry pictures.
 */
export const MAX_VIDEO_FEEDBACK_FRAME_BYTES = MAX_VIDEO_FEEDBACK_BYTES + HEADER_BYTES + TAG_BYTES;

/** A shower honours at most one key frame request per this many ms. */
export const KEYFRAME_REQUEST_MIN_MS = 500;

/** What a chunk's header says; `key` chunks also name the codec and the coded size. */
export type VideoChunkHeader =
	| {
			key: true;
			/** The chunk's number since the encoder started (u32, +1 per chunk, wraps). */
			index: number;
			/** Capture time in microseconds on the sender's clock (WebCodecs `timestamp`), ≥ 0. */
			timestampUs: number;
			/** WebCodecs codec string: 1..64 ASCII letters, digits, `.`, `-`, `_`. */
			codec: string;
			/** Coded size in pixels, 1..65535 each. */
			width: number;
			height: number;
	  }
	| { key: false; index: number; timestampUs: number };

/** One received chunk: its header and the encoded bytes (a view into the payload, not a copy). */
export type VideoChunk = VideoChunkHeader & { data: Uint8Array };

/** Why {@link parseVideoChunk} refused a payload. */
export type VideoChunkError =
	| "too-short"
	| "bad-flags"
	| "bad-timestamp"
	| "bad-codec"
	| "bad-size"
	| "empty";

/** Result of {@link parseVideoChunk}: refusals are expected network input, not throws. */
export type ParseVideoChunkResult =
	| { ok: true; chunk: VideoChunk }
	| { ok: false; reason: VideoChunkError };

/** Letters, digits, `.`, `-`, `_`: every codec string of the WebCodecs Codec Registry fits. */
const CODEC_PATTERN = /^[0-9A-Za-z._-]{1,64}$/;

/** True for a codec string the wire can carry: 1..64 ASCII letters, digits, `.`, `-`, `_`. */
export function isVideoCodecString(value: string): boolean {
	return CODEC_PATTERN.test(value);
}

/**
 * The payload of one chunk: header, key-chunk description, then `data`. Throws RangeError on
 * out-of-range fields: they come from the sender's own encoder and counters, so a bad value is a
 * bug, never network input (like `encodeHeader`).
 */
export function encodeVideoChunk(header: VideoChunkHeader, data: Uint8Array): Uint8Array {
	const { index, timestampUs } = header;
	if (!Number.isInteger(index) || index < 0 || index > MAX_VIDEO_INDEX) {
		throw new RangeError("index must be a u32");
	}
	if (!Number.isSafeInteger(timestampUs) || timestampUs < 0) {
		throw new RangeError("timestampUs must be a safe integer ≥ 0");
	}
	if (data.byteLength === 0) throw new RangeError("a chunk needs data");
	let extra = 0;
	if (header.key) {
		if (!isVideoCodecString(header.codec))
			throw new RangeError("codec must be 1..64 [0-9A-Za-z._-]");
		for (const side of [header.width, header.height]) {
			if (!Number.isInteger(side) || side < 1 || side > 0xffff) {
				throw new RangeError("coded size must be 1..65535");
			}
		}
		extra = 1 + header.codec.length + 4;
	}
	const out = new Uint8Array(VIDEO_CHUNK_HEADER_BYTES + extra + data.byteLength);
	const view = new DataView(out.buffer);
	view.setUint8(0, header.key ? VIDEO_FLAG_KEY : 0);
	view.setUint32(1, index, false);
	view.setBigUint64(5, BigInt(timestampUs), false);
	let at = VIDEO_CHUNK_HEADER_BYTES;
	if (header.key) {
		view.setUint8(at, header.codec.length);
		at += 1;
		for (let i = 0; i < header.codec.length; i++) out[at + i] = header.codec.charCodeAt(i);
		at += header.codec.length;
		view.setUint16(at, header.width, false);
		view.setUint16(at + 2, header.height, false);
		at += 4;
	}
	out.set(data, at);
	return out;
}

/**
 * Reads one decrypted chunk payload. Never throws: the bytes come from the peer. Refuses a payload
 * shorter than its header (`too-short`), flags with bits other than bit 0 (`bad-flags`), a
 * timestamp above 2⁵³−1 (`bad-timestamp`: WebCodecs timestamps are JavaScript numbers), a codec
 * length of 0 or over 64 or a codec with other than ASCII letters, digits, `.`, `-`, `_`
 * (`bad-codec`), a coded width
 * or height of 0 (`bad-size`) and a chunk without data (`empty`).
 */
export function parseVideoChunk(bytes: Uint8Array): ParseVideoChunkResult {
	if (!(bytes instanceof Uint8Array) || bytes.byteLength < VIDEO_CHUNK_HEADER_BYTES) {
		return { ok: false, reason: "too-short" };
	}
	const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
	const flags = view.getUint8(0);
	if ((flags & ~VIDEO_FLAG_KEY) !== 0) return { ok: false, reason: "bad-flags" };
	const index = view.getUint32(1, false);
	const timestamp = view.getBigUint64(5, false);
	if (timestamp > BigInt(Number.MAX_SAFE_INTEGER)) return { ok: false, reason: "bad-timestamp" };
	const timestampUs = Number(timestamp);
	let at = VIDEO_CHUNK_HEADER_BYTES;
	if ((flags & VIDEO_FLAG_KEY) === 0) {
		if (bytes.byteLength === at) return { ok: false, reason: "empty" };
		return { ok: true, chunk: { key: false, index, timestampUs, data: bytes.subarray(at) } };
	}
	if (bytes.byteLength < at + 1) return { ok: false, reason: "too-short" };
	const length = view.getUint8(at);
	at += 1;
	if (length < 1 || length > MAX_VIDEO_CODEC_LENGTH) return { ok: false, reason: "bad-codec" };
	if (bytes.byteLength < at + length + 4) return { ok: false, reason: "too-short" };
	let codec = "";
	for (let i = 0; i < length; i++) codec += String.fromCharCode(view.getUint8(at + i));
	if (!isVideoCodecString(codec)) return { ok: false, reason: "bad-codec" };
	at += length;
	const width = view.getUint16(at, false);
	const height = view.getUint16(at + 2, false);
	at += 4;
	if (width === 0 || height === 0) return { ok: false, reason: "bad-size" };
	if (bytes.byteLength === at) return { ok: false, reason: "empty" };
	return {
		ok: true,
		chunk: { key: true, index, timestampUs, codec, width, height, data: bytes.subarray(at) },
	};
}

/** The index that follows `index` (u32, wraps): a chunk with another index means a loss. */
export function nextVideoIndex(index: number): number {
	return index >= MAX_VIDEO_INDEX ? 0 : index + 1;
}

const codecString = z.string().regex(CODEC_PATTERN);
const count = z.int().min(0).max(0xffff_ffff);

export const videoFeedbackSchema = z.discriminatedUnion("t", [
	z.strictObject({
		/**
		 * The codecs the viewer decodes, most wanted first; sent when it starts viewing and on
		 * resume. The shower encodes the first it can, else it stays on pictures (stream 1).
		 */
		t: z.literal("codecs"),
		decode: z.array(codecString).max(12),
	}),
	z.strictObject({
		/** The viewer needs a key frame: new or resumed, an index gap, a decoder error. */
		t: z.literal("keyframe"),
	}),
	z.strictObject({
		/**
		 * Receiver report, about once a second: chunks received and lost (index gaps) since the
		 * last report, and the mean decode time in ms.
		 */
		t: z.literal("report"),
		received: count,
		lost: count,
		decodeMs: z.number().min(0).max(60_000),
	}),
]);
/** What the viewer tells the shower about the video, on the screen channel's stream 4. */
export type VideoFeedback = z.infer<typeof videoFeedbackSchema>;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/**
 * JSON bytes of a feedback message. Throws (a ZodError for an invalid message, RangeError over
 * {@link MAX_VIDEO_FEEDBACK_BYTES}): the message is the sender's own, so either is a bug.
 */
export function encodeVideoFeedback(feedback: VideoFeedback): Uint8Array {
	const bytes = encoder.encode(JSON.stringify(videoFeedbackSchema.parse(feedback)));
	if (bytes.byteLength > MAX_VIDEO_FEEDBACK_BYTES) throw new RangeError("feedback too large");
	return bytes;
}

/** Parses a decrypted feedback payload; null for anything malformed or too large (never throws). */
export function decodeVideoFeedback(bytes: Uint8Array): VideoFeedback | null {
	if (!(bytes instanceof Uint8Array) || bytes.byteLength > MAX_VIDEO_FEEDBACK_BYTES) return null;
	try {
		const parsed = videoFeedbackSchema.safeParse(JSON.parse(decoder.decode(bytes)));
		return parsed.success ? parsed.data : null;
	} catch {
		return null; // not UTF-8 or not JSON: dropped like any other malformed frame
	}
}

/**
 * The codec the shower encodes: the first of the viewer's `decode` list it can encode, compared
 * case-sensitively (WebCodecs codec strings are case-sensitive), or null to stay on pictures.
 */
export function pickVideoCodec(
	decode: readonly string[],
	encode: readonly string[],
): string | null {
	return decode.find((codec) => encode.includes(codec)) ?? null;
}
