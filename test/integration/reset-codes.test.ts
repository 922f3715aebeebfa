import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
	ADMIN,
	bearer,
	createUserAs,
	type ErrorBody,
	from,
	mustLogin,
	type Session,
} from "../helpers/auth.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { startSmtp } from "../helpers/smtp.ts";

const PASSWORD = "the old password is long";

/**
 * A password-reset code exists to set one password. Once a password is set, by that code,
 * another code, the user or an admin, every code mailed before is worthless.
 */
describe("password-reset codes end when their purpose is gone", () => {
	let smtp: Awaited<ReturnType<typeof startSmtp>>;
	let server: TestServer;
	let admin: Session;
	let requests = 0;
	beforeAll(async () => {
		smtp = await startSmtp();
		server = await startServer({
			env: { SMTP_URL: `smtp://127.0.0.1:${smtp.port}/?from=fernwart@example.test` },
		});
		admin = await mustLogin(server, ADMIN);
	});
	afterAll(async () => {
		await server?.stop();
		await smtp?.close();
	});

	/** Requests `n` codes for `email` (each from its own address) and returns them in order. */
	async function codesFor(email: string, n: number): Promise<string[]> {
		const before = smtp.mails.length;
		for (let i = 0; i < n; i++) {
			requests++;
			const res = await server.json("/api/v1/auth/password-reset", {
				body: { email },
				headers: from(`198.18.7.${requests}`),
			});
			expect(res.status).toBe(202);
			await smtp.waitFor(before + i + 1);
		}
		return smtp.mails.slice(before).map((m) => {
			const code = /Reset code: (\S+)/.exec(m.text)?.[1];
			if (!code) throw new Error(`no reset code in mail:\n${m.text}`);
			return code;
		});
	}

	const confirm = (token: string, password: string) =>
		server.json<ErrorBody>("/api/v1/auth/password-reset/confirm", { body: { token, password } });

	async function newUser(email: string) {
		return createUserAs(server, admin.accessToken, { email, password: PASSWORD });
	}

	it("ends the other open codes when one is used", async () => {
		const user = await newUser("two-codes@example.test");
		const [first, second] = await codesFor(user.email, 2);
		expect((await confirm(first as string, "set by the first code")).status).toBe(204);
		const late = await confirm(second as string, "set by the second code");
		expect(late.status).toBe(400);
		expect(late.body.error.code).toBe("INVALID_RESET_TOKEN");
		await mustLogin(server, { email: user.email, password: "set by the first code" });
	});

	it("lets only one of two codes presented at the same instant set the password", async () => {
		const user = await newUser("racing-codes@example.test");
		const codes = await codesFor(user.email, 2);
		const answers = await Promise.all(
			codes.map((code, i) => confirm(code, `password number ${i} wins`)),
		);
		expect(answers.map((a) => a.status).sort()).toEqual([204, 400]);
	});

	it("ends open codes when the user changes the own password", async () => {
		const user = await newUser("changes-own@example.test");
		const [code] = await codesFor(user.email, 1);
		const s = await mustLogin(server, { email: user.email, password: PASSWORD });
		const changed = await server.json("/api/v1/me/password", {
			body: { currentPassword: PASSWORD, newPassword: "changed by the user" },
			headers: bearer(s.accessToken),
		});
		expect(changed.status).toBe(204);
		const late = await confirm(code as string, "set by an old code");
		expect(late.body.error.code).toBe("INVALID_RESET_TOKEN");
		await mustLogin(server, { email: user.email, password: "changed by the user" });
	});

	it("ends open codes when an admin sets the password", async () => {
		const user = await newUser("admin-sets@example.test");
		const [code] = await codesFor(user.email, 1);
		const patched = await server.json(`/api/v1/users/${user.id}`, {
			method: "PATCH",
			body: { password: "set by the admin 123" },
			headers: bearer(admin.accessToken),
		});
		expect(patched.status).toBe(200);
		const late = await confirm(code as string, "set by an old code");
		expect(late.body.error.code).toBe("INVALID_RESET_TOKEN");
		await mustLogin(server, { email: user.email, password: "set by the admin 123" });
	});

	it("ends open codes when an admin disables the account, also after it is enabled again", async () => {
		const user = await newUser("disabled@example.test");
		const [code] = await codesFor(user.email, 1);
		for (const disabled of [true, false]) {
			const patched = await server.json(`/api/v1/users/${user.id}`, {
				method: "PATCH",
				body: { disabled },
				headers: bearer(admin.accessToken),
			});
			expect(patched.status).toBe(200);
		}
		const late = await confirm(code as string, "set by an old code");
		expect(late.body.error.code).toBe("INVALID_RESET_TOKEN");
		await mustLogin(server, { email: user.email, password: PASSWORD });
	});
});
