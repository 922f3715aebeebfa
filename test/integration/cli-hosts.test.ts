import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
	ADMIN,
	bearer,
	createUserAs,
	mustLogin,
	openServerDb,
	type Session,
} from "../helpers/auth.ts";
import { enrollHost, fernwart } from "../helpers/hosts.ts";
import { makeDataDir, startServer, type TestServer } from "../helpers/server.ts";

const PASSWORD = "a long enough password 1";

interface HostView {
	id: string;
	name: string;
	disabled: boolean;
}

describe("admin CLI: host list|disable|enable", () => {
	const dataDir = makeDataDir();
	let server: TestServer;
	let admin: Session;
	let hostId: string;
	/** The admin CLI on this server's data dir, as `npm run fernwart --` runs it. */
	const cli = (args: string[]) => fernwart(args, { DATA_DIR: dataDir });
	const hostsViaApi = async () =>
		(
			await server.json<{ hosts: HostView[] }>("/api/v1/hosts", {
				headers: bearer(admin.accessToken),
			})
		).body.hosts;

	beforeAll(async () => {
		server = await startServer({ dataDir });
		admin = await mustLogin(server, ADMIN);
		// The group exists once a member is in it.
		await createUserAs(server, admin.accessToken, {
			email: "desk@example.test",
			password: PASSWORD,
			groups: ["desk"],
		});
		({ hostId } = await enrollHost(server, admin.accessToken, {
			group: "desk",
			name: "front-pc",
			password: "host password 12345",
		}));
	});
	afterAll(async () => {
		await server?.stop();
		rmSync(dataDir, { recursive: true, force: true });
	});

	it("lists, disables and enables hosts through the API while the server runs", async () => {
		const list = await cli(["host", "list"]);
		expect(list.stderr).toContain("using its API");
		expect(list.code).toBe(0);
		expect(list.stdout).toMatch(
			new RegExp(`front-pc\\s+desk\\s+offline\\s+\\S+\\s+—\\s+${hostId}`),
		);

		const disable = await cli(["host", "disable", "front-pc"]);
		expect(disable.code).toBe(0);
		expect(disable.stdout).toContain(`disabled host front-pc (${hostId})`);
		expect((await hostsViaApi()).find((h) => h.id === hostId)?.disabled).toBe(true);
		expect((await cli(["host", "list"])).stdout).toMatch(/front-pc\s+desk\s+disabled/);

		const enable = await cli(["host", "enable", hostId]);
		expect(enable.code).toBe(0);
		expect((await hostsViaApi()).find((h) => h.id === hostId)?.disabled).toBe(false);

		const unknown = await cli(["host", "disable", "no-such-pc"]);
		expect(unknown.code).toBe(1);
		expect(unknown.stderr).toContain("no host no-such-pc");
		const usage = await cli(["host", "disable"]);
		expect(usage.code).toBe(2);

		const db = openServerDb(server);
		const audit = await db.execute({
			sql: "SELECT type, host_id AS hostId, data FROM audit_events WHERE actor = 'cli' ORDER BY seq",
		});
		expect(audit.rows).toEqual([
			{ type: "host.updated", hostId, data: JSON.stringify({ fields: ["disabled"] }) },
			{ type: "host.updated", hostId, data: JSON.stringify({ fields: ["disabled"] }) },
		]);
	});

	it("still hands `host enroll|run` to the host agent", async () => {
		const help = await cli(["host", "--help"]);
		expect(`${help.stdout}${help.stderr}`).toContain("host enroll URL TOKEN");
	});

	it("works on the database directly while the server is stopped, audited the same way", async () => {
		await server.stop();
		const disable = await cli(["host", "disable", "front-pc"]);
		expect(disable.stderr).toContain("server not running");
		expect(disable.code).toBe(0);
		const list = await cli(["host", "list"]);
		expect(list.stdout).toMatch(/front-pc\s+desk\s+disabled/);

		server = await startServer({ dataDir });
		admin = await mustLogin(server, ADMIN);
		expect((await hostsViaApi()).find((h) => h.id === hostId)?.disabled).toBe(true);
		const db = openServerDb(server);
		const last = await db.execute(
			"SELECT type, actor, host_id AS hostId FROM audit_events WHERE actor = 'cli' ORDER BY seq DESC LIMIT 1",
		);
		expect(last.rows).toEqual([{ type: "host.updated", actor: "cli", hostId }]);
	});
});
