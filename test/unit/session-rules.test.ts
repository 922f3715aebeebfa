import { describe, expect, it } from "vitest";
import {
	countViolation,
	decide,
	emptyTally,
	initialState,
	isAdmitted,
	type LiveState,
	MAX_VIOLATIONS,
	mayForward,
	noteCustomer,
	REQUEST_LIMITS,
	type SessionRecord,
	summarizeViolations,
	takeOver,
	takeRequest,
	VIOLATION_AUDIT_INTERVAL_MS,
} from "../../durable/session-rules.ts";
import type { ClientMessage } from "../../protocol/control.ts";
import {
	CHANNELS,
	type Channel,
	frameSizeLimit,
	HEADER_BYTES,
	isOversizedFrame,
	MAX_ANY_FRAME_BYTES,
	MAX_FRAME_BYTES,
} from "../../protocol/frame.ts";

const record: SessionRecord = {
	id: "s1",
	kind: "adhoc",
	supporterId: "u1",
	view: "customer",
	termsRequired: false,
	termsSha256: null,
	expiresAt: Date.now() + 60_000,
};

const signed = (type: string) =>
	({
		type,
		statement: { type, sessionId: "s1", details: {}, timestamp: 0 },
		signature: "x",
	}) as unknown as ClientMessage;

const active = (change: Partial<LiveState>): LiveState => ({
	...initialState(),
	phase: "active",
	...change,
});

describe("withdrawals", () => {
	it("take control back at once, and only from the side that shows", () => {
		const live = active({ shower: "customer", controller: "supporter" });
		const d = decide(record, live, "customer", signed("control.revoke"));
		expect(d).toMatchObject({ ok: true, immediate: true, consent: true });
		if (d.ok) expect(d.next.controller).toBeNull();
		expect(decide(record, live, "supporter", signed("control.revoke")).ok).toBe(false);
	});

	it("end view and control together when the shower revokes view", () => {
		const live = active({ shower: "customer", controller: "supporter" });
		const d = decide(record, live, "customer", signed("view.revoke"));
		expect(d).toMatchObject({ ok: true, immediate: true });
		if (d.ok) {
			expect(d.next).toMatchObject({ shower: null, controller: null });
			expect(d.audit).toEqual([{ type: "view.revoked", data: { shower: "customer" } }]);
		}
		expect(decide(record, live, "supporter", signed("view.revoke")).ok).toBe(false);
		expect(decide(record, active({}), "customer", signed("view.revoke")).ok).toBe(false);
	});

	it("leave grants as they were (written before they act)", () => {
		const live = active({ shower: "customer" });
		const d = decide(record, live, "customer", signed("control.grant"));
		expect(d.ok && d.immediate).toBeFalsy();
	});
});

describe("request limits", () => {
	it("forwards the limit per window, then refuses until the oldest leaves the window", () => {
		const { max, windowMs } = REQUEST_LIMITS["control.request"];
		let log = {};
		for (let i = 0; i < max; i++) {
			const r = takeRequest(log, "control.request", 1000 + i);
			expect(r.ok).toBe(true);
			if (r.ok) log = r.log;
		}
		const refused = takeRequest(log, "control.request", 2000);
		expect(refused).toEqual({ ok: false, retryAfterMs: 1000 + windowMs - 2000 });
		// Other kinds have their own budget.
		expect(takeRequest(log, "view.request", 2000).ok).toBe(true);
		expect(takeRequest(log, "control.request", 1000 + windowMs).ok).toBe(true);
	});
});

