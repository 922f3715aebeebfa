import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { bearer } from "./auth.ts";
import { ROOT, type TestServer } from "./server.ts";

const run = promisify(execFile);

/** A temp folder holding the server's certificate as a CA file for the CLI modules. */
export function caFile(server: TestServer): string {
	const dir = mkdtempSync(join(tmpdir(), "fernwart-ca-"));
	const file = join(dir, "ca.pem");
	writeFileSync(file, server.ca);
	return file;
}

/** Runs `npm run fernwart -- …` (the CLI entry, on this Node) to completion. */
export async function fernwart(args: string[], env: Record<string, string> = {}) {
	try {
		const { stdout, stderr } = await run(process.execPath, [join(ROOT, "server/cli.ts"), ...args], {
			cwd: ROOT,
			env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
		});
		return { code: 0, stdout, stderr };
	} catch (err) {
		const e = err as { code?: number; stdout?: string; stderr?: string };
		return { code: e.code ?? 1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
	}
}

/** Creates an enrolment token for a group (by name) as the given user. */
export async function enrollmentToken(server: TestServer, token: string, group: string) {
	const res = await server.json<{ token: string; groupId: string }>("/api/v1/hosts/enrollments", {
		body: { group },
		headers: bearer(token),
	});
	if (res.status !== 201) throw new Error(`enrollment: ${res.status} ${JSON.stringify(res.body)}`);
	return res.body;
}

/** Enrols a host agent into a fresh config folder with `host enroll`. */
export async function enrollHost(
	server: TestServer,
	adminToken: string,
	opts: { group: string; name: string; password: string },
) {
	const { token } = await enrollmentToken(server, adminToken, opts.group);
	const config = mkdtempSync(join(tmpdir(), "fernwart-host-"));
	const res = await fernwart([
		"host",
		"enroll",
		server.url.origin,
		token,
		"--name",
		opts.name,
		"--password",
		opts.password,
		"--ca",
		caFile(server),
		"--config",
		config,
		"--json",
	]);
	if (res.code !== 0) throw new Error(`enroll failed: ${res.stderr}${res.stdout}`);
	const enrolled = JSON.parse(res.stdout.trim().split("\n")[0] ?? "{}") as { hostId: string };
	const file = JSON.parse(readFileSync(join(config, "host.json"), "utf8")) as {
		hostId: string;
		publicKey: string;
		identityKey: string;
		password: { salt: string; verifier: string; kdf: { logN: number; r: number; p: number } };
	};
	return { config, hostId: enrolled.hostId, file };
}

/** A running child process that prints JSON lines; `events` collects them. */
export class JsonProcess {
	readonly child: ChildProcess;
	readonly events: Record<string, unknown>[] = [];
	output = "";
	exitCode: number | null = null;
	readonly exited: Promise<number | null>;

	constructor(args: string[], env: Record<string, string> = {}) {
		this.child = spawn(process.execPath, [join(ROOT, "server/cli.ts"), ...args], {
			cwd: ROOT,
			env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
			stdio: ["ignore", "pipe", "pipe"],
		});
		let buffer = "";
		this.child.stdout?.on("data", (d: Buffer) => {
			this.output += d;
			buffer += d;
			const lines = buffer.split("\n");
			buffer = lines.pop() ?? "";
			for (const line of lines) {
				try {
					this.events.push(JSON.parse(line) as Record<string, unknown>);
				} catch {
					// Not a JSON line (a person-readable note); kept in `output` only.
				}
			}
		});
		this.child.stderr?.on("data", (d: Buffer) => {
			this.output += d;
		});
		this.exited = new Promise((resolve) =>
			this.child.once("exit", (code) => {
				this.exitCode = code;
				resolve(code);
			}),
		);
	}

	/** Resolves with the first event matching `predicate` (also one already seen). */
	async waitFor(
		predicate: (e: Record<string, unknown>) => boolean,
		timeoutMs = 20_000,
	): Promise<Record<string, unknown>> {
		const deadline = Date.now() + timeoutMs;
		for (;;) {
			const hit = this.events.find(predicate);
			if (hit) return hit;
			if (Date.now() > deadline) throw new Error(`timed out; output so far:\n${this.output}`);
			if (this.exitCode !== null) throw new Error(`exited ${this.exitCode}:\n${this.output}`);
			await new Promise((r) => setTimeout(r, 50));
		}
	}

	kill(signal: NodeJS.Signals = "SIGTERM"): void {
		if (this.exitCode === null) this.child.kill(signal);
	}
}

/** Starts `host run` for a config folder. */
export function runHostAgent(config: string, extra: string[] = []): JsonProcess {
	return new JsonProcess(["host", "run", "--config", config, "--json", ...extra]);
}
