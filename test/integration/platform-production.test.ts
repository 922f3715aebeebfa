import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { Agent, fetch } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyExportText } from "../../protocol/audit-export.ts";
import { LOCK_STALE_MS } from "../../server/lock.ts";
import { ADMIN, bearer, login, mustLogin } from "../helpers/auth.ts";
import { makeDataDir, ROOT, startServer, type TestServer } from "../helpers/server.ts";
import { queryDb } from "../helpers/sql.ts";

/** The PIDs of `pid` and all its descendants, from /proc. */
function processTree(pid: number): number[] {
	const children = new Map<number, number[]>();
	for (const entry of readdirSync("/proc")) {
		if (!/^\d+$/.test(entry)) continue;
		try {
			// Field 4 of /proc/PID/stat is the parent; the name in field 2 may hold spaces.
			const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
			const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
			children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
		} catch {
			// The process ended while we looked.
		}
	}
	const out: number[] = [];
	const visit = (p: number) => {
		out.push(p);
		for (const c of children.get(p) ?? []) visit(c);
	};
	visit(pid);
	return out;
}

function alive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch {
		return false;
	}
}

/** Listening TCP and UDP sockets (`local address:port`) owned by any of `pids`, read with `ss`. */
function listeningSockets(pids: number[]): string[] {
	const text = execFileSync("ss", ["-H", "-l", "-t", "-u", "-n", "-p"], { encoding: "utf8" });
	return text
		.split("\n")
		.filter((line) => [...line.matchAll(/pid=(\d+)/g)].some((m) => pids.includes(Number(m[1]))))
		.map((line) => line.trim().split(/\s+/)[4] ?? "");
}

async function waitUntil(check: () => boolean, timeoutMs: number): Promise<boolean> {
	const end = Date.now() + timeoutMs;
	while (Date.now() < end) {
		if (check()) return true;
		await new Promise((r) => setTimeout(r, 100));
	}
	return check();
}

describe("production runtime: npm start serves through workerd itself", () => {
	let server: TestServer;
	let adminToken: string;
	beforeAll(async () => {
		// No trusted proxy: the client address must be the TCP peer, whatever a request says.
		server = await startServer({
			viaNpm: true,
			env: { TRUSTED_PROXIES: "", CLIENT_IP_HEADER: "" },
		});
		adminToken = (await mustLogin(server, ADMIN)).accessToken;
	});
	afterAll(async () => {
		await server?.stop();
	});

	const MF_HEADERS = {
		"MF-Original-URL": "https://localhost/api/v1/users",
		"MF-CF-Blob": JSON.stringify({ clientIp: "203.0.113.66" }),
		"MF-Disable-Pretty-Error": "true",
		"MF-Route-Override": "nothing",
		"MF-Custom-Service": "fernwart-db",
		"MF-Dispatch-Namespace": "x",
		"MF-Proxy-Shared-Secret": "x",
		"CF-Connecting-IP": "203.0.113.67",
	};

	it("answers a request with Miniflare's internal headers as if they were not there", async () => {
		const plain = await server.json("/healthz", { headers: bearer(adminToken) });
		const tricked = await server.json("/healthz", {
			headers: { ...bearer(adminToken), ...MF_HEADERS },
		});
		expect(tricked.status).toBe(200);
		expect(tricked.body).toEqual(plain.body);
		// Not the user list that MF-Original-URL pointed at.
		expect(JSON.stringify(tricked.body)).not.toContain("admin@example.test");
	});

	it("never answers 5xx to malformed MF-* values", async () => {
		for (const blob of ["{bad", "null", "[]", "x".repeat(4000), '{"clientIp":5}']) {
			for (const path of ["/healthz", "/api/v1/me", "/login", "/nothing"]) {
				const res = await server.fetch(path, {
					headers: {
						...bearer(adminToken),
						"MF-CF-Blob": blob,
						"MF-Original-URL": blob,
						"MF-Route-Override": blob,
					},
				});
				await res.arrayBuffer();
				expect(res.status, `${path} with ${blob.slice(0, 20)}`).toBeLessThan(500);
			}
		}
	});

	it("records the TCP peer, not a claimed address, for a failed login", async () => {
		const res = await login(
			server,
			{ email: ADMIN.email, password: "wrong password, long enough" },
			MF_HEADERS,
		);
		expect(res.status).toBe(401);
		const rows = queryDb(
			join(server.dataDir, "fernwart.db"),
			"SELECT ip FROM audit_events WHERE type = 'user.login_failed' ORDER BY seq DESC LIMIT 1",
		);
		expect(rows[0]?.ip).toBe("127.0.0.1");
	});

	it("runs workerd on the generated config, with the DB service on a private Unix socket", () => {
		const tree = processTree(server.launcherPid);
		const commands = tree.map((pid) => {
			try {
				return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
			} catch {
				return "";
			}
		});
		const workerd = commands.find((c) => / serve /.test(c) && c.includes("workerd"));
		expect(workerd).toContain(join(server.dataDir, "workerd.capnp"));
		expect(workerd).toContain(`fernwart-db=unix:${join(server.dataDir, "db.sock")}`);
		// No development server anywhere in the tree.
		expect(commands.join("\n")).not.toMatch(/miniflare|wrangler/i);
		expect(readFileSync(join(server.dataDir, "workerd.capnp"), "utf8")).toContain(
			'globalOutbound = "fernwart-egress-guard"',
		);
	});
});

