import type { AuditEventType } from "../protocol/audit-events.ts";
import type {
	Admission,
	ClientMessage,
	ConsentState,
	END_REASONS,
	Hello,
	Role,
	Takeover,
} from "../protocol/control.ts";
import { CHANNELS, type FrameHeader, HEADER_BYTES, TAG_BYTES } from "../protocol/frame.ts";
import { MAX_VIDEO_FEEDBACK_FRAME_BYTES, VIDEO_FEEDBACK_STREAM } from "../protocol/video.ts";

/**
 * The consent rules of a support session as pure functions (DESIGN §4, §5): which control
 * message a role may send in which state, what it changes, and which binary frames may flow.
 * The SessionActor does the I/O around them; these functions decide and never touch a socket.
 */

/** How far a statement's timestamp may be from the server's clock. */
export const STATEMENT_SKEW_MS = 10 * 60_000;

/** What the issuing route hands the actor; fixed for the session's life. */
export interface SessionRecord {
	id: string;
	kind: "adhoc" | "host";
	supporterId: string;
	/** Which side shows first (the supporter's preset). */
	view: "customer" | "supporter";
	termsRequired: boolean;
	termsSha256: string | null;
	/** Hashes of the same terms in other languages; accepting any one version accepts the terms. */
	termsTranslationSha256s?: string[];
	expiresAt: number;
	/** Ad-hoc sessions: until when the support ID can be typed in (the idle end waits for it). */
	codeExpiresAt?: number;
	/** Time with nobody connected after which the session ends; the actor's default if absent. */
	idleGraceMs?: number;
	/** Host sessions: the host reached and its registered identity key (raw, base64url). */
	hostId?: string;
	hostKey?: string;
	/**
	 * Ad-hoc sessions: the customer waits until the supporter admits them, and nothing of the
	 * session but the handshake and the terms flows before. Absent in records from before
	 * admission existed, which keep the old behaviour.
	 */
	admission?: boolean;
	/**
	 * The session's group mails its protocol when it ends (schema/groups.ts `mailProtocol`),
	 * fixed at issue. Absent in older records: nothing is mailed.
	 */
	mailProtocol?: boolean;
}

export interface FileEntry {
	id: number;
	name: string;
	size: number;
	sha256: string;
	from: Role;
	status: "offered" | "accepted" | "rejected" | "done";
	/** Plaintext bytes relayed so far (accepted transfers only). */
	sent: number;
}

export type Phase = "waiting" | "active" | "ended";

/** The actor's persisted state besides the record. Small: no queues, no payloads. */
export interface LiveState {
	revision: number;
	phase: Phase;
	termsAccepted: boolean;
	shower: Role | null;
	controller: Role | null;
	hellos: Partial<Record<"supporter" | "peer", Hello>>;
	/** The supporter's `key.reveal`, kept to hand it to a peer that resumes. */
	reveal: { type: "key.reveal"; x25519: string } | null;
	files: FileEntry[];
	endReason: (typeof END_REASONS)[number] | null;
	/** When the last participant left (ms), for the idle timeout; null while someone is there. */
	emptySince: number | null;
	/** Roles that have connected at least once (the first connection is a join, later ones resume). */
	seen: Role[];
	/**
	 * Host sessions: the host accepted the supporter's password proof (its signed `host.auth`).
	 * Optional because states stored before host sessions existed lack it.
	 */
	hostAuthorized?: boolean;
	/** The customer's admission (sessions with `record.admission`); null before a customer joined. */
	admission?: Admission | null;
	/** The latest takeover of the supporter's seat by an admin. */
	takeover?: Takeover | null;
}

export function initialState(): LiveState {
	return {
		revision: 0,
		phase: "waiting",
		termsAccepted: false,
		shower: null,
		controller: null,
		hellos: {},
		reveal: null,
		files: [],
		endReason: null,
		emptySince: null,
		seen: [],
	};
}

/** The role on the other side: a host takes the customer's place. */
export function otherRole(record: SessionRecord, role: Role): Role {
	if (role !== "supporter") return "supporter";
	return record.kind === "host" ? "host" : "customer";
}

/**
 * Whether anyone besides the supporter took part: the host connected, or a customer used the
 * support ID. A session nobody joined (an ID that expired unused) has no protocol worth mailing.
 */
