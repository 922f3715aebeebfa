import { and, asc, desc, eq, gt, gte, inArray, lt, lte, or, type SQL, sql } from "drizzle-orm";
import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { chainHash, eventContent, GENESIS_HASH } from "../protocol/audit-chain.ts";
import type { AuditEventType } from "../protocol/audit-events.ts";
import type { Db } from "./db.ts";
import { groupMembers } from "./groups.ts";
import { hosts } from "./hosts.ts";
import { supportSessions } from "./sessions.ts";
import { users } from "./users.ts";

export { chainHash, GENESIS_HASH };

/**
 * The audit protocol: append-only and hash-chained (DESIGN §6). This file has inserts and selects
 * and no update or delete path. Each row's `hash` is SHA-256(prevHash ‖ canonical JSON of the
 * event), so editing, removing or reordering a row breaks every hash after it. Appends are
 * serialised by the AuditLog actor (durable/audit-log.ts); the admin CLI appends directly only
 * while the server is stopped.
 */
export const auditEvents = sqliteTable(
	"audit_events",
	{
		/** Insertion order; SQLite assigns it. */
		seq: integer("seq").primaryKey({ autoIncrement: true }),
		id: text("id").notNull().unique(),
		ts: integer("ts", { mode: "timestamp_ms" }).notNull(),
		/** Dotted event name, e.g. `user.login`. */
		type: text("type").notNull(),
		/** Who acted: a user id, `cli`, a role in a session, or null for an anonymous caller. */
		actor: text("actor"),
		/** What the event is about, e.g. the user id a failed login targeted. */
		subject: text("subject"),
		sessionId: text("session_id"),
		hostId: text("host_id"),
		/** The client address the worker saw, if any. */
		ip: text("ip"),
		/** Event details as JSON; never passwords, tokens, codes or session payloads. */
		data: text("data", { mode: "json" }).$type<Record<string, unknown>>(),
		/** Hash of the previous row (64 zeros for the first). */
		prevHash: text("prev_hash").notNull(),
		/** SHA-256(prevHash ‖ canonical JSON of the event), hex. */
		hash: text("hash").notNull().unique(),
	},
	(t) => [
		index("audit_events_type_idx").on(t.type, t.seq),
		index("audit_events_session_idx").on(t.sessionId, t.seq),
		// Time ranges of the list, the export and retention.
		index("audit_events_ts_idx").on(t.ts),
	],
);

export type AuditEvent = typeof auditEvents.$inferSelect;
export type AuditInput = { type: AuditEventType } & Partial<
	Omit<AuditEvent, "seq" | "id" | "ts" | "type" | "prevHash" | "hash">
>;

/** The hashed part of an event, in the form verifiers recompute (protocol/audit-chain.ts). */
export function chainedContent(e: Omit<AuditEvent, "seq" | "prevHash" | "hash">) {
	return eventContent({ ...e, ts: e.ts.getTime() });
}

/** The hash of the newest row, or the genesis value for an empty protocol. */
export async function getChainHead(db: Db): Promise<string> {
	const [row] = await db
		.select({ hash: auditEvents.hash })
		.from(auditEvents)
		.orderBy(desc(auditEvents.seq))
		.limit(1);
	return row?.hash ?? GENESIS_HASH;
}

/** Builds the rows that chain `inputs` after `head`, without writing them. */
export async function prepareChained(
	head: string,
	inputs: AuditInput[],
	now = new Date(),
): Promise<{ rows: Omit<AuditEvent, "seq">[]; head: string }> {
	const rows: Omit<AuditEvent, "seq">[] = [];
	let prev = head;
	for (const input of inputs) {
		const base = {
			id: crypto.randomUUID(),
			ts: now,
			type: input.type,
			actor: input.actor ?? null,
			subject: input.subject ?? null,
			sessionId: input.sessionId ?? null,
			hostId: input.hostId ?? null,
			ip: input.ip ?? null,
			data: input.data ?? null,
		};
		const hash = await chainHash(prev, chainedContent(base));
		rows.push({ ...base, prevHash: prev, hash });
		prev = hash;
	}
	return { rows, head: prev };
}

/**
 * Appends events after `head` in one transaction and returns the rows and the new head. The
 * caller serialises calls (one writer); if the batch fails nothing is written and the head stays.
 */
export async function appendChained(
	db: Db,
	head: string,
	inputs: AuditInput[],
): Promise<{ rows: Omit<AuditEvent, "seq">[]; head: string }> {
	const prepared = await prepareChained(head, inputs);
	const [first, ...rest] = prepared.rows.map((r) => db.insert(auditEvents).values(r));
	if (first) await db.batch([first, ...rest]);
	return prepared;
}

/** The newest events first, optionally of one type, about one subject or in one session. */
export async function listAuditEvents(
	db: Db,
	filter: { type?: string; subject?: string; sessionId?: string; limit?: number } = {},
): Promise<AuditEvent[]> {
	const where: SQL[] = [];
	if (filter.type) where.push(eq(auditEvents.type, filter.type));
	if (filter.subject) where.push(eq(auditEvents.subject, filter.subject));
	if (filter.sessionId) where.push(eq(auditEvents.sessionId, filter.sessionId));
	return db
		.select()
		.from(auditEvents)
		.where(where.length ? and(...where) : undefined)
		.orderBy(desc(auditEvents.seq))
		.limit(Math.min(filter.limit ?? 100, 1000));
}

