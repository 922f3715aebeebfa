import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
	ADMIN,
	bearer,
	createUserAs,
	type ErrorBody,
	mustLogin,
	type Session,
} from "../helpers/auth.ts";
import { enrollmentToken } from "../helpers/hosts.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { startSmtp } from "../helpers/smtp.ts";

const PASSWORD = "a long enough password 1";

interface GroupView {
	id: string;
	name: string;
	createdAt: number;
	members: number;
	hosts: number;
}

describe("groups and the admin console's settings view", () => {
	let server: TestServer;
	let admin: Session;
	beforeAll(async () => {
		server = await startServer();
		admin = await mustLogin(server, ADMIN);
	});
	afterAll(async () => {
		await server?.stop();
	});

	it("creates groups (admin only, unique names, audited) and lists them with counts", async () => {
		const created = await server.json<GroupView>("/api/v1/groups", {
			body: { name: " Helpdesk " },
			headers: bearer(admin.accessToken),
		});
		expect(created.status).toBe(201);
		expect(created.body).toMatchObject({ name: "Helpdesk", members: 0, hosts: 0 });

		const again = await server.json<ErrorBody>("/api/v1/groups", {
			body: { name: "Helpdesk" },
			headers: bearer(admin.accessToken),
		});
		expect(again.status).toBe(409);
		expect(again.body.error.code).toBe("GROUP_NAME_TAKEN");
		const empty = await server.json<ErrorBody>("/api/v1/groups", {
			body: { name: "  " },
			headers: bearer(admin.accessToken),
		});
		expect(empty.status).toBe(400);

		// Users join on their own record; a group named there is created on demand.
		await createUserAs(server, admin.accessToken, {
			email: "sam@example.test",
			password: PASSWORD,
			groups: ["Helpdesk", "Printers"],
		});
		await createUserAs(server, admin.accessToken, {
			email: "kim@example.test",
			password: PASSWORD,
			groups: ["Helpdesk"],
		});
		await enrollmentToken(server, admin.accessToken, "Helpdesk");

		const list = await server.json<{ groups: GroupView[] }>("/api/v1/groups", {
			headers: bearer(admin.accessToken),
		});
		expect(list.status).toBe(200);
		expect(list.body.groups.map((g) => [g.name, g.members, g.hosts])).toEqual([
			["Helpdesk", 2, 0],
			["Printers", 1, 0],
		]);

		// A supporter sees its own groups and cannot create one.
		const kim = await mustLogin(server, { email: "kim@example.test", password: PASSWORD });
		const own = await server.json<{ groups: GroupView[] }>("/api/v1/groups", {
			headers: bearer(kim.accessToken),
		});
		expect(own.body.groups.map((g) => g.name)).toEqual(["Helpdesk"]);
		const refused = await server.json<ErrorBody>("/api/v1/groups", {
			body: { name: "Mine" },
			headers: bearer(kim.accessToken),
		});
		expect(refused.status).toBe(403);
		expect((await server.json("/api/v1/groups")).status).toBe(401);

		const audit = await server.json<{ events: { type: string; data: unknown }[] }>(
			"/api/v1/audit?type=group.created",
			{ headers: bearer(admin.accessToken) },
		);
		expect(audit.body.events.map((e) => e.data)).toEqual([{ name: "Helpdesk" }]);
	});

	it("shows mailEnabled read-only in the settings", async () => {
		const got = await server.json<{ mailEnabled: boolean; auditRetentionDays: number }>(
			"/api/v1/settings",
			{ headers: bearer(admin.accessToken) },
		);
		expect(got.status).toBe(200);
		expect(got.body.mailEnabled).toBe(false);

		const patched = await server.json<{ mailEnabled: boolean; auditRetentionDays: number }>(
			"/api/v1/settings",
			{ method: "PATCH", body: { auditRetentionDays: 30 }, headers: bearer(admin.accessToken) },
		);
		expect(patched.body).toMatchObject({ mailEnabled: false, auditRetentionDays: 30 });
		const refused = await server.json<ErrorBody>("/api/v1/settings", {
			method: "PATCH",
			body: { mailEnabled: true },
			headers: bearer(admin.accessToken),
		});
		expect(refused.status).toBe(400);
	});

	it("reports mailEnabled when SMTP_URL is set", async () => {
		const smtp = await startSmtp();
		const withMail = await startServer({
			env: { SMTP_URL: `smtp://127.0.0.1:${smtp.port}/?from=fernwart@example.test` },
		});
		try {
			const token = (await mustLogin(withMail, ADMIN)).accessToken;
			const got = await withMail.json<{ mailEnabled: boolean }>("/api/v1/settings", {
				headers: bearer(token),
			});
			expect(got.body.mailEnabled).toBe(true);
		} finally {
			await withMail.stop();
			await smtp.close();
		}
	});
});
