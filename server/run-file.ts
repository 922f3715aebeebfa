import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * `DATA_DIR/run.json` says that a launcher is serving this data dir and where. The admin CLI
 * reads it to decide between talking to the running server's API and opening the database
 * itself. It is written right after the data dir's lock is taken (server/lock.ts) and removed by
 * its owner; a file left behind by a crash is recognised by its PID no longer being alive, and
 * the CLI also checks that the lock is still held (a PID can be reused).
 */
export interface RunInfo {
	pid: number;
	/** The loopback origin of the HTTPS socket; absent while the server is still starting. */
	url?: string;
	/** Present when the admin CLI, not a server, holds the data dir. */
	owner?: "cli";
}

const FILE = "run.json";

/** Writes the run file (mode 0600: it names nothing secret, but it is nobody else's business). */
export function writeRunFile(dataDir: string, info: RunInfo): void {
	writeFileSync(join(dataDir, FILE), `${JSON.stringify(info)}\n`, { mode: 0o600 });
}

/** Removes the run file if it is ours. */
export function removeRunFile(dataDir: string, pid = process.pid): void {
	if (readRunFile(dataDir)?.pid === pid) rmSync(join(dataDir, FILE), { force: true });
}

/** The run file as written, whether or not its owner still lives; null when absent or torn. */
export function readRunFileRaw(dataDir: string): RunInfo | null {
	let info: RunInfo;
	try {
		info = JSON.parse(readFileSync(join(dataDir, FILE), "utf8")) as RunInfo;
	} catch {
		// No file (or a torn write): no running launcher to talk to.
		return null;
	}
	if (!Number.isInteger(info.pid) || (info.url !== undefined && typeof info.url !== "string"))
		return null;
	return info;
}

/** Whether a process with this PID exists (it may be a different one if the PID was reused). */
export function isAlive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch (err) {
		// EPERM means the process exists but belongs to someone else: still running.
		return (err as NodeJS.ErrnoException).code === "EPERM";
	}
}

/** The running server for this data dir, or null when none is running. */
export function readRunFile(dataDir: string): RunInfo | null {
	const info = readRunFileRaw(dataDir);
	return info && isAlive(info.pid) ? info : null;
}
