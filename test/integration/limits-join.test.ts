import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN, bearer, from, mustLogin } from "../helpers/auth.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { queryDb } from "../helpers/sql.ts";

/** The nth of many distinct client addresses (198.18.0.0/15 is set aside for tests). */
function address(n: number): string {
	return `198.18.${(n >> 8) & 255}.${n & 255}`;
}

function statuses(list: { status: number }[]): Record<number, number> {
	const out: Record<number, number> = {};
	for (const { status } of list) out[status] = (out[status] ?? 0) + 1;
	return out;
}

/**
 * `count` requests, 100 concurrent at a time: each batch still races the counters, and 600 at
 * once time out connecting on a loaded two-core machine.
 */
async function inBatches<T>(count: number, send: (i: number) => Promise<T>): Promise<T[]> {
	const out: T[] = [];
	for (let start = 0; start < count; start += 100) {
		const size = Math.min(100, count - start);
		out.push(...(await Promise.all(Array.from({ length: size }, (_, k) => send(start + k)))));
	}
	return out;
}

/** Every file below `dir` whose path contains `part`. */
function filesUnder(dir: string, part: string): string[] {
	const out: string[] = [];
	const walk = (d: string) => {
		for (const name of readdirSync(d)) {
			const p = join(d, name);
			if (statSync(p).isDirectory()) walk(p);
			else if (p.includes(part)) out.push(p);
		}
	};
	walk(dir);
	return out;
}

/**
 * Support IDs are 8 digits. The join limits bound guessing per address, per network and in
 * total (docs/security.md, "Support IDs"); they must hold for concurrent guesses, must not lock
 * every customer out, and counting spoofed addresses must not leave files behind.
 */
describe("join limits under concurrent bursts, and the limiter's storage", () => {
	let server: TestServer;
	const join_ = (code: string, headers: Record<string, string>) =>
		server.json("/api/v1/sessions/join", { body: { code, displayName: "guesser" }, headers });
	const joinFailures = () =>
		queryDb(
			join(server.dataDir, "fernwart.db"),
			"SELECT count(*) AS n FROM audit_events WHERE type = 'session.join_failed'",
		)[0]?.n;
	beforeAll(async () => {
		server = await startServer();
	});
	afterAll(async () => {
		await server?.stop();
	});

	it("evaluates at most 20 of 200 concurrent wrong IDs from one address", async () => {
		const burst = await Promise.all(
			Array.from({ length: 200 }, (_, i) => join_(String(10_000_000 + i), from("203.0.113.90"))),
		);
		expect(statuses(burst)).toEqual({ 404: 20, 429: 180 });
		expect(joinFailures()).toBe(20);
	});

	it("evaluates at most 100 of the wrong IDs from one /24 network, whatever its addresses", async () => {
		// 600 addresses in 198.18.0.0/24, 198.18.1.0/24 and 88 of 198.18.2.0/24.
		const burst = await inBatches(600, (i) => join_(String(20_000_000 + i), from(address(i))));
		expect(statuses(burst)).toEqual({ 404: 288, 429: 312 });
		expect(joinFailures()).toBe(308);
	});

	it("keeps letting a correct ID in from a clean network once guesses from many networks fill the global limit", {
		timeout: 240_000,
	}, async () => {
		const token = (await mustLogin(server, ADMIN)).accessToken;
		// 700 networks, one guess each: the global counter (1,000 in 10 minutes) fills up on the
		// way, but a first guess from a clean address and network is still evaluated.
		const wide = await inBatches(700, (i) =>
			join_(String(30_000_000 + i), from(`10.${(i >> 8) & 255}.${i & 255}.1`)),
		);
		expect(statuses(wide)).toEqual({ 404: 700 });
		// A second guess from any of those networks is refused while the global counter is full.
		const again = await inBatches(50, (i) =>
			join_(String(40_000_000 + i), from(`10.${(i >> 8) & 255}.${i & 255}.2`)),
		);
		expect(statuses(again)).toEqual({ 429: 50 });
		expect(joinFailures()).toBe(1008);

		const issue = () =>
			server.json<{ code: string }>("/api/v1/sessions", { body: {}, headers: bearer(token) });
		// An honest customer from a network nobody guesses from gets in at the first try ...
		const honest = await issue();
		expect((await join_(honest.body.code, from("192.0.2.10"))).status).toBe(200);
		// ... one behind a network that guessed is refused until the window moves on (the price).
		const unlucky = await issue();
		expect((await join_(unlucky.body.code, from("10.0.5.3"))).status).toBe(429);
		expect(joinFailures()).toBe(1008);
	});

	it("keeps counters as rows in a bounded number of files, and keeps no row for a settled attempt", async () => {
		const publicKey = { kty: "OKP", crv: "Ed25519", x: "A".repeat(43) };
		const token = `${"a".repeat(22)}.${"b".repeat(43)}`;
		const burst = await inBatches(300, (i) =>
			server.json("/api/v1/hosts/register", {
				body: { token, name: "pc", platform: "linux", publicKey },
				headers: from(address(1000 + i)),
			}),
		);
		expect(statuses(burst)).toEqual({ 400: 300 });

		// 2,361 keys were touched in this file: 1,353 join addresses, 705 join networks, the global
		// join counter, the login's two and 300 registration addresses. One directory holds the
		// limiter's instances plus workerd's own metadata database; an instance has at most three
		// files (database, WAL, shared memory).
		const files = filesUnder(join(server.dataDir, "actors"), "RateLimiter");
		const shards = files.filter((f) => f.endsWith(".sqlite") && !f.endsWith("metadata.sqlite"));
		console.log(`rate limiter: ${files.length} files, ${shards.length} instances, 2,361 keys`);
		expect(shards.length).toBeLessThanOrEqual(16);
		expect(files.length).toBeLessThanOrEqual(16 * 3 + 3);

		// A row per key that still counts a failure: the 1 + 288 + 700 addresses and the 1 + 3 +
		// 700 networks with a wrong guess, and the global counter. Joins refused by a limit had
		// their other reservations released, and correct IDs too: they left nothing behind.
		const rows = shards.flatMap((f) => queryDb(f, "SELECT key FROM counters"));
		const keys = rows.map((r) => String(r.key));
		expect(new Set(keys).size).toBe(keys.length);
		expect(keys.filter((k) => k.startsWith("join-ip:"))).toHaveLength(989);
		expect(keys.filter((k) => k.startsWith("join-net:"))).toHaveLength(704);
		expect(keys.filter((k) => k === "join-global")).toHaveLength(1);
		expect(keys.filter((k) => k.startsWith("host-register-ip:"))).toHaveLength(300);
	});
});
