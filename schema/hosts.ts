import { and, asc, count, eq, gt, inArray, isNull, lte, or, type SQL, sql } from "drizzle-orm";
import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import type { Db } from "./db.ts";
import { groupMembers, groups } from "./groups.ts";

/** Decisions of the unattended policy (protocol/host.ts holds the wire schema). */
export const HOST_POLICY_DECISIONS = ["allow", "ask"] as const;

/**
 * Enrolled remote hosts. A host authenticates by signing a challenge with its Ed25519 identity
 * key; only the public key is stored, so this table holds nothing that lets anyone act as a host.
 * The host's remote-maintenance password never reaches the server at all.
 */
export const hosts = sqliteTable(
	"hosts",
	{
		id: text("id").primaryKey(),
		groupId: text("group_id")
			.notNull()
			.references(() => groups.id),
		name: text("name").notNull(),
		platform: text("platform").notNull(),
		/** Raw Ed25519 public key, base64url (32 bytes). */
		publicKey: text("public_key").notNull(),
		createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
		/** Last heartbeat the HostActor wrote (throttled, so up to a minute behind while online). */
		lastSeenAt: integer("last_seen_at", { mode: "timestamp_ms" }),
		/** Set by the HostActor when the presence socket opens, cleared when it goes offline. */
		onlineSince: integer("online_since", { mode: "timestamp_ms" }),
		disabled: integer("disabled", { mode: "boolean" }).notNull().default(false),
	},
	(t) => [index("hosts_group_idx").on(t.groupId, t.name)],
);

/** One-time enrolment tokens (`<id>.<secret>`); only the SHA-256 of the secret is stored. */
export const hostEnrollments = sqliteTable("host_enrollments", {
	id: text("id").primaryKey(),
	secretHash: text("secret_hash").notNull(),
	groupId: text("group_id")
		.notNull()
		.references(() => groups.id, { onDelete: "cascade" }),
	createdBy: text("created_by").notNull(),
	createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
	expiresAt: integer("expires_at", { mode: "timestamp_ms" }).notNull(),
	usedAt: integer("used_at", { mode: "timestamp_ms" }),
	/** The host the token enrolled. */
	hostId: text("host_id"),
});

/** Per group: which capabilities need someone at an unattended PC to say yes. */
export const hostPolicies = sqliteTable("host_policies", {
	groupId: text("group_id")
		.primaryKey()
		.references(() => groups.id, { onDelete: "cascade" }),
	view: text("view", { enum: HOST_POLICY_DECISIONS }).notNull(),
	control: text("control", { enum: HOST_POLICY_DECISIONS }).notNull(),
	files: text("files", { enum: HOST_POLICY_DECISIONS }).notNull(),
	updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
});

export type Host = typeof hosts.$inferSelect;
export type HostEnrollment = typeof hostEnrollments.$inferSelect;
export type HostPolicy = Pick<typeof hostPolicies.$inferSelect, "view" | "control" | "files">;

/** A host with its group's name, as lists show it. */
export type HostWithGroup = Host & { groupName: string };

/** Stores a new enrolment token. */
export async function insertEnrollment(db: Db, row: HostEnrollment): Promise<void> {
	await db.insert(hostEnrollments).values(row);
}

/** Why an enrolment token was not stored. */
export type InsertEnrollmentResult = { ok: true } | { ok: false; reason: "limit" };

/**
 * Stores a new enrolment token unless its group, or the user who makes it, would then hold more
 * than `maxOpen` open (unused, unexpired) tokens. Expired unused tokens are deleted first: they
 * can never be used, and they are not counted. One write transaction does all of it, so a burst
 * of concurrent requests cannot get past the cap between a count and an insert.
 */
export async function insertEnrollmentWithin(
	db: Db,
	row: HostEnrollment,
	maxOpen: number,
): Promise<InsertEnrollmentResult> {
	const now = row.createdAt;
	const openBy = (where: SQL | undefined) =>
		db
			.select({ n: count() })
			.from(hostEnrollments)
			.where(and(where, isNull(hostEnrollments.usedAt), gt(hostEnrollments.expiresAt, now)));
	const results = await db.batch([
		db
			.delete(hostEnrollments)
			.where(and(isNull(hostEnrollments.usedAt), lte(hostEnrollments.expiresAt, now))),
		db.insert(hostEnrollments).values(row),
		db
			.delete(hostEnrollments)
			.where(
				and(
					eq(hostEnrollments.id, row.id),
					or(
						sql`(${openBy(eq(hostEnrollments.groupId, row.groupId))}) > ${maxOpen}`,
						sql`(${openBy(eq(hostEnrollments.createdBy, row.createdBy))}) > ${maxOpen}`,
					),
				),
			),
		db
			.select({ id: hostEnrollments.id })
			.from(hostEnrollments)
			.where(eq(hostEnrollments.id, row.id)),
	]);
	return results[3].length === 1 ? { ok: true } : { ok: false, reason: "limit" };
}