describe("violation tallies", () => {
	it("write at most one row per interval, carrying every count since the last one", () => {
		let t = emptyTally("supporter", "u1");
		const first = countViolation(t, "input:no-control-grant", 10_000);
		expect(first.row?.data).toMatchObject({ count: 1, total: 1 });
		t = first.next;
		for (const reason of ["a", "b", "a"]) {
			const r = countViolation(t, reason, 10_001);
			expect(r.row).toBeNull();
			t = r.next;
		}
		const due = countViolation(t, "b", 10_000 + VIOLATION_AUDIT_INTERVAL_MS);
		expect(due.row?.data).toMatchObject({ count: 4, reasons: { a: 2, b: 2 }, total: 5 });
		expect(due.next.pending).toEqual({});
	});

	it("close at the limit without a row of their own; the summary then reports everything", () => {
		let t = emptyTally("supporter", "u1");
		let closed = 0;
		for (let i = 0; i < MAX_VIOLATIONS; i++) {
			const r = countViolation(t, i % 2 ? "odd" : "even", 50_000 + i);
			t = r.next;
			if (r.close) closed = i + 1;
		}
		expect(closed).toBe(MAX_VIOLATIONS);
		const { next, row } = summarizeViolations(t, "closed-for-violations");
		expect(row?.type).toBe("policy.violation_summary");
		expect(row?.data).toMatchObject({ total: 20, reasons: { odd: 10, even: 10 }, unreported: 19 });
		expect(summarizeViolations(next, "socket-closed").row).toBeNull();
		// The count is kept: the next violation, on any later socket, closes at once.
		expect(countViolation(next, "odd", 99_000).close).toBe(true);
	});
});

describe("frame caps", () => {
	const frame = (channel: number, bytes: number) => {
		const f = new Uint8Array(bytes);
		f[0] = 1;
		f[1] = channel;
		return f;
	};
	it("apply per channel, and the largest cap to frames without a known channel", () => {
		expect(isOversizedFrame(frame(4, MAX_FRAME_BYTES.chat))).toBe(false);
		expect(isOversizedFrame(frame(4, MAX_FRAME_BYTES.chat + 1))).toBe(true);
		expect(frameSizeLimit(frame(2, HEADER_BYTES))).toBe(MAX_FRAME_BYTES.input);
		expect(frameSizeLimit(frame(99, HEADER_BYTES))).toBe(MAX_ANY_FRAME_BYTES);
		expect(frameSizeLimit(new Uint8Array(1))).toBe(MAX_ANY_FRAME_BYTES);
		expect(MAX_ANY_FRAME_BYTES).toBe(MAX_FRAME_BYTES.screen);
	});
});

describe("admission", () => {
	const gated: SessionRecord = { ...record, admission: true };
	const ann = { name: "Ann", address: "203.0.113.7", joinedAt: 1_000 };
	const waiting = noteCustomer(gated, active({}), ann);
	const header = (channel: Channel) => ({ version: 1 as const, channel, stream: 0, seq: 0n });

	it("notes the first customer as waiting, and only the first", () => {
		expect(waiting.admission).toEqual({ status: "waiting", ...ann });
		expect(noteCustomer(gated, waiting, { ...ann, name: "Eve" })).toBe(waiting);
		// Without admission the entry is there for the console, already admitted.
		expect(noteCustomer(record, active({}), ann).admission?.status).toBe("admitted");
		expect(noteCustomer({ ...record, kind: "host" }, active({}), ann).admission).toBeUndefined();
	});

	it("holds back everything but the handshake, the terms and STOP until the supporter admits", () => {
		expect(isAdmitted(gated, waiting)).toBe(false);
		for (const [from, msg] of [
			["supporter", { type: "view.request" }],
			["supporter", { type: "comment", text: "x" }],
			["customer", signed("view.grant")],
			["supporter", { type: "file.offer", id: 1, name: "a", size: 1, sha256: "ab".repeat(32) }],
		] as const) {
			const d = decide(gated, waiting, from, msg as ClientMessage);
			expect(d).toMatchObject({ ok: false, code: "NOT_ALLOWED" });
		}
		const terms = decide({ ...gated, termsRequired: true, termsSha256: "h" }, waiting, "customer", {
			...signed("terms.accept"),
			statement: { type: "terms.accept", sessionId: "s1", details: { sha256: "h" }, timestamp: 0 },
		} as ClientMessage);
		expect(terms.ok).toBe(true);
		expect(decide(gated, waiting, "customer", signed("stop")).ok).toBe(true);
		const shown = { ...waiting, shower: "customer" as const };
		for (const channel of [CHANNELS.screen, CHANNELS.chat, CHANNELS.file]) {
			expect(mayForward(gated, shown, "customer", header(channel), 100)).toEqual({
				ok: false,
				reason: "not-admitted",
			});
		}
	});

	it("lets only the supporter admit or refuse, once, and audits either with who was waiting", () => {
		expect(decide(gated, waiting, "customer", { type: "admit" }).ok).toBe(false);
		const admit = decide(gated, waiting, "supporter", { type: "admit" });
		expect(admit).toMatchObject({
			ok: true,
			relay: false,
			audit: [{ type: "session.admitted", data: { name: "Ann", address: "203.0.113.7" } }],
		});
		if (!admit.ok) return;
		expect(isAdmitted(gated, admit.next)).toBe(true);
		expect(decide(gated, admit.next, "supporter", { type: "admit" }).ok).toBe(false);
		expect(decide(gated, admit.next, "supporter", { type: "refuse" }).ok).toBe(false);
		expect(decide(gated, admit.next, "supporter", { type: "view.request" }).ok).toBe(true);

		const refuse = decide(gated, waiting, "supporter", { type: "refuse" });
		expect(refuse).toMatchObject({ ok: true, stop: true, audit: [{ type: "session.refused" }] });
		if (refuse.ok) {
			expect(refuse.next).toMatchObject({ phase: "ended", endReason: "refused" });
			expect(refuse.next.admission?.status).toBe("refused");
		}
		// Nobody to decide on yet, or a session without admission.
		expect(decide(gated, active({}), "supporter", { type: "admit" }).ok).toBe(false);
		expect(decide(record, waiting, "supporter", { type: "admit" }).ok).toBe(false);
	});
});

