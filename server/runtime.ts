import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import {
	BUNDLE_PATH,
	type ConfigPaths,
	EGRESS_GUARD_PATH,
	packageVersion,
	workerdConfig,
} from "./build.ts";
import { type Config, ConfigError } from "./config.ts";
import { type BackendListener, createBackendFetch, listenBackend } from "./db-service.ts";
import { log } from "./log.ts";
import type { PreparedData } from "./prepare.ts";
import { certificateFingerprint } from "./tls.ts";
import { socketAddress, spawnWorkerd, type WorkerdProcess } from "./workerd.ts";

/** The launcher's copy of the workerd config, regenerated at every start. */
export const LAUNCHER_CONFIG = "workerd.capnp";

/** Restarts of a crashed workerd allowed within RESTART_WINDOW_MS before the launcher gives up. */
const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 60_000;

export interface Runtime {
	/** The bound HTTPS port (the real one when PORT=0). */
	port: number;
	/** workerd's PID right now (it changes when a crashed workerd is restarted). */
	workerdPid(): number;
	/** Resolves if workerd keeps crashing and the launcher gave up; the caller should exit 1. */
	failed: Promise<Error>;
	/** Stops workerd (SIGTERM, SIGKILL after 5 s) and closes the backend socket. */
	stop(): Promise<void>;
}

/**
 * The environment workerd is started with: exactly the variables dist/workerd.capnp reads
 * (`fromEnvironment`), the same names deploy/ hands it from EnvironmentFiles. Nothing else of the
 * launcher's environment (admin password, SMTP credentials) reaches workerd.
 */
export function workerdEnvironment(config: Config, data: PreparedData): Record<string, string> {
	const env: Record<string, string> = {
		FERNWART_DB_TOKEN: data.dbToken,
		FERNWART_JWT_KEY: data.authKeys.jwtPrivateKey,
		FERNWART_SEAL_KEY: data.authKeys.sealKey,
		FERNWART_MAIL_ENABLED: config.smtpUrl ? "true" : "false",
		FERNWART_STORAGE_ENABLED: config.s3Url ? "true" : "false",
	};
	// The certificate's fingerprint, and the announced next one, for GET /api/v1/tls.
	env.FERNWART_TLS_FINGERPRINT = certificateFingerprint(readFileSync(config.tls.certPath, "utf8"));
	if (config.tls.nextCertPath) {
		env.FERNWART_TLS_NEXT_FINGERPRINT = certificateFingerprint(
			readFileSync(config.tls.nextCertPath, "utf8"),
		);
	}
	if (config.publicUrl) env.FERNWART_PUBLIC_URL = config.publicUrl;
	if (config.trustedProxies) env.FERNWART_TRUSTED_PROXIES = config.trustedProxies;
	if (config.clientIpHeader) env.FERNWART_CLIENT_IP_HEADER = config.clientIpHeader;
	return env;
}

/**
 * Writes DATA_DIR/workerd.capnp: the config `npm run build` writes to dist/, with its `embed`
 * paths leading from the data dir to the bundle in dist/ and to the certificate in use.
 */
export function writeLauncherConfig(config: Config): string {
	const path = join(config.dataDir, LAUNCHER_CONFIG);
	const from = (target: string) => relative(dirname(path), target);
	const paths: ConfigPaths = {
		worker: from(BUNDLE_PATH),
		egressGuard: from(EGRESS_GUARD_PATH),
		cert: from(config.tls.certPath),
		key: from(config.tls.keyPath),
	};
	writeFileSync(path, workerdConfig(packageVersion(), paths), { mode: 0o600 });
	return path;
}

/**
 * Serves the app: the DB (and mail) backend on a Unix socket in the data dir, and `workerd serve`
 * on the generated config with exactly one HTTPS socket on HOST:PORT. workerd is supervised: a
 * crash is logged and workerd restarted on the same port, at most 5 times a minute.
 */
export async function startRuntime(config: Config, data: PreparedData): Promise<Runtime> {
	const backend: BackendListener = await listenBackend(
		createBackendFetch(data.client, data.dbToken, {
			smtpUrl: config.smtpUrl,
			s3Url: config.s3Url,
			downloads: {
				dir: config.modulesDir,
				publicKey: data.moduleKey.publicKey,
				fingerprint: data.moduleKey.fingerprint,
			},
		}),
		{ socketPath: join(config.dataDir, "db.sock") },
	);
	const configPath = writeLauncherConfig(config);
	const spawnOnce = (port: number) =>
		spawnWorkerd({
			configPath,
			listen: socketAddress(config.host, port),
			dbAddress: backend.address,
			actorDir: join(config.dataDir, "actors"),
			env: workerdEnvironment(config, data),
			onOutput: (line) => process.stdout.write(`${line}\n`),
		});

	let current: WorkerdProcess;
	try {
		current = await spawnOnce(config.port);
	} catch (err) {
		await backend.close();
		if (/address already in use/i.test((err as Error).message))
			throw new ConfigError(
				"PORT",
				`${socketAddress(config.host, config.port)} is already in use; set PORT (and HOST) to a free address`,
			);
		throw err;
	}
	const port = current.port;
	let stopping = false;
	const restarts: number[] = [];
	let giveUp: (err: Error) => void = () => {};
	const failed = new Promise<Error>((resolve) => {
		giveUp = resolve;
	});

	const supervise = (proc: WorkerdProcess) => {
		void proc.exited.then(async ({ code, signal }) => {
			if (stopping) return;
			log.error("launcher", `workerd exited unexpectedly (${signal ?? `code ${code}`})`);
			const now = Date.now();
			restarts.push(now);
			while ((restarts[0] ?? now) < now - RESTART_WINDOW_MS) restarts.shift();
			if (restarts.length > MAX_RESTARTS) {
				giveUp(new Error(`workerd crashed ${restarts.length} times within a minute`));
				return;
			}
			// Back off a little so that a crash loop does not spin a core.
			await new Promise((r) => setTimeout(r, 250 * 2 ** (restarts.length - 1)));
			if (stopping) return;
			try {
				current = await spawnOnce(port);
				log.info("launcher", `workerd restarted (PID ${current.pid})`);
				supervise(current);
			} catch (err) {
				giveUp(err as Error);
			}
		});
	};
	supervise(current);

	return {
		port,
		workerdPid: () => current.pid,
		failed,
		async stop() {
			stopping = true;
			await current.stop();
			await backend.close();
		},
	};
}
