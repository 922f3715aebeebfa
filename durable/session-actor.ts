import { DurableObject } from "cloudflare:workers";
import * as z from "zod";
import { toHex } from "../protocol/audit-chain.ts";
import { verifyKeyCommitment } from "../protocol/commitment.ts";
import {
	BACKPRESSURE_REPEAT_MS,
	CLOSE,
	type ClientMessage,
	CONTROL_ERRORS,
	type ConsentMessage,
	type Hello,
	isConsentMessage,
	MARK_EVERY_BYTES,
	MAX_CONTROL_FRAME_BYTES,
	parseControlFrame,
	type Role,
	roleSchema,
	type ServerMessage,
} from "../protocol/control.ts";
import { fromBase64url } from "../protocol/encoding.ts";
import { CHANNELS, channelName, frameSizeLimit, parseHeader } from "../protocol/frame.ts";
import { verifyStatement } from "../protocol/signature.ts";
import type { AuditInput } from "../schema/audit.ts";
import { recordConsent } from "../schema/consents.ts";
import { bindingExecutor, createDb, type Db, type DbBinding } from "../schema/db.ts";
import { getHost } from "../schema/hosts.ts";
import { getSession, markSessionEnded } from "../schema/sessions.ts";
import { getUserById } from "../schema/users.ts";
// A pure in-process registry without I/O; the one import from functions/ (see docs/architecture.md).
import { armEarliest } from "./alarm.ts";
import { type AuditLogNamespace, auditLogStub } from "./audit-log-api.ts";
import { incrementCounter, trackWebSocket } from "./metrics.ts";
import {
	buildExcerpt,
	excerptFileName,
	forCustomer,
	isMailEnabled,
	MAIL_LANGS,
	MAX_EXCERPT_CHARS,
	type MailLang,
	type ProtocolCopy,
	type ProtocolMailEnv,
	protocolCopySchema,
	sendProtocolMail,
	sessionEvents,
	subjectLine,
	summaryText,
} from "./protocol-mail.ts";
import {
	PRINCIPAL_HEADER,
	type ProtocolCopyResult,
	type SessionActorApi,
} from "./session-actor-api.ts";
import {
	type AuditNote,
	bump,
	countViolation,
	type Decision,
	decide,
	emptyTally,
	initialState,
	isLimitedRequest,
	type LiveState,
	mayForward,
	noteCustomer,
	otherRole,
	publicState,
	type RequestLog,
	type SessionRecord,
	STATEMENT_SKEW_MS,
	type SummaryCause,
	summarizeViolations,
	takeOver,
	takeRequest,
	type ViolationTally,
	wasJoined,
} from "./session-rules.ts";
import { answerClose, closeQuietly, guarded, isOpen, sendQuietly } from "./sockets.ts";

interface SessionEnv extends ProtocolMailEnv {
	DB: DbBinding;
	DB_TOKEN: string;
	AUDIT_LOG: AuditLogNamespace;
}

/** A participant that left may come back within this time before the session ends. */
export const IDLE_GRACE_MS = 10 * 60_000;
/**
 * A socket on which nothing arrived for this long, not even a keepalive `ping` (which the runtime
 * answers without waking the actor), is closed with CLOSE.TIMED_OUT and its side recorded as left.
 * Modules ping every 10 s; the check runs from the alarm, so a silent peer is gone within 30 s.
 */
export const PEER_TIMEOUT_MS = 25_000;
/** A socket's last message time is written to its attachment at most this often. */
const SEEN_WRITE_MS = 5_000;
/**
 * Flow control (docs/protocol.md §3.5). A screen frame is dropped, not queued, for a reader with
 * more than this waiting for it in the relay: screen frames replace each other.
 */
export const SCREEN_LAG_BYTES = 2 * 1024 * 1024;
/**
 * A reader with more than this waiting for it is closed with CLOSE.SLOW_READER: input, control,
 * chat and file frames cannot be dropped, and queueing them without end would let one stalled
 * socket grow the server's memory without bound.
 */
export const SLOW_READER_BYTES = 8 * 1024 * 1024;
/**
 * Back-pressure: a reader with more than this waiting makes the relay tell the other side to slow
 * down (`backpressure` `active: true`), before screen frames are dropped (SCREEN_LAG_BYTES)
 * and long before the reader is closed (SLOW_READER_BYTES).
 */
export const BACKPRESSURE_ON_BYTES = 1024 * 1024;
/** …and with less than this waiting again, to go on (`active: false`). */
export const BACKPRESSURE_OFF_BYTES = 256 * 1024;
/**
 * Marks kept in a socket's attachment across hibernation (workerd caps an attachment at 2 KiB):
 * an honest reader echoes marks in order, so forgetting older ones only delays its credit.
 */
const FLOW_MARKS_KEPT = 8;
/** How soon kept audit records are retried while the protocol cannot be written. */
const OUTBOX_RETRY_MS = 5_000;
/** Readers behind by more than BACKPRESSURE_ON_BYTES: when their senders were last told. */
const backpressureSent = new WeakMap<WebSocket, number>();

/** How often a protocol mail is tried before it is given up (and that is written to the protocol). */
export const PROTOCOL_MAIL_ATTEMPTS = 5;
/** The wait before the second try; it doubles with each further one (30 s … 4 min). */
const PROTOCOL_MAIL_RETRY_MS = 30_000;

/**
 * How many protocol-copy requests one session takes (storage key `protocolCopyRequests`); more
 * are refused, so a customer cannot flood the audit chain, which is never pruned.
 */
export const PROTOCOL_COPY_MAX_REQUESTS = 5;

/** A recipient's protocol mail: not wanted, due, handed to the SMTP server, or given up. */
type MailState = "none" | "pending" | "sent" | "failed";

/**
 * The protocol mail of an ended session (storage key `protocolMail`), written once when the
 * session ends. The per-recipient state is the "mailed" marker: a recipient marked `sent` is
 * never mailed again, whatever restarts or repeated ends follow.
 */
interface MailJob {
	v: 1;
	/** When the next try is due (ms). */
	due: number;
	attempts: number;
	supporter: MailState;
	customer: MailState;
}

/** Storage key prefixes: one violation tally per principal, one kept record per key. */
const TALLY_PREFIX = "violations:";
const OUTBOX_PREFIX = "outbox:";

const principalSchema = z.strictObject({
	sessionId: z.string().min(1).max(128),
	role: roleSchema,
	principalId: z.string().min(1).max(128),
	jti: z.string().min(8).max(128),
	exp: z.int(),
	ip: z.string().max(64).nullable(),
});
type Principal = z.infer<typeof principalSchema>;

// Sockets accepted before violations were counted per principal carry per-socket counters; they
// are read and ignored (the counts live in actor storage now, see ViolationTally).
const attachmentSchema = z.object({
	v: z.literal(1),
	role: roleSchema,
	principalId: z.string(),
	ip: z.string().nullable(),
	/** When the last message arrived (ms), written at most every SEEN_WRITE_MS; absent on old sockets. */
	seenAt: z.number().optional(),
	/** The flow-control count as of the last mark or ack (see {@link Flow}); absent before either. */
	flow: z
		.object({
			sent: z.number(),
			read: z.number(),
			marks: z.array(z.object({ id: z.string(), at: z.number() })).max(FLOW_MARKS_KEPT),
		})
		.optional(),
});
type Attachment = z.infer<typeof attachmentSchema>;

// Parsed attachments per socket, so a frame does not deserialize and re-validate its socket's
// attachment each time. After hibernation the actor starts fresh and the cache refills lazily.
// (Measured with npm run bench: no visible change in 1 KiB frames/s, which workerd's own
// per-message cost dominates; kept because it removes work from the hot path at no risk.)
const attachments = new WeakMap<WebSocket, Attachment>();

