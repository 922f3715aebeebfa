/**
 * Windows and macOS: what the native module will run there, built and unit-tested at the
 * argument level but NOT tried on real machines yet (docs/modules.md). Capture is Debian's
 * ffmpeg counterpart on each system (gdigrab on Windows, avfoundation on macOS) writing the same
 * MJPEG stream as x11grab; injection is a list of calls into `@nut-tree-fork/libnut-win32` /
 * `-darwin` (prebuilt N-API modules, measured on Linux at p50 0.16 ms per pointer move), so
 * the executor is one `switch` over {@link InjectionStep}.
 */
import type { InputEvent, SpecialSequence } from "../../../protocol/input.ts";
import { CAPTURE_MAX_WIDTH, mjpegOutputArgs } from "../host-capture.ts";
import { type Area, pointInArea, WheelAccumulator } from "./keys.ts";

/** The systems with a prepared (untried) path. */
export type PlannedOs = "win32" | "darwin";

/**
 * ffmpeg's arguments to capture the screen on Windows (gdigrab: the whole virtual desktop, or
 * `area` of it, in desktop pixels) or macOS (avfoundation: screen `screenIndex`, as "Capture
 * screen N"; avfoundation cannot crop, so one display is chosen by index).
 */
export function captureArgs(
	os: PlannedOs,
	options: { fps: number; area?: Area; screenIndex?: number; maxWidth?: number },
): string[] {
	const head = [
		"-hide_banner",
		"-loglevel",
		"error",
		"-nostdin",
		"-probesize",
		"32",
		"-analyzeduration",
		"0",
	];
	const fps = String(options.fps);
	const out = mjpegOutputArgs(options.maxWidth ?? CAPTURE_MAX_WIDTH);
	if (os === "win32") {
		const area = options.area;
		const region = area
			? [
					"-offset_x",
					String(area.x),
					"-offset_y",
					String(area.y),
					"-video_size",
					`${area.width}x${area.height}`,
				]
			: [];
		return [
			...head,
			"-f",
			"gdigrab",
			"-framerate",
			fps,
			"-draw_mouse",
			"1",
			...region,
			"-i",
			"desktop",
			...out,
		];
	}
	const screen = options.screenIndex ?? 0;
	return [
		...head,
		"-f",
		"avfoundation",
		"-framerate",
		fps,
		"-capture_cursor",
		"1",
		"-pixel_format",
		"uyvy422",
		"-i",
		`Capture screen ${screen}:none`,
		...out,
	];
}

/** One libnut call (or a process to start), in order. */
export type InjectionStep =
	| { call: "moveMouse"; args: [x: number, y: number] }
	| { call: "mouseToggle"; args: [state: "down" | "up", button: "left" | "middle" | "right"] }
	| { call: "scrollMouse"; args: [x: number, y: number] }
	| { call: "keyToggle"; args: [key: string, state: "down" | "up"] }
	| { call: "keyTap"; args: [key: string, modifiers: string[]] }
	| { call: "typeString"; args: [text: string] }
	| { call: "exec"; args: [file: string, ...args: string[]] }
	| { call: "unsupported"; args: [why: string] };

/** `KeyboardEvent.code` → libnut key name (libnut maps names to virtual keys per system). */
const LIBNUT_KEY_BY_CODE: Readonly<Record<string, string>> = (() => {
	const t: Record<string, string> = {
		Enter: "enter",
		NumpadEnter: "enter",
		Escape: "escape",
		Backspace: "backspace",
		Tab: "tab",
		Space: "space",
		Delete: "delete",
		Insert: "insert",
		Home: "home",
		End: "end",
		PageUp: "pageup",
		PageDown: "pagedown",
		ArrowUp: "up",
		ArrowDown: "down",
		ArrowLeft: "left",
		ArrowRight: "right",
		ShiftLeft: "shift",
		ShiftRight: "right_shift",
		ControlLeft: "control",
		ControlRight: "right_control",
		AltLeft: "alt",
		AltRight: "right_alt",
		MetaLeft: "command",
		MetaRight: "command",
		CapsLock: "capslock",
		PrintScreen: "printscreen",
		Minus: "-",
		Equal: "=",
		BracketLeft: "[",
		BracketRight: "]",
		Backslash: "\\",
		Semicolon: ";",
		Quote: "'",
		Backquote: "`",
		Comma: ",",
		Period: ".",
		Slash: "/",
	};
	for (const l of "ABCDEFGHIJKLMNOPQRSTUVWXYZ") t[`Key${l}`] = l.toLowerCase();
	for (const d of "0123456789") {
		t[`Digit${d}`] = d;
		t[`Numpad${d}`] = `numpad_${d}`;
	}
	for (let n = 1; n <= 12; n++) t[`F${n}`] = `f${n}`;
	return t;
})();

