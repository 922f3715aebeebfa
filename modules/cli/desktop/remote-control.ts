/**
 * Remote control on the showing side, one code path for the host agent (`host run`) and the
 * customer module (`join --capture x11`): it turns the controller's input events (docs/protocol.md
 * §2.2) into X11 input, keeps the clipboards in step, tells the viewer about the displays, and
 * keeps the person at the PC in charge with the indicator, its STOP button and the STOP hotkey.
 *
 * Defence in depth: the relay forwards input only while the control grant stands, and this
 * module injects only while the SDK says `granted: true` *and* its own reading of the last state
 * says so. Anything else is dropped and answered with `input-unavailable` (at most once per
 * {@link NOTICE_INTERVAL_MS}). When the grant ends, held keys and buttons are released at once.
 */
import type { ConsentState } from "../../../protocol/control.ts";
import type { InputEvent, ScreenInfo } from "../../../protocol/input.ts";
import type { SessionClient } from "../../sdk/session.ts";
import type { Output } from "../common.ts";
import type { X11Clipboard } from "./clipboard.ts";
import {
	type Area,
	keysymForChar,
	keysymForKey,
	pointInArea,
	SEQUENCE_CODES,
	WheelAccumulator,
	x11KeycodeForCode,
	xButton,
} from "./keys.ts";
import { HOTKEY_LABEL, type X11Desktop, type X11Display } from "./x11.ts";

/** The shortest gap between two `input-unavailable` notices of the same reason. */
export const NOTICE_INTERVAL_MS = 3000;
/** How often the local clipboard is looked at while control stands. */
export const CLIPBOARD_POLL_MS = 1000;

/** Why this PC cannot be controlled at all (no X11, Wayland, no XTEST). */
export interface InputUnavailable {
	reason: "unsupported" | "failed";
	message: string;
}

export interface RemoteControlOptions {
	session: SessionClient;
	/** The X connection, or null when input cannot work here (`unavailable` says why). */
	desktop: X11Desktop | null;
	unavailable: InputUnavailable | null;
	clipboard: X11Clipboard | null;
	/** Who controls, as the indicator names them. */
	supporterName: () => string;
	out: Output;
	/** The shared area changed (the supporter chose a display): capture follows it. */
	onArea?: (area: Area) => void;
}

/** Binds one session to the desktop; `close()` when the session is over. */
export class RemoteControl {
	readonly #o: RemoteControlOptions;
	#showing = false;
	#granted = false;
	#displays: X11Display[] = [];
	#current: number | null = null;
	readonly #keys = new Set<number>();
	readonly #buttons = new Set<number>();
	/** Keycodes pressed for a `key` that had no usable `code`, by `key`, for the matching up. */
	readonly #byKey = new Map<string, number>();
	readonly #wheel = new WheelAccumulator();
	#chain: Promise<void> = Promise.resolve();
	readonly #noticeAt = new Map<string, number>();
	#clipboardTimer: NodeJS.Timeout | null = null;
	#clipboardLast: string | null = null;
	#stopping = false;
	#closed = false;
	/** Events injected since the start (for the log line at the end). */
	injected = 0;
	dropped = 0;

