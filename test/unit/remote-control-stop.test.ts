/**
 * The controlled PC's own STOP and revoke, without X: a fake session drives RemoteControl the way
 * the SDK does, and a fake desktop records what would be injected.
 */
import { describe, expect, it } from "vitest";
import { Output } from "../../modules/cli/common.ts";
import { RemoteControl } from "../../modules/cli/desktop/remote-control.ts";
import type { X11Desktop } from "../../modules/cli/desktop/x11.ts";
import type { SessionClient } from "../../modules/sdk/session.ts";
import type { ConsentState } from "../../protocol/control.ts";
import type { InputEvent } from "../../protocol/input.ts";

type Handler = (value: never) => void;

/** The parts of SessionClient that RemoteControl uses, driven by the test. */
function fakeSession() {
	const handlers = new Map<string, Handler[]>();
	let stops = 0;
	const session = {
		role: "customer",
		on(event: string, handler: Handler) {
			handlers.set(event, [...(handlers.get(event) ?? []), handler]);
		},
		stop: async () => {
			stops += 1;
		},
		sendScreenInfo: async () => 0n,
		sendClipboard: async () => 0n,
	};
	const emit = (event: string, value: unknown) => {
		for (const h of handlers.get(event) ?? []) (h as (v: unknown) => void)(value);
	};
	let revision = 0;
	const state = (controller: "supporter" | null): ConsentState =>
		({
			sessionId: "s",
			revision: ++revision,
			phase: "active",
			connected: ["supporter", "customer"],
			termsRequired: false,
			termsAccepted: false,
			shower: "customer",
			controller,
			files: [],
		}) as ConsentState;
	return {
		session: session as unknown as SessionClient,
		emit,
		state,
		stops: () => stops,
	};
}

/** A desktop that records typed keysyms; each keysym takes a tick, as an X round trip does. */
function fakeDesktop() {
	const typed: number[] = [];
	const desktop = {
		rootArea: { x: 0, y: 0, width: 100, height: 100 },
		displays: async () => [],
		move() {},
		button() {},
		key() {},
		hasKeycode: () => false,
		keycodeFor: async () => null,
		typeKeysym: async (sym: number) => {
			await new Promise((r) => setTimeout(r, 5));
			typed.push(sym);
		},
		sync: async () => {},
		grabHotkey() {},
		ungrabHotkey() {},
		showIndicator() {},
		hideIndicator() {},
		resetSpares() {},
		indicatorShown: false,
	};
	return { desktop: desktop as unknown as X11Desktop, typed };
}

function setUp() {
	const s = fakeSession();
	const d = fakeDesktop();
	const control = new RemoteControl({
		session: s.session,
		desktop: d.desktop,
		unavailable: null,
		clipboard: null,
		supporterName: () => "Sam",
		out: new Output(true, () => {}),
	});
	return { ...s, ...d, control };
}

describe("STOP on the controlled PC", () => {
	it("ends control at once, and a state still granting it from before does not bring it back", () => {
		const { emit, state, control } = setUp();
		emit("state", state("supporter"));
		expect(control.granted).toBe(true);
		control.stopLocally("terminal");
		expect(control.granted).toBe(false);
		// The relay has not seen the STOP yet: its next state still names the supporter.
		emit("state", state("supporter"));
		expect(control.granted).toBe(false);
		const text: InputEvent = { t: "text", text: "rm -rf ~" };
		emit("input", { event: text, granted: true });
		expect(control.dropped).toBe(1);
	});

	it("stops typing mid-text when control is revoked while the text types", async () => {
		const { emit, state, control, typed } = setUp();
		emit("state", state("supporter"));
		emit("input", { event: { t: "text", text: "abcdefghijklmnopqrstuvwxyz" }, granted: true });
		await new Promise((r) => setTimeout(r, 30));
		emit("state", state(null));
		await control.idle;
		expect(typed.length).toBeGreaterThan(0);
		expect(typed.length).toBeLessThan(26);
	});
});
