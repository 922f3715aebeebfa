/**
 * The console's controlling view (docs/web.md, "Controlling a remote PC"): the remote picture as
 * large as the window allows (fit) or pixel for pixel (1:1, scrolling), full screen with the
 * Keyboard Lock API where the browser has it, and the full input event set of protocol/input.ts
 * (docs/protocol.md §2.2) while the customer's or host's control grant stands: pointer, wheel,
 * keys by `code` + `key` + modifiers, IME text, special sequences, the display choice. It also
 * draws the remote cursor, fills the screen selector, says when the other side cannot inject
 * input, and shows frames per second and the input round trip (event → `injected` echo).
 *
 * Keys are taken only while the keyboard field over the picture has the focus and the grant
 * stands. Ctrl+Alt+Shift always gives the keyboard back (and so does clicking outside, or Tab
 * outside full screen): nobody is trapped in the view.
 */
import type { SessionClient } from "../sdk/session.ts";
import { $, show, t } from "./common.ts";
import {
	type InputEvent,
	MAX_INPUT_TEXT,
	MODIFIERS,
	type ScreenInfo,
	SPECIAL_SEQUENCES,
	type SpecialSequence,
} from "./wire.ts";

/** Pointer moves and wheel turns leave at most this often (first at once, the last one later). */
const MOVE_INTERVAL_MS = 40;
/** Every this many-th pointer move carries an id for the latency readout; other kinds always. */
const MOVE_ID_EVERY = 8;
/** Ids waiting for their `injected` echo; the oldest are forgotten beyond this. */
const MAX_PENDING_IDS = 64;
/** Round trips kept for the readout's median. */
const LATENCY_SAMPLES = 20;
/** Received pictures are counted over this window (ms) for the frame rate. */
const FPS_WINDOW_MS = 2000;
/** How often the readout is refreshed (ms). */
const READOUT_INTERVAL_MS = 500;
/** Largest input id (u32), after which the counter starts again at 1. */
const MAX_EVENT_ID = 0xffff_ffff;

/** The Keyboard Lock API (Chromium; not in TypeScript's DOM types). */
interface KeyboardLock {
	lock(codes?: string[]): Promise<void>;
	unlock(): void;
}

/** What the console tells the view. */
export interface RemoteControl {
	/** A picture (screen stream 1) arrived; drawn by the caller, counted here for the fps. */
	frame(): void;
	/** Screen info from the showing side (screen stream 2). */
	info(info: ScreenInfo): void;
	/** The relay's state changed: `controlling` is true while this supporter holds the grant. */
	update(controlling: boolean): void;
}

type IdEvent = Exclude<InputEvent, { t: "display" }>;

/**
 * Wires the view's elements (#stage, #viewport, #picture, #screen, #keyboard-sink, the tool
 * bar) to `session()`, the console's current session. Nothing is sent unless the session's last
 * state names the supporter as controller (the SDK and the relay check again).
 */
