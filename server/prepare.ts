import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Client } from "@libsql/client";
import { type Config, ConfigError } from "./config.ts";
import { applyMigrations, nodeDb, openClient } from "./db.ts";
import { ensureFirstAdmin } from "./first-admin.ts";
import { type AuthKeys, ensureAuthKeys } from "./keys.ts";
import { log } from "./log.ts";
import { ensureDbToken } from "./secrets.ts";
import { ensureTls, type TlsMaterial } from "./tls.ts";

export interface PreparedData {
	client: Client;
	tls: TlsMaterial;
	dbToken: string;
	/** Token-signing and TOTP-sealing keys (DATA_DIR/keys/auth.env, an EnvironmentFile for workerd). */
	authKeys: AuthKeys;
}

/**
 * Everything a start needs from the data dir, for both the embedded launcher and the standalone
 * DB service: certificate, database with migrations applied, first admin, the DB service token.
 * Whatever can fail because of a setting fails here, before any port opens.
 */
export async function prepareData(config: Config): Promise<PreparedData> {
	log.setLevel(config.logLevel);
	// Actor storage: Miniflare persists there, and plain workerd's `actor-storage` disk points there.
	mkdirSync(join(config.dataDir, "actors"), { recursive: true, mode: 0o700 });
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
	return {
		client,
		tls,
		dbToken: ensureDbToken(config.dataDir),
		authKeys: ensureAuthKeys(config.dataDir),
	};
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

/**
 * Handles SIGINT/SIGTERM from the very start of the process, so that no signal ever meets a
 * moment without a handler (where Node's default would kill the process mid-write). A signal
 * during start-up stops the server as soon as it is up. A second signal while stopping is
 * ignored; a stop that takes longer than 10 s ends the process anyway.
 */
export function handleShutdown() {
	let stop: (() => Promise<void>) | undefined;
	let requested: string | undefined;
	let stopping = false;
	const run = (signal: string) => {
		if (stopping || !stop) return;
		stopping = true;
		log.info("launcher", `${signal}: stopping`);
		setTimeout(() => {
			log.warn("launcher", "stop took too long; exiting");
			process.exit(1);
		}, STOP_DEADLINE_MS).unref();
		stop().then(
			() => process.exit(0),
			() => process.exit(1),
		);
	};
	const listener = (signal: NodeJS.Signals) => {
		requested = signal;
		run(signal);
	};
	process.on("SIGINT", listener);
	process.on("SIGTERM", listener);
	return {
		/** Sets what a signal does once the server is up, and acts on a signal that came early. */
		ready(stopServer: () => Promise<void>) {
			stop = stopServer;
			// Miniflare's exit hook answers these signals with process.exit(130/143) before a
			// graceful stop can run. Its "exit" listener stays, so workerd is still killed if the
			// process ever ends abruptly; only its signal listeners are dropped, ours stay.
			for (const signal of ["SIGINT", "SIGTERM"] as const) {
				for (const l of process.listeners(signal))
					if (l !== listener) process.removeListener(signal, l);
			}
			if (requested) run(requested);
		},
	};
}
