import type {
	LimitCheck,
	LimitHit,
	LimitPolicy,
	RateLimiterApi,
} from "../../durable/rate-limiter-api.ts";
import type { Env } from "../env.ts";
import { AppError } from "../lib/errors.ts";

/**
 * Limits, with the reasoning behind each number:
 * - per account: 10 failed logins in 15 minutes lock that account for 15 minutes. Online
 *   guessing then gets at most ~1000 tries a day against any one account.
 * - per address: 30 failed logins in 15 minutes; higher, because a whole office may share one
 *   NAT address, and lower than the account limit times a handful of accounts (spraying).
 * - password-reset requests: 3 mails per account and 10 requests per address an hour, so the
 *   feature cannot be used to flood someone's inbox.
 */
export const POLICIES = {
	loginAccount: { limit: 10, windowMs: 15 * 60_000, lockMs: 15 * 60_000 },
	loginAddress: { limit: 30, windowMs: 15 * 60_000, lockMs: 15 * 60_000 },
	resetAccount: { limit: 3, windowMs: 60 * 60_000, lockMs: 60 * 60_000 },
	resetAddress: { limit: 10, windowMs: 60 * 60_000, lockMs: 60 * 60_000 },
} as const satisfies Record<string, LimitPolicy>;

/** The counter for one key, e.g. `login-account:ann@example.org`. */
export function limiter(env: Env, key: string): RateLimiterApi {
	return env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(key));
}

/** Checks several counters at once; throws 429 with Retry-After if any is locked. */
export async function enforceLimits(env: Env, keys: (string | null)[]): Promise<void> {
	const checks: LimitCheck[] = await Promise.all(
		keys.filter((k): k is string => k !== null).map((k) => limiter(env, k).check()),
	);
	const retry = Math.max(0, ...checks.map((r) => (r.ok ? 0 : r.retryAfterSeconds)));
	if (retry > 0) throw new AppError("RATE_LIMITED", undefined, { "retry-after": String(retry) });
}

/** Counts one event on a counter. */
export async function countHit(env: Env, key: string, policy: LimitPolicy): Promise<LimitHit> {
	return limiter(env, key).hit(policy);
}
