import type { LimitPolicy, Reservation } from "./rate-limiter-api.ts";

/**
 * The counting rules of the RateLimiter as pure functions; the actor stores one Counter per key
 * and does the I/O around them.
 *
 * An attempt is counted when it is reserved, before the work it guards, as if it were going to
 * fail; an attempt that then does not count is released. So the count always covers the attempts
 * in flight, and a concurrent burst cannot get more than `limit` attempts past the check.
 */
export interface Counter {
	/** Times (ms) of counted attempts inside the window, oldest first; at most `limit`. */
	events: number[];
	/** 0 when not locked. */
	lockedUntil: number;
	limit: number;
	windowMs: number;
}

/** Checks and counts one attempt; the counter to store comes back either way. */
export function reserveIn(
	stored: Counter | null,
	policy: LimitPolicy,
	now: number,
): { counter: Counter; result: Reservation } {
	const events = (stored?.events ?? []).filter((t) => t > now - policy.windowMs);
	const lock = stored?.lockedUntil ?? 0;
	const counter = { events, lockedUntil: lock > now ? lock : 0, ...limitOf(policy) };
	if (lock > now) {
		return { counter, result: { ok: false, retryAfterSeconds: secondsUntil(lock, now) } };
	}
	const oldest = events[0];
	if (events.length >= policy.limit && oldest !== undefined) {
		// Full without a lock: the lock was shorter than the window. A slot frees when the oldest
		// attempt leaves the window (or an attempt in flight is released).
		const freeAt = oldest + policy.windowMs;
		return { counter, result: { ok: false, retryAfterSeconds: secondsUntil(freeAt, now) } };
	}
	events.push(now);
	const justLocked = events.length >= policy.limit;
	if (justLocked) counter.lockedUntil = now + policy.lockMs;
	return { counter, result: { ok: true, at: now, count: events.length, justLocked } };
}

/**
 * Takes back the attempt reserved at `at`. A lock that attempt caused is lifted, because the
 * limit was not reached by attempts that count. Returns null when nothing is left to keep.
 */
export function releaseIn(stored: Counter, at: number, now: number): Counter | null {
	const events = stored.events.filter((t) => t > now - stored.windowMs);
	const i = events.lastIndexOf(at);
	let { lockedUntil } = stored;
	if (i >= 0) {
		events.splice(i, 1);
		if (events.length < stored.limit) lockedUntil = 0;
	}
	const counter = { ...stored, events, lockedUntil };
	return isIdle(counter, now) ? null : counter;
}

/** When the counter stops mattering: its lock is over and its last attempt left the window. */
export function expiryOf(counter: Counter): number {
	const last = counter.events.at(-1);
	return Math.max(counter.lockedUntil, last === undefined ? 0 : last + counter.windowMs);
}

/** True when keeping the counter would change no future answer. */
export function isIdle(counter: Counter, now: number): boolean {
	return expiryOf(counter) <= now;
}

function limitOf(policy: LimitPolicy): Pick<Counter, "limit" | "windowMs"> {
	return { limit: policy.limit, windowMs: policy.windowMs };
}

function secondsUntil(t: number, now: number): number {
	return Math.max(1, Math.ceil((t - now) / 1000));
}
