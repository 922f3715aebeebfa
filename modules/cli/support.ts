/**
 * `npm run fernwart -- support`: the supporter's command-line module. Logs in, issues a support
 * ID, shows the SAS and the consent state, and lets the supporter ask for the customer's screen
 * and for control, comment for the protocol, and end the session — by key, or by flags in
 * scripts.
 */
import { parseArgs } from "node:util";
import { createApiClient } from "../sdk/api.ts";
import { SessionClient } from "../sdk/session.ts";
import {
	CliError,
	CONNECTION_OPTIONS,
	CONNECTION_USAGE,
	explain,
	Keys,
	Output,
	openTransport,
	parseCommand,
	parseMs,
	printSessionEvents,
	sleep,
} from "./common.ts";
import { saveSessionProtocol } from "./protocol-copy.ts";

const USAGE = `Usage: npm run fernwart -- support [options]

Logs in, issues an 8-digit support ID for the customer, and runs the session.

  --email ADDR         account (default $FERNWART_EMAIL)
  --password PW        password (default $FERNWART_PASSWORD; prefer the variable: arguments
                       are visible to other users of this machine)
  --totp CODE          authenticator code, if the account has one
  --view customer|supporter   whose screen is shown (default: the server's setting)
  --require-terms      the customer must accept the support terms first
  --admit              admit the customer who joins without asking (else press a or r)
  --request-view       ask for the customer's screen as soon as the session allows
  --request-control    ask for remote control once the customer's screen is shown
  --comment TEXT       add a comment to the protocol once connected
  --chat TEXT          send one encrypted chat message once connected
  --exit-after-ms N    end the session and exit after N ms
  --protocol-dir DIR   after the session, verify its audit protocol and keep a copy in DIR
${CONNECTION_USAGE}

Keys while connected: a admit / r refuse the waiting customer, v ask for the screen, c ask for
control, m comment, e end the session.`;

