import { DurableObject } from "cloudflare:workers";
import { loadAuditSigner } from "../protocol/audit-chain.ts";
import { type AuditInput, appendChained, getChainHead, getChainHeadRow } from "../schema/audit.ts";
import {
	type AuditCheckpoint,
	cutChain,
	findRetentionCut,
	getLatestCheckpoint,
	writeCheckpoint,
} from "../schema/checkpoints.ts";
import { bindingExecutor, createDb, type Db, type DbBinding } from "../schema/db.ts";
import { getSettings } from "../schema/settings.ts";
import { bringForward } from "./alarm.ts";
import type {
	AppendResult,
	AuditLogApi,
	CheckpointInfo,
	CheckpointResult,
	RetentionResult,
} from "./audit-log-api.ts";

interface AuditLogEnv {
	DB: DbBinding;
	DB_TOKEN: string;
	/** The server's Ed25519 key (the access-token key), which signs checkpoints. */
	JWT_PRIVATE_KEY?: string;
}

/** A checkpoint is signed after this many unsigned events… */
export const CHECKPOINT_EVERY_EVENTS = 100;
/** …or this long after the first unsigned event, whichever comes first. */
export const CHECKPOINT_EVERY_MS = 60_000;
/** How often the retention setting is applied. */
export const RETENTION_EVERY_MS = 24 * 60 * 60_000;
const DAY_MS = 24 * 60 * 60_000;

const info = (c: AuditCheckpoint): CheckpointInfo => ({
	seq: c.seq,
	hash: c.hash,
	signedAt: c.signedAt.getTime(),
	kid: c.kid,
});

/**
 * Serialises every append to the audit protocol, keeps its hash chain and signs checkpoints of
 * it (DESIGN §6, docs/audit.md). One instance per server. The database is the source of truth
 * for the chain head: it is read before the first append of each instance's life, so rows the
 * admin CLI wrote while the server was stopped are chained on, never forked. An append that
 * fails leaves the head as it was, and the caller learns it failed: a consent that cannot be
 * recorded is refused.
 *
 * Its one alarm has two reasons, both recomputed whenever it is armed: an unsigned head that is
 * due for a checkpoint, and the daily retention run (`retentionAt` in storage).
 */
export class AuditLog extends DurableObject<AuditLogEnv> implements AuditLogApi {
	private head: string | undefined;
	/** Events after the newest checkpoint; undefined until read from the database. */
	private unsigned: number | undefined;
	/** When the oldest unsigned event was appended by this instance (ms). */
	private unsignedSince: number | null = null;
	private queue: Promise<unknown> = Promise.resolve();
	private db: Db | undefined;

	/** Appends events in order, as one transaction; the result says whether they are committed. */
	async append(inputs: AuditInput[]): Promise<AppendResult> {
		const result = await this.serialized(() => this.appendNow(inputs));
		if (result.ok && inputs.length > 0) {
			if ((this.unsigned ?? 0) >= CHECKPOINT_EVERY_EVENTS) {
				// Signed after the caller has its answer: an append never waits for a signature.
				this.ctx.waitUntil(this.serialized(() => this.checkpointNow()));
			} else if (this.unsignedSince === null) {
				this.unsignedSince = Date.now();
				await this.armAlarm();
			}
		}
		return result;
	}

	/** Signs the head now unless it is signed already; the export route calls this. */
	async checkpoint(): Promise<CheckpointResult> {
		return this.serialized(() => this.checkpointNow());
	}

	/** Cuts whole sessions older than `days` days at a signed checkpoint; audited as it happens. */
	async applyRetention(
		days: number,
		by: { actor: string | null; ip: string | null },
	): Promise<RetentionResult> {
		return this.serialized(() => this.retentionNow(days, by));
	}

	override async alarm(): Promise<void> {
		await this.serialized(async () => {
			if ((await this.load()) && (this.unsigned ?? 0) > 0) await this.checkpointNow();
			const retentionAt = (await this.ctx.storage.get<number>("retentionAt")) ?? 0;
			if (Date.now() >= retentionAt) {
				const { auditRetentionDays } = await getSettings(this.database());
				if (auditRetentionDays > 0)
					await this.retentionNow(auditRetentionDays, { actor: null, ip: null });
				await this.ctx.storage.put("retentionAt", Date.now() + RETENTION_EVERY_MS);
			}
		});
		await this.armAlarm();
	}

