import { join } from "node:path";
import lockfile from "proper-lockfile";
import { log } from "./log.ts";
import { isAlive, readRunFile, readRunFileRaw, writeRunFile } from "./run-file.ts";

/** The lock directory proper-lockfile keeps in the data dir while a server owns it. */
export const LOCK_NAME = "server.lock";

/**
 * How long a lock outlives a process that died without releasing it (SIGKILL, power loss): its
 * holder refreshes the lock's mtime every STALE_MS / 2, so a lock older than this has no holder.
 */
export const LOCK_STALE_MS = 10_000;

/** Raised when another process owns the data dir; the message names the data dir and its PID. */
export class DataDirInUseError extends Error {
	override name = "DataDirInUseError";
}

export interface DataDirLock {
	/** Releases the lock; safe to call twice. */
	release(): Promise<void>;
}

/**
 * Takes the exclusive lock on `dataDir` (proper-lockfile: an atomic `mkdir` of
 * `DATA_DIR/server.lock`, refreshed while held) and records this process in `run.json`.
 * It must be the first thing that writes to the data dir: a refused start touches nothing.
 *
 * One owner per data dir matters because two servers would fork the audit hash chain and
 * contend for the actors' SQLite files.
 *
 * @param owner "cli" when the admin CLI works on the database directly (a server then waits).
 * @param onLost called if the lock is lost while held (the lock dir removed or its mtime not
 *   refreshable); the caller should stop serving.
 * @throws DataDirInUseError when another live process holds the lock.
 */
export async function lockDataDir(
	dataDir: string,
	onLost: (err: Error) => void,
	owner: "server" | "cli" = "server",
): Promise<DataDirLock> {
	const take = (retries: number) =>
		lockfile.lock(dataDir, {
			lockfilePath: join(dataDir, LOCK_NAME),
			stale: LOCK_STALE_MS,
			retries: { retries, minTimeout: 500, maxTimeout: 500 },
			realpath: false,
			onCompromised: onLost,
		});
	let release: () => Promise<void>;
	try {
		release = await take(0);
	} catch (err) {
		if ((err as NodeJS.ErrnoException).code !== "ELOCKED") throw err;
		// The owner named in run.json is gone (a crash, a kill -9): its lock is no longer
		// refreshed and goes stale within LOCK_STALE_MS. Wait for that rather than fail a
		// restart; proper-lockfile then takes it over atomically. A live owner is refused at once.
		const owner = readRunFileRaw(dataDir);
		if (!owner || isAlive(owner.pid)) throw new DataDirInUseError(inUseMessage(dataDir));
		log.warn(
			"launcher",
			`waiting up to ${LOCK_STALE_MS / 1000} s for the lock of an ended process (PID ${owner.pid}) to expire`,
		);
		try {
			release = await take(Math.ceil((LOCK_STALE_MS + 2_000) / 500));
		} catch (again) {
			if ((again as NodeJS.ErrnoException).code !== "ELOCKED") throw again;
			throw new DataDirInUseError(inUseMessage(dataDir));
		}
	}
	// run.json names the owner from the first moment; the URL follows once workerd listens.
	writeRunFile(dataDir, { pid: process.pid, ...(owner === "cli" ? { owner } : {}) });
	let released = false;
	return {
		async release() {
			if (released) return;
			released = true;
			await release().catch(() => {
				// Already gone (compromised or removed by hand): nothing left to release.
			});
		},
	};
}

/** Whether a live process holds the data dir's lock right now (the lock's mtime is fresh). */
export async function isDataDirLocked(dataDir: string): Promise<boolean> {
	return lockfile.check(dataDir, {
		lockfilePath: join(dataDir, LOCK_NAME),
		stale: LOCK_STALE_MS,
		realpath: false,
	});
}

function inUseMessage(dataDir: string): string {
	const owner = readRunFile(dataDir);
	if (owner?.owner === "cli")
		return `DATA_DIR ${dataDir} is in use by the admin CLI (PID ${owner.pid}); try again when it is done`;
	if (owner)
		return `DATA_DIR ${dataDir} is in use by another Fernwart server (PID ${owner.pid}); stop it first`;
	return `DATA_DIR ${dataDir} is locked by a process that is starting or ended less than ${
		LOCK_STALE_MS / 1000
	} s ago (${join(dataDir, LOCK_NAME)}); try again`;
}
