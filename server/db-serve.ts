import { loadConfig } from "./config.ts";
import { createBackendFetch, listenBackend } from "./db-service.ts";
import { lockDataDir } from "./lock.ts";
import { log } from "./log.ts";
import { handleShutdown, loadConfigOrExit, prepareData, startOrExit } from "./prepare.ts";
import { removeRunFile } from "./run-file.ts";

/**
 * The DB service on its own, for on-prem runs under plain `workerd serve` (deploy/). It locks
 * and prepares the data dir like the launcher and serves the `DB` (and `MAIL`) binding on
 * loopback only; workerd reaches it as an external service and authenticates with the token in
 * DATA_DIR/db-token.env.
 */
async function main(): Promise<void> {
	process.umask(0o077);
	const shutdown = handleShutdown("db-service");
	const config = loadConfigOrExit(loadConfig);
	const port = Number(process.env.DB_SERVICE_PORT ?? 8444);
	if (!Number.isInteger(port) || port < 0 || port > 65535) {
		process.stderr.write("fernwart: configuration error: DB_SERVICE_PORT: must be 0–65535\n");
		process.exit(2);
	}
	// The same lock as the launcher: one owner of the data dir, whichever way it is served.
	const lock = await startOrExit(() =>
		lockDataDir(config.dataDir, (err) =>
			shutdown.stopNow(`lost the lock on ${config.dataDir} (${err.message})`, 1),
		),
	);
	const { client, dbToken, moduleKey } = await startOrExit(() => prepareData(config));
	// Loopback only: the service has no TLS and must never be reachable from the network.
	const listener = await startOrExit(() =>
		listenBackend(
			createBackendFetch(client, dbToken, {
				smtpUrl: config.smtpUrl,
				s3Url: config.s3Url,
				downloads: {
					dir: config.modulesDir,
					publicKey: moduleKey.publicKey,
					fingerprint: moduleKey.fingerprint,
				},
			}),
			{ port },
		),
	);
	log.info("db-service", `DB service listening on http://${listener.address}`);
	shutdown.ready(async () => {
		await listener.close();
		client.close();
		removeRunFile(config.dataDir);
		await lock.release();
	});
}

await main();
