import { DurableObject } from "cloudflare:workers";
import * as z from "zod";
import { CLOSE } from "../protocol/control.ts";
import { toBase64url } from "../protocol/encoding.ts";
import {
	hostPresenceMessageSchema,
	MAX_PRESENCE_MESSAGE_BYTES,
	PRESENCE_PING,
	PRESENCE_PONG,
	PRESENCE_TIMEOUT_MS,
} from "../protocol/host.ts";
import { bindingExecutor, createDb, type Db, type DbBinding } from "../schema/db.ts";
import { setHostPresence } from "../schema/hosts.ts";
// A pure in-process registry without I/O; the one import from functions/ (see docs/architecture.md).
import { armEarliest } from "./alarm.ts";
import { type AuditLogNamespace, auditLogStub } from "./audit-log-api.ts";
import {
	CHALLENGE_TTL_MS,
	HOST_PRINCIPAL_HEADER,
	type HostActorApi,
	type SessionNotice,
} from "./host-actor-api.ts";
import { incrementCounter, trackWebSocket } from "./metrics.ts";
import {
	initialPresenceAudit,
	type OfflineCause,
	type PresenceAudit,
	type PresenceChange,
	type PresenceNote,
	presenceChange,
	presenceReconcile,
	presenceReconcileAt,
} from "./presence-audit.ts";
import { answerClose, closeQuietly, guarded, sendQuietly } from "./sockets.ts";

interface HostEnv {
	DB: DbBinding;
	DB_TOKEN: string;
	AUDIT_LOG: AuditLogNamespace;
}

/** While online, `last_seen_at` is written at most this often: heartbeats come every 10 s. */
export const LAST_SEEN_WRITE_MS = 60_000;
/** At most this many open challenges; the oldest goes first (a flood cannot grow storage). */
const MAX_CHALLENGES = 32;

const principalSchema = z.strictObject({
	hostId: z.string().min(1).max(64),
	jti: z.string().min(8).max(128),
	exp: z.int(),
	ip: z.string().max(64).nullable(),
});

/** What the actor keeps between wake-ups; small, no queues. */
interface Presence {
	hostId: string | null;
	/** Open challenges: nonce → expiry (ms). */
	challenges: Record<string, number>;
	/** Consumed ticket ids → expiry (ms), kept until the ticket could no longer be used anyway. */
	usedTickets: Record<string, number>;
	online: boolean;
	lastBeatAt: number | null;
	lastSeenWrittenAt: number;
	/** What the protocol shows of this host's presence (rate limit of host.online/offline). */
	audit?: PresenceAudit;
	/** The client address of the current presence socket, for its `host.online` row. */
	ip?: string | null;
}

function initialPresence(): Presence {
	return {
		hostId: null,
		challenges: {},
		usedTickets: {},
		online: false,
		lastBeatAt: null,
		lastSeenWrittenAt: 0,
	};
}

/**
 * One per enrolled host: its presence socket, online state and last-seen time, the challenge
 * nonces that replace a bearer secret, and the notices of incoming sessions. The host agent pings
 * every 10 s and the runtime answers without waking the actor; the one alarm fires
 * PRESENCE_TIMEOUT_MS after the last keepalive it knows of, reads the time of the last answered
 * ping and either re-arms or marks the host offline, so a host that vanishes without closing its
 * socket (power loss, a cut cable) is offline within 30 s and a live one wakes the actor about
 * once per 25 s instead of every 10 s. A JSON heartbeat (older agents) still works and wakes it.
 */
export class HostActor extends DurableObject<HostEnv> implements HostActorApi {
	private state: Presence = initialPresence();
	private db: Db | undefined;

