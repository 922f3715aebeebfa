import { bundleWorker } from "./build.ts";
import { type Config, loadConfig } from "./config.ts";
import { type DataDirLock, lockDataDir } from "./lock.ts";
import { log } from "./log.ts";
import { handleShutdown, loadConfigOrExit, prepareData } from "./prepare.ts";
import { removeRunFile, writeRunFile } from "./run-file.ts";
import { type Runtime, startRuntime } from "./runtime.ts";
import { FDS_PER_HOST, workerdFileLimit } from "./workerd.ts";

/**
 * `npm start`: the embedded default and the production path in one. It locks the data dir,
 * prepares it, builds the bundle (unless `--no-build`), and serves through `workerd serve` on the
 * same config `npm run build` writes, with the DB service on a Unix socket in this process.
 * Exit codes: 0 after SIGINT/SIGTERM, 2 when a setting or the data dir prevents the start,
 * 1 when workerd keeps crashing.
 */
async function main(): Promise<void> {
	// Files the launcher or workerd (which inherits it) create are private to this user.
	process.umask(0o077);
	const shutdown = handleShutdown("launcher", { watchParent: true });
	const config = loadConfigOrExit(loadConfig);
	log.setLevel(config.logLevel);
	const build = !process.argv.includes("--no-build");

	let lock: DataDirLock | undefined;
	let runtime: Runtime | undefined;
	let closeDb: (() => void) | undefined;
	const stop = async () => {
		await runtime?.stop();
		closeDb?.();
		if (lock) {
			removeRunFile(config.dataDir);
			await lock.release();
		}
	};
	try {
		lock = await lockDataDir(config.dataDir, (err) =>
			shutdown.stopNow(`lost the lock on ${config.dataDir} (${err.message})`, 1),
		);
		const data = await prepareData(config);
		closeDb = () => data.client.close();
		shutdown.signal.throwIfAborted();
		if (build) await bundleWorker(shutdown.signal);
		shutdown.signal.throwIfAborted();
		runtime = await startRuntime(config, data);
		shutdown.signal.throwIfAborted();
	} catch (err) {
		if (shutdown.signal.aborted) {
			// A signal during start: undo what was started and stop like a running server.
			await stop();
			log.info("launcher", "stopped");
			process.exit(0);
		}
		await stop().catch(() => {});
		const message = err instanceof Error ? err.message : String(err);
		process.stderr.write(`fernwart: cannot start: ${message}\n`);
		process.exit(2);
	}
	// The admin CLI finds the running server here (and then uses its API, not the database).
	writeRunFile(config.dataDir, { pid: process.pid, url: localOrigin(config, runtime.port) });
	shutdown.ready(stop);
	void runtime.failed.then((err) => {
		log.error("launcher", err.message);
		shutdown.stopNow("workerd gave up", 1);
	});
	log.info(
		"launcher",
		`Fernwart listening on ${announced(config, runtime.port)} (PID ${process.pid})`,
	);
	// Descriptors bound how many hosts can be online at once: say so while it can still be fixed.
	const files = workerdFileLimit();
	if (files !== null) {
		const hosts = Math.floor(files / FDS_PER_HOST);
		const line = `workerd may open ${files} files: about ${hosts} online hosts`;
		if (files < 16_384)
			log.warn("launcher", `${line}; raise LimitNOFILE (systemd) or ulimit -Hn for more`);
		else log.info("launcher", line);
	}
}

/** Whether HOST means every interface rather than one address. */
function allInterfaces(host: string): boolean {
	return host === "0.0.0.0" || host === "::" || host === "*";
}

/** HOST as the host part of a URL (IPv6 literals in brackets). */
function urlHost(host: string): string {
	return host.includes(":") ? `[${host}]` : host;
}

/** The origin the CLI on this machine uses: loopback when the server listens on all interfaces. */
function localOrigin(config: Config, port: number): string {
	return `https://${allInterfaces(config.host) ? "127.0.0.1" : urlHost(config.host)}:${port}`;
}

/** The start banner: the URL to open, and whether that is every interface or one address. */
function announced(config: Config, port: number): string {
	if (allInterfaces(config.host))
		return `https://localhost:${port} (all interfaces, ${config.host}:${port})`;
	return `https://${urlHost(config.host)}:${port}`;
}

if (import.meta.main) await main();