function readAttachment(ws: WebSocket): Attachment | null {
	const cached = attachments.get(ws);
	if (cached) return cached;
	const parsed = attachmentSchema.safeParse(ws.deserializeAttachment());
	if (!parsed.success) return null;
	attachments.set(ws, parsed.data);
	return parsed.data;
}

/** Stores an attachment on the socket (it survives hibernation) and in the cache. */
function writeAttachment(ws: WebSocket, attachment: Attachment): void {
	ws.serializeAttachment(attachment);
	attachments.set(ws, attachment);
}

/**
 * Flow control per socket (docs/protocol.md §3.5): how much it was sent, how much of that the
 * module proved it read (the position of the newest mark it echoed), and the marks not echoed
 * yet with the position each was sent at. At most SLOW_READER_BYTES / MARK_EVERY_BYTES + 1 marks
 * wait: past that the reader is closed.
 *
 * The live count is in memory; a copy goes into the socket's attachment at every mark and ack,
 * because an actor may hibernate while workerd still holds what a stalled reader has not taken.
 * Woken again, the actor counts on from that copy plus MARK_EVERY_BYTES (what it may have sent
 * after the copy), so hibernating gives a reader that does not read no fresh allowance.
 */
interface Flow {
	sent: number;
	read: number;
	marks: { id: string; at: number }[];
}
const flows = new WeakMap<WebSocket, Flow>();

function flowOf(ws: WebSocket): Flow {
	let flow = flows.get(ws);
	if (!flow) {
		const kept = readAttachment(ws)?.flow;
		flow = kept
			? { sent: kept.sent + MARK_EVERY_BYTES, read: kept.read, marks: [...kept.marks] }
			: { sent: 0, read: 0, marks: [] };
		flows.set(ws, flow);
	}
	return flow;
}

/** Copies the count into the attachment (the newest FLOW_MARKS_KEPT marks: the 2 KiB limit). */
function saveFlow(ws: WebSocket, flow: Flow): void {
	const attachment = readAttachment(ws);
	if (!attachment) return;
	writeAttachment(ws, {
		...attachment,
		flow: { sent: flow.sent, read: flow.read, marks: flow.marks.slice(-FLOW_MARKS_KEPT) },
	});
}

/**
 * Who was connected when last checked, kept in storage: after a crash or restart the sockets are
 * gone without a close event, and this is what tells the actor whom it lost and since when.
 */
interface Alive {
	at: number;
	roles: Role[];
}

/** A consent row as `recordConsent` takes it. */
type ConsentInput = Parameters<typeof recordConsent>[1];

/** A record of something that already took effect, waiting in storage for the protocol. */
interface KeptRecord {
	consent?: ConsentInput;
	audit: AuditInput[];
}

/** Violations are counted per session and principal, not per socket. */
function tallyKey(who: Pick<Attachment, "role" | "principalId">): string {
	return `${TALLY_PREFIX}${who.role}:${who.principalId}`;
}

/**
 * What an oversized message is (`control` or a channel name), or null if it is within its cap.
 * Text is measured in UTF-8 bytes; the UTF-16 length bounds that cheaply from both sides first.
 */
function oversize(message: string | ArrayBuffer): string | null {
	if (typeof message === "string") {
		if (message.length * 3 <= MAX_CONTROL_FRAME_BYTES) return null;
		const over =
			message.length > MAX_CONTROL_FRAME_BYTES ||
			new TextEncoder().encode(message).length > MAX_CONTROL_FRAME_BYTES;
		return over ? "control" : null;
	}
	if (message.byteLength <= frameSizeLimit(message)) return null;
	const parsed = parseHeader(message);
	return parsed.ok ? (channelName(parsed.header.channel) ?? "frame") : "frame";
}

/**
 * One support session: pairs the supporter with the customer (or host), relays their end-to-end
 * encrypted frames byte for byte, and enforces the customer's consent on them by reading only
 * the clear 14-byte header. Control messages drive the consent rules in session-rules.ts; every
 * decision is written to the protocol before it takes effect and before the peer hears of it,
 * except STOP, which acts first and is written right after. State lives in actor storage, so a
 * runtime restart or hibernation loses nothing and participants resume with new tickets.
 */
export class SessionActor extends DurableObject<SessionEnv> implements SessionActorApi {
	private record: SessionRecord | undefined;
	private live: LiveState = initialState();
	private queue: Promise<unknown> = Promise.resolve();
	private db: Db | undefined;
	/** Violations per principal (`violations:<role>:<principalId>`), mirrored in storage. */
	private tallies = new Map<string, ViolationTally>();
	/** Dialog-opening requests forwarded recently (REQUEST_LIMITS), mirrored in storage. */
	private requests: RequestLog = {};
	/** Orders records kept within one millisecond. */
	private keptCounter = 0;

	constructor(ctx: DurableObjectState, env: SessionEnv) {
		super(ctx, env);
		// Keepalives are answered by the runtime: an idle pair never wakes the actor.
		ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
		void ctx.blockConcurrencyWhile(async () => {
			this.record = await ctx.storage.get<SessionRecord>("record");
			this.live = (await ctx.storage.get<LiveState>("live")) ?? initialState();
			this.requests = (await ctx.storage.get<RequestLog>("requests")) ?? {};
			const tallies = await ctx.storage.list<ViolationTally>({ prefix: TALLY_PREFIX });
			this.tallies = new Map(tallies);
		});
	}

	/** Called once by the issuing route. A second call keeps the first record and deadline. */
	async open(record: SessionRecord): Promise<void> {
		if (this.record) return;
		this.record = record;
		// Nobody is connected yet: the idle time runs from the start, so a session that nobody
		// ever connects to (an ID joined but never used) ends like one everybody left; not before
		// its support ID expired, though, while a customer can still type it in.
		const grace = record.idleGraceMs ?? IDLE_GRACE_MS;
		const emptySince = Math.max(Date.now(), (record.codeExpiresAt ?? 0) - grace);
		this.live = { ...this.live, emptySince };
		await this.ctx.storage.put({ record, live: this.live });
		await this.armAlarm();
	}

	/**
	 * Ends the session (supporter's request, admin, expiry, or `revoked`: a participant lost the
	 * right to it). False if it had already ended.
	 */
	async end(reason: "ended" | "expired" | "revoked", by: string | null): Promise<boolean> {
		if (!this.record || this.live.phase === "ended") return false;
		await this.finish(reason, by, reason === "expired" ? CLOSE.EXPIRED : CLOSE.ENDED);
		return true;
	}

	/**
	 * Called by the join route once the support ID was used: who joined, for the supporter's
	 * admission decision. The first call stands.
	 */
	async customerJoined(customer: {
		name: string | null;
		address: string | null;
		joinedAt: number;
	}): Promise<void> {
		if (!this.record || this.live.phase === "ended") return;
		const next = noteCustomer(this.record, this.live, customer);
		if (next === this.live) return;
		this.live = next;
		await this.ctx.storage.put("live", this.live);
		this.broadcastState();
	}

	/**
	 * An admin takes over the supporter's seat (the route checked the admin and the explicit
	 * request). Written to the protocol first, since it gives access; then the previous
	 * supporter's grants end, its socket is closed with `end{reason: "taken-over"}` and 4010,
	 * and the customer sees the new state. False if the session has ended.
	 */
	async takeOver(input: { by: string; name: string; ip: string | null }): Promise<boolean> {
		const record = this.record;
		if (!record || this.live.phase === "ended") return false;
		if (this.live.takeover?.by === input.by) return true; // the seat is already theirs
		const previous = this.live.takeover?.by ?? record.supporterId;
		const written = await this.audit(
			[{ type: "session.taken_over", data: { by: input.by, name: input.name, previous } }],
			{ role: "supporter", principalId: input.by, ip: input.ip },
		);
		if (!written) throw new Error("the protocol cannot be written");
		// The session may have ended while the row was written.
		const now: LiveState = this.live;
		if (now.phase === "ended") return false;
		this.live = takeOver(this.live, { by: input.by, name: input.name, at: Date.now() });
		await this.ctx.storage.put("live", this.live);
		const end: ServerMessage = { type: "end", reason: "taken-over" };
		for (const ws of this.ctx.getWebSockets("supporter")) {
			this.send(ws, end);
			closeQuietly(ws, CLOSE.TAKEN_OVER);
		}
		this.broadcastState();
		return true;
	}

