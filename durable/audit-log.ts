import { DurableObject } from "cloudflare:workers";
import { type AuditInput, appendChained, getChainHead } from "../schema/audit.ts";
import { bindingExecutor, createDb, type Db, type DbBinding } from "../schema/db.ts";
import type { AppendResult, AuditLogApi } from "./audit-log-api.ts";

interface AuditLogEnv {
	DB: DbBinding;
	DB_TOKEN: string;
}

/**
 * Serialises every append to the audit protocol and keeps its hash chain (DESIGN §6). One
 * instance per server. The database is the source of truth for the chain head: it is read before
 * the first append of each instance's life, so rows the admin CLI wrote while the server was
 * stopped are chained on, never forked. An append that fails leaves the head as it was, and the
 * caller learns it failed: a consent that cannot be recorded is refused.
 */
export class AuditLog extends DurableObject<AuditLogEnv> implements AuditLogApi {
	private head: string | undefined;
	private queue: Promise<unknown> = Promise.resolve();
	private db: Db | undefined;

	/** Appends events in order, as one transaction; the result says whether they are committed. */
	async append(inputs: AuditInput[]): Promise<AppendResult> {
		// The DB call is not storage, so the input gate does not hold other calls back while it
		// runs: chain them explicitly, each after the previous one settled.
		const run = this.queue.then(() => this.appendNow(inputs));
		this.queue = run.catch(() => undefined);
		return run;
	}

	private async appendNow(inputs: AuditInput[]): Promise<AppendResult> {
		if (inputs.length === 0) return { ok: true, hashes: [] };
		try {
			this.db ??= createDb(bindingExecutor(this.env.DB, this.env.DB_TOKEN));
			this.head ??= await getChainHead(this.db);
			const { rows, head } = await appendChained(this.db, this.head, inputs);
			this.head = head;
			return { ok: true, hashes: rows.map((r) => r.hash) };
		} catch (err) {
			// Re-read the head next time: the batch may or may not have reached the database.
			this.head = undefined;
			console.error(
				`[AuditLog] append of ${inputs.length} event(s) failed: ${(err as Error).name}`,
			);
			return { ok: false, reason: "unavailable" };
		}
	}
}
