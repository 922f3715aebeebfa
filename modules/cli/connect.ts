/**
 * `npm run fernwart -- connect HOST`: the supporter connects to an unattended host from the host
 * list. The host's identity key is pinned on first contact (known-hosts file); a different key
 * later is a loud error and no session. The remote-maintenance password is proven to the host
 * inside the encrypted session (modules/cli/host-auth.ts); the server never sees it.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import * as z from "zod";
import { decodeAuthMessage, encodeAuthMessage } from "../../protocol/host.ts";
import { SCREEN_STREAM } from "../../protocol/input.ts";
import { createApiClient } from "../sdk/api.ts";
import { createHostApi } from "../sdk/hosts.ts";
import { SessionClient } from "../sdk/session.ts";
import {
	CliError,
	CONNECTION_OPTIONS,
	CONNECTION_USAGE,
	explain,
	Output,
	openTransport,
	parseCommand,
	parseMs,
	printSessionEvents,
	sleep,
} from "./common.ts";
import { answerChallenge } from "./host-auth.ts";

const USAGE = `Usage: npm run fernwart -- connect HOST [options]

Starts a session with an enrolled host (its id or its name in your host list).

  --email ADDR           account (default $FERNWART_EMAIL)
  --password PW          account password (default $FERNWART_PASSWORD)
  --totp CODE            authenticator code, if the account has one
  --host-password PW     the host's remote-maintenance password (default $FERNWART_HOST_PASSWORD)
  --known-hosts FILE     pinned host keys (default ~/.config/fernwart/known-hosts.json)
  --request-view         ask for the host's screen once the password is accepted
  --request-control      ask for control once the screen is shown
  --chat TEXT            send one encrypted chat message once the password is accepted
  --exit-after-ms N      end the session and exit after N ms
${CONNECTION_USAGE}`;

/** Exit code when the host's key differs from the pinned one. */
export const EXIT_HOST_KEY_CHANGED = 5;
/** Exit code when the host refused the password or is locked. */
export const EXIT_PASSWORD_REFUSED = 6;

const knownHostsSchema = z.object({
	version: z.literal(1),
	hosts: z.record(z.string(), z.object({ publicKey: z.string(), name: z.string() }).loose()),
});

/** The default known-hosts file. */
export function defaultKnownHostsFile(env: NodeJS.ProcessEnv = process.env): string {
	const base = env.XDG_CONFIG_HOME || join(homedir(), ".config");
	return join(base, "fernwart", "known-hosts.json");
}

function readKnownHosts(path: string): z.infer<typeof knownHostsSchema> {
	let text: string;
	try {
		text = readFileSync(path, "utf8");
	} catch (err) {
		if ((err as NodeJS.ErrnoException).code === "ENOENT") return { version: 1, hosts: {} };
		throw new CliError(`cannot read ${path}: ${(err as Error).message}`, 2);
	}
	let json: unknown = null;
	try {
		json = JSON.parse(text);
	} catch {
		json = null;
	}
	const parsed = knownHostsSchema.safeParse(json);
	// Starting over silently would forget every pin, which is what an attacker wants.
	if (!parsed.success) throw new CliError(`${path} is damaged; fix or remove it`, 2);
	return parsed.data;
}

/** The pinned key of a host (by server origin and host id), or undefined. */
export function pinnedHostKey(path: string, origin: string, hostId: string): string | undefined {
	return readKnownHosts(path).hosts[`${origin}#${hostId}`]?.publicKey;
}

/** Pins a host key (atomically, 0600). */
export function pinHostKey(
	path: string,
	origin: string,
	hostId: string,
	key: string,
	name: string,
) {
	const file = readKnownHosts(path);
	file.hosts[`${origin}#${hostId}`] = { publicKey: key, name, pinnedAt: new Date().toISOString() };
	mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
	const tmp = `${path}.${process.pid}.tmp`;
	writeFileSync(tmp, `${JSON.stringify(file, null, "\t")}\n`, { mode: 0o600 });
	renameSync(tmp, path);
}

