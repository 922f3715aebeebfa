import { describe, expect, it } from "vitest";
import { planInput } from "../../modules/cli/desktop/control.ts";
import {
	EVDEV_BY_CODE,
	keysymForChar,
	keysymForKey,
	pointInArea,
	SEQUENCE_CODES,
	WheelAccumulator,
	x11KeycodeForCode,
	xButton,
} from "../../modules/cli/desktop/keys.ts";
import { captureArgs, injectionPlan } from "../../modules/cli/desktop/plans.ts";
import { ffmpegArgs } from "../../modules/cli/host-capture.ts";
import { SPECIAL_SEQUENCES } from "../../protocol/input.ts";

describe("mapping input onto the shared area", () => {
	it("puts 0 and 1 on the first and last pixel of the chosen display", () => {
		const second = { x: 1920, y: 0, width: 1280, height: 1024 };
		expect(pointInArea(second, 0, 0)).toEqual({ x: 1920, y: 0 });
		expect(pointInArea(second, 1, 1)).toEqual({ x: 3199, y: 1023 });
		expect(pointInArea(second, 0.5, 0.5)).toEqual({ x: 2560, y: 512 });
	});

	it("maps DOM buttons to X buttons", () => {
		expect([0, 1, 2, 3, 4].map(xButton)).toEqual([1, 2, 3, 8, 9]);
	});

	it("turns wheel deltas into clicks and keeps the remainder of small pixel steps", () => {
		const w = new WheelAccumulator();
		expect(w.push(0, 3, "line")).toEqual([{ button: 5, count: 3 }]);
		expect(w.push(0, -1, "line")).toEqual([{ button: 4, count: 1 }]);
		expect(w.push(0, 40, "pixel")).toEqual([]);
		expect(w.push(0, 70, "pixel")).toEqual([{ button: 5, count: 1 }]);
		expect(w.push(-250, 0, "pixel")).toEqual([{ button: 6, count: 2 }]);
		expect(w.push(0, 10_000, "line")).toEqual([{ button: 5, count: 20 }]);
	});

	it("names physical keys by evdev code + 8 and characters by keysym", () => {
		expect(x11KeycodeForCode("KeyA")).toBe(38);
		expect(x11KeycodeForCode("KeyZ")).toBe(52);
		expect(x11KeycodeForCode("ArrowUp")).toBe(111);
		expect(x11KeycodeForCode("MetaLeft")).toBe(133);
		expect(x11KeycodeForCode("F4")).toBe(70);
		expect(x11KeycodeForCode("F13")).toBe(191);
		expect(x11KeycodeForCode("NoSuchKey")).toBeNull();
		expect(new Set(Object.values(EVDEV_BY_CODE)).size).toBe(Object.keys(EVDEV_BY_CODE).length);
		expect(keysymForChar("a")).toBe(0x61);
		expect(keysymForChar("ü")).toBe(0xfc);
		expect(keysymForChar("€")).toBe(0x0100_20ac);
		expect(keysymForChar("😀")).toBe(0x0101_f600);
		expect(keysymForChar("\n")).toBe(0xff0d);
		expect(keysymForChar("\u0007")).toBeNull();
		expect(keysymForKey("Enter")).toBe(0xff0d);
		expect(keysymForKey("F4")).toBe(0xffc1);
		expect(keysymForKey("Dead")).toBeNull();
	});

	it("has keys for every special sequence", () => {
		for (const name of SPECIAL_SEQUENCES) {
			for (const code of SEQUENCE_CODES[name]) expect(x11KeycodeForCode(code), code).not.toBeNull();
		}
	});
});

