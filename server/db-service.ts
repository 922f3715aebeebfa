import { chmodSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { createAdaptorServer } from "@hono/node-server";
import type { Client } from "@libsql/client";
import { Hono } from "hono";
import { sqlBatchSchema, sqlStatementSchema } from "../schema/sql-wire.ts";
import { clientExecutor } from "./db.ts";
import { createDownloadsService, type DownloadsTarget } from "./downloads-service.ts";
import { log } from "./log.ts";
import { createMailService } from "./mail-service.ts";
import { tokenMatches } from "./secrets.ts";
import { createStorageService } from "./storage-service.ts";

/**
 * The `DB` service: runs SQL from the worker on libSQL. workerd reaches it as an external
 * service (a Unix socket in the data dir under the launcher, loopback under deploy/), so it still
 * demands the shared token that only the launcher and workerd's environment hold.
 */
export function createDbService(client: Client, token: string): Hono {
	// An empty or short token would make "Bearer " (or a guessable value) a valid credential.
	if (token.length < 32) throw new Error("the DB service needs its token (FERNWART_DB_TOKEN)");
	const exec = clientExecutor(client);
	const fail = (code: string, status: 400 | 401 | 503) =>
		new Response(JSON.stringify({ error: { code } }), {
			status,
			headers: { "content-type": "application/json" },
		});

	return new Hono()
		.use(async (c, next) => {
			if (!tokenMatches(c.req.header("authorization"), token)) return fail("UNAUTHORIZED", 401);
			await next();
		})
		.post("/query", async (c) => {
			const parsed = sqlStatementSchema.safeParse(await c.req.json().catch(() => null));
			if (!parsed.success) return fail("INVALID_STATEMENT", 400);
			return c.json(await exec.query(parsed.data));
		})
		.post("/batch", async (c) => {
			const parsed = sqlBatchSchema.safeParse(await c.req.json().catch(() => null));
			if (!parsed.success) return fail("INVALID_STATEMENT", 400);
			return c.json(await exec.batch(parsed.data.statements));
		})
		.post("/ping", async (c) => {
			await client.execute("SELECT 1");
			return c.json({ ok: true });
		})
		.onError((err) => {
			// SQLite errors (constraint violations and the like) go back to the worker as a code;
			// the statement and its values are never logged, they may hold personal data.
			const code = /constraint/i.test(err.message) ? "CONSTRAINT" : "DB_ERROR";
			if (code === "DB_ERROR") log.warn("db-service", `query failed: ${err.name}`);
			return new Response(JSON.stringify({ error: { code, message: err.message.slice(0, 200) } }), {
				status: code === "CONSTRAINT" ? 409 : 503,
				headers: { "content-type": "application/json" },
			});
		});
}

/**
 * The Node side of the worker's `DB`, `MAIL`, `STORAGE` and `DOWNLOADS` bindings as one fetch
 * handler: `/mail/*` goes to the mail service when `SMTP_URL` is set, `/storage/*` to the storage
 * service when `S3_URL` is set, `/downloads/*` to the module downloads (read-only files from
 * MODULES_DIR), everything else to the DB service. All demand the shared token. These are the
 * only outbound connections of the server: to the admin's SMTP server and S3 store, and nowhere
 * else (the worker's own outbound is closed, docs/architecture.md "Egress").
 */
export function createBackendFetch(
	client: Client,
	token: string,
	targets: {
		smtpUrl?: string | undefined;
		s3Url?: string | undefined;
		downloads?: DownloadsTarget | undefined;
	},
): (request: Request) => Promise<Response> {
	const db = createDbService(client, token);
	const mail = targets.smtpUrl ? createMailService(targets.smtpUrl, token) : null;
	const storage = targets.s3Url ? createStorageService(targets.s3Url, token) : null;
	const downloads = targets.downloads ? createDownloadsService(targets.downloads, token) : null;
	return async (request) => {
		const path = new URL(request.url).pathname;
		if (downloads && path.startsWith("/downloads/")) return downloads.fetch(request);
		if (mail && path.startsWith("/mail/")) return mail.fetch(request);
		if (storage && path.startsWith("/storage/")) return storage.fetch(request);
		return db.fetch(request);
	};
}

export interface BackendListener {
	/** How workerd reaches it: `unix:/path` or `127.0.0.1:port` (a capnp external address). */
	address: string;
	close(): Promise<void>;
}

/** Longest path a Unix socket address takes on Linux (sun_path is 108 bytes with its NUL). */
const MAX_SOCKET_PATH_BYTES = 107;

/**
 * Serves the backend where only workerd can reach it: a Unix socket in the data dir (mode 0600
 * in a 0700 dir, so no other user and no network peer can connect), or, with `port` given or a
 * data dir path too long for a socket, HTTP on 127.0.0.1 only. The token is demanded either way.
 */
export async function listenBackend(
	fetch: (request: Request) => Promise<Response>,
	where: { socketPath: string } | { port: number },
): Promise<BackendListener> {
	const server = createAdaptorServer({ fetch }) as import("node:http").Server;
	// workerd keeps connections to an external service open and reuses them. Node closes an idle
	// keep-alive connection after 5 s by default, and a request workerd sends on it at that moment
	// fails ("Failed query" in the worker, seen under bursts). Only workerd can connect here, so
	// idle connections stay open until workerd closes them.
	server.keepAliveTimeout = 0;
	const close = () =>
		new Promise<void>((resolve) => {
			server.close(() => resolve());
			// Keep-alive connections from workerd would hold close() open.
			if ("closeAllConnections" in server) server.closeAllConnections();
		});
	if ("socketPath" in where && Buffer.byteLength(where.socketPath) <= MAX_SOCKET_PATH_BYTES) {
		// A socket left by a crashed owner; the caller holds the data dir's lock, so it is ours.
		rmSync(where.socketPath, { force: true });
		await new Promise<void>((resolve, reject) => {
			server.once("error", reject);
			server.listen(where.socketPath, () => resolve());
		});
		chmodSync(where.socketPath, 0o600);
		return { address: `unix:${where.socketPath}`, close };
	}
	const port = "port" in where ? where.port : 0;
	if ("socketPath" in where)
		log.warn("db-service", "data dir path too long for a Unix socket; using 127.0.0.1");
	await new Promise<void>((resolve, reject) => {
		server.once("error", reject);
		server.listen(port, "127.0.0.1", () => resolve());
	});
	return { address: `127.0.0.1:${(server.address() as AddressInfo).port}`, close };
}