export function wasJoined(record: SessionRecord, live: LiveState): boolean {
	return live.seen.includes(peerRole(record)) || !!live.admission;
}

/** The role a session's non-supporter participant has. */
export function peerRole(record: SessionRecord): Role {
	return record.kind === "host" ? "host" : "customer";
}

/** The `state` message body. */
export function publicState(
	record: SessionRecord,
	live: LiveState,
	connected: Role[],
): ConsentState {
	return {
		sessionId: record.id,
		revision: live.revision,
		phase: live.phase,
		connected,
		termsRequired: record.termsRequired,
		termsAccepted: live.termsAccepted,
		shower: live.shower,
		controller: live.controller,
		files: live.files.map(({ sent: _sent, ...f }) => f),
		admission: live.admission ?? null,
		takeover: live.takeover ?? null,
	};
}

/**
 * True once nothing of the session is held back for admission: sessions without it, and
 * sessions whose customer the supporter admitted.
 */
export function isAdmitted(record: SessionRecord, live: LiveState): boolean {
	return record.admission !== true || live.admission?.status === "admitted";
}

/**
 * Notes who joined with the support ID, for the supporter's decision. The first entry stands:
 * the ID works once, so a later call (a retried RPC, the socket arriving) changes nothing.
 */
export function noteCustomer(
	record: SessionRecord,
	live: LiveState,
	customer: Omit<Admission, "status">,
): LiveState {
	if (record.kind !== "adhoc" || live.admission) return live;
	const status = record.admission === true ? "waiting" : "admitted";
	return bump(live, { admission: { status, ...customer } });
}

/**
 * An admin takes the supporter's seat: the grants the previous supporter held end (the customer
 * must consent again), and the handshake starts over, because the new supporter has keys of its
 * own. Accepted terms and an admission stand: they are the customer's dealings with the
 * organisation, not with one person.
 */
export function takeOver(live: LiveState, takeover: Takeover): LiveState {
	return bump(live, {
		takeover,
		phase: live.phase === "ended" ? "ended" : "waiting",
		shower: null,
		controller: null,
		hellos: {},
		reveal: null,
		// A host's password proof vouched for the previous supporter, not for the admin.
		...(live.hostAuthorized !== undefined ? { hostAuthorized: false } : {}),
		// Transfers the previous supporter had open are cancelled with its grants.
		files: live.files.map((f) =>
			f.status === "offered" || f.status === "accepted" ? { ...f, status: "rejected" } : f,
		),
	});
}

/** An audit event the actor appends for a decision (session id and actor are added by it). */
export interface AuditNote {
	type: AuditEventType;
	data?: Record<string, unknown>;
}

export type Decision =
	| { ok: false; code: "BAD_MESSAGE" | "NOT_ALLOWED"; message: string }
	| {
			ok: true;
			next: LiveState;
			/** Forward the sender's message to the other side (after the audit row is committed). */
			relay: boolean;
			audit: AuditNote[];
			/** The message is a consent statement to verify and record before anything happens. */
			consent: boolean;
			/** Also send the other side `peer` with this hello. */
			announce?: Hello;
			stop?: boolean;
			/**
			 * A withdrawal (control or view revoked): it takes effect before it is written, like
			 * STOP, because refusing or delaying it would leave access standing (fail open).
			 */
			immediate?: boolean;
	  };

const refuse = (
	message: string,
	code: "BAD_MESSAGE" | "NOT_ALLOWED" = "NOT_ALLOWED",
): Decision => ({
	ok: false,
	code,
	message,
});

function assertNever(value: never): never {
	throw new Error(`unhandled message ${JSON.stringify(value)}`);
}

/** A new state with the revision moved on, so modules can drop stale `state` messages. */
export function bump(live: LiveState, change: Partial<LiveState>): LiveState {
	return { ...live, ...change, revision: live.revision + 1 };
}

/**
 * Decides what a control message from `from` does. Signatures are checked by the actor before a
 * consent decision is applied; this function only knows roles, phases and the rules.
 */
