/**
 * The verifiable export of the audit protocol (docs/audit.md §6): a signed header, the checkpoints
 * around the requested events, and the events (or, for what the reader may not see, their place
 * in the chain). Used by `GET /api/v1/audit/export` and by the session actor when it mails a
 * session's protocol. Pure data work on the database and the AuditLog; no HTTP.
 */
import {
	EXPORT_HEADER_TYP,
	GENESIS_HASH,
	loadAuditSigner,
	type PublicJwk,
	signJws,
} from "../protocol/audit-chain.ts";
import {
	EXPORT_FORMAT,
	exportLine,
	type HeaderLine,
	toEventLine,
} from "../protocol/audit-export.ts";
import { type AuditEvent, filterVisibleTo, getSeqRange, listChain } from "../schema/audit.ts";
import {
	type AuditCheckpoint,
	getCheckpointAtOrAfter,
	getCheckpointBefore,
	listAuditKeys,
	listCheckpoints,
} from "../schema/checkpoints.ts";
import type { Db } from "../schema/db.ts";
import { type AuditLogNamespace, auditLogStub } from "./audit-log-api.ts";

/** Events per database read while an export streams. */
const EXPORT_PAGE = 1000;

/** The AuditLog could not sign the head, or the database did not answer. */
export class ExportUnavailableError extends Error {
	override name = "ExportUnavailableError";
}

export interface ExportPlan {
	/** The checkpoint the export starts after; null: the very beginning (seq 0, genesis). */
	anchor: AuditCheckpoint | null;
	/** The checkpoint it ends with; null only for an empty protocol. */
	end: AuditCheckpoint | null;
}

/** Every key that signed a checkpoint, and the current key (which signs the header). */
export async function auditKeySet(env: { JWT_PRIVATE_KEY: string }, db: Db): Promise<PublicJwk[]> {
	const keys = await listAuditKeys(db);
	const current = (await loadAuditSigner(env.JWT_PRIVATE_KEY)).publicJwk;
	return keys.some((k) => k.kid === current.kid) ? keys : [...keys, current];
}

/**
 * Chooses the signed checkpoints around the requested events: the newest one before the first
 * event (or the genesis) and the oldest one at or after the last. The head is signed first, so
 * the end always exists; an export therefore covers a little more than asked, never less.
 */
export async function planExport(
	env: { AUDIT_LOG: AuditLogNamespace },
	db: Db,
	q: { from?: number; to?: number; sessionId?: string },
): Promise<ExportPlan> {
	const signed = await auditLogStub(env.AUDIT_LOG).checkpoint();
	if (!signed.ok) throw new ExportUnavailableError();
	const head = signed.checkpoint;
	if (!head) return { anchor: null, end: null };
	const range = await getSeqRange(db, q);
	const last = Math.min(range?.last ?? 0, head.seq);
	if (!range || range.first > last) {
		// Nothing matches: the file proves only the head it was taken at.
		const at = await getCheckpointAtOrAfter(db, head.seq);
		return { anchor: at, end: at };
	}
	const [anchor, end] = await Promise.all([
		getCheckpointBefore(db, range.first),
		getCheckpointAtOrAfter(db, last),
	]);
	if (!end) throw new ExportUnavailableError(); // cannot happen: the head was just signed
	return { anchor, end };
}

export async function signedHeader(
	env: { JWT_PRIVATE_KEY: string; FERNWART_VERSION: string },
	db: Db,
	plan: ExportPlan,
	scope: HeaderLine["scope"] & { url: string | null },
): Promise<HeaderLine> {
	const point = (c: AuditCheckpoint | null) =>
		c ? { seq: c.seq, hash: c.hash } : { seq: 0, hash: GENESIS_HASH };
	const { url, ...rest } = scope;
	const fields: Omit<HeaderLine, "jws"> = {
		kind: "header",
		format: EXPORT_FORMAT,
		server: { name: "fernwart", version: env.FERNWART_VERSION, url },
		exportedAt: Date.now(),
		scope: rest,
		start: point(plan.anchor),
		end: point(plan.end ?? plan.anchor),
		keys: await auditKeySet(env, db),
	};
	const signer = await loadAuditSigner(env.JWT_PRIVATE_KEY);
	return { ...fields, jws: await signJws(signer, EXPORT_HEADER_TYP, fields) };
}

function checkpointLine(c: AuditCheckpoint) {
	return exportLine({
		kind: "checkpoint",
		seq: c.seq,
		hash: c.hash,
		signedAt: c.signedAt.getTime(),
		kid: c.kid,
		jws: c.jws,
	});
}

/**
 * Streams the file a page at a time, so memory stays flat for any length. A failure mid-way
 * ends the stream early; the file then lacks its end checkpoint and fails verification.
 */
export function exportStream(
	db: Db,
	header: HeaderLine,
	plan: ExportPlan,
	visibility: { supporterId?: string; sessionId?: string },
): ReadableStream<Uint8Array> {
	const encoder = new TextEncoder();
	let after = header.start.seq;
	const through = header.end.seq;
	let started = false;
	return new ReadableStream<Uint8Array>({
		async pull(controller) {
			if (!started) {
				started = true;
				let text = exportLine(header);
				if (plan.anchor) text += checkpointLine(plan.anchor);
				controller.enqueue(encoder.encode(text));
				if (after >= through) controller.close();
				return;
			}
			const rows = await listChain(db, after, EXPORT_PAGE, through);
			const lastRow = rows.at(-1);
			if (!lastRow) {
				controller.close();
				return;
			}
			const pageEnd = rows.length < EXPORT_PAGE ? through : lastRow.seq;
			const checkpoints = await listCheckpoints(db, after, pageEnd);
			const readable = visibility.supporterId
				? await filterVisibleTo(db, visibility.supporterId, rows)
				: null;
			const visible = (e: AuditEvent) =>
				(!visibility.sessionId || e.sessionId === visibility.sessionId) &&
				(!readable || readable.has(e.seq));
			let text = "";
			let next = 0;
			for (const row of rows) {
				text += visible(row)
					? exportLine(toEventLine({ ...row, ts: row.ts.getTime() }))
					: exportLine({ kind: "redacted", seq: row.seq, prevHash: row.prevHash, hash: row.hash });
				while (next < checkpoints.length && (checkpoints[next]?.seq ?? 0) <= row.seq) {
					const c = checkpoints[next++] as AuditCheckpoint;
					if (c.seq === row.seq) text += checkpointLine(c);
				}
			}
			controller.enqueue(encoder.encode(text));
			after = lastRow.seq;
			if (after >= through) controller.close();
		},
	});
}
