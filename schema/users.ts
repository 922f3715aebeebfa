import { and, asc, count, eq, ne, sql } from "drizzle-orm";
import { integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import type { Db } from "./db.ts";

export const USER_ROLES = ["admin", "supporter"] as const;
export type UserRole = (typeof USER_ROLES)[number];

/** People who log in. Customers never have a row here; they join with a support ID. */
export const users = sqliteTable(
	"users",
	{
		id: text("id").primaryKey(),
		/** Stored lower-case, so that lookups need no collation. */
		email: text("email").notNull(),
		displayName: text("display_name").notNull(),
		role: text("role", { enum: USER_ROLES }).notNull(),
		/** A self-describing KDF string (see functions/lib/password.ts); never the password. */
		passwordHash: text("password_hash").notNull(),
		disabled: integer("disabled", { mode: "boolean" }).notNull().default(false),
		createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
		updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
		/**
		 * The TOTP secret, AES-GCM encrypted with a key from the data dir (functions/lib/seal.ts),
		 * so that a copy of the database file alone does not give the second factor away. Set while
		 * enrolling, before `totpEnabled`.
		 */
		totpSecret: text("totp_secret"),
		totpEnabled: integer("totp_enabled", { mode: "boolean" }).notNull().default(false),
		/** The last accepted TOTP time step: a code is accepted once, never replayed. */
		totpLastStep: integer("totp_last_step"),
		/**
		 * Access tokens carry the version they were issued under (`tv`); raising it ends every
		 * access token already issued (logout, a new password, disabling), not 15 minutes later.
		 */
		tokenVersion: integer("token_version").notNull().default(0),
		/**
		 * The profile picture's media type (image/png, image/jpeg or image/webp) while one is in
		 * the admin's S3 store, else null; the bytes never live in this database.
		 */
		pictureType: text("picture_type"),
		/** When the picture last changed: its URL carries it, so caches never show an old one. */
		pictureUpdatedAt: integer("picture_updated_at", { mode: "timestamp_ms" }),
	},
	(t) => [uniqueIndex("users_email_idx").on(t.email)],
);

export type User = typeof users.$inferSelect;
export type NewUser = typeof users.$inferInsert;

/** Normalises an e-mail address the one way every lookup uses. */
export function normaliseEmail(email: string): string {
	return email.trim().toLowerCase();
}

/** How many accounts exist; the launcher creates the first admin when this is 0. */
export async function countUsers(db: Db): Promise<number> {
	const [row] = await db.select({ n: count() }).from(users);
	return row?.n ?? 0;
}

/** How many enabled admins exist other than `exceptId`; guards against locking everyone out. */
export async function countOtherActiveAdmins(db: Db, exceptId: string): Promise<number> {
	const [row] = await db
		.select({ n: count() })
		.from(users)
		.where(and(eq(users.role, "admin"), eq(users.disabled, false), ne(users.id, exceptId)));
	return row?.n ?? 0;
}

/** Finds a user by e-mail, or null. */
export async function getUserByEmail(db: Db, email: string): Promise<User | null> {
	const [row] = await db
		.select()
		.from(users)
		.where(eq(users.email, normaliseEmail(email)))
		.limit(1);
	return row ?? null;
}

/** Finds a user by id, or null. */
export async function getUserById(db: Db, id: string): Promise<User | null> {
	const [row] = await db.select().from(users).where(eq(users.id, id)).limit(1);
	return row ?? null;
}

/** All users, oldest first. Deployments have tens to hundreds of accounts, so no paging yet. */
export async function listUsers(db: Db): Promise<User[]> {
	return db.select().from(users).orderBy(asc(users.createdAt), asc(users.email));
}

/** Inserts a user; the caller has already hashed the password. */
export async function createUser(
	db: Db,
	input: Pick<NewUser, "email" | "displayName" | "role" | "passwordHash">,
): Promise<User> {
	const now = new Date();
	const row: User = {
		id: crypto.randomUUID(),
		email: normaliseEmail(input.email),
		displayName: input.displayName,
		role: input.role,
		passwordHash: input.passwordHash,
		disabled: false,
		createdAt: now,
		updatedAt: now,
		totpSecret: null,
		totpEnabled: false,
		totpLastStep: null,
		tokenVersion: 0,
		pictureType: null,
		pictureUpdatedAt: null,
	};
	await db.insert(users).values(row);
	return row;
}

export type UserChanges = Partial<
	Pick<
		User,
		| "displayName"
		| "role"
		| "disabled"
		| "passwordHash"
		| "totpSecret"
		| "totpEnabled"
		| "totpLastStep"
		| "pictureType"
		| "pictureUpdatedAt"
	>
>;

/**
 * Applies changes to one user and returns the new row, or null when the id is unknown. A new
 * password (whoever sets it: the user, a reset, an admin or the CLI) or disabling the account
 * ends the user's open password-reset codes in the same batch: a code mailed for the old state
 * must not set a password afterwards.
 */
export async function updateUser(db: Db, id: string, changes: UserChanges): Promise<User | null> {
	const now = new Date();
	// A new password or a disabled account ends the access tokens already issued.
	const endsTokens = changes.passwordHash !== undefined || changes.disabled === true;
	const update = db
		.update(users)
		.set({
			...changes,
			updatedAt: now,
			...(endsTokens ? { tokenVersion: sql`${users.tokenVersion} + 1` } : {}),
		})
		.where(eq(users.id, id))
		.returning();
	if (changes.passwordHash === undefined && changes.disabled !== true) {
		const [row] = await update;
		return row ?? null;
	}
	// Raw SQL, like deleteUser: password-resets.ts imports this file for its foreign key.
	const [[row]] = await db.batch([
		update,
		db.run(
			sql`UPDATE password_resets SET used_at = ${now.getTime()} WHERE user_id = ${id} AND used_at IS NULL`,
		),
	]);
	return row ?? null;
}

/** Ends every access token of the user issued so far (they carry the old `tv`). */
export async function endAccessTokens(db: Db, id: string): Promise<void> {
	await db
		.update(users)
		.set({ tokenVersion: sql`${users.tokenVersion} + 1` })
		.where(eq(users.id, id));
}

/**
 * Records a used TOTP step, but only if it is newer than the last one: two requests racing with
 * the same code cannot both win. Returns false when the step was already used.
 */
export async function claimTotpStep(db: Db, id: string, step: number): Promise<boolean> {
	const rows = await db
		.update(users)
		.set({ totpLastStep: step })
		.where(
			and(
				eq(users.id, id),
				// NULL means no code was used yet; SQLite's `<` is false for NULL, hence the coalesce.
				sql`coalesce(${users.totpLastStep}, -1) < ${step}`,
			),
		)
		.returning({ id: users.id });
	return rows.length === 1;
}

/** Whether a user was deleted (an unknown id counts as deleted). */
export type DeleteUserResult = { ok: true } | { ok: false; reason: "has-history" };

/**
 * Deletes a user with their refresh tokens, resets and group memberships, in one batch, unless
 * support sessions name them: those rows (and the audit protocol that refers to them) must keep
 * pointing at a user, so such an account is disabled instead. The check is part of the DELETE
 * itself, so a session issued at the same moment cannot slip between check and delete, and the
 * dependent rows go only when the user row went. The rows are deleted explicitly rather than left
 * to ON DELETE CASCADE, because libSQL connections opened for a batch do not inherit
 * `PRAGMA foreign_keys`. Audit rows keep the id; they are never deleted.
 */
export async function deleteUser(db: Db, id: string): Promise<DeleteUserResult> {
	const gone = sql`NOT EXISTS (SELECT 1 FROM users WHERE id = ${id})`;
	const results = await db.batch([
		db.run(
			sql`DELETE FROM users WHERE id = ${id} AND NOT EXISTS (SELECT 1 FROM support_sessions WHERE supporter_id = ${id})`,
		),
		db.run(sql`DELETE FROM group_members WHERE user_id = ${id} AND ${gone}`),
		db.run(sql`DELETE FROM refresh_tokens WHERE user_id = ${id} AND ${gone}`),
		db.run(sql`DELETE FROM password_resets WHERE user_id = ${id} AND ${gone}`),
		db.select({ id: users.id }).from(users).where(eq(users.id, id)),
	]);
	if (results[4].length === 0) return { ok: true };
	return { ok: false, reason: "has-history" };
}