export function decide(
	record: SessionRecord,
	live: LiveState,
	from: Role,
	msg: ClientMessage,
): Decision {
	if (live.phase === "ended") return refuse("the session has ended");
	const other = otherRole(record, from);
	const handshakeDone = live.phase === "active";
	// A host session opens its other channels only after the host accepted the password proof.
	const termsOk =
		(!record.termsRequired || live.termsAccepted) &&
		(record.kind !== "host" || live.hostAuthorized === true);
	const ok = (
		next: LiveState,
		audit: AuditNote[],
		extra: {
			relay?: boolean;
			consent?: boolean;
			announce?: Hello;
			stop?: boolean;
			immediate?: boolean;
		} = {},
	): Decision => ({
		ok: true,
		next,
		relay: extra.relay ?? true,
		audit,
		consent: extra.consent ?? false,
		...(extra.announce ? { announce: extra.announce } : {}),
		...(extra.stop ? { stop: true } : {}),
		...(extra.immediate ? { immediate: true } : {}),
	});

	// Before admission only the handshake, the terms and the customer's STOP go anywhere: no
	// screen, input, chat, files or comments (mayForward holds back the binary frames).
	const held = !["hello", "key.reveal", "terms.accept", "stop", "admit", "refuse"].includes(
		msg.type,
	);
	if (held && !isAdmitted(record, live))
		return refuse("not yet: the supporter has not admitted the customer");

	switch (msg.type) {
		case "admit":
		case "refuse": {
			if (from !== "supporter") return refuse("only the supporter admits or refuses");
			if (record.admission !== true) return refuse("this session has no admission");
			const entry = live.admission;
			if (entry?.status !== "waiting") return refuse("nobody is waiting for admission");
			const data = { name: entry.name, address: entry.address, joinedAt: entry.joinedAt };
			if (msg.type === "admit") {
				return ok(
					bump(live, { admission: { ...entry, status: "admitted" } }),
					[{ type: "session.admitted", data }],
					{ relay: false },
				);
			}
			return ok(
				bump(live, {
					admission: { ...entry, status: "refused" },
					phase: "ended",
					shower: null,
					controller: null,
					endReason: "refused",
				}),
				[{ type: "session.refused", data }],
				{ relay: false, stop: true },
			);
		}
		case "hello": {
			if (msg.role !== from) return refuse("hello role does not match the ticket");
			// The relay vouches for no key, but it refuses a host hello with any key but the
			// registered one; the supporter module checks the signature itself (protocol §6.2).
			if (msg.role === "host" && record.hostKey && msg.ed25519 !== record.hostKey) {
				return refuse("this is not the registered host key");
			}
			const slot = from === "supporter" ? "supporter" : "peer";
			const known = live.hellos[slot];
			if (known) {
				// Keys are fixed for the session: a second, different hello would be a key swap.
				return JSON.stringify(known) === JSON.stringify(msg)
					? ok(live, [], { relay: false })
					: refuse("keys cannot change during a session");
			}
			// Protocol §4 rule 2: the peer sends its key only after the supporter's commitment.
			if (slot === "peer" && !live.hellos.supporter)
				return refuse("wait for the supporter's hello");
			const next = bump(live, { hellos: { ...live.hellos, [slot]: msg } });
			return ok(next, [{ type: "session.hello", data: { role: from, ed25519: msg.ed25519 } }], {
				relay: false,
				announce: msg,
			});
		}
		case "key.reveal": {
			if (from !== "supporter") return refuse("only the supporter reveals its key");
			if (!live.hellos.peer) return refuse("wait for the other side's key");
			if (live.reveal) {
				return live.reveal.x25519 === msg.x25519
					? ok(live, [], { relay: false })
					: refuse("keys cannot change during a session");
			}
			// The commitment itself is checked by the actor (it needs a digest).
			const next = bump(live, { reveal: msg, phase: "active" });
			return ok(next, [{ type: "session.connected" }]);
		}
		case "terms.accept": {
			if (from === "supporter") return refuse("only the customer accepts the terms");
			if (!handshakeDone) return refuse("the handshake is not complete");
			if (!record.termsRequired || live.termsAccepted) return refuse("no terms to accept");
			const accepted = msg.statement.details.sha256;
			const versions = [record.termsSha256, ...(record.termsTranslationSha256s ?? [])];
			if (typeof accepted !== "string" || !versions.includes(accepted)) {
				return refuse("the accepted terms are not this session's terms");
			}
			return ok(
				bump(live, { termsAccepted: true }),
				// The version the customer read and signed (its language's text).
				[{ type: "terms.accepted", data: { termsSha256: accepted } }],
				{ consent: true },
			);
		}
		case "view.request": {
			if (!handshakeDone || !termsOk) return refuse("not yet: handshake and terms come first");
			if (live.shower === other) return refuse("the other side already shows");
			return ok(live, [{ type: "view.requested", data: { shower: other } }]);
		}
		case "view.grant": {
			if (!handshakeDone || !termsOk) return refuse("not yet: handshake and terms come first");
			if (live.shower === from) return refuse("already showing");
			// The one who will show grants. A switch of direction ends any control grant.
			const switched = live.shower !== null;
			return ok(
				bump(live, { shower: from, controller: null }),
				[{ type: switched ? "view.switched" : "view.granted", data: { shower: from } }],
				{ consent: true },
			);
		}
		case "view.deny":
			if (!handshakeDone) return refuse("the handshake is not complete");
			return ok(live, [{ type: "view.denied", data: { asked: from } }], { consent: true });
		case "view.revoke":
			if (live.shower !== from) return refuse("no view of yours to revoke");
			return ok(
				bump(live, { shower: null, controller: null }),
				[{ type: "view.revoked", data: { shower: from } }],
				{ consent: true, immediate: true },
			);
		case "control.request":
			if (live.shower !== other) return refuse("control needs the other side to show");
			if (live.controller === from) return refuse("control is already granted");
			return ok(live, [{ type: "control.requested" }]);
		case "control.grant":
			if (live.shower !== from) return refuse("only the side that shows grants control");
			if (live.controller === other) return refuse("control is already granted");
			return ok(
				bump(live, { controller: other }),
				[{ type: "control.granted", data: { controller: other } }],
				{ consent: true },
			);
		case "control.deny":
			if (live.shower !== from) return refuse("only the side that shows decides on control");
			return ok(live, [{ type: "control.denied" }], { consent: true });
		case "control.revoke":
			if (live.controller === null || live.shower !== from) return refuse("no control to revoke");
			return ok(bump(live, { controller: null }), [{ type: "control.revoked" }], {
				consent: true,
				immediate: true,
			});
		case "stop":
			if (from === "supporter")
				return refuse("the supporter ends a session, STOP is the customer's");
			return ok(
				bump(live, { phase: "ended", shower: null, controller: null, endReason: "stopped" }),
				[{ type: "session.stopped", data: { by: from } }],
				{ consent: true, stop: true },
			);
		case "file.offer": {
			if (!handshakeDone || !termsOk) return refuse("not yet: handshake and terms come first");
			if (live.files.some((f) => f.id === msg.id)) return refuse("file id already used");
			if (live.files.length >= 1024) return refuse("too many files in one session");
			const entry: FileEntry = {
				id: msg.id,
				name: msg.name,
				size: msg.size,
				sha256: msg.sha256,
				from,
				status: "offered",
				sent: 0,
			};
			return ok(bump(live, { files: [...live.files, entry] }), [
				{
					type: "file.offered",
					data: { id: msg.id, name: msg.name, size: msg.size, sha256: msg.sha256 },
				},
			]);
		}
		case "file.accept":
		case "file.reject": {
			const file = live.files.find((f) => f.id === msg.id);
			if (file?.status !== "offered") return refuse("no open offer with this id");
			if (file.from === from) return refuse("the receiver decides on an offer");
			const status = msg.type === "file.accept" ? "accepted" : "rejected";
			return ok(
				bump(live, { files: live.files.map((f) => (f.id === msg.id ? { ...f, status } : f)) }),
				[
					{
						type: `file.${status}`,
						data: { id: file.id, name: file.name, size: file.size, sha256: file.sha256 },
					},
				],
				{ consent: true },
			);
		}
		case "file.done": {
			const file = live.files.find((f) => f.id === msg.id);
			if (file?.status !== "accepted" || file.from !== from) {
				return refuse("no accepted transfer of yours with this id");
			}
			return ok(
				bump(live, {
					files: live.files.map((f) => (f.id === msg.id ? { ...f, status: "done" as const } : f)),
				}),
				[
					{
						type: "file.completed",
						data: {
							id: file.id,
							name: file.name,
							size: file.size,
							sha256: file.sha256,
							bytes: file.sent,
						},
					},
				],
			);
		}
		case "host.auth": {
			if (from !== "host" || record.kind !== "host")
				return refuse("only the host judges the proof");
			if (!handshakeDone) return refuse("the handshake is not complete");
			const result = String(msg.statement.details.result);
			const accepted = result === "accepted";
			if (live.hostAuthorized && accepted) return refuse("already accepted");
			return ok(
				accepted ? bump(live, { hostAuthorized: true }) : live,
				[
					{
						type: accepted ? "host.connected" : "host.auth_failed",
						data: {
							result,
							hostId: record.hostId ?? null,
							failures: msg.statement.details.failures ?? null,
						},
					},
				],
				{ consent: true },
			);
		}
		case "ack":
			// Flow control is the actor's own bookkeeping (session-actor.ts), never a decision.
			return refuse("acknowledgements are not control messages");
		case "comment":
			if (from !== "supporter")
				return refuse("comments are the supporter's notes for the protocol");
			// Relayed too: the customer sees what is written about the session.
			return ok(live, [{ type: "comment.added", data: { text: msg.text } }]);
		default:
			return assertNever(msg);
	}
}

