import type { Miniflare } from "miniflare";
import { bundleWorker, packageVersion } from "./build.ts";
import { type Config, loadConfig } from "./config.ts";
import { createDbService } from "./db-service.ts";
import { log } from "./log.ts";
import { createMailService } from "./mail-service.ts";
import { handleShutdown, loadConfigOrExit, prepareData, startOrExit } from "./prepare.ts";
import { removeRunFile, writeRunFile } from "./run-file.ts";
import { startRuntime } from "./runtime.ts";

export interface RunningServer {
	url: URL;
	fingerprint: string;
	stop(): Promise<void>;
}

/** The embedded default: prepares the data dir and starts workerd with the DB service in-process. */
export async function startServer(
	config: Config,
	opts: { build: boolean },
): Promise<RunningServer> {
	const { client, tls, dbToken, authKeys: keys } = await prepareData(config);
	if (opts.build) bundleWorker();
	const dbService = createDbService(client, dbToken);
	const mailService = config.smtpUrl ? createMailService(config.smtpUrl, dbToken) : null;
	const { mf, url } = await startRuntime(config, tls, {
		version: packageVersion(),
		dbToken,
		dbFetch: async (request) => dbService.fetch(request),
		jwtPrivateKey: keys.jwtPrivateKey,
		sealKey: keys.sealKey,
		...(mailService ? { mailFetch: async (request: Request) => mailService.fetch(request) } : {}),
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
	const shutdown = handleShutdown();
	const config = loadConfigOrExit(loadConfig);
	const build = !process.argv.includes("--no-build");
	const server = await startOrExit(() => startServer(config, { build }));
	const shown = new URL(server.url);
	if (config.host === "0.0.0.0") shown.hostname = "localhost";
	// The admin CLI finds the running server here (and then uses its API, not the database).
	const local = new URL(server.url);
	if (local.hostname === "0.0.0.0" || local.hostname === "[::]") local.hostname = "127.0.0.1";
	writeRunFile(config.dataDir, { pid: process.pid, url: local.origin });
	shutdown.ready(async () => {
		removeRunFile(config.dataDir);
		await server.stop();
	});
	log.info("launcher", `Fernwart listening on ${shown.origin} (PID ${process.pid})`);
}

if (import.meta.main) await main();
