import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";

/** The pinned workerd binary of the `workerd` dependency (`npx workerd` runs the same one). */
export const WORKERD_PATH: string = createRequire(import.meta.url)("workerd").default;

/**
 * util-linux's setpriv sets a parent-death signal and then execs workerd: if the launcher dies
 * without stopping it (SIGKILL, OOM), the kernel sends workerd SIGTERM instead of leaving it
 * holding the port. Debian ships it in an essential package; elsewhere workerd runs without it.
 */
const SETPRIV = "/usr/bin/setpriv";

/**
 * Descriptors workerd holds per online host: its actor's three SQLite files and the socket,
 * measured. workerd never raises its own limit of open files; it inherits the launcher's, which
 * Node raised from the soft to the hard limit at start (Node's PlatformInit does this on POSIX).
 */
export const FDS_PER_HOST = 5;

/**
 * This process's limit of open files, from `/proc/self/limits` (Linux; `text` for tests), as
 * `{soft, hard}` with "unlimited" as Infinity; null where the file does not exist or says nothing.
 */
export function openFilesLimit(text?: string): { soft: number; hard: number } | null {
	let source = text;
	if (source === undefined) {
		try {
			source = readFileSync("/proc/self/limits", "utf8");
		} catch {
			return null;
		}
	}
	const match = /^Max open files\s+(\S+)\s+(\S+)/m.exec(source);
	if (!match) return null;
	const value = (v: string | undefined) =>
		v === "unlimited" ? Number.POSITIVE_INFINITY : Number(v);
	const soft = value(match[1]);
	const hard = value(match[2]);
	return Number.isNaN(soft) || Number.isNaN(hard) ? null : { soft, hard };
}

/** The open-files limit workerd inherits from this process, or null where it cannot be read. */
export function workerdFileLimit(): number | null {
	return openFilesLimit()?.soft ?? null;
}

/** How long workerd may take to open its socket before the start counts as failed. */
const LISTEN_TIMEOUT_MS = 30_000;
/** SIGTERM first; SIGKILL if workerd has not exited after this long. */
const KILL_AFTER_MS = 5_000;

export interface WorkerdSpawnOptions {
	/** The capnp config file (server/build.ts `workerdConfig`). */
	configPath: string;
	/** `host:port` for the `https` socket (workerd's `-s https=…`); port 0 picks one. */
	listen: string;
	/** Where the `fernwart-db` external service is: `unix:/path` or `127.0.0.1:port`. */
	dbAddress: string;
	/** Actor storage directory (`-d actor-storage=…`). */
	actorDir: string;
	/** The whole environment workerd gets: the secrets its config reads, nothing else. */
	env: Record<string, string>;
	/** Each line workerd writes to stdout or stderr. */
	onOutput: (line: string) => void;
}

export interface WorkerdProcess {
	pid: number;
	/** The port the `https` socket is bound to. */
	port: number;
	/** Resolves when workerd exits, for whatever reason. */
	exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
	/** SIGTERM, then SIGKILL after 5 s; resolves once it has exited. */
	stop(): Promise<void>;
}

/** Formats an address for workerd's `-s name=addr`: IPv6 literals go in brackets. */
export function socketAddress(host: string, port: number): string {
	return host.includes(":") && !host.startsWith("[") ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Starts `workerd serve` and waits until its `https` socket listens (reported as JSON on the
 * control descriptor, fd 3). Rejects with workerd's last output if it exits or does not listen
 * within 30 s.
 */
export async function spawnWorkerd(opts: WorkerdSpawnOptions): Promise<WorkerdProcess> {
	const args = [
		"serve",
		opts.configPath,
		"-s",
		`https=${opts.listen}`,
		"-e",
		`fernwart-db=${opts.dbAddress}`,
		"-d",
		`actor-storage=${opts.actorDir}`,
		"--control-fd",
		"3",
	];
	let command: string[] = [WORKERD_PATH, ...args];
	if (existsSync(SETPRIV)) command = [SETPRIV, "--pdeathsig", "TERM", "--", ...command];
	const [file, ...argv] = command as [string, ...string[]];
	const child = spawn(file, argv, {
		env: opts.env,
		stdio: ["ignore", "pipe", "pipe", "pipe"],
	});
	const recent: string[] = [];
	for (const stream of [child.stdout, child.stderr]) {
		createInterface({ input: stream as Readable }).on("line", (line) => {
			recent.push(line);
			if (recent.length > 20) recent.shift();
			opts.onOutput(line);
		});
	}
	const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
		child.once("exit", (code, signal) => resolve({ code, signal })),
	);
	const port = await new Promise<number>((resolve, reject) => {
		const timer = setTimeout(() => {
			child.kill("SIGKILL");
			reject(new Error(`workerd did not listen within ${LISTEN_TIMEOUT_MS / 1000} s`));
		}, LISTEN_TIMEOUT_MS);
		createInterface({ input: child.stdio[3] as Readable }).on("line", (line) => {
			const event = parseControlLine(line);
			if (event?.event === "listen" && event.socket === "https") {
				clearTimeout(timer);
				resolve(event.port);
			}
		});
		child.once("error", (err) => {
			clearTimeout(timer);
			reject(err);
		});
		void exited.then(({ code, signal }) => {
			clearTimeout(timer);
			reject(
				new Error(
					`workerd exited (${signal ?? `code ${code}`}) before listening: ${recent.join(" | ") || "no output"}`,
				),
			);
		});
	});
	return { pid: child.pid as number, port, exited, stop: () => stopChild(child, exited) };
}

function parseControlLine(line: string): { event: string; socket: string; port: number } | null {
	try {
		const value = JSON.parse(line) as { event?: unknown; socket?: unknown; port?: unknown };
		if (typeof value.event === "string" && typeof value.socket === "string")
			return { event: value.event, socket: value.socket, port: Number(value.port) };
	} catch {
		// workerd writes only JSON there; anything else is not an event we act on.
	}
	return null;
}

async function stopChild(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
	if (child.exitCode !== null || child.signalCode !== null) return;
	child.kill("SIGTERM");
	const timer = setTimeout(() => child.kill("SIGKILL"), KILL_AFTER_MS);
	await exited;
	clearTimeout(timer);
}