/** Events with afterSeq < seq ≤ throughSeq in chain order, at most `limit` (the export's pages). */
export async function listChain(
	db: Db,
	afterSeq = 0,
	limit = 1000,
	throughSeq = Number.MAX_SAFE_INTEGER,
): Promise<AuditEvent[]> {
	return db
		.select()
		.from(auditEvents)
		.where(and(gt(auditEvents.seq, afterSeq), lte(auditEvents.seq, throughSeq)))
		.orderBy(asc(auditEvents.seq))
		.limit(limit);
}

/** Recomputes the chain of `rows` (in order) from `head`; returns the first bad seq or null. */
export async function findChainBreak(
	rows: AuditEvent[],
	head = GENESIS_HASH,
): Promise<number | null> {
	let prev = head;
	for (const row of rows) {
		if (row.prevHash !== prev) return row.seq;
		if ((await chainHash(prev, chainedContent(row))) !== row.hash) return row.seq;
		prev = row.hash;
	}
	return null;
}

/** The newest event's place in the chain, or null for an empty table. */
export async function getChainHeadRow(db: Db): Promise<{ seq: number; hash: string } | null> {
	const [row] = await db
		.select({ seq: auditEvents.seq, hash: auditEvents.hash })
		.from(auditEvents)
		.orderBy(desc(auditEvents.seq))
		.limit(1);
	return row ?? null;
}

/**
 * What a supporter may read of the protocol: the events of the sessions it issued, and those
 * about the hosts of its groups.
 */
function ofSupporter(supporterId: string): SQL {
	return sql`(${auditEvents.sessionId} IN (SELECT ${supportSessions.id} FROM ${supportSessions} WHERE ${supportSessions.supporterId} = ${supporterId}) OR ${auditEvents.hostId} IN (SELECT ${hosts.id} FROM ${hosts} INNER JOIN ${groupMembers} ON ${groupMembers.groupId} = ${hosts.groupId} WHERE ${groupMembers.userId} = ${supporterId}))`;
}

export interface AuditFilter {
	sessionId?: string;
	hostId?: string;
	/** Events by or about this user, including those of the sessions they ran. */
	userId?: string;
	/** An exact type, or a prefix ending in `.` or `.*` (`session.` matches every session event). */
	type?: string;
	/** Time range in ms, `from` inclusive, `to` exclusive. */
	from?: number;
	to?: number;
	/** Only events of this supporter's sessions (a supporter's own view). */
	supporterId?: string;
	/** Paging: only events with a smaller seq. */
	beforeSeq?: number;
	limit?: number;
}

/** A page of events, newest first, matching every given filter. */
export async function listAuditPage(db: Db, f: AuditFilter): Promise<AuditEvent[]> {
	const where: SQL[] = [];
	if (f.sessionId) where.push(eq(auditEvents.sessionId, f.sessionId));
	if (f.hostId) where.push(eq(auditEvents.hostId, f.hostId));
	if (f.userId) {
		where.push(
			or(
				eq(auditEvents.actor, f.userId),
				eq(auditEvents.subject, f.userId),
				eq(auditEvents.actor, `supporter:${f.userId}`),
			) as SQL,
		);
	}
	if (f.type) {
		const prefix = f.type.endsWith(".*") ? f.type.slice(0, -1) : f.type;
		where.push(
			prefix.endsWith(".")
				? (and(
						gte(auditEvents.type, prefix),
						lt(auditEvents.type, `${prefix.slice(0, -1)}/`),
					) as SQL)
				: eq(auditEvents.type, f.type),
		);
	}
	if (f.from !== undefined) where.push(gte(auditEvents.ts, new Date(f.from)));
	if (f.to !== undefined) where.push(lt(auditEvents.ts, new Date(f.to)));
	if (f.supporterId) where.push(ofSupporter(f.supporterId));
	if (f.beforeSeq !== undefined) where.push(lt(auditEvents.seq, f.beforeSeq));
	return db
		.select()
		.from(auditEvents)
		.where(where.length ? and(...where) : undefined)
		.orderBy(desc(auditEvents.seq))
		.limit(Math.min(Math.max(f.limit ?? 100, 1), 1000));
}

/** The seq range of events in a time range or of one session; null when nothing matches. */
export async function getSeqRange(
	db: Db,
	f: { from?: number; to?: number; sessionId?: string },
): Promise<{ first: number; last: number } | null> {
	const where: SQL[] = [];
	if (f.sessionId) where.push(eq(auditEvents.sessionId, f.sessionId));
	if (f.from !== undefined) where.push(gte(auditEvents.ts, new Date(f.from)));
	if (f.to !== undefined) where.push(lt(auditEvents.ts, new Date(f.to)));
	const [row] = await db
		.select({
			first: sql<number | null>`min(${auditEvents.seq})`,
			last: sql<number | null>`max(${auditEvents.seq})`,
		})
		.from(auditEvents)
		.where(where.length ? and(...where) : undefined);
	return row && row.first !== null && row.last !== null
		? { first: Number(row.first), last: Number(row.last) }
		: null;
}

