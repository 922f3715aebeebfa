import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { convertV4MiniflareOptions, Miniflare, type V4WorkerOptions } from "miniflare";
import { ACTORS } from "./actors.ts";
import type { Config } from "./config.ts";
import type { TlsMaterial } from "./tls.ts";

export const WORKER_NAME = "fernwart";
export const EGRESS_GUARD_NAME = "fernwart-egress-guard";
export const COMPATIBILITY_DATE = "2026-11-17";
export const BUNDLE_PATH = fileURLToPath(new URL("../dist/worker/index.js", import.meta.url));
export const EGRESS_GUARD_PATH = fileURLToPath(new URL("./egress-guard.js", import.meta.url));

export interface RuntimeBindings {
	version: string;
	dbToken: string;
	/** Serves the `DB` binding inside this Node process; no socket is opened for it. */
	dbFetch: (request: Request) => Promise<Response>;
	/** The login secrets from the data dir (server/keys.ts); without them no login works. */
	jwtPrivateKey?: string;
	sealKey?: string;
	/** Serves the `MAIL` binding in this process; absent when SMTP_URL is not set. */
	mailFetch?: (request: Request) => Promise<Response>;
}

type WorkerOptions = V4WorkerOptions & { name: string };

/** The guard worker that every outbound fetch of ours is pointed at. */
export function egressGuardWorker(): WorkerOptions {
	return {
		name: EGRESS_GUARD_NAME,
		modules: true,
		script: readFileSync(EGRESS_GUARD_PATH, "utf8"),
		compatibilityDate: COMPATIBILITY_DATE,
	};
}

/** Options for the application worker, shared by the launcher and tests. */
export function appWorker(config: Config, bindings: RuntimeBindings): WorkerOptions {
	return {
		name: WORKER_NAME,
		modules: true,
		scriptPath: BUNDLE_PATH,
		compatibilityDate: COMPATIBILITY_DATE,
		bindings: {
			FERNWART_VERSION: bindings.version,
			DB_TOKEN: bindings.dbToken,
			...(bindings.jwtPrivateKey ? { JWT_PRIVATE_KEY: bindings.jwtPrivateKey } : {}),
			...(bindings.sealKey ? { SEAL_KEY: bindings.sealKey } : {}),
			MAIL_ENABLED: bindings.mailFetch ? "true" : "false",
			...(config.publicUrl ? { PUBLIC_URL: config.publicUrl } : {}),
			...(config.trustedProxies ? { TRUSTED_PROXIES: config.trustedProxies } : {}),
			...(config.clientIpHeader ? { CLIENT_IP_HEADER: config.clientIpHeader } : {}),
		},
		serviceBindings: {
			DB: bindings.dbFetch,
			...(bindings.mailFetch ? { MAIL: bindings.mailFetch } : {}),
		},
		durableObjects: Object.fromEntries(
			ACTORS.map((a) => [a.binding, { className: a.className, useSQLite: true }]),
		),
		outboundService: EGRESS_GUARD_NAME,
	};
}

export interface StartOptions {
	/** Extra workers (tests add a probe that shares the app's outbound rules). */
	extraWorkers?: WorkerOptions[];
}

/**
 * Starts workerd through Miniflare. workerd itself owns the HTTPS port, so relayed WebSocket
 * bytes never pass through Node. Nothing reaches the internet: no dev registry, no `cf` fetch.
 */
export async function startRuntime(
	config: Config,
	tls: TlsMaterial,
	bindings: RuntimeBindings,
	options: StartOptions = {},
): Promise<{ mf: Miniflare; url: URL }> {
	const mf = new Miniflare(
		convertV4MiniflareOptions({
			host: config.host,
			port: config.port,
			https: true,
			httpsKey: tls.key,
			httpsCert: tls.cert,
			cf: false,
			enableDevRegistry: false,
			telemetry: { enabled: false },
			resourcePersistencePath: join(config.dataDir, "actors"),
			workers: [appWorker(config, bindings), egressGuardWorker(), ...(options.extraWorkers ?? [])],
		}),
	);
	const url = await mf.ready;
	return { mf, url };
}
