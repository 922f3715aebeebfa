/**
 * The X11 side of remote control, over one X connection of the pure-JavaScript `x11` package
 * (no native code, no helper process): input through the XTEST extension (what xdotool uses),
 * the displays through Xinerama, the global STOP hotkey through XGrabKey, and the always-on-top
 * indicator with its STOP button as a small override-redirect window.
 *
 * Measured under Xvfb on this project's machines (docs/modules.md): one injected pointer move
 * reaches another X client after p50 0.06 ms / p99 2 ms here, 0.16 / 1.8 ms with libnut's
 * N-API module and 19 / 52 ms with one `xdotool` process per event.
 */
import x11, { type XClient, type XDisplay, type XineramaExt, type XTestExt } from "x11";
import type { Area } from "./keys.ts";

/** One monitor, in root-window pixels. */
export interface X11Display extends Area {
	index: number;
	name: string;
	primary: boolean;
}

const NO_SYMBOL = 0;
/** X modifier bits. */
const SHIFT_MASK = 1;
const LOCK_MASK = 2;
const CONTROL_MASK = 4;
const MOD1_MASK = 8; // Alt
const MOD2_MASK = 16; // NumLock
const GRAB_MODE_ASYNC = 1;
/** Keycode of Shift_L on evdev-numbered servers (KEY_LEFTSHIFT 42 + 8). */
const SHIFT_KEYCODE = 50;
/** The STOP hotkey's key: S (KEY_S 31 + 8), with Ctrl+Alt+Shift. */
export const HOTKEY_KEYCODE = 39;
const HOTKEY_MODIFIERS = SHIFT_MASK | CONTROL_MASK | MOD1_MASK;
/** The hotkey as people read it. */
export const HOTKEY_LABEL = "Ctrl+Alt+Shift+S";
/** Spare keycodes borrowed in turn for characters the layout lacks (see typeKeysym). */
const SPARE_POOL = 8;

function call<T>(run: (cb: (err: Error | null, value: T) => void) => void): Promise<T> {
	return new Promise((resolve, reject) => {
		run((err, value) => (err ? reject(err) : resolve(value)));
	});
}

/** Only Latin-1 can be drawn with the core font; anything else shows as "?". */
function latin1(text: string): string {
	return Array.from(text, (c) => ((c.codePointAt(0) ?? 0) <= 0xff ? c : "?")).join("");
}

/** An open X connection that injects input and shows the indicator. */
export class X11Desktop {
	readonly display: string;
	readonly #d: XDisplay;
	readonly #X: XClient;
	readonly #xtest: XTestExt;
	readonly #root: number;
	#mapping: number[][] = [];
	#perKeycode = 0;
	#spares: number[] = [];
	#nextSpare = 0;
	#hotkey: (() => void) | null = null;
	#indicator: { wid: number; stopX: number; onStop: () => void; raise: NodeJS.Timeout } | null =
		null;
	#closed = false;
	/** Set when the connection broke: every later call fails with it. */
	#broken: Error | null = null;