describe("takeover", () => {
	it("ends the grants and open transfers, restarts the handshake and keeps terms and admission", () => {
		const live = active({
			shower: "customer",
			controller: "supporter",
			termsAccepted: true,
			admission: { status: "admitted", name: "Ann", address: null, joinedAt: 1 },
			reveal: { type: "key.reveal", x25519: "k" },
			files: [
				{ id: 1, name: "a", size: 1, sha256: "s", from: "supporter", status: "accepted", sent: 0 },
				{ id: 2, name: "b", size: 1, sha256: "s", from: "customer", status: "done", sent: 1 },
			],
		});
		const next = takeOver(live, { by: "admin", name: "Admin", at: 5 });
		expect(next).toMatchObject({
			phase: "waiting",
			shower: null,
			controller: null,
			hellos: {},
			reveal: null,
			termsAccepted: true,
			takeover: { by: "admin", name: "Admin", at: 5 },
		});
		expect(next.admission?.status).toBe("admitted");
		expect(next.files.map((f) => f.status)).toEqual(["rejected", "done"]);
		// A host's password proof does not carry over to the admin.
		expect(takeOver({ ...live, hostAuthorized: true }, next.takeover as never).hostAuthorized).toBe(
			false,
		);
		expect(next.revision).toBe(live.revision + 1);
	});
});

describe("input and clipboard", () => {
	const header = (channel: Channel) => ({ version: 1 as const, channel, stream: 1, seq: 0n });
	const may = (live: LiveState, from: "supporter" | "customer", channel: Channel) =>
		mayForward(record, live, from, header(channel), 100).ok;

	it("forward input only from the controller to the shower", () => {
		const granted = active({ shower: "customer", controller: "supporter" });
		expect(may(granted, "supporter", CHANNELS.input)).toBe(true);
		expect(may(granted, "customer", CHANNELS.input)).toBe(false);
		expect(may(active({ shower: "customer", controller: null }), "supporter", CHANNELS.input)).toBe(
			false,
		);
	});

	it("forward clipboard text both ways while the grant stands, and neither way without it", () => {
		const granted = active({ shower: "customer", controller: "supporter" });
		expect(may(granted, "supporter", CHANNELS.clipboard)).toBe(true);
		expect(may(granted, "customer", CHANNELS.clipboard)).toBe(true);
		const viewOnly = active({ shower: "customer", controller: null });
		expect(may(viewOnly, "supporter", CHANNELS.clipboard)).toBe(false);
		expect(may(viewOnly, "customer", CHANNELS.clipboard)).toBe(false);
		expect(may(active({}), "customer", CHANNELS.clipboard)).toBe(false);
	});
});
