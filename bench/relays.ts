/**
 * The two relays under test, behind one interface: each opens pairs of sockets that are ready
 * for binary frames in both directions, and stops whatever it started.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import WebSocket from "ws";
import {
	exportPublicKey,
	generateEphemeralKeyPair,
	generateSigningKeyPair,
	keyCommitment,
} from "../modules/sdk/crypto.ts";
import { toBase64url } from "../protocol/encoding.ts";
import { ROOT, type TestServer } from "../test/helpers/server.ts";
import { type Endpoint, keepText, type Pair, toEndpoint } from "./measure.ts";

export interface Relay {
	name: string;
	/** Opens `count` pairs, each ready for binary frames both ways. */
	openPairs(count: number): Promise<Pair[]>;
}

/** How long a socket may take to open, pair or finish its handshake. */
const SETUP_TIMEOUT_MS = 15_000;

/** Opens a WebSocket that trusts only `ca`, without compression (the payloads are random). */
function connect(url: string, ca: string): Promise<Endpoint> {
	return new Promise((resolve, reject) => {
		const ws = new WebSocket(url, { ca, perMessageDeflate: false, maxPayload: 1 << 20 });
		const ep = toEndpoint(ws);
		const timer = setTimeout(
			() => reject(new Error(`no open within ${SETUP_TIMEOUT_MS} ms`)),
			SETUP_TIMEOUT_MS,
		);
		ws.once("open", () => {
			clearTimeout(timer);
			resolve(ep);
		});
		ws.once("unexpected-response", (_req, res) => {
			clearTimeout(timer);
			reject(new Error(`upgrade refused: ${res.statusCode}`));
		});
		ws.once("error", (err) => {
			clearTimeout(timer);
			reject(err);
		});
	});
}

/**
 * Resolves with the first text frame that `match` accepts (parsed as JSON when possible), looking
 * at frames that arrived before the call too. Frames it passes over are dropped.
 */
function nextText<T>(ep: Endpoint, match: (msg: unknown) => T | undefined): Promise<T> {
	const test = (text: string): T | undefined => {
		let msg: unknown = text;
		try {
			msg = JSON.parse(text);
		} catch {
			// Not JSON: `match` sees the raw text (the baseline's "paired").
		}
		return match(msg);
	};
	while (ep.inbox.length > 0) {
		const hit = test(ep.inbox.shift() ?? "");
		if (hit !== undefined) return Promise.resolve(hit);
	}
	return new Promise((resolve, reject) => {
		const done = () => {
			clearTimeout(timer);
			ep.onText = (text) => keepText(ep, text);
		};
		const timer = setTimeout(() => {
			done();
			reject(new Error(`expected control message not seen (socket closed: ${ep.closed ?? "no"})`));
		}, SETUP_TIMEOUT_MS);
		ep.onText = (text) => {
			const hit = test(text);
			if (hit === undefined) return;
			done();
			resolve(hit);
		};
	});
}

/** Runs `make` for each index with at most `limit` at a time, keeping order. */
export async function mapLimited<T>(
	count: number,
	limit: number,
	make: (i: number) => Promise<T>,
): Promise<T[]> {
	const out: T[] = new Array(count);
	let next = 0;
	const worker = async () => {
		while (next < count) {
			const i = next++;
			out[i] = await make(i);
		}
	};
	await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
	return out;
}

export function closePairs(pairs: Pair[]): void {
	for (const { a, b } of pairs) {
		a.ws.close(1000);
		b.ws.close(1000);
	}
}

// ---------------------------------------------------------------------------------------------
// Baseline: plain Node `ws` relay in a child process

export interface BaselineRelay extends Relay {
	process: ChildProcess;
	stop(): Promise<void>;
}

/** Starts bench/baseline-relay.ts on 127.0.0.1 with the launcher's certificate and key. */
export async function startBaseline(tls: {
	certPath: string;
	keyPath: string;
	ca: string;
}): Promise<BaselineRelay> {
	const child = spawn(process.execPath, [join(ROOT, "bench/baseline-relay.ts")], {
		cwd: ROOT,
		env: { PATH: process.env.PATH ?? "", BENCH_CERT: tls.certPath, BENCH_KEY: tls.keyPath },
		stdio: ["ignore", "pipe", "pipe"],
	});
	let out = "";
	const port = await new Promise<number>((resolve, reject) => {
		const timer = setTimeout(
			() => reject(new Error(`baseline did not start:\n${out}`)),
			SETUP_TIMEOUT_MS,
		);
		const onData = (d: Buffer) => {
			out += d;
			const m = /baseline listening on (\d+)/.exec(out);
			if (m?.[1]) {
				clearTimeout(timer);
				resolve(Number(m[1]));
			}
		};
		child.stdout?.on("data", onData);
		child.stderr?.on("data", onData);
		child.once("exit", (code) => {
			clearTimeout(timer);
			reject(new Error(`baseline exited with ${code}:\n${out}`));
		});
	});
	let pairCounter = 0;
	return {
		name: "node-ws",
		process: child,
		async openPairs(count) {
			return mapLimited(count, 10, async () => {
				const url = `wss://127.0.0.1:${port}/pair/p${pairCounter++}`;
				const a = await connect(url, tls.ca);
				const aPaired = nextText(a, (m) => (m === "paired" ? true : undefined));
				const b = await connect(url, tls.ca);
				const bPaired = nextText(b, (m) => (m === "paired" ? true : undefined));
				await Promise.all([aPaired, bPaired]);
				return { a, b };
			});
		},
		async stop() {
			if (child.exitCode !== null) return;
			const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
			child.kill("SIGTERM");
			await exited;
		},
	};
}

