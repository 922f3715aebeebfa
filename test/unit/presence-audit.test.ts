import { describe, expect, it } from "vitest";
import {
	initialPresenceAudit,
	PRESENCE_AUDIT_WINDOW_MS,
	type PresenceAudit,
	type PresenceChange,
	type PresenceNote,
	presenceChange,
	presenceReconcile,
	presenceReconcileAt,
} from "../../durable/presence-audit.ts";

const ON: PresenceChange = { online: true };
const CLOSED: PresenceChange = { online: false, cause: "closed" };
const TIMEOUT: PresenceChange = { online: false, cause: "heartbeat-timeout" };

/** Feeds changes at the given times; returns the rows written and the final state. */
function run(changes: [number, PresenceChange][], start = initialPresenceAudit()) {
	let state: PresenceAudit = start;
	const notes: PresenceNote[] = [];
	for (const [at, change] of changes) {
		const step = presenceChange(state, change, at);
		state = step.next;
		if (step.note) notes.push(step.note);
	}
	return { state, notes };
}

describe("presence audit rate limit", () => {
	it("writes an online/offline pair with the cause", () => {
		const { notes } = run([
			[1_000, ON],
			[5_000, CLOSED],
		]);
		expect(notes).toEqual([
			{ type: "host.online", data: { suppressed: 0 } },
			{ type: "host.offline", data: { cause: "closed", suppressed: 0 } },
		]);
	});

	it("writes at most one pair per window for a flapping host, and counts the rest", () => {
		const flaps: [number, PresenceChange][] = [];
		for (let i = 0; i < 20; i++) flaps.push([i * 2_000, ON], [i * 2_000 + 1_000, CLOSED]);
		const { state, notes } = run(flaps);
		expect(notes.map((n) => n.type)).toEqual(["host.online", "host.offline"]);
		expect(state.suppressed).toBe(38);
		// Ends offline as the protocol shows: nothing to catch up.
		expect(presenceReconcileAt(state, false)).toBeNull();
		// The next change after the window carries the count.
		const later = presenceChange(state, ON, PRESENCE_AUDIT_WINDOW_MS + 5_000);
		expect(later.note).toEqual({ type: "host.online", data: { suppressed: 38 } });
		expect(later.next.suppressed).toBe(0);
	});

	it("catches up when a window ends in a state the protocol does not show", () => {
		const { state } = run([
			[0, ON],
			[1_000, TIMEOUT],
			[2_000, ON], // suppressed: the protocol still says offline
		]);
		expect(presenceReconcileAt(state, true)).toBe(PRESENCE_AUDIT_WINDOW_MS);
		expect(presenceReconcile(state, true, 30_000).note).toBeNull(); // not yet
		const done = presenceReconcile(state, true, PRESENCE_AUDIT_WINDOW_MS);
		expect(done.note).toEqual({
			type: "host.online",
			data: { suppressed: 1, changedAt: 2_000 },
		});
		expect(presenceReconcileAt(done.next, true)).toBeNull();
		// The catch-up opened a window: an offline right after is still written once.
		const off = presenceChange(done.next, TIMEOUT, PRESENCE_AUDIT_WINDOW_MS + 1_000);
		expect(off.note).toEqual({
			type: "host.offline",
			data: { cause: "heartbeat-timeout", suppressed: 0 },
		});
	});

	it("keeps the offline cause for a late offline row", () => {
		const { state } = run([
			[0, CLOSED],
			[1_000, ON],
			[2_000, TIMEOUT], // suppressed: the protocol still says online
		]);
		const done = presenceReconcile(state, false, PRESENCE_AUDIT_WINDOW_MS);
		expect(done.note).toEqual({
			type: "host.offline",
			data: { cause: "heartbeat-timeout", suppressed: 1, changedAt: 2_000 },
		});
	});
});
