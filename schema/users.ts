import { count, eq } from "drizzle-orm";
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

/** Finds a user by e-mail, or null. */
export async function getUserByEmail(db: Db, email: string): Promise<User | null> {
	const [row] = await db
		.select()
		.from(users)
		.where(eq(users.email, normaliseEmail(email)))
		.limit(1);
	return row ?? null;
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
	};
	await db.insert(users).values(row);
	return row;
}
