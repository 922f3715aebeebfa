/**
 * `npm run fernwart -- host enroll|run`: the unattended host agent. `enroll` makes the host's
 * Ed25519 identity key, registers it with a one-time token and stores key, server pin and the
 * password verifier in its config folder (mode 0600). `run` keeps the presence socket open with
 * heartbeats, reconnects with back-off, and joins the sessions the server announces: it checks
 * the supporter's password proof itself, reports the verdict signed, and then answers requests
 * by the group's unattended policy (or asks someone at the PC, when there is a terminal).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir, hostname, platform } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import * as z from "zod";
import { toBase64url } from "../../protocol/encoding.ts";
import {
	decodeAuthMessage,
	encodeAuthMessage,
	HEARTBEAT_INTERVAL_MS,
	PRESENCE_PING,
	PRESENCE_PONG,
	type PresenceServerMessage,
	presenceServerMessageSchema,
	type UnattendedPolicy,
} from "../../protocol/host.ts";
import { ApiError } from "../sdk/api.ts";
import {
	exportPublicKey,
	exportSigningPrivateKey,
	generateSigningKeyPair,
	importSigningPrivateKey,
} from "../sdk/crypto.ts";
import { createHostApi, type HostApi } from "../sdk/hosts.ts";
import { SessionClient, type WebSocketLike } from "../sdk/session.ts";
import { CliError, explain, Keys, Output, openTransport, printSessionEvents } from "./common.ts";
import { attachDesktop, type InputPlan, planInput } from "./desktop/control.ts";
import { killAllVideoEncoders } from "./desktop/video.ts";
import { HOTKEY_LABEL } from "./desktop/x11.ts";
import {
	generateHostPassword,
	hashHostPassword,
	Lockout,
	proofMatches,
	type StoredPassword,
	storedPasswordSchema,
} from "./host-auth.ts";
import {
	CAPTURE_MODES,
	type CaptureMode,
	type CapturePlan,
	killAllCaptures,
	planCapture,
} from "./host-capture.ts";
import type { TrustedTransport } from "./tls.ts";

const USAGE = `Usage:
  npm run fernwart -- host enroll URL TOKEN [--name N] [--password P] [--ca FILE [--pin-ca] | --fingerprint SHA256] [--config DIR]
  npm run fernwart -- host run [--config DIR] [--capture none|x11] [--retry-max-ms N] [--fingerprint SHA256] [--json]

enroll   registers this PC with the enrolment token an admin or supporter created. Without
         --password (or $FERNWART_HOST_PASSWORD) a password is generated and printed once.
run      keeps the host online and answers sessions; the password is checked here, never
         by the server.

  --config DIR   where key, pin and password verifier live (default ~/.config/fernwart-host)
  --capture M    x11: send the X display's picture (needs DISPLAY and ffmpeg; the default where
                 both exist); none: send a text snapshot instead of the screen
  --retry-max-ms N  the longest wait between reconnection attempts (default 60000); a disabled
                 host retries at this pace until it is enabled again
  --fingerprint F  the server's new certificate (SHA-256, from its admin) after a replacement
                 the host did not learn in advance; it is pinned from then on`;

const configSchema = z.strictObject({
	version: z.literal(1),
	server: z.string().url(),
	hostId: z.string(),
	name: z.string(),
	identityKey: z.string(),
	publicKey: z.string(),
	password: storedPasswordSchema,
});
/** The host agent's config file. */
export type HostConfig = z.infer<typeof configSchema>;

/** The default config folder. */
export function defaultHostConfigDir(env: NodeJS.ProcessEnv = process.env): string {
	const base = env.XDG_CONFIG_HOME || join(homedir(), ".config");
	return join(base, "fernwart-host");
}

function paths(dir: string) {
	return {
		config: join(dir, "host.json"),
		trust: join(dir, "known-servers.json"),
		lockout: join(dir, "lockout.json"),
	};
}

/** Reads and validates the config file. */
export function readHostConfig(dir: string): HostConfig {
	let json: unknown;
	try {
		json = JSON.parse(readFileSync(paths(dir).config, "utf8"));
	} catch (err) {
		throw new CliError(`cannot read ${paths(dir).config}: ${(err as Error).message}`, 2);
	}
	const parsed = configSchema.safeParse(json);
	if (!parsed.success) throw new CliError(`${paths(dir).config} is damaged`, 2);
	return parsed.data;
}

