/**
 * The consent rules of docs/protocol.md §3.4 ("Who may send what", admission, host sessions,
 * withdrawals, STOP) as one table: every row is a state, a sender and a message, and what
 * `decide` must answer. Signatures are the actor's job and are not part of these rows.
 */
import { describe, expect, it } from "vitest";
import {
	decide,
	type FileEntry,
	initialState,
	type LiveState,
	mayForward,
	type SessionRecord,
} from "../../durable/session-rules.ts";
import type { ClientMessage, Role } from "../../protocol/control.ts";
import { CHANNELS } from "../../protocol/frame.ts";
import {
	MAX_VIDEO_FEEDBACK_FRAME_BYTES,
	VIDEO_FEEDBACK_STREAM,
	VIDEO_STREAM,
} from "../../protocol/video.ts";

const TERMS = "a".repeat(64);
const TERMS_DE = "b".repeat(64);
const HOST_KEY = "host-key";

const adhoc: SessionRecord = {
	id: "s1",
	kind: "adhoc",
	supporterId: "u1",
	view: "customer",
	termsRequired: false,
	termsSha256: null,
	expiresAt: Number.MAX_SAFE_INTEGER,
};
const withTerms: SessionRecord = {
	...adhoc,
	termsRequired: true,
	termsSha256: TERMS,
	termsTranslationSha256s: [TERMS_DE],
};
const withAdmission: SessionRecord = { ...adhoc, admission: true };
const host: SessionRecord = { ...adhoc, kind: "host", hostId: "h1", hostKey: HOST_KEY };

const hello = (role: Role, ed25519 = `${role}-key`) =>
	({ type: "hello", role, x25519: `${role}-x`, ed25519 }) as unknown as ClientMessage;
const signed = (type: string, details: Record<string, unknown> = {}, extra = {}) =>
	({
		type,
		statement: { type, sessionId: "s1", details, timestamp: 0 },
		signature: "sig",
		...extra,
	}) as unknown as ClientMessage;
const plain = (type: string, extra: Record<string, unknown> = {}) =>
	({ type, ...extra }) as unknown as ClientMessage;
const offer = (id: number) =>
	plain("file.offer", { id, name: `f${id}`, size: 10, sha256: "c".repeat(64) });
const file = (id: number, from: Role, status: FileEntry["status"]): FileEntry => ({
	id,
	name: `f${id}`,
	size: 10,
	sha256: "c".repeat(64),
	from,
	status,
	sent: 0,
});

const waiting = initialState();
const supporterHello = { ...waiting, hellos: { supporter: hello("supporter") } } as LiveState;
const peerHello = {
	...supporterHello,
	hellos: { supporter: hello("supporter"), peer: hello("customer") },
} as LiveState;
const active: LiveState = {
	...peerHello,
	phase: "active",
	reveal: { type: "key.reveal", x25519: "rx" },
};
const showing: LiveState = { ...active, shower: "customer" };
const controlled: LiveState = { ...showing, controller: "supporter" };
const supporterShows: LiveState = { ...active, shower: "supporter" };
const termsAccepted: LiveState = { ...active, termsAccepted: true };
const awaitingAdmission: LiveState = {
	...active,
	admission: { status: "waiting", name: "Ann", address: null, joinedAt: 1 },
};
const hostUnauthorized: LiveState = { ...active, hostAuthorized: false };
const hostAuthorized: LiveState = { ...active, hostAuthorized: true };
const ended: LiveState = { ...controlled, phase: "ended", endReason: "stopped" };

type Expect =
	| "refused"
	| {
			ok: true;
			change?: Partial<LiveState>;
			stop?: boolean;
			immediate?: boolean;
			consent?: boolean;
	  };

