/**
 * Pure tables and arithmetic behind input injection (docs/protocol.md §2.2): where a normalised
 * point lands in pixels, which X button a DOM button is, how wheel deltas become wheel clicks,
 * which hardware key a `KeyboardEvent.code` names and which keysym a `KeyboardEvent.key` or a
 * typed character is. No I/O: the X11 backend (x11.ts) and the Windows/macOS plans (plans.ts)
 * share these.
 */
import type { SpecialSequence } from "../../../protocol/input.ts";

/** A rectangle of the root window in pixels: one display, or the bounding box of all. */
export interface Area {
	x: number;
	y: number;
	width: number;
	height: number;
}

/**
 * The pixel a normalised point (0..1 of the shared picture) names inside `area`: 0 is the first
 * pixel, 1 the last, so a click at the picture's edge never leaves the shared display.
 */
export function pointInArea(area: Area, x: number, y: number): { x: number; y: number } {
	const fx = Math.min(1, Math.max(0, x));
	const fy = Math.min(1, Math.max(0, y));
	return {
		x: area.x + Math.round(fx * (area.width - 1)),
		y: area.y + Math.round(fy * (area.height - 1)),
	};
}

/** DOM `MouseEvent.button` (0 main, 1 middle, 2 secondary, 3 back, 4 forward) → X button. */
export function xButton(domButton: number): number {
	return [1, 2, 3, 8, 9][domButton] ?? 1;
}

/** Pixels of a `pixel`-mode wheel delta that make one wheel click (a notch; X has no finer unit). */
export const WHEEL_PIXELS_PER_CLICK = 100;
/** The most wheel clicks one event may turn into (a huge delta is a flick, not a page jump). */
export const MAX_WHEEL_CLICKS = 20;

/**
 * Turns wheel deltas into whole clicks, keeping the remainder for the next event so slow
 * touchpad scrolling (a few pixels at a time) still scrolls. Positive = right/down.
 */
export class WheelAccumulator {
	#x = 0;
	#y = 0;

