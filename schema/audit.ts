import { and, asc, desc, eq, gt, type SQL } from "drizzle-orm";
import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { canonicalJson } from "../protocol/canonical.ts";
import type { Db } from "./db.ts";

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
	],
);

export type AuditEvent = typeof auditEvents.$inferSelect;
export type AuditInput = Pick<AuditEvent, "type"> &
	Partial<Omit<AuditEvent, "seq" | "id" | "ts" | "type" | "prevHash" | "hash">>;

/** The chain's starting value. */
export const GENESIS_HASH = "0".repeat(64);

/** The hashed part of an event, in the form verifiers recompute. */
export function chainedContent(e: Omit<AuditEvent, "seq" | "prevHash" | "hash">) {
	return {
		id: e.id,
		ts: e.ts.getTime(),
		type: e.type,
		actor: e.actor,
		subject: e.subject,
		sessionId: e.sessionId,
		hostId: e.hostId,
		ip: e.ip,
		data: e.data,
	};
}

/** SHA-256(prevHash ‖ canonical JSON of the event), lower-case hex. */
export async function chainHash(prevHash: string, content: unknown): Promise<string> {
	const bytes = new TextEncoder().encode(prevHash + canonicalJson(content));
	const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
	return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
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

/**
 * Appends events after `head` in one transaction and returns the rows and the new head. The
 * caller serialises calls (one writer); if the batch fails nothing is written and the head stays.
 */
export async function appendChained(
	db: Db,
	head: string,
	inputs: AuditInput[],
): Promise<{ rows: Omit<AuditEvent, "seq">[]; head: string }> {
	const rows: Omit<AuditEvent, "seq">[] = [];
	let prev = head;
	for (const input of inputs) {
		const base = {
			id: crypto.randomUUID(),
			ts: new Date(),
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
	const [first, ...rest] = rows.map((r) => db.insert(auditEvents).values(r));
	if (first) await db.batch([first, ...rest]);
	return { rows, head: prev };
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

/** Every event in insertion order (verification and export). */
export async function listChain(db: Db, afterSeq = 0, limit = 1000): Promise<AuditEvent[]> {
	return db
		.select()
		.from(auditEvents)
		.where(gt(auditEvents.seq, afterSeq))
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