/**
 * Which of `events` a supporter may read (see ofSupporter): the export asks per page, so the
 * rule stays the one the list route applies in SQL.
 */
export async function filterVisibleTo(
	db: Db,
	supporterId: string,
	events: Pick<AuditEvent, "seq">[],
): Promise<Set<number>> {
	const first = events[0]?.seq;
	const last = events.at(-1)?.seq;
	if (first === undefined || last === undefined) return new Set();
	const rows = await db
		.select({ seq: auditEvents.seq })
		.from(auditEvents)
		.where(and(gte(auditEvents.seq, first), lte(auditEvents.seq, last), ofSupporter(supporterId)));
	return new Set(rows.map((r) => r.seq));
}

/** The session events the evaluation reads (durations come from these, docs/audit.md). */
export const REPORT_EVENT_TYPES = [
	"session.issued",
	"session.joined",
	"session.resumed",
	"session.left",
	"session.ended",
	"control.granted",
	"control.revoked",
	"view.switched",
] as const;

/** A session issued in the range, with what the report groups by. */
export interface ReportSession {
	id: string;
	kind: string;
	supporterId: string;
	supporterEmail: string | null;
	customerName: string | null;
	hostId: string | null;
	hostName: string | null;
	createdAt: Date;
}

/**
 * The sessions issued in [from, to) (of one supporter, if given) and their events of
 * {@link REPORT_EVENT_TYPES}, oldest first.
 */
export async function listReportInput(
	db: Db,
	f: { from: number; to: number; supporterId?: string },
): Promise<{
	sessions: ReportSession[];
	events: Pick<AuditEvent, "sessionId" | "type" | "ts" | "data">[];
}> {
	const inRange = and(
		gte(supportSessions.createdAt, new Date(f.from)),
		lt(supportSessions.createdAt, new Date(f.to)),
		f.supporterId ? eq(supportSessions.supporterId, f.supporterId) : undefined,
	);
	const sessions = await db
		.select({
			id: supportSessions.id,
			kind: supportSessions.kind,
			supporterId: supportSessions.supporterId,
			supporterEmail: users.email,
			customerName: supportSessions.customerName,
			hostId: supportSessions.hostId,
			hostName: hosts.name,
			createdAt: supportSessions.createdAt,
		})
		.from(supportSessions)
		.leftJoin(users, eq(users.id, supportSessions.supporterId))
		.leftJoin(hosts, eq(hosts.id, supportSessions.hostId))
		.where(inRange)
		.orderBy(asc(supportSessions.createdAt));
	if (sessions.length === 0) return { sessions, events: [] };
	const ids = db.select({ id: supportSessions.id }).from(supportSessions).where(inRange);
	const events = await db
		.select({
			sessionId: auditEvents.sessionId,
			type: auditEvents.type,
			ts: auditEvents.ts,
			data: auditEvents.data,
		})
		.from(auditEvents)
		.where(
			and(inArray(auditEvents.sessionId, ids), inArray(auditEvents.type, [...REPORT_EVENT_TYPES])),
		)
		.orderBy(asc(auditEvents.seq));
	return { sessions, events };
}

/** The id at the end of an actor or subject (`supporter:<id>`, `customer:customer:<id>`, `<id>`). */
export function auditPartyId(party: string): string {
	return party.slice(party.lastIndexOf(":") + 1);
}

/**
 * Readable names for the parties of some events, by id: users as `Display name (e-mail)`, hosts by
 * their name, sessions by the name their customer joined with. Ids without a row (a deleted host
 * or user, a session nobody joined) are left out, and the reader shows the id instead.
 */
export async function getAuditNames(
	db: Db,
	events: Pick<AuditEvent, "actor" | "subject" | "sessionId" | "hostId">[],
): Promise<Record<string, string>> {
	const ids = new Set<string>();
	for (const e of events) {
		for (const party of [e.actor, e.subject]) if (party) ids.add(auditPartyId(party));
		if (e.sessionId) ids.add(e.sessionId);
		if (e.hostId) ids.add(e.hostId);
	}
	if (ids.size === 0) return {};
	const list = [...ids];
	const [people, machines, sessions] = await Promise.all([
		db
			.select({ id: users.id, email: users.email, displayName: users.displayName })
			.from(users)
			.where(inArray(users.id, list)),
		db.select({ id: hosts.id, name: hosts.name }).from(hosts).where(inArray(hosts.id, list)),
		db
			.select({ id: supportSessions.id, name: supportSessions.customerName })
			.from(supportSessions)
			.where(inArray(supportSessions.id, list)),
	]);
	const names: Record<string, string> = {};
	for (const s of sessions) if (s.name) names[s.id] = s.name;
	for (const h of machines) names[h.id] = h.name;
	for (const u of people) names[u.id] = u.displayName ? `${u.displayName} (${u.email})` : u.email;
	return names;
}