function keyChanged(hostName: string, pinned: string, presented: string, file: string): CliError {
	return new CliError(
		`THE IDENTITY KEY OF HOST ${hostName} HAS CHANGED.\n  pinned:    ${pinned}\n` +
			`  presented: ${presented}\nSomeone may be impersonating the host, or it was re-enrolled. ` +
			`Not connecting. If an admin confirms the re-enrolment, remove its entry from ${file}.`,
		EXIT_HOST_KEY_CHANGED,
	);
}

/** Runs the command; resolves with the exit code. */
export async function runConnect(argv: string[]): Promise<number> {
	const parsed = parseCommand(() => parse(argv), USAGE);
	if (!parsed) return 0;
	const { values, positionals } = parsed;
	const target = positionals[0];
	if (!target || positionals.length > 1) throw new CliError(`connect needs HOST\n\n${USAGE}`, 2);
	const email = values.email ?? process.env.FERNWART_EMAIL;
	const password = values.password ?? process.env.FERNWART_PASSWORD;
	const hostPassword = values["host-password"] ?? process.env.FERNWART_HOST_PASSWORD;
	if (!email || !password) throw new CliError("connect needs --email and --password", 2);
	if (!hostPassword) throw new CliError("connect needs --host-password", 2);
	const exitAfterMs = parseMs(values["exit-after-ms"], "--exit-after-ms");
	const knownHosts = values["known-hosts"] ?? defaultKnownHostsFile();

	const out = new Output(values.json);
	const transport = openTransport(values);
	const api = createApiClient({ baseUrl: transport.origin, fetch: transport.fetch });
	const hosts = createHostApi({
		baseUrl: transport.origin,
		fetch: transport.fetch,
		accessToken: () => api.accessToken,
	});
	let client: SessionClient | null = null;
	try {
		await api.login({ email, password, ...(values.totp ? { totp: values.totp } : {}) });
		const list = await hosts.listHosts();
		const matches = list.filter(
			(h) => h.id === target || h.name.toLowerCase() === target.toLowerCase(),
		);
		const host = matches[0];
		if (!host) throw new CliError(`no host ${target} in your host list`, 1);
		if (matches.length > 1) throw new CliError(`${target} names several hosts; use the id`, 2);
		const pinned = pinnedHostKey(knownHosts, transport.origin, host.id);
		if (pinned && pinned !== host.publicKey) {
			throw keyChanged(host.name, pinned, host.publicKey, knownHosts);
		}
		const started = await hosts.connectHost(host.id);
		if (pinned && pinned !== started.hostPublicKey) {
			await api.endSession(started.sessionId).catch(() => {});
			throw keyChanged(host.name, pinned, started.hostPublicKey, knownHosts);
		}
		if (!pinned) {
			pinHostKey(knownHosts, transport.origin, host.id, started.hostPublicKey, host.name);
			out.event(
				"host.pinned",
				{ hostId: host.id, publicKey: started.hostPublicKey },
				`First connection to ${host.name}: pinned its key ${started.hostPublicKey}.`,
			);
		}
		out.event(
			"session",
			{ sessionId: started.sessionId, hostId: host.id },
			`Connecting to ${host.name}…`,
		);
		const session = new SessionClient({
			role: "supporter",
			sessionId: started.sessionId,
			baseUrl: transport.origin,
			webSocket: transport.webSocket,
			ticket: started.ticket,
			renewTicket: () => api.ticket(started.sessionId),
			expectedHost: {
				publicKey: started.hostPublicKey,
				...(pinned ? { pinnedKey: pinned } : {}),
			},
		});
		client = session;
		printSessionEvents(session, out);

		let refused = false;
		let ending = false;
		const endSession = async () => {
			if (ending) return;
			ending = true;
			await api.endSession(started.sessionId).catch(() => session.close());
		};
		const report = (what: string) => (err: unknown) =>
			out.event(
				"error",
				{ code: "ACTION_FAILED", message: `${what}: ${(err as Error).message}` },
				null,
			);
		session.on("screenInfo", (info) => {
			out.event(
				"screen.info",
				{ ...info },
				info.t === "input-unavailable" ? `Input has no effect: ${info.message}` : null,
			);
		});
		session.on("frame", (frame) => {
			// Stream 2 of the screen channel is screen info (displays, injected, input-unavailable),
			// reported below as `screen.info`; only stream 1 carries pictures.
			if (frame.channelName === "screen" && frame.stream === SCREEN_STREAM) {
				// A captured screen is a JPEG (its size is enough here); a host without capture sends
				// a short text snapshot, which is shown.
				const jpeg = frame.payload[0] === 0xff && frame.payload[1] === 0xd8;
				out.event(
					"screen",
					jpeg
						? { bytes: frame.payload.length, format: "jpeg" }
						: { bytes: frame.payload.length, text: new TextDecoder().decode(frame.payload) },
					null,
				);
			}
			if (frame.channelName !== "auth") return;
			const msg = decodeAuthMessage(frame.payload);
			if (msg?.t === "challenge") {
				if (refused) return;
				void answerChallenge(hostPassword, msg)
					.then((proof) => session.send("auth", 0, encodeAuthMessage(proof)))
					.catch(report("password proof"));
			} else if (msg?.t === "result" && !msg.ok) {
				refused = true;
				out.event(
					"auth",
					{ ok: false, reason: msg.reason, retryAfterMs: msg.retryAfterMs },
					msg.reason === "locked"
						? `The host is locked after repeated wrong passwords (${Math.ceil((msg.retryAfterMs ?? 0) / 1000)} s).`
						: "The host refused the password.",
				);
				void endSession();
			}
		});
		const pending = {
			view: values["request-view"],
			control: values["request-control"],
			chat: values.chat ?? null,
		};
		let authorized = false;
		const automate = () => {
			const state = session.state;
			if (!authorized || !state) return;
			if (pending.chat !== null) {
				const text = pending.chat;
				pending.chat = null;
				void session.send("chat", 0, new TextEncoder().encode(text)).catch(report("chat"));
			}
			if (pending.view && state.shower !== "host") {
				pending.view = false;
				void session.requestView().catch(report("view.request"));
			}
			if (pending.control && state.shower === "host" && state.controller !== "supporter") {
				pending.control = false;
				void session.requestControl().catch(report("control.request"));
			}
		};
		// The relay forwards the host's signed verdict only after it recorded it and opened the
		// channels, so this, not the auth frame, is the moment to go on.
		session.on("control", ({ message, verified }) => {
			if (message.type !== "host.auth" || verified !== true) return;
			if (message.statement.details.result === "accepted") {
				authorized = true;
				out.event("auth", { ok: true }, "Password accepted by the host.");
				automate();
			}
		});
		session.on("state", automate);
		const onSignal = () => void endSession();
		process.once("SIGINT", onSignal);
		process.once("SIGTERM", onSignal);
		const closed = session.waitFor("closed", () => true, 2 ** 31 - 1);
		let fatal: string | null = null;
		session.on("error", (e) => {
			if (e.fatal) fatal = e.code;
		});
		await session.connect();
		if (exitAfterMs !== null) void sleep(exitAfterMs).then(endSession);
		const result = await closed;
		process.off("SIGINT", onSignal);
		process.off("SIGTERM", onSignal);
		out.event("closed", result, null);
		if (fatal === "HOST_KEY_CHANGED" || fatal === "BAD_HOST_SIGNATURE") {
			await endSession();
			return EXIT_HOST_KEY_CHANGED;
		}
		return refused ? EXIT_PASSWORD_REFUSED : authorized ? 0 : 1;
	} catch (err) {
		client?.close();
		throw explain(err, transport);
	} finally {
		await transport.close();
	}
}

function parse(argv: string[]) {
	return parseArgs({
		args: argv,
		allowPositionals: true,
		options: {
			...CONNECTION_OPTIONS,
			email: { type: "string" },
			password: { type: "string" },
			totp: { type: "string" },
			"host-password": { type: "string" },
			"known-hosts": { type: "string" },
			"request-view": { type: "boolean", default: false },
			"request-control": { type: "boolean", default: false },
			chat: { type: "string" },
			"exit-after-ms": { type: "string" },
		},
	});
}
