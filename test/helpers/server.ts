import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Agent, fetch as undiciFetch } from "undici";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export interface TestServer {
	url: URL;
	dataDir: string;
	ca: string;
	/** Everything the launcher printed so far (stdout and stderr). */
	output: () => string;
	/** fetch() that trusts only this server's certificate. */
	fetch: (path: string, init?: RequestInit) => Promise<Response>;
	/** JSON request helper: returns status and parsed body. */
	json: <T = unknown>(
		path: string,
		init?: { method?: string; body?: unknown; headers?: Record<string, string> },
	) => Promise<{ status: number; body: T; headers: Headers }>;
	/** Sends SIGTERM and waits for exit; returns the exit code. */
	stop: () => Promise<number | null>;
	/** The child this helper started: the launcher, or npm with `viaNpm`. */
	process: ChildProcess;
	/** The launcher's own PID, from its start banner. */
	launcherPid: number;
}

export interface StartOptions {
	dataDir?: string;
	env?: Record<string, string>;
	/** Keep the data dir after stop (for restart tests). */
	keepData?: boolean;
	/** Start exactly as an admin does, `npm start` (without the build: the setup built it). */
	viaNpm?: boolean;
	/** A command the launcher runs under, e.g. `["prlimit", "--nofile=1024:4096", "--"]`. */
	wrap?: string[];
}

/** A fresh temporary data dir. */
export function makeDataDir(): string {
	return mkdtempSync(join(tmpdir(), "fernwart-test-"));
}

/**
 * Starts the real launcher (`node server/main.ts`) as a child process on port 0 and waits for
 * its "listening" line. The bundle is built once by the global setup.
 */
export async function startServer(opts: StartOptions = {}): Promise<TestServer> {
	const dataDir = opts.dataDir ?? makeDataDir();
	const [launcher, launcherArgs] = opts.viaNpm
		? ["npm", ["start", "--silent", "--", "--no-build"]]
		: [process.execPath, [join(ROOT, "server/main.ts"), "--no-build"]];
	const [command, ...args] = [...(opts.wrap ?? []), launcher, ...launcherArgs] as [
		string,
		...string[],
	];
	const child = spawn(command, args, {
		cwd: ROOT,
		env: {
			PATH: process.env.PATH ?? "",
			HOME: process.env.HOME ?? "/tmp",
			PORT: "0",
			HOST: "127.0.0.1",
			DATA_DIR: dataDir,
			FERNWART_ADMIN_EMAIL: "admin@example.test",
			FERNWART_ADMIN_PASSWORD: "correct horse battery staple",
			// Tests play several clients from one machine: loopback is a trusted proxy that names
			// the client (helpers/auth.ts `from`). A test of the TCP peer itself overrides these.
			TRUSTED_PROXIES: "127.0.0.1",
			CLIENT_IP_HEADER: "X-Forwarded-For",
			...opts.env,
		},
		stdio: ["ignore", "pipe", "pipe"],
	});
	let out = "";
	child.stdout?.on("data", (d) => {
		out += d;
	});
	child.stderr?.on("data", (d) => {
		out += d;
	});
	const { url, launcherPid } = await new Promise<{ url: URL; launcherPid: number }>(
		(resolve, reject) => {
			const timer = setTimeout(() => {
				// Do not leave a half-started launcher (and its workerd) behind.
				child.kill("SIGKILL");
				reject(new Error(`server did not start:\n${out}`));
			}, 60_000);
			const check = () => {
				const m = /listening on (https:\/\/\S+).*\(PID (\d+)\)/.exec(out);
				if (m?.[1] && m[2]) {
					clearTimeout(timer);
					resolve({ url: new URL(m[1]), launcherPid: Number(m[2]) });
				}
			};
			child.stdout?.on("data", check);
			child.on("exit", (code) => {
				clearTimeout(timer);
				reject(new Error(`server exited with ${code}:\n${out}`));
			});
		},
	);
	const ca = readFileSync(opts.env?.TLS_CERT ?? join(dataDir, "tls", "cert.pem"), "utf8");
	const agent = new Agent({ connect: { ca } });
	const once = (path: string, init?: RequestInit) =>
		undiciFetch(new URL(path, url), {
			...(init as object),
			dispatcher: agent,
		}) as unknown as Promise<Response>;
	// A test that blocks its event loop (spawnSync of a CLI) can leave a kept-alive connection
	// that workerd has closed meanwhile; undici then fails the next request on it before sending
	// anything. A request without a body is safe to send again once, on a fresh connection.
	const doFetch = async (path: string, init?: RequestInit) => {
		try {
			return await once(path, init);
		} catch (err) {
			if (init?.body !== undefined && init.body !== null) throw err;
			return once(path, init);
		}
	};
	return {
		url,
		dataDir,
		ca,
		process: child,
		launcherPid,
		output: () => out,
		fetch: doFetch,
		async json(path, init = {}) {
			const res = await doFetch(path, {
				method: init.method ?? (init.body === undefined ? "GET" : "POST"),
				headers: {
					...(init.body === undefined ? {} : { "content-type": "application/json" }),
					...init.headers,
				},
				body: init.body === undefined ? undefined : JSON.stringify(init.body),
			});
			const text = await res.text();
			let body: unknown = text;
			try {
				body = JSON.parse(text);
			} catch {
				// Not JSON (e.g. /metrics); the raw text is returned as the body.
			}
			return { status: res.status, body: body as never, headers: res.headers };
		},
		async stop() {
			await agent.close();
			if (child.exitCode !== null) return child.exitCode;
			const exited = new Promise<number | null>((resolve) =>
				child.once("exit", (code) => resolve(code)),
			);
			child.kill("SIGTERM");
			const code = await exited;
			if (!opts.keepData && !opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
			return code;
		},
	};
}