const BUTTONS = ["left", "middle", "right"] as const;

/** Special sequences per system; null = cannot be injected (with the reason). */
const SEQUENCES: Record<PlannedOs, Record<SpecialSequence, InjectionStep[]>> = {
	win32: {
		// Ctrl+Alt+Del is the secure attention sequence: Windows ignores it from SendInput; only
		// a service calling SendSAS (sas.dll, with the SoftwareSASGeneration policy) can raise it.
		"ctrl-alt-del": [
			{ call: "unsupported", args: ["Windows accepts Ctrl+Alt+Del only from a service (SendSAS)"] },
		],
		os: [{ call: "keyTap", args: ["command", []] }],
		"alt-tab": [{ call: "keyTap", args: ["tab", ["alt"]] }],
		"alt-f4": [{ call: "keyTap", args: ["f4", ["alt"]] }],
		"print-screen": [{ call: "keyTap", args: ["printscreen", []] }],
		// Win+L is handled by winlogon, not by SendInput: LockWorkStation does the same.
		lock: [{ call: "exec", args: ["rundll32.exe", "user32.dll,LockWorkStation"] }],
	},
	darwin: {
		// The nearest macOS counterpart: the Force Quit window.
		"ctrl-alt-del": [{ call: "keyTap", args: ["escape", ["command", "alt"]] }],
		os: [{ call: "keyTap", args: ["command", []] }],
		"alt-tab": [{ call: "keyTap", args: ["tab", ["command"]] }],
		"alt-f4": [{ call: "keyTap", args: ["w", ["command"]] }],
		"print-screen": [{ call: "keyTap", args: ["3", ["command", "shift"]] }],
		lock: [{ call: "keyTap", args: ["q", ["control", "command"]] }],
	},
};

/**
 * The calls that inject one input event on Windows or macOS, with pixel coordinates in `area`.
 * `wheel` keeps remainders between events. `display` changes no input (the caller re-plans
 * capture) and yields no steps.
 */
export function injectionPlan(
	os: PlannedOs,
	event: InputEvent,
	area: Area,
	wheel: WheelAccumulator = new WheelAccumulator(),
): InjectionStep[] {
	switch (event.t) {
		case "pointer": {
			const p = pointInArea(area, event.x, event.y);
			const steps: InjectionStep[] = [{ call: "moveMouse", args: [p.x, p.y] }];
			const button = BUTTONS[event.button];
			if (event.kind !== "move") {
				if (!button) return [...steps, { call: "unsupported", args: ["back/forward buttons"] }];
				steps.push({ call: "mouseToggle", args: [event.kind, button] });
			}
			return steps;
		}
		case "wheel": {
			const p = pointInArea(area, event.x, event.y);
			let x = 0;
			let y = 0;
			for (const { button, count } of wheel.push(event.dx, event.dy, event.mode)) {
				if (button === 4) y -= count;
				else if (button === 5) y += count;
				else if (button === 6) x -= count;
				else x += count;
			}
			const steps: InjectionStep[] = [{ call: "moveMouse", args: [p.x, p.y] }];
			if (x !== 0 || y !== 0) steps.push({ call: "scrollMouse", args: [x, y] });
			return steps;
		}
		case "key": {
			const named = event.code ? LIBNUT_KEY_BY_CODE[event.code] : undefined;
			if (named) return [{ call: "keyToggle", args: [named, event.kind] }];
			// No code (a virtual keyboard): type what the key produced, once, on the press.
			const chars = Array.from(event.key);
			if (chars.length === 1)
				return event.kind === "down" ? [{ call: "typeString", args: [event.key] }] : [];
			return [{ call: "unsupported", args: [`key ${event.key.slice(0, 32)}`] }];
		}
		case "text":
			return [{ call: "typeString", args: [event.text] }];
		case "special":
			return SEQUENCES[os][event.name];
		case "display":
			return [];
	}
}
