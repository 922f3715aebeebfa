/**
 * The RateLimiter's RPC surface as plain types, so functions/ (and Node-side type checks, which
 * have no `cloudflare:workers`) can name it without importing the class.
 */

/**
 * At most `limit` attempts within any `windowMs`; the attempt that reaches the limit locks the
 * key for `lockMs`.
 */
export interface LimitPolicy {
	limit: number;
	windowMs: number;
	lockMs: number;
}

/**
 * The answer to a reservation. A granted one is already counted, as if it had failed: `at`
 * names it for a later `release` when it turns out not to count.
 */
export type Reservation =
	| {
			ok: true;
			at: number;
			/** Attempts counted in the window, this one included. */
			count: number;
			/** True only for the attempt that reached the limit, so the lock is audited once. */
			justLocked: boolean;
	  }
	| { ok: false; retryAfterSeconds: number };

/** What a stub of one RateLimiter shard offers; each call names the key it is about. */
export interface RateLimiterApi {
	/** Checks and counts in one step: of concurrent callers, at most the limit get `ok`. */
	reserve(key: string, policy: LimitPolicy): Promise<Reservation>;
	/** Takes back one granted attempt (it succeeded, or another counter refused it). */
	release(key: string, at: number): Promise<void>;
	/** Forgets the key's count, e.g. after a successful login. */
	forget(key: string): Promise<void>;
}

/** The `RATE_LIMITER` namespace binding, reduced to what functions/ uses. */
export interface RateLimiterNamespace {
	idFromName(name: string): unknown;
	get(id: unknown): RateLimiterApi;
}

/** The RateLimiter instance of one shard (named `shard-N`). */
export function rateLimiterStub(ns: RateLimiterNamespace, shard: number): RateLimiterApi {
	return ns.get(ns.idFromName(`shard-${shard}`));
}
