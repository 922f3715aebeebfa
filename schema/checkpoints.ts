import { and, asc, desc, gt, inArray, isNotNull, lt, lte, type SQL, sql } from "drizzle-orm";
import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { type AuditSigner, type PublicJwk, signCheckpoint } from "../protocol/audit-chain.ts";
import {
	type AuditEvent,
	type AuditInput,
	auditEvents,
	getChainHeadRow,
	prepareChained,
} from "./audit.ts";
import { consents } from "./consents.ts";
import type { Db } from "./db.ts";

/**
 * Signed checkpoints of the audit chain (docs/audit.md): a JWS by the server's Ed25519 key over
 * the seq and hash of the chain head at that moment. Append-only, like the events; the one delete
 * is the retention cut below, which removes the checkpoints it makes useless and keeps the one it
 * cuts at, so every later export can start from it.
 */
export const auditCheckpoints = sqliteTable("audit_checkpoints", {
	/** The seq of the event the checkpoint signs (the head when it was made). */
	seq: integer("seq").primaryKey(),
	/** That event's hash. */
	hash: text("hash").notNull(),
	signedAt: integer("signed_at", { mode: "timestamp_ms" }).notNull(),
	/** The signing key's id (RFC 7638 thumbprint); its public half is in audit_keys. */
	kid: text("kid").notNull(),
	/** Compact JWS, typ `fernwart-audit-checkpoint`, payload {v, seq, hash, signedAt}. */
	jws: text("jws").notNull(),
});

export type AuditCheckpoint = typeof auditCheckpoints.$inferSelect;

/**
 * Every public key that ever signed a checkpoint. A rotated key's public half stays here for
 * good, so exports carry it and old checkpoints keep verifying (docs/audit.md, "Key rotation").
 */
export const auditKeys = sqliteTable("audit_keys", {
	kid: text("kid").primaryKey(),
	publicJwk: text("public_jwk", { mode: "json" }).$type<PublicJwk>().notNull(),
	firstUsedAt: integer("first_used_at", { mode: "timestamp_ms" }).notNull(),
});

/** The newest checkpoint, or null if none was made yet. */
export async function getLatestCheckpoint(db: Db): Promise<AuditCheckpoint | null> {
	const [row] = await db
		.select()
		.from(auditCheckpoints)
		.orderBy(desc(auditCheckpoints.seq))
		.limit(1);
	return row ?? null;
}

/** The newest checkpoint with seq < `seq` (where an export that starts at `seq` is anchored). */
export async function getCheckpointBefore(db: Db, seq: number): Promise<AuditCheckpoint | null> {
	const [row] = await db
		.select()
		.from(auditCheckpoints)
		.where(lt(auditCheckpoints.seq, seq))
		.orderBy(desc(auditCheckpoints.seq))
		.limit(1);
	return row ?? null;
}

/** The oldest checkpoint with seq ≥ `seq` (where an export that ends at `seq` closes). */
export async function getCheckpointAtOrAfter(db: Db, seq: number): Promise<AuditCheckpoint | null> {
	const [row] = await db
		.select()
		.from(auditCheckpoints)
		.where(sql`${auditCheckpoints.seq} >= ${seq}`)
		.orderBy(asc(auditCheckpoints.seq))
		.limit(1);
	return row ?? null;
}

/** Checkpoints with afterSeq < seq ≤ throughSeq, oldest first. */
export async function listCheckpoints(
	db: Db,
	afterSeq: number,
	throughSeq: number,
): Promise<AuditCheckpoint[]> {
	return db
		.select()
		.from(auditCheckpoints)
		.where(and(gt(auditCheckpoints.seq, afterSeq), lte(auditCheckpoints.seq, throughSeq)))
		.orderBy(asc(auditCheckpoints.seq));
}

/** Every checkpoint key, oldest first. */
export async function listAuditKeys(db: Db): Promise<PublicJwk[]> {
	const rows = await db.select().from(auditKeys).orderBy(asc(auditKeys.firstUsedAt));
	return rows.map((r) => r.publicJwk);
}

/**
 * Signs the chain head if events were appended since the newest checkpoint, and records the
 * signing key. Returns the newest checkpoint (new or not), or null for an empty protocol. The
 * caller is the chain's one writer (the AuditLog actor, or a tool while the server is stopped).
 */