// ---------------------------------------------------------------------------------------------
// Fernwart: the real launcher, one support session per pair

interface ApiError {
	error?: { code?: string; message?: string };
}

/**
 * Opens pairs through the real API and the SessionActor: the supporter (logged in once) issues a
 * session, the customer joins with its code, both connect with tickets and run the handshake of
 * docs/protocol.md §4 with real keys. `a` is the supporter, `b` the customer.
 */
export async function fernwartRelay(
	server: TestServer,
	admin: { email: string; password: string },
): Promise<Relay> {
	const login = await server.json<{ accessToken: string } & ApiError>("/api/v1/auth/login", {
		body: admin,
	});
	if (login.status !== 200)
		throw new Error(`login failed: ${login.status} ${JSON.stringify(login.body)}`);
	const auth = { authorization: `Bearer ${login.body.accessToken}` };
	const wsBase = `wss://${server.url.host}/ws/v1/sessions/`;
	// One supporter opens every pair, more than the default cap of live sessions per supporter.
	const raised = await server.json<ApiError>("/api/v1/settings", {
		method: "PATCH",
		// The bench measures the relay: its pairs need no admission step.
		body: { maxLiveSessionsPerSupporter: 1000, requireAdmission: false },
		headers: auth,
	});
	if (raised.status !== 200)
		throw new Error(`settings: ${raised.status} ${JSON.stringify(raised.body)}`);

	const call = async <T>(what: string, path: string, body: unknown, headers = {}, want = 200) => {
		const res = await server.json<T & ApiError>(path, { body, headers });
		if (res.status !== want) {
			const retry = res.headers.get("retry-after");
			const hint = retry ? ` (Retry-After ${retry})` : "";
			throw new Error(`${what}: ${res.status} ${JSON.stringify(res.body)}${hint}`);
		}
		return res.body;
	};

	const openPair = async (): Promise<Pair> => {
		const { sessionId, code } = await call<{ sessionId: string; code: string }>(
			"issue session",
			"/api/v1/sessions",
			// Terms off (the default setting requires them): chat then flows right after the
			// handshake, and the per-frame check is the same either way.
			{ requireTerms: false },
			auth,
			201,
		);
		const joined = await call<{ ticket: string }>("join", "/api/v1/sessions/join", {
			code,
			displayName: "bench customer",
		});
		const { ticket } = await call<{ ticket: string }>(
			"supporter ticket",
			`/api/v1/sessions/${encodeURIComponent(sessionId)}/tickets`,
			{},
			auth,
		);
		const path = `${wsBase}${encodeURIComponent(sessionId)}?ticket=`;

		const supporterX = await generateEphemeralKeyPair();
		const supporterEd = await generateSigningKeyPair();
		const customerX = await generateEphemeralKeyPair();
		const customerEd = await generateSigningKeyPair();

		const a = await connect(path + encodeURIComponent(ticket), server.ca);
		const aPeer = nextText(a, (m) => (isType(m, "peer") ? m : undefined));
		a.ws.send(
			JSON.stringify({
				type: "hello",
				role: "supporter",
				x25519Commitment: await keyCommitment(sessionId, supporterX.publicKey),
				ed25519: await exportPublicKey(supporterEd.publicKey),
			}),
		);
		const b = await connect(path + encodeURIComponent(joined.ticket), server.ca);
		await nextText(b, (m) => (isType(m, "peer") ? m : undefined));
		const bReveal = nextText(b, (m) => (isType(m, "key.reveal") ? m : undefined));
		b.ws.send(
			JSON.stringify({
				type: "hello",
				role: "customer",
				x25519: toBase64url(customerX.publicKey),
				ed25519: await exportPublicKey(customerEd.publicKey),
			}),
		);
		await aPeer;
		a.ws.send(JSON.stringify({ type: "key.reveal", x25519: toBase64url(supporterX.publicKey) }));
		await bReveal;
		return { a, b };
	};

	return {
		name: "fernwart",
		async openPairs(count) {
			return mapLimited(count, 4, openPair);
		},
	};
}

function isType(msg: unknown, type: string): boolean {
	return typeof msg === "object" && msg !== null && "type" in msg && msg.type === type;
}