export function setupRemoteControl(session: () => SessionClient | null): RemoteControl {
	const stage = $("stage");
	const viewport = $("viewport");
	const picture = $("picture");
	const canvas = $<HTMLCanvasElement>("screen");
	const sink = $<HTMLTextAreaElement>("keyboard-sink");
	const keyboardToggle = $<HTMLButtonElement>("keyboard-toggle");
	const keyboardState = $("keyboard-state");
	const fitToggle = $<HTMLButtonElement>("fit-toggle");
	const fullscreen = $<HTMLButtonElement>("fullscreen");
	const specialKeys = $<HTMLDetailsElement>("special-keys");
	const displaySelect = $<HTMLSelectElement>("display-select");
	const unavailable = $("input-unavailable");
	const cursor = $("remote-cursor");
	const readout = $("readout");
	const controlTools = $("control-tools");
	const keyboard = (navigator as Navigator & { keyboard?: Partial<KeyboardLock> }).keyboard;

	let controlling = false;
	let actualSize = false;
	let keyboardLocked = false;

	// ---------------------------------------------------------------------------------------------
	// Sending, with ids on a sample of events for the latency readout

	let nextId = 1;
	let moves = 0;
	/** id → performance.now() when it was sent. */
	const pending = new Map<number, number>();
	const latencies: number[] = [];

	function send(event: InputEvent): void {
		const client = session();
		if (!controlling || client?.state?.controller !== "supporter") return;
		client.sendInput(event).catch(() => undefined); // the grant ended meanwhile: dropped
	}

	function tagged<T extends IdEvent>(event: T): T {
		const id = nextId;
		nextId = nextId >= MAX_EVENT_ID ? 1 : nextId + 1;
		pending.set(id, performance.now());
		if (pending.size > MAX_PENDING_IDS) {
			const oldest = pending.keys().next().value;
			if (oldest !== undefined) pending.delete(oldest);
		}
		return { ...event, id };
	}

	// ---------------------------------------------------------------------------------------------
	// Picture size: fit (as large as the viewport allows, also larger than the picture) or 1:1

	function layout(): void {
		const width = canvas.width;
		const height = canvas.height;
		if (actualSize) {
			// One picture pixel per device pixel: what 1:1 means on a high-density screen too.
			picture.style.width = `${width / devicePixelRatio}px`;
			picture.style.height = `${height / devicePixelRatio}px`;
		} else {
			const scale = Math.min(viewport.clientWidth / width, viewport.clientHeight / height);
			const fit = Number.isFinite(scale) && scale > 0 ? scale : 1;
			picture.style.width = `${Math.floor(width * fit)}px`;
			picture.style.height = `${Math.floor(height * fit)}px`;
		}
	}
	new ResizeObserver(layout).observe(viewport);
	// The viewer resizes the canvas to each new picture size (screen.ts).
	new MutationObserver(layout).observe(canvas, {
		attributes: true,
		attributeFilter: ["width", "height"],
	});
	layout();

	fitToggle.addEventListener("click", () => {
		actualSize = !actualSize;
		fitToggle.setAttribute("aria-pressed", String(actualSize));
		viewport.classList.toggle("actual", actualSize);
		layout();
	});

	// ---------------------------------------------------------------------------------------------
	// Full screen, with the keyboard lock so that the OS's own shortcuts reach the remote PC too

	show(fullscreen, document.fullscreenEnabled);
	fullscreen.addEventListener("click", () => {
		if (document.fullscreenElement) {
			void document.exitFullscreen().catch(() => undefined);
			return;
		}
		stage.requestFullscreen().then(
			() => {
				if (controlling) sink.focus({ preventScroll: true });
			},
			() => undefined, // refused (no user gesture, a policy): the view stays as it is
		);
	});
	document.addEventListener("fullscreenchange", () => {
		const on = document.fullscreenElement === stage;
		fullscreen.setAttribute("aria-pressed", String(on));
		fullscreen.textContent = t(on ? "control.fullscreenLeave" : "control.fullscreen");
		if (on) lockKeyboard();
		else unlockKeyboard();
		layout();
	});

	function lockKeyboard(): void {
		if (!controlling || document.fullscreenElement !== stage || !keyboard?.lock) return;
		keyboard.lock().then(
			() => {
				keyboardLocked = document.fullscreenElement === stage;
				updateKeyboardState();
			},
			() => undefined, // not supported here: keys the OS takes stay with the OS
		);
	}

	function unlockKeyboard(): void {
		if (keyboardLocked) keyboard?.unlock?.();
		keyboardLocked = false;
		updateKeyboardState();
	}

	// ---------------------------------------------------------------------------------------------
	// Pointer and wheel

	const clamp = (v: number) => (Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 0);
	function position(event: MouseEvent): { x: number; y: number } {
		const box = canvas.getBoundingClientRect();
		return {
			x: clamp((event.clientX - box.left) / box.width),
			y: clamp((event.clientY - box.top) / box.height),
		};
	}

	let lastMoveAt = Number.NEGATIVE_INFINITY;
	let moveTimer: ReturnType<typeof setTimeout> | null = null;
	let latestMove: { x: number; y: number } | null = null;
	const pressed = new Set<number>();

	function flushMove(): void {
		if (moveTimer) clearTimeout(moveTimer);
		moveTimer = null;
		const at = latestMove;
		latestMove = null;
		if (!at) return;
		lastMoveAt = performance.now();
		const event = { t: "pointer", kind: "move", ...at, button: 0 } as const;
		send(moves++ % MOVE_ID_EVERY === 0 ? tagged(event) : event);
	}

	canvas.addEventListener("pointermove", (event) => {
		if (!controlling) return;
		latestMove = position(event);
		const wait = MOVE_INTERVAL_MS - (performance.now() - lastMoveAt);
		if (wait <= 0) flushMove();
		else moveTimer ??= setTimeout(flushMove, wait);
	});
	canvas.addEventListener("pointerdown", (event) => {
		if (!controlling || event.button < 0 || event.button > 4) return;
		event.preventDefault();
		sink.focus({ preventScroll: true }); // a click on the picture gives it the keyboard
		canvas.setPointerCapture(event.pointerId); // a drag that leaves the picture still ends
		flushMove();
		pressed.add(event.button);
		send(tagged({ t: "pointer", kind: "down", ...position(event), button: event.button }));
	});
	canvas.addEventListener("pointerup", (event) => {
		if (!controlling || !pressed.delete(event.button)) return;
		flushMove();
		send(tagged({ t: "pointer", kind: "up", ...position(event), button: event.button }));
	});
	canvas.addEventListener("pointercancel", (event) => releaseButtons(position(event)));
	// The canvas cannot take the focus itself: keep the click from moving it elsewhere.
	canvas.addEventListener("mousedown", (event) => {
		if (controlling) event.preventDefault();
	});
	viewport.addEventListener("contextmenu", (event) => event.preventDefault());

	function releaseButtons(at: { x: number; y: number }): void {
		for (const button of pressed) send({ t: "pointer", kind: "up", ...at, button });
		pressed.clear();
	}

	let lastWheelAt = Number.NEGATIVE_INFINITY;
	let wheelTimer: ReturnType<typeof setTimeout> | null = null;
	let wheel: { x: number; y: number; dx: number; dy: number; mode: "pixel" | "line" } | null = null;
	const WHEEL_LIMIT = 10_000;
	const limit = (v: number) => Math.min(WHEEL_LIMIT, Math.max(-WHEEL_LIMIT, v));

	function flushWheel(): void {
		if (wheelTimer) clearTimeout(wheelTimer);
		wheelTimer = null;
		const turn = wheel;
		wheel = null;
		if (!turn || (turn.dx === 0 && turn.dy === 0)) return;
		lastWheelAt = performance.now();
		send(tagged({ t: "wheel", ...turn, dx: limit(turn.dx), dy: limit(turn.dy) }));
	}

	canvas.addEventListener(
		"wheel",
		(event) => {
			if (!controlling) return;
			event.preventDefault(); // the console page does not scroll under a controlled picture
			const mode = event.deltaMode === WheelEvent.DOM_DELTA_LINE ? "line" : "pixel";
			// A page-wise turn (rare) travels as pixels of the visible picture.
			const page = event.deltaMode === WheelEvent.DOM_DELTA_PAGE;
			const dx = page ? event.deltaX * canvas.clientWidth : event.deltaX;
			const dy = page ? event.deltaY * canvas.clientHeight : event.deltaY;
			if (wheel && wheel.mode !== mode) flushWheel();
			const at = position(event);
			wheel = { ...at, dx: (wheel?.dx ?? 0) + dx, dy: (wheel?.dy ?? 0) + dy, mode };
			const wait = MOVE_INTERVAL_MS - (performance.now() - lastWheelAt);
			if (wait <= 0) flushWheel();
			else wheelTimer ??= setTimeout(flushWheel, wait);
		},
		{ passive: false },
	);

	// ---------------------------------------------------------------------------------------------
	// Keyboard: a text field over the picture takes the keys (and IME compositions, which only an
	// editable element receives); what it would type is sent instead.

	/** Keys sent down and not yet up, by code (or key where the code is empty). */
	const held = new Map<string, { key: string; code: string }>();
	let releaseOnClick = false;

	const capturing = () => controlling && document.activeElement === sink;
	const mods = (event: KeyboardEvent) => MODIFIERS.filter((m) => event.getModifierState(m));
	const isModifier = (key: string) => key === "Control" || key === "Alt" || key === "Shift";

	function releaseKeys(): void {
		for (const { key, code } of held.values()) send({ t: "key", kind: "up", key, code });
		held.clear();
	}

	/** Gives the keyboard back to this PC; the focus goes to the capture button. */
	function release(): void {
		releaseKeys();
		unlockKeyboard();
		keyboardToggle.focus();
		updateKeyboardState();
	}

	function updateKeyboardState(): void {
		const on = capturing();
		// Always there while control stands, so that capturing never shifts the picture mid-click.
		show(keyboardState, controlling);
		keyboardState.classList.toggle("on", on);
		keyboardState.textContent = t(
			on
				? keyboardLocked
					? "control.keyboardStateLocked"
					: "control.keyboardState"
				: "control.keyboardLocal",
		);
		viewport.classList.toggle("capturing", on);
		// The label stays the same (a changing width would move the tools under the pointer).
		keyboardToggle.setAttribute("aria-pressed", String(on));
	}

	sink.addEventListener("focus", () => {
		if (controlling && document.fullscreenElement === stage && !keyboardLocked) lockKeyboard();
		updateKeyboardState();
	});
	sink.addEventListener("blur", () => {
		releaseKeys(); // a key held while the focus left must not stay down on the remote PC
		updateKeyboardState();
	});
	sink.addEventListener("keydown", (event) => {
		if (!capturing()) return;
		// An IME is composing: the text follows as one `text` event at compositionend.
		if (event.isComposing || event.key === "Process" || event.keyCode === 229) return;
		if (event.ctrlKey && event.altKey && event.shiftKey && isModifier(event.key)) {
			event.preventDefault();
			release();
			return;
		}
		// Tab leaves the view, so keyboard users are never trapped; in locked full screen it goes
		// to the remote PC (Ctrl+Alt+Shift is the way out there), and the menu has it too.
		if (event.key === "Tab" && !keyboardLocked) return;
		event.preventDefault();
		const key = event.key.slice(0, 32);
		const code = event.code.slice(0, 32);
		if (!key) return;
		held.set(code || key, { key, code });
		const mod = mods(event);
		send(tagged({ t: "key", kind: "down", key, code, ...(mod.length ? { mods: mod } : {}) }));
	});
	sink.addEventListener("keyup", (event) => {
		const code = event.code.slice(0, 32);
		const down = held.get(code || event.key.slice(0, 32));
		if (!down) return; // its down went elsewhere (before the capture, or it was the release)
		held.delete(code || down.key);
		event.preventDefault();
		const mod = mods(event);
		send({ t: "key", kind: "up", ...down, ...(mod.length ? { mods: mod } : {}) });
	});
	sink.addEventListener("compositionend", (event) => {
		sendText(event.data);
		sink.value = "";
	});
	sink.addEventListener("input", (event) => {
		// Text that came without a key we sent: a virtual keyboard, dictation, the browser's
		// insertText. IME steps are left to compositionend.
		const input = event as InputEvent_;
		if (!input.isComposing && input.inputType.startsWith("insert") && input.data) {
			if (input.inputType !== "insertCompositionText") sendText(input.data);
		}
		if (!input.isComposing) sink.value = "";
	});

	function sendText(text: string | null): void {
		if (!text || !capturing()) return;
		for (let at = 0; at < text.length; at += MAX_INPUT_TEXT) {
			send(tagged({ t: "text", text: text.slice(at, at + MAX_INPUT_TEXT) }));
		}
	}

	// A mouse press on the button moves the focus (and so releases) before the click: remember
	// whether the keyboard was captured then, so that this click does not capture it again.
	keyboardToggle.addEventListener("mousedown", () => {
		releaseOnClick = capturing();
	});
	keyboardToggle.addEventListener("click", () => {
		const wasCapturing = releaseOnClick || capturing();
		releaseOnClick = false;
		if (wasCapturing) release();
		else if (controlling) sink.focus({ preventScroll: true });
	});

	// ---------------------------------------------------------------------------------------------
	// Special keys, the display choice

	for (const button of specialKeys.querySelectorAll<HTMLButtonElement>("button[data-special]")) {
		button.addEventListener("click", () => {
			const name = button.dataset.special;
			if (name === "tab") {
				send(tagged({ t: "key", kind: "down", key: "Tab", code: "Tab" }));
				send({ t: "key", kind: "up", key: "Tab", code: "Tab" });
			} else if (isSpecial(name)) {
				send(tagged({ t: "special", name }));
			}
			specialKeys.open = false;
			if (controlling) sink.focus({ preventScroll: true });
		});
	}

	displaySelect.addEventListener("change", () => {
		const value = displaySelect.value;
		send({ t: "display", index: value === "all" ? null : Number(value) });
	});

	function showDisplays(info: Extract<ScreenInfo, { t: "displays" }>): void {
		const options = [new Option(t("control.displayAll"), "all")];
		for (const display of info.displays) {
			const label = t("control.displayItem", {
				number: display.index + 1,
				name: display.name || "—",
				width: display.width,
				height: display.height,
			});
			options.push(
				new Option(
					display.primary ? `${label} ${t("control.primary")}` : label,
					String(display.index),
				),
			);
		}
		displaySelect.replaceChildren(...options);
		displaySelect.value = info.current === null ? "all" : String(info.current);
		show($("display-field"), info.displays.length > 1);
	}

	// ---------------------------------------------------------------------------------------------
	// Readout: frames per second and the input round trip

	const frameTimes: number[] = [];

	function refreshReadout(): void {
		const now = performance.now();
		while (frameTimes.length && (frameTimes[0] ?? 0) < now - FPS_WINDOW_MS) frameTimes.shift();
		const fps = Math.round((frameTimes.length * 1000) / FPS_WINDOW_MS);
		const sorted = [...latencies].sort((a, b) => a - b);
		const median = sorted.length ? Math.round(sorted[Math.floor(sorted.length / 2)] ?? 0) : null;
		readout.dataset.fps = String(fps);
		if (median !== null) readout.dataset.latencyMs = String(median);
		readout.textContent = t("control.readout", {
			fps,
			latency: median === null ? "–" : String(median),
		});
	}
	setInterval(refreshReadout, READOUT_INTERVAL_MS);
	refreshReadout();

	// ---------------------------------------------------------------------------------------------

	return {
		frame() {
			frameTimes.push(performance.now());
		},
		info(info) {
			switch (info.t) {
				case "displays":
					showDisplays(info);
					break;
				case "cursor":
					cursor.style.left = `${info.x * 100}%`;
					cursor.style.top = `${info.y * 100}%`;
					show(cursor);
					break;
				case "injected": {
					const sentAt = pending.get(info.id);
					if (sentAt === undefined) break; // not ours, or forgotten
					pending.delete(info.id);
					latencies.push(performance.now() - sentAt);
					if (latencies.length > LATENCY_SAMPLES) latencies.shift();
					show(unavailable, false); // input arrives: whatever was wrong is not any more
					refreshReadout();
					break;
				}
				case "input-unavailable":
					unavailable.textContent = t(`control.unavailable.${info.reason}`, {
						message: info.message,
					});
					unavailable.dataset.reason = info.reason;
					show(unavailable);
					break;
			}
		},
		update(now) {
			if (now && !controlling) show(unavailable, false); // a new grant: a new chance
			if (!now && controlling) {
				flushMove();
				releaseButtons({ x: 0, y: 0 });
				held.clear(); // the relay no longer forwards anything: nothing left to release
				unlockKeyboard();
			}
			controlling = now;
			show(controlTools, now);
			keyboardToggle.disabled = !now;
			displaySelect.disabled = !now;
			sink.tabIndex = now ? 0 : -1;
			if (now) lockKeyboard();
			updateKeyboardState();
		},
	};
}

/** The DOM's InputEvent (the name is taken by the protocol's type in this file). */
type InputEvent_ = globalThis.InputEvent;

function isSpecial(name: string | undefined): name is SpecialSequence {
	return (SPECIAL_SEQUENCES as readonly string[]).includes(name ?? "");
}
