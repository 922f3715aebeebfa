import { describe, expect, it } from "vitest";
import {
	ffmpegArgs,
	JpegSplitter,
	jpegEnd,
	jpegSize,
	planCapture,
} from "../../modules/cli/host-capture.ts";

/** A minimal JPEG-shaped byte string with traps: FF D9 inside a segment, stuffing, a restart. */
function fakeJpeg(width: number, height: number, fill: number): Uint8Array {
	const comment = [0xff, 0xfe, 0x00, 0x06, 0xff, 0xd9, 0xff, 0xd8]; // COM holding EOI and SOI
	const sof = [
		0xff,
		0xc0,
		0x00,
		0x0b,
		8,
		height >> 8,
		height & 255,
		width >> 8,
		width & 255,
		1,
		1,
		0x11,
		0,
	];
	const sos = [0xff, 0xda, 0x00, 0x08, 1, 1, 0, 0, 63, 0];
	const scan = [fill, 0xff, 0x00, fill, 0xff, 0xd0, fill, 0x12];
	return new Uint8Array([0xff, 0xd8, ...comment, ...sof, ...sos, ...scan, 0xff, 0xd9]);
}

describe("host screen capture", () => {
	it("finds a JPEG's end by its segments, not by the first FF D9", () => {
		const jpeg = fakeJpeg(320, 240, 7);
		expect(jpegEnd(jpeg)).toBe(jpeg.length);
		expect(jpegEnd(jpeg.subarray(0, jpeg.length - 1))).toBe(-1);
		expect(jpegEnd(new Uint8Array([1, 2, 3]))).toBe(-2);
		expect(jpegSize(jpeg)).toEqual({ width: 320, height: 240 });
	});

	it("cuts an MJPEG stream into frames at any chunk boundary, skipping garbage", () => {
		const frames = [fakeJpeg(320, 240, 1), fakeJpeg(640, 480, 2), fakeJpeg(8, 8, 3)];
		const [a, b, c] = frames as [Uint8Array, Uint8Array, Uint8Array];
		const stream = new Uint8Array([0x00, 0x42, ...a, ...b, 0xff, ...c]);
		for (const size of [1, 2, 3, 5, 7, 64, stream.length]) {
			const splitter = new JpegSplitter();
			const out: Uint8Array[] = [];
			for (let i = 0; i < stream.length; i += size)
				out.push(...splitter.push(stream.subarray(i, i + size)));
			expect(
				out.map((f) => jpegSize(f)?.width),
				`chunks of ${size}`,
			).toEqual([320, 640, 8]);
			expect(out[1]).toEqual(frames[1]);
		}
	});

	it("plans x11 only on Linux with DISPLAY and ffmpeg, and says why not otherwise", () => {
		const path = process.env.PATH;
		const none = planCapture("none", { DISPLAY: ":1", PATH: path }, "linux");
		expect(none).toMatchObject({ mode: "none", requested: true });
		const noDisplay = planCapture(undefined, { PATH: path }, "linux");
		expect(noDisplay.mode === "none" && noDisplay.reason).toContain("DISPLAY is not set");
		const noFfmpeg = planCapture(undefined, { DISPLAY: ":1", PATH: "/nonexistent" }, "linux");
		expect(noFfmpeg.mode === "none" && noFfmpeg.reason).toContain("apt-get install ffmpeg");
		const mac = planCapture("x11", { DISPLAY: ":1", PATH: path }, "darwin");
		expect(mac).toMatchObject({ mode: "none", requested: true });
		expect(ffmpegArgs(":9", 4)).toEqual(expect.arrayContaining(["x11grab", ":9", "mjpeg", "4"]));
	});
});
