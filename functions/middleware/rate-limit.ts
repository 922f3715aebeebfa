import {
	type LimitPolicy,
	type RateLimiterApi,
	rateLimiterStub,
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

/**
 * How many RateLimiter instances share the keys. Each instance keeps up to three SQLite files
 * however many keys it counts, so this bounds the limiter's files. Changing it moves keys to
 * other instances, which forgets their counts once.
 */
export const RATE_LIMITER_SHARDS = 16;

/** One counter an attempt is reserved on, e.g. `login-account:ann@example.org`. */
export interface LimitCounter {
	key: string;
	policy: LimitPolicy;
}

/** A granted reservation on one counter; `at` names it for `releaseAttempt`. */
export interface Reserved {
	key: string;
	at: number;
	count: number;
	justLocked: boolean;
}

/** FNV-1a: cheap and stable. A key chosen to collide only puts more keys on one instance. */
export function shardOf(key: string): number {
	let h = 0x811c9dc5;
	for (const byte of new TextEncoder().encode(key)) {
		h ^= byte;
		h = Math.imul(h, 0x01000193) >>> 0;
	}
	return h % RATE_LIMITER_SHARDS;
}

/** The instance that counts `key`. */
function limiter(env: Env, key: string): RateLimiterApi {
	return rateLimiterStub(env.RATE_LIMITER, shardOf(key));
}

/**
 * Reserves one attempt on every counter before the work it guards (a KDF run, a code lookup):
 * each counter checks and counts in one step, so a concurrent burst gets at most the limit past
 * it. If any counter refuses, the others are released and 429 is thrown with Retry-After.
 *
 * A granted attempt stays counted unless the caller settles it with `releaseAttempt` (or
 * `forgetCounter`) after success; an attempt whose work fails or throws stays counted.
 */
export async function reserveAttempt(
	env: Env,
	counters: (LimitCounter | null)[],
): Promise<Reserved[]> {
	const list = counters.filter((c): c is LimitCounter => c !== null);
	const answers = await Promise.all(list.map((c) => limiter(env, c.key).reserve(c.key, c.policy)));
	const granted: Reserved[] = [];
	let retry = 0;
	answers.forEach((a, i) => {
		const key = list[i]?.key;
		if (key === undefined) return;
		if (a.ok) granted.push({ key, at: a.at, count: a.count, justLocked: a.justLocked });
		else retry = Math.max(retry, a.retryAfterSeconds);
	});
	if (retry > 0) {
		// Not evaluated, so it does not count anywhere.
		await releaseAttempt(env, granted);
		throw new AppError("RATE_LIMITED", undefined, { "retry-after": String(retry) });
	}
	return granted;
}

/** Takes back reserved attempts that turned out not to count (the right password, a valid ID). */
export async function releaseAttempt(env: Env, reserved: Reserved[]): Promise<void> {
	await Promise.all(reserved.map((r) => limiter(env, r.key).release(r.key, r.at)));
}

/** Forgets a counter, e.g. the account's failures after a successful login. */
export async function forgetCounter(env: Env, key: string): Promise<void> {
	await limiter(env, key).forget(key);
}
