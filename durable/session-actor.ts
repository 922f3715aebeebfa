import { DurableObject } from "cloudflare:workers";
import * as z from "zod";
// A pure in-process registry without I/O; the one import from functions/ (see docs/architecture.md).
import { incrementCounter, trackWebSocket } from "../functions/lib/metrics.ts";
import { verifyKeyCommitment } from "../protocol/commitment.ts";
import {
	CLOSE,
	type ClientMessage,
	CONTROL_ERRORS,
	type ConsentMessage,
	closeReason,
	type Hello,
	isConsentMessage,
	parseControlFrame,
	type Role,
	roleSchema,
	type ServerMessage,
} from "../protocol/control.ts";
import { fromBase64url } from "../protocol/encoding.ts";
import { channelName, parseHeader } from "../protocol/frame.ts";
import { verifyStatement } from "../protocol/signature.ts";
import type { AuditInput } from "../schema/audit.ts";
import { recordConsent } from "../schema/consents.ts";
import { bindingExecutor, createDb, type Db, type DbBinding } from "../schema/db.ts";
import { markSessionEnded } from "../schema/sessions.ts";
import { AUDIT_LOG_NAME, type AuditLogNamespace } from "./audit-log-api.ts";
import { PRINCIPAL_HEADER, type SessionActorApi } from "./session-actor-api.ts";
import {
	type AuditNote,
	bump,
	type Decision,
	decide,
	initialState,
	type LiveState,
	mayForward,
	otherRole,
	publicState,
	type SessionRecord,
	STATEMENT_SKEW_MS,
} from "./session-rules.ts";

interface SessionEnv {
	DB: DbBinding;
	DB_TOKEN: string;
	AUDIT_LOG: AuditLogNamespace;
}

/** A participant that left may come back within this time before the session ends. */
export const IDLE_GRACE_MS = 10 * 60_000;
/** Violations (forbidden frames or messages) after which the offender's socket is closed. */
export const MAX_VIOLATIONS = 20;
/** How soon kept audit records are retried while the protocol cannot be written. */
const OUTBOX_RETRY_MS = 5_000;
/** At most one `policy.violation` audit row per socket in this interval (with a count). */
const VIOLATION_AUDIT_INTERVAL_MS = 10_000;

const principalSchema = z.strictObject({
	sessionId: z.string().min(1).max(128),
	role: roleSchema,
	principalId: z.string().min(1).max(128),
	jti: z.string().min(8).max(128),
	exp: z.int(),
	ip: z.string().max(64).nullable(),
});
type Principal = z.infer<typeof principalSchema>;

