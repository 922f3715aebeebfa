import { describe, expect, it } from "vitest";
import {
	CHANNELS,
	channelName,
	encodeHeader,
	HEADER_BYTES,
	MAX_SEQ,
	MAX_STREAM,
	PROTOCOL_VERSION,
	parseHeader,
} from "../../protocol/frame.ts";

describe("frame header", () => {
	it("writes version, channel, stream and seq big-endian in 14 bytes", () => {
		const bytes = encodeHeader({
			channel: CHANNELS.file,
			stream: 0x01020304,
			seq: 0x0a0b0c0d0e0f1011n,
		});
		expect(HEADER_BYTES).toBe(14);
		expect(Array.from(bytes)).toEqual([
			1, 3, 0x01, 0x02, 0x03, 0x04, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11,
		]);
	});

	it("round-trips every channel and the extreme stream and seq values", () => {
		for (const channel of Object.values(CHANNELS)) {
			for (const [stream, seq] of [
				[0, 0n],
				[MAX_STREAM, MAX_SEQ],
				[12345, 2n ** 53n + 1n],
			] as const) {
				const parsed = parseHeader(encodeHeader({ channel, stream, seq }));
				expect(parsed).toEqual({
					ok: true,
					header: { version: PROTOCOL_VERSION, channel, stream, seq },
				});
			}
		}
	});

	it("reads the header at the start of a longer frame, also from an offset view", () => {
		const header = encodeHeader({ channel: CHANNELS.chat, stream: 7, seq: 42n });
		const buffer = new Uint8Array(40);
		buffer.set(header, 5);
		buffer.fill(0xff, 5 + HEADER_BYTES);
		const view = buffer.subarray(5);
		const parsed = parseHeader(view);
		expect(parsed).toEqual({
			ok: true,
			header: { version: 1, channel: CHANNELS.chat, stream: 7, seq: 42n },
		});
		expect(parseHeader(view.slice().buffer)).toEqual(parsed);
	});

	it("refuses frames shorter than the header", () => {
		const header = encodeHeader({ channel: CHANNELS.screen, stream: 1, seq: 1n });
		expect(parseHeader(header.subarray(0, 13))).toEqual({ ok: false, reason: "too-short" });
		expect(parseHeader(new Uint8Array(0))).toEqual({ ok: false, reason: "too-short" });
		expect(parseHeader(new ArrayBuffer(3))).toEqual({ ok: false, reason: "too-short" });
	});

	it("refuses an unknown version and an unknown channel", () => {
		const header = encodeHeader({ channel: CHANNELS.screen, stream: 1, seq: 1n });
		for (const version of [0, 2, 255]) {
			const bad = header.slice();
			bad[0] = version;
			expect(parseHeader(bad)).toEqual({ ok: false, reason: "unknown-version" });
		}
		for (const channel of [0, 7, 255]) {
			const bad = header.slice();
			bad[1] = channel;
			expect(parseHeader(bad)).toEqual({ ok: false, reason: "unknown-channel" });
		}
	});

	it("never throws on input that is not bytes", () => {
		for (const junk of [null, undefined, "hello", 42, {}, [1, 2, 3], new Map()]) {
			// @ts-expect-error: the relay may be handed anything; the parser must cope at run time
			expect(parseHeader(junk)).toEqual({ ok: false, reason: "too-short" });
		}
	});

	it("refuses to write out-of-range fields", () => {
		expect(() => encodeHeader({ channel: CHANNELS.screen, stream: -1, seq: 0n })).toThrow(
			RangeError,
		);
		expect(() => encodeHeader({ channel: CHANNELS.screen, stream: 2 ** 32, seq: 0n })).toThrow(
			RangeError,
		);
		expect(() => encodeHeader({ channel: CHANNELS.screen, stream: 1.5, seq: 0n })).toThrow(
			RangeError,
		);
		expect(() => encodeHeader({ channel: CHANNELS.screen, stream: 0, seq: -1n })).toThrow(
			RangeError,
		);
		expect(() => encodeHeader({ channel: CHANNELS.screen, stream: 0, seq: MAX_SEQ + 1n })).toThrow(
			RangeError,
		);
		// @ts-expect-error: channel 9 does not exist
		expect(() => encodeHeader({ channel: 9, stream: 0, seq: 0n })).toThrow(RangeError);
	});

	it("keeps the channel numbers of the wire format", () => {
		expect(CHANNELS).toEqual({ screen: 1, input: 2, file: 3, chat: 4, clipboard: 5, auth: 6 });
		expect(channelName(5)).toBe("clipboard");
		expect(channelName(0)).toBeUndefined();
	});
});
