import { describe, expect, it } from "vitest";
import {
	AnnexBSplitter,
	chooseVideoCodec,
	h264CodecString,
	h264PictureSize,
	IvfSplitter,
	isH264KeyFrame,
	isVp8KeyFrame,
	MAX_VIDEO_FRAME_BYTES,
	VideoStreamError,
	videoFfmpegArgs,
} from "../../modules/cli/desktop/video.ts";

function ivfHeader(width = 1920, height = 1080): Uint8Array {
	const h = new Uint8Array(32);
	const v = new DataView(h.buffer);
	h.set([0x44, 0x4b, 0x49, 0x46]); // DKIF
	v.setUint16(4, 0, true);
	v.setUint16(6, 32, true);
	h.set([0x56, 0x50, 0x38, 0x30], 8); // VP80
	v.setUint16(12, width, true);
	v.setUint16(14, height, true);
	return h;
}

function ivfFrame(data: number[], pts: bigint): Uint8Array {
	const f = new Uint8Array(12 + data.length);
	const v = new DataView(f.buffer);
	v.setUint32(0, data.length, true);
	v.setBigUint64(4, pts, true);
	f.set(data, 12);
	return f;
}

const concat = (...parts: Uint8Array[]) => {
	const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
	let at = 0;
	for (const p of parts) {
		out.set(p, at);
		at += p.length;
	}
	return out;
};

describe("IvfSplitter", () => {
	const stream = concat(
		ivfHeader(),
		ivfFrame([0x10, 1, 2, 3], 1_796_000_000_000_000n), // bit 0 = 0: key
		ivfFrame([0x11, 4, 5], 1_796_000_000_033_333n),
		ivfFrame([0x31, 6], 1_796_000_000_066_666n),
	);

	it("yields each frame with its key flag and its pts as the timestamp in µs", () => {
		const s = new IvfSplitter();
		const frames = s.push(stream);
		expect(s.header).toEqual({ fourcc: "VP80", width: 1920, height: 1080 });
		expect(frames.map((f) => [f.key, f.timestampUs, [...f.data]])).toEqual([
			[true, 1_796_000_000_000_000, [0x10, 1, 2, 3]],
			[false, 1_796_000_000_033_333, [0x11, 4, 5]],
			[false, 1_796_000_000_066_666, [0x31, 6]],
		]);
	});

	it("gives the same frames whatever the read boundaries, one byte at a time included", () => {
		for (const step of [1, 2, 5, 13, 31, 33]) {
			const s = new IvfSplitter();
			const frames = [];
			for (let i = 0; i < stream.length; i += step)
				frames.push(...s.push(stream.subarray(i, i + step)));
			expect(frames.map((f) => [...f.data])).toEqual([
				[0x10, 1, 2, 3],
				[0x11, 4, 5],
				[0x31, 6],
			]);
		}
	});

	it("refuses a stream that is not IVF and a frame over the cap", () => {
		const notIvf = new Uint8Array(40).fill(7);
		expect(() => new IvfSplitter().push(notIvf)).toThrow(VideoStreamError);
		const huge = new Uint8Array(12);
		new DataView(huge.buffer).setUint32(0, MAX_VIDEO_FRAME_BYTES + 1, true);
		const s = new IvfSplitter();
		expect(() => s.push(concat(ivfHeader(), huge))).toThrow(VideoStreamError);
		expect(() => s.push(new Uint8Array([1]))).toThrow(VideoStreamError);
	});

	it("reads the VP8 key bit from the frame tag", () => {
		expect(isVp8KeyFrame(new Uint8Array([0x50]))).toBe(true);
		expect(isVp8KeyFrame(new Uint8Array([0x51]))).toBe(false);
		expect(isVp8KeyFrame(new Uint8Array([]))).toBe(false);
	});
});

// NAL units: AUD (9), SPS (7, Baseline 4.0), PPS (8), IDR slice (5), non-IDR slices (1);
// slice byte 1 with bit 7 set is first_mb_in_slice = 0 (a new picture), clear is a later slice.
const AUD = [0, 0, 0, 1, 0x09, 0xf0];
const SPS = [0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x28, 0xda, 0x01];
const PPS = [0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80];
const IDR = [0, 0, 1, 0x65, 0x88, 0x84, 0x21, 0x0f];
const IDR2 = [0, 0, 1, 0x65, 0x08, 0x44, 0x11];
const P = (n: number) => [0, 0, 0, 1, 0x41, 0x9a, n, 0x22];

