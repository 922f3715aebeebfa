import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Agent, fetch as undiciFetch } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN, mustLogin } from "../helpers/auth.ts";
import { CHANNELS } from "../helpers/raw-session.ts";
import { makeDataDir, type TestServer } from "../helpers/server.ts";
import { openPair } from "../helpers/sessions.ts";
import { queryDb } from "../helpers/sql.ts";
import {
	type DbServiceProcess,
	startDbService,
	startWorkerd,
	type WorkerdProcess,
} from "../helpers/workerd.ts";

/**
 * Consent fails closed: with the database unreachable, a grant cannot be recorded, so it must not
 * take effect. Plain workerd with the DB service as its own process lets the test take the
 * database away in the middle of a session.
 */
describe("consent fails closed when the protocol cannot be written; STOP is kept until it can be", () => {
	const dataDir = makeDataDir();
	let db: DbServiceProcess;
	let workerd: WorkerdProcess;
	let agent: Agent;
	let server: TestServer;

	beforeAll(async () => {
		db = await startDbService(dataDir, {
			FERNWART_ADMIN_EMAIL: ADMIN.email,
			FERNWART_ADMIN_PASSWORD: ADMIN.password,
		});
		workerd = await startWorkerd(dataDir, db.port);
		const ca = readFileSync(join(dataDir, "tls", "cert.pem"), "utf8");
		agent = new Agent({ connect: { ca } });
		const url = new URL(`https://localhost:${workerd.port}`);
		const doFetch = (path: string, init?: RequestInit) =>
			undiciFetch(new URL(path, url), {
				...(init as object),
				dispatcher: agent,
			}) as unknown as Promise<Response>;
		const json: TestServer["json"] = async (path, init = {}) => {
			const res = await doFetch(path, {
				method: init.method ?? (init.body === undefined ? "GET" : "POST"),
				headers: {
					...(init.body === undefined ? {} : { "content-type": "application/json" }),
					...init.headers,
				},
				body: init.body === undefined ? undefined : JSON.stringify(init.body),
			});
			return { status: res.status, body: (await res.json()) as never, headers: res.headers };
		};
		// Just enough of the launcher-based TestServer for the session helpers.
		server = { url, ca, dataDir, fetch: doFetch, json } as unknown as TestServer;
	});
	afterAll(async () => {
		await agent?.close();
		await workerd?.stop();
		await db?.stop();
	});

	it("refuses a view grant it cannot record, and no screen frame flows", async () => {
		const { accessToken } = await mustLogin(server, ADMIN);
		const { supporter, customer } = await openPair(server, accessToken);
		supporter.send({ type: "view.request" });
		await customer.next("view.request");

		await db.stop(); // the database is gone from here on
		const errorsBefore = customer.messages.length;
		await customer.consent("view.grant");
		const error = await customer.next("error", errorsBefore);
		expect(error.code).toBe("CONSENT_UNAVAILABLE");
		expect(customer.latestState()?.shower).toBeNull();
		expect(supporter.messages.some((m) => (m as { type: string }).type === "view.grant")).toBe(
			false,
		);

		customer.sendFrame(await customer.seal(CHANNELS.screen, new Uint8Array([1, 2, 3])));
		await new Promise((r) => setTimeout(r, 300));
		expect(supporter.frames).toHaveLength(0);

		// STOP is the one exception: it still ends the session at once, written or not.
		await customer.consent("stop");
		await supporter.until(() => supporter.closeCode !== null);
		expect(supporter.messages).toContainEqual({ type: "end", reason: "stopped", by: "customer" });

		// The STOP happened while nothing could be written; it is kept and written once the
		// database is back, with the time it happened.
		const port = db.port;
		db = await startDbService(dataDir, { DB_SERVICE_PORT: String(port) });
		const dbPath = join(dataDir, "fernwart.db");
		const deadline = Date.now() + 20_000;
		let rows: Record<string, unknown>[] = [];
		while (Date.now() < deadline) {
			rows = queryDb(
				dbPath,
				"SELECT type, data FROM audit_events WHERE session_id = ? ORDER BY seq",
				[customer.sessionId],
			);
			if (rows.some((r) => r.type === "session.stopped")) break;
			await new Promise((r) => setTimeout(r, 500));
		}
		const types = rows.map((r) => r.type);
		expect(types).toContain("session.stopped");
		expect(types).toContain("session.ended");
		expect(types).not.toContain("view.granted"); // the refused grant left no trace of success
		const stopped = JSON.parse(String(rows.find((r) => r.type === "session.stopped")?.data));
		expect(stopped.occurredAt).toBeLessThan(Date.now());
		expect(stopped.statement).toMatchObject({ type: "stop", sessionId: customer.sessionId });
		const session = queryDb(dbPath, "SELECT end_reason FROM support_sessions WHERE id = ?", [
			customer.sessionId,
		]);
		expect(session[0]?.end_reason).toBe("stopped");
	});
});