	/** The clicks to send now: X buttons 4 up, 5 down, 6 left, 7 right, each `count` times. */
	push(dx: number, dy: number, mode: "pixel" | "line"): { button: number; count: number }[] {
		const unit = mode === "pixel" ? WHEEL_PIXELS_PER_CLICK : 1;
		this.#x += dx / unit;
		this.#y += dy / unit;
		const out: { button: number; count: number }[] = [];
		const take = (value: number): [number, number] => {
			const whole = Math.trunc(value);
			return [Math.max(-MAX_WHEEL_CLICKS, Math.min(MAX_WHEEL_CLICKS, whole)), value - whole];
		};
		const [cy, ry] = take(this.#y);
		const [cx, rx] = take(this.#x);
		this.#y = ry;
		this.#x = rx;
		if (cy !== 0) out.push({ button: cy < 0 ? 4 : 5, count: Math.abs(cy) });
		if (cx !== 0) out.push({ button: cx < 0 ? 6 : 7, count: Math.abs(cx) });
		return out;
	}

	reset(): void {
		this.#x = 0;
		this.#y = 0;
	}
}

/**
 * `KeyboardEvent.code` → Linux evdev key code (linux/input-event-codes.h). X servers that use
 * the evdev or libinput driver, and Xvfb, number their keys evdev + 8; the W3C code values name
 * the same physical keys, so a key injected by code lands on the same key whatever the layouts.
 */
export const EVDEV_BY_CODE: Readonly<Record<string, number>> = (() => {
	const table: Record<string, number> = {
		Escape: 1,
		Minus: 12,
		Equal: 13,
		Backspace: 14,
		Tab: 15,
		BracketLeft: 26,
		BracketRight: 27,
		Enter: 28,
		ControlLeft: 29,
		Semicolon: 39,
		Quote: 40,
		Backquote: 41,
		ShiftLeft: 42,
		Backslash: 43,
		Comma: 51,
		Period: 52,
		Slash: 53,
		ShiftRight: 54,
		NumpadMultiply: 55,
		AltLeft: 56,
		Space: 57,
		CapsLock: 58,
		NumLock: 69,
		ScrollLock: 70,
		Numpad7: 71,
		Numpad8: 72,
		Numpad9: 73,
		NumpadSubtract: 74,
		Numpad4: 75,
		Numpad5: 76,
		Numpad6: 77,
		NumpadAdd: 78,
		Numpad1: 79,
		Numpad2: 80,
		Numpad3: 81,
		Numpad0: 82,
		NumpadDecimal: 83,
		IntlBackslash: 86,
		F11: 87,
		F12: 88,
		IntlRo: 89,
		NumpadEnter: 96,
		ControlRight: 97,
		NumpadDivide: 98,
		PrintScreen: 99,
		AltRight: 100,
		Home: 102,
		ArrowUp: 103,
		PageUp: 104,
		ArrowLeft: 105,
		ArrowRight: 106,
		End: 107,
		ArrowDown: 108,
		PageDown: 109,
		Insert: 110,
		Delete: 111,
		AudioVolumeMute: 113,
		AudioVolumeDown: 114,
		AudioVolumeUp: 115,
		NumpadEqual: 117,
		Pause: 119,
		NumpadComma: 121,
		IntlYen: 124,
		MetaLeft: 125,
		MetaRight: 126,
		ContextMenu: 127,
	};
	"1234567890".split("").forEach((d, i) => {
		table[`Digit${d}`] = 2 + i;
	});
	const rows: [string, number][] = [
		["QWERTYUIOP", 16],
		["ASDFGHJKL", 30],
		["ZXCVBNM", 44],
	];
	for (const [letters, first] of rows) {
		letters.split("").forEach((l, i) => {
			table[`Key${l}`] = first + i;
		});
	}
	for (let n = 1; n <= 10; n++) table[`F${n}`] = 58 + n;
	for (let n = 13; n <= 24; n++) table[`F${n}`] = 170 + n;
	return table;
})();

/** The X keycode of a `KeyboardEvent.code` on an evdev-numbered server, or null. */
export function x11KeycodeForCode(code: string): number | null {
	// Own keys only: "constructor" or "__proto__" from a peer must not reach Object.prototype.
	const evdev = Object.hasOwn(EVDEV_BY_CODE, code) ? EVDEV_BY_CODE[code] : undefined;
	return evdev === undefined ? null : evdev + 8;
}

/** X keysyms of the named `KeyboardEvent.key` values (X11/keysymdef.h). */
const KEYSYM_BY_KEY: Readonly<Record<string, number>> = (() => {
	const table: Record<string, number> = {
		Enter: 0xff0d,
		Tab: 0xff09,
		Backspace: 0xff08,
		Escape: 0xff1b,
		Delete: 0xffff,
		Insert: 0xff63,
		Home: 0xff50,
		End: 0xff57,
		PageUp: 0xff55,
		PageDown: 0xff56,
		ArrowLeft: 0xff51,
		ArrowUp: 0xff52,
		ArrowRight: 0xff53,
		ArrowDown: 0xff54,
		Shift: 0xffe1,
		Control: 0xffe3,
		Alt: 0xffe9,
		AltGraph: 0xfe03,
		Meta: 0xffeb,
		OS: 0xffeb,
		CapsLock: 0xffe5,
		NumLock: 0xff7f,
		ScrollLock: 0xff14,
		PrintScreen: 0xff61,
		Pause: 0xff13,
		ContextMenu: 0xff67,
	};
	for (let n = 1; n <= 24; n++) table[`F${n}`] = 0xffbe + n - 1;
	return table;
})();

/**
 * The X keysym of one character: Latin-1 keysyms equal their code points, Return and Tab have
 * their own, everything else is the Unicode keysym 0x01000000 + code point.
 */
export function keysymForChar(ch: string): number | null {
	const cp = ch.codePointAt(0);
	if (cp === undefined) return null;
	if (ch === "\n" || ch === "\r") return 0xff0d;
	if (ch === "\t") return 0xff09;
	if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) return null; // other control characters
	if (cp <= 0xff) return cp;
	return 0x0100_0000 + cp;
}

/** The keysym of a `KeyboardEvent.key` value ("a", "Ü", "Enter", "F4"), or null. */
export function keysymForKey(key: string): number | null {
	const named = Object.hasOwn(KEYSYM_BY_KEY, key) ? KEYSYM_BY_KEY[key] : undefined;
	if (named !== undefined) return named;
	const chars = Array.from(key);
	return chars.length === 1 && chars[0] !== undefined ? keysymForChar(chars[0]) : null;
}

/** The keys of each named sequence, pressed in order and released in reverse. */
export const SEQUENCE_CODES: Readonly<Record<SpecialSequence, readonly string[]>> = {
	"ctrl-alt-del": ["ControlLeft", "AltLeft", "Delete"],
	os: ["MetaLeft"],
	"alt-tab": ["AltLeft", "Tab"],
	"alt-f4": ["AltLeft", "F4"],
	"print-screen": ["PrintScreen"],
	lock: ["MetaLeft", "KeyL"],
};
