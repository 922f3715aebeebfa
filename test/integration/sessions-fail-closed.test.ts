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
describe("consent fails closed when the protocol cannot be written; STOP and revokes are kept until it can be", () => {
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
		// The relay decides one socket's frames in order: once a chat frame sent behind it has
		// arrived, the screen frame was dropped, not merely late.
		const marker = await customer.seal(CHANNELS.chat, new Uint8Array([9]));
		customer.sendFrame(marker);
		await supporter.until(() => supporter.frames.length > 0);
		expect(supporter.frames).toEqual([marker]);

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

	it("revokes control and view at once while the database is down, and writes both once it is back", async () => {
		const { accessToken } = await mustLogin(server, ADMIN);
		const { supporter, customer } = await openPair(server, accessToken);
		supporter.send({ type: "view.request" });
		await customer.next("view.request");
		await customer.consent("view.grant");
		await supporter.state((s) => s.shower === "customer");
		supporter.send({ type: "control.request" });
		await customer.next("control.request");
		await customer.consent("control.grant");
		await supporter.state((s) => s.controller === "supporter");
		supporter.sendFrame(await supporter.seal(CHANNELS.input, new Uint8Array([1])));
		await customer.until(() => customer.frames.length === 1);

		await db.stop(); // the database is gone from here on
		const before = supporter.messages.length;
		const started = performance.now();
		await customer.consent("control.revoke");
		await supporter.state((s) => s.controller === null);
		const revokeMs = performance.now() - started;
		expect(revokeMs).toBeLessThan(1000);
		expect(
			supporter.messages
				.slice(before)
				.some((m) => (m as { type: string }).type === "control.revoke"),
		).toBe(true);
		expect(
			customer.messages.some((m) => (m as { code?: string }).code === "CONSENT_UNAVAILABLE"),
		).toBe(false);
		supporter.sendFrame(await supporter.seal(CHANNELS.input, new Uint8Array([2])));

		const screen = await customer.seal(CHANNELS.screen, new Uint8Array([3]), 1);
		customer.sendFrame(screen);
		await supporter.until(() => supporter.frames.length === 1);
		await customer.consent("view.revoke");
		await supporter.state((s) => s.shower === null);
		customer.sendFrame(await customer.seal(CHANNELS.screen, new Uint8Array([4]), 1));
		// Chat frames behind them are forwarded: once they are there, the frames sent before were
		// decided (dropped), not merely late.
		const toSupporter = await customer.seal(CHANNELS.chat, new Uint8Array([9]));
		customer.sendFrame(toSupporter);
		const toCustomer = await supporter.seal(CHANNELS.chat, new Uint8Array([8]));
		supporter.sendFrame(toCustomer);
		await supporter.until(() => supporter.frames.length > 1);
		await customer.until(() => customer.frames.length > 1);
		expect(customer.frames.slice(1)).toEqual([toCustomer]); // no input after the revoke
		expect(supporter.frames.slice(1)).toEqual([toSupporter]); // no screen after the revoke
		expect(customer.closeCode).toBeNull();

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
			if (rows.some((r) => r.type === "view.revoked")) break;
			await new Promise((r) => setTimeout(r, 500));
		}
		const types = rows.map((r) => r.type);
		expect(types.indexOf("control.revoked")).toBeGreaterThan(types.indexOf("control.granted"));
		expect(types.indexOf("view.revoked")).toBeGreaterThan(types.indexOf("control.revoked"));
		const revoked = JSON.parse(String(rows.find((r) => r.type === "control.revoked")?.data));
		expect(revoked.statement).toMatchObject({
			type: "control.revoke",
			sessionId: customer.sessionId,
		});
		expect(revoked.occurredAt).toBeLessThan(Date.now());
		const consents = queryDb(
			dbPath,
			"SELECT type FROM consents WHERE session_id = ? ORDER BY recorded_at",
			[customer.sessionId],
		).map((r) => r.type);
		expect(consents).toEqual(["view.grant", "control.grant", "control.revoke", "view.revoke"]);
		expect(supporter.closeCode).toBeNull();
		supporter.close();
		customer.close();
	});
});
