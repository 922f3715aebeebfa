import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EventLine, verifyExportText } from "../../protocol/audit-export.ts";
import { linesOf } from "../helpers/audit.ts";
import { ADMIN, bearer, createUserAs, mustLogin } from "../helpers/auth.ts";
import { caFile, enrollHost, JsonProcess, runHostAgent } from "../helpers/hosts.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

const PASSWORD = "correct horse battery staple";
const HOST_PASSWORD = "Wartung-2026-blue-lamp";

describe("the audit protocol of unattended hosts", () => {
	let server: TestServer;
	let admin: string;
	const processes: JsonProcess[] = [];
	const dirs: string[] = [];
	const tmp = () => {
		const dir = mkdtempSync(join(tmpdir(), "fernwart-audit-host-"));
		dirs.push(dir);
		return dir;
	};

	beforeAll(async () => {
		server = await startServer();
		admin = (await mustLogin(server, ADMIN)).accessToken;
		await createUserAs(server, admin, {
			email: "alice@example.test",
			password: PASSWORD,
			groups: ["alpha"],
		});
	});
	afterAll(async () => {
		for (const p of processes) p.kill("SIGKILL");
		await server?.stop();
		for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
	});

	it("binds the host's signed password verdicts to its identity key, and shows them to its group", async () => {
		const host = await enrollHost(server, admin, {
			group: "alpha",
			name: "pc-audit",
			password: HOST_PASSWORD,
		});
		const agent = runHostAgent(host.config);
		processes.push(agent);
		await agent.waitFor((e) => e.event === "online");
		const connect = (password: string) =>
			new JsonProcess(
				[
					"connect",
					"pc-audit",
					"--url",
					server.url.origin,
					"--ca",
					caFile(server),
					"--trust-file",
					join(tmp(), "known.json"),
					"--known-hosts",
					join(tmp(), "known-hosts.json"),
					"--email",
					"alice@example.test",
					"--json",
				],
				{ FERNWART_PASSWORD: PASSWORD, FERNWART_HOST_PASSWORD: password },
			);
		const wrong = connect("not the password");
		processes.push(wrong);
		await wrong.waitFor((e) => e.event === "auth" && e.ok === false, 30_000);
		wrong.kill("SIGINT");
		await wrong.exited;
		const right = connect(HOST_PASSWORD);
		processes.push(right);
		await right.waitFor((e) => e.event === "auth" && e.ok === true, 30_000);
		right.kill("SIGINT");
		await right.exited;

		const res = await server.fetch("/api/v1/audit/export", { headers: bearer(admin) });
		const text = await res.text();
		const result = await verifyExportText(text);
		expect(result.ok, JSON.stringify(result)).toBe(true);
		const events = linesOf(text)
			.map((l) => JSON.parse(l) as EventLine)
			.filter((l) => l.kind === "event");
		const verdicts = events.filter(
			(e) => e.type === "host.connected" || e.type === "host.auth_failed",
		);
		expect(verdicts.map((e) => e.type)).toEqual(["host.auth_failed", "host.connected"]);
		for (const v of verdicts) expect(v.data?.publicKey).toBe(host.file.publicKey);
		expect(result.ok && result.summary.consents).toBeGreaterThanOrEqual(2);

		// Alice is in the host's group: she reads its events, and the list filters by host.
		const alice = (await mustLogin(server, { email: "alice@example.test", password: PASSWORD }))
			.accessToken;
		const list = await server.json<{ events: EventLine[] }>(`/api/v1/audit?hostId=${host.hostId}`, {
			headers: bearer(alice),
		});
		expect(list.status).toBe(200);
		expect(list.body.events.map((e) => e.type)).toContain("host.registered");
		agent.kill("SIGKILL");
	}, 120_000);
});
