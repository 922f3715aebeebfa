import { serve } from "@hono/node-server";
import { loadConfig } from "./config.ts";
import { createDbService } from "./db-service.ts";
import { log } from "./log.ts";
import { createMailService } from "./mail-service.ts";
import { handleShutdown, loadConfigOrExit, prepareData, startOrExit } from "./prepare.ts";

/**
 * The DB service on its own, for on-prem runs under plain `workerd serve` (deploy/). It prepares
 * the data dir like the launcher and serves the `DB` binding on loopback only; workerd reaches
 * it as an external service and authenticates with the token in DATA_DIR/db-token.env.
 */
async function main(): Promise<void> {
	const shutdown = handleShutdown();
	const config = loadConfigOrExit(loadConfig);
	const port = Number(process.env.DB_SERVICE_PORT ?? 8444);
	if (!Number.isInteger(port) || port < 0 || port > 65535) {
		process.stderr.write("fernwart: configuration error: DB_SERVICE_PORT: must be 0–65535\n");
		process.exit(2);
	}
	const { client, dbToken } = await startOrExit(() => prepareData(config));
	const db = createDbService(client, dbToken);
	// The worker's MAIL binding points at this same service (POST /mail/send) when SMTP is set.
	const mail = config.smtpUrl ? createMailService(config.smtpUrl, dbToken) : null;
	const fetch = (request: Request) =>
		mail && new URL(request.url).pathname.startsWith("/mail/")
			? mail.fetch(request)
			: db.fetch(request);
	// Loopback only: the service has no TLS and must never be reachable from the network.
	const server = serve({ fetch, hostname: "127.0.0.1", port }, (info) => {
		log.info("db-service", `DB service listening on http://127.0.0.1:${info.port}`);
	});
	shutdown.ready(
		() =>
			new Promise<void>((resolve) => {
				server.close(() => {
					client.close();
					resolve();
				});
			}),
	);
}

await main();
