import { createLocalJWKSet, decodeJwt, jwtVerify } from "jose";
import { Secret, TOTP } from "otpauth";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
	ADMIN,
	bearer,
	createUserAs,
	type ErrorBody,
	from,
	login,
	mustLogin,
	openServerDb,
	type Session,
} from "../helpers/auth.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

const PASSWORD = "a long enough password 1";

describe("accounts and login", () => {
	let server: TestServer;
	let admin: Session;
	beforeAll(async () => {
		server = await startServer();
		admin = await mustLogin(server, ADMIN);
	});
	afterAll(async () => {
		await server?.stop();
	});

	it("logs in and answers /api/v1/me with the user", async () => {
		const res = await login(server, ADMIN);
		expect(res.status).toBe(200);
		expect(res.body).toMatchObject({
			tokenType: "Bearer",
			expiresIn: 900,
			user: { email: ADMIN.email, role: "admin", totpEnabled: false },
		});
		expect(res.body.refreshToken).toMatch(/^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/);
		const me = await server.json("/api/v1/me", { headers: bearer(res.body.accessToken) });
		expect(me.status).toBe(200);
		expect(me.body).toMatchObject({ email: ADMIN.email, role: "admin", groups: [] });
		expect(JSON.stringify(me.body)).not.toMatch(/password|totpSecret/i);
	});

	it("signs access tokens with the key published at /.well-known/jwks.json, audience api, ≤ 15 min", async () => {
		const jwks = await server.json<{ keys: { kid: string; kty: string; d?: string }[] }>(
			"/.well-known/jwks.json",
		);
		expect(jwks.status).toBe(200);
		expect(jwks.body.keys).toHaveLength(1);
		expect(jwks.body.keys[0]).toMatchObject({ kty: "OKP", crv: "Ed25519", alg: "EdDSA" });
		expect(jwks.body.keys[0]?.kid).toBeTruthy();
		expect(jwks.body.keys[0]?.d).toBeUndefined();
		const { payload, protectedHeader } = await jwtVerify(
			admin.accessToken,
			createLocalJWKSet(jwks.body as never),
			{ audience: "api", issuer: "fernwart" },
		);
		expect(protectedHeader.kid).toBe(jwks.body.keys[0]?.kid);
		expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBeLessThanOrEqual(15 * 60);
		expect(payload.sub).toBe(admin.user.id);
	});

	it("refuses /api/v1/me without a valid token", async () => {
		expect((await server.json<ErrorBody>("/api/v1/me")).body.error.code).toBe("UNAUTHENTICATED");
		const forged = `${admin.accessToken.slice(0, -4)}AAAA`;
		const res = await server.json<ErrorBody>("/api/v1/me", { headers: bearer(forged) });
		expect(res.status).toBe(401);
		expect(res.body.error.code).toBe("UNAUTHENTICATED");
	});

	it("answers a wrong password and an unknown user alike, in comparable time", async () => {
		const ip = from("198.51.100.1");
		const timed = async (email: string) => {
			const t = performance.now();
			const res = await login(server, { email, password: "wrong password here" }, ip);
			return { res, ms: performance.now() - t };
		};
		const wrong: number[] = [];
		const unknown: number[] = [];
		for (let i = 0; i < 3; i++) {
			const a = await timed(ADMIN.email);
			const b = await timed(`nobody-${i}@example.test`);
			expect(a.res.status).toBe(401);
			expect(b.res.status).toBe(401);
			expect(a.res.body).toEqual(b.res.body);
			expect(a.res.body.error.code).toBe("INVALID_CREDENTIALS");
			wrong.push(a.ms);
			unknown.push(b.ms);
		}
		const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[1] as number;
		// Both spend one full KDF run (~150 ms); what remains is one DB lookup's noise.
		const ratio = median(wrong) / median(unknown);
		expect(ratio).toBeGreaterThan(0.6);
		expect(ratio).toBeLessThan(1.6);
		expect(median(unknown)).toBeGreaterThan(50);
		// Reset the admin's counter with a good login, so later tests start clean.
		await mustLogin(server, ADMIN, ip);
	});

	it("locks an account after 10 failed logins: further tries get 429 with Retry-After", async () => {
		const user = await createUserAs(server, admin.accessToken, {
			email: "locked@example.test",
			password: PASSWORD,
		});
		for (let i = 0; i < 10; i++) {
			// A different address each time: the account limit must hold on its own.
			const res = await login(
				server,
				{ email: user.email, password: `wrong ${i}` },
				from(`192.0.2.${i + 1}`),
			);
			expect(res.status).toBe(401);
		}
		const locked = await login(
			server,
			{ email: user.email, password: PASSWORD },
			from("192.0.2.99"),
		);
		expect(locked.status).toBe(429);
		expect(locked.body.error.code).toBe("RATE_LIMITED");
		expect(Number(locked.headers.get("retry-after"))).toBeGreaterThan(60);
		// Other accounts are not affected.
		await mustLogin(server, ADMIN, from("192.0.2.99"));

		const db = openServerDb(server);
		const rows = await db.execute({
			sql: "SELECT type, subject FROM audit_events WHERE subject = ? ORDER BY seq",
			args: [user.id],
		});
		db.close();
		const types = rows.rows.map((r) => r.type);
		expect(types.filter((t) => t === "user.login_failed")).toHaveLength(10);
		expect(types.filter((t) => t === "user.locked")).toHaveLength(1);
	});

	it("limits failed logins per client address across accounts", async () => {
		const ip = from("203.0.113.7");
		for (let i = 0; i < 30; i++) {
			const res = await login(server, { email: `spray-${i}@example.test`, password: "x" }, ip);
			expect(res.status).toBe(401);
		}
		const res = await login(server, ADMIN, ip);
		expect(res.status).toBe(429);
		expect(res.headers.get("retry-after")).toMatch(/^\d+$/);
		// The same account from another address still logs in.
		await mustLogin(server, ADMIN, from("203.0.113.8"));
	});

	it("rotates refresh tokens and revokes the whole family when a rotated one is reused", async () => {
		const first = await mustLogin(server, ADMIN);
		const r1 = first.refreshToken as string;
		const second = await server.json<Session>("/api/v1/auth/refresh", {
			body: { refreshToken: r1 },
		});
		expect(second.status).toBe(200);
		const r2 = second.body.refreshToken as string;
		expect(r2).not.toBe(r1);
		expect(
			(await server.json("/api/v1/me", { headers: bearer(second.body.accessToken) })).status,
		).toBe(200);

		const reuse = await server.json<ErrorBody>("/api/v1/auth/refresh", {
			body: { refreshToken: r1 },
		});
		expect(reuse.status).toBe(401);
		expect(reuse.body.error.code).toBe("INVALID_REFRESH_TOKEN");
		// The thief's copy and the user's current token are both dead now.
		const after = await server.json<ErrorBody>("/api/v1/auth/refresh", {
			body: { refreshToken: r2 },
		});
		expect(after.status).toBe(401);

		const db = openServerDb(server);
		const rows = await db.execute("SELECT secret_hash FROM refresh_tokens");
		db.close();
		const secret = r2.split(".")[1] as string;
		expect(
			rows.rows.every((r) => r.secret_hash !== secret && String(r.secret_hash).length === 64),
		).toBe(true);
	});

	it("refuses malformed and unknown refresh tokens, and logout ends the family", async () => {
		for (const refreshToken of ["nope", `${"a".repeat(22)}.${"b".repeat(43)}`]) {
			const res = await server.json<ErrorBody>("/api/v1/auth/refresh", { body: { refreshToken } });
			expect(res.body.error.code).toBe("INVALID_REFRESH_TOKEN");
		}
		const s = await mustLogin(server, ADMIN);
		const out = await server.json("/api/v1/auth/logout", {
			body: { refreshToken: s.refreshToken },
		});
		expect(out.status).toBe(204);
		const res = await server.json("/api/v1/auth/refresh", {
			body: { refreshToken: s.refreshToken },
		});
		expect(res.status).toBe(401);
		// The logout ended the admin's access tokens issued so far, the suite's too: log in again.
		expect((await server.json("/api/v1/me", { headers: bearer(admin.accessToken) })).status).toBe(
			401,
		);
		admin = await mustLogin(server, ADMIN);
	});

	it("refuses a disabled user: login, refresh and existing access tokens", async () => {
		const user = await createUserAs(server, admin.accessToken, {
			email: "leaver@example.test",
			password: PASSWORD,
		});
		const s = await mustLogin(server, { email: user.email, password: PASSWORD });
		const patch = await server.json(`/api/v1/users/${user.id}`, {
			method: "PATCH",
			body: { disabled: true },
			headers: bearer(admin.accessToken),
		});
		expect(patch.status).toBe(200);
		const again = await login(server, { email: user.email, password: PASSWORD });
		expect(again.status).toBe(403);
		expect(again.body.error.code).toBe("USER_DISABLED");
		// A wrong password for a disabled account still reads as wrong credentials.
		const wrong = await login(server, { email: user.email, password: "not the password" });
		expect(wrong.body.error.code).toBe("INVALID_CREDENTIALS");
		const refresh = await server.json("/api/v1/auth/refresh", {
			body: { refreshToken: s.refreshToken },
		});
		expect(refresh.status).toBe(401);
		const me = await server.json("/api/v1/me", { headers: bearer(s.accessToken) });
		expect(me.status).toBe(401);
	});

	it("enrols TOTP, then demands a fresh code at login and refuses replays", async () => {
		const user = await createUserAs(server, admin.accessToken, {
			email: "two-factor@example.test",
			password: PASSWORD,
		});
		const s = await mustLogin(server, { email: user.email, password: PASSWORD });
		const enrol = await server.json<{ secret: string; uri: string }>("/api/v1/me/totp", {
			method: "POST",
			headers: bearer(s.accessToken),
		});
		expect(enrol.status).toBe(200);
		expect(enrol.body.uri).toMatch(/^otpauth:\/\/totp\/Fernwart:two-factor%40example\.test\?/);
		const totp = new TOTP({ secret: Secret.fromBase32(enrol.body.secret) });

		const bad = await server.json<ErrorBody>("/api/v1/me/totp/confirm", {
			body: { code: "000000" === totp.generate() ? "111111" : "000000" },
			headers: bearer(s.accessToken),
		});
		expect(bad.body.error.code).toBe("INVALID_TOTP");
		const confirm = await server.json("/api/v1/me/totp/confirm", {
			body: { code: totp.generate() },
			headers: bearer(s.accessToken),
		});
		expect(confirm.status).toBe(200);
		expect(confirm.body).toMatchObject({ totpEnabled: true });

		const creds = { email: user.email, password: PASSWORD };
		expect((await login(server, creds)).body.error.code).toBe("TOTP_REQUIRED");
		expect(
			(await login(server, { ...creds, totp: "123456" === totp.generate() ? "654321" : "123456" }))
				.body.error.code,
		).toBe("INVALID_TOTP");
		// The enrolment used the current step; the next step's code is within the allowed drift.
		const next = totp.generate({ timestamp: Date.now() + 30_000 });
		const ok = await login(server, { ...creds, totp: next });
		expect(ok.status).toBe(200);
		const replay = await login(server, { ...creds, totp: next });
		expect(replay.body.error.code).toBe("INVALID_TOTP");

		// The secret is sealed at rest: the database file alone does not give it away.
		const db = openServerDb(server);
		const row = await db.execute({
			sql: "SELECT totp_secret FROM users WHERE id = ?",
			args: [user.id],
		});
		db.close();
		const stored = String(row.rows[0]?.totp_secret);
		expect(stored).toMatch(/^v1\./);
		expect(stored).not.toContain(enrol.body.secret);
	});

	it("lets an admin require TOTP for everyone; users without it may only enrol", async () => {
		const user = await createUserAs(server, admin.accessToken, {
			email: "must-enrol@example.test",
			password: PASSWORD,
		});
		const on = await server.json("/api/v1/settings", {
			method: "PATCH",
			body: { requireTotp: true },
			headers: bearer(admin.accessToken),
		});
		expect(on.body).toMatchObject({ requireTotp: true });
		try {
			const res = await login(server, { email: user.email, password: PASSWORD });
			expect(res.status).toBe(200);
			expect(res.body.totpEnrolmentRequired).toBe(true);
			expect(res.body.refreshToken).toBeUndefined();
			const token = res.body.accessToken;
			expect(decodeJwt(token).aud).toBe("totp-enrol");
			expect((await server.json("/api/v1/me", { headers: bearer(token) })).status).toBe(200);
			const other = await server.json<ErrorBody>("/api/v1/me/totp", {
				method: "DELETE",
				body: { code: "123456" },
				headers: bearer(token),
			});
			expect(other.body.error.code).toBe("TOTP_ENROLMENT_REQUIRED");
			const enrol = await server.json("/api/v1/me/totp", {
				method: "POST",
				headers: bearer(token),
			});
			expect(enrol.status).toBe(200);
		} finally {
			await server.json("/api/v1/settings", {
				method: "PATCH",
				body: { requireTotp: false },
				headers: bearer(admin.accessToken),
			});
		}
	});

	it("answers password reset with MAIL_DISABLED when no SMTP server is configured", async () => {
		const res = await server.json<ErrorBody>("/api/v1/auth/password-reset", {
			body: { email: ADMIN.email },
		});
		expect(res.status).toBe(501);
		expect(res.body.error.code).toBe("MAIL_DISABLED");
	});

	it("validates bodies with INVALID_REQUEST and names the fields, never the values", async () => {
		const res = await server.json<ErrorBody>("/api/v1/auth/login", {
			body: { email: "not-an-email", password: "secret-value-xyz" },
		});
		expect(res.status).toBe(400);
		expect(res.body.error.code).toBe("INVALID_REQUEST");
		expect(JSON.stringify(res.body)).toContain("email");
		expect(JSON.stringify(res.body)).not.toContain("secret-value-xyz");
	});
});
