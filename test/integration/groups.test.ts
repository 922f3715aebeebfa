import { join } from "node:path";
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
import { queryDb } from "../helpers/sql.ts";

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

	it("renames and deletes groups (admin only, audited), never one that still has hosts", async () => {
		const headers = bearer(admin.accessToken);
		const made = await server.json<GroupView>("/api/v1/groups", {
			body: { name: "Old name" },
			headers,
		});
		const id = made.body.id;
		const renamed = await server.json<GroupView>(`/api/v1/groups/${id}`, {
			method: "PATCH",
			body: { name: " New name " },
			headers,
		});
		expect(renamed.status).toBe(200);
		expect(renamed.body).toMatchObject({ id, name: "New name", members: 0, hosts: 0 });
		const clash = await server.json<ErrorBody>(`/api/v1/groups/${id}`, {
			method: "PATCH",
			body: { name: "Helpdesk" },
			headers,
		});
		expect(clash.status).toBe(409);
		expect(clash.body.error.code).toBe("GROUP_NAME_TAKEN");
		const same = await server.json<GroupView>(`/api/v1/groups/${id}`, {
			method: "PATCH",
			body: { name: "New name" },
			headers,
		});
		expect(same.status).toBe(200);
		const missing = await server.json<ErrorBody>(`/api/v1/groups/${crypto.randomUUID()}`, {
			method: "PATCH",
			body: { name: "X" },
			headers,
		});
		expect(missing.body.error.code).toBe("GROUP_NOT_FOUND");

		const kim = await mustLogin(server, { email: "kim@example.test", password: PASSWORD });
		for (const init of [
			{ method: "PATCH", body: { name: "Mine" } },
			{ method: "DELETE" },
		] as const) {
			const res = await server.json(`/api/v1/groups/${id}`, {
				...init,
				headers: bearer(kim.accessToken),
			});
			expect(res.status).toBe(403);
		}

		// A host in the group: the delete is refused until it is gone.
		const dbPath = join(server.dataDir, "fernwart.db");
		const hostId = crypto.randomUUID();
		queryDb(
			dbPath,
			"INSERT INTO hosts (id, group_id, name, platform, public_key, created_at, disabled) VALUES (?, ?, 'pc-1', 'linux', ?, ?, 0)",
			[hostId, id, "A".repeat(43), Date.now()],
		);
		const refused = await server.json<ErrorBody>(`/api/v1/groups/${id}`, {
			method: "DELETE",
			headers,
		});
		expect(refused.status).toBe(409);
		expect(refused.body.error.code).toBe("GROUP_NOT_EMPTY");
		queryDb(dbPath, "DELETE FROM hosts WHERE id = ?", [hostId]);

		// Members and enrolment tokens go with the group.
		await createUserAs(server, admin.accessToken, {
			email: "ola@example.test",
			password: PASSWORD,
			groups: ["New name"],
		});
		await enrollmentToken(server, admin.accessToken, "New name");
		const deleted = await server.json(`/api/v1/groups/${id}`, { method: "DELETE", headers });
		expect(deleted.status).toBe(204);
		const gone = await server.json<ErrorBody>(`/api/v1/groups/${id}`, {
			method: "DELETE",
			headers,
		});
		expect(gone.status).toBe(404);
		const list = await server.json<{ groups: GroupView[] }>("/api/v1/groups", { headers });
		expect(list.body.groups.map((g) => g.name)).not.toContain("New name");
		const ola = await mustLogin(server, { email: "ola@example.test", password: PASSWORD });
		expect(ola.user.groups).toEqual([]);

		const audit = await server.json<{ events: { type: string; subject: string; data: unknown }[] }>(
			"/api/v1/audit?type=group.*",
			{ headers },
		);
		const mine = audit.body.events.filter((e) => e.subject === id);
		expect(mine.map((e) => [e.type, e.data])).toEqual(
			expect.arrayContaining([
				["group.renamed", { from: "Old name", to: "New name" }],
				["group.deleted", { name: "New name" }],
			]),
		);
	});

	it("shows mailEnabled and picturesEnabled read-only in the settings", async () => {
		const got = await server.json<{
			mailEnabled: boolean;
			picturesEnabled: boolean;
			auditRetentionDays: number;
		}>("/api/v1/settings", { headers: bearer(admin.accessToken) });
		expect(got.status).toBe(200);
		expect(got.body.mailEnabled).toBe(false);
		expect(got.body.picturesEnabled).toBe(false);

		const patched = await server.json<{ mailEnabled: boolean; auditRetentionDays: number }>(
			"/api/v1/settings",
			{ method: "PATCH", body: { auditRetentionDays: 30 }, headers: bearer(admin.accessToken) },
		);
		expect(patched.body).toMatchObject({ mailEnabled: false, auditRetentionDays: 30 });
		for (const body of [{ mailEnabled: true }, { picturesEnabled: true }]) {
			const refused = await server.json<ErrorBody>("/api/v1/settings", {
				method: "PATCH",
				body,
				headers: bearer(admin.accessToken),
			});
			expect(refused.status).toBe(400);
		}
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