/** Runs the command; resolves with the process exit code. */
export async function runSupport(argv: string[]): Promise<number> {
	const parsed = parseCommand(() => parse(argv), USAGE);
	if (!parsed) return 0;
	const { values } = parsed;
	const email = values.email ?? process.env.FERNWART_EMAIL;
	const password = values.password ?? process.env.FERNWART_PASSWORD;
	if (!email || !password) {
		throw new CliError("support needs --email and --password (or FERNWART_EMAIL/PASSWORD)", 2);
	}
	const view = values.view;
	if (view !== undefined && view !== "customer" && view !== "supporter") {
		throw new CliError("--view must be customer or supporter", 2);
	}
	const exitAfterMs = parseMs(values["exit-after-ms"], "--exit-after-ms");

	const out = new Output(values.json);
	const transport = openTransport(values);
	const keys = new Keys(!values.json);
	const api = createApiClient({ baseUrl: transport.origin, fetch: transport.fetch });
	let client: SessionClient | null = null;
	try {
		await api.login({ email, password, ...(values.totp ? { totp: values.totp } : {}) });
		const created = await api.createSession({
			...(view ? { view } : {}),
			...(values["require-terms"] ? { requireTerms: true } : {}),
		});
		const until = new Date(created.expiresAt).toLocaleTimeString();
		out.event(
			"session",
			{ ...created, fingerprint: transport.seenFingerprint },
			`Support ID: ${created.code.slice(0, 4)} ${created.code.slice(4)}  (read it to the ` +
				`customer; valid until ${until})`,
		);
		const session = new SessionClient({
			role: "supporter",
			sessionId: created.sessionId,
			baseUrl: transport.origin,
			webSocket: transport.webSocket,
			renewTicket: () => api.ticket(created.sessionId),
		});
		client = session;
		printSessionEvents(session, out, { linkServer: transport.origin });

		const report = (what: string) => (err: unknown) =>
			out.event(
				"error",
				{ source: "cli", code: "ACTION_FAILED", message: `${what}: ${(err as Error).message}` },
				`Could not ${what}: ${(err as Error).message}`,
			);
		const act = (action: string, text: string, run: () => Promise<void>) =>
			run().then(() => out.event("action", { action }, text), report(action));

		// Flags act once, each as soon as the consent state allows it.
		const pending = {
			comment: values.comment ?? null,
			chat: values.chat ?? null,
			view: values["request-view"],
			control: values["request-control"],
		};
		// Who typed the ID, once, for the admit-or-refuse decision (docs/protocol.md §3.5).
		let announced = false;
		const automate = () => {
			const state = session.state;
			const entry = state?.admission;
			if (entry?.status === "waiting" && !announced) {
				announced = true;
				const at = new Date(entry.joinedAt).toLocaleTimeString();
				out.say(
					`${entry.name ?? "Someone"} joined from ${entry.address ?? "an unknown address"} at ${at}.` +
						(values.admit ? "" : " Press a to admit, r to refuse."),
				);
				if (values.admit) void act("admit", "Customer admitted.", () => session.admit());
			}
			if (!session.sas || !state || state.phase !== "active") return;
			if (entry?.status === "waiting") return;
			if (pending.comment !== null) {
				const text = pending.comment;
				pending.comment = null;
				void act("comment", "Comment added to the protocol.", () => session.comment(text));
			}
			if (state.termsRequired && !state.termsAccepted) return;
			if (pending.chat !== null) {
				const text = pending.chat;
				pending.chat = null;
				void act("chat", "Chat message sent.", async () => {
					await session.send("chat", 0, new TextEncoder().encode(text));
				});
			}
			if (pending.view && state.shower !== "customer") {
				pending.view = false;
				void act("view.request", "Asked for the customer's screen.", () => session.requestView());
			}
			if (pending.control && state.shower === "customer" && state.controller !== "supporter") {
				pending.control = false;
				void act("control.request", "Asked for remote control.", () => session.requestControl());
			}
		};
		session.on("state", automate);
		session.on("ready", automate);

		let ending = false;
		const endSession = async () => {
			if (ending) return;
			ending = true;
			out.say("Ending the session…");
			try {
				await api.endSession(created.sessionId);
			} catch (err) {
				out.event(
					"error",
					{ source: "cli", code: "END_FAILED", message: (err as Error).message },
					`Could not end the session: ${(err as Error).message}`,
				);
				session.close();
			}
		};
		keys.onKey((key) => {
			if (key === "a" && session.state?.admission?.status === "waiting")
				void act("admit", "Customer admitted.", () => session.admit());
			else if (key === "r" && session.state?.admission?.status === "waiting")
				void act("refuse", "Customer refused.", () => session.refuse());
			else if (key === "v")
				void act("view.request", "Asked for the customer's screen.", () => session.requestView());
			else if (key === "c")
				void act("control.request", "Asked for remote control.", () => session.requestControl());
			else if (key === "m") {
				void keys
					.readLine((t) => process.stdout.write(t), "Comment: ")
					.then((text) => {
						if (text)
							void act("comment", "Comment added to the protocol.", () => session.comment(text));
					});
			} else if (key === "e" || key === "ctrl-c") void endSession();
			else if (key === "?" || key === "h") out.say("Keys: v screen, c control, m comment, e end");
		});
		const onSignal = () => void endSession();
		process.once("SIGINT", onSignal);
		process.once("SIGTERM", onSignal);

		const closed = session.waitFor("closed", () => true, 2 ** 31 - 1);
		let ended = false;
		session.on("end", () => {
			ended = true;
		});
		await session.connect();
		out.say(
			keys.enabled
				? "Waiting for the customer… (keys: v screen, c control, m comment, e end)"
				: "Waiting for the customer…",
		);
		if (exitAfterMs !== null) {
			void sleep(exitAfterMs).then(endSession);
		}
		const result = await closed;
		process.off("SIGINT", onSignal);
		process.off("SIGTERM", onSignal);
		out.event("closed", result, null);
		const dir = values["protocol-dir"];
		if (dir) {
			try {
				const copy = await saveSessionProtocol({
					fetch: transport.fetch,
					origin: transport.origin,
					sessionId: created.sessionId,
					dir,
					token: async (refresh) =>
						refresh ? (await api.refresh()).accessToken : (api.accessToken ?? ""),
				});
				out.event("protocol", { ...copy }, `Protocol saved to ${copy.path} (${copy.summary})`);
			} catch (err) {
				out.event(
					"error",
					{ source: "cli", code: "PROTOCOL_FAILED", message: (err as Error).message },
					`Could not keep the protocol: ${(err as Error).message}`,
				);
				return 1;
			}
		}
		return ended ? 0 : 1;
	} catch (err) {
		client?.close();
		throw explain(err, transport);
	} finally {
		keys.close();
		await transport.close();
	}
}

function parse(argv: string[]) {
	return parseArgs({
		args: argv,
		allowPositionals: false,
		options: {
			...CONNECTION_OPTIONS,
			email: { type: "string" },
			password: { type: "string" },
			totp: { type: "string" },
			view: { type: "string" },
			"require-terms": { type: "boolean", default: false },
			admit: { type: "boolean", default: false },
			"request-view": { type: "boolean", default: false },
			"request-control": { type: "boolean", default: false },
			comment: { type: "string" },
			chat: { type: "string" },
			"exit-after-ms": { type: "string" },
			"protocol-dir": { type: "string" },
		},
	});
}
