import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CLOSE } from "../../protocol/control.ts";
import { ADMIN, bearer, mustLogin } from "../helpers/auth.ts";
import { makeDataDir, startServer, type TestServer } from "../helpers/server.ts";
import { auditChain, openPair } from "../helpers/sessions.ts";
import { queryDb } from "../helpers/sql.ts";

/** Kills the launcher and its workerd with SIGKILL: a crash, with no chance to clean up. */
async function crash(server: TestServer): Promise<void> {
	const pid = server.process.pid as number;
	const children = execFileSync("ps", ["-o", "pid=", "--ppid", String(pid)], { encoding: "utf8" })
		.split("\n")
		.map((s) => Number(s.trim()))
		.filter(Boolean);
	const exited = new Promise((r) => server.process.once("exit", r));
	for (const p of [pid, ...children]) process.kill(p, "SIGKILL");
	await exited;
	await new Promise((r) => setTimeout(r, 200));
}

// Each test starts its own server and mostly waits for the relay's timers: they run side by side.
describe.concurrent("dead peers and dead servers", () => {
	it("records a silent peer as left within 30 s and tells the other side", async () => {
		const server = await startServer();
		try {
			const { accessToken } = await mustLogin(server, ADMIN);
			const { sessionId, supporter, customer } = await openPair(server, accessToken);
			// A customer whose network vanished: no keepalive, nothing read, no close.
			customer.stall();
			const silentSince = Date.now();
			// The supporter keeps pinging (RawParticipant does, as the modules do) and stays.
			await supporter.until(() => {
				const s = supporter.latestState();
				return s && !(s.connected as string[]).includes("customer");
			}, 35_000);
			const after = Date.now() - silentSince;
			console.log(`silent customer recorded as left after ${after} ms`);
			expect(after).toBeLessThan(30_000);
			expect(after).toBeGreaterThanOrEqual(20_000);
			expect(supporter.latestState()?.connected).toEqual(["supporter"]);
			expect(supporter.closeCode).toBeNull();
			const left = auditChain(server).filter(
				(r) => r.sessionId === sessionId && r.type === "session.left",
			);
			expect(left.map((r) => r.data)).toEqual([
				expect.objectContaining({ role: "customer", code: CLOSE.TIMED_OUT }),
			]);
			customer.ws.terminate();
		} finally {
			await server.stop();
		}
	}, 60_000);

	it("takes an ID that was joined but never connected off the live list once it expired", async () => {
		const server = await startServer();
		try {
			const { accessToken } = await mustLogin(server, ADMIN);
			const set = await server.json("/api/v1/settings", {
				method: "PATCH",
				body: { sessionIdleSeconds: 10, sessionCodeTtlMinutes: 1 },
				headers: bearer(accessToken),
			});
			expect(set.status).toBe(200);
			const created = await server.json<{ sessionId: string; code: string }>("/api/v1/sessions", {
				body: { requireTerms: false },
				headers: bearer(accessToken),
			});
			const issuedAt = Date.now();
			const joined = await server.json("/api/v1/sessions/join", {
				body: { code: created.body.code, displayName: "Ann" },
			});
			expect(joined.status).toBe(200);
			// Nobody opens a socket: neither the supporter nor the customer who joined.
			const isLive = async () => {
				const list = await server.json<{ sessions: { sessionId: string }[] }>("/api/v1/sessions", {
					headers: bearer(accessToken),
				});
				return list.body.sessions.some((s) => s.sessionId === created.body.sessionId);
			};
			expect(await isLive()).toBe(true);
			while ((await isLive()) && Date.now() - issuedAt < 90_000) {
				await new Promise((r) => setTimeout(r, 1000));
			}
			const after = Date.now() - issuedAt;
			console.log(`joined, never connected: off the live list ${after} ms after issue`);
			// Not before its support ID expired (60 s), soon after.
			expect(after).toBeGreaterThanOrEqual(55_000);
			expect(after).toBeLessThan(75_000);
		} finally {
			await server.stop();
		}
	}, 100_000);

	it("ends a session both sides were in when the server crashed and nobody came back", async () => {
		const dataDir = makeDataDir();
		const first = await startServer({ dataDir, keepData: true });
		const { accessToken } = await mustLogin(first, ADMIN);
		const set = await first.json("/api/v1/settings", {
			method: "PATCH",
			body: { sessionIdleSeconds: 10 },
			headers: bearer(accessToken),
		});
		expect(set.status).toBe(200);
		const { sessionId, supporter, customer } = await openPair(first, accessToken);
		await crash(first);
		const crashedAt = Date.now();
		await supporter.until(() => supporter.closeCode !== null);
		await customer.until(() => customer.closeCode !== null);

		const second = await startServer({ dataDir });
		try {
			const db = join(dataDir, "fernwart.db");
			let row: Record<string, unknown> | undefined;
			// Nobody connects: the relay's keepalive check finds both sides gone, the idle time runs
			// from their last sign of life, and the session ends.
			while (Date.now() - crashedAt < 60_000) {
				row = queryDb(db, "SELECT ended_at, end_reason FROM support_sessions WHERE id = ?", [
					sessionId,
				])[0];
				if (row?.end_reason) break;
				await new Promise((r) => setTimeout(r, 1000));
			}
			console.log(`session ended ${Date.now() - crashedAt} ms after the crash`);
			expect(row?.end_reason).toBe("expired");
			const types = auditChain(second)
				.filter((r) => r.sessionId === sessionId)
				.map((r) => [r.type, (r.data as { role?: string } | null)?.role]);
			expect(types).toEqual(
				expect.arrayContaining([
					["session.left", "supporter"],
					["session.left", "customer"],
					["session.ended", undefined],
				]),
			);
			// The report counts connected time only up to the last sign of life before the crash.
			const report = await second.json<{ totals: { connectedMs: number } }>(
				"/api/v1/reports/sessions",
				{ headers: bearer(accessToken) },
			);
			expect(report.status).toBe(200);
			expect(report.body.totals.connectedMs).toBeLessThan(30_000);
		} finally {
			await second.stop();
		}
	}, 100_000);
});
