/**
 * A virtual X display for remote-control tests: Xvfb on a free display number, and an observer
 * (a real X client on the pure-JavaScript `x11` package) whose full-screen window records the
 * pointer buttons and keys that reach it, with the keysym each key produced under the layout
 * as it was when the key arrived (the module may map spare keycodes for characters the layout
 * lacks, so the observer reloads the mapping on every MappingNotify, as Xlib clients do).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import x11, { type XClient, type XDisplay, type XEvent } from "x11";

export interface Xvfb {
	display: string;
	process: ChildProcess;
	stop(): void;
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!check()) {
		if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
		await new Promise((r) => setTimeout(r, 25));
	}
}

/** Starts Xvfb with one screen of `width`×`height` and waits for its socket. */
export async function startXvfb(width = 320, height = 240): Promise<Xvfb> {
	let n = 100 + Math.floor(Math.random() * 800);
	while (existsSync(`/tmp/.X11-unix/X${n}`) || existsSync(`/tmp/.X${n}-lock`)) n += 1;
	const display = `:${n}`;
	const child = spawn(
		"Xvfb",
		[display, "-screen", "0", `${width}x${height}x24`, "-nolisten", "tcp", "-noreset"],
		{ stdio: "ignore" },
	);
	await until(() => existsSync(`/tmp/.X11-unix/X${n}`), 10_000, "Xvfb socket");
	return { display, process: child, stop: () => child.kill("SIGTERM") };
}

/** What reached the observer window. */
export interface Seen {
	type: "down" | "up" | "key" | "keyup";
	/** Pointer button (down/up) or keycode (key/keyup). */
	detail: number;
	x: number;
	y: number;
	/** For keys: the keysym under the mapping of that moment, with Shift applied. */
	keysym?: number;
	at: number;
}

/** A full-screen window that logs button and key events. */
export class XObserver {
	readonly events: Seen[] = [];
	readonly #X: XClient;
	readonly #d: XDisplay;
	#mapping: Promise<number[][]>;
	#chain: Promise<void> = Promise.resolve();
	#listeners = new Set<(e: Seen) => void>();

	private constructor(d: XDisplay) {
		this.#d = d;
		this.#X = d.client;
		this.#mapping = this.#loadMapping();
	}

	static async open(display: string): Promise<XObserver> {
		const d = await new Promise<XDisplay>((resolve, reject) => {
			x11.createClient({ display }, (err, dpy) => (err ? reject(err) : resolve(dpy)));
		});
		const obs = new XObserver(d);
		const X = d.client;
		const s = d.screen[0];
		if (!s) throw new Error("no screen");
		const wid = X.AllocID();
		const em = x11.eventMask;
		X.CreateWindow(wid, s.root, 0, 0, s.pixel_width, s.pixel_height, 0, 0, 1, 0, {
			backgroundPixel: 0x336699,
			eventMask:
				(em.ButtonPress ?? 0) |
				(em.ButtonRelease ?? 0) |
				(em.KeyPress ?? 0) |
				(em.KeyRelease ?? 0) |
				(em.StructureNotify ?? 0),
		});
		X.ChangeProperty(0, wid, X.atoms.WM_NAME ?? 39, X.atoms.STRING ?? 31, 8, "observer");
		X.MapWindow(wid);
		X.on("event", (ev) => obs.#onEvent(ev));
		// Mapped (MapNotify) before anything is injected, or the first click finds the root.
		await new Promise<void>((resolve) => {
			const check = (ev: XEvent) => {
				if (ev.name === "MapNotify") resolve();
			};
			X.on("event", check);
		});
		X.SetInputFocus(wid, 1);
		await new Promise((resolve) => X.GetInputFocus(resolve));
		return obs;
	}

	#loadMapping(): Promise<number[][]> {
		const min = this.#d.min_keycode;
		return new Promise((resolve) =>
			this.#X.GetKeyboardMapping(min, this.#d.max_keycode - min + 1, (err, rows) =>
				resolve(err ? [] : rows),
			),
		);
	}

	#onEvent(ev: XEvent): void {
		if (ev.name === "MappingNotify") {
			this.#mapping = this.#loadMapping();
			return;
		}
		const kinds: Record<string, Seen["type"]> = {
			ButtonPress: "down",
			ButtonRelease: "up",
			KeyPress: "key",
			KeyRelease: "keyup",
		};
		const type = ev.name ? kinds[ev.name] : undefined;
		if (!type) return;
		const at = Date.now();
		const mapping = this.#mapping;
		this.#chain = this.#chain.then(async () => {
			const seen: Seen = { type, detail: ev.keycode ?? 0, x: ev.x ?? -1, y: ev.y ?? -1, at };
			if (type === "key" || type === "keyup") {
				const row = (await mapping)[(ev.keycode ?? 0) - this.#d.min_keycode] ?? [];
				const shift = ((ev.buttons ?? 0) & 1) !== 0;
				seen.keysym = (shift ? row[1] || row[0] : row[0]) ?? 0;
			}
			this.events.push(seen);
			for (const l of this.#listeners) l(seen);
		});
	}

	/** Resolves with the next event that matches (events seen before are not looked at). */
	next(match: (e: Seen) => boolean, timeoutMs = 10_000): Promise<Seen> {
		return new Promise((resolve, reject) => {
			const timer = setTimeout(() => {
				this.#listeners.delete(l);
				reject(new Error("timed out waiting for an X event"));
			}, timeoutMs);
			const l = (e: Seen) => {
				if (!match(e)) return;
				clearTimeout(timer);
				this.#listeners.delete(l);
				resolve(e);
			};
			this.#listeners.add(l);
		});
	}

	/** The text typed so far (key presses whose keysym is a character), from index `from`. */
	typed(from = 0): string {
		let out = "";
		for (const e of this.events.slice(from)) {
			if (e.type !== "key" || !e.keysym) continue;
			const k = e.keysym;
			if (k >= 0x20 && k <= 0xff) out += String.fromCodePoint(k);
			else if (k >= 0x0100_0000) out += String.fromCodePoint(k - 0x0100_0000);
		}
		return out;
	}

	close(): void {
		this.#X.terminate();
	}
}
