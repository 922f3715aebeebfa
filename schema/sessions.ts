import {
	and,
	count,
	desc,
	eq,
	gt,
	inArray,
	isNotNull,
	isNull,
	lte,
	or,
	type SQL,
	sql,
} from "drizzle-orm";
import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import type { Db } from "./db.ts";
import { users } from "./users.ts";

export const SESSION_KINDS = ["adhoc", "host"] as const;
export const VIEW_DIRECTIONS = ["customer", "supporter"] as const;
export type ViewDirection = (typeof VIEW_DIRECTIONS)[number];
/** Languages the support terms exist in besides the default (English) text. */
export const TERMS_LANGS = ["de"] as const;
export type TermsLang = (typeof TERMS_LANGS)[number];
/** A session's terms in other languages, each with the hash a customer's acceptance names. */
export type TermsTranslations = Partial<Record<TermsLang, { text: string; sha256: string }>>;

/**
 * Support sessions. The support ID (code) is stored only as its HMAC-SHA256 (keyed with the seal key from the data dir) and is cleared when it is
 * used, so a live code is unique (partial unique index) and a used one can never match again.
 * Session content never reaches this table; the SessionActor keeps the live consent state.
 */
export const supportSessions = sqliteTable(
	"support_sessions",
	{
		id: text("id").primaryKey(),
		kind: text("kind", { enum: SESSION_KINDS }).notNull(),
		supporterId: text("supporter_id")
			.notNull()
			.references(() => users.id),
		/** HMAC-SHA256 hex of the 8-digit code (functions/routes/sessions.ts codeHash) while it can still be used; null once used or retired. */
		codeHash: text("code_hash"),
		codeExpiresAt: integer("code_expires_at", { mode: "timestamp_ms" }).notNull(),
		joinedAt: integer("joined_at", { mode: "timestamp_ms" }),
		/** Which side shows its screen first (the supporter's preset). */
		view: text("view", { enum: VIEW_DIRECTIONS }).notNull(),
		termsRequired: integer("terms_required", { mode: "boolean" }).notNull(),
		/** The terms shown to the customer: text and SHA-256 are fixed when the session is issued. */
		termsText: text("terms_text"),
		termsSha256: text("terms_sha256"),
		/**
		 * The terms in other languages, fixed at issue like `termsText`: `{ de: { text, sha256 } }`.
		 * The customer reads and signs the version in the language of its page.
		 */
		termsTranslations: text("terms_translations", { mode: "json" }).$type<TermsTranslations>(),
		customerName: text("customer_name"),
		/** SHA-256 hex of the customer's resume token (which the customer alone holds). */
		resumeHash: text("resume_hash"),
		createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
		expiresAt: integer("expires_at", { mode: "timestamp_ms" }).notNull(),
		endedAt: integer("ended_at", { mode: "timestamp_ms" }),
		endReason: text("end_reason"),
		/** For host sessions: the host reached (schema/hosts.ts); null for ad-hoc sessions. */
		hostId: text("host_id"),
	},
	(t) => [
		uniqueIndex("support_sessions_live_code_idx").on(t.codeHash),
		index("support_sessions_supporter_idx").on(t.supporterId, t.createdAt),
	],
);

export type SupportSession = typeof supportSessions.$inferSelect;

/** Inserts a new session; the caller made the code and hashed it. */
export async function insertSession(db: Db, row: SupportSession): Promise<void> {
	await db.insert(supportSessions).values(row);
}

/**
 * Live for the per-supporter cap: not ended, before its deadline, and either joined or with a
 * support ID that can still be typed in. An ID that expired unused no longer counts.
 */
function liveFor(supporterId: string, now: Date) {
	return and(
		eq(supportSessions.supporterId, supporterId),
		isNull(supportSessions.endedAt),
		gt(supportSessions.expiresAt, now),
		or(isNotNull(supportSessions.joinedAt), gt(supportSessions.codeExpiresAt, now)),
	);
}

/** How many unused sessions one issuance ends at most; the rest wait for the next one. */
const UNUSED_CLEANUP_BATCH = 100;

/** The outcome of an issuance; `ended` lists the unused sessions it ended on the way. */
export type InsertSessionResult =
	| { ok: true; ended: string[] }
	| { ok: false; reason: "limit"; ended: string[] };

/**
 * Stores a new session unless its supporter would then have more than `maxLive` live ones, and
 * first ends sessions (anyone's) whose support ID expired before a customer joined: nobody can
 * join them any more. Their IDs are returned so the caller can end their relays too. One write
 * transaction does all of it, so concurrent issuances cannot get past the cap, and a join racing
 * the cleanup either lands first (then the session is not unused) or finds the session ended.
 */
export async function insertSessionWithin(
	db: Db,
	row: SupportSession,
	maxLive: number,
): Promise<InsertSessionResult> {
	const now = row.createdAt;
	const unused = db
		.select({ id: supportSessions.id })
		.from(supportSessions)
		.where(
			and(
				isNull(supportSessions.endedAt),
				isNull(supportSessions.joinedAt),
				lte(supportSessions.codeExpiresAt, now),
			),
		)
		.limit(UNUSED_CLEANUP_BATCH);
	const liveCount = db
		.select({ n: count() })
		.from(supportSessions)
		.where(liveFor(row.supporterId, now));
	const results = await db.batch([
		db
			.update(supportSessions)
			.set({ endedAt: now, endReason: "expired", codeHash: null })
			.where(inArray(supportSessions.id, unused))
			.returning({ id: supportSessions.id }),
		db.insert(supportSessions).values(row),
		db
			.delete(supportSessions)
			.where(and(eq(supportSessions.id, row.id), sql`(${liveCount}) > ${maxLive}`)),
		db
			.select({ id: supportSessions.id })
			.from(supportSessions)
			.where(eq(supportSessions.id, row.id)),
	]);
	const ended = results[0].map((r) => r.id);
	return results[3].length === 1 ? { ok: true, ended } : { ok: false, reason: "limit", ended };
}

