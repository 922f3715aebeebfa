/**
 * The RateLimiter's RPC surface as plain types, so functions/ (and Node-side type checks, which
 * have no `cloudflare:workers`) can name it without importing the class.
 */

/** How many events within `windowMs` lock the key, and for how long. */
export interface LimitPolicy {
	limit: number;
	windowMs: number;
	lockMs: number;
}

export type LimitCheck = { ok: true } | { ok: false; retryAfterSeconds: number };

export interface LimitHit {
	/** Events counted in the current window, including this one. */
	count: number;
	/** True when the key is locked now. */
	locked: boolean;
	/** True only for the event that caused the lock, so it is audited once. */
	justLocked: boolean;
	retryAfterSeconds: number;
}

/** What a stub of one RateLimiter instance offers. */
export interface RateLimiterApi {
	check(): Promise<LimitCheck>;
	hit(policy: LimitPolicy): Promise<LimitHit>;
	reset(): Promise<void>;
}

/** The `RATE_LIMITER` namespace binding, reduced to what functions/ uses. */
export interface RateLimiterNamespace {
	idFromName(name: string): unknown;
	get(id: unknown): RateLimiterApi;
}