export type FrameVerdict =
	| { ok: true; fileId?: number; bytes?: number }
	| { ok: false; reason: string };

/**
 * Whether a binary frame from `from` may flow (DESIGN §5 table). Only the clear header and the
 * frame's length are read; the payload is never looked at.
 */
export function mayForward(
	record: SessionRecord,
	live: LiveState,
	from: Role,
	header: FrameHeader,
	frameBytes: number,
): FrameVerdict {
	if (live.phase !== "active") return { ok: false, reason: "no-handshake" };
	if (!isAdmitted(record, live)) return { ok: false, reason: "not-admitted" };
	const other = otherRole(record, from);
	if (header.channel === CHANNELS.auth) {
		// Host sessions only; the supporter's password proof and the host's answer.
		return record.kind === "host" ? { ok: true } : { ok: false, reason: "auth-not-host" };
	}
	if (record.termsRequired && !live.termsAccepted) return { ok: false, reason: "terms" };
	if (record.kind === "host" && live.hostAuthorized !== true) {
		return { ok: false, reason: "host-not-authorized" };
	}
	switch (header.channel) {
		case CHANNELS.screen:
			if (live.shower === from) return { ok: true };
			// The viewer's video feedback (key frame requests, codecs, reports) is the one flow
			// against the screen's direction: one stream and small frames only, so the backward
			// direction can never carry a picture the shower did not agree to receive.
			if (live.shower !== null && live.shower === other) {
				if (header.stream !== VIDEO_FEEDBACK_STREAM) return { ok: false, reason: "no-view-grant" };
				return frameBytes <= MAX_VIDEO_FEEDBACK_FRAME_BYTES
					? { ok: true }
					: { ok: false, reason: "feedback-too-large" };
			}
			return { ok: false, reason: "no-view-grant" };
		case CHANNELS.input:
			return live.controller === from && live.shower === other
				? { ok: true }
				: { ok: false, reason: "no-control-grant" };
		case CHANNELS.clipboard: {
			// Both ways, but only between the controller and the shower while the grant stands.
			const granted =
				(live.controller === from && live.shower === other) ||
				(live.shower === from && live.controller === other);
			return granted ? { ok: true } : { ok: false, reason: "no-control-grant" };
		}
		case CHANNELS.chat:
			return { ok: true };
		case CHANNELS.file: {
			const file = live.files.find((f) => f.id === header.stream);
			if (file?.status !== "accepted" || file.from !== from) {
				return { ok: false, reason: "no-accepted-offer" };
			}
			const bytes = Math.max(0, frameBytes - HEADER_BYTES - TAG_BYTES);
			if (file.sent + bytes > file.size) return { ok: false, reason: "over-offered-size" };
			return { ok: true, fileId: file.id, bytes };
		}
		default:
			return { ok: false, reason: "channel" };
	}
}

