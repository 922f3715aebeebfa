import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Agent, fetch } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeDataDir, ROOT } from "../helpers/server.ts";
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

describe("platform: plain workerd without its secrets", () => {
	const dataDir = makeDataDir();
	let db: DbServiceProcess;
	let workerd: WorkerdProcess;
	let agent: Agent;

	beforeAll(async () => {
		db = await startDbService(dataDir, { FERNWART_ADMIN_PASSWORD: "correct horse battery staple" });
		workerd = await startWorkerd(dataDir, db.port, { omitEnv: ["FERNWART_JWT_KEY"] });
		agent = new Agent({ connect: { ca: readFileSync(join(dataDir, "tls", "cert.pem"), "utf8") } });
	});
	afterAll(async () => {
		await agent?.close();
		await workerd?.stop();
		await db?.stop();
	});

	it("says in /readyz which environment variable is missing", async () => {
		const res = await fetch(`https://localhost:${workerd.port}/readyz`, { dispatcher: agent });
		expect(res.status).toBe(503);
		expect(await res.json()).toEqual({
			error: {
				code: "SERVER_MISCONFIGURED",
				message: expect.any(String),
				details: { missing: ["FERNWART_JWT_KEY"] },
			},
		});
	});

	it("answers a login with a clear 503, not a 500", async () => {
		const res = await fetch(`https://localhost:${workerd.port}/api/v1/auth/login`, {
			dispatcher: agent,
			method: "POST",
			headers: { "content-type": "application/json" },
			body: JSON.stringify({ email: "admin@localhost", password: "correct horse battery staple" }),
		});
		expect(res.status).toBe(503);
		expect(((await res.json()) as { error: { code: string } }).error.code).toBe(
			"SERVER_MISCONFIGURED",
		);
	});
});

describe("platform: the DB service and its token", () => {
	it("refuses to start when db-token.env holds no valid token, naming the file", () => {
		const dataDir = makeDataDir();
		writeFileSync(join(dataDir, "db-token.env"), "FERNWART_DB_TOKEN=\n");
		const res = spawnSync(process.execPath, [join(ROOT, "server/db-serve.ts")], {
			cwd: ROOT,
			env: { PATH: process.env.PATH ?? "", DATA_DIR: dataDir, DB_SERVICE_PORT: "0" },
			encoding: "utf8",
			timeout: 30_000,
		});
		expect(res.status).toBe(2);
		const errors = res.stderr.split("\n").filter((line) => line.startsWith("fernwart:"));
		expect(errors).toHaveLength(1);
		expect(errors[0]).toContain(join(dataDir, "db-token.env"));
		expect(res.stdout).not.toContain("created");
		// The file is left for the admin to look at, not silently replaced.
		expect(readFileSync(join(dataDir, "db-token.env"), "utf8")).toBe("FERNWART_DB_TOKEN=\n");
	});
});