describe("production runtime: exactly one listening socket", () => {
	it("with HOST=127.0.0.2 only that address listens, and it serves", async () => {
		const server = await startServer({ env: { HOST: "127.0.0.2" } });
		try {
			expect(server.url.hostname).toBe("127.0.0.2");
			const sockets = listeningSockets(processTree(server.launcherPid));
			expect(sockets).toEqual([`127.0.0.2:${server.url.port}`]);
			// The certificate names localhost and 127.0.0.1; only the address differs here.
			const agent = new Agent({ connect: { ca: server.ca, checkServerIdentity: () => undefined } });
			try {
				const res = await fetch(new URL("/healthz", server.url), { dispatcher: agent });
				expect(res.status).toBe(200);
			} finally {
				await agent.close();
			}
		} finally {
			await server.stop();
		}
	});
});

describe("production runtime: one server per data dir", () => {
	let first: TestServer;
	beforeAll(async () => {
		first = await startServer();
	});
	afterAll(async () => {
		await first?.stop();
	});

	it("refuses a second start on the same data dir and leaves the first intact", async () => {
		const token = (await mustLogin(first, ADMIN)).accessToken;
		const runFile = readFileSync(join(first.dataDir, "run.json"), "utf8");
		const dbBefore = readFileSync(join(first.dataDir, "fernwart.db"));
		const second = spawnSync(process.execPath, [join(ROOT, "server/main.ts"), "--no-build"], {
			cwd: ROOT,
			env: { PATH: process.env.PATH ?? "", DATA_DIR: first.dataDir, PORT: "0" },
			encoding: "utf8",
			timeout: 30_000,
		});
		expect(second.status).toBe(2);
		const lines = second.stderr.trim().split("\n");
		expect(lines).toHaveLength(1);
		expect(lines[0]).toContain(first.dataDir);
		expect(lines[0]).toContain(`PID ${first.launcherPid}`);
		expect(second.stdout).toBe("");

		// The first server's run file, database and service are untouched.
		expect(readFileSync(join(first.dataDir, "run.json"), "utf8")).toBe(runFile);
		expect(readFileSync(join(first.dataDir, "fernwart.db")).equals(dbBefore)).toBe(true);
		expect((await first.json("/readyz")).status).toBe(200);
		await mustLogin(first, ADMIN);
		const exported = await first.fetch("/api/v1/audit/export", { headers: bearer(token) });
		expect(exported.status).toBe(200);
		const result = await verifyExportText(await exported.text());
		expect(result).toMatchObject({ ok: true });
	});

	it("refuses the standalone DB service on a data dir in use, too", () => {
		const db = spawnSync(process.execPath, [join(ROOT, "server/db-serve.ts")], {
			cwd: ROOT,
			env: { PATH: process.env.PATH ?? "", DATA_DIR: first.dataDir, DB_SERVICE_PORT: "0" },
			encoding: "utf8",
			timeout: 30_000,
		});
		expect(db.status).toBe(2);
		expect(db.stderr).toContain(`PID ${first.launcherPid}`);
	});
});

