import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
	ADMIN,
	bearer,
	createUserAs,
	type ErrorBody,
	login,
	mustLogin,
	type Session,
} from "../helpers/auth.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { queryDb } from "../helpers/sql.ts";

const PASSWORD = "a long enough password 1";
const NEW_PASSWORD = "another long password 2";
const DAY_MS = 86_400_000;

describe("own password change and the refresh family's absolute lifetime", () => {
	let server: TestServer;
	let admin: Session;
	let dbPath: string;
	beforeAll(async () => {
		server = await startServer();
		admin = await mustLogin(server, ADMIN);
		dbPath = join(server.dataDir, "fernwart.db");
	});
	afterAll(async () => {
		await server?.stop();
	});

	async function auditTypes(subject: string): Promise<{ type: string; data: unknown }[]> {
		const res = await server.json<{ events: { type: string; subject: string; data: unknown }[] }>(
			"/api/v1/audit?type=user.*",
			{ headers: bearer(admin.accessToken) },
		);
		return res.body.events.filter((e) => e.subject === subject);
	}

	it("has no profile pictures without the admin's own S3 store (off by default)", async () => {
		const me = await server.json<{ pictureUrl: unknown }>("/api/v1/me", {
			headers: bearer(admin.accessToken),
		});
		expect(me.body.pictureUrl).toBeNull();
		const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]);
		const put = await server.fetch("/api/v1/me/picture", {
			method: "PUT",
			body: png as unknown as BodyInit,
			headers: { ...bearer(admin.accessToken), "content-type": "image/png" },
		});
		expect(put.status).toBe(501);
		expect(((await put.json()) as { error: { code: string } }).error.code).toBe(
			"PICTURES_DISABLED",
		);
		const get = await server.fetch(`/api/v1/users/${admin.user.id}/picture`);
		expect(get.status).toBe(501);
	});

	it("changes the own password, ends every session and audits it", async () => {
		const user = await createUserAs(server, admin.accessToken, {
			email: "pat@example.test",
			password: PASSWORD,
		});
		const one = await mustLogin(server, { email: "pat@example.test", password: PASSWORD });
		const two = await mustLogin(server, { email: "pat@example.test", password: PASSWORD });

		const weak = await server.json<ErrorBody>("/api/v1/me/password", {
			body: { currentPassword: PASSWORD, newPassword: "short" },
			headers: bearer(one.accessToken),
		});
		expect(weak.status).toBe(400);
		expect(weak.body.error.code).toBe("INVALID_REQUEST");
		expect(JSON.stringify(weak.body)).not.toContain(PASSWORD);

		const anonymous = await server.json<ErrorBody>("/api/v1/me/password", {
			body: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD },
		});
		expect(anonymous.status).toBe(401);

		const changed = await server.json("/api/v1/me/password", {
			body: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD },
			headers: bearer(one.accessToken),
		});
		expect(changed.status).toBe(204);

		// Both families (this browser's too) are revoked.
		for (const s of [one, two]) {
			const refreshed = await server.json<ErrorBody>("/api/v1/auth/refresh", {
				body: { refreshToken: s.refreshToken },
			});
			expect(refreshed.status).toBe(401);
			expect(refreshed.body.error.code).toBe("INVALID_REFRESH_TOKEN");
		}
		expect((await login(server, { email: "pat@example.test", password: PASSWORD })).status).toBe(
			401,
		);
		await mustLogin(server, { email: "pat@example.test", password: NEW_PASSWORD });

		const events = await auditTypes(user.id);
		const changedEvent = events.find((e) => e.type === "user.password_changed");
		expect(changedEvent).toBeDefined();
		expect(JSON.stringify(events)).not.toContain(NEW_PASSWORD);
	});

	it("refuses a wrong current password with INVALID_CREDENTIALS and counts it like a failed login", async () => {
		const user = await createUserAs(server, admin.accessToken, {
			email: "lee@example.test",
			password: PASSWORD,
		});
		const s = await mustLogin(server, { email: "lee@example.test", password: PASSWORD });
		// The per-account limit is 10 failures; the 11th request meets the lock.
		for (let i = 0; i < 10; i++) {
			const res = await server.json<ErrorBody>("/api/v1/me/password", {
				body: { currentPassword: `wrong password ${i}`, newPassword: NEW_PASSWORD },
				headers: bearer(s.accessToken),
			});
			expect(res.status).toBe(401);
			expect(res.body.error.code).toBe("INVALID_CREDENTIALS");
		}
		const locked = await server.json<ErrorBody>("/api/v1/me/password", {
			body: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD },
			headers: bearer(s.accessToken),
		});
		expect(locked.status).toBe(429);
		expect(locked.headers.get("retry-after")).toMatch(/^\d+$/);
		// The login shares the counter: the account is locked there as well.
		const loginNow = await login(server, { email: "lee@example.test", password: PASSWORD });
		expect(loginNow.status).toBe(429);

		const events = await auditTypes(user.id);
		expect(events.filter((e) => e.type === "user.login_failed")).toHaveLength(10);
		expect(events.some((e) => e.type === "user.locked")).toBe(true);
		expect(events.some((e) => e.type === "user.password_changed")).toBe(false);
		// The refresh token still works: nothing was changed.
		const refreshed = await server.json("/api/v1/auth/refresh", {
			body: { refreshToken: s.refreshToken },
		});
		expect(refreshed.status).toBe(200);
	});

	it("ends a refresh family 30 days after its login, however often it rotated", async () => {
		const s = await mustLogin(server, ADMIN);
		const r1 = s.refreshToken as string;
		const next = await server.json<Session>("/api/v1/auth/refresh", {
			body: { refreshToken: r1 },
		});
		expect(next.status).toBe(200);
		const r2 = next.body.refreshToken as string;
		const id1 = r1.split(".")[0] as string;
		const id2 = r2.split(".")[0] as string;
		const rows = queryDb(
			dbPath,
			"SELECT id, family_id, family_started_at, created_at, expires_at FROM refresh_tokens WHERE id IN (?, ?)",
			[id1, id2],
		);
		expect(rows).toHaveLength(2);
		const [a, b] = rows as { family_id: string; family_started_at: number }[];
		// The rotation kept the family and its start.
		expect(a?.family_id).toBe(b?.family_id);
		expect(a?.family_started_at).toBe(b?.family_started_at);

		// Rotated for 29 days and a bit: the family began longer ago than its lifetime allows.
		const family = a?.family_id as string;
		queryDb(dbPath, "UPDATE refresh_tokens SET family_started_at = ? WHERE family_id = ?", [
			Date.now() - 30 * DAY_MS - 60_000,
			family,
		]);
		const refused = await server.json<ErrorBody>("/api/v1/auth/refresh", {
			body: { refreshToken: r2 },
		});
		expect(refused.status).toBe(401);
		expect(refused.body.error.code).toBe("INVALID_REFRESH_TOKEN");

		// A family just inside its lifetime still rotates, and the new token ends with the family.
		const fresh = await mustLogin(server, ADMIN);
		const freshId = (fresh.refreshToken as string).split(".")[0] as string;
		const started = Date.now() - 29 * DAY_MS;
		queryDb(dbPath, "UPDATE refresh_tokens SET family_started_at = ? WHERE id = ?", [
			started,
			freshId,
		]);
		const rotated = await server.json<Session>("/api/v1/auth/refresh", {
			body: { refreshToken: fresh.refreshToken },
		});
		expect(rotated.status).toBe(200);
		const rotatedId = (rotated.body.refreshToken as string).split(".")[0] as string;
		const [row] = queryDb(
			dbPath,
			"SELECT family_started_at, expires_at FROM refresh_tokens WHERE id = ?",
			[rotatedId],
		) as { family_started_at: number; expires_at: number }[];
		expect(row?.family_started_at).toBe(started);
		expect(row?.expires_at).toBe(started + 30 * DAY_MS);
	});

	it("treats rows from before the column by their own creation time", async () => {
		const s = await mustLogin(server, ADMIN);
		const id = (s.refreshToken as string).split(".")[0] as string;
		queryDb(
			dbPath,
			"UPDATE refresh_tokens SET family_started_at = NULL, created_at = ? WHERE id = ?",
			[Date.now() - 31 * DAY_MS, id],
		);
		const refused = await server.json<ErrorBody>("/api/v1/auth/refresh", {
			body: { refreshToken: s.refreshToken },
		});
		expect(refused.body.error.code).toBe("INVALID_REFRESH_TOKEN");
	});
});
