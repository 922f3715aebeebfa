import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Agent, fetch } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeDataDir } from "../helpers/server.ts";
import {
	type DbServiceProcess,
	startDbService,
	startWorkerd,
	type WorkerdProcess,
} from "../helpers/workerd.ts";

describe("platform: plain workerd serve with the standalone DB service", () => {
	const dataDir = makeDataDir();
	let db: DbServiceProcess;
	let workerd: WorkerdProcess;
	let agent: Agent;
	const get = (path: string) =>
		fetch(`https://localhost:${workerd.port}${path}`, { dispatcher: agent });

	beforeAll(async () => {
		db = await startDbService(dataDir, { FERNWART_ADMIN_PASSWORD: "correct horse battery staple" });
		workerd = await startWorkerd(dataDir, db.port);
		agent = new Agent({ connect: { ca: readFileSync(join(dataDir, "tls", "cert.pem"), "utf8") } });
	});
	afterAll(async () => {
		await agent?.close();
		await workerd?.stop();
		await db?.stop();
	});

	it("answers /healthz the same way as the embedded server", async () => {
		const res = await get("/healthz");
		expect(res.status).toBe(200);
		expect(await res.json()).toEqual({
			status: "ok",
			version: expect.stringMatching(/^\d+\.\d+\.\d+/),
		});
	});

	it("is ready while the DB service answers", async () => {
		const res = await get("/readyz");
		expect(res.status).toBe(200);
	});

	it("logs in the first admin with the default intranet address admin@localhost", async () => {
		const res = await fetch(`https://localhost:${workerd.port}/api/v1/auth/login`, {
			dispatcher: agent,
			method: "POST",
			headers: { "content-type": "application/json" },
			body: JSON.stringify({ email: "admin@localhost", password: "correct horse battery staple" }),
		});
		expect(res.status).toBe(200);
		const body = (await res.json()) as { accessToken: string };
		const me = await fetch(`https://localhost:${workerd.port}/api/v1/me`, {
			dispatcher: agent,
			headers: { authorization: `Bearer ${body.accessToken}` },
		});
		expect(me.status).toBe(200);
		expect(await me.json()).toMatchObject({ email: "admin@localhost", role: "admin" });
	});

	it("refuses DB service calls without the shared token", async () => {
		const res = await fetch(`http://127.0.0.1:${db.port}/query`, {
			method: "POST",
			headers: { "content-type": "application/json", authorization: "Bearer wrong" },
			body: JSON.stringify({ sql: "SELECT password_hash FROM users", params: [], method: "all" }),
		});
		expect(res.status).toBe(401);
		expect(await res.text()).not.toContain("pbkdf2");
	});

	it("reports not ready, without detail, once the DB service is gone", async () => {
		await db.stop();
		const res = await get("/readyz");
		expect(res.status).toBe(503);
		expect(await res.json()).toEqual({
			error: { code: "DB_UNAVAILABLE", message: expect.any(String) },
		});
		// Liveness does not depend on the database.
		expect((await get("/healthz")).status).toBe(200);
	});
});
