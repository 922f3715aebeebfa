import { and, desc, eq, type SQL } from "drizzle-orm";
import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import type { Db } from "./db.ts";

/**
 * The audit protocol. Append-only: this file has an insert and selects, and no update or delete
 * path exists. The hash chain and signed checkpoints (DESIGN.md §6) come with the AuditLog actor;
 * until then rows are plain inserts, and the columns are general enough for every event kind.
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
		/** Who acted: a user id, `cli`, or null for an anonymous caller. */
		actor: text("actor"),
		/** What the event is about, e.g. the user id a failed login targeted. */
		subject: text("subject"),
		sessionId: text("session_id"),
		hostId: text("host_id"),
		/** The client address the worker saw, if any. */
		ip: text("ip"),
		/** Event details as JSON; never passwords, tokens or codes. */
		data: text("data", { mode: "json" }).$type<Record<string, unknown>>(),
	},
	(t) => [index("audit_events_type_idx").on(t.type, t.seq)],
);

export type AuditEvent = typeof auditEvents.$inferSelect;
export type AuditInput = Pick<AuditEvent, "type"> &
	Partial<Omit<AuditEvent, "seq" | "id" | "ts" | "type">>;

/** Appends one event and returns it with its id and time. */
export async function appendAuditEvent(
	db: Db,
	input: AuditInput,
): Promise<Omit<AuditEvent, "seq">> {
	const row = {
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
	await db.insert(auditEvents).values(row);
	return row;
}

/** The newest events first, optionally of one type and/or about one subject. */
export async function listAuditEvents(
	db: Db,
	filter: { type?: string; subject?: string; limit?: number } = {},
): Promise<AuditEvent[]> {
	const where: SQL[] = [];
	if (filter.type) where.push(eq(auditEvents.type, filter.type));
	if (filter.subject) where.push(eq(auditEvents.subject, filter.subject));
	return db
		.select()
		.from(auditEvents)
		.where(where.length ? and(...where) : undefined)
		.orderBy(desc(auditEvents.seq))
		.limit(Math.min(filter.limit ?? 100, 1000));
}