describe("AnnexBSplitter", () => {
	const au1 = [...AUD, ...SPS, ...PPS, ...IDR, ...IDR2];
	const au2 = [...AUD, ...P(1)];
	const au3 = [...AUD, ...P(2)];
	const stream = new Uint8Array([...au1, ...au2, ...au3]);

	it("cuts access units at each delimiter; the last waits for the next unit to begin", () => {
		const s = new AnnexBSplitter();
		const units = s.push(stream);
		expect(units.map((u) => [...u])).toEqual([au1, au2]);
		expect(isH264KeyFrame(units[0] as Uint8Array)).toBe(true);
		expect(isH264KeyFrame(units[1] as Uint8Array)).toBe(false);
		expect(h264CodecString(units[0] as Uint8Array)).toBe("avc1.42C028");
		expect(h264CodecString(units[1] as Uint8Array)).toBeNull();
		expect(s.push(new Uint8Array(AUD)).map((u) => [...u])).toEqual([au3]);
	});

	it("gives the same units whatever the read boundaries, start codes split across reads", () => {
		for (const step of [1, 2, 3, 4, 7, 11]) {
			const s = new AnnexBSplitter();
			const units: number[][] = [];
			for (let i = 0; i < stream.length; i += step) {
				for (const u of s.push(stream.subarray(i, i + step))) units.push([...u]);
			}
			expect(units, `step ${step}`).toEqual([au1, au2]);
		}
	});

	it("finds units without delimiters by the first slice of each picture", () => {
		const s = new AnnexBSplitter();
		const plain = [...SPS, ...PPS, ...IDR, ...P(3), ...P(4), ...SPS];
		const units = s.push(new Uint8Array(plain)).map((u) => [...u]);
		expect(units).toEqual([[...SPS, ...PPS, ...IDR], P(3), P(4)]);
	});

	it("drops garbage before the first start code and units without a slice", () => {
		const s = new AnnexBSplitter();
		const units = s.push(new Uint8Array([9, 9, 9, ...AUD, ...AUD, ...P(5), ...AUD]));
		expect(units.map((u) => [...u])).toEqual([[...AUD, ...P(5)]]);
		expect(s.discarded).toBeGreaterThanOrEqual(3 + AUD.length);
	});

	it("drops a unit that outgrows the cap and resynchronises", () => {
		const s = new AnnexBSplitter();
		s.push(new Uint8Array([...AUD, ...P(6)]));
		s.push(new Uint8Array(MAX_VIDEO_FRAME_BYTES + 10).fill(0x55));
		expect(s.discarded).toBeGreaterThan(MAX_VIDEO_FRAME_BYTES);
		const units = s.push(new Uint8Array([...au2, ...au3, ...AUD]));
		expect(units.map((u) => [...u])).toEqual([au2, au3]);
	});
});

describe("H.264 sequence parameter sets", () => {
	// From libx264 (ffmpeg 5.1): ultrafast Baseline 1920×1080 (cropped from 1088), and High.
	const baseline = new Uint8Array([
		0x00, 0x00, 0x00, 0x01, 0x67, 0x42, 0xc0, 0x28, 0xda, 0x01, 0xe0, 0x08, 0x9f, 0x97, 0x01, 0x10,
		0x00, 0x00, 0x03, 0x00, 0x10, 0x00, 0x00, 0x03, 0x03, 0xc8, 0xf1, 0x83, 0x2a,
	]);
	const high = new Uint8Array([
		0x00, 0x00, 0x00, 0x01, 0x67, 0x64, 0x00, 0x28, 0xac, 0xd9, 0x40, 0x78, 0x02, 0x27, 0xe5, 0xc0,
		0x44, 0x00, 0x00, 0x03, 0x00, 0x04, 0x00, 0x00, 0x03, 0x00, 0xf0, 0x3c, 0x60, 0xc6, 0x58,
	]);

	it("reads the picture size (with cropping) and the codec string", () => {
		expect(h264PictureSize(baseline)).toEqual({ width: 1920, height: 1080 });
		expect(h264CodecString(baseline)).toBe("avc1.42C028");
		expect(h264PictureSize(high)).toEqual({ width: 1920, height: 1080 });
		expect(h264CodecString(high)).toBe("avc1.640028");
	});

	it("gives null for a unit without an SPS and for a truncated one", () => {
		expect(h264PictureSize(new Uint8Array([...AUD, ...P(1)]))).toBeNull();
		expect(h264PictureSize(baseline.subarray(0, 9))).toBeNull();
	});
});

describe("video codec choice and ffmpeg arguments", () => {
	it("takes the viewer's first codec this module encodes", () => {
		expect(chooseVideoCodec(["av01.0.04M.08", "vp8", "avc1.42E01F"])).toBe("vp8");
		expect(chooseVideoCodec(["avc1.640028", "vp8"])).toBe("h264");
		expect(chooseVideoCodec(["vp09.00.10.08", "av01.0.04M.08"])).toBeNull();
		expect(chooseVideoCodec([])).toBeNull();
	});

	it("asks for real-time VP8 in IVF with capture timestamps, and forced key frames off", () => {
		const args = videoFfmpegArgs({
			display: ":5",
			codec: "vp8",
			fps: 30,
			level: { kbps: 2500, halfRate: false },
		}).join(" ");
		expect(args).toContain("-f x11grab");
		expect(args).toContain("-c:v libvpx -deadline realtime");
		expect(args).toContain("-lag-in-frames 0 -error-resilient 1");
		expect(args).toContain("-copyts");
		expect(args).toContain("-enc_time_base 1:1000000");
		expect(args).toContain("framestep=step=2:enable=0");
		expect(args).toContain("metadata=mode=add:key=vp8-flags:value=1:enable=0");
		expect(args).toContain("out_color_matrix=bt709:out_range=tv");
		expect(args).toMatch(/-f ivf -flush_packets 1 -$/);
		const h264 = videoFfmpegArgs({
			display: ":5",
			codec: "h264",
			fps: 15,
			level: { kbps: 500, halfRate: true },
			area: { x: 10, y: 20, width: 800, height: 600 },
		}).join(" ");
		expect(h264).toContain("-video_size 800x600 -i :5+10,20");
		expect(h264).toContain("-tune zerolatency");
		expect(h264).toContain("framestep=step=2:enable=1");
		expect(h264).not.toContain("vp8-flags");
		expect(h264).toMatch(/-f h264 -flush_packets 1 -$/);
	});
});