const rows: [string, SessionRecord, LiveState, Role, ClientMessage, Expect][] = [
	// Handshake (§4)
	[
		"a hello whose role is not the ticket's",
		adhoc,
		waiting,
		"customer",
		hello("supporter"),
		"refused",
	],
	[
		"the customer's hello before the supporter's",
		adhoc,
		waiting,
		"customer",
		hello("customer"),
		"refused",
	],
	["the supporter's hello", adhoc, waiting, "supporter", hello("supporter"), { ok: true }],
	[
		"the same hello again (a resume)",
		adhoc,
		supporterHello,
		"supporter",
		hello("supporter"),
		{ ok: true, change: {} },
	],
	[
		"a different hello: a key swap",
		adhoc,
		supporterHello,
		"supporter",
		hello("supporter", "other"),
		"refused",
	],
	[
		"a host hello with a key other than the registered one",
		host,
		supporterHello,
		"host",
		hello("host", "forged"),
		"refused",
	],
	[
		"a host hello with the registered key",
		host,
		supporterHello,
		"host",
		hello("host", HOST_KEY),
		{ ok: true },
	],
	[
		"key.reveal from the customer",
		adhoc,
		peerHello,
		"customer",
		plain("key.reveal", { x25519: "rx" }),
		"refused",
	],
	[
		"key.reveal before the peer's key",
		adhoc,
		supporterHello,
		"supporter",
		plain("key.reveal", { x25519: "rx" }),
		"refused",
	],
	[
		"key.reveal: the session becomes active",
		adhoc,
		peerHello,
		"supporter",
		plain("key.reveal", { x25519: "rx" }),
		{ ok: true, change: { phase: "active", reveal: { type: "key.reveal", x25519: "rx" } } },
	],
	[
		"a second, different key.reveal",
		adhoc,
		active,
		"supporter",
		plain("key.reveal", { x25519: "other" }),
		"refused",
	],
	// Terms
	[
		"terms.accept from the supporter",
		withTerms,
		active,
		"supporter",
		signed("terms.accept", { sha256: TERMS }),
		"refused",
	],
	[
		"terms.accept before the handshake",
		withTerms,
		peerHello,
		"customer",
		signed("terms.accept", { sha256: TERMS }),
		"refused",
	],
	[
		"terms.accept where no terms are required",
		adhoc,
		active,
		"customer",
		signed("terms.accept", { sha256: TERMS }),
		"refused",
	],
	[
		"terms.accept naming other terms",
		withTerms,
		active,
		"customer",
		signed("terms.accept", { sha256: "d".repeat(64) }),
		"refused",
	],
	[
		"terms.accept of the session's terms",
		withTerms,
		active,
		"customer",
		signed("terms.accept", { sha256: TERMS }),
		{ ok: true, consent: true, change: { termsAccepted: true } },
	],
	[
		"terms.accept of a translation",
		withTerms,
		active,
		"customer",
		signed("terms.accept", { sha256: TERMS_DE }),
		{ ok: true, change: { termsAccepted: true } },
	],
	[
		"terms accepted twice",
		withTerms,
		termsAccepted,
		"customer",
		signed("terms.accept", { sha256: TERMS }),
		"refused",
	],
	// View
	[
		"view.request before the terms",
		withTerms,
		active,
		"supporter",
		plain("view.request"),
		"refused",
	],
	[
		"view.request after the terms",
		withTerms,
		termsAccepted,
		"supporter",
		plain("view.request"),
		{ ok: true, change: {} },
	],
	[
		"view.request while the other side shows",
		adhoc,
		showing,
		"supporter",
		plain("view.request"),
		"refused",
	],
	["view.grant before the terms", withTerms, active, "customer", signed("view.grant"), "refused"],
	[
		"view.grant by the side that will show",
		adhoc,
		active,
		"customer",
		signed("view.grant"),
		{ ok: true, consent: true, change: { shower: "customer" } },
	],
	["view.grant while already showing", adhoc, showing, "customer", signed("view.grant"), "refused"],
	[
		"a view switch ends control",
		adhoc,
		controlled,
		"supporter",
		signed("view.grant"),
		{ ok: true, change: { shower: "supporter", controller: null } },
	],
	["view.deny before the handshake", adhoc, peerHello, "customer", signed("view.deny"), "refused"],
	["view.deny", adhoc, active, "customer", signed("view.deny"), { ok: true, change: {} }],
	["view.revoke by the viewer", adhoc, showing, "supporter", signed("view.revoke"), "refused"],
	[
		"view.revoke by the shower ends view and control at once",
		adhoc,
		controlled,
		"customer",
		signed("view.revoke"),
		{ ok: true, immediate: true, change: { shower: null, controller: null } },
	],
	// Control
	[
		"control.request without a screen shown",
		adhoc,
		active,
		"supporter",
		plain("control.request"),
		"refused",
	],
	[
		"control.request by the shower",
		adhoc,
		showing,
		"customer",
		plain("control.request"),
		"refused",
	],
	[
		"control.request by the viewer",
		adhoc,
		showing,
		"supporter",
		plain("control.request"),
		{ ok: true, change: {} },
	],
	[
		"control.request while granted",
		adhoc,
		controlled,
		"supporter",
		plain("control.request"),
		"refused",
	],
	["control.grant by the viewer", adhoc, showing, "supporter", signed("control.grant"), "refused"],
	[
		"control.grant by the shower",
		adhoc,
		showing,
		"customer",
		signed("control.grant"),
		{ ok: true, consent: true, change: { controller: "supporter" } },
	],
	[
		"control.grant when the supporter shows goes to the customer",
		adhoc,
		supporterShows,
		"supporter",
		signed("control.grant"),
		{ ok: true, change: { controller: "customer" } },
	],
	["control.grant twice", adhoc, controlled, "customer", signed("control.grant"), "refused"],
	["control.deny by the viewer", adhoc, showing, "supporter", signed("control.deny"), "refused"],
	[
		"control.deny by the shower",
		adhoc,
		showing,
		"customer",
		signed("control.deny"),
		{ ok: true, change: {} },
	],
	[
		"control.revoke without a grant",
		adhoc,
		showing,
		"customer",
		signed("control.revoke"),
		"refused",
	],
	[
		"control.revoke by the controller",
		adhoc,
		controlled,
		"supporter",
		signed("control.revoke"),
		"refused",
	],
	[
		"control.revoke by the shower, at once",
		adhoc,
		controlled,
		"customer",
		signed("control.revoke"),
		{ ok: true, immediate: true, change: { controller: null } },
	],
	// STOP
	["STOP from the supporter", adhoc, controlled, "supporter", signed("stop"), "refused"],
	[
		"STOP from the customer ends everything",
		adhoc,
		controlled,
		"customer",
		signed("stop"),
		{
			ok: true,
			stop: true,
			consent: true,
			change: { phase: "ended", shower: null, controller: null, endReason: "stopped" },
		},
	],
	[
		"STOP from a host",
		host,
		{ ...hostAuthorized, shower: "host", controller: "supporter" },
		"host",
		signed("stop"),
		{ ok: true, stop: true },
	],
	// Files
	["file.offer before the terms", withTerms, active, "supporter", offer(1), "refused"],
	["file.offer", adhoc, active, "supporter", offer(1), { ok: true }],
	[
		"file.offer with a used id",
		adhoc,
		{ ...active, files: [file(1, "customer", "rejected")] },
		"supporter",
		offer(1),
		"refused",
	],
	[
		"the 1,025th file.offer",
		adhoc,
		{ ...active, files: Array.from({ length: 1024 }, (_, i) => file(i + 10, "supporter", "done")) },
		"supporter",
		offer(1),
		"refused",
	],
	[
		"file.accept by the offerer",
		adhoc,
		{ ...active, files: [file(1, "supporter", "offered")] },
		"supporter",
		signed("file.accept", { fileId: 1 }, { id: 1 }),
		"refused",
	],
	[
		"file.accept by the receiver",
		adhoc,
		{ ...active, files: [file(1, "supporter", "offered")] },
		"customer",
		signed("file.accept", { fileId: 1 }, { id: 1 }),
		{ ok: true, consent: true },
	],
	[
		"file.reject by the receiver",
		adhoc,
		{ ...active, files: [file(1, "supporter", "offered")] },
		"customer",
		signed("file.reject", { fileId: 1 }, { id: 1 }),
		{ ok: true },
	],
	[
		"file.accept of a decided offer",
		adhoc,
		{ ...active, files: [file(1, "supporter", "rejected")] },
		"customer",
		signed("file.accept", { fileId: 1 }, { id: 1 }),
		"refused",
	],
	[
		"file.done by the receiver",
		adhoc,
		{ ...active, files: [file(1, "supporter", "accepted")] },
		"customer",
		plain("file.done", { id: 1 }),
		"refused",
	],
	[
		"file.done by the sender",
		adhoc,
		{ ...active, files: [file(1, "supporter", "accepted")] },
		"supporter",
		plain("file.done", { id: 1 }),
		{ ok: true },
	],
	[
		"file.done of an offer not accepted",
		adhoc,
		{ ...active, files: [file(1, "supporter", "offered")] },
		"supporter",
		plain("file.done", { id: 1 }),
		"refused",
	],
	// Comments and acknowledgements
	[
		"a comment from the customer",
		adhoc,
		active,
		"customer",
		plain("comment", { text: "hi" }),
		"refused",
	],
	[
		"a comment from the supporter",
		adhoc,
		active,
		"supporter",
		plain("comment", { text: "note" }),
		{ ok: true, change: {} },
	],
	[
		"an ack as a decision",
		adhoc,
		active,
		"customer",
		plain("ack", { mark: "0123456789abcdef" }),
		"refused",
	],
	// Admission (§3.8)
	[
		"view.request before admission",
		withAdmission,
		awaitingAdmission,
		"supporter",
		plain("view.request"),
		"refused",
	],
	[
		"view.grant before admission",
		withAdmission,
		awaitingAdmission,
		"customer",
		signed("view.grant"),
		"refused",
	],
	[
		"a comment before admission",
		withAdmission,
		awaitingAdmission,
		"supporter",
		plain("comment", { text: "x" }),
		"refused",
	],
	[
		"a file offer before admission",
		withAdmission,
		awaitingAdmission,
		"supporter",
		offer(1),
		"refused",
	],
	[
		"terms.accept before admission",
		{ ...withTerms, admission: true },
		awaitingAdmission,
		"customer",
		signed("terms.accept", { sha256: TERMS }),
		{ ok: true },
	],
	[
		"STOP before admission",
		withAdmission,
		awaitingAdmission,
		"customer",
		signed("stop"),
		{ ok: true, stop: true },
	],
	[
		"admit by the customer",
		withAdmission,
		awaitingAdmission,
		"customer",
		plain("admit"),
		"refused",
	],
	[
		"admit in a session without admission",
		adhoc,
		awaitingAdmission,
		"supporter",
		plain("admit"),
		"refused",
	],
	["admit with nobody waiting", withAdmission, active, "supporter", plain("admit"), "refused"],
	["admit", withAdmission, awaitingAdmission, "supporter", plain("admit"), { ok: true }],
	[
		"refuse ends the session",
		withAdmission,
		awaitingAdmission,
		"supporter",
		plain("refuse"),
		{
			ok: true,
			stop: true,
			change: {
				phase: "ended",
				endReason: "refused",
				admission: { status: "refused", name: "Ann", address: null, joinedAt: 1 },
			},
		},
	],
	// Host sessions (§10.3)
	[
		"host.auth from the supporter",
		host,
		hostUnauthorized,
		"supporter",
		signed("host.auth", { result: "accepted", failures: 0 }),
		"refused",
	],
	[
		"host.auth before the handshake",
		host,
		{ ...peerHello, hostAuthorized: false },
		"host",
		signed("host.auth", { result: "accepted", failures: 0 }),
		"refused",
	],
	[
		"a refused proof changes nothing",
		host,
		hostUnauthorized,
		"host",
		signed("host.auth", { result: "refused", failures: 1 }),
		{ ok: true, change: {} },
	],
	[
		"an accepted proof opens the session",
		host,
		hostUnauthorized,
		"host",
		signed("host.auth", { result: "accepted", failures: 0 }),
		{ ok: true, change: { hostAuthorized: true } },
	],
	[
		"view.request before the host accepted the proof",
		host,
		hostUnauthorized,
		"supporter",
		plain("view.request"),
		"refused",
	],
	[
		"view.request after the host accepted the proof",
		host,
		hostAuthorized,
		"supporter",
		plain("view.request"),
		{ ok: true },
	],
	// After the end
	...(["view.grant", "control.grant", "stop", "comment", "file.offer"] as const).map(
		(type): [string, SessionRecord, LiveState, Role, ClientMessage, Expect] => [
			`${type} after the end`,
			adhoc,
			ended,
			type === "comment" || type === "file.offer" ? "supporter" : "customer",
			type === "file.offer"
				? offer(9)
				: type === "comment"
					? plain("comment", { text: "x" })
					: signed(type),
			"refused",
		],
	),
];