// ---------------------------------------------------------------------------------------------
// Requests that open a dialog on the other side

/**
 * Messages that ask the other side something and so pop up a dialog there, with how many of each
 * a session forwards per window. A supporter who keeps asking cannot bury the customer in
 * dialogs; an honest module asks again only after an answer, far below these figures.
 */
export const REQUEST_LIMITS = {
	"control.request": { max: 6, windowMs: 60_000 },
	"view.request": { max: 6, windowMs: 60_000 },
	"file.offer": { max: 60, windowMs: 60_000 },
} as const satisfies Partial<Record<ClientMessage["type"], { max: number; windowMs: number }>>;

/** A message type limited by {@link REQUEST_LIMITS}. */
export type LimitedRequest = keyof typeof REQUEST_LIMITS;

/** True if `type` is limited by {@link REQUEST_LIMITS}. */
export function isLimitedRequest(type: string): type is LimitedRequest {
	return Object.hasOwn(REQUEST_LIMITS, type);
}

/** Times (ms) of the requests forwarded per type, within their window; kept by the actor. */
export type RequestLog = Partial<Record<LimitedRequest, number[]>>;

/**
 * Takes one request of `type` from the session's budget: either the log with this request added,
 * or a refusal with the time until the oldest counted request leaves the window.
 */
