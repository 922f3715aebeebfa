import { execFile } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
	ADMIN,
	bearer,
	createUserAs,
	type ErrorBody,
	login,
	mustLogin,
	openServerDb,
	type Session,
} from "../helpers/auth.ts";
import { makeDataDir, ROOT, startServer, type TestServer } from "../helpers/server.ts";

const PASSWORD = "a long enough password 1";
const run = promisify(execFile);

/** Runs the admin CLI as `npm run fernwart --` would, against one data dir. */
async function cli(dataDir: string, args: string[], env: Record<string, string> = {}) {
	try {
		const { stdout, stderr } = await run(process.execPath, [join(ROOT, "server/cli.ts"), ...args], {
			cwd: ROOT,
			env: { PATH: process.env.PATH ?? "", DATA_DIR: dataDir, ...env },
		});
		return { code: 0, stdout, stderr };
	} catch (err) {
		const e = err as { code: number; stdout: string; stderr: string };
		return { code: e.code, stdout: e.stdout, stderr: e.stderr };
	}
}

describe("admin user management", () => {
	const dataDir = makeDataDir();
	let server: TestServer;
	let admin: Session;
	beforeAll(async () => {
		server = await startServer({ dataDir });
		admin = await mustLogin(server, ADMIN);
	});
	afterAll(async () => {
		await server?.stop();
		rmSync(dataDir, { recursive: true, force: true });
	});

	it("creates, lists, changes and deletes users, admin only", async () => {
		const user = await createUserAs(server, admin.accessToken, {
			email: "Sam@Example.test",
			password: PASSWORD,
			groups: ["first-level", "printers"],
		});
		expect(user).toMatchObject({
			email: "sam@example.test",
			role: "supporter",
			groups: ["first-level", "printers"],
		});
		const dup = await server.json<ErrorBody>("/api/v1/users", {
			body: { email: "sam@example.test", displayName: "Sam", password: PASSWORD },
			headers: bearer(admin.accessToken),
		});
		expect(dup.body.error.code).toBe("EMAIL_TAKEN");

		const sam = await mustLogin(server, { email: user.email, password: PASSWORD });
		const forbidden = await server.json<ErrorBody>("/api/v1/users", {
			headers: bearer(sam.accessToken),
		});
		expect(forbidden.status).toBe(403);
		expect(forbidden.body.error.code).toBe("FORBIDDEN");

		const list = await server.json<{ users: { email: string }[] }>("/api/v1/users", {
			headers: bearer(admin.accessToken),
		});
		expect(list.body.users.map((u) => u.email)).toEqual(
			expect.arrayContaining([ADMIN.email, user.email]),
		);

		const patched = await server.json(`/api/v1/users/${user.id}`, {
			method: "PATCH",
			body: { displayName: "Sam S.", role: "admin", groups: ["second-level"] },
			headers: bearer(admin.accessToken),
		});
		expect(patched.body).toMatchObject({
			displayName: "Sam S.",
			role: "admin",
			groups: ["second-level"],
		});

		const bad = await server.json<ErrorBody>(`/api/v1/users/${user.id}`, {
			method: "PATCH",
			body: { role: "root" },
			headers: bearer(admin.accessToken),
		});
		expect(bad.body.error.code).toBe("INVALID_REQUEST");
		const unknown = await server.json<ErrorBody>(`/api/v1/users/${crypto.randomUUID()}`, {
			headers: bearer(admin.accessToken),
		});
		expect(unknown.body.error.code).toBe("USER_NOT_FOUND");

		const self = await server.json<ErrorBody>(`/api/v1/users/${admin.user.id}`, {
			method: "DELETE",
			headers: bearer(admin.accessToken),
		});
		expect(self.body.error.code).toBe("SELF_LOCKOUT");

		const del = await server.json(`/api/v1/users/${user.id}`, {
			method: "DELETE",
			headers: bearer(admin.accessToken),
		});
		expect(del.status).toBe(204);
		expect((await login(server, { email: user.email, password: PASSWORD })).status).toBe(401);
		expect(
			(await server.json("/api/v1/auth/refresh", { body: { refreshToken: sam.refreshToken } }))
				.status,
		).toBe(401);
	});

	it("never leaves the server without an enabled admin", async () => {
		const db = openServerDb(server);
		const admins = await db.execute(
			"SELECT count(*) AS n FROM users WHERE role = 'admin' AND disabled = 0",
		);
		db.close();
		expect(Number(admins.rows[0]?.n)).toBe(1);
		const other = await createUserAs(server, admin.accessToken, {
			email: "second-admin@example.test",
			password: PASSWORD,
			role: "admin",
		});
		const second = await mustLogin(server, { email: other.email, password: PASSWORD });
		const off = await server.json(`/api/v1/users/${admin.user.id}`, {
			method: "PATCH",
			body: { disabled: true },
			headers: bearer(second.accessToken),
		});
		expect(off.status).toBe(200);
		const last = await server.json<ErrorBody>(`/api/v1/users/${other.id}`, {
			method: "PATCH",
			body: { role: "supporter" },
			headers: bearer(second.accessToken),
		});
		expect(last.body.error.code).toBe("SELF_LOCKOUT");
		// Back to the start: the first admin enabled again, the second one gone.
		await server.json(`/api/v1/users/${admin.user.id}`, {
			method: "PATCH",
			body: { disabled: false },
			headers: bearer(second.accessToken),
		});
		admin = await mustLogin(server, ADMIN);
		const gone = await server.json(`/api/v1/users/${other.id}`, {
			method: "DELETE",
			headers: bearer(admin.accessToken),
		});
		expect(gone.status).toBe(204);
	});

	it("documents every account route in /api/v1/openapi.json", async () => {
		const doc = await server.json<{ paths: Record<string, Record<string, unknown>> }>(
			"/api/v1/openapi.json",
		);
		for (const [path, method] of [
			["/api/v1/auth/login", "post"],
			["/api/v1/auth/refresh", "post"],
			["/api/v1/auth/logout", "post"],
			["/api/v1/auth/password-reset", "post"],
			["/api/v1/auth/password-reset/confirm", "post"],
			["/api/v1/me", "get"],
			["/api/v1/me/totp", "post"],
			["/api/v1/me/totp/confirm", "post"],
			["/api/v1/users", "get"],
			["/api/v1/users", "post"],
			["/api/v1/users/{id}", "patch"],
			["/api/v1/users/{id}", "delete"],
			["/api/v1/settings", "patch"],
			["/.well-known/jwks.json", "get"],
		] as const) {
			expect(doc.body.paths[path]?.[method], `${method} ${path}`).toBeDefined();
		}
	});

	it("runs the admin CLI through the API while the server runs", async () => {
		const add = await cli(
			dataDir,
			["user", "add", "--email", "cli-user@example.test", "--name", "Cli User", "--groups", "desk"],
			{
				FERNWART_NEW_PASSWORD: PASSWORD,
			},
		);
		expect(add.stderr).toContain("using its API");
		expect(add.code).toBe(0);
		await mustLogin(server, { email: "cli-user@example.test", password: PASSWORD });

		const list = await cli(dataDir, ["user", "list"]);
		expect(list.stdout).toMatch(
			/cli-user@example\.test\s+supporter\s+active\s+—\s+desk\s+Cli User/,
		);

		const reset = await cli(dataDir, [
			"user",
			"reset-password",
			"--email",
			"cli-user@example.test",
		]);
		const generated = /password \(shown once\): (\S+)/.exec(reset.stdout)?.[1];
		expect(generated).toHaveLength(24);
		await mustLogin(server, { email: "cli-user@example.test", password: generated as string });

		const disable = await cli(dataDir, ["user", "disable", "--email", "cli-user@example.test"]);
		expect(disable.code).toBe(0);
		const refused = await login(server, {
			email: "cli-user@example.test",
			password: generated as string,
		});
		expect(refused.body.error.code).toBe("USER_DISABLED");

		// The CLI is no user, so only the last-admin rule can stop it.
		const lastAdmin = await cli(dataDir, ["user", "disable", "--email", ADMIN.email]);
		expect(lastAdmin.code).toBe(1);
		expect(lastAdmin.stderr).toContain("LAST_ADMIN");

		const db = openServerDb(server);
		const audit = await db.execute(
			"SELECT type FROM audit_events WHERE actor = 'cli' ORDER BY seq",
		);
		db.close();
		expect(audit.rows.map((r) => r.type)).toEqual([
			"user.created",
			"user.updated",
			"user.disabled",
		]);
		// Six CLI processes, each a Node start: on a loaded machine that alone can take a minute.
	}, 180_000);

	it("works on the database directly while the server is stopped", async () => {
		await server.stop();
		const add = await cli(
			dataDir,
			["user", "add", "--email", "offline@example.test", "--role", "admin"],
			{
				FERNWART_NEW_PASSWORD: PASSWORD,
			},
		);
		expect(add.stderr).toContain("server not running");
		expect(add.code).toBe(0);
		const list = await cli(dataDir, ["user", "list"]);
		expect(list.stdout).toContain("offline@example.test");
		expect(list.stdout).toMatch(/cli-user@example\.test\s+supporter\s+disabled/);
		const usage = await cli(dataDir, ["user", "disable"]);
		expect(usage.code).toBe(2);

		// A run.json left by a crash whose PID now belongs to another live process (here: this
		// test runner) is stale: nobody holds the data dir's lock, so the CLI works directly.
		writeFileSync(
			join(dataDir, "run.json"),
			JSON.stringify({ pid: process.pid, url: "https://127.0.0.1:1" }),
		);
		const stale = await cli(dataDir, ["user", "list"]);
		expect(stale.code).toBe(0);
		expect(stale.stderr).toContain(`ignoring a stale ${join(dataDir, "run.json")}`);
		expect(stale.stdout).toContain("offline@example.test");

		server = await startServer({ dataDir });
		await mustLogin(server, { email: "offline@example.test", password: PASSWORD });
	}, 180_000);
});