const attachmentSchema = z.object({
	v: z.literal(1),
	role: roleSchema,
	principalId: z.string(),
	ip: z.string().nullable(),
	violations: z.int(),
	unaudited: z.int(),
	lastAuditAt: z.number(),
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

/** Closes without ever sending the reserved codes 1005, 1006 or 1015, and never throws. */
function closeQuietly(ws: WebSocket, code: number): void {
	try {
		ws.close(code, closeReason(code));
	} catch {
		// Already closing or closed: nothing left to tell this socket.
	}
}

function sendQuietly(ws: WebSocket, data: string | ArrayBuffer): void {
	try {
		ws.send(data);
	} catch {
		// The socket went away between the lookup and the send; its close handler cleans up.
	}
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

	constructor(ctx: DurableObjectState, env: SessionEnv) {
		super(ctx, env);
		// Keepalives are answered by the runtime: an idle pair never wakes the actor.
		ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
		void ctx.blockConcurrencyWhile(async () => {
			this.record = await ctx.storage.get<SessionRecord>("record");
			this.live = (await ctx.storage.get<LiveState>("live")) ?? initialState();
		});
	}

	/** Called once by the issuing route. A second call keeps the first record and deadline. */
	async open(record: SessionRecord): Promise<void> {
		if (this.record) return;
		this.record = record;
		await this.ctx.storage.put({ record, live: this.live });
		await this.armAlarm();
	}

	/** Ends the session (supporter's request, admin, or expiry). False if it had already ended. */
	async end(reason: "ended" | "expired", by: string | null): Promise<boolean> {
		if (!this.record || this.live.phase === "ended") return false;
		await this.finish(reason, by, reason === "expired" ? CLOSE.EXPIRED : CLOSE.ENDED);
		return true;
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
		for (const old of this.ctx.getWebSockets(principal.role)) closeQuietly(old, CLOSE.REPLACED);
		this.ctx.acceptWebSocket(server, [principal.role]);
		writeAttachment(server, {
			v: 1,
			role: principal.role,
			principalId: principal.principalId,
			ip: principal.ip,
			violations: 0,
			unaudited: 0,
			lastAuditAt: 0,
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
			if (typeof message === "string") await this.onControl(ws, from, message);
			else await this.onFrame(ws, from, message);
		} catch (err) {
			// A bug must not take the session down with it; the sender learns nothing internal.
			this.log(`message handling failed: ${(err as Error).name}: ${(err as Error).message}`);
		}
	}

	override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
		const who = readAttachment(ws);
		trackWebSocket(-1);
		if (!who || !this.record || this.live.phase === "ended" || code === CLOSE.REPLACED) return;
		const connected = this.connectedRoles(ws);
		if (connected.includes(who.role)) return; // a newer socket of this role took over
		this.live = bump(this.live, { emptySince: connected.length === 0 ? Date.now() : null });
		await this.ctx.storage.put("live", this.live);
		this.broadcastState(ws);
		await this.armAlarm();
		await this.audit([{ type: "session.left", data: { role: who.role, code } }], who);
	}

	override async webSocketError(ws: WebSocket): Promise<void> {
		closeQuietly(ws, 1011);
	}

	override async alarm(): Promise<void> {
		await this.flushOutbox();
		if (!this.record || this.live.phase === "ended") return;
		const now = Date.now();
		const grace = this.record.idleGraceMs ?? IDLE_GRACE_MS;
		const idle = this.live.emptySince !== null && now - this.live.emptySince >= grace;
		if (now >= this.record.expiresAt || idle) {
			await this.finish("expired", null, CLOSE.EXPIRED); // idempotent, so a retried alarm is harmless
		} else {
			await this.armAlarm();
		}
	}

	// --- joining ------------------------------------------------------------------------------

	private async onJoin(ws: WebSocket, principal: Principal): Promise<void> {
		const record = this.record as SessionRecord;
		const first = !this.live.seen.includes(principal.role);
		this.live = bump(this.live, {
			emptySince: null,
			seen: first ? [...this.live.seen, principal.role] : this.live.seen,
		});
		await this.ctx.storage.put("live", this.live);
		await this.armAlarm();
		this.broadcastState();
		// A participant that resumes gets what it needs to carry on: the other side's hello and,
		// for the peer, the supporter's revealed key.
		const otherHello = this.live.hellos[principal.role === "supporter" ? "peer" : "supporter"];
		if (otherHello) this.send(ws, { type: "peer", hello: otherHello });
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
		if (msg.type === "stop") return this.onStop(ws, from, msg);
		// One control message at a time: each decision sees the state the previous one left.
		const run = this.queue.then(() => this.applyControl(ws, from, msg, text));
		this.queue = run.catch(() => undefined);
		await run;
	}

	private async applyControl(ws: WebSocket, from: Attachment, msg: ClientMessage, text: string) {
		const record = this.record as SessionRecord;
		const decision = decide(record, this.live, from.role, msg);
		if (!decision.ok) {
			this.sendError(ws, decision.code, decision.message);
			return this.violation(ws, from, `refused:${msg.type}`);
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

	/** Checks a consent statement: this session, a recent timestamp, signed by the sender's key. */
	private async verifyConsent(
		ws: WebSocket,
		from: Attachment,
		msg: ConsentMessage,
	): Promise<boolean> {
		const record = this.record as SessionRecord;
		const hello = this.live.hellos[from.role === "supporter" ? "supporter" : "peer"];
		const fresh = Math.abs(Date.now() - msg.statement.timestamp) <= STATEMENT_SKEW_MS;
		const valid =
			!!hello &&
			msg.statement.sessionId === record.id &&
			fresh &&
			(await verifyStatement(hello.ed25519, msg.statement, msg.signature));
		if (!valid) {
			this.sendError(ws, CONTROL_ERRORS.BAD_SIGNATURE, "the consent statement does not verify");
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
		if (signed && hello) {
			try {
				await recordConsent(this.database(), {
					sessionId: record.id,
					type: "stop",
					role: from.role,
					statement: msg.statement,
					signature: msg.signature,
					publicKey: hello.ed25519,
				});
			} catch (err) {
				this.log(`stop consent write failed: ${(err as Error).name}`);
			}
		}
		await this.audit(
			[
				{ type: "session.stopped", data },
				{ type: "session.ended", data: { reason: "stopped" } },
			],
			from,
			{ keep: true },
		);
		await this.markEnded("stopped");
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
		for (const peer of this.ctx.getWebSockets(otherRole(record, from.role)))
			sendQuietly(peer, frame);
	}

	/**
	 * Counts a forbidden frame or message against its socket. The relay, not the honest peer,
	 * stops a module that ignores the rules: after MAX_VIOLATIONS its socket is closed. Audit rows
	 * are rate-limited so a flood cannot flood the protocol.
	 */
	private async violation(ws: WebSocket, from: Attachment, reason: string): Promise<void> {
		const now = Date.now();
		const next: Attachment = {
			...from,
			violations: from.violations + 1,
			unaudited: from.unaudited + 1,
		};
		const dueAudit = now - from.lastAuditAt >= VIOLATION_AUDIT_INTERVAL_MS;
		if (dueAudit) {
			next.lastAuditAt = now;
			next.unaudited = 0;
		}
		try {
			writeAttachment(ws, next);
		} catch {
			// The socket is closed already; nothing to count against.
		}
		if (next.violations >= MAX_VIOLATIONS) closeQuietly(ws, CLOSE.POLICY_VIOLATION);
		if (dueAudit || next.violations >= MAX_VIOLATIONS) {
			await this.audit(
				[
					{
						type: "policy.violation",
						data: { role: from.role, reason, count: from.unaudited + 1, total: next.violations },
					},
				],
				from,
			);
		}
	}

	// --- ending -------------------------------------------------------------------------------

	private async finish(
		reason: "ended" | "expired",
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
		await this.audit([{ type: "session.ended", data: { reason, by } }], null, { keep: true });
		await this.markEnded(reason);
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
			await this.ctx.storage.setAlarm(Date.now() + OUTBOX_RETRY_MS);
			return false;
		}
	}

	// --- helpers ------------------------------------------------------------------------------

	private async armAlarm(): Promise<void> {
		const record = this.record;
		if (!record || this.live.phase === "ended") return;
		const grace = record.idleGraceMs ?? IDLE_GRACE_MS;
		const idleAt = this.live.emptySince !== null ? this.live.emptySince + grace : Infinity;
		await this.ctx.storage.setAlarm(Math.min(record.expiresAt, idleAt));
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
		};
		const text = JSON.stringify(state);
		for (const ws of this.ctx.getWebSockets()) if (ws !== except) sendQuietly(ws, text);
	}

	private sendToRole(role: Role, message: string | ServerMessage): void {
		const text = typeof message === "string" ? message : JSON.stringify(message);
		for (const ws of this.ctx.getWebSockets(role)) sendQuietly(ws, text);
	}

	private send(ws: WebSocket, message: ServerMessage): void {
		sendQuietly(ws, JSON.stringify(message));
	}

	private sendError(ws: WebSocket, code: string, message: string): void {
		this.send(ws, { type: "error", code, message });
	}

	private database(): Db {
		this.db ??= createDb(bindingExecutor(this.env.DB, this.env.DB_TOKEN));
		return this.db;
	}

	/** Appends to the protocol through the AuditLog; false if it could not be committed. */
	private async audit(
		notes: AuditNote[],
		who: Pick<Attachment, "role" | "principalId" | "ip"> | null,
		options: { keep?: boolean } = {},
	): Promise<boolean> {
		if (notes.length === 0) return true;
		const record = this.record as SessionRecord;
		const inputs: AuditInput[] = notes.map((n) => ({
			type: n.type,
			actor: who ? `${who.role}:${who.principalId}` : null,
			sessionId: record.id,
			subject: record.supporterId,
			hostId: record.hostId ?? null,
			ip: who?.ip ?? null,
			data: n.data ?? null,
		}));
		const ok = await this.append(inputs);
		if (!ok && options.keep) {
			// Records of what already took effect (STOP, the end) must not be lost: they wait in
			// actor storage, with the time they happened, until the protocol can take them.
			const occurredAt = Date.now();
			const kept = inputs.map((i) => ({ ...i, data: { ...i.data, occurredAt } }));
			const outbox = (await this.ctx.storage.get<AuditInput[]>("outbox")) ?? [];
			await this.ctx.storage.put("outbox", [...outbox, ...kept]);
			await this.ctx.storage.setAlarm(Date.now() + OUTBOX_RETRY_MS);
		}
		return ok;
	}

	private async append(inputs: AuditInput[]): Promise<boolean> {
		try {
			const log = this.env.AUDIT_LOG.get(this.env.AUDIT_LOG.idFromName(AUDIT_LOG_NAME));
			const result = await log.append(inputs);
			if (!result.ok) this.log("audit append refused");
			return result.ok;
		} catch (err) {
			this.log(`audit append failed: ${(err as Error).name}`);
			return false;
		}
	}

	/** Writes kept records (and a pending end of the session row); re-arms while that fails. */
	private async flushOutbox(): Promise<void> {
		const outbox = (await this.ctx.storage.get<AuditInput[]>("outbox")) ?? [];
		const pendingEnd = await this.ctx.storage.get<string>("pendingEnd");
		if (outbox.length === 0 && !pendingEnd) return;
		const written = outbox.length === 0 || (await this.append(outbox));
		if (written && outbox.length > 0) await this.ctx.storage.delete("outbox");
		const ended = !pendingEnd || (await this.markEnded(pendingEnd));
		if (!written || !ended) await this.ctx.storage.setAlarm(Date.now() + OUTBOX_RETRY_MS);
	}

	private log(message: string): void {
		console.error(`[SessionActor ${this.record?.id ?? this.ctx.id.toString()}] ${message}`);
	}
}
