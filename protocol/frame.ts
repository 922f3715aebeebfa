/**
 * The clear header of every binary WebSocket frame (docs/protocol.md, "Binary frames").
 *
 * The relay reads only these 14 bytes to enforce consent and forwards the rest untouched; the
 * modules feed the same 14 bytes to AES-GCM as additional data, so a relay that edits the header
 * breaks the tag.
 */

/** The only header version this code speaks. A new version gets a new WebSocket subprotocol. */
export const PROTOCOL_VERSION = 1;

/** Header length in bytes: version u8, channel u8, stream u32, seq u64. */
export const HEADER_BYTES = 14;

/** Channel numbers as they appear on the wire. Stable once shipped. */
export const CHANNELS = {
	screen: 1,
	input: 2,
	file: 3,
	chat: 4,
	clipboard: 5,
	auth: 6,
} as const;

/** A channel name, e.g. `"screen"`. */
export type ChannelName = keyof typeof CHANNELS;
/** A channel number, e.g. `1`. */
export type Channel = (typeof CHANNELS)[ChannelName];

/** AES-GCM tag length: every sealed frame is header, ciphertext and this tag. */
export const TAG_BYTES = 16;

/**
 * Largest whole binary frame (header, ciphertext and tag) per channel. A frame over its channel's
 * cap closes the socket with `CLOSE.TOO_LARGE` and is never relayed. The figures are what the
 * modules really send, with room to spare (docs/protocol.md §2.1):
 *
 * - screen: one JPEG of at most 900 KiB (modules/web/screen.ts, modules/cli/host.ts);
 * - input: one input event, at most about 1.6 KB of JSON (protocol/input.ts);
 * - file: chunks of 64 KiB (modules/web/files.ts);
 * - chat: `{"text"}` of at most 2,000 characters, at most 8 KB of UTF-8 (modules/web/wire.ts);
 * - clipboard: one clipboard text of at most 40 Ki UTF-16 units (protocol/input.ts);
 * - auth: the password challenge, proof or result, about 300 bytes of JSON (protocol/host.ts).
 *
 * workerd itself refuses any WebSocket message over 32 MiB (close 1009) before the actor sees it.
 */
export const MAX_FRAME_BYTES = {
	screen: 1024 * 1024,
	input: 4 * 1024,
	file: 256 * 1024,
	chat: 16 * 1024,
	clipboard: 256 * 1024,
	auth: 4 * 1024,
} as const satisfies Record<ChannelName, number>;

/** The largest cap of any channel: also the cap of a frame whose header does not parse. */
export const MAX_ANY_FRAME_BYTES = Math.max(...Object.values(MAX_FRAME_BYTES));

/** Largest value of the u32 stream field. */
export const MAX_STREAM = 0xffff_ffff;
/** Largest value of the u64 seq field. */
export const MAX_SEQ = 0xffff_ffff_ffff_ffffn;

const CHANNEL_NAMES = new Map<number, ChannelName>(
	Object.entries(CHANNELS).map(([name, id]) => [id, name as ChannelName]),
);

/** A decoded header. `seq` is a bigint because it spans the full 64 bits. */
export interface FrameHeader {
	version: typeof PROTOCOL_VERSION;
	channel: Channel;
	stream: number;
	seq: bigint;
}

/** Result of {@link parseHeader}; failures are expected input, so they are values, not throws. */
export type ParseHeaderResult =
	| { ok: true; header: FrameHeader }
	| { ok: false; reason: "too-short" | "unknown-version" | "unknown-channel" };

/** True if `value` is a channel number this version knows. */
export function isChannel(value: number): value is Channel {
	return CHANNEL_NAMES.has(value);
}

/** The name of a channel number, or undefined for an unknown one. */
export function channelName(channel: number): ChannelName | undefined {
	return CHANNEL_NAMES.get(channel);
}

/**
 * Writes the 14-byte header. Throws on out-of-range fields: callers build headers from their own
 * counters, so a bad value is a bug, never network input.
 */
export function encodeHeader(header: {
	channel: Channel;
	stream: number;
	seq: bigint;
}): Uint8Array<ArrayBuffer> {
	if (!isChannel(header.channel)) throw new RangeError(`unknown channel ${header.channel}`);
	if (!Number.isInteger(header.stream) || header.stream < 0 || header.stream > MAX_STREAM) {
		throw new RangeError("stream must be a u32");
	}
	if (typeof header.seq !== "bigint" || header.seq < 0n || header.seq > MAX_SEQ) {
		throw new RangeError("seq must be a u64");
	}
	const bytes = new Uint8Array(HEADER_BYTES);
	const view = new DataView(bytes.buffer);
	view.setUint8(0, PROTOCOL_VERSION);
	view.setUint8(1, header.channel);
	view.setUint32(2, header.stream, false);
	view.setBigUint64(6, header.seq, false);
	return bytes;
}

/**
 * Reads the header at the start of a binary frame. Never throws: the frame comes from the network
 * and the relay must not crash on it. Trailing bytes (the ciphertext) are ignored here.
 */
export function parseHeader(bytes: ArrayBuffer | ArrayBufferView): ParseHeaderResult {
	const view = toView(bytes);
	if (view === null || view.byteLength < HEADER_BYTES) return { ok: false, reason: "too-short" };
	if (view.getUint8(0) !== PROTOCOL_VERSION) return { ok: false, reason: "unknown-version" };
	const channel = view.getUint8(1);
	if (!isChannel(channel)) return { ok: false, reason: "unknown-channel" };
	return {
		ok: true,
		header: {
			version: PROTOCOL_VERSION,
			channel,
			stream: view.getUint32(2, false),
			seq: view.getBigUint64(6, false),
		},
	};
}

/**
 * The size cap that applies to a binary frame: its channel's, or {@link MAX_ANY_FRAME_BYTES}
 * when the header does not name a known channel. Reads only byte 1; never throws.
 */
export function frameSizeLimit(bytes: ArrayBuffer | ArrayBufferView): number {
	const view = toView(bytes);
	const name = view && view.byteLength >= 2 ? channelName(view.getUint8(1)) : undefined;
	return name ? MAX_FRAME_BYTES[name] : MAX_ANY_FRAME_BYTES;
}

/** True if a frame is larger than its channel allows ({@link MAX_FRAME_BYTES}). */
export function isOversizedFrame(bytes: ArrayBuffer | ArrayBufferView): boolean {
	return bytes.byteLength > frameSizeLimit(bytes);
}

function toView(bytes: unknown): DataView | null {
	if (bytes instanceof ArrayBuffer) return new DataView(bytes);
	if (ArrayBuffer.isView(bytes))
		return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
	return null;
}
