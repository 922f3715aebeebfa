import { chmodSync, lstatSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { Client } from "@libsql/client";
import { type Config, ConfigError } from "./config.ts";
import { applyMigrations, nodeDb, openClient } from "./db.ts";
import { ensureFirstAdmin } from "./first-admin.ts";
import { type AuthKeys, ensureAuthKeys } from "./keys.ts";
import { log } from "./log.ts";
import { ensureModuleSigningKey, type ModuleSigningKey } from "./module-signing.ts";
import { ensureDbToken } from "./secrets.ts";
import { ensureTls, type TlsMaterial } from "./tls.ts";

export interface PreparedData {
	client: Client;
	tls: TlsMaterial;
	dbToken: string;
	/** Token-signing and TOTP-sealing keys (DATA_DIR/keys/auth.env, an EnvironmentFile for workerd). */
	authKeys: AuthKeys;
	/** Signs the module manifest (MODULE_SIGNING_KEY, or DATA_DIR/keys/module-signing.pem). */
	moduleKey: ModuleSigningKey;
}

/**
 * Everything a start needs from the data dir, for both the embedded launcher and the standalone
 * DB service: certificate, database with migrations applied, first admin, the DB service token.
 * Whatever can fail because of a setting fails here, before any port opens.
 */
export async function prepareData(config: Config): Promise<PreparedData> {
	log.setLevel(config.logLevel);
	// Actor storage: workerd's `actor-storage` disk points there (launcher and deploy/ alike).
	mkdirSync(join(config.dataDir, "actors"), { recursive: true, mode: 0o700 });
	tightenDataDir(config.dataDir);
	// The secrets first: a malformed one stops the start before anything else is created.
	const dbToken = ensureDbToken(config.dataDir);
	const authKeys = ensureAuthKeys(config.dataDir);
	const moduleKey = await ensureModuleSigningKey(config);
	log.info("launcher", `module-signing key fingerprint: ${moduleKey.fingerprint}`);
	const tls = await ensureTls(config);
	if (tls.created)
		log.info("launcher", `created a self-signed certificate in ${config.tls.certPath}`);
	log.info("launcher", `TLS certificate SHA-256 fingerprint: ${tls.fingerprint}`);

	let client: Client;
	try {
		client = await openClient(config);
		await applyMigrations(client);
	} catch (err) {
		throw new ConfigError("LIBSQL_URL", `database cannot be opened: ${(err as Error).message}`);
	}
	const admin = await ensureFirstAdmin(nodeDb(client), config);
	if (admin) {
		log.info("launcher", `created the first admin ${admin.email}`);
		if (admin.generatedPassword) {
			// Printed once, to the console of whoever started the server; never stored in clear.
			process.stdout.write(`\n  First admin password (shown once): ${admin.generatedPassword}\n\n`);
		}
	}
	return { client, tls, dbToken, authKeys, moduleKey };
}

/**
 * Makes the data dir private whatever modes an existing one has: the dir and its folders 0700,
 * every file 0600 (the certificate 0644 may stay: it is public). Files made later inherit the
 * umask 0077 the launcher sets. Logs once what it changed.
 */
export function tightenDataDir(dataDir: string): void {
	let changed = 0;
	const visit = (path: string) => {
		const stat = lstatSync(path);
		if (stat.isSymbolicLink()) return;
		const allowed = stat.isDirectory()
			? 0o700
			: path === join(dataDir, "tls", "cert.pem")
				? 0o644
				: 0o600;
		const mode = stat.mode & 0o777;
		if ((mode & ~allowed) !== 0) {
			chmodSync(path, mode & allowed);
			changed++;
		}
		if (stat.isDirectory()) for (const name of readdirSync(path)) visit(join(path, name));
	};
	visit(dataDir);
	if (changed > 0)
		log.warn(
			"launcher",
			`tightened the modes of ${changed} ${changed === 1 ? "entry" : "entries"} in ${dataDir} (0700/0600)`,
		);
}

/** Reads the config or ends the process with one line and exit code 2. */
export function loadConfigOrExit(load: () => Config): Config {
	try {
		return load();
	} catch (err) {
		if (err instanceof ConfigError) {
			process.stderr.write(`fernwart: configuration error: ${err.message}\n`);
			process.exit(2);
		}
		throw err;
	}
}

/** Runs a start step; a failure ends the process with one line (no stack trace) and exit 2. */
export async function startOrExit<T>(start: () => Promise<T>): Promise<T> {
	try {
		return await start();
	} catch (err) {
		process.stderr.write(`fernwart: cannot start: ${(err as Error).message}\n`);
		process.exit(2);
	}
}

const STOP_DEADLINE_MS = 10_000;

export interface Shutdown {
	/** Aborted by the first SIGINT/SIGTERM (or a parent that went away); start steps watch it. */
	signal: AbortSignal;
	/** Sets how to stop once the server is up, and acts on a signal that came during start. */
	ready(stop: () => Promise<void>): void;
	/** Stops for a reason other than a signal (e.g. workerd gave up); exits with `code`. */
	stopNow(reason: string, code: number): void;
}

/**
 * Handles SIGINT/SIGTERM from the very start of the process, so that no signal ever meets a
 * moment without a handler (where Node's default would kill the process mid-write). A signal
 * during start-up aborts {@link Shutdown.signal}; the start steps stop at the next step. Once up,
 * a signal runs the stop function, logs a last "stopped" line and exits 0. A second signal while
 * stopping is ignored; a stop that takes longer than 10 s ends the process with exit 1.
 *
 * With `watchParent`, the process also stops when its parent goes away (npm killed hard): the
 * launcher is then re-parented, and nobody would ever send it a signal.
 */
export function handleShutdown(origin: string, opts: { watchParent?: boolean } = {}): Shutdown {
	const controller = new AbortController();
	let stop: (() => Promise<void>) | undefined;
	let stopping = false;
	const run = (reason: string, code: number) => {
		if (stopping || !stop) return;
		stopping = true;
		log.info(origin, `${reason}: stopping`);
		setTimeout(() => {
			log.warn(origin, "stop took too long; exiting");
			process.exit(1);
		}, STOP_DEADLINE_MS).unref();
		stop().then(
			() => {
				log.info(origin, "stopped");
				process.exit(code);
			},
			(err: Error) => {
				log.error(origin, `stop failed: ${err.message}`);
				process.exit(1);
			},
		);
	};
	const onSignal = (reason: string) => {
		controller.abort(new Error(reason));
		run(reason, 0);
	};
	process.on("SIGINT", () => onSignal("SIGINT"));
	process.on("SIGTERM", () => onSignal("SIGTERM"));
	if (opts.watchParent) {
		const parent = process.ppid;
		setInterval(() => {
			if (process.ppid !== parent) onSignal("parent process exited");
		}, 1_000).unref();
	}
	return {
		signal: controller.signal,
		ready(stopServer) {
			stop = stopServer;
			if (controller.signal.aborted) run((controller.signal.reason as Error).message, 0);
		},
		stopNow(reason, code) {
			controller.abort(new Error(reason));
			run(reason, code);
		},
	};
}
