import { describe, expect, it } from "vitest";
import {
	type Counter,
	expiryOf,
	isIdle,
	releaseIn,
	reserveIn,
} from "../../durable/rate-limit-rules.ts";
import { RATE_LIMITER_SHARDS, shardOf } from "../../functions/middleware/rate-limit.ts";

const POLICY = { limit: 3, windowMs: 60_000, lockMs: 120_000 };

/** Reserves `n` attempts at `now`, feeding each answer's counter into the next call. */
function reserveMany(n: number, now: number, start: Counter | null = null) {
	let counter = start;
	const results = [];
	for (let i = 0; i < n; i++) {
		const r = reserveIn(counter, POLICY, now);
		counter = r.counter;
		results.push(r.result);
	}
	return { counter: counter as Counter, results };
}

describe("rate limit rules", () => {
	it("grants exactly `limit` reservations in a row and locks with the last one", () => {
		const { counter, results } = reserveMany(5, 1_000);
		expect(results.map((r) => r.ok)).toEqual([true, true, true, false, false]);
		expect(results[2]).toMatchObject({ ok: true, count: 3, justLocked: true });
		expect(results.filter((r) => r.ok && r.justLocked)).toHaveLength(1);
		expect(results[3]).toEqual({ ok: false, retryAfterSeconds: 120 });
		expect(counter.lockedUntil).toBe(121_000);
	});

	it("gives a released slot back and lifts a lock the released attempt caused", () => {
		const { counter, results } = reserveMany(3, 1_000);
		const last = results[2];
		if (!last?.ok) throw new Error("expected a grant");
		const released = releaseIn(counter, last.at, 1_500);
		expect(released).toMatchObject({ events: [1_000, 1_000], lockedUntil: 0 });
		const again = reserveIn(released, POLICY, 2_000);
		expect(again.result).toMatchObject({ ok: true, count: 3, justLocked: true });
	});

	it("forgets a counter whose last attempt was released", () => {
		const { counter, results } = reserveMany(1, 1_000);
		const only = results[0];
		if (!only?.ok) throw new Error("expected a grant");
		expect(releaseIn(counter, only.at, 1_001)).toBeNull();
		// Releasing twice or releasing something unknown changes nothing.
		expect(releaseIn(counter, 999, 1_001)).toEqual(counter);
	});

	it("refuses while the window is full even after a shorter lock ended", () => {
		const policy = { limit: 2, windowMs: 600_000, lockMs: 300_000 };
		let counter = reserveIn(null, policy, 0).counter;
		counter = reserveIn(counter, policy, 100_000).counter;
		expect(counter.lockedUntil).toBe(400_000);
		const afterLock = reserveIn(counter, policy, 450_000);
		// The oldest attempt (t = 0) leaves the window at 600 s.
		expect(afterLock.result).toEqual({ ok: false, retryAfterSeconds: 150 });
		expect(reserveIn(counter, policy, 600_001).result).toMatchObject({ ok: true, count: 2 });
	});

	it("expires a counter when its lock is over and its last attempt left the window", () => {
		const { counter } = reserveMany(3, 1_000);
		expect(expiryOf(counter)).toBe(121_000);
		expect(isIdle(counter, 120_999)).toBe(false);
		expect(isIdle(counter, 121_000)).toBe(true);
		const one = reserveMany(1, 1_000).counter;
		expect(expiryOf(one)).toBe(61_000);
		expect(isIdle({ ...one, events: [] }, 1_001)).toBe(true);
	});

	it("spreads keys over every shard, the same key always on the same one", () => {
		const seen = new Set<number>();
		for (let i = 0; i < 1000; i++) seen.add(shardOf(`login-ip:198.18.${i >> 8}.${i & 255}`));
		expect(seen.size).toBe(RATE_LIMITER_SHARDS);
		expect(shardOf("login-account:ann@example.org")).toBe(shardOf("login-account:ann@example.org"));
	});
});
