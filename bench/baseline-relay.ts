/**
 * The benchmark's baseline: the least a WebSocket relay can do. It pairs the first two sockets
 * that open `/pair/<id>` and forwards every message verbatim (binary stays binary), with no
 * parsing, consent or persistence. It runs in its own process, like workerd, and serves TLS with
 * the same certificate as the launcher, so both relays pay the same encryption.
 *
 * Env: BENCH_CERT, BENCH_KEY (PEM files). Prints `baseline listening on <port>` once ready.
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:https";
import { type WebSocket, WebSocketServer } from "ws";

/** Message a socket gets once its peer is there, so clients never send into the void. */
export const PAIRED_MESSAGE = "paired";

function main(): void {
	const cert = readFileSync(requireEnv("BENCH_CERT"), "utf8");
	const key = readFileSync(requireEnv("BENCH_KEY"), "utf8");
	const server = createServer({ cert, key });
	// Compression off, as on the clients: the payloads are random and workerd does not deflate.
	const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 1 << 20 });
	const waiting = new Map<string, WebSocket>();

	wss.on("connection", (ws, req) => {
		const id = /^\/pair\/([\w-]{1,64})$/.exec(req.url ?? "")?.[1];
		if (!id) return ws.close(4000, "bad path");
		const first = waiting.get(id);
		if (!first) {
			waiting.set(id, ws);
			ws.once("close", () => {
				if (waiting.get(id) === ws) waiting.delete(id);
			});
			return;
		}
		waiting.delete(id);
		link(first, ws);
		link(ws, first);
		first.send(PAIRED_MESSAGE);
		ws.send(PAIRED_MESSAGE);
	});

	server.listen(0, "127.0.0.1", () => {
		const address = server.address();
		if (address === null || typeof address === "string") throw new Error("no port");
		process.stdout.write(`baseline listening on ${address.port}\n`);
	});

	const stop = () => {
		for (const ws of wss.clients) ws.terminate();
		wss.close();
		server.close(() => process.exit(0));
		setTimeout(() => process.exit(0), 2_000).unref();
	};
	process.on("SIGTERM", stop);
	process.on("SIGINT", stop);
}

function link(from: WebSocket, to: WebSocket): void {
	from.on("message", (data, isBinary) => {
		if (to.readyState === to.OPEN) to.send(data, { binary: isBinary });
	});
	from.on("close", () => to.close(1000, "peer left"));
}

function requireEnv(name: string): string {
	const value = process.env[name];
	if (!value) throw new Error(`${name} is not set`);
	return value;
}

if (import.meta.main) main();
