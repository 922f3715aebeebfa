import type { Client } from "@libsql/client";
import type { Miniflare } from "miniflare";
import { bundleWorker, packageVersion } from "./build.ts";
import { type Config, ConfigError, loadConfig } from "./config.ts";
import { applyMigrations, nodeDb, openClient } from "./db.ts";
import { createDbService } from "./db-service.ts";
import { ensureFirstAdmin } from "./first-admin.ts";
import { log } from "./log.ts";
import { startRuntime } from "./runtime.ts";
import { ensureDbToken } from "./secrets.ts";
import { ensureTls } from "./tls.ts";

export interface RunningServer {
	url: URL;
	fingerprint: string;
	stop(): Promise<void>;
}

/**
 * Prepares the data dir (database, migrations, certificate, first admin) and starts workerd.
 * Everything that can fail because of a setting fails here, before the port opens.
 */
export async function startServer(
	config: Config,
	opts: { build: boolean },
): Promise<RunningServer> {
	log.setLevel(config.logLevel);
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

	if (opts.build) bundleWorker();
	const dbToken = ensureDbToken(config.dataDir);
	const dbService = createDbService(client, dbToken);
	const { mf, url } = await startRuntime(config, tls, {
		version: packageVersion(),
		dbToken,
		dbFetch: async (request) => dbService.fetch(request),
	});
	return {
		url,
		fingerprint: tls.fingerprint,
		async stop() {
			await disposeQuietly(mf);
			client.close();
		},
	};
}

async function disposeQuietly(mf: Miniflare): Promise<void> {
	try {
		await mf.dispose();
	} catch (err) {
		log.warn("launcher", `workerd did not stop cleanly: ${(err as Error).message}`);
	}
}

async function main(): Promise<void> {
	let config: Config;
	try {
		config = loadConfig();
	} catch (err) {
		if (err instanceof ConfigError) {
			process.stderr.write(`fernwart: configuration error: ${err.message}\n`);
			process.exit(2);
		}
		throw err;
	}
	let server: RunningServer;
	try {
		server = await startServer(config, { build: !process.argv.includes("--no-build") });
	} catch (err) {
		const message = err instanceof ConfigError ? err.message : `${(err as Error).message}`;
		process.stderr.write(`fernwart: cannot start: ${message}\n`);
		process.exit(2);
	}
	const shown = new URL(server.url);
	if (config.host === "0.0.0.0") shown.hostname = "localhost";
	log.info("launcher", `Fernwart listening on ${shown.origin} (PID ${process.pid})`);

	let stopping = false;
	const shutdown = (signal: string) => {
		if (stopping) return;
		stopping = true;
		log.info("launcher", `${signal}: stopping`);
		server.stop().then(
			() => process.exit(0),
			() => process.exit(1),
		);
	};
	process.on("SIGINT", () => shutdown("SIGINT"));
	process.on("SIGTERM", () => shutdown("SIGTERM"));
}

if (import.meta.main) await main();
