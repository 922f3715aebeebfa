import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { from } from "../helpers/auth.ts";
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
 * Support IDs are 8 digits, so the join limits are what keeps guessing out of reach. They must
 * hold for concurrent guesses, and counting spoofed addresses must not leave files behind.
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

	it("evaluates at most 300 of 600 concurrent wrong IDs from 600 addresses (global limit)", async () => {
		const burst = await Promise.all(
			Array.from({ length: 600 }, (_, i) => join_(String(20_000_000 + i), from(address(i)))),
		);
		// The first test already spent 20 of the 300 failures the window allows.
		expect(statuses(burst)).toEqual({ 404: 280, 429: 320 });
		expect(joinFailures()).toBe(300);
	});

	it("keeps counters as rows in a bounded number of files, and keeps no row for a settled attempt", async () => {
		const publicKey = { kty: "OKP", crv: "Ed25519", x: "A".repeat(43) };
		const token = `${"a".repeat(22)}.${"b".repeat(43)}`;
		const burst = await Promise.all(
			Array.from({ length: 300 }, (_, i) =>
				server.json("/api/v1/hosts/register", {
					body: { token, name: "pc", platform: "linux", publicKey },
					headers: from(address(1000 + i)),
				}),
			),
		);
		expect(statuses(burst)).toEqual({ 400: 300 });

		// 902 keys were touched in this file: 601 join addresses, the global join counter and 300
		// registration addresses. One directory holds the limiter's instances plus workerd's own
		// metadata database; an instance has at most three files (database, WAL, shared memory).
		const files = filesUnder(join(server.dataDir, "actors"), "RateLimiter");
		const shards = files.filter((f) => f.endsWith(".sqlite") && !f.endsWith("metadata.sqlite"));
		console.log(`rate limiter: ${files.length} files, ${shards.length} instances, 902 keys`);
		expect(shards.length).toBeLessThanOrEqual(16);
		expect(files.length).toBeLessThanOrEqual(16 * 3 + 3);

		// A row per key that still counts a failure: the 20 + 280 + 300 addresses with a wrong
		// guess and the global counter. The 320 joins refused by the global limit had their
		// address reservation released, and left nothing behind.
		const rows = shards.flatMap((f) => queryDb(f, "SELECT key FROM counters"));
		const keys = rows.map((r) => String(r.key));
		expect(new Set(keys).size).toBe(keys.length);
		expect(keys.filter((k) => k.startsWith("join-ip:"))).toHaveLength(281);
		expect(keys.filter((k) => k === "join-global")).toHaveLength(1);
		expect(keys.filter((k) => k.startsWith("host-register-ip:"))).toHaveLength(300);
	});
});
