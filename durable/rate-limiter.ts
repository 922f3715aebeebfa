import { DurableObject } from "cloudflare:workers";
import { bringForward } from "./alarm.ts";
import { type Counter, expiryOf, isIdle, releaseIn, reserveIn } from "./rate-limit-rules.ts";
import type { LimitPolicy, RateLimiterApi, Reservation } from "./rate-limiter-api.ts";

const SCHEMA = `
	CREATE TABLE IF NOT EXISTS counters (
		key TEXT PRIMARY KEY,
		events TEXT NOT NULL,
		locked_until INTEGER NOT NULL,
		limit_n INTEGER NOT NULL,
		window_ms INTEGER NOT NULL,
		expires_at INTEGER NOT NULL
	);
	CREATE INDEX IF NOT EXISTS counters_expires_at ON counters (expires_at);
`;

/**
 * Counts attempts (failed logins, wrong support IDs, reset requests) for many keys, e.g.
 * `login-account:<email>` or `login-ip:<address>`. functions/ spreads the keys over a fixed number
 * of instances by a hash of the key (middleware/rate-limit.ts), because workerd keeps a SQLite
 * file for every instance that ever stored something, even after `deleteAll()` (measured with
 * workerd 1.20261117: one 4 KiB file per instance stays): one instance per key would leave a
 * file per client address forever. Here a key is a row, and rows go when they stop mattering.
 *
 * The instance is single-threaded and each entry point reads, decides and writes without
 * awaiting in between, so `reserve` checks and counts in one step. It trusts its caller for the
 * key and the policy; functions/ decides what to count.
 */
export class RateLimiter extends DurableObject implements RateLimiterApi {
	private ready = false;

	/** Checks and counts one attempt before the work it guards. */
	async reserve(key: string, policy: LimitPolicy): Promise<Reservation> {
		const now = Date.now();
		const { counter, result } = reserveIn(this.read(key), policy, now);
		this.write(key, counter, now);
		if (result.ok) await this.armAlarm(expiryOf(counter));
		return result;
	}

	/** Takes back one granted attempt; unknown keys and attempts are ignored. */
	async release(key: string, at: number): Promise<void> {
		const stored = this.read(key);
		const now = Date.now();
		if (stored) this.write(key, releaseIn(stored, at, now), now);
	}

	/** Forgets the key, e.g. after a successful login. */
	async forget(key: string): Promise<void> {
		this.sql(`DELETE FROM counters WHERE key = ?`, key);
	}

	/** Deletes the counters that stopped mattering; an empty instance deletes all its storage. */
	override async alarm(): Promise<void> {
		const now = Date.now();
		this.sql(`DELETE FROM counters WHERE expires_at <= ?`, now);
		const [next] = this.sql<{ at: number | null }>(`SELECT min(expires_at) AS at FROM counters`);
		if (typeof next?.at === "number") {
			await this.ctx.storage.setAlarm(next.at);
			return;
		}
		// Nothing left: delete the table too, which also clears what an instance of the former
		// one-instance-per-key layout still holds when its last alarm fires. No await between the
		// check above and this call, so no reservation can slip in and be wiped; the alarm that
		// is running is the only one, so none is left behind.
		this.ready = false;
		await this.ctx.storage.deleteAll();
	}

	private read(key: string): Counter | null {
		const [row] = this.sql<{
			events: string;
			locked_until: number;
			limit_n: number;
			window_ms: number;
		}>(`SELECT events, locked_until, limit_n, window_ms FROM counters WHERE key = ?`, key);
		if (!row) return null;
		const events: unknown = JSON.parse(row.events);
		return {
			events: Array.isArray(events) ? events.filter((t) => typeof t === "number") : [],
			lockedUntil: row.locked_until,
			limit: row.limit_n,
			windowMs: row.window_ms,
		};
	}

	private write(key: string, counter: Counter | null, now: number): void {
		if (!counter || isIdle(counter, now)) {
			this.sql(`DELETE FROM counters WHERE key = ?`, key);
			return;
		}
		this.sql(
			`INSERT INTO counters (key, events, locked_until, limit_n, window_ms, expires_at)
			 VALUES (?, ?, ?, ?, ?, ?)
			 ON CONFLICT (key) DO UPDATE SET events = excluded.events,
				locked_until = excluded.locked_until, limit_n = excluded.limit_n,
				window_ms = excluded.window_ms, expires_at = excluded.expires_at`,
			key,
			JSON.stringify(counter.events),
			counter.lockedUntil,
			counter.limit,
			counter.windowMs,
			expiryOf(counter),
		);
	}

	/** One alarm for the earliest expiry; a later alarm is brought forward, never pushed back. */
	private async armAlarm(at: number): Promise<void> {
		await bringForward(this.ctx.storage, at);
	}

	/** Runs one statement synchronously (the table is created on first use) and returns its rows. */
	private sql<T extends Record<string, SqlStorageValue>>(
		query: string,
		...bindings: SqlStorageValue[]
	): T[] {
		if (!this.ready) {
			this.ctx.storage.sql.exec(SCHEMA);
			this.ready = true;
		}
		return this.ctx.storage.sql.exec<T>(query, ...bindings).toArray();
	}
}