	constructor(options: RemoteControlOptions) {
		this.#o = options;
		const { session } = options;
		session.on("state", (state) => this.#onState(state));
		session.on("input", ({ event, granted }) => this.#onInput(event, granted));
		session.on("clipboard", ({ text }) => this.#onClipboard(text));
		session.on("end", () => this.#setGranted(false));
		session.on("closed", () => this.close());
	}

	/** The pixels that are shared (and that coordinates map onto): one display or all. */
	get area(): Area {
		const d = this.#current === null ? null : this.#displays[this.#current];
		if (d) return { x: d.x, y: d.y, width: d.width, height: d.height };
		if (this.#displays.length === 0)
			return this.#o.desktop?.rootArea ?? { x: 0, y: 0, width: 1, height: 1 };
		const x0 = Math.min(...this.#displays.map((x) => x.x));
		const y0 = Math.min(...this.#displays.map((x) => x.y));
		const x1 = Math.max(...this.#displays.map((x) => x.x + x.width));
		const y1 = Math.max(...this.#displays.map((x) => x.y + x.height));
		return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
	}

	/** Whether input is injected now. */
	get granted(): boolean {
		return this.#granted;
	}

	/** Resolves when every queued injection and release is done. */
	get idle(): Promise<void> {
		return this.#chain;
	}

	/** Loads the displays (call once before the session connects). */
	async init(): Promise<void> {
		if (this.#o.desktop) this.#displays = await this.#o.desktop.displays();
	}

	// -------------------------------------------------------------------------------------------
	// Consent

	#onState(state: ConsentState): void {
		const role = this.#o.session.role;
		const showing = state.phase === "active" && state.shower === role;
		// The same rule as the SDK's `granted`, read from this module's own copy of the state.
		const granted = showing && state.controller !== null && state.controller !== role;
		if (showing !== this.#showing) {
			this.#showing = showing;
			// Only a module that can be controlled has displays to offer; without X there is no list.
			if (showing && this.#displays.length > 0) this.#sendInfo(this.#displaysInfo());
		}
		// After a local STOP no state brings control back: the relay may still be sending states
		// from before the STOP reached it (it waits behind frames already on the line).
		this.#setGranted(granted && !this.#stopping);
	}

	#setGranted(granted: boolean): void {
		if (granted === this.#granted || this.#closed) return;
		this.#granted = granted;
		const { desktop, out } = this.#o;
		if (granted) {
			out.event(
				"control.active",
				{ hotkey: HOTKEY_LABEL, injection: desktop ? "x11" : "none" },
				`Remote control is active: press ${HOTKEY_LABEL} or click STOP on the red bar to end it.`,
			);
			if (!desktop) {
				const why = this.#o.unavailable;
				if (why) {
					out.say(why.message);
					this.#notice(why.reason, why.message, true);
				}
				return;
			}
			try {
				desktop.grabHotkey(() => this.#stop("hotkey"));
				const name = this.#o.supporterName();
				desktop.showIndicator(
					this.area,
					`${name} controls this PC - press ${HOTKEY_LABEL} or click STOP`,
					() => this.#stop("button"),
				);
			} catch (err) {
				out.event("error", { code: "INDICATOR_FAILED", message: (err as Error).message }, null);
			}
			this.#startClipboard();
			return;
		}
		// The grant ended (revoke, view switch, STOP, end): nothing more is injected, and nothing
		// the supporter held down stays down.
		this.#stopClipboard();
		const release = () => {
			this.#releaseAll();
			desktop?.hideIndicator();
			desktop?.ungrabHotkey();
			desktop?.resetSpares();
		};
		this.#chain = this.#chain.then(release, release);
		out.event(
			"control.ended",
			{ injected: this.injected, dropped: this.dropped },
			"Remote control ended.",
		);
	}

	/**
	 * Ends remote control on this PC at once and for good, before the relay hears of it: nothing
	 * more is injected, held keys are released, the bar and the hotkey go. The caller sends the
	 * signed `stop` (the hotkey and the bar do it below; `join`'s terminal STOP does it itself).
	 */
	stopLocally(via: "hotkey" | "button" | "terminal"): void {
		if (this.#stopping) return;
		this.#stopping = true;
		this.#o.out.event("stop.local", { via }, `STOP (${via}): ending remote access now.`);
		this.#setGranted(false);
	}

	#stop(via: "hotkey" | "button"): void {
		if (this.#stopping) return;
		this.stopLocally(via);
		void this.#o.session
			.stop()
			.catch((err: unknown) =>
				this.#o.out.event("error", { code: "STOP_FAILED", message: (err as Error).message }, null),
			);
	}

	// -------------------------------------------------------------------------------------------
	// Input

	#onInput(event: InputEvent, sdkGranted: boolean): void {
		if (!sdkGranted || !this.#granted || this.#closed) {
			this.dropped += 1;
			this.#notice("no-grant", "Input is ignored: no control grant stands on this PC.");
			return;
		}
		const { desktop, unavailable } = this.#o;
		if (!desktop) {
			this.dropped += 1;
			const why = unavailable ?? { reason: "unsupported" as const, message: "No input here." };
			this.#notice(why.reason, why.message);
			return;
		}
		this.#chain = this.#chain.then(async () => {
			// Checked again when its turn comes: a revoke that arrived meanwhile wins.
			if (!this.#granted || this.#closed) {
				this.dropped += 1;
				return;
			}
			try {
				await this.#inject(desktop, event);
				this.injected += 1;
				if ("id" in event && event.id !== undefined) {
					await desktop.sync();
					this.#sendInfo({ t: "injected", id: event.id });
				}
			} catch (err) {
				this.#notice("failed", `Injecting input failed: ${(err as Error).message}`.slice(0, 200));
			}
		});
	}

	async #inject(desktop: X11Desktop, event: InputEvent): Promise<void> {
		switch (event.t) {
			case "pointer": {
				const p = pointInArea(this.area, event.x, event.y);
				desktop.move(p.x, p.y);
				if (event.kind === "move") return;
				const button = xButton(event.button);
				const down = event.kind === "down";
				desktop.button(button, down);
				if (down) this.#buttons.add(button);
				else this.#buttons.delete(button);
				return;
			}
			case "wheel": {
				const p = pointInArea(this.area, event.x, event.y);
				desktop.move(p.x, p.y);
				for (const { button, count } of this.#wheel.push(event.dx, event.dy, event.mode)) {
					for (let i = 0; i < count; i++) {
						desktop.button(button, true);
						desktop.button(button, false);
					}
				}
				return;
			}
			case "key":
				return this.#key(desktop, event);
			case "text":
				// A pasted Windows line end is one Return, not two.
				for (const ch of event.text.replace(/\r\n?/g, "\n")) {
					// A revoke or STOP that arrives while this text types stops it mid-way.
					if (!this.#granted || this.#closed) return;
					const sym = keysymForChar(ch);
					if (sym !== null) await desktop.typeKeysym(sym);
				}
				return;
			case "special": {
				const codes = SEQUENCE_CODES[event.name]
					.map((c) => x11KeycodeForCode(c))
					.filter((k): k is number => k !== null);
				for (const k of codes) desktop.key(k, true);
				for (const k of codes.toReversed()) desktop.key(k, false);
				return;
			}
			case "display": {
				const index = event.index;
				if (index !== null && !this.#displays[index]) return; // no such display: ignored
				this.#current = index;
				this.#sendInfo(this.#displaysInfo());
				this.#o.onArea?.(this.area);
				if (desktop.indicatorShown) {
					desktop.showIndicator(
						this.area,
						`${this.#o.supporterName()} controls this PC - press ${HOTKEY_LABEL} or click STOP`,
						() => this.#stop("button"),
					);
				}
				return;
			}
		}
	}

	async #key(desktop: X11Desktop, event: Extract<InputEvent, { t: "key" }>): Promise<void> {
		const down = event.kind === "down";
		// By code first: the physical key, whatever layouts the two PCs use.
		const byCode = event.code ? x11KeycodeForCode(event.code) : null;
		if (byCode !== null && desktop.hasKeycode(byCode)) {
			desktop.key(byCode, down);
			if (down) this.#keys.add(byCode);
			else this.#keys.delete(byCode);
			return;
		}
		// By key: what it produced (virtual keyboards send no code).
		if (!down) {
			const keycode = this.#byKey.get(event.key);
			if (keycode !== undefined) {
				this.#byKey.delete(event.key);
				desktop.key(keycode, false);
				this.#keys.delete(keycode);
			}
			return;
		}
		const sym = keysymForKey(event.key);
		if (sym === null) return;
		const at = await desktop.keycodeFor(sym);
		if (!at || !this.#granted || this.#closed) return; // revoked while the keycode was found
		const shiftHeld = this.#keys.has(50) || this.#keys.has(62);
		if (at.shift && !shiftHeld) desktop.key(50, true);
		desktop.key(at.keycode, true);
		if (at.shift && !shiftHeld) desktop.key(50, false);
		this.#byKey.set(event.key, at.keycode);
		this.#keys.add(at.keycode);
	}

	#releaseAll(): void {
		const desktop = this.#o.desktop;
		this.#wheel.reset();
		if (!desktop) return;
		try {
			for (const k of this.#keys) desktop.key(k, false);
			for (const b of this.#buttons) desktop.button(b, false);
		} catch {
			// The X connection is gone: the server released everything with it.
		}
		this.#keys.clear();
		this.#buttons.clear();
		this.#byKey.clear();
	}

	// -------------------------------------------------------------------------------------------
	// Clipboard

	#startClipboard(): void {
		const clipboard = this.#o.clipboard;
		if (!clipboard || this.#clipboardTimer) return;
		let busy = false;
		let baseline = true;
		const poll = async () => {
			if (busy || !this.#granted) return;
			busy = true;
			try {
				const text = await clipboard.read();
				// A failed look (xclip timed out, a slow owner) tells nothing: it must not become
				// the baseline, or what was copied before the grant would go out next time.
				if (text === undefined) return;
				// The first look only learns what is there: what the customer copied before the
				// grant is not sent; only what is copied while control stands.
				if (baseline) {
					baseline = false;
					this.#clipboardLast = text;
					return;
				}
				if (text === null || text === this.#clipboardLast || !this.#granted) return;
				this.#clipboardLast = text;
				await this.#o.session.sendClipboard(text);
			} catch {
				// The session ended or the text was refused: the next change is tried again.
			} finally {
				busy = false;
			}
		};
		void poll();
		this.#clipboardTimer = setInterval(() => void poll(), CLIPBOARD_POLL_MS);
		this.#clipboardTimer.unref();
	}

	#stopClipboard(): void {
		if (this.#clipboardTimer) clearInterval(this.#clipboardTimer);
		this.#clipboardTimer = null;
	}

	#onClipboard(text: string): void {
		// The relay forwards clipboard frames only while control stands; checked here too.
		if (!this.#granted || !this.#o.clipboard) return;
		this.#clipboardLast = text;
		this.#o.clipboard.write(text);
	}

	// -------------------------------------------------------------------------------------------
	// Screen info

	#displaysInfo(): ScreenInfo {
		return {
			t: "displays",
			displays: this.#displays.map((d) => ({
				index: d.index,
				name: d.name.slice(0, 64),
				width: d.width,
				height: d.height,
				primary: d.primary,
			})),
			current: this.#current,
		};
	}

	#notice(reason: "no-grant" | "unsupported" | "failed", message: string, force = false): void {
		const now = Date.now();
		const last = this.#noticeAt.get(reason) ?? 0;
		if (!force && now - last < NOTICE_INTERVAL_MS) return;
		this.#noticeAt.set(reason, now);
		this.#sendInfo({ t: "input-unavailable", reason, message: message.slice(0, 200) });
	}

	#sendInfo(info: ScreenInfo): void {
		// Screen info may only flow from the showing side; before that the relay would drop it.
		if (!this.#showing) return;
		void this.#o.session.sendScreenInfo(info).catch(() => {
			// The session is ending; the viewer no longer needs it.
		});
	}

	/** Releases everything and removes indicator, hotkey and clipboard owner. */
	close(): void {
		if (this.#closed) return;
		this.#setGranted(false);
		this.#closed = true;
		this.#stopClipboard();
		this.#o.clipboard?.close();
	}
}