describe("the consent rules (docs/protocol.md §3.4)", () => {
	it.each(rows)("%s", (_name, record, live, from, msg, expected) => {
		const decision = decide(record, live, from, msg);
		if (expected === "refused") {
			expect(decision.ok).toBe(false);
			if (!decision.ok) expect(decision.code).toBe("NOT_ALLOWED");
			return;
		}
		expect(decision.ok).toBe(true);
		if (!decision.ok) return;
		if (expected.change) {
			// Exactly these fields changed (besides the revision, which moves with any change).
			const changed = Object.fromEntries(
				Object.entries(decision.next).filter(
					([key, value]) =>
						key !== "revision" &&
						JSON.stringify(value) !== JSON.stringify(live[key as keyof LiveState]),
				),
			);
			expect(changed).toEqual(expected.change);
		}
		expect(Boolean(decision.stop)).toBe(Boolean(expected.stop));
		expect(Boolean(decision.immediate)).toBe(Boolean(expected.immediate));
		if (expected.consent !== undefined) expect(decision.consent).toBe(expected.consent);
	});

	it("every message type of the protocol has a row", () => {
		const covered = new Set(rows.map((row) => (row[4] as { type: string }).type));
		for (const type of [
			"hello",
			"key.reveal",
			"terms.accept",
			"view.request",
			"view.grant",
			"view.deny",
			"view.revoke",
			"control.request",
			"control.grant",
			"control.deny",
			"control.revoke",
			"stop",
			"file.offer",
			"file.accept",
			"file.reject",
			"file.done",
			"comment",
			"ack",
			"admit",
			"refuse",
			"host.auth",
		])
			expect(covered).toContain(type);
	});
});