	/** Whether the customer may ask for a copy of the protocol: the group mails it, SMTP is set. */
	async protocolCopyOffered(): Promise<boolean> {
		return !!this.record?.mailProtocol && isMailEnabled(this.env);
	}

	/**
	 * The customer asks for a copy of the protocol by e-mail (the route checked its resume token
	 * and the input). The request is written to the protocol first (without the address, which is
	 * personal data); the address is kept in actor storage only until the mail is sent or given
	 * up. A later request replaces an earlier one. Only the first request and real changes are
	 * written: `{lang}`, then `{lang, addressChanged}` for a new language or a replaced address;
	 * a repeat of the stored request writes nothing. At most PROTOCOL_COPY_MAX_REQUESTS requests
	 * per session are taken (each one counts, whether it changed anything or not), then
	 * `rate_limited`. `off` when the session does not mail its protocol or SMTP is not
	 * configured, `ended` after the end, `unavailable` when the protocol cannot be written.
	 */
	async requestProtocolCopy(input: {
		copy: ProtocolCopy;
		ip: string | null;
	}): Promise<ProtocolCopyResult> {
		const record = this.record;
		if (!record) return "not_found";
		if (!record.mailProtocol || !isMailEnabled(this.env)) return "off";
		if (this.live.phase === "ended") return "ended";
		const copy = protocolCopySchema.parse(input.copy);
		// Counted before any await, so concurrent requests cannot slip past the limit together.
		const count = z
			.number()
			.int()
			.nonnegative()
			.catch(0)
			.parse(await this.ctx.storage.get("protocolCopyRequests"));
		if (count >= PROTOCOL_COPY_MAX_REQUESTS) return "rate_limited";
		await this.ctx.storage.put("protocolCopyRequests", count + 1);
		const before = await this.storedCopy();
		const addressChanged = before !== null && before.address !== copy.address;
		if (before === null || addressChanged || before.lang !== copy.lang) {
			// The address itself never reaches the protocol, only whether it was replaced.
			const data = before === null ? { lang: copy.lang } : { lang: copy.lang, addressChanged };
			const written = await this.audit([{ type: "session.protocol_requested", data }], {
				role: "customer",
				principalId: `customer:${record.id}`,
				ip: input.ip,
			});
			if (!written) return "unavailable";
		}
		// The session may have ended while the row was written: its mail job is fixed by then.
		const now: LiveState = this.live;
		if (now.phase === "ended") return "ended";
		await this.ctx.storage.put("protocolCopy", copy);
		return "ok";
	}

	/** The consent state, for the session route; null for an unknown session. */
	async snapshot() {
		return this.record ? publicState(this.record, this.live, this.connectedRoles()) : null;
	}

	/** Upgrade requests only; the ticket was verified in functions/, the jti is consumed here. */
	override async fetch(request: Request): Promise<Response> {
		const parsed = principalSchema.safeParse(
			JSON.parse(request.headers.get(PRINCIPAL_HEADER) ?? "null"),
		);
		if (!parsed.success || !this.record || parsed.data.sessionId !== this.record.id) {
			return new Response("not found", { status: 404 });
		}
		const principal = parsed.data;
		const jtiKey = `jti:${principal.jti}`;
		if (await this.ctx.storage.get(jtiKey)) return new Response("ticket used", { status: 401 });
		// Storage writes are atomic per actor: of two uses of one ticket, exactly one gets here first.
		await this.ctx.storage.put(jtiKey, principal.exp);

		const { 0: client, 1: server } = new WebSocketPair();
		if (this.live.phase === "ended") {
			this.ctx.acceptWebSocket(server, ["ended"]);
			closeQuietly(server, this.live.endReason === "expired" ? CLOSE.EXPIRED : CLOSE.ENDED);
			return new Response(null, { status: 101, webSocket: client });
		}
		// After a takeover the seat is the admin's: the previous supporter's tickets open nothing.
		const seat = this.live.takeover?.by;
		if (principal.role === "supporter" && seat && principal.principalId !== seat)
			return new Response("seat taken over", { status: 401 });
		// One participant per side. The same principal with a fresh ticket replaces its old socket
		// (a resume after a drop the runtime has not noticed yet); anyone else is refused.
		const occupied = this.ctx
			.getWebSockets(principal.role)
			.some(
				(ws) =>
					ws.readyState === WebSocket.OPEN &&
					readAttachment(ws)?.principalId !== principal.principalId,
			);
		if (occupied) return new Response("occupied", { status: 409 });
		// Before the old socket of this role is replaced: it still counts as connected then.
		await this.reconcileLost();
		for (const old of this.ctx.getWebSockets(principal.role)) closeQuietly(old, CLOSE.REPLACED);
		this.ctx.acceptWebSocket(server, [principal.role]);
		writeAttachment(server, {
			v: 1,
			role: principal.role,
			principalId: principal.principalId,
			ip: principal.ip,
			seenAt: Date.now(),
		} satisfies Attachment);
		trackWebSocket(1);
		await this.onJoin(server, principal);
		return new Response(null, { status: 101, webSocket: client });
	}