/** Runs `host …`; resolves with the exit code. */
export async function runHost(argv: string[]): Promise<number> {
	const [sub, ...rest] = argv;
	if (sub === "enroll") return enroll(rest);
	if (sub === "run") return run(rest);
	if (sub === "--help" || sub === "-h" || sub === undefined) {
		process.stdout.write(`${USAGE}\n`);
		return sub === undefined ? 2 : 0;
	}
	throw new CliError(`unknown host command ${sub}\n\n${USAGE}`, 2);
}

// ---------------------------------------------------------------------------------------------
// enroll

/** An enrolment token (`<id>.<secret>`, base64url), which may begin with a dash. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/;

async function enroll(argv: string[]): Promise<number> {
	// A token that begins with "-" would read as an option; the shape tells it apart.
	const tokens = argv.filter((a) => TOKEN_SHAPE.test(a));
	const parsed = parseArgs({
		args: argv.filter((a) => !TOKEN_SHAPE.test(a)),
		allowPositionals: true,
		options: {
			name: { type: "string" },
			password: { type: "string" },
			ca: { type: "string" },
			fingerprint: { type: "string" },
			"pin-ca": { type: "boolean", default: false },
			config: { type: "string" },
			json: { type: "boolean", default: false },
			force: { type: "boolean", default: false },
		},
	});
	const { values } = parsed;
	const positionals = [...parsed.positionals, ...tokens];
	const [url, token] = positionals;
	if (!url || !token || positionals.length > 2)
		throw new CliError(`enroll needs URL and TOKEN\n\n${USAGE}`, 2);
	const dir = values.config ?? defaultHostConfigDir();
	const files = paths(dir);
	if (existsSync(files.config) && !values.force) {
		throw new CliError(
			`${files.config} exists: this PC is enrolled (use --force to replace it)`,
			2,
		);
	}
	const given = values.password ?? process.env.FERNWART_HOST_PASSWORD;
	if (given !== undefined && given.length < 12) {
		throw new CliError("the host password needs at least 12 characters", 2);
	}
	const password = given ?? generateHostPassword();
	const out = new Output(values.json);
	mkdirSync(dir, { recursive: true, mode: 0o700 });
	const transport = openTransport({
		url,
		ca: values.ca,
		fingerprint: values.fingerprint,
		"pin-ca": values["pin-ca"],
		"trust-file": files.trust,
	});
	try {
		const keys = await generateSigningKeyPair({ extractable: true });
		const publicKey = await exportPublicKey(keys.publicKey);
		const api = createHostApi({ baseUrl: transport.origin, fetch: transport.fetch });
		const name = values.name ?? hostname().slice(0, 80);
		const registered = await api.register({
			token,
			name,
			platform: `${platform()}`.slice(0, 40),
			publicKey: { kty: "OKP", crv: "Ed25519", x: publicKey },
		});
		const config: HostConfig = {
			version: 1,
			server: transport.origin,
			hostId: registered.hostId,
			name,
			identityKey: await exportSigningPrivateKey(keys.privateKey),
			publicKey,
			password: await hashHostPassword(password),
		};
		const tmp = `${files.config}.${process.pid}.tmp`;
		writeFileSync(tmp, `${JSON.stringify(config, null, "\t")}\n`, { mode: 0o600 });
		renameSync(tmp, files.config);
		out.event(
			"enrolled",
			{ hostId: registered.hostId, publicKey, ...(given === undefined ? { password } : {}) },
			`Enrolled as ${name} (${registered.hostId}).\nIdentity key: ${publicKey}`,
		);
		if (given === undefined) {
			out.say(`Remote-maintenance password (shown once, store it safely): ${password}`);
		}
		return 0;
	} catch (err) {
		throw explain(err, transport);
	} finally {
		await transport.close();
	}
}

// ---------------------------------------------------------------------------------------------
// run

async function run(argv: string[]): Promise<number> {
	const { values } = parseArgs({
		args: argv,
		options: {
			config: { type: "string" },
			capture: { type: "string" },
			"retry-max-ms": { type: "string" },
			fingerprint: { type: "string" },
			json: { type: "boolean", default: false },
		},
	});
	const maxDelayMs = parseRetryMax(values["retry-max-ms"]);
	const requested = values.capture;
	if (requested !== undefined && !(CAPTURE_MODES as readonly string[]).includes(requested)) {
		throw new CliError(`--capture must be none or x11\n\n${USAGE}`, 2);
	}
	const capture = planCapture(requested as CaptureMode | undefined);
	if (capture.mode === "none" && requested === "x11") throw new CliError(capture.reason, 2);
	const dir = values.config ?? defaultHostConfigDir();
	const config = readHostConfig(dir);
	const files = paths(dir);
	const out = new Output(values.json);
	const keys = new Keys(!values.json);
	const transport = openTransport({
		url: config.server,
		fingerprint: values.fingerprint,
		"trust-file": files.trust,
	});
	const identity = {
		privateKey: await importSigningPrivateKey(config.identityKey),
		publicKey: config.publicKey,
	};
	const api = createHostApi({ baseUrl: transport.origin, fetch: transport.fetch });
	const lockout = new Lockout(files.lockout);
	if (capture.mode === "x11") {
		out.event(
			"capture",
			{ mode: "x11", display: capture.display, fps: capture.fps },
			`Screen capture: X11 display ${capture.display} through ffmpeg, up to ${capture.fps} frames a second.`,
		);
	} else {
		out.event("capture", { mode: "none", reason: capture.reason }, capture.reason);
	}
	const input = planInput();
	if (input.mode === "x11") {
		out.event(
			"input",
			{ mode: "x11", display: input.display, hotkey: HOTKEY_LABEL },
			`Remote control: X11 display ${input.display} (XTEST); STOP hotkey ${HOTKEY_LABEL}.`,
		);
	} else {
		out.event(
			"input",
			{ mode: "none", message: input.unavailable.message },
			input.unavailable.message,
		);
	}
	const agent = {
		config,
		out,
		keys,
		transport,
		api,
		identity,
		lockout,
		capture,
		input,
		sessions: new Set<string>(),
	};
	let stopping = false;
	let current: WebSocketLike | null = null;
	const wait = new Pause();
	const stop = () => {
		stopping = true;
		// No capture outlives the agent: ffmpeg ends now, and the exit hook kills any straggler.
		killAllCaptures("SIGTERM");
		killAllVideoEncoders("SIGTERM");
		current?.close(1000, "agent stopping");
		wait.wake();
	};
	process.once("SIGINT", stop);
	process.once("SIGTERM", stop);
	try {
		let attempt = 0;
		// An unattended PC has nobody to restart the agent: a lost connection, a restarted or
		// unreachable server and a disabled host all end in another attempt, never in an exit.
		// Only a deleted host ends the loop, because its identity can never be accepted again.
		while (!stopping) {
			const result = await presence(agent, (ws) => {
				current = ws;
			}).catch((err: unknown) => {
				// Whatever went wrong with this attempt (a socket that could not even be made, …),
				// the next one may work.
				out.event("error", { code: "PRESENCE_FAILED", message: (err as Error).message }, null);
				return "failed" as const;
			});
			current = null;
			if (stopping) break;
			if (result === "gone") {
				out.event("error", { code: "HOST_NOT_FOUND" }, "This host was deleted on the server.");
				return EXIT_HOST_DELETED;
			}
			attempt = result === "was-online" ? 1 : attempt + 1;
			const delayMs = reconnectDelayMs(result === "disabled" ? null : attempt, maxDelayMs);
			if (result === "disabled") {
				out.event(
					"disabled",
					{ delayMs },
					`This host is disabled on the server; checking again in ${delayMs} ms.`,
				);
			}
			out.event("reconnecting", { attempt, delayMs }, `Offline; reconnecting in ${delayMs} ms.`);
			await wait.sleep(delayMs);
		}
		return 0;
	} finally {
		process.off("SIGINT", stop);
		process.off("SIGTERM", stop);
		keys.close();
		await transport.close();
	}
}

/** Exit code of `host run` when the server no longer knows this host (re-enrol it). */
export const EXIT_HOST_DELETED = 5;
/** The first reconnection delay; it doubles per failed attempt up to the cap. */
const RETRY_FIRST_MS = 1000;
/** The default cap of the reconnection delay. */
const RETRY_MAX_MS = 60_000;

