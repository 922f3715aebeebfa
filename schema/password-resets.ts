import { and, eq, gt, inArray, isNull } from "drizzle-orm";
import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import type { Db } from "./db.ts";
import { users } from "./users.ts";

/** One-time password-reset tokens `<id>.<secret>`; only the SHA-256 of the secret is stored. */
export const passwordResets = sqliteTable(
	"password_resets",
	{
		id: text("id").primaryKey(),
		userId: text("user_id")
			.notNull()
			.references(() => users.id, { onDelete: "cascade" }),
		secretHash: text("secret_hash").notNull(),
		createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
		expiresAt: integer("expires_at", { mode: "timestamp_ms" }).notNull(),
		usedAt: integer("used_at", { mode: "timestamp_ms" }),
	},
	(t) => [index("password_resets_user_idx").on(t.userId)],
);

export type PasswordReset = typeof passwordResets.$inferSelect;

/** Stores a new reset token. */
export async function insertPasswordReset(
	db: Db,
	row: Omit<PasswordReset, "usedAt">,
): Promise<void> {
	await db.insert(passwordResets).values({ ...row, usedAt: null });
}

/** Finds a reset row by id, or null. */
export async function getPasswordReset(db: Db, id: string): Promise<PasswordReset | null> {
	const [row] = await db.select().from(passwordResets).where(eq(passwordResets.id, id)).limit(1);
	return row ?? null;
}

/**
 * Uses a reset code if it is unused and unexpired, and in the same statement ends every other
 * open code of its user: one code sets the password, and the others are no longer needed. True
 * for exactly one caller, also when two codes of one user are presented at once.
 */
export async function claimPasswordReset(db: Db, id: string, now = new Date()): Promise<boolean> {
	const owner = db
		.select({ userId: passwordResets.userId })
		.from(passwordResets)
		.where(
			and(
				eq(passwordResets.id, id),
				isNull(passwordResets.usedAt),
				gt(passwordResets.expiresAt, now),
			),
		);
	const rows = await db
		.update(passwordResets)
		.set({ usedAt: now })
		.where(and(isNull(passwordResets.usedAt), inArray(passwordResets.userId, owner)))
		.returning({ id: passwordResets.id });
	return rows.some((r) => r.id === id);
}
