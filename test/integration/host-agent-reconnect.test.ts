import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reconnectDelayMs } from "../../modules/cli/host.ts";
import { ADMIN, bearer, createUserAs, mustLogin } from "../helpers/auth.ts";
import { enrollHost, type JsonProcess, runHostAgent } from "../helpers/hosts.ts";
import { makeDataDir, startServer, type TestServer } from "../helpers/server.ts";

const PASSWORD = "correct horse battery staple";
const HOST_PASSWORD = "Wartung-2026-green-door";

let server: TestServer;
let admin: string;
let agent: JsonProcess | null = null;
const dataDir = makeDataDir();

async function hostOnline(token: string, hostId: string): Promise<boolean | null> {
	try {
		const res = await server.json<{ hosts: { id: string; online: boolean }[] }>("/api/v1/hosts", {
			headers: bearer(token),
		});
		return res.body.hosts?.find((h) => h.id === hostId)?.online ?? null;
	} catch {
		return null; // the server is restarting
	}
}

/** Polls the host list (the server's view, not the agent's) until `online` holds. */
async function waitOnline(token: string, hostId: string, online: boolean, timeoutMs = 30_000) {
	const started = Date.now();
	while ((await hostOnline(token, hostId)) !== online) {
		if (Date.now() - started > timeoutMs) throw new Error(`host never became online=${online}`);
		await new Promise((r) => setTimeout(r, 200));
	}
	return Date.now() - started;
}

function count(events: Record<string, unknown>[], name: string) {
	return events.filter((e) => e.event === name).length;
}

beforeAll(async () => {
	server = await startServer({ dataDir, keepData: true });
	admin = (await mustLogin(server, ADMIN)).accessToken;
	await createUserAs(server, admin, {
		email: "olga@example.test",
		password: PASSWORD,
		groups: ["office"],
	});
});

afterAll(async () => {
	agent?.kill("SIGKILL");
	await server?.stop();
});

describe("host agent: never gives up on a lost connection", () => {
	it("waits 1 s doubling to the cap, with jitter, and the cap for a disabled host", () => {
		for (let i = 0; i < 50; i += 1) {
			const first = reconnectDelayMs(1, 60_000);
			expect(first).toBeGreaterThanOrEqual(750);
			expect(first).toBeLessThanOrEqual(1250);
			expect(reconnectDelayMs(4, 60_000)).toBeGreaterThanOrEqual(6000);
			expect(reconnectDelayMs(1000, 60_000)).toBeLessThanOrEqual(75_000);
			expect(reconnectDelayMs(1000, 60_000)).toBeGreaterThanOrEqual(45_000);
			expect(reconnectDelayMs(null, 2000)).toBeGreaterThanOrEqual(1500);
		}
		const spread = new Set(Array.from({ length: 20 }, () => reconnectDelayMs(3, 60_000)));
		expect(spread.size).toBeGreaterThan(1);
	});

	it("comes back after a host disable/enable and after the server restarts on the same data dir", async () => {
		const host = await enrollHost(server, admin, {
			group: "office",
			name: "front-desk",
			password: HOST_PASSWORD,
		});
		const running = runHostAgent(host.config, ["--retry-max-ms", "2000"]);
		agent = running;
		await running.waitFor((e) => e.event === "online");
		await waitOnline(admin, host.hostId, true);

		// Disabled: the server drops the presence socket and refuses tickets; the agent keeps
		// asking at the capped pace and is back once enabled.
		const patch = (disabled: boolean) =>
			server.json(`/api/v1/hosts/${host.hostId}`, {
				method: "PATCH",
				body: { disabled },
				headers: bearer(admin),
			});
		expect((await patch(true)).status).toBe(200);
		await running.waitFor((e) => e.event === "disabled");
		await waitOnline(admin, host.hostId, false);
		const refusalsBefore = count(running.events, "disabled");
		await running.waitFor(() => count(running.events, "disabled") > refusalsBefore, 10_000);
		const onlineBefore = count(running.events, "online");
		expect((await patch(false)).status).toBe(200);
		const backAfterEnable = await waitOnline(admin, host.hostId, true);
		expect(count(running.events, "online")).toBe(onlineBefore + 1);
		console.log(`[host-agent] online again ${backAfterEnable} ms after enable`);

		// The server restarts on the same data dir and port: the agent, pinned to that server's
		// certificate, finds it again without anyone touching the PC.
		const port = server.url.port;
		const mark = running.events.length;
		const since = (e: Record<string, unknown>) => running.events.indexOf(e) >= mark;
		await server.stop();
		await running.waitFor((e) => since(e) && e.event === "offline");
		// Several failed attempts while the server is down, and the process is still there.
		await running.waitFor(
			(e) => since(e) && e.event === "reconnecting" && (e.attempt as number) >= 3,
		);
		expect(running.exitCode).toBeNull();
		server = await startServer({ dataDir, keepData: true, env: { PORT: port } });
		const listeningAt = Date.now();
		admin = (await mustLogin(server, ADMIN)).accessToken;
		// The agent's own new connection, not a stale flag from before the restart.
		await running.waitFor((e) => since(e) && e.event === "online", 30_000);
		await waitOnline(admin, host.hostId, true);
		console.log(
			`[host-agent] online again ${Date.now() - listeningAt} ms after the restarted server listened`,
		);
		expect(running.exitCode).toBeNull();

		running.kill("SIGTERM");
		expect(await running.exited).toBe(0);
		agent = null;
	});
});