/**
 * The wait before reconnection attempt `attempt` (1 after a connection that was online):
 * 1 s doubling up to `maxMs`, each ±25 % at random, so hosts that lost a restarted server do
 * not all come back in the same second. `null` (a disabled host) waits the cap.
 */
export function reconnectDelayMs(attempt: number | null, maxMs: number): number {
	const base =
		attempt === null ? maxMs : Math.min(maxMs, RETRY_FIRST_MS * 2 ** Math.min(30, attempt - 1));
	return Math.round(base * (0.75 + Math.random() * 0.5));
}

function parseRetryMax(value: string | undefined): number {
	if (value === undefined) return RETRY_MAX_MS;
	const n = Number(value);
	if (!Number.isInteger(n) || n < 100 || n > 3_600_000) {
		throw new CliError("--retry-max-ms must be a whole number from 100 to 3600000", 2);
	}
	return n;
}

/**
 * A wait that keeps the process alive (an unref'd timer would let Node exit in the middle of
 * the loop with "unsettled top-level await") and that `wake()` ends early, for a clean stop.
 */
class Pause {
	#wake: (() => void) | null = null;

	sleep(ms: number): Promise<void> {
		return new Promise((resolve) => {
			const timer = setTimeout(done, ms);
			const self = this;
			function done() {
				clearTimeout(timer);
				self.#wake = null;
				resolve();
			}
			this.#wake = done;
		});
	}