	private constructor(display: string, d: XDisplay, xtest: XTestExt) {
		this.display = display;
		this.#d = d;
		this.#X = d.client;
		this.#xtest = xtest;
		this.#root = d.screen[0]?.root ?? 0;
		this.#X.on("event", (ev) => this.#onEvent(ev));
		this.#X.on("error", (err) => {
			// A request the server refused (e.g. BadAccess: another program holds the hotkey) is
			// reported and survived; it never carries input contents.
			if (!this.#closed) console.error(`[desktop ${display}] X error: ${err?.message ?? "?"}`);
		});
		this.#X.on("end", () => {
			this.#broken ??= new Error(`the X display ${display} closed the connection`);
		});
	}

	/** Connects to `display` (e.g. ":0") and loads the keyboard mapping. */
	static async open(display: string): Promise<X11Desktop> {
		const d = await new Promise<XDisplay>((resolve, reject) => {
			try {
				const client = x11.createClient({ display }, (err, dpy) =>
					err ? reject(err) : resolve(dpy),
				);
				client.on("error", (err) => reject(err ?? new Error("X connection failed")));
			} catch (err) {
				reject(err);
			}
		});
		const xtest = await call<XTestExt>((cb) => d.client.require("xtest", cb)).catch(() => {
			d.client.terminate();
			throw new Error(`the X display ${display} has no XTEST extension: input cannot be injected`);
		});
		const desktop = new X11Desktop(display, d, xtest);
		await desktop.#loadMapping();
		return desktop;
	}

	/** The root window's size in pixels. */
	get rootArea(): Area {
		const s = this.#d.screen[0];
		return { x: 0, y: 0, width: s?.pixel_width ?? 1, height: s?.pixel_height ?? 1 };
	}

	/** The monitors (Xinerama); one entry for the whole root when Xinerama is off. */
	async displays(): Promise<X11Display[]> {
		const root = this.rootArea;
		const whole: X11Display[] = [{ index: 0, name: "Screen", primary: true, ...root }];
		try {
			const ext = await call<XineramaExt>((cb) => this.#X.require("xinerama", cb));
			const active = await call<number>((cb) => ext.IsActive(cb));
			if (!active) return whole;
			const screens = await call<{ x: number; y: number; width: number; height: number }[]>((cb) =>
				ext.QueryScreens(cb),
			);
			if (screens.length === 0) return whole;
			return screens.slice(0, 16).map((s, index) => ({
				index,
				name: `Display ${index + 1}`,
				primary: index === 0,
				x: s.x,
				y: s.y,
				width: Math.max(1, s.width),
				height: Math.max(1, s.height),
			}));
		} catch {
			return whole; // no Xinerama on this server: the root is the one display
		}
	}

	#check(): void {
		if (this.#broken) throw this.#broken;
		if (this.#closed) throw new Error("the desktop connection is closed");
	}

	/** Moves the pointer to root pixel (x, y). */
	move(x: number, y: number): void {
		this.#check();
		this.#xtest.FakeInput(this.#xtest.MotionNotify, 0, 0, this.#root, x, y);
	}

	/** Presses or releases X button `button` (1 left, 2 middle, 3 right, 4–7 wheel, 8/9 side). */
	button(button: number, down: boolean): void {
		this.#check();
		const t = down ? this.#xtest.ButtonPress : this.#xtest.ButtonRelease;
		this.#xtest.FakeInput(t, button, 0, 0, 0, 0);
	}

	/** Presses or releases a hardware key by X keycode. */
	key(keycode: number, down: boolean): void {
		this.#check();
		const t = down ? this.#xtest.KeyPress : this.#xtest.KeyRelease;
		this.#xtest.FakeInput(t, keycode, 0, 0, 0, 0);
	}

	/** Whether a keycode has any keysym on this server (else it is not a key here). */
	hasKeycode(keycode: number): boolean {
		const row = this.#mapping[keycode - this.#d.min_keycode];
		return row?.some((s) => s !== NO_SYMBOL) ?? false;
	}

	/**
	 * Where `keysym` sits in the layout: its keycode and whether Shift is needed (the first two
	 * columns of the core mapping), or null when the layout does not have it.
	 */
	findKeysym(keysym: number): { keycode: number; shift: boolean } | null {
		for (let i = 0; i < this.#mapping.length; i++) {
			const row = this.#mapping[i];
			if (!row) continue;
			const keycode = this.#d.min_keycode + i;
			if (this.#spares.includes(keycode)) continue;
			if (row[0] === keysym) return { keycode, shift: false };
			if (row[1] === keysym) return { keycode, shift: true };
		}
		return null;
	}

	/**
	 * The keycode that produces `keysym` without Shift: the layout's own, or a spare keycode
	 * mapped to it now (as xdotool does), so any Unicode character can be typed. Spares are
	 * taken in turn, so a client that reads the new mapping late still finds the right symbol.
	 */
	async keycodeFor(keysym: number): Promise<{ keycode: number; shift: boolean } | null> {
		const found = this.findKeysym(keysym);
		if (found) return found;
		if (this.#spares.length === 0) return null;
		const keycode = this.#spares[this.#nextSpare % this.#spares.length] as number;
		this.#nextSpare += 1;
		const syms = new Array<number>(this.#perKeycode).fill(keysym);
		this.#X.ChangeKeyboardMapping(keycode, this.#perKeycode, syms);
		this.#mapping[keycode - this.#d.min_keycode] = syms;
		await this.sync();
		return { keycode, shift: false };
	}

	/** Types one keysym as a press and release (with Shift where the layout needs it). */
	async typeKeysym(keysym: number): Promise<boolean> {
		const at = await this.keycodeFor(keysym);
		if (!at) return false;
		if (at.shift) this.key(SHIFT_KEYCODE, true);
		this.key(at.keycode, true);
		this.key(at.keycode, false);
		if (at.shift) this.key(SHIFT_KEYCODE, false);
		return true;
	}

	/** Gives the borrowed spare keycodes back their empty mapping. */
	resetSpares(): void {
		if (this.#closed || this.#broken) return;
		for (const keycode of this.#spares) {
			const row = this.#mapping[keycode - this.#d.min_keycode];
			if (row?.some((s) => s !== NO_SYMBOL)) {
				const empty = new Array<number>(this.#perKeycode).fill(NO_SYMBOL);
				this.#X.ChangeKeyboardMapping(keycode, this.#perKeycode, empty);
				this.#mapping[keycode - this.#d.min_keycode] = empty;
			}
		}
	}

	/** Resolves once the server has processed every request sent so far (one round trip). */
	async sync(): Promise<void> {
		this.#check();
		await call((cb) => this.#X.GetInputFocus(cb));
	}

	/**
	 * Grabs Ctrl+Alt+Shift+S on the whole display for this client: pressed on the real
	 * keyboard (or injected), it calls `onPress`. CapsLock and NumLock states are grabbed too,
	 * or the hotkey would fail whenever one of them is on.
	 */
	grabHotkey(onPress: () => void): void {
		this.#check();
		this.#hotkey = onPress;
		for (const extra of [0, LOCK_MASK, MOD2_MASK, LOCK_MASK | MOD2_MASK]) {
			this.#X.GrabKey(
				this.#root,
				0,
				HOTKEY_MODIFIERS | extra,
				HOTKEY_KEYCODE,
				GRAB_MODE_ASYNC,
				GRAB_MODE_ASYNC,
			);
		}
	}

	/** Releases the hotkey. */
	ungrabHotkey(): void {
		this.#hotkey = null;
		if (this.#closed || this.#broken) return;
		for (const extra of [0, LOCK_MASK, MOD2_MASK, LOCK_MASK | MOD2_MASK]) {
			this.#X.UngrabKey(this.#root, HOTKEY_KEYCODE, HOTKEY_MODIFIERS | extra);
		}
	}

	/**
	 * Shows the indicator: a red bar at the top of `area` with `text` and a STOP button; a click
	 * on STOP calls `onStop`. Override-redirect (no window manager can hide or move it) and
	 * raised again whenever something covers it.
	 */
	showIndicator(area: Area, text: string, onStop: () => void): void {
		this.#check();
		if (this.#indicator) this.hideIndicator();
		const label = latin1(text).slice(0, 160);
		const CHAR_W = 6; // the core "fixed" font is 6x13
		const stopW = 64;
		const height = 24;
		const width = Math.min(area.width, label.length * CHAR_W + 24 + stopW);
		const x = area.x + Math.max(0, Math.floor((area.width - width) / 2));
		const wid = this.#X.AllocID();
		const em = x11.eventMask;
		this.#X.CreateWindow(wid, this.#root, x, area.y, width, height, 0, 0, 1, 0, {
			backgroundPixel: 0xb00020,
			overrideRedirect: 1,
			eventMask: (em.Exposure ?? 0) | (em.ButtonPress ?? 0) | (em.VisibilityChange ?? 0),
		});
		this.#X.ChangeProperty(
			0,
			wid,
			this.#X.atoms.WM_NAME ?? 39,
			this.#X.atoms.STRING ?? 31,
			8,
			"Fernwart remote control",
		);
		const font = this.#X.AllocID();
		this.#X.OpenFont(font, "fixed");
		const gc = this.#X.AllocID();
		this.#X.CreateGC(gc, wid, { foreground: 0xffffff, background: 0xb00020, font });
		const stopGc = this.#X.AllocID();
		this.#X.CreateGC(stopGc, wid, { foreground: 0xffffff, font });
		const redGc = this.#X.AllocID();
		this.#X.CreateGC(redGc, wid, { foreground: 0xb00020, background: 0xffffff, font });
		const stopX = width - stopW;
		const paint = () => {
			this.#X.PolyText8(wid, gc, 8, 16, [
				label.slice(0, Math.max(0, Math.floor((stopX - 12) / CHAR_W))),
			]);
			this.#X.PolyFillRectangle(wid, stopGc, [stopX + 4, 3, stopW - 8, height - 6]);
			this.#X.PolyText8(wid, redGc, stopX + 20, 16, ["STOP"]);
		};
		this.#X.MapWindow(wid);
		this.#X.ConfigureWindow(wid, { stackMode: 0 });
		// Other override-redirect windows (menus, a full-screen game) may cover it: raise it again.
		const raise = setInterval(() => {
			if (!this.#closed && !this.#broken) this.#X.ConfigureWindow(wid, { stackMode: 0 });
		}, 1000);
		raise.unref();
		this.#indicator = { wid, stopX, onStop, raise };
		this.#paint = paint;
	}

	#paint: (() => void) | null = null;

	/** Removes the indicator. */
	hideIndicator(): void {
		const ind = this.#indicator;
		this.#indicator = null;
		this.#paint = null;
		if (!ind) return;
		clearInterval(ind.raise);
		if (!this.#closed && !this.#broken) this.#X.DestroyWindow(ind.wid);
	}

	/** Whether the indicator is up. */
	get indicatorShown(): boolean {
		return this.#indicator !== null;
	}

	/** Removes indicator and grab and closes the connection (the server drops both anyway). */
	close(): void {
		if (this.#closed) return;
		this.hideIndicator();
		this.ungrabHotkey();
		this.resetSpares();
		this.#closed = true;
		try {
			this.#X.terminate();
		} catch {
			// already gone
		}
	}

	async #loadMapping(): Promise<void> {
		const min = this.#d.min_keycode;
		const count = this.#d.max_keycode - min + 1;
		this.#mapping = await call<number[][]>((cb) => this.#X.GetKeyboardMapping(min, count, cb));
		this.#perKeycode = this.#mapping[0]?.length ?? 2;
		if (this.#spares.length === 0) {
			// Empty keycodes, from the top (the low ones are sometimes mapped by later setxkbmap).
			for (let i = this.#mapping.length - 1; i >= 0 && this.#spares.length < SPARE_POOL; i--) {
				const keycode = min + i;
				if (keycode <= 8) break;
				if (this.#mapping[i]?.every((s) => s === NO_SYMBOL)) this.#spares.push(keycode);
			}
		}
	}

	#onEvent(ev: { name?: string; keycode?: number; wid?: number; x?: number }): void {
		if (ev.name === "KeyPress" && ev.keycode === HOTKEY_KEYCODE && this.#hotkey) {
			this.#hotkey();
		} else if (ev.name === "Expose" && this.#indicator && ev.wid === this.#indicator.wid) {
			this.#paint?.();
		} else if (ev.name === "ButtonPress" && this.#indicator && ev.wid === this.#indicator.wid) {
			if ((ev.x ?? 0) >= this.#indicator.stopX) this.#indicator.onStop();
		} else if (
			ev.name === "VisibilityNotify" &&
			this.#indicator &&
			ev.wid === this.#indicator.wid
		) {
			this.#X.ConfigureWindow(this.#indicator.wid, { stackMode: 0 });
		} else if (ev.name === "MappingNotify" && !this.#closed) {
			// Someone changed the layout (setxkbmap): look keysyms up in the new one.
			void this.#loadMapping().catch(() => {});
		}
	}
}
