import { type ChildProcess, spawn } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { ROOT } from "./server.ts";

/** Waits for a line matching `pattern` on a stream and returns the first capture group. */
export function waitForLine(
	stream: Readable,
	pattern: RegExp,
	timeoutMs = 30_000,
): Promise<string> {
	return new Promise((resolve, reject) => {
		const rl = createInterface({ input: stream });
		const timer = setTimeout(() => {
			rl.close();
			reject(new Error(`no line matching ${pattern}`));
		}, timeoutMs);
		rl.on("line", (line) => {
			const m = pattern.exec(line);
			if (m) {
				clearTimeout(timer);
				rl.close();
				resolve(m[1] ?? line);
			}
		});
	});
}

export interface DbServiceProcess {
	port: number;
	process: ChildProcess;
	stop(): Promise<void>;
}

/** Starts `npm run db-service` (node server/db-serve.ts) on a loopback port chosen by the OS. */
export async function startDbService(
	dataDir: string,
	env: Record<string, string> = {},
): Promise<DbServiceProcess> {
	const child = spawn(process.execPath, [join(ROOT, "server/db-serve.ts")], {
		cwd: ROOT,
		env: { PATH: process.env.PATH ?? "", DATA_DIR: dataDir, DB_SERVICE_PORT: "0", ...env },
		stdio: ["ignore", "pipe", "inherit"],
	});
	const port = Number(
		await waitForLine(
			child.stdout as Readable,
			/DB service listening on http:\/\/127\.0\.0\.1:(\d+)/,
		),
	);
	child.stdout?.resume();
	return { port, process: child, stop: () => stopChild(child) };
}

export interface WorkerdProcess {
	port: number;
	process: ChildProcess;
	stop(): Promise<void>;
}

/**
 * Runs `workerd serve` on a copy of dist/ (as an admin would install it), with the certificate
 * from `dataDir/tls` and the DB token from `dataDir/db-token.env`. The port comes back on
 * workerd's control descriptor.
 */
export async function startWorkerd(
	dataDir: string,
	dbPort: number,
	opts: { omitEnv?: string[] } = {},
): Promise<WorkerdProcess> {
	const install = mkdtempSync(join(tmpdir(), "fernwart-dist-"));
	for (const part of ["workerd.capnp", "egress-guard.js", "worker"]) {
		cpSync(join(ROOT, "dist", part), join(install, part), { recursive: true });
	}
	mkdirSync(join(install, "tls"));
	cpSync(join(dataDir, "tls", "cert.pem"), join(install, "tls", "cert.pem"));
	cpSync(join(dataDir, "tls", "key.pem"), join(install, "tls", "key.pem"));
	// The same EnvironmentFiles systemd hands to workerd in deploy/fernwart-workerd.service.
	const env: Record<string, string> = {
		...readEnvFile(join(dataDir, "db-token.env")),
		...readEnvFile(join(dataDir, "keys", "auth.env")),
	};
	for (const name of opts.omitEnv ?? []) delete env[name];
	const child = spawn(
		join(ROOT, "node_modules/workerd/bin/workerd"),
		[
			"serve",
			join(install, "workerd.capnp"),
			"-s",
			"https=127.0.0.1:0",
			"-e",
			`fernwart-db=127.0.0.1:${dbPort}`,
			"-d",
			`actor-storage=${join(dataDir, "actors")}`,
			"--control-fd",
			"3",
		],
		{ env, stdio: ["ignore", "inherit", "inherit", "pipe"] },
	);
	const port = Number(
		await waitForLine(child.stdio[3] as Readable, /"socket":"https","port":(\d+)/),
	);
	return { port, process: child, stop: () => stopChild(child) };
}

/** Reads a KEY=value file as systemd's EnvironmentFile does (no quoting needed for our files). */
function readEnvFile(path: string): Record<string, string> {
	const out: Record<string, string> = {};
	for (const line of readFileSync(path, "utf8").split("\n")) {
		const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
		if (m?.[1]) out[m[1]] = m[2] ?? "";
	}
	return out;
}

function stopChild(child: ChildProcess): Promise<void> {
	if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
	return new Promise((resolve) => {
		child.once("exit", () => resolve());
		child.kill("SIGTERM");
	});
}
