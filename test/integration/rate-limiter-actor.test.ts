import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RateLimiterApi, Reservation } from "../../durable/rate-limiter-api.ts";
import { BUNDLE_PATH, COMPATIBILITY_DATE } from "../../server/build.ts";
import { makeDataDir } from "../helpers/server.ts";
import { queryDb } from "../helpers/sql.ts";

/** Policies of seconds instead of minutes, so that expiry can be watched. */
const LOCKING = { limit: 2, windowMs: 1_000, lockMs: 12_000 };
const UNLOCKED = { limit: 5, windowMs: 4_000, lockMs: 1_000 };

/** Polls `read` until it returns `want` (compared as JSON); fails after `ms`. */
async function until<T>(read: () => T, want: T, ms = 15_000): Promise<void> {
	const deadline = Date.now() + ms;
	let last = read();
	while (JSON.stringify(last) !== JSON.stringify(want)) {
		if (Date.now() > deadline) expect(last).toEqual(want);
		await new Promise((r) => setTimeout(r, 200));
		last = read();
	}
}

/**
 * The RateLimiter class from the built bundle, alone in workerd with its storage on disk: the
 * alarm must delete counters that stopped mattering, and an emptied instance its whole table.
 */
describe("RateLimiter storage", () => {
	let mf: Miniflare;
	let dir: string;
	let limiter: RateLimiterApi;
	beforeAll(async () => {
		dir = makeDataDir();
		mf = new Miniflare(
			convertV4MiniflareOptions({
				name: "rl",
				modules: true,
				scriptPath: BUNDLE_PATH,
				compatibilityDate: COMPATIBILITY_DATE,
				cf: false,
				enableDevRegistry: false,
				resourcePersistencePath: dir,
				durableObjects: { RATE_LIMITER: { className: "RateLimiter", useSQLite: true } },
			}),
		);
		const ns = await mf.getDurableObjectNamespace("RATE_LIMITER");
		limiter = ns.get(ns.idFromName("shard-0")) as unknown as RateLimiterApi;
	});
	afterAll(async () => {
		await mf?.dispose();
		if (dir) rmSync(dir, { recursive: true, force: true });
	});

	const files = () => readdirSync(join(dir, "do", "rl-RateLimiter"));
	/**
	 * The keys stored in the instance, or null when it has no table (its storage was deleted).
	 * The file is read while workerd works on it: a read that meets the table being dropped
	 * answers "unreadable", and the polling reads again.
	 */
	function keys(): string[] | null | "unreadable" {
		const db = files().find((f) => f.endsWith(".sqlite") && f !== "metadata.sqlite");
		if (!db) return null;
		const path = join(dir, "do", "rl-RateLimiter", db);
		try {
			const tables = queryDb(path, "SELECT name FROM sqlite_master WHERE name = 'counters'");
			if (tables.length === 0) return null;
			return queryDb(path, "SELECT key FROM counters ORDER BY key").map((r) => String(r.key));
		} catch {
			return "unreadable";
		}
	}
	/** RPC results are proxies in Node; this copies the fields a test looks at. */
	const plain = async (r: Promise<Reservation>) => {
		const v = await r;
		return v.ok ? { ok: true, count: v.count, justLocked: v.justLocked } : { ok: false };
	};

	it("counts, locks, keeps no row for a released attempt, and sweeps expired rows", async () => {
		const first = await plain(limiter.reserve("a", LOCKING));
		expect(first).toEqual({ ok: true, count: 1, justLocked: false });
		const second = await plain(limiter.reserve("a", LOCKING));
		expect(second).toEqual({ ok: true, count: 2, justLocked: true });
		expect(await plain(limiter.reserve("a", LOCKING))).toEqual({ ok: false });
		await limiter.reserve("b", UNLOCKED);
		const c = await limiter.reserve("c", UNLOCKED);
		if (!c.ok) throw new Error("expected a grant");
		await limiter.release("c", c.at);
		await until(keys, ["a", "b"], 3_000);

		// b's window (4 s) ends first; a stays locked for 12 s.
		await until(keys, ["a"]);
		expect(await plain(limiter.reserve("a", LOCKING))).toEqual({ ok: false });

		// Nothing left: the instance deleted its table; only the 4 KiB database file stays.
		await until(keys, null);
		expect(files().filter((f) => !f.startsWith("metadata"))).toHaveLength(1);
	});

	it("works again after its storage was deleted", async () => {
		const again = await plain(limiter.reserve("d", UNLOCKED));
		expect(again).toEqual({ ok: true, count: 1, justLocked: false });
		await until(keys, ["d"], 3_000);
		await until(keys, null);
	});
});