	// ---------------------------------------------------------------------------------------------

	/**
	 * Runs `task` after every earlier one settled. The DB calls are not storage, so the input gate
	 * does not hold other calls back while they run: the chain needs this explicit queue.
	 */
	private serialized<T>(task: () => Promise<T>): Promise<T> {
		const run = this.queue.then(task);
		this.queue = run.catch(() => undefined);
		return run;
	}

	private database(): Db {
		this.db ??= createDb(bindingExecutor(this.env.DB, this.env.DB_TOKEN));
		return this.db;
	}

	/** Reads head and unsigned count once per instance life; false if the database is down. */
	private async load(): Promise<boolean> {
		try {
			const db = this.database();
			if (this.head === undefined) this.head = await getChainHead(db);
			if (this.unsigned === undefined) {
				const [row, latest] = await Promise.all([getChainHeadRow(db), getLatestCheckpoint(db)]);
				this.unsigned = Math.max(0, (row?.seq ?? 0) - (latest?.seq ?? 0));
			}
			return true;
		} catch (err) {
			this.log(`reading the chain head failed: ${(err as Error).name}`);
			return false;
		}
	}

	private async appendNow(inputs: AuditInput[]): Promise<AppendResult> {
		if (inputs.length === 0) return { ok: true, hashes: [] };
		try {
			if (!(await this.load())) return { ok: false, reason: "unavailable" };
			const { rows, head } = await appendChained(this.database(), this.head as string, inputs);
			this.head = head;
			this.unsigned = (this.unsigned ?? 0) + rows.length;
			return { ok: true, hashes: rows.map((r) => r.hash) };
		} catch (err) {
			// Re-read the head next time: the batch may or may not have reached the database.
			this.head = undefined;
			this.unsigned = undefined;
			this.log(`append of ${inputs.length} event(s) failed: ${(err as Error).name}`);
			return { ok: false, reason: "unavailable" };
		}
	}

	private async checkpointNow(): Promise<CheckpointResult> {
		if (!this.env.JWT_PRIVATE_KEY) return { ok: false, reason: "no-key" };
		try {
			const signer = await loadAuditSigner(this.env.JWT_PRIVATE_KEY);
			const checkpoint = await writeCheckpoint(this.database(), signer);
			this.unsigned = 0;
			this.unsignedSince = null;
			return { ok: true, checkpoint: checkpoint ? info(checkpoint) : null };
		} catch (err) {
			this.unsigned = undefined;
			this.log(`checkpoint failed: ${(err as Error).name}`);
			return { ok: false, reason: "unavailable" };
		}
	}

	private async retentionNow(
		days: number,
		by: { actor: string | null; ip: string | null },
	): Promise<RetentionResult> {
		try {
			if (!(await this.load())) return { ok: false, reason: "unavailable" };
			const db = this.database();
			const cut = await findRetentionCut(db, new Date(Date.now() - days * DAY_MS));
			if (!cut) return { ok: true, cut: null, deletedEvents: 0 };
			const result = await cutChain(db, this.head as string, cut, {
				type: "audit.retention_applied",
				actor: by.actor,
				ip: by.ip,
				data: { days },
			});
			this.head = result.head;
			this.unsigned = (this.unsigned ?? 0) + 1;
			this.unsignedSince ??= Date.now();
			return {
				ok: true,
				cut: { seq: cut.seq, hash: cut.hash },
				deletedEvents: result.deletedEvents,
			};
		} catch (err) {
			this.head = undefined;
			this.unsigned = undefined;
			this.log(`retention failed: ${(err as Error).name}`);
			return { ok: false, reason: "unavailable" };
		}
	}

	/** The earlier of: the pending checkpoint's deadline, the next retention run. */
	private async armAlarm(): Promise<void> {
		const now = Date.now();
		let retentionAt = await this.ctx.storage.get<number>("retentionAt");
		if (retentionAt === undefined) {
			retentionAt = now + CHECKPOINT_EVERY_MS;
			await this.ctx.storage.put("retentionAt", retentionAt);
		}
		const checkpointAt =
			this.unsignedSince !== null
				? this.unsignedSince + CHECKPOINT_EVERY_MS
				: Number.POSITIVE_INFINITY;
		const at = Math.min(checkpointAt, retentionAt);
		await bringForward(this.ctx.storage, at);
	}

	private log(message: string): void {
		console.error(`[AuditLog] ${message}`);
	}
}