	override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
		const from = readAttachment(ws);
		if (!from || !this.record) return closeQuietly(ws, CLOSE.UNAUTHORIZED);
		if (this.live.phase === "ended") return closeQuietly(ws, CLOSE.ENDED);
		try {
			if (!isOpen(ws)) return await this.afterClose(from);
			this.noteSeen(ws, from);
			// Size first: an oversized frame is never parsed, relayed or answered, only closed.
			const over = oversize(message);
			if (over) return await this.tooLarge(ws, from, over);
			if (typeof message === "string") await this.onControl(ws, from, message);
			else await this.onFrame(ws, from, message);
		} catch (err) {
			// A bug must not take the session down with it; the sender learns nothing internal.
			this.log(`message handling failed: ${(err as Error).name}: ${(err as Error).message}`);
		}
	}

	override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
		answerClose(ws, code, reason);
		trackWebSocket(-1);
		await guarded("SessionActor", "close handling", async () => {
			const who = readAttachment(ws);
			this.backpressure(ws, false); // a reader that left holds nobody back
			if (who && this.record) await this.summarize(who, "socket-closed");
			if (!who || !this.record || code === CLOSE.REPLACED) return;
			await this.left(ws, who, code);
		});
	}

	override async webSocketError(ws: WebSocket): Promise<void> {
		closeQuietly(ws, 1011);
	}

	override async alarm(): Promise<void> {
		await this.flushOutbox();
		await this.runProtocolMail();
		if (this.record && this.live.phase !== "ended") {
			await this.checkPeers();
			const now = Date.now();
			const grace = this.record.idleGraceMs ?? IDLE_GRACE_MS;
			const idle = this.live.emptySince !== null && now - this.live.emptySince >= grace;
			// finish() is idempotent, so a retried alarm is harmless.
			if (now >= this.record.expiresAt || idle) await this.finish("expired", null, CLOSE.EXPIRED);
		}
		await this.armAlarm();
	}

	// --- joining ------------------------------------------------------------------------------

	private async onJoin(ws: WebSocket, principal: Principal): Promise<void> {
		const record = this.record as SessionRecord;
		const first = !this.live.seen.includes(principal.role);
		this.live = bump(this.live, {
			emptySince: null,
			seen: first ? [...this.live.seen, principal.role] : this.live.seen,
		});
		// Normally the join route noted the customer already; this covers a lost RPC.
		if (principal.role === "customer") {
			this.live = noteCustomer(record, this.live, {
				name: null,
				address: principal.ip,
				joinedAt: Date.now(),
			});
		}
		await this.ctx.storage.put("live", this.live);
		await this.writeAlive();
		await this.armAlarm();
		this.broadcastState();
		// A participant that resumes gets what it needs to carry on: the other side's hello and,
		// for the peer, the supporter's revealed key.
		const otherHello = this.live.hellos[principal.role === "supporter" ? "peer" : "supporter"];
		if (otherHello) this.send(ws, { type: "peer", hello: otherHello });
		// A sender that comes back while the other side's reader is still behind hears so at once.
		if (
			this.ctx.getWebSockets(otherRole(record, principal.role)).some((r) => backpressureSent.has(r))
		)
			sendQuietly(ws, JSON.stringify({ type: "backpressure", active: true }));
		if (principal.role !== "supporter" && this.live.reveal)
			sendQuietly(ws, JSON.stringify(this.live.reveal));
		await this.audit(
			[
				{
					type: first ? "session.joined" : "session.resumed",
					data: { role: principal.role, kind: record.kind },
				},
			],
			{ role: principal.role, principalId: principal.principalId, ip: principal.ip },
		);
	}

	// --- control messages ---------------------------------------------------------------------

	private async onControl(ws: WebSocket, from: Attachment, text: string): Promise<void> {
		const parsed = parseControlFrame(text);
		if (!parsed.ok) {
			this.sendError(ws, CONTROL_ERRORS.BAD_MESSAGE, parsed.detail);
			return this.violation(ws, from, `bad-message:${parsed.reason}`);
		}
		const msg = parsed.value;
		if (msg.type === "ack") {
			// Only a mark this socket was sent counts; anything else (a guess, a byte count from an
			// older module, a mark too old to be kept across hibernation) proves nothing.
			if (msg.mark === undefined) return;
			const flow = flowOf(ws);
			const index = flow.marks.findIndex((m) => m.id === msg.mark);
			if (index < 0) return;
			flow.read = Math.max(flow.read, flow.marks[index]?.at ?? 0);
			flow.marks.splice(0, index + 1);
			saveFlow(ws, flow);
			if (flow.sent - flow.read < BACKPRESSURE_OFF_BYTES) this.backpressure(ws, false);
			return;
		}
		if (msg.type === "stop") return this.onStop(ws, from, msg);
		if (msg.type === "refuse") {
			const refusal = this.queue.then(() => this.onRefuse(ws, from, msg));
			this.queue = refusal.catch(() => undefined);
			return refusal;
		}
		// One control message at a time: each decision sees the state the previous one left.
		const run = this.queue.then(() => this.applyControl(ws, from, msg, text));
		this.queue = run.catch(() => undefined);
		await run;
	}

	private async applyControl(ws: WebSocket, from: Attachment, msg: ClientMessage, text: string) {
		// Queued behind earlier messages: if one of them got this socket closed, the rest go.
		if (!isOpen(ws)) return this.afterClose(from);
		const record = this.record as SessionRecord;
		const decision = decide(record, this.live, from.role, msg);
		if (!decision.ok) {
			this.sendError(ws, decision.code, decision.message);
			return this.violation(ws, from, `refused:${msg.type}`);
		}
		if (decision.immediate) return this.withdraw(ws, from, msg as ConsentMessage, text);
		if (isLimitedRequest(msg.type)) {
			const taken = takeRequest(this.requests, msg.type, Date.now());
			if (!taken.ok) {
				const seconds = Math.ceil(taken.retryAfterMs / 1000);
				this.sendError(
					ws,
					CONTROL_ERRORS.RATE_LIMITED,
					`too many ${msg.type} messages; try again in ${seconds} s`,
				);
				return this.violation(ws, from, `rate-limited:${msg.type}`);
			}
			this.requests = taken.log;
			await this.ctx.storage.put("requests", this.requests);
		}
		if (msg.type === "key.reveal") {
			const commitment = this.live.hellos.supporter;
			const key = fromBase64url(msg.x25519);
			const opens =
				commitment?.role === "supporter" &&
				key !== null &&
				(await verifyKeyCommitment(record.id, key, commitment.x25519Commitment));
			if (!opens) {
				this.sendError(ws, CONTROL_ERRORS.NOT_ALLOWED, "the key does not open the commitment");
				return this.violation(ws, from, "bad-reveal");
			}
		}
		if (decision.consent && !(await this.verifyConsent(ws, from, msg as ConsentMessage))) return;

		// Written first: a decision whose record cannot be committed is refused (fail closed).
		const recorded = await this.record_(decision, from, msg);
		if (!recorded) {
			this.sendError(
				ws,
				CONTROL_ERRORS.CONSENT_UNAVAILABLE,
				"the protocol cannot be written; try again",
			);
			return;
		}
		// The state may have moved while the record was written (a STOP, a close): decide again
		// on the current state and apply only if the decision still stands.
		const again = decide(record, this.live, from.role, msg);
		if (!again.ok) return this.sendError(ws, again.code, again.message);
		const changed = again.next.revision !== this.live.revision;
		this.live = again.next;
		if (changed) await this.ctx.storage.put("live", this.live);
		const other = otherRole(record, from.role);
		if (again.relay) this.sendToRole(other, text);
		if (again.announce) this.sendToRole(other, { type: "peer", hello: again.announce as Hello });
		if (changed) this.broadcastState();
	}

	/**
	 * A withdrawal (control or view revoked by the side that shows) acts first, like STOP: the
	 * state changes, the peer hears of it, and only then is it written, kept in actor storage and
	 * retried while the protocol cannot take it. Refusing it for want of a database, or for a
	 * signature that does not verify, would leave access standing. The sender's socket was
	 * admitted with its own ticket; the signature decides only what the protocol can prove.
	 */
	private async withdraw(ws: WebSocket, from: Attachment, msg: ConsentMessage, text: string) {
		const record = this.record as SessionRecord;
		const signed = await this.statementValid(from, msg);
		// Decided again after the await, on the state as it is now.
		const decision = decide(record, this.live, from.role, msg);
		if (!decision.ok) return this.sendError(ws, decision.code, decision.message);
		this.live = decision.next;
		await this.ctx.storage.put("live", this.live);
		this.sendToRole(otherRole(record, from.role), text);
		this.broadcastState();
		const hello = this.live.hellos[from.role === "supporter" ? "supporter" : "peer"];
		if (signed && hello) {
			const consent = {
				sessionId: record.id,
				type: msg.type,
				role: from.role,
				statement: msg.statement,
				signature: msg.signature,
				publicKey: hello.ed25519,
			};
			const proof = {
				statement: msg.statement,
				signature: msg.signature,
				publicKey: hello.ed25519,
			};
			const notes = decision.audit.map((n) => ({ ...n, data: { ...n.data, ...proof } }));
			await this.writeOrKeep(consent, this.auditInputs(notes, from));
		} else {
			const notes = decision.audit.map((n) => ({
				...n,
				data: { ...n.data, signatureValid: false },
			}));
			await this.writeOrKeep(null, this.auditInputs(notes, from));
		}
	}

	/** Whether a statement names this session, is recent and verifies with the sender's key. */
	private async statementValid(from: Attachment, msg: ConsentMessage): Promise<boolean> {
		const record = this.record as SessionRecord;
		const hello = this.live.hellos[from.role === "supporter" ? "supporter" : "peer"];
		const fresh = Math.abs(Date.now() - msg.statement.timestamp) <= STATEMENT_SKEW_MS;
		return (
			!!hello &&
			msg.statement.sessionId === record.id &&
			fresh &&
			(await verifyStatement(hello.ed25519, msg.statement, msg.signature))
		);
	}

	/** Checks a consent statement: this session, a recent timestamp, signed by the sender's key. */
	private async verifyConsent(
		ws: WebSocket,
		from: Attachment,
		msg: ConsentMessage,
	): Promise<boolean> {
		const valid = await this.statementValid(from, msg);
		if (!valid) {
			// A wrong clock is named as such: the module can tell its user what to fix.
			const skewMs = msg.statement.timestamp - Date.now();
			if (Math.abs(skewMs) > STATEMENT_SKEW_MS) {
				const minutes = Math.round(Math.abs(skewMs) / 60_000);
				this.sendError(
					ws,
					CONTROL_ERRORS.CLOCK_SKEW,
					`the consent statement's time is ${minutes} minutes ${skewMs > 0 ? "ahead of" : "behind"} the server's clock (allowed: ${STATEMENT_SKEW_MS / 60_000})`,
				);
			} else {
				this.sendError(ws, CONTROL_ERRORS.BAD_SIGNATURE, "the consent statement does not verify");
			}
			await this.violation(ws, from, `bad-signature:${msg.type}`);
		}
		return valid;
	}

	/** Writes the consent row (if any) and the audit rows; false if either could not be written. */
	private async record_(
		decision: Extract<Decision, { ok: true }>,
		from: Attachment,
		msg: ClientMessage,
	) {
		const record = this.record as SessionRecord;
		if (decision.consent && isConsentMessage(msg)) {
			const hello = this.live.hellos[from.role === "supporter" ? "supporter" : "peer"] as Hello;
			try {
				await recordConsent(this.database(), {
					sessionId: record.id,
					type: msg.type,
					role: from.role,
					statement: msg.statement,
					signature: msg.signature,
					publicKey: hello.ed25519,
				});
			} catch (err) {
				this.log(`consent write failed: ${(err as Error).name}`);
				return false;
			}
			return this.audit(
				decision.audit.map((n) => ({
					...n,
					data: {
						...n.data,
						statement: msg.statement,
						signature: msg.signature,
						publicKey: hello.ed25519,
					},
				})),
				from,
			);
		}
		return this.audit(decision.audit, from);
	}

	/** STOP acts before anything else: consent gone, session ended, sockets closed; then written. */
	private async onStop(
		ws: WebSocket,
		from: Attachment,
		msg: Extract<ClientMessage, { type: "stop" }>,
	) {
		const record = this.record as SessionRecord;
		// Even an unverifiable STOP from the customer's own socket stops: its socket was admitted
		// with the customer's ticket, and refusing to stop is never the safe side. The signature
		// decides only whether the protocol can prove who stopped.
		const hello = this.live.hellos.peer;
		const signed =
			!!hello &&
			msg.statement.sessionId === record.id &&
			(await verifyStatement(hello.ed25519, msg.statement, msg.signature));
		// Decided after the await, on the state as it is now; nothing else runs from here on.
		const decision = decide(record, this.live, from.role, msg);
		if (!decision.ok) {
			this.sendError(ws, decision.code, decision.message);
			return this.violation(ws, from, "refused:stop");
		}
		this.live = decision.next;
		await this.ctx.storage.put("live", this.live);
		const end: ServerMessage = { type: "end", reason: "stopped", by: from.role };
		for (const socket of this.ctx.getWebSockets()) {
			this.send(socket, end);
			closeQuietly(socket, CLOSE.STOPPED);
		}
		const data = signed
			? {
					by: from.role,
					statement: msg.statement,
					signature: msg.signature,
					publicKey: hello?.ed25519,
				}
			: { by: from.role, signatureValid: false };
		await this.summarizeAll();
		const consent =
			signed && hello
				? {
						sessionId: record.id,
						type: "stop",
						role: from.role,
						statement: msg.statement,
						signature: msg.signature,
						publicKey: hello.ed25519,
					}
				: null;
		await this.writeOrKeep(
			consent,
			this.auditInputs(
				[
					{ type: "session.stopped", data },
					{ type: "session.ended", data: { reason: "stopped" } },
				],
				from,
			),
		);
		await this.markEnded("stopped");
		await this.queueProtocolMail();
	}

	/**
	 * The supporter refuses the waiting customer: like STOP it acts first (state, `end`, every
	 * socket closed with 4009) and is written right after, so a refusal never waits for the
	 * database. The support ID was used up by the join, so the session and its ID are dead.
	 */
	private async onRefuse(
		ws: WebSocket,
		from: Attachment,
		msg: Extract<ClientMessage, { type: "refuse" }>,
	) {
		if (!isOpen(ws)) return this.afterClose(from);
		const decision = decide(this.record as SessionRecord, this.live, from.role, msg);
		if (!decision.ok) {
			this.sendError(ws, decision.code, decision.message);
			return this.violation(ws, from, "refused:refuse");
		}
		this.live = decision.next;
		await this.ctx.storage.put("live", this.live);
		const end: ServerMessage = { type: "end", reason: "refused", by: "supporter" };
		for (const socket of this.ctx.getWebSockets()) {
			this.send(socket, end);
			closeQuietly(socket, CLOSE.REFUSED);
		}
		await this.summarizeAll();
		await this.writeOrKeep(
			null,
			this.auditInputs(
				[
					...decision.audit,
					{ type: "session.ended", data: { reason: "refused", by: from.principalId } },
				],
				from,
			),
		);
		await this.markEnded("refused");
		await this.queueProtocolMail();
	}

	// --- binary frames ------------------------------------------------------------------------

	private async onFrame(ws: WebSocket, from: Attachment, frame: ArrayBuffer): Promise<void> {
		const record = this.record as SessionRecord;
		const parsed = parseHeader(frame);
		if (!parsed.ok) return this.violation(ws, from, `bad-header:${parsed.reason}`);
		const verdict = mayForward(record, this.live, from.role, parsed.header, frame.byteLength);
		if (!verdict.ok) {
			incrementCounter(
				"fernwart_frames_dropped_total",
				"Binary frames the relay refused to forward.",
			);
			return this.violation(ws, from, `${channelName(parsed.header.channel)}:${verdict.reason}`);
		}
		if (verdict.fileId !== undefined && verdict.bytes !== undefined) {
			const id = verdict.fileId;
			const bytes = verdict.bytes;
			this.live = {
				...this.live,
				files: this.live.files.map((f) => (f.id === id ? { ...f, sent: f.sent + bytes } : f)),
			};
			await this.ctx.storage.put("live", this.live);
		}
		const replaceable = parsed.header.channel === CHANNELS.screen;
		for (const peer of this.ctx.getWebSockets(otherRole(record, from.role)))
			this.deliver(peer, frame, replaceable);
	}

	/**
	 * Sends to one socket unless too much already waits for its reader (flow control,
	 * docs/protocol.md §3.5). workerd queues every send in memory until the peer's TCP window
	 * takes it, without limit, and its `bufferedAmount` stays 0 for these sockets (measured), so
	 * the relay counts what it sent against what the module proved it read: every
	 * MARK_EVERY_BYTES it sends a `mark` with a random id, which the module echoes in an `ack` once
	 * it has read that far. A replaceable (screen) frame is dropped for a lagging reader; anything
	 * else past SLOW_READER_BYTES closes the reader, which resumes on a fresh socket.
	 */
	private deliver(ws: WebSocket, data: string | ArrayBuffer, replaceable = false): void {
		if (!isOpen(ws)) return;
		const flow = flowOf(ws);
		const waiting = flow.sent - flow.read;
		if (replaceable && waiting > SCREEN_LAG_BYTES) {
			incrementCounter(
				"fernwart_frames_lagging_dropped_total",
				"Screen frames dropped because their reader had too much waiting.",
			);
			// Still behind: the sender keeps hearing so (every BACKPRESSURE_REPEAT_MS), or it would
			// go on after BACKPRESSURE_HOLD_MS only to have its frames dropped here.
			this.backpressure(ws, true);
			return;
		}
		if (waiting > SLOW_READER_BYTES) {
			closeQuietly(ws, CLOSE.SLOW_READER);
			const who = readAttachment(ws);
			if (who) this.track(this.left(ws, who, CLOSE.SLOW_READER));
			return;
		}
		flow.sent += typeof data === "string" ? data.length : data.byteLength;
		sendQuietly(ws, data);
		const lastMark = flow.marks.at(-1)?.at ?? flow.read;
		if (flow.sent - lastMark >= MARK_EVERY_BYTES) {
			const id = toHex(crypto.getRandomValues(new Uint8Array(8)));
			flow.marks.push({ id, at: flow.sent });
			saveFlow(ws, flow);
			sendQuietly(ws, JSON.stringify({ type: "mark", id }));
		}
		if (flow.sent - flow.read > BACKPRESSURE_ON_BYTES) this.backpressure(ws, true);
	}

	/**
	 * Tells the senders toward `reader` to slow down (`active`) or go on. `active` goes out when the
	 * reader first falls behind and again every BACKPRESSURE_REPEAT_MS while it stays behind;
	 * `false` once, when it caught up or left.
	 */
	private backpressure(reader: WebSocket, active: boolean): void {
		const last = backpressureSent.get(reader);
		const now = Date.now();
		if (active) {
			if (last !== undefined && now - last < BACKPRESSURE_REPEAT_MS) return;
			backpressureSent.set(reader, now);
		} else {
			if (last === undefined) return;
			backpressureSent.delete(reader);
		}
		const who = readAttachment(reader);
		if (!who || !this.record) return;
		const message = JSON.stringify({ type: "backpressure", active });
		for (const sender of this.ctx.getWebSockets(otherRole(this.record, who.role)))
			sendQuietly(sender, message);
	}

	/** Runs bookkeeping started from a synchronous path; failures are logged, never thrown. */
	private track(work: Promise<unknown>): void {
		const run = this.queue.then(() => work);
		this.queue = run.catch((err: unknown) =>
			this.log(`bookkeeping failed: ${(err as Error).name}`),
		);
	}

	/** Notes a message's arrival in the socket's attachment, at most every SEEN_WRITE_MS. */
	private noteSeen(ws: WebSocket, from: Attachment): void {
		const now = Date.now();
		if (from.seenAt !== undefined && now - from.seenAt < SEEN_WRITE_MS) return;
		writeAttachment(ws, { ...from, seenAt: now });
	}

	/** The last sign of life on a socket: a message, or a keepalive the runtime answered. */
	private lastSeen(ws: WebSocket): number {
		const pinged = this.ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? 0;
		return Math.max(readAttachment(ws)?.seenAt ?? 0, pinged);
	}

	/** Closes sockets silent for PEER_TIMEOUT_MS (a black-holed peer) and records them as left. */
	private async checkPeers(): Promise<void> {
		const now = Date.now();
		for (const ws of this.ctx.getWebSockets()) {
			const who = readAttachment(ws);
			if (!who || !isOpen(ws) || now - this.lastSeen(ws) < PEER_TIMEOUT_MS) continue;
			closeQuietly(ws, CLOSE.TIMED_OUT);
			await this.left(ws, who, CLOSE.TIMED_OUT);
		}
		await this.reconcileLost();
		await this.writeAlive();
	}

	/**
	 * Records a side as left once its socket is gone (closed by the peer, by the relay for being
	 * slow or silent, or lost): the state goes to the other side, the idle time starts when nobody
	 * is left, and `session.left` goes to the protocol. Idempotent per role: only a role still
	 * recorded as connected (Alive) is recorded as leaving.
	 */
	private async left(ws: WebSocket, who: Attachment, code: number): Promise<void> {
		if (!this.record || this.live.phase === "ended") return;
		const connected = this.connectedRoles(ws);
		if (connected.includes(who.role)) return; // a newer socket of this role took over
		const alive = await this.ctx.storage.get<Alive>("alive");
		if (alive && !alive.roles.includes(who.role)) return; // already recorded
		this.live = bump(this.live, { emptySince: connected.length === 0 ? Date.now() : null });
		await this.ctx.storage.put("live", this.live);
		await this.writeAlive(ws);
		this.broadcastState(ws);
		await this.armAlarm();
		await this.audit([{ type: "session.left", data: { role: who.role, code } }], who);
	}

	/**
	 * After a crash or restart the sockets are gone without a close event. Roles recorded as
	 * connected that have no socket now are recorded as left at their last sign of life, and the
	 * idle time counts from then, so a session nobody comes back to still ends.
	 */
	private async reconcileLost(except?: WebSocket): Promise<void> {
		const alive = await this.ctx.storage.get<Alive>("alive");
		if (!alive || !this.record || this.live.phase === "ended") return;
		const connected = this.connectedRoles(except);
		const lost = alive.roles.filter((r) => !connected.includes(r));
		if (lost.length === 0) return;
		this.live = bump(this.live, {
			emptySince: connected.length === 0 ? (this.live.emptySince ?? alive.at) : null,
		});
		await this.ctx.storage.put({ live: this.live, alive: { at: alive.at, roles: connected } });
		this.broadcastState(except);
		await this.armAlarm();
		for (const role of lost) {
			await this.audit(
				[{ type: "session.left", data: { role, code: 1006, occurredAt: alive.at } }],
				null,
				{ keep: true },
			);
		}
	}

	/** Stores who is connected now (a sign of life for every open socket). */
	private async writeAlive(except?: WebSocket): Promise<void> {
		const alive: Alive = { at: Date.now(), roles: this.connectedRoles(except) };
		await this.ctx.storage.put("alive", alive);
	}

	/**
	 * Counts a forbidden frame or message against its principal, for the whole session (kept in
	 * storage, so a reconnect starts where the last socket left off). The relay, not the honest
	 * peer, stops a module that ignores the rules: at MAX_VIOLATIONS its socket is closed and a
	 * summary row accounts for every count. Rows in between are rate-limited so a flood cannot
	 * flood the protocol, but each carries every count since the last one.
	 */
	private async violation(ws: WebSocket, from: Attachment, reason: string): Promise<void> {
		const key = tallyKey(from);
		// Counted synchronously, before any await: concurrent messages cannot lose a count.
		const { next, row, close } = countViolation(
			this.tallies.get(key) ?? emptyTally(from.role, from.principalId),
			reason,
			Date.now(),
		);
		this.tallies.set(key, next);
		if (close) {
			closeQuietly(ws, CLOSE.POLICY_VIOLATION);
			return this.summarize(from, "closed-for-violations");
		}
		await this.ctx.storage.put(key, next);
		if (row) await this.audit([row], from, { keep: true });
	}

	/** A frame or message over its cap: never relayed; closes the socket (CLOSE.TOO_LARGE). */
	private async tooLarge(ws: WebSocket, from: Attachment, what: string): Promise<void> {
		const key = tallyKey(from);
		const tally = this.tallies.get(key) ?? emptyTally(from.role, from.principalId);
		this.tallies.set(key, countViolation(tally, `too-large:${what}`, Date.now()).next);
		closeQuietly(ws, CLOSE.TOO_LARGE);
		await this.summarize(from, "too-large");
	}

	/** A message that arrived after this actor closed its socket: dropped, but counted. */
	private async afterClose(from: Attachment): Promise<void> {
		const key = tallyKey(from);
		const tally = this.tallies.get(key) ?? emptyTally(from.role, from.principalId);
		const counted = {
			...tally,
			total: tally.total + 1,
			reasons: { ...tally.reasons, "after-close": (tally.reasons["after-close"] ?? 0) + 1 },
		};
		this.tallies.set(key, counted);
		await this.ctx.storage.put(key, counted);
	}

	/** Writes the principal's summary row if anything happened since its last one. */
	private async summarize(
		who: Pick<Attachment, "role" | "principalId" | "ip">,
		cause: SummaryCause,
	): Promise<void> {
		const key = tallyKey(who);
		const tally = this.tallies.get(key);
		if (!tally) return;
		const { next, row } = summarizeViolations(tally, cause);
		this.tallies.set(key, next);
		await this.ctx.storage.put(key, next);
		if (row) await this.audit([row], who, { keep: true });
	}

	/** Summary rows for every principal with unreported violations (the session ends). */
	private async summarizeAll(): Promise<void> {
		for (const tally of [...this.tallies.values()]) {
			await this.summarize(
				{ role: tally.role, principalId: tally.principalId, ip: null },
				"session-ended",
			);
		}
	}

	// --- ending -------------------------------------------------------------------------------

	private async finish(
		reason: "ended" | "expired" | "revoked",
		by: string | null,
		code: number,
	): Promise<void> {
		this.live = bump(this.live, {
			phase: "ended",
			shower: null,
			controller: null,
			endReason: reason,
		});
		await this.ctx.storage.put("live", this.live);
		const end: ServerMessage = { type: "end", reason };
		for (const socket of this.ctx.getWebSockets()) {
			this.send(socket, end);
			closeQuietly(socket, code);
		}
		await this.summarizeAll();
		await this.audit([{ type: "session.ended", data: { reason, by } }], null, { keep: true });
		await this.markEnded(reason);
		await this.queueProtocolMail();
	}

	// --- the protocol by e-mail ---------------------------------------------------------------

	/**
	 * Called once the session has ended (every end path): when its group mails protocols and
	 * SMTP is configured, writes the mail job and wakes the alarm, which sends it. The job is
	 * written once; a second end finds it and leaves it alone. A customer's address that will not
	 * be used is deleted here.
	 */
	private async queueProtocolMail(): Promise<void> {
		try {
			const record = this.record as SessionRecord;
			if (await this.ctx.storage.get("protocolMail")) return;
			const copy = await this.ctx.storage.get("protocolCopy");
			const mails = !!record.mailProtocol && isMailEnabled(this.env);
			if (!mails || !wasJoined(record, this.live)) {
				if (copy) await this.ctx.storage.delete("protocolCopy");
				return;
			}
			const job: MailJob = {
				v: 1,
				due: Date.now(),
				attempts: 0,
				supporter: "pending",
				customer: copy ? "pending" : "none",
			};
			await this.ctx.storage.put("protocolMail", job);
			await this.armAlarm();
		} catch (err) {
			this.log(`protocol mail not queued: ${(err as Error).name}`);
		}
	}

	/**
	 * Sends what the mail job still owes, from the alarm. Waits while records of the session are
	 * still kept (the excerpt must end with `session.ended`); the outbox retry comes back here.
	 * Each recipient is marked `sent` as soon as the SMTP server took its mail, so a restart
	 * sends nobody a second copy, unless it comes between the SMTP server's acceptance and that
	 * write. A failure is logged by class and status only, never with the address or the
	 * content, and tried again up to PROTOCOL_MAIL_ATTEMPTS times in all; a mail the mail
	 * service refused (4xx) is given up at once.
	 */
	private async runProtocolMail(): Promise<void> {
		const record = this.record;
		const job = await this.ctx.storage.get<MailJob>("protocolMail");
		if (!record || !job || Date.now() < job.due) return;
		const owed = (["supporter", "customer"] as const).filter((r) => job[r] === "pending");
		if (owed.length === 0) return;
		if ((await this.hasKept()) || (await this.ctx.storage.get("pendingEnd"))) return;
		const next: MailJob = { ...job };
		try {
			const db = this.database();
			const excerpt = await buildExcerpt(this.env, db, record.id);
			const events = sessionEvents(excerpt, record.id);
			const people = await this.summaryPeople(db);
			const file = excerpt.length <= MAX_EXCERPT_CHARS ? excerptFileName(record.id) : null;
			for (const to of owed) {
				const address =
					to === "supporter" ? people.supporter?.email : (await this.storedCopy())?.address;
				const langs: readonly MailLang[] =
					to === "supporter" ? MAIL_LANGS : [(await this.storedCopy())?.lang ?? "en"];
				if (!address) {
					this.log(`protocol mail to the ${to}: no address`);
					next[to] = "failed";
					continue;
				}
				// The customer's address was never confirmed: its copy names the supporter only.
				const named = to === "supporter" ? people : forCustomer(people);
				const text = langs
					.map((l) => summaryText(named, events, l, file))
					.join("\n\n----------------------------------------\n\n");
				const sent = await sendProtocolMail(this.env, {
					to: address,
					subject: subjectLine(langs, record.id),
					text,
					file,
					excerpt,
				});
				if (!sent.ok) {
					this.log(`protocol mail to the ${to} failed: ${sent.reason}`);
					// A mail the service refused fails the same way on every try: given up now.
					if (sent.final) next[to] = "failed";
					continue;
				}
				next[to] = "sent";
				// The marker first: from here on this recipient is never mailed again.
				await this.ctx.storage.put("protocolMail", next);
				if (to === "customer") await this.ctx.storage.delete("protocolCopy");
				await this.audit([{ type: "session.protocol_mailed", data: { to } }], null, {
					keep: true,
				});
			}
		} catch (err) {
			this.log(`protocol mail failed: ${(err as Error).name}`);
		}
		await this.afterMailTry(job, next);
	}

	/**
	 * Counts the try (`before` is the job as it was, `after` with this try's results); re-arms
	 * while tries are left, else gives up. A recipient that will not get its mail is written to
	 * the protocol once, and the customer's address is deleted then.
	 */
	private async afterMailTry(before: MailJob, after: MailJob): Promise<void> {
		const recipients = ["supporter", "customer"] as const;
		const next: MailJob = { ...after, attempts: before.attempts + 1 };
		const owed = recipients.filter((r) => next[r] === "pending");
		if (owed.length > 0 && next.attempts >= PROTOCOL_MAIL_ATTEMPTS)
			for (const r of owed) next[r] = "failed";
		else if (owed.length > 0)
			next.due = Date.now() + PROTOCOL_MAIL_RETRY_MS * 2 ** (next.attempts - 1);
		await this.ctx.storage.put("protocolMail", next);
		if (next.customer === "failed") await this.ctx.storage.delete("protocolCopy");
		for (const to of recipients.filter((r) => before[r] === "pending" && next[r] === "failed")) {
			await this.audit(
				[{ type: "session.protocol_mail_failed", data: { to, attempts: next.attempts } }],
				null,
				{ keep: true },
			);
		}
	}

	/** The customer's stored request, if any (parsed: storage is read like any other input). */
	private async storedCopy(): Promise<ProtocolCopy | null> {
		const parsed = protocolCopySchema.safeParse(await this.ctx.storage.get("protocolCopy"));
		return parsed.success ? parsed.data : null;
	}

	/** Who took part, for the summary: the supporter's account, the customer's or host's name. */
	private async summaryPeople(db: Db) {
		const record = this.record as SessionRecord;
		const [user, row, host] = await Promise.all([
			getUserById(db, record.supporterId),
			getSession(db, record.id),
			record.hostId ? getHost(db, record.hostId) : Promise.resolve(null),
		]);
		return {
			sessionId: record.id,
			kind: record.kind,
			supporter: user ? { name: user.displayName, email: user.email } : null,
			peerName: host?.name ?? row?.customerName ?? this.live.admission?.name ?? null,
		};
	}

	private async markEnded(reason: string): Promise<boolean> {
		try {
			const id = (this.record as SessionRecord).id;
			await markSessionEnded(this.database(), id, reason, new Date());
			await this.ctx.storage.delete("pendingEnd");
			return true;
		} catch (err) {
			// The actor's own state says ended (no ticket opens it again); the row is retried.
			this.log(`session row update failed: ${(err as Error).name}`);
			await this.ctx.storage.put("pendingEnd", reason);
			await this.scheduleRetry();
			return false;
		}
	}

	// --- helpers ------------------------------------------------------------------------------

	/**
	 * The one alarm serves the deadline, the idle timeout and the retry of kept records: it is set
	 * to the earliest of them, so arming one never pushes another back.
	 */
	private async armAlarm(): Promise<void> {
		const record = this.record;
		const times: number[] = [];
		const retryAt = await this.ctx.storage.get<number>("retryAt");
		if (retryAt !== undefined) times.push(retryAt);
		// A due protocol mail; while records are kept, the retry above comes first and sends it.
		const mail = await this.ctx.storage.get<MailJob>("protocolMail");
		if (
			mail &&
			retryAt === undefined &&
			(mail.supporter === "pending" || mail.customer === "pending")
		)
			times.push(mail.due);
		if (record && this.live.phase !== "ended") {
			const grace = record.idleGraceMs ?? IDLE_GRACE_MS;
			times.push(record.expiresAt);
			if (this.live.emptySince !== null) times.push(this.live.emptySince + grace);
			// Keepalive check: when the quietest open socket would time out. While anyone is
			// connected this also keeps a check pending that survives a crash of the runtime.
			for (const ws of this.ctx.getWebSockets()) {
				if (isOpen(ws) && readAttachment(ws)) times.push(this.lastSeen(ws) + PEER_TIMEOUT_MS);
			}
		}
		await armEarliest(this.ctx.storage, times);
	}

	/** Kept records (or a pending end of the session row) are retried after OUTBOX_RETRY_MS. */
	private async scheduleRetry(): Promise<void> {
		await this.ctx.storage.put("retryAt", Date.now() + OUTBOX_RETRY_MS);
		await this.armAlarm();
	}

	private connectedRoles(except?: WebSocket): Role[] {
		const roles = new Set<Role>();
		for (const ws of this.ctx.getWebSockets()) {
			if (ws === except || ws.readyState !== WebSocket.OPEN) continue;
			const a = readAttachment(ws);
			if (a) roles.add(a.role);
		}
		return [...roles].sort();
	}

	private broadcastState(except?: WebSocket): void {
		if (!this.record) return;
		const state: ServerMessage = {
			type: "state",
			state: publicState(this.record, this.live, this.connectedRoles(except)),
			// Lets each module correct its clock for the consent statements it signs.
			serverTime: Date.now(),
		};
		const text = JSON.stringify(state);
		for (const ws of this.ctx.getWebSockets()) if (ws !== except) this.deliver(ws, text);
	}

	private sendToRole(role: Role, message: string | ServerMessage): void {
		const text = typeof message === "string" ? message : JSON.stringify(message);
		for (const ws of this.ctx.getWebSockets(role)) this.deliver(ws, text);
	}

	private send(ws: WebSocket, message: ServerMessage): void {
		this.deliver(ws, JSON.stringify(message));
	}

	private sendError(ws: WebSocket, code: string, message: string): void {
		this.send(ws, { type: "error", code, message });
	}

	private database(): Db {
		this.db ??= createDb(bindingExecutor(this.env.DB, this.env.DB_TOKEN));
		return this.db;
	}

	/** The protocol rows for notes caused by `who` (null: the server itself). */
	private auditInputs(
		notes: AuditNote[],
		who: Pick<Attachment, "role" | "principalId" | "ip"> | null,
	): AuditInput[] {
		const record = this.record as SessionRecord;
		return notes.map((n) => ({
			type: n.type,
			actor: who ? `${who.role}:${who.principalId}` : null,
			sessionId: record.id,
			subject: record.supporterId,
			hostId: record.hostId ?? null,
			ip: who?.ip ?? null,
			data: n.data ?? null,
		}));
	}

	/** Appends to the protocol through the AuditLog; false if it could not be committed. */
	private async audit(
		notes: AuditNote[],
		who: Pick<Attachment, "role" | "principalId" | "ip"> | null,
		options: { keep?: boolean } = {},
	): Promise<boolean> {
		if (notes.length === 0) return true;
		const inputs = this.auditInputs(notes, who);
		if (options.keep) return this.writeOrKeep(null, inputs);
		return this.append(inputs);
	}

	/**
	 * Writes a record of something that already took effect (STOP, a withdrawal, the end, the
	 * violation counts): the consent row, if any, then the audit rows. Whatever cannot be written
	 * waits in actor storage, with the time it happened, and the alarm retries it until the
	 * protocol takes it; nothing committed to the actor is lost. Records kept earlier go first.
	 */
	private async writeOrKeep(consent: ConsentInput | null, audit: AuditInput[]): Promise<boolean> {
		let rest: KeptRecord = { ...(consent ? { consent } : {}), audit };
		if (await this.hasKept()) await this.flushOutbox();
		if (!(await this.hasKept())) {
			if (consent && (await this.writeConsent(consent))) rest = { audit };
			if (!rest.consent && (await this.append(audit))) return true;
		}
		const occurredAt = Date.now();
		const kept: KeptRecord = {
			...rest,
			audit: rest.audit.map((i) => ({ ...i, data: { ...i.data, occurredAt } })),
		};
		// Keys sort in the order records were kept: time, then a counter within the millisecond.
		this.keptCounter = (this.keptCounter + 1) % 1_000_000;
		const key = `${OUTBOX_PREFIX}${String(occurredAt).padStart(15, "0")}-${String(this.keptCounter).padStart(6, "0")}`;
		await this.ctx.storage.put(key, kept);
		await this.scheduleRetry();
		return false;
	}

	private async hasKept(): Promise<boolean> {
		if (await this.ctx.storage.get("outbox")) return true;
		return (await this.ctx.storage.list({ prefix: OUTBOX_PREFIX, limit: 1 })).size > 0;
	}

	private async writeConsent(consent: ConsentInput): Promise<boolean> {
		try {
			await recordConsent(this.database(), consent);
			return true;
		} catch (err) {
			this.log(`consent write failed: ${(err as Error).name}`);
			return false;
		}
	}

	/**
	 * Writes one kept record; its stored copy loses the consent row once that is in (so it is not
	 * written twice) and is deleted once all of it is in. False if any part failed.
	 */
	private async writeKept(key: string, entry: KeptRecord): Promise<boolean> {
		if (entry.consent) {
			if (!(await this.writeConsent(entry.consent))) return false;
			await this.ctx.storage.put(key, { audit: entry.audit } satisfies KeptRecord);
		}
		if (!(await this.append(entry.audit))) return false;
		await this.ctx.storage.delete(key);
		return true;
	}

	private async append(inputs: AuditInput[]): Promise<boolean> {
		try {
			const log = auditLogStub(this.env.AUDIT_LOG);
			const result = await log.append(inputs);
			if (!result.ok) this.log("audit append refused");
			return result.ok;
		} catch (err) {
			this.log(`audit append failed: ${(err as Error).name}`);
			return false;
		}
	}

	/** Writes kept records in order (and a pending end of the session row); re-arms while that fails. */
	private async flushOutbox(): Promise<void> {
		let written = true;
		// Records kept before each record had its own key.
		const legacy = (await this.ctx.storage.get<AuditInput[]>("outbox")) ?? [];
		if (legacy.length > 0) {
			written = await this.append(legacy);
			if (written) await this.ctx.storage.delete("outbox");
		}
		if (written) {
			const kept = await this.ctx.storage.list<KeptRecord>({ prefix: OUTBOX_PREFIX });
			for (const [key, entry] of kept) {
				written = await this.writeKept(key, entry);
				if (!written) break;
			}
		}
		const pendingEnd = await this.ctx.storage.get<string>("pendingEnd");
		const ended = !pendingEnd || (await this.markEnded(pendingEnd));
		if (!written || !ended) await this.scheduleRetry();
		else await this.ctx.storage.delete("retryAt");
	}

	private log(message: string): void {
		console.error(`[SessionActor ${this.record?.id ?? this.ctx.id.toString()}] ${message}`);
	}
}
