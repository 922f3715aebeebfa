import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
	decodeVideoFeedback,
	encodeVideoChunk,
	encodeVideoFeedback,
	MAX_VIDEO_FEEDBACK_BYTES,
	MAX_VIDEO_FEEDBACK_FRAME_BYTES,
	nextVideoIndex,
	parseVideoChunk,
	pickVideoCodec,
	VIDEO_CHUNK_HEADER_BYTES,
	type VideoChunkHeader,
	type VideoFeedback,
} from "../../protocol/video.ts";

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

const codecArb = fc.stringMatching(/^[0-9A-Za-z._-]{1,64}$/);
const headerArb: fc.Arbitrary<VideoChunkHeader> = fc.oneof(
	fc.record({
		key: fc.constant(true as const),
		index: fc.integer({ min: 0, max: 0xffff_ffff }),
		timestampUs: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
		codec: codecArb,
		width: fc.integer({ min: 1, max: 0xffff }),
		height: fc.integer({ min: 1, max: 0xffff }),
	}),
	fc.record({
		key: fc.constant(false as const),
		index: fc.integer({ min: 0, max: 0xffff_ffff }),
		timestampUs: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
	}),
);

describe("video chunks (docs/protocol.md §2.3)", () => {
	it("lay out a key chunk and a delta chunk byte for byte", () => {
		const key = encodeVideoChunk(
			{
				key: true,
				index: 0x01020304,
				timestampUs: 33_333,
				codec: "vp8",
				width: 1920,
				height: 1080,
			},
			new Uint8Array([0xaa, 0xbb]),
		);
		// flags, index, timestamp (µs), codec length, "vp8", width, height, data
		expect(hex(key)).toBe(
			`01` + `01020304` + `0000000000008235` + `03` + `767038` + `0780` + `0438` + `aabb`,
		);
		const delta = encodeVideoChunk(
			{ key: false, index: 7, timestampUs: 2 ** 40 },
			new Uint8Array([9]),
		);
		expect(hex(delta)).toBe(`00` + `00000007` + `0000010000000000` + `09`);
		expect(delta.byteLength).toBe(VIDEO_CHUNK_HEADER_BYTES + 1);
	});

	it("round-trip every header the encoder accepts", () => {
		fc.assert(
			fc.property(headerArb, fc.uint8Array({ minLength: 1, maxLength: 64 }), (header, data) => {
				const parsed = parseVideoChunk(encodeVideoChunk(header, data));
				expect(parsed).toEqual({ ok: true, chunk: { ...header, data } });
			}),
		);
	});

	it("parse a chunk inside a larger buffer without copying", () => {
		const payload = encodeVideoChunk(
			{ key: false, index: 1, timestampUs: 0 },
			new Uint8Array([5, 6]),
		);
		const backing = new Uint8Array(payload.byteLength + 8);
		backing.set(payload, 4);
		const parsed = parseVideoChunk(backing.subarray(4, 4 + payload.byteLength));
		expect(parsed.ok && [...parsed.chunk.data]).toEqual([5, 6]);
		expect(parsed.ok && parsed.chunk.data.buffer).toBe(backing.buffer);
	});

	it("refuse malformed payloads with a reason", () => {
		const key = (codec: number[], size = [0, 1, 0, 1], data = [1]) =>
			new Uint8Array([
				1,
				0,
				0,
				0,
				0,
				0,
				0,
				0,
				0,
				0,
				0,
				0,
				0,
				codec.length,
				...codec,
				...size,
				...data,
			]);
		const cases: [string, Uint8Array, string][] = [
			["nothing", new Uint8Array(0), "too-short"],
			["half a header", new Uint8Array(12), "too-short"],
			["a delta without data", new Uint8Array(13), "empty"],
			["unknown flag bits", new Uint8Array([0x02, ...new Uint8Array(12), 1]), "bad-flags"],
			[
				"a key chunk without its codec length",
				new Uint8Array([1, ...new Uint8Array(12)]),
				"too-short",
			],
			["a codec of length 0", key([]), "bad-codec"],
			["a codec over 64 bytes", key(new Array(65).fill(0x61)), "bad-codec"],
			["a codec with a space", key([0x76, 0x20, 0x38]), "bad-codec"],
			["a codec with non-ASCII", key([0x76, 0xe9]), "bad-codec"],
			["a codec with a quote", key([0x76, 0x22]), "bad-codec"],
			["a key chunk cut in its codec", key([0x76, 0x70, 0x38]).subarray(0, 15), "too-short"],
			["a key chunk cut in its size", key([0x76]).subarray(0, 17), "too-short"],
			["a width of 0", key([0x76], [0, 0, 0, 1]), "bad-size"],
			["a height of 0", key([0x76], [0, 1, 0, 0]), "bad-size"],
			["a key chunk without data", key([0x76], [0, 1, 0, 1], []), "empty"],
			[
				"a timestamp over 2^53-1",
				new Uint8Array([0, 0, 0, 0, 0, 0, 0x20, 0, 0, 0, 0, 0, 0, 1]),
				"bad-timestamp",
			],
		];
		for (const [name, bytes, reason] of cases) {
			expect([name, parseVideoChunk(bytes)]).toEqual([name, { ok: false, reason }]);
		}
	});

	it("never throw on arbitrary bytes or non-bytes", () => {
		fc.assert(
			fc.property(fc.uint8Array({ maxLength: 120 }), (bytes) => {
				const parsed = parseVideoChunk(bytes);
				if (parsed.ok) expect(parsed.chunk.data.byteLength).toBeGreaterThan(0);
			}),
		);
		for (const junk of [null, undefined, "x", 7, new ArrayBuffer(20), [1, 2, 3]]) {
			expect(parseVideoChunk(junk as unknown as Uint8Array)).toEqual({
				ok: false,
				reason: "too-short",
			});
		}
	});

	it("throw on the sender's own out-of-range fields", () => {
		const data = new Uint8Array([1]);
		const bad: VideoChunkHeader[] = [
			{ key: false, index: -1, timestampUs: 0 },
			{ key: false, index: 2 ** 32, timestampUs: 0 },
			{ key: false, index: 0, timestampUs: -1 },
			{ key: false, index: 0, timestampUs: 0.5 },
			{ key: true, index: 0, timestampUs: 0, codec: "", width: 1, height: 1 },
			{ key: true, index: 0, timestampUs: 0, codec: "v".repeat(65), width: 1, height: 1 },
			{ key: true, index: 0, timestampUs: 0, codec: "vp8", width: 0, height: 1 },
			{ key: true, index: 0, timestampUs: 0, codec: "vp8", width: 1, height: 65_536 },
		];
		for (const header of bad) expect(() => encodeVideoChunk(header, data)).toThrow(RangeError);
		expect(() =>
			encodeVideoChunk({ key: false, index: 0, timestampUs: 0 }, new Uint8Array(0)),
		).toThrow(RangeError);
	});

	it("count indexes as u32 that wrap", () => {
		expect(nextVideoIndex(0)).toBe(1);
		expect(nextVideoIndex(0xffff_ffff)).toBe(0);
	});
});