describe("whether this PC can be controlled", () => {
	it("injects on X11 and says clearly why not on Wayland or without a display", () => {
		expect(planInput({ DISPLAY: ":0" }, "linux")).toEqual({ mode: "x11", display: ":0" });
		const wayland = planInput({ WAYLAND_DISPLAY: "wayland-0" }, "linux");
		expect(wayland).toMatchObject({ mode: "none", unavailable: { reason: "unsupported" } });
		expect(JSON.stringify(wayland)).toContain("Wayland");
		// XWayland's DISPLAY in a Wayland session is not enough.
		expect(
			planInput(
				{ WAYLAND_DISPLAY: "wayland-0", DISPLAY: ":0", XDG_SESSION_TYPE: "wayland" },
				"linux",
			),
		).toMatchObject({ mode: "none" });
		expect(planInput({}, "linux")).toMatchObject({ mode: "none" });
		expect(planInput({ DISPLAY: ":0" }, "win32")).toMatchObject({ mode: "none" });
	});

	it("captures one monitor of several with x11grab", () => {
		const args = ffmpegArgs(":0", 5, 1920, { x: 1920, y: 0, width: 1280, height: 1024 });
		const i = args.indexOf("-i");
		expect(args.slice(i - 2, i + 2)).toEqual(["-video_size", "1280x1024", "-i", ":0+1920,0"]);
		expect(ffmpegArgs(":0", 5)).toContain(":0");
	});
});

describe("Windows and macOS plans (argument level; not tried on real machines)", () => {
	it("captures with gdigrab and avfoundation into the same MJPEG stream", () => {
		const win = captureArgs("win32", {
			fps: 5,
			area: { x: -1280, y: 0, width: 1280, height: 720 },
		});
		expect(win.slice(win.indexOf("-f"), win.indexOf("-i") + 2)).toEqual([
			"-f",
			"gdigrab",
			"-framerate",
			"5",
			"-draw_mouse",
			"1",
			"-offset_x",
			"-1280",
			"-offset_y",
			"0",
			"-video_size",
			"1280x720",
			"-i",
			"desktop",
		]);
		expect(win.slice(-3)).toEqual(["-flush_packets", "1", "-"]);
		const mac = captureArgs("darwin", { fps: 5, screenIndex: 1 });
		expect(mac).toContain("avfoundation");
		expect(mac[mac.indexOf("-i") + 1]).toBe("Capture screen 1:none");
		expect(mac).toContain("mjpeg");
	});

	it("plans pointer, wheel, keys, text and special sequences as libnut calls", () => {
		const area = { x: 0, y: 0, width: 1000, height: 500 };
		expect(
			injectionPlan("win32", { t: "pointer", kind: "down", x: 0.5, y: 1, button: 2 }, area),
		).toEqual([
			{ call: "moveMouse", args: [500, 499] },
			{ call: "mouseToggle", args: ["down", "right"] },
		]);
		expect(
			injectionPlan("darwin", { t: "wheel", x: 0, y: 0, dx: 0, dy: -2, mode: "line" }, area),
		).toEqual([
			{ call: "moveMouse", args: [0, 0] },
			{ call: "scrollMouse", args: [0, -2] },
		]);
		expect(injectionPlan("win32", { t: "key", kind: "up", key: "z", code: "KeyZ" }, area)).toEqual([
			{ call: "keyToggle", args: ["z", "up"] },
		]);
		expect(injectionPlan("darwin", { t: "key", kind: "down", key: "é", code: "" }, area)).toEqual([
			{ call: "typeString", args: ["é"] },
		]);
		expect(injectionPlan("win32", { t: "text", text: "Grüße €" }, area)).toEqual([
			{ call: "typeString", args: ["Grüße €"] },
		]);
		expect(injectionPlan("win32", { t: "special", name: "ctrl-alt-del" }, area)[0]?.call).toBe(
			"unsupported",
		);
		expect(injectionPlan("win32", { t: "special", name: "lock" }, area)).toEqual([
			{ call: "exec", args: ["rundll32.exe", "user32.dll,LockWorkStation"] },
		]);
		expect(injectionPlan("darwin", { t: "special", name: "lock" }, area)).toEqual([
			{ call: "keyTap", args: ["q", ["control", "command"]] },
		]);
		for (const os of ["win32", "darwin"] as const) {
			for (const name of SPECIAL_SEQUENCES) {
				expect(injectionPlan(os, { t: "special", name }, area).length).toBeGreaterThan(0);
			}
		}
	});
});