	constructor(ctx: DurableObjectState, env: HostEnv) {
		super(ctx, env);
		// A keepalive the runtime answers without waking the actor; the alarm reads its time
		// (getWebSocketAutoResponseTimestamp), so an agent that pings instead of sending heartbeats
		// stays online at no cost per ping.
		ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PRESENCE_PING, PRESENCE_PONG));
		void ctx.blockConcurrencyWhile(async () => {
			this.state = (await ctx.storage.get<Presence>("presence")) ?? initialPresence();
		});
	}

	/** A fresh single-use nonce for the host to sign. */
	async challenge(hostId: string): Promise<{ nonce: string; expiresAt: number }> {
		const now = Date.now();
		const nonce = toBase64url(crypto.getRandomValues(new Uint8Array(32)));
		const expiresAt = now + CHALLENGE_TTL_MS;
		const open = Object.entries(this.state.challenges)
			.filter(([, exp]) => exp > now)
			.sort((a, b) => a[1] - b[1])
			.slice(-(MAX_CHALLENGES - 1));
		this.state = {
			...this.state,
			hostId: this.state.hostId ?? hostId,
			challenges: { ...Object.fromEntries(open), [nonce]: expiresAt },
		};
		await this.save();
		return { nonce, expiresAt };
	}

	/** True exactly once for an issued, unexpired nonce; it is gone either way afterwards. */
	async consumeChallenge(nonce: string): Promise<boolean> {
		const exp = this.state.challenges[nonce];
		if (exp === undefined) return false;
		const { [nonce]: _used, ...rest } = this.state.challenges;
		this.state = { ...this.state, challenges: rest };
		await this.save();
		return exp > Date.now();
	}

	/** Online state as the actor sees it. */
	async status(): Promise<{ online: boolean; lastBeatAt: number | null }> {
		return { online: this.isOnline(), lastBeatAt: this.state.lastBeatAt };
	}

	/** Pushes an incoming-session notice to the host; false when it is not connected. */
	async notify(notice: SessionNotice): Promise<boolean> {
		const sockets = this.ctx.getWebSockets();
		if (!this.isOnline() || sockets.length === 0) return false;
		let sent = false;
		for (const ws of sockets) {
			try {
				ws.send(JSON.stringify(notice));
				sent = true;
			} catch {
				// The socket went away between the lookup and the send; its close handler cleans up.
			}
		}
		return sent;
	}

	/** Closes the presence socket (host disabled or deleted) and marks it offline. */
	async disconnect(): Promise<void> {
		for (const ws of this.ctx.getWebSockets()) closeQuietly(ws, CLOSE.ENDED);
		await this.goOffline("disabled");
	}

	/** Presence upgrades only; the ticket was verified in functions/, its jti is consumed here. */
	override async fetch(request: Request): Promise<Response> {
		let header: unknown = null;
		try {
			header = JSON.parse(request.headers.get(HOST_PRINCIPAL_HEADER) ?? "null");
		} catch {
			header = null; // never set by anyone but the upgrade route; refused below
		}
		const parsed = principalSchema.safeParse(header);
		if (!parsed.success) return new Response("not found", { status: 404 });
		const principal = parsed.data;
		if (this.state.usedTickets[principal.jti] !== undefined) {
			return new Response("ticket used", { status: 401 });
		}
		const now = Date.now();
		const usedTickets = Object.fromEntries(
			Object.entries(this.state.usedTickets).filter(([, exp]) => exp * 1000 > now - 10_000),
		);
		usedTickets[principal.jti] = principal.exp;
		this.state = { ...this.state, hostId: principal.hostId, usedTickets };
		await this.save();

		// A host that reconnects replaces its old socket, which may be a half-dead one.
		for (const old of this.ctx.getWebSockets()) closeQuietly(old, CLOSE.REPLACED);
		const { 0: client, 1: server } = new WebSocketPair();
		this.ctx.acceptWebSocket(server, ["host"]);
		trackWebSocket(1);
		const wasOnline = this.state.online;
		this.state = {
			...this.state,
			online: true,
			lastBeatAt: now,
			lastSeenWrittenAt: now,
			ip: principal.ip,
		};
		await this.save();
		await this.armAlarm();
		await this.writePresence(wasOnline ? { lastSeenAt: new Date(now) } : "online");
		if (!wasOnline) await this.auditPresence({ online: true });
		return new Response(null, { status: 101, webSocket: client });
	}

	override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
		// Size first, in UTF-16 units for text (at least as strict as bytes for ASCII heartbeats).
		const size = typeof message === "string" ? message.length : message.byteLength;
		if (size > MAX_PRESENCE_MESSAGE_BYTES) return closeQuietly(ws, CLOSE.TOO_LARGE);
		if (typeof message !== "string") return closeQuietly(ws, CLOSE.BAD_FRAME);
		let json: unknown = null;
		try {
			json = JSON.parse(message);
		} catch {
			json = null; // refused below like any other malformed message
		}
		const parsed = hostPresenceMessageSchema.safeParse(json);
		if (!parsed.success) return closeQuietly(ws, CLOSE.BAD_FRAME);
		incrementCounter(
			"fernwart_presence_heartbeats_total",
			"JSON heartbeats that woke a host actor (agents that ping instead wake none).",
		);
		const now = Date.now();
		const writeDue = now - this.state.lastSeenWrittenAt >= LAST_SEEN_WRITE_MS;
		this.state = {
			...this.state,
			online: true,
			lastBeatAt: now,
			lastSeenWrittenAt: writeDue ? now : this.state.lastSeenWrittenAt,
		};
		await guarded("HostActor", "heartbeat", async () => {
			await this.save();
			await this.armAlarm();
			sendQuietly(ws, JSON.stringify({ type: "heartbeat.ack", at: now }));
			if (writeDue) await this.writePresence({ lastSeenAt: new Date(now) });
		});
	}

	override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
		answerClose(ws, code, reason);
		trackWebSocket(-1);
		const others = this.ctx.getWebSockets().filter((s) => s !== ws);
		if (others.length === 0)
			await guarded("HostActor", "close handling", () => this.goOffline("closed"));
	}

	override async webSocketError(ws: WebSocket): Promise<void> {
		closeQuietly(ws, 1011);
	}

	/** Presence timeout and housekeeping; idempotent, so a retried alarm is harmless. */
	override async alarm(): Promise<void> {
		const now = Date.now();
		const pinged = this.lastPing();
		if (this.state.online && pinged > (this.state.lastBeatAt ?? 0)) {
			const writeDue = now - this.state.lastSeenWrittenAt >= LAST_SEEN_WRITE_MS;
			this.state = {
				...this.state,
				lastBeatAt: pinged,
				lastSeenWrittenAt: writeDue ? now : this.state.lastSeenWrittenAt,
			};
			if (writeDue) await this.writePresence({ lastSeenAt: new Date(pinged) });
		}
		if (this.state.online) {
			const silentFor = now - (this.state.lastBeatAt ?? 0);
			if (silentFor >= PRESENCE_TIMEOUT_MS) {
				// The socket may look open to us while its peer is long gone: close it ourselves.
				for (const ws of this.ctx.getWebSockets()) closeQuietly(ws, CLOSE.EXPIRED);
				await this.goOffline("heartbeat-timeout");
				return;
			}
		}
		if (this.state.audit) {
			const { next, note } = presenceReconcile(this.state.audit, this.state.online, now);
			this.state = { ...this.state, audit: next };
			if (note) await this.appendAudit(note);
		}
		this.state = {
			...this.state,
			challenges: Object.fromEntries(
				Object.entries(this.state.challenges).filter(([, exp]) => exp > now),
			),
		};
		await this.save();
		await this.armAlarm();
	}

	// --- helpers ------------------------------------------------------------------------------

	/** The newest keepalive the runtime answered on an open presence socket (0 if none). */
	private lastPing(): number {
		let newest = 0;
		for (const ws of this.ctx.getWebSockets()) {
			const at = this.ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? 0;
			if (ws.readyState === WebSocket.OPEN) newest = Math.max(newest, at);
		}
		return newest;
	}

	private isOnline(): boolean {
		const last = Math.max(this.state.lastBeatAt ?? 0, this.lastPing());
		return this.state.online && last > 0 && Date.now() - last < PRESENCE_TIMEOUT_MS;
	}

	private async goOffline(cause: OfflineCause): Promise<void> {
		if (!this.state.online) return;
		this.state = { ...this.state, online: false };
		await this.save();
		await this.armAlarm();
		await this.writePresence("offline");
		await this.auditPresence({ online: false, cause });
	}

	/** A presence change for the protocol, rate-limited by presenceChange (presence-audit.ts). */
	private async auditPresence(change: PresenceChange): Promise<void> {
		const { next, note } = presenceChange(
			this.state.audit ?? initialPresenceAudit(),
			change,
			Date.now(),
		);
		this.state = { ...this.state, audit: next };
		await this.save();
		await this.armAlarm();
		if (note) await this.appendAudit(note);
	}

	/**
	 * Appends one presence row through the AuditLog. Presence is a record, not a consent: a failed
	 * append is logged and the actor goes on (the next change writes the then current state).
	 */
	private async appendAudit(note: PresenceNote): Promise<void> {
		const hostId = this.state.hostId;
		if (!hostId) return;
		try {
			const log = auditLogStub(this.env.AUDIT_LOG);
			const result = await log.append([
				{
					type: note.type,
					actor: `host:${hostId}`,
					subject: null,
					sessionId: null,
					hostId,
					ip: note.type === "host.online" ? (this.state.ip ?? null) : null,
					data: note.data,
				},
			]);
			if (!result.ok) console.error(`[HostActor ${hostId}] audit append refused`);
		} catch (err) {
			console.error(`[HostActor ${hostId}] audit append failed: ${(err as Error).name}`);
		}
	}

	private async armAlarm(): Promise<void> {
		const pending = Object.values(this.state.challenges);
		const times = [
			...(this.state.online && this.state.lastBeatAt !== null
				? [this.state.lastBeatAt + PRESENCE_TIMEOUT_MS]
				: []),
			...(pending.length > 0 ? [Math.min(...pending)] : []),
		];
		const reconcileAt = this.state.audit
			? presenceReconcileAt(this.state.audit, this.state.online)
			: null;
		if (reconcileAt !== null) times.push(reconcileAt);
		await armEarliest(this.ctx.storage, times);
	}

	private async save(): Promise<void> {
		await this.ctx.storage.put("presence", this.state);
	}

	/**
	 * The host list reads presence from the database, so transitions are written at once and
	 * last-seen times throttled. A failed write is logged, not fatal: the next transition or
	 * heartbeat writes again, and the actor's own state stays right.
	 */
	private async writePresence(change: "online" | "offline" | { lastSeenAt: Date }): Promise<void> {
		const hostId = this.state.hostId;
		if (!hostId) return;
		const now = new Date();
		const presence =
			change === "online"
				? { onlineSince: now, lastSeenAt: now }
				: change === "offline"
					? { onlineSince: null, lastSeenAt: new Date(this.state.lastBeatAt ?? now.getTime()) }
					: change;
		try {
			this.db ??= createDb(bindingExecutor(this.env.DB, this.env.DB_TOKEN));
			await setHostPresence(this.db, hostId, presence);
		} catch (err) {
			console.error(`[HostActor ${hostId}] presence write failed: ${(err as Error).name}`);
		}
	}
}
