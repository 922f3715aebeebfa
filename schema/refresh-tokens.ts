import { and, eq, isNull, sql } from "drizzle-orm";
import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import type { Db } from "./db.ts";
import { users } from "./users.ts";

/**
 * Opaque refresh tokens `<id>.<secret>`; only the SHA-256 of the secret is stored. Each login
 * starts a family; every refresh marks the used token and issues the next one in the family.
 * A used (rotated) token presented again means a copy leaked: the whole family is revoked.
 */
export const refreshTokens = sqliteTable(
	"refresh_tokens",
	{
		id: text("id").primaryKey(),
		userId: text("user_id")
			.notNull()
			.references(() => users.id, { onDelete: "cascade" }),
		familyId: text("family_id").notNull(),
		/** Hex SHA-256 of the secret part. */
		secretHash: text("secret_hash").notNull(),
		createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
		expiresAt: integer("expires_at", { mode: "timestamp_ms" }).notNull(),
		/**
		 * When the family's login happened; every rotation copies it, so the family cannot outlive
		 * it by more than the absolute lifetime. Null on rows from before this column: those fall
		 * back to the row's own creation time (so they too end at most 30 days after the upgrade).
		 */
		familyStartedAt: integer("family_started_at", { mode: "timestamp_ms" }),
		/** Set when the token was exchanged for its successor. */
		rotatedAt: integer("rotated_at", { mode: "timestamp_ms" }),
		revokedAt: integer("revoked_at", { mode: "timestamp_ms" }),
	},
	(t) => [
		index("refresh_tokens_family_idx").on(t.familyId),
		index("refresh_tokens_user_idx").on(t.userId),
	],
);

export type RefreshToken = typeof refreshTokens.$inferSelect;

/** Stores a new refresh token row. */
export async function insertRefreshToken(
	db: Db,
	row: Omit<RefreshToken, "rotatedAt" | "revokedAt" | "familyStartedAt"> & {
		familyStartedAt: Date;
	},
): Promise<void> {
	await db.insert(refreshTokens).values({ ...row, rotatedAt: null, revokedAt: null });
}

/**
 * Stores the successor of a rotated token, but only while no token of its family is revoked, in
 * one statement. Of two presentations of one token, the loser revokes the family: if that
 * happened first, the winner's successor is never stored (false); if it happens later, it
 * revokes the successor too. Either way no token of the family stays valid.
 */
export async function insertRotatedRefreshToken(
	db: Db,
	row: Omit<RefreshToken, "rotatedAt" | "revokedAt" | "familyStartedAt"> & {
		familyStartedAt: Date;
	},
): Promise<boolean> {
	const rows = await db.all(sql`
		INSERT INTO refresh_tokens
			(id, user_id, family_id, family_started_at, secret_hash, created_at, expires_at)
		SELECT ${row.id}, ${row.userId}, ${row.familyId}, ${row.familyStartedAt.getTime()},
			${row.secretHash}, ${row.createdAt.getTime()}, ${row.expiresAt.getTime()}
		WHERE NOT EXISTS (
			SELECT 1 FROM refresh_tokens WHERE family_id = ${row.familyId} AND revoked_at IS NOT NULL
		)
		RETURNING id`);
	return rows.length === 1;
}

/** Finds a token row by id, or null. */
export async function getRefreshToken(db: Db, id: string): Promise<RefreshToken | null> {
	const [row] = await db.select().from(refreshTokens).where(eq(refreshTokens.id, id)).limit(1);
	return row ?? null;
}

/**
 * Marks a token as rotated, only if it is still live. Two requests racing with one token:
 * exactly one gets true, the other is treated as reuse.
 */
export async function claimRefreshToken(db: Db, id: string): Promise<boolean> {
	const rows = await db
		.update(refreshTokens)
		.set({ rotatedAt: new Date() })
		.where(
			and(
				eq(refreshTokens.id, id),
				isNull(refreshTokens.rotatedAt),
				isNull(refreshTokens.revokedAt),
			),
		)
		.returning({ id: refreshTokens.id });
	return rows.length === 1;
}

/** Revokes every token of a family (logout, or reuse detected). */
export async function revokeRefreshFamily(db: Db, familyId: string): Promise<void> {
	await db
		.update(refreshTokens)
		.set({ revokedAt: new Date() })
		.where(and(eq(refreshTokens.familyId, familyId), isNull(refreshTokens.revokedAt)));
}

/** Revokes every token of a user (disabled, password changed). */
export async function revokeUserRefreshTokens(db: Db, userId: string): Promise<void> {
	await db
		.update(refreshTokens)
		.set({ revokedAt: new Date() })
		.where(and(eq(refreshTokens.userId, userId), isNull(refreshTokens.revokedAt)));
}

/** When the token's family started (its login); older rows without the column use their own. */
export function familyStart(row: RefreshToken): Date {
	return row.familyStartedAt ?? row.createdAt;
}