export async function writeCheckpoint(
	db: Db,
	signer: AuditSigner,
	now = new Date(),
): Promise<AuditCheckpoint | null> {
	const [head, latest] = await Promise.all([getChainHeadRow(db), getLatestCheckpoint(db)]);
	if (!head || (latest && latest.seq >= head.seq)) return latest;
	const row: AuditCheckpoint = {
		seq: head.seq,
		hash: head.hash,
		signedAt: now,
		kid: signer.kid,
		jws: await signCheckpoint(signer, head, now.getTime()),
	};
	await db.batch([
		db
			.insert(auditKeys)
			.values({ kid: signer.kid, publicJwk: signer.publicJwk, firstUsedAt: now })
			.onConflictDoNothing(),
		db.insert(auditCheckpoints).values(row),
	]);
	return row;
}

/**
 * Where retention may cut: the newest checkpoint signed before `cutoff` that splits no session,
 * i.e. no session has events on both sides of it (whole sessions go, or none of their events).
 * Null when there is nothing older to cut.
 */
export async function findRetentionCut(db: Db, cutoff: Date): Promise<AuditCheckpoint | null> {
	const newestBefore = async (where: SQL) => {
		const [row] = await db
			.select()
			.from(auditCheckpoints)
			.where(where)
			.orderBy(desc(auditCheckpoints.seq))
			.limit(1);
		return row ?? null;
	};
	let cut = await newestBefore(lt(auditCheckpoints.signedAt, cutoff));
	while (cut) {
		// The first event (at or before the cut) of a session that goes on after it.
		const [split] = await db
			.select({ seq: sql<number | null>`min(${auditEvents.seq})` })
			.from(auditEvents)
			.where(
				and(
					lte(auditEvents.seq, cut.seq),
					sql`${auditEvents.sessionId} IN (SELECT ${auditEvents.sessionId} FROM ${auditEvents} WHERE ${auditEvents.seq} > ${cut.seq} AND ${auditEvents.sessionId} IS NOT NULL)`,
				),
			);
		if (split?.seq === null || split?.seq === undefined) break;
		cut = await newestBefore(lt(auditCheckpoints.seq, Number(split.seq)));
	}
	if (!cut) return null;
	const [older] = await db
		.select({ seq: auditEvents.seq })
		.from(auditEvents)
		.where(lte(auditEvents.seq, cut.seq))
		.limit(1);
	return older ? cut : null;
}

/**
 * The retention cut, the only path that deletes audit or consent rows: every event up to the
 * checkpoint `cut` (whole sessions, see findRetentionCut), the consents of those sessions and the
 * checkpoints before `cut`. The checkpoint itself stays as the signed start of every later
 * export. In the same transaction the cut is recorded as the event `note`, chained after `head`,
 * so the table is never empty after a cut and the chain never restarts at genesis.
 */
export async function cutChain(
	db: Db,
	head: string,
	cut: AuditCheckpoint,
	note: AuditInput,
): Promise<{ deletedEvents: number; head: string; row: Omit<AuditEvent, "seq"> }> {
	const [counted] = await db
		.select({ n: sql<number>`count(*)` })
		.from(auditEvents)
		.where(lte(auditEvents.seq, cut.seq));
	const deletedEvents = Number(counted?.n ?? 0);
	const prepared = await prepareChained(head, [
		{
			...note,
			data: {
				...note.data,
				cutSeq: cut.seq,
				cutHash: cut.hash,
				cutSignedAt: cut.signedAt.getTime(),
				deletedEvents,
			},
		},
	]);
	const row = prepared.rows[0] as Omit<AuditEvent, "seq">;
	const cutSessions = db
		.selectDistinct({ id: auditEvents.sessionId })
		.from(auditEvents)
		.where(and(lte(auditEvents.seq, cut.seq), isNotNull(auditEvents.sessionId)));
	await db.batch([
		db.delete(consents).where(inArray(consents.sessionId, cutSessions)),
		db.delete(auditEvents).where(lte(auditEvents.seq, cut.seq)),
		db.delete(auditCheckpoints).where(lt(auditCheckpoints.seq, cut.seq)),
		db.insert(auditEvents).values(row),
	]);
	return { deletedEvents, head: prepared.head, row };
}