	wake(): void {
		this.#wake?.();
	}
}

interface Agent {
	config: HostConfig;
	out: Output;
	keys: Keys;
	transport: TrustedTransport;
	api: HostApi;
	identity: { privateKey: CryptoKey; publicKey: string };
	lockout: Lockout;
	capture: CapturePlan;
	input: InputPlan;
	sessions: Set<string>;
}

/** One presence connection; resolves when it is over, saying whether it ever got online. */
async function presence(
	agent: Agent,
	onSocket: (ws: WebSocketLike) => void,
): Promise<"was-online" | "failed" | "disabled" | "gone"> {
	const { config, out } = agent;
	let ticket: string;
	try {
		ticket = await agent.api.hostTicket(config.hostId, agent.identity.privateKey);
	} catch (err) {
		if (err instanceof ApiError && err.code === "HOST_NOT_FOUND") return "gone";
		if (err instanceof ApiError && err.code === "HOST_DISABLED") return "disabled";
		const why = explain(err, agent.transport).message;
		out.event("error", { code: "TICKET_FAILED", message: why }, `Cannot get a ticket: ${why}`);
		return "failed";
	}
	const url = new URL(`/ws/v1/hosts/${config.hostId}`, agent.transport.origin);
	url.protocol = "wss:";
	url.searchParams.set("ticket", ticket);
	const ws = agent.transport.webSocket(url.href);
	onSocket(ws);
	return new Promise((resolve) => {
		let opened = false;
		let lastAck = Date.now();
		let timer: ReturnType<typeof setInterval> | null = null;
		ws.addEventListener("open", () => {
			opened = true;
			lastAck = Date.now();
			out.event("online", { hostId: config.hostId }, `Online as ${config.name}.`);
			// Keepalive is a `ping` the runtime answers with `pong` without waking the host's actor
			// (docs/protocol.md §10.2); the actor's alarm reads when the last one was answered.
			timer = setInterval(() => {
				// No answer for three beats: the connection is dead even if TCP has not noticed.
				if (Date.now() - lastAck > 3 * HEARTBEAT_INTERVAL_MS) {
					ws.close(4000, "no keepalive answer");
					return;
				}
				try {
					ws.send(PRESENCE_PING);
				} catch {
					// Closing; the close event ends this connection.
				}
			}, HEARTBEAT_INTERVAL_MS);
			ws.send(PRESENCE_PING);
		});
		ws.addEventListener("message", (event) => {
			if (typeof event.data !== "string") return;
			if (event.data === PRESENCE_PONG) {
				lastAck = Date.now();
				return;
			}
			let json: unknown = null;
			try {
				json = JSON.parse(event.data);
			} catch {
				json = null; // ignored below
			}
			const parsed = presenceServerMessageSchema.safeParse(json);
			if (!parsed.success) return;
			const msg = parsed.data;
			if (msg.type === "heartbeat.ack") lastAck = Date.now();
			else void joinSession(agent, msg);
		});
		ws.addEventListener("close", (event) => {
			if (timer) clearInterval(timer);
			out.event("offline", { code: event.code ?? 1006 }, "Offline.");
			resolve(opened ? "was-online" : "failed");
		});
		ws.addEventListener("error", () => {
			// The close event follows and ends this connection.
		});
	});
}

