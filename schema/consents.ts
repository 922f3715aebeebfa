import { asc, eq } from "drizzle-orm";
import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { canonicalJson } from "../protocol/canonical.ts";
import type { Db } from "./db.ts";

/**
 * Signed consent statements, exactly as the consenting module signed them (docs/protocol.md §6.1),
 * with the public key that verified them. Append-only: a revocation is a new row. Anyone holding
 * a row can check, offline, that the module holding that session key consented.
 */
export const consents = sqliteTable(
	"consents",
	{
		id: text("id").primaryKey(),
		sessionId: text("session_id").notNull(),
		/** The statement type, e.g. `control.grant`. */
		type: text("type").notNull(),
		/** The role that signed. */
		role: text("role").notNull(),
		/** Canonical JSON of the statement (the signed bytes). */
		statement: text("statement").notNull(),
		signature: text("signature").notNull(),
		/** Raw Ed25519 public key from the signer's hello, base64url. */
		publicKey: text("public_key").notNull(),
		recordedAt: integer("recorded_at", { mode: "timestamp_ms" }).notNull(),
	},
	(t) => [index("consents_session_idx").on(t.sessionId, t.recordedAt)],
);

export type Consent = typeof consents.$inferSelect;

/** Records a verified, signed consent statement (the caller checked the signature). */
export async function recordConsent(
	db: Db,
	input: {
		sessionId: string;
		type: string;
		role: string;
		statement: unknown;
		signature: string;
		publicKey: string;
	},
): Promise<void> {
	await db.insert(consents).values({
		id: crypto.randomUUID(),
		sessionId: input.sessionId,
		type: input.type,
		role: input.role,
		statement: canonicalJson(input.statement),
		signature: input.signature,
		publicKey: input.publicKey,
		recordedAt: new Date(),
	});
}

/** The consents of one session in the order they were recorded. */
export async function listConsents(db: Db, sessionId: string): Promise<Consent[]> {
	return db
		.select()
		.from(consents)
		.where(eq(consents.sessionId, sessionId))
		.orderBy(asc(consents.recordedAt));
}
