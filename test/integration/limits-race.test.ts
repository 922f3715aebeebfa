import { join } from "node:path";
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
	type Session,
} from "../helpers/auth.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { queryDb } from "../helpers/sql.ts";

const PASSWORD = "a long enough password 1";

/** The nth of many distinct client addresses (198.18.0.0/15 is set aside for tests). */
function address(n: number): string {
	return `198.18.${(n >> 8) & 255}.${n & 255}`;
}

/** How many responses had each status, e.g. `{ 401: 10, 429: 290 }`. */
function tally(statuses: number[]): Record<number, number> {
	const out: Record<number, number> = {};
	for (const s of statuses) out[s] = (out[s] ?? 0) + 1;
	return out;
}

/**
 * Concurrent bursts against every counter that guards a secret: the limit must hold for
 * requests that arrive together, not only for requests that arrive one after another.
 */
describe("limits under concurrent bursts", () => {
	let server: TestServer;
	let admin: Session;
	const audit = (type: string, where: string, args: (string | number)[]) =>
		queryDb(
			join(server.dataDir, "fernwart.db"),
			`SELECT data FROM audit_events WHERE type = ? AND ${where}`,
			[type, ...args],
		);
	beforeAll(async () => {
		server = await startServer();
		admin = await mustLogin(server, ADMIN);
	});
	afterAll(async () => {
		await server?.stop();
	});

	it("evaluates at most 10 of 300 concurrent wrong passwords for one account; the right one is then refused", async () => {
		const user = await createUserAs(server, admin.accessToken, {
			email: "burst@example.test",
			password: PASSWORD,
		});
		const burst = await Promise.all(
			Array.from({ length: 300 }, (_, i) =>
				login(server, { email: user.email, password: `wrong password ${i}` }, from(address(i))),
			),
		);
		expect(tally(burst.map((r) => r.status))).toEqual({ 401: 10, 429: 290 });
		expect(burst.find((r) => r.status === 429)?.headers.get("retry-after")).toMatch(/^\d+$/);

		const right = await login(
			server,
			{ email: user.email, password: PASSWORD },
			from(address(999)),
		);
		expect(right.status).toBe(429);
		expect(right.body.error.code).toBe("RATE_LIMITED");

		const failed = audit("user.login_failed", "subject = ?", [user.id]);
		expect(failed).toHaveLength(10);
		expect(audit("user.locked", "subject = ?", [user.id])).toHaveLength(1);
	});

	it("evaluates at most 30 of 120 concurrent wrong logins from one address across accounts", async () => {
		const ip = from("203.0.113.50");
		const burst = await Promise.all(
			Array.from({ length: 120 }, (_, i) =>
				login(server, { email: `sprayed-${i}@example.test`, password: "wrong password" }, ip),
			),
		);
		expect(tally(burst.map((r) => r.status))).toEqual({ 401: 30, 429: 90 });
		expect(audit("user.login_failed", "ip = ?", ["203.0.113.50"])).toHaveLength(30);
		// The address is locked for everyone behind it, whatever the password.
		expect((await login(server, ADMIN, ip)).status).toBe(429);
		await mustLogin(server, ADMIN, from("203.0.113.51"));
	});

	it("counts right passwords neither as failures nor against the address", async () => {
		const ip = from("203.0.113.60");
		const burst = await Promise.all(Array.from({ length: 40 }, () => login(server, ADMIN, ip)));
		// Attempts in flight hold a slot on the account (10) and the address (30) until they are
		// settled, so a burst of right passwords for one account may partly see 429; none of them
		// counts as a failure, and the slots are free again once the burst is over.
		const statuses = tally(burst.map((r) => r.status));
		expect((statuses[200] ?? 0) + (statuses[429] ?? 0)).toBe(40);
		expect(statuses[200]).toBeGreaterThanOrEqual(10);
		expect(audit("user.login_failed", "ip = ?", ["203.0.113.60"])).toHaveLength(0);
		const after = await Promise.all(Array.from({ length: 10 }, () => login(server, ADMIN, ip)));
		expect(after.map((r) => r.status)).toEqual(Array(10).fill(200));
	});

	it("evaluates at most 10 of 100 concurrent wrong current passwords in a password change", async () => {
		const user = await createUserAs(server, admin.accessToken, {
			email: "changer@example.test",
			password: PASSWORD,
		});
		const s = await mustLogin(server, { email: user.email, password: PASSWORD });
		const burst = await Promise.all(
			Array.from({ length: 100 }, (_, i) =>
				server.json<ErrorBody>("/api/v1/me/password", {
					body: { currentPassword: `wrong password ${i}`, newPassword: "a new password 12345" },
					headers: { ...bearer(s.accessToken), ...from(address(1000 + i)) },
				}),
			),
		);
		expect(tally(burst.map((r) => r.status))).toEqual({ 401: 10, 429: 90 });
		const right = await server.json<ErrorBody>("/api/v1/me/password", {
			body: { currentPassword: PASSWORD, newPassword: "a new password 12345" },
			headers: bearer(s.accessToken),
		});
		expect(right.status).toBe(429);
		expect(audit("user.login_failed", "subject = ?", [user.id])).toHaveLength(10);
	});

	it("limits removing TOTP like a login: at most 10 of 100 concurrent wrong codes, then 429", async () => {
		const user = await createUserAs(server, admin.accessToken, {
			email: "totp-burst@example.test",
			password: PASSWORD,
		});
		const s = await mustLogin(server, { email: user.email, password: PASSWORD });
		const enrol = await server.json<{ secret: string }>("/api/v1/me/totp", {
			method: "POST",
			headers: bearer(s.accessToken),
		});
		const totp = new TOTP({ secret: Secret.fromBase32(enrol.body.secret) });
		const confirmed = await server.json("/api/v1/me/totp/confirm", {
			body: { code: totp.generate() },
			headers: bearer(s.accessToken),
		});
		expect(confirmed.status).toBe(200);

		// Every wrong code differs from the codes valid now (±1 step).
		const valid = new Set(
			[-30_000, 0, 30_000].map((d) => totp.generate({ timestamp: Date.now() + d })),
		);
		const wrong = Array.from({ length: 120 }, (_, i) => String(100_000 + i * 7919)).filter(
			(c) => !valid.has(c),
		);
		const burst = await Promise.all(
			wrong.slice(0, 100).map((code, i) =>
				server.json<ErrorBody>("/api/v1/me/totp", {
					method: "DELETE",
					body: { code },
					headers: { ...bearer(s.accessToken), ...from(address(2000 + i)) },
				}),
			),
		);
		expect(tally(burst.map((r) => r.status))).toEqual({ 401: 10, 429: 90 });
		const right = await server.json<ErrorBody>("/api/v1/me/totp", {
			method: "DELETE",
			body: { code: totp.generate({ timestamp: Date.now() + 30_000 }) },
			headers: bearer(s.accessToken),
		});
		expect(right.status).toBe(429);
		const me = await server.json<Session["user"]>("/api/v1/me", { headers: bearer(s.accessToken) });
		expect(me.body.totpEnabled).toBe(true);
		expect(audit("user.login_failed", "subject = ?", [user.id])).toHaveLength(10);
	});

	it("evaluates at most 20 of 100 concurrent wrong enrolment tokens from one address", async () => {
		const ip = "203.0.113.70";
		const publicKey = { kty: "OKP", crv: "Ed25519", x: "A".repeat(43) };
		const burst = await Promise.all(
			Array.from({ length: 100 }, (_, i) =>
				server.json("/api/v1/hosts/register", {
					body: {
						token: `${"a".repeat(22)}.${String(i).padStart(43, "b")}`,
						name: `pc-${i}`,
						platform: "linux",
						publicKey,
					},
					headers: from(ip),
				}),
			),
		);
		expect(tally(burst.map((r) => r.status))).toEqual({ 400: 20, 429: 80 });
		expect(audit("host.register_failed", "ip = ?", [ip])).toHaveLength(20);
	});
});
