import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
	ADMIN,
	createUserAs,
	type ErrorBody,
	login,
	mustLogin,
	openServerDb,
} from "../helpers/auth.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { startSmtp } from "../helpers/smtp.ts";

const OLD = "the old password is long";
const NEW = "a brand new password 42";

function resetCode(text: string): string {
	const m = /Reset code: ([A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43})/.exec(text);
	if (!m?.[1]) throw new Error(`no reset code in mail:\n${text}`);
	return m[1];
}

describe("password reset over the admin's own SMTP server", () => {
	let smtp: Awaited<ReturnType<typeof startSmtp>>;
	let server: TestServer;
	beforeAll(async () => {
		smtp = await startSmtp();
		server = await startServer({
			env: { SMTP_URL: `smtp://127.0.0.1:${smtp.port}/?from=fernwart@example.test` },
		});
	});
	afterAll(async () => {
		await server?.stop();
		await smtp?.close();
	});

	it("mails a one-time token that sets a new password and ends old sessions", async () => {
		const admin = await mustLogin(server, ADMIN);
		const user = await createUserAs(server, admin.accessToken, {
			email: "forgetful@example.test",
			password: OLD,
		});
		const before = await mustLogin(server, { email: user.email, password: OLD });

		const unknown = await server.json("/api/v1/auth/password-reset", {
			body: { email: "nobody@example.test" },
		});
		const known = await server.json("/api/v1/auth/password-reset", {
			body: { email: "Forgetful@Example.test" },
		});
		// The same answer whether or not the address belongs to an account.
		expect(unknown.status).toBe(202);
		expect(known.status).toBe(202);
		expect(known.body).toEqual(unknown.body);

		const [mail] = await smtp.waitFor(1);
		expect(mail?.to).toEqual([user.email]);
		expect(mail?.raw).toMatch(/^From: fernwart@example\.test/m);
		const token = resetCode(mail?.text ?? "");

		const tooShort = await server.json<ErrorBody>("/api/v1/auth/password-reset/confirm", {
			body: { token, password: "short" },
		});
		expect(tooShort.body.error.code).toBe("INVALID_REQUEST");
		const done = await server.json("/api/v1/auth/password-reset/confirm", {
			body: { token, password: NEW },
		});
		expect(done.status).toBe(204);

		expect((await login(server, { email: user.email, password: OLD })).status).toBe(401);
		await mustLogin(server, { email: user.email, password: NEW });
		const refresh = await server.json("/api/v1/auth/refresh", {
			body: { refreshToken: before.refreshToken },
		});
		expect(refresh.status).toBe(401);

		const again = await server.json<ErrorBody>("/api/v1/auth/password-reset/confirm", {
			body: { token, password: "yet another password 7" },
		});
		expect(again.status).toBe(400);
		expect(again.body.error.code).toBe("INVALID_RESET_TOKEN");

		// Only the known address got a mail; the token is stored hashed, not as sent.
		await new Promise((r) => setTimeout(r, 300));
		expect(smtp.mails).toHaveLength(1);
		const db = openServerDb(server);
		const rows = await db.execute("SELECT secret_hash FROM password_resets");
		db.close();
		expect(rows.rows[0]?.secret_hash).not.toBe(token.split(".")[1]);
	});

	it("refuses an expired reset token", async () => {
		await server.json("/api/v1/auth/password-reset", { body: { email: "forgetful@example.test" } });
		const mails = await smtp.waitFor(2);
		const token = resetCode(mails[1]?.text ?? "");
		const db = openServerDb(server);
		// 30 minutes are simulated by moving the expiry into the past.
		await db.execute({
			sql: "UPDATE password_resets SET expires_at = ? WHERE id = ?",
			args: [Date.now() - 1, token.split(".")[0] as string],
		});
		db.close();
		const res = await server.json<ErrorBody>("/api/v1/auth/password-reset/confirm", {
			body: { token, password: "too late for this one" },
		});
		expect(res.body.error.code).toBe("INVALID_RESET_TOKEN");
	});
});
