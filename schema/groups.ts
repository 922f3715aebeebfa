import { and, asc, count, eq, inArray, ne, sql } from "drizzle-orm";
import { integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import type { Db } from "./db.ts";
import { users } from "./users.ts";

/** Teams of supporters. Hosts will belong to groups, and supporters see the hosts of theirs. */
export const groups = sqliteTable(
	"groups",
	{
		id: text("id").primaryKey(),
		name: text("name").notNull(),
		createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
		/**
		 * Policy: after each session of the group its protocol (summary and signed excerpt) is
		 * mailed to the supporter, and to the customer who asked for a copy. Off by default; it
		 * has no effect without SMTP_URL. durable/protocol-mail.ts sends it.
		 */
		mailProtocol: integer("mail_protocol", { mode: "boolean" }).notNull().default(false),
	},
	(t) => [uniqueIndex("groups_name_idx").on(t.name)],
);

/** Which user belongs to which group; rows go when either side is deleted. */
export const groupMembers = sqliteTable(
	"group_members",
	{
		groupId: text("group_id")
			.notNull()
			.references(() => groups.id, { onDelete: "cascade" }),
		userId: text("user_id")
			.notNull()
			.references(() => users.id, { onDelete: "cascade" }),
	},
	(t) => [primaryKey({ columns: [t.groupId, t.userId] })],
);

export type Group = typeof groups.$inferSelect;

/** All groups by name. */
export async function listGroups(db: Db): Promise<Group[]> {
	return db.select().from(groups).orderBy(asc(groups.name));
}

/** Returns the groups with these names, creating the missing ones. */
export async function ensureGroups(db: Db, names: string[]): Promise<Group[]> {
	const unique = [...new Set(names)];
	if (unique.length === 0) return [];
	const now = new Date();
	await db
		.insert(groups)
		.values(unique.map((name) => ({ id: crypto.randomUUID(), name, createdAt: now })))
		.onConflictDoNothing();
	return db.select().from(groups).where(inArray(groups.name, unique));
}

/** Group names of one user. */
export async function getUserGroupNames(db: Db, userId: string): Promise<string[]> {
	const rows = await db
		.select({ name: groups.name })
		.from(groupMembers)
		.innerJoin(groups, eq(groups.id, groupMembers.groupId))
		.where(eq(groupMembers.userId, userId))
		.orderBy(asc(groups.name));
	return rows.map((r) => r.name);
}

/** Group names per user id, for listing many users with one query. */
export async function getGroupNamesByUser(db: Db): Promise<Map<string, string[]>> {
	const rows = await db
		.select({ userId: groupMembers.userId, name: groups.name })
		.from(groupMembers)
		.innerJoin(groups, eq(groups.id, groupMembers.groupId))
		.orderBy(asc(groups.name));
	const out = new Map<string, string[]>();
	for (const r of rows) out.set(r.userId, [...(out.get(r.userId) ?? []), r.name]);
	return out;
}

/** Replaces a user's memberships with exactly these groups (created on demand). */
export async function setUserGroups(db: Db, userId: string, names: string[]): Promise<void> {
	const wanted = await ensureGroups(db, names);
	const del = db.delete(groupMembers).where(eq(groupMembers.userId, userId));
	if (wanted.length === 0) {
		await del;
		return;
	}
	// One batch, so that a failure never leaves the user with no groups half-way.
	await db.batch([
		del,
		db.insert(groupMembers).values(wanted.map((g) => ({ groupId: g.id, userId }))),
	]);
}

/** A group with how many users and hosts it has, for the admin console's list. */
export interface GroupSummary {
	id: string;
	name: string;
	createdAt: Date;
	mailProtocol: boolean;
	members: number;
	hosts: number;
}

/**
 * All groups (ids null) or the given ones, by name, with member and host counts. The host count
 * is a correlated subquery on `hosts.group_id`; the hosts table lives in hosts.ts, which imports
 * this file, so it is named in SQL here to avoid an import cycle.
 */
export async function listGroupSummaries(db: Db, ids: string[] | null): Promise<GroupSummary[]> {
	if (ids && ids.length === 0) return [];
	const q = db
		.select({
			id: groups.id,
			name: groups.name,
			createdAt: groups.createdAt,
			mailProtocol: groups.mailProtocol,
			members: count(groupMembers.userId),
			hosts: sql<number>`(select count(*) from hosts where hosts.group_id = ${groups.id})`,
		})
		.from(groups)
		.leftJoin(groupMembers, eq(groupMembers.groupId, groups.id))
		.groupBy(groups.id);
	const filtered = ids ? q.where(inArray(groups.id, ids)) : q;
	const rows = await filtered.orderBy(asc(groups.name));
	return rows.map((r) => ({ ...r, hosts: Number(r.hosts) }));
}

/** Creates a group (every policy off); null when the name is taken. */
export async function createGroup(db: Db, name: string): Promise<Group | null> {
	const row = { id: crypto.randomUUID(), name, createdAt: new Date(), mailProtocol: false };
	const inserted = await db.insert(groups).values(row).onConflictDoNothing().returning();
	return inserted[0] ?? null;
}

/** A group by id, or null. */
export async function getGroup(db: Db, id: string): Promise<Group | null> {
	const [row] = await db.select().from(groups).where(eq(groups.id, id)).limit(1);
	return row ?? null;
}

/** Renames a group; "taken" when another group has the name, null when there is no such group. */
export async function renameGroup(
	db: Db,
	id: string,
	name: string,
): Promise<Group | "taken" | null> {
	const [clash] = await db
		.select({ id: groups.id })
		.from(groups)
		.where(and(eq(groups.name, name), ne(groups.id, id)))
		.limit(1);
	if (clash) return "taken";
	try {
		const [row] = await db.update(groups).set({ name }).where(eq(groups.id, id)).returning();
		return row ?? null;
	} catch {
		// A concurrent rename to the same name lost the race on the unique index.
		return "taken";
	}
}

/** Group policy the admin may change (`PATCH /api/v1/groups/{id}`). */
export type GroupPolicy = Pick<Group, "mailProtocol">;

/** Sets a group's policy fields; null when there is no such group. */
export async function setGroupPolicy(
	db: Db,
	id: string,
	policy: Partial<GroupPolicy>,
): Promise<Group | null> {
	if (Object.keys(policy).length === 0) return getGroup(db, id);
	const [row] = await db.update(groups).set(policy).where(eq(groups.id, id)).returning();
	return row ?? null;
}

/**
 * Whether a session's protocol is mailed: for a host session the host's group decides; for an
 * ad-hoc session (which belongs to no group of its own) any group of its supporter that has
 * `mailProtocol` on. Fixed when the session is issued, like its terms, so the customer is
 * offered a copy only when one will be sent.
 */
export async function sessionMailsProtocol(
	db: Db,
	session: { supporterId: string; hostGroupId: string | null },
): Promise<boolean> {
	if (session.hostGroupId !== null) {
		const [row] = await db
			.select({ on: groups.mailProtocol })
			.from(groups)
			.where(eq(groups.id, session.hostGroupId))
			.limit(1);
		return row?.on === true;
	}
	const [row] = await db
		.select({ id: groups.id })
		.from(groupMembers)
		.innerJoin(groups, eq(groups.id, groupMembers.groupId))
		.where(and(eq(groupMembers.userId, session.supporterId), eq(groups.mailProtocol, true)))
		.limit(1);
	return row !== undefined;
}

/**
 * Deletes a group (memberships, enrolment tokens and policy go with it) unless hosts belong to it.
 * The host check is in the DELETE's WHERE, so a host enrolled meanwhile keeps its group.
 * Returns "deleted", "not_empty" or "not_found".
 */
export async function deleteEmptyGroup(
	db: Db,
	id: string,
): Promise<"deleted" | "not_empty" | "not_found"> {
	const deleted = await db
		.delete(groups)
		.where(
			and(eq(groups.id, id), sql`not exists (select 1 from hosts where hosts.group_id = ${id})`),
		)
		.returning({ id: groups.id });
	if (deleted.length === 1) return "deleted";
	return (await getGroup(db, id)) ? "not_empty" : "not_found";
}