describe("which binary frames flow (docs/protocol.md §3.4)", () => {
	const frame = (channel: number, stream = 1) =>
		({ version: 1, channel, stream, seq: 0n }) as Parameters<typeof mayForward>[3];
	const accepted = { ...showing, files: [file(3, "customer", "accepted")] };
	const table: [string, SessionRecord, LiveState, Role, number, number, boolean, number?][] = [
		// [name, record, state, sender, channel, frame bytes, flows, stream (file: 3, else 1)]
		["nothing before the handshake", adhoc, peerHello, "customer", CHANNELS.chat, 100, false],
		[
			"nothing before admission",
			withAdmission,
			awaitingAdmission,
			"supporter",
			CHANNELS.chat,
			100,
			false,
		],
		["nothing but auth before the terms", withTerms, active, "customer", CHANNELS.chat, 100, false],
		["chat both ways", adhoc, active, "customer", CHANNELS.chat, 100, true],
		["chat the other way", adhoc, active, "supporter", CHANNELS.chat, 100, true],
		["screen from the shower", adhoc, showing, "customer", CHANNELS.screen, 100, true],
		["screen from the viewer", adhoc, showing, "supporter", CHANNELS.screen, 100, false],
		["screen without a grant", adhoc, active, "customer", CHANNELS.screen, 100, false],
		// Video (§2.3): chunks from the shower; feedback from the viewer on stream 4 only, small.
		["video from the shower", adhoc, showing, "customer", CHANNELS.screen, 100, true, VIDEO_STREAM],
		[
			"video feedback from the shower's own side (any stream flows from the shower)",
			adhoc,
			showing,
			"customer",
			CHANNELS.screen,
			100,
			true,
			VIDEO_FEEDBACK_STREAM,
		],
		[
			"video feedback from the viewer",
			adhoc,
			showing,
			"supporter",
			CHANNELS.screen,
			100,
			true,
			VIDEO_FEEDBACK_STREAM,
		],
		[
			"video feedback from the viewer at the cap",
			adhoc,
			showing,
			"supporter",
			CHANNELS.screen,
			MAX_VIDEO_FEEDBACK_FRAME_BYTES,
			true,
			VIDEO_FEEDBACK_STREAM,
		],
		[
			"video feedback from the viewer over the cap",
			adhoc,
			showing,
			"supporter",
			CHANNELS.screen,
			MAX_VIDEO_FEEDBACK_FRAME_BYTES + 1,
			false,
			VIDEO_FEEDBACK_STREAM,
		],
		[
			"video feedback from a viewer of the supporter's screen",
			adhoc,
			supporterShows,
			"customer",
			CHANNELS.screen,
			100,
			true,
			VIDEO_FEEDBACK_STREAM,
		],
		[
			"video chunks from the viewer",
			adhoc,
			showing,
			"supporter",
			CHANNELS.screen,
			100,
			false,
			VIDEO_STREAM,
		],
		[
			"pictures from the viewer on stream 1",
			adhoc,
			showing,
			"supporter",
			CHANNELS.screen,
			100,
			false,
			1,
		],
		[
			"video feedback when nothing is shown",
			adhoc,
			active,
			"supporter",
			CHANNELS.screen,
			100,
			false,
			VIDEO_FEEDBACK_STREAM,
		],
		[
			"video feedback before the terms",
			withTerms,
			{ ...showing, termsAccepted: false },
			"supporter",
			CHANNELS.screen,
			100,
			false,
			VIDEO_FEEDBACK_STREAM,
		],
		[
			"video feedback before admission",
			withAdmission,
			{ ...showing, admission: { status: "waiting", name: null, address: null, joinedAt: 1 } },
			"supporter",
			CHANNELS.screen,
			100,
			false,
			VIDEO_FEEDBACK_STREAM,
		],
		[
			"video feedback in a host session from the supporter viewing",
			host,
			{ ...hostAuthorized, shower: "host" },
			"supporter",
			CHANNELS.screen,
			100,
			true,
			VIDEO_FEEDBACK_STREAM,
		],
		["input from the controller", adhoc, controlled, "supporter", CHANNELS.input, 100, true],
		["input to the controller", adhoc, controlled, "customer", CHANNELS.input, 100, false],
		[
			"file on an accepted offer from its sender",
			adhoc,
			accepted,
			"customer",
			CHANNELS.file,
			10 + 30,
			true,
		],
		["file past the offered size", adhoc, accepted, "customer", CHANNELS.file, 11 + 30, false],
		["file from the receiver", adhoc, accepted, "supporter", CHANNELS.file, 40, false],
		[
			"file on a stream without an accepted offer",
			adhoc,
			showing,
			"customer",
			CHANNELS.file,
			40,
			false,
		],
		["auth in an ad-hoc session", adhoc, active, "customer", CHANNELS.auth, 100, false],
		[
			"auth in a host session before the proof",
			host,
			hostUnauthorized,
			"host",
			CHANNELS.auth,
			100,
			true,
		],
		[
			"chat in a host session before the proof",
			host,
			hostUnauthorized,
			"host",
			CHANNELS.chat,
			100,
			false,
		],
		[
			"chat in a host session after the proof",
			host,
			hostAuthorized,
			"host",
			CHANNELS.chat,
			100,
			true,
		],
	];
	it.each(table)("%s", (_name, record, live, from, channel, bytes, flows, given) => {
		const stream = given ?? (channel === CHANNELS.file ? 3 : 1);
		expect(mayForward(record, live, from, frame(channel, stream), bytes).ok).toBe(flows);
	});

	it("says why it refuses the viewer's screen frames", () => {
		const feedback = frame(CHANNELS.screen, VIDEO_FEEDBACK_STREAM);
		const over = MAX_VIDEO_FEEDBACK_FRAME_BYTES + 1;
		expect(mayForward(adhoc, showing, "supporter", feedback, over)).toEqual({
			ok: false,
			reason: "feedback-too-large",
		});
		expect(
			mayForward(adhoc, showing, "supporter", frame(CHANNELS.screen, VIDEO_STREAM), 100),
		).toEqual({ ok: false, reason: "no-view-grant" });
		expect(mayForward(adhoc, active, "supporter", feedback, 100)).toEqual({
			ok: false,
			reason: "no-view-grant",
		});
	});
});