export function takeRequest(
	log: RequestLog,
	type: LimitedRequest,
	now: number,
): { ok: true; log: RequestLog } | { ok: false; retryAfterMs: number } {
	const { max, windowMs } = REQUEST_LIMITS[type];
	const recent = (log[type] ?? []).filter((t) => now - t < windowMs);
	if (recent.length >= max) {
		const oldest = recent[0] ?? now;
		return { ok: false, retryAfterMs: Math.max(0, oldest + windowMs - now) };
	}
	return { ok: true, log: { ...log, [type]: [...recent, now] } };
}

// ---------------------------------------------------------------------------------------------
// Violations

/** Violations after which a principal's socket is closed; counted per session, so a reconnect
 * does not reset it (every further violation then closes at once). */
export const MAX_VIOLATIONS = 20;
/** At most one `policy.violation` row per principal in this interval (with counts per reason). */
export const VIOLATION_AUDIT_INTERVAL_MS = 10_000;

/**
 * What one principal (role and principal id) has been refused in this session, kept in actor
 * storage. `reasons` counts every violation of the session by reason; `pending` those that no
 * row has reported yet.
 */
export interface ViolationTally {
	role: Role;
	principalId: string;
	total: number;
	reasons: Record<string, number>;
	pending: Record<string, number>;
	lastRowAt: number;
	/** `total` when the last summary row was written. */
	summarized: number;
}

/** An empty tally for a principal. */
export function emptyTally(role: Role, principalId: string): ViolationTally {
	return { role, principalId, total: 0, reasons: {}, pending: {}, lastRowAt: 0, summarized: 0 };
}

const plus = (counts: Record<string, number>, reason: string) => ({
	...counts,
	[reason]: (counts[reason] ?? 0) + 1,
});
const sum = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

/**
 * Counts one violation. Returns the new tally, the `policy.violation` row that is due (at most
 * one per {@link VIOLATION_AUDIT_INTERVAL_MS}, with every pending count), and whether the
 * principal's socket must now be closed. A closing socket gets a summary row instead
 * ({@link summarizeViolations}), so nothing counted before the close goes unreported.
 */
export function countViolation(
	tally: ViolationTally,
	reason: string,
	now: number,
): { next: ViolationTally; row: AuditNote | null; close: boolean } {
	const counted: ViolationTally = {
		...tally,
		total: tally.total + 1,
		reasons: plus(tally.reasons, reason),
		pending: plus(tally.pending, reason),
	};
	const close = counted.total >= MAX_VIOLATIONS;
	if (close || now - tally.lastRowAt < VIOLATION_AUDIT_INTERVAL_MS) {
		return { next: counted, row: null, close };
	}
	const row: AuditNote = {
		type: "policy.violation",
		data: {
			role: tally.role,
			reason,
			count: sum(counted.pending),
			reasons: counted.pending,
			total: counted.total,
		},
	};
	return { next: { ...counted, pending: {}, lastRowAt: now }, row, close: false };
}

/** Why a summary row is written. */
export type SummaryCause =
	| "closed-for-violations"
	| "too-large"
	| "socket-closed"
	| "session-ended";

/**
 * The closing `policy.violation_summary` row: every violation of the principal in the session,
 * by reason. Null when nothing happened since the last summary.
 */
export function summarizeViolations(
	tally: ViolationTally,
	cause: SummaryCause,
): { next: ViolationTally; row: AuditNote | null } {
	if (tally.total === tally.summarized) return { next: tally, row: null };
	const row: AuditNote = {
		type: "policy.violation_summary",
		data: {
			role: tally.role,
			cause,
			total: tally.total,
			reasons: tally.reasons,
			unreported: sum(tally.pending),
		},
	};
	return { next: { ...tally, pending: {}, summarized: tally.total }, row };
}