/** Joins one announced session and runs it to the end. */
async function joinSession(
	agent: Agent,
	notice: Extract<PresenceServerMessage, { type: "session" }>,
): Promise<void> {
	const { out, config, lockout, keys } = agent;
	if (agent.sessions.has(notice.sessionId)) return;
	agent.sessions.add(notice.sessionId);
	const policy: UnattendedPolicy = notice.policy;
	out.event(
		"session",
		{ sessionId: notice.sessionId, supporter: notice.supporter, policy },
		`Incoming session from ${notice.supporter}.`,
	);
	// The session's current socket, for its backlog (undici's WebSocket has bufferedAmount).
	let socket: (WebSocketLike & { readonly bufferedAmount?: number }) | null = null;
	const session = new SessionClient({
		role: "host",
		identity: agent.identity,
		sessionId: notice.sessionId,
		baseUrl: agent.transport.origin,
		webSocket: (url) => {
			socket = agent.transport.webSocket(url);
			return socket;
		},
		ticket: notice.ticket,
		renewTicket: () =>
			agent.api.hostTicket(config.hostId, agent.identity.privateKey, notice.sessionId),
	});
	printSessionEvents(session, out);
	let authorized = false;
	let nonce: string | null = null;
	const desktop = await attachDesktop({
		session,
		input: agent.input,
		capture: agent.capture,
		out,
		name: config.name,
		supporterName: () => notice.supporter || "The supporter",
		socket: () => socket,
	});
	const report = (what: string) => (err: unknown) =>
		out.event(
			"error",
			{ code: "ACTION_FAILED", message: `${what}: ${(err as Error).message}` },
			null,
		);

	const sendChallenge = () => {
		nonce = toBase64url(crypto.getRandomValues(new Uint8Array(32)));
		const stored: StoredPassword = config.password;
		void session
			.send(
				"auth",
				0,
				encodeAuthMessage({ t: "challenge", nonce, salt: stored.salt, kdf: stored.kdf }),
			)
			.catch(report("auth challenge"));
	};
	session.on("ready", sendChallenge);
	session.on("frame", (frame) => {
		if (frame.channelName !== "auth") return;
		const msg = decodeAuthMessage(frame.payload);
		if (msg?.t !== "proof" || nonce === null || msg.nonce !== nonce || authorized) return;
		nonce = null;
		const lockedFor = lockout.retryAfterMs();
		let result: "accepted" | "refused" | "locked";
		let retryAfterMs = 0;
		if (lockedFor > 0) {
			// Locked: the proof is not even looked at, so a right guess teaches nothing.
			result = "locked";
			retryAfterMs = lockedFor;
		} else if (proofMatches(config.password, msg.key)) {
			result = "accepted";
			lockout.succeed();
			authorized = true;
		} else {
			retryAfterMs = lockout.fail();
			result = retryAfterMs > 0 ? "locked" : "refused";
		}
		out.event("auth", { result, failures: lockout.failures }, `Password proof: ${result}.`);
		// The signed verdict goes first: the relay opens the channels on it and audits it.
		void session.reportHostAuth({ result, failures: lockout.failures }).catch(report("host.auth"));
		void session
			.send(
				"auth",
				0,
				encodeAuthMessage({
					t: "result",
					ok: result === "accepted",
					...(result === "accepted" ? {} : { reason: result === "locked" ? "locked" : "wrong" }),
					...(retryAfterMs > 0 ? { retryAfterMs } : {}),
				}),
			)
			.catch(report("auth result"));
		if (result === "refused") sendChallenge(); // another try, until the lock
	});

	/** Policy "allow" answers yes; "ask" needs someone at a terminal, else no. */
	const decide = async (rule: "allow" | "ask", question: string): Promise<boolean> => {
		if (!authorized) return false;
		if (rule === "allow") return true;
		return keys.enabled ? keys.ask((t) => process.stdout.write(t), question) : false;
	};
	session.on("control", ({ message, verified }) => {
		if (verified === false) return;
		if (message.type === "view.request") {
			void decide(policy.view, "Show this screen to the supporter?").then((yes) =>
				(yes ? session.grantView() : session.denyView()).catch(report("view")),
			);
		} else if (message.type === "control.request") {
			void decide(policy.control, "Give the supporter control?").then((yes) =>
				(yes ? session.grantControl() : session.denyControl()).catch(report("control")),
			);
		} else if (message.type === "file.offer") {
			const id = message.id;
			void decide(policy.files, `Accept the file ${message.name}?`).then((yes) =>
				(yes ? session.acceptFile(id) : session.rejectFile(id)).catch(report("file")),
			);
		}
	});
	const closed = session.waitFor("closed", () => true, 2 ** 31 - 1);
	try {
		await session.connect();
		await closed;
	} catch (err) {
		out.event("error", { code: "SESSION_FAILED", message: (err as Error).message }, null);
	} finally {
		await desktop.close();
		agent.sessions.delete(notice.sessionId);
		out.event("session.closed", { sessionId: notice.sessionId }, "Session over.");
	}
}