/** An enrolment token by id, or null. */
export async function getEnrollment(db: Db, id: string): Promise<HostEnrollment | null> {
	const [row] = await db.select().from(hostEnrollments).where(eq(hostEnrollments.id, id)).limit(1);
	return row ?? null;
}

/**
 * Consumes an unused, unexpired token and creates its host in one batch. The update's WHERE makes
 * the first use win; a second concurrent use finds nothing and the caller refuses it.
 */
export async function consumeEnrollment(
	db: Db,
	id: string,
	host: Omit<Host, "groupId" | "lastSeenAt" | "onlineSince" | "disabled">,
	now: Date,
): Promise<Host | null> {
	const [used] = await db
		.update(hostEnrollments)
		.set({ usedAt: now, hostId: host.id })
		.where(
			and(
				eq(hostEnrollments.id, id),
				isNull(hostEnrollments.usedAt),
				gt(hostEnrollments.expiresAt, now),
			),
		)
		.returning();
	if (!used) return null;
	const row: Host = {
		...host,
		groupId: used.groupId,
		lastSeenAt: null,
		onlineSince: null,
		disabled: false,
	};
	await db.insert(hosts).values(row);
	return row;
}

const withGroup = {
	id: hosts.id,
	groupId: hosts.groupId,
	name: hosts.name,
	platform: hosts.platform,
	publicKey: hosts.publicKey,
	createdAt: hosts.createdAt,
	lastSeenAt: hosts.lastSeenAt,
	onlineSince: hosts.onlineSince,
	disabled: hosts.disabled,
	groupName: groups.name,
};

/** A host by id, or null. */
export async function getHost(db: Db, id: string): Promise<HostWithGroup | null> {
	const [row] = await db
		.select(withGroup)
		.from(hosts)
		.innerJoin(groups, eq(groups.id, hosts.groupId))
		.where(eq(hosts.id, id))
		.limit(1);
	return row ?? null;
}

/** All hosts (admins), or those of the given groups, by group and name. */
export async function listHosts(db: Db, groupIds: string[] | null): Promise<HostWithGroup[]> {
	if (groupIds && groupIds.length === 0) return [];
	const q = db.select(withGroup).from(hosts).innerJoin(groups, eq(groups.id, hosts.groupId));
	const filtered = groupIds ? q.where(inArray(hosts.groupId, groupIds)) : q;
	return filtered.orderBy(asc(groups.name), asc(hosts.name));
}

/** Ids of the groups a user belongs to. */
export async function getUserGroupIds(db: Db, userId: string): Promise<string[]> {
	const rows = await db
		.select({ id: groupMembers.groupId })
		.from(groupMembers)
		.where(eq(groupMembers.userId, userId));
	return rows.map((r) => r.id);
}

/** A group by id or by name, or null. */
export async function findGroup(
	db: Db,
	by: { id?: string | undefined; name?: string | undefined },
): Promise<{ id: string; name: string } | null> {
	const where = by.id ? eq(groups.id, by.id) : by.name ? eq(groups.name, by.name) : null;
	if (!where) return null;
	const [row] = await db.select({ id: groups.id, name: groups.name }).from(groups).where(where);
	return row ?? null;
}

/** Changes an admin-editable field of a host; returns the host after the change, or null. */
export async function updateHost(
	db: Db,
	id: string,
	change: Partial<Pick<Host, "name" | "groupId" | "disabled">>,
): Promise<HostWithGroup | null> {
	if (Object.keys(change).length > 0) await db.update(hosts).set(change).where(eq(hosts.id, id));
	return getHost(db, id);
}

/** Deletes a host; its audit rows keep the id. */
export async function deleteHost(db: Db, id: string): Promise<void> {
	await db.batch([
		db.update(hostEnrollments).set({ hostId: null }).where(eq(hostEnrollments.hostId, id)),
		db.delete(hosts).where(eq(hosts.id, id)),
	]);
}

/** Presence, written by the HostActor: online since a time, or offline (null). */
export async function setHostPresence(
	db: Db,
	id: string,
	presence: { onlineSince?: Date | null; lastSeenAt: Date },
): Promise<void> {
	await db.update(hosts).set(presence).where(eq(hosts.id, id));
}

/** The group's unattended policy, or null when the admin set none (the default applies). */
export async function getHostPolicy(db: Db, groupId: string): Promise<HostPolicy | null> {
	const [row] = await db
		.select({ view: hostPolicies.view, control: hostPolicies.control, files: hostPolicies.files })
		.from(hostPolicies)
		.where(eq(hostPolicies.groupId, groupId));
	return row ?? null;
}

/** Sets a group's unattended policy. */
export async function setHostPolicy(db: Db, groupId: string, policy: HostPolicy): Promise<void> {
	const row = { groupId, ...policy, updatedAt: new Date() };
	await db
		.insert(hostPolicies)
		.values(row)
		.onConflictDoUpdate({
			target: hostPolicies.groupId,
			set: { ...policy, updatedAt: row.updatedAt },
		});
}