describe("production runtime: signals", () => {
	it("stops npm, the launcher and workerd within 10 s of SIGTERM to npm, last line 'stopped'", async () => {
		const server = await startServer({ viaNpm: true });
		const npmPid = server.process.pid as number;
		const tree = processTree(npmPid);
		expect(tree).toContain(server.launcherPid);
		expect(tree.length).toBeGreaterThanOrEqual(3); // npm, the launcher, workerd
		const exited = new Promise<number | null>((r) => server.process.once("exit", r));
		process.kill(npmPid, "SIGTERM");
		const started = Date.now();
		expect(await waitUntil(() => tree.every((pid) => !alive(pid)), 10_000)).toBe(true);
		expect(Date.now() - started).toBeLessThan(10_000);
		expect(await exited).toBe(0);
		const lines = server.output().trim().split("\n");
		expect(lines.at(-1)).toMatch(/\[launcher\] stopped$/);
		expect(existsSync(join(server.dataDir, "run.json"))).toBe(false);
		expect(existsSync(join(server.dataDir, "server.lock"))).toBe(false);
	});

	it("leaves no workerd behind when the launcher is killed outright, and the data dir can be taken again", async () => {
		const dataDir = makeDataDir();
		const server = await startServer({ dataDir });
		const tree = processTree(server.launcherPid);
		process.kill(server.launcherPid, "SIGKILL");
		const killedAt = Date.now();
		expect(await waitUntil(() => tree.every((pid) => !alive(pid)), 10_000)).toBe(true);
		// The stale run.json names a dead PID: a new start waits for its lock to expire (what a
		// process manager's restart after a crash meets), then takes over.
		const again = await startServer({ dataDir });
		try {
			// On a slow machine the lock may already have expired by now (it is refreshed every
			// LOCK_STALE_MS / 2, so it expires between 5 and 10 s after the kill); if not, the
			// start said why it waited.
			if (!again.output().includes("waiting up to"))
				expect(Date.now() - killedAt).toBeGreaterThan(LOCK_STALE_MS / 2 - 1_000);
			expect((await again.json("/readyz")).status).toBe(200);
		} finally {
			await again.stop();
		}
	});

	it("restarts a workerd that died under it, on the same port", async () => {
		const server = await startServer();
		try {
			const before = processTree(server.launcherPid).filter((pid) => pid !== server.launcherPid);
			expect(before).toHaveLength(1);
			process.kill(before[0] as number, "SIGKILL");
			expect(await waitUntil(() => server.output().includes("workerd restarted"), 10_000)).toBe(
				true,
			);
			expect(server.output()).toContain("workerd exited unexpectedly");
			expect((await server.json("/readyz")).status).toBe(200);
		} finally {
			await server.stop();
		}
	});
});

describe("production runtime: files at rest", () => {
	it("makes an existing, too open data dir private: dir 0700, database and secrets 0600", async () => {
		const dataDir = makeDataDir();
		const first = await startServer({ dataDir });
		await first.stop();
		chmodSync(dataDir, 0o755);
		for (const name of ["fernwart.db", "db-token.env"]) chmodSync(join(dataDir, name), 0o644);
		const server = await startServer({ dataDir });
		try {
			expect(server.output()).toMatch(/tightened the modes of \d+ entries/);
			const mode = (path: string) => statSync(path).mode & 0o777;
			expect(mode(dataDir)).toBe(0o700);
			const files: string[] = [];
			const walk = (dir: string) => {
				for (const entry of readdirSync(dir, { withFileTypes: true })) {
					const path = join(dir, entry.name);
					if (entry.isDirectory()) {
						expect(mode(path), path).toBe(0o700);
						walk(path);
					} else if (entry.isFile()) files.push(path);
				}
			};
			walk(dataDir);
			// Files workerd made since (actor storage, WAL) inherit the launcher's umask 0077.
			expect(files.some((f) => f.includes("/actors/"))).toBe(true);
			for (const file of files) {
				if (file.endsWith("tls/cert.pem")) continue; // public by nature
				expect(mode(file), file).toBe(0o600);
			}
		} finally {
			await server.stop();
		}
	});
});