describe("video feedback (docs/protocol.md §2.3)", () => {
	it("round-trips every kind", () => {
		const messages: VideoFeedback[] = [
			{ t: "codecs", decode: ["vp8", "vp09.00.10.08", "avc1.42E01F"] },
			{ t: "codecs", decode: [] },
			{ t: "keyframe" },
			{ t: "report", received: 30, lost: 2, decodeMs: 1.25 },
		];
		for (const message of messages) {
			expect(decodeVideoFeedback(encodeVideoFeedback(message))).toEqual(message);
		}
	});

	it("fits the largest valid message into the cap, which the relay's frame cap covers", () => {
		const largest = encodeVideoFeedback({
			t: "codecs",
			decode: new Array(12).fill("v".repeat(64)),
		});
		expect(largest.byteLength).toBeLessThanOrEqual(MAX_VIDEO_FEEDBACK_BYTES);
		expect(MAX_VIDEO_FEEDBACK_FRAME_BYTES).toBe(MAX_VIDEO_FEEDBACK_BYTES + 14 + 16);
	});

	it("drops malformed feedback as null", () => {
		const text = (s: string) => new TextEncoder().encode(s);
		const bad = [
			text(""),
			text("{"),
			text("null"),
			text('{"t":"keyframe","x":1}'),
			text('{"t":"pause"}'),
			text('{"t":"codecs","decode":["vp 8"]}'),
			text('{"t":"codecs","decode":[""]}'),
			text('{"t":"codecs","decode":["vp8\\""]}'),
			text(`{"t":"codecs","decode":${JSON.stringify(new Array(13).fill("vp8"))}}`),
			text('{"t":"report","received":-1,"lost":0,"decodeMs":1}'),
			text('{"t":"report","received":1.5,"lost":0,"decodeMs":1}'),
			text('{"t":"report","received":1,"lost":0,"decodeMs":-1}'),
			text(`{"t":"keyframe"}${" ".repeat(MAX_VIDEO_FEEDBACK_BYTES)}`),
			new Uint8Array([0x7b, 0xff, 0x7d]),
		];
		for (const bytes of bad) expect(decodeVideoFeedback(bytes)).toBeNull();
		expect(decodeVideoFeedback("{}" as unknown as Uint8Array)).toBeNull();
		fc.assert(
			fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
				decodeVideoFeedback(bytes);
			}),
		);
	});

	it("picks the viewer's first codec the shower can encode", () => {
		expect(pickVideoCodec(["vp09.00.10.08", "vp8"], ["vp8", "vp09.00.10.08"])).toBe(
			"vp09.00.10.08",
		);
		expect(pickVideoCodec(["avc1.42E01F", "vp8"], ["vp8"])).toBe("vp8");
		expect(pickVideoCodec(["av01.0.04M.08"], ["vp8"])).toBeNull();
		expect(pickVideoCodec([], ["vp8"])).toBeNull();
	});
});