/**
 * Clears codes that expired unused, so their digits may be issued again. A code is only ever
 * cleared, never reused while it could still be typed in.
 */
export async function retireExpiredCodes(db: Db, now: Date): Promise<void> {
	await db
		.update(supportSessions)
		.set({ codeHash: null })
		.where(lte(supportSessions.codeExpiresAt, now));
}

/** True if a code with this hash is live (issued, unused, not expired). */
export async function isCodeLive(db: Db, codeHash: string, now: Date): Promise<boolean> {
	const [row] = await db
		.select({ id: supportSessions.id })
		.from(supportSessions)
		.where(and(eq(supportSessions.codeHash, codeHash), gt(supportSessions.codeExpiresAt, now)))
		.limit(1);
	return !!row;
}

/**
 * Consumes a live code in one statement: the first join wins, every later one finds nothing.
 * Returns the session or null for an unknown, expired or used code (the caller cannot tell which).
 */
export async function consumeCode(
	db: Db,
	codeHash: string,
	join: { customerName: string; resumeHash: string; now: Date },
): Promise<SupportSession | null> {
	const [row] = await db
		.update(supportSessions)
		.set({
			codeHash: null,
			joinedAt: join.now,
			customerName: join.customerName,
			resumeHash: join.resumeHash,
		})
		.where(
			and(
				eq(supportSessions.codeHash, codeHash),
				gt(supportSessions.codeExpiresAt, join.now),
				isNull(supportSessions.endedAt),
			),
		)
		.returning();
	return row ?? null;
}

/** A session by id, or null. */
export async function getSession(db: Db, id: string): Promise<SupportSession | null> {
	const [row] = await db.select().from(supportSessions).where(eq(supportSessions.id, id)).limit(1);
	return row ?? null;
}

/** Marks a session ended once; a second call keeps the first reason. */
export async function markSessionEnded(
	db: Db,
	id: string,
	reason: string,
	at: Date,
): Promise<void> {
	await db
		.update(supportSessions)
		.set({ endedAt: at, endReason: reason, codeHash: null })
		.where(and(eq(supportSessions.id, id), isNull(supportSessions.endedAt)));
}

/**
 * Sessions not ended and not past their deadline, newest first: all of them for an admin
 * (`supporterId` null), else that supporter's own. At most `limit` rows.
 */
export async function listLiveSessions(
	db: Db,
	supporterId: string | null,
	now: Date,
	limit = 100,
): Promise<SupportSession[]> {
	// A support ID that expired unused is as dead as an ended session, cleaned up or not yet.
	const live = and(
		isNull(supportSessions.endedAt),
		gt(supportSessions.expiresAt, now),
		or(isNotNull(supportSessions.joinedAt), gt(supportSessions.codeExpiresAt, now)),
	);
	return db
		.select()
		.from(supportSessions)
		.where(supporterId ? and(live, eq(supportSessions.supporterId, supporterId)) : live)
		.orderBy(desc(supportSessions.createdAt))
		.limit(limit);
}

/** Whose live sessions to find: a supporter's, a host's, or a supporter's with hosts it may no longer reach. */
export type LiveSessionScope =
	| { supporterId: string }
	| { hostId: string }
	| { unentitledHostSessionsOf: string };

/**
 * The IDs of live sessions (not ended, not past their deadline, joined or with a usable code)
 * in one scope. `unentitledHostSessionsOf` is a supporter's host sessions whose host now sits in
 * a group the supporter is not a member of (raw SQL: hosts and groups import this file's table).
 * An admin reaches every host, so the caller skips that scope for admins.
 */
export async function listLiveSessionIds(
	db: Db,
	scope: LiveSessionScope,
	now: Date,
): Promise<string[]> {
	const live = and(
		isNull(supportSessions.endedAt),
		gt(supportSessions.expiresAt, now),
		or(isNotNull(supportSessions.joinedAt), gt(supportSessions.codeExpiresAt, now)),
	);
	let where: SQL | undefined;
	if ("supporterId" in scope) where = and(live, eq(supportSessions.supporterId, scope.supporterId));
	else if ("hostId" in scope) where = and(live, eq(supportSessions.hostId, scope.hostId));
	else {
		const user = scope.unentitledHostSessionsOf;
		where = and(
			live,
			eq(supportSessions.supporterId, user),
			eq(supportSessions.kind, "host"),
			sql`NOT EXISTS (SELECT 1 FROM hosts h JOIN group_members m ON m.group_id = h.group_id
				WHERE h.id = ${supportSessions.hostId} AND m.user_id = ${user})`,
		);
	}
	const rows = await db.select({ id: supportSessions.id }).from(supportSessions).where(where);
	return rows.map((r) => r.id);
}
