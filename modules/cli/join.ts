/**
 * `npm run fernwart -- join CODE`: the customer's command-line module. Joins with the 8-digit
 * ID, shows the support terms and asks, shows the SAS, answers the supporter's requests, and
 * stops everything with one key. Nothing is granted unless the customer says yes (or passed the
 * matching flag); an unanswered question in a script is a no.
 */
import { userInfo } from "node:os";
import { parseArgs } from "node:util";
import { createApiClient } from "../sdk/api.ts";
import { SessionClient, type WebSocketLike } from "../sdk/session.ts";
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
import { attachDesktop, planInput } from "./desktop/control.ts";
import { HOTKEY_LABEL } from "./desktop/x11.ts";
import { CAPTURE_MODES, type CaptureMode, planCapture } from "./host-capture.ts";

const USAGE = `Usage: npm run fernwart -- join CODE [options]

Joins the support session with the 8-digit ID the supporter gave you.

  --name NAME          how the supporter sees you (default: your user name)
  --lang en|de         the language of the support terms (default: de when $LANG starts with de)
  --accept-terms       accept the support terms without asking
  --grant-view         show your screen when the supporter asks
  --grant-control      give remote control when the supporter asks
  --allow-files        accept files the supporter offers
  --capture x11|none   share this PC's X display (x11: the picture through ffmpeg; none: a text
                       snapshot) and let the supporter control it once you grant control: a red
                       bar with STOP shows while they do, and Ctrl+Alt+Shift+S ends it at once
  --chat TEXT          send one encrypted chat message once connected
  --stop-after-ms N    press STOP N ms after the connection is secured
${CONNECTION_USAGE}

Keys while connected: s STOP (ends remote access at once), y/n answer a question.
Without a terminal and without the flags above, every request is declined.`;

/** Exit code when the customer declines the terms. */
export const EXIT_TERMS_DECLINED = 4;

/** Runs the command; resolves with the process exit code. */
export async function runJoin(argv: string[]): Promise<number> {
	const parsed = parseCommand(() => parse(argv), USAGE);
	if (!parsed) return 0;
	const { values, positionals } = parsed;
	// People type the ID as they hear it: "1234 5678" arrives as two arguments.
	const code = positionals.join("").replace(/[\s-]/g, "");
	if (!/^\d{8}$/.test(code)) {
		throw new CliError(`join needs the 8-digit support ID\n\n${USAGE}`, 2);
	}
	const stopAfterMs = parseMs(values["stop-after-ms"], "--stop-after-ms");
	const displayName = values.name ?? safeUserName();
	const lang = values.lang ?? (process.env.LANG?.startsWith("de") ? "de" : "en");
	if (lang !== "en" && lang !== "de") throw new CliError(`--lang must be en or de\n\n${USAGE}`, 2);

	const requested = values.capture;
	if (requested !== undefined && !(CAPTURE_MODES as readonly string[]).includes(requested)) {
		throw new CliError(`--capture must be none or x11\n\n${USAGE}`, 2);
	}
	const capture = requested === undefined ? null : planCapture(requested as CaptureMode);
	if (capture?.mode === "none" && requested === "x11") throw new CliError(capture.reason, 2);
	const input = capture ? planInput() : null;

	const out = new Output(values.json);
	if (capture && input) {
		out.event(
			"capture",
			capture.mode === "x11"
				? { mode: "x11", display: capture.display, fps: capture.fps }
				: { mode: "none", reason: capture.reason },
			capture.mode === "x11" ? `Sharing the X display ${capture.display}.` : capture.reason,
		);
		out.event(
			"input",
			input.mode === "x11"
				? { mode: "x11", display: input.display, hotkey: HOTKEY_LABEL }
				: { mode: "none", message: input.unavailable.message },
			input.mode === "x11"
				? `Remote control possible once you grant it; STOP hotkey ${HOTKEY_LABEL}.`
				: input.unavailable.message,
		);
	}
	const transport = openTransport(values);
	const keys = new Keys(!values.json);
	const write = (text: string) => process.stdout.write(text);
	const api = createApiClient({ baseUrl: transport.origin, fetch: transport.fetch });
	let client: SessionClient | null = null;
	let desktop: Awaited<ReturnType<typeof attachDesktop>> | null = null;
	try {
		const joined = await api.joinSession({ code, displayName, lang });
		out.event(
			"joined",
			{ sessionId: joined.sessionId, fingerprint: transport.seenFingerprint },
			"Joined the support session.",
		);

		const terms = joined.terms ?? null;
		if (terms) {
			out.event(
				"terms",
				{ sha256: terms.sha256, text: terms.text },
				`\nSupport terms:\n\n${terms.text}\n`,
			);
			const accepted = values["accept-terms"]
				? true
				: keys.enabled
					? await keys.ask(write, "Do you accept these terms?")
					: false;
			out.event("terms.decision", { accepted }, null);
			if (!accepted) {
				out.say("Terms not accepted: not connecting.");
				return EXIT_TERMS_DECLINED;
			}
		}

		// The session's current socket, for the screen backlog (undici's WebSocket has bufferedAmount).
		let socket: (WebSocketLike & { readonly bufferedAmount?: number }) | null = null;
		const session = new SessionClient({
			role: "customer",
			sessionId: joined.sessionId,
			baseUrl: transport.origin,
			webSocket: (url) => {
				socket = transport.webSocket(url);
				return socket;
			},
			ticket: joined.ticket,
			renewTicket: () => api.ticket(joined.sessionId, { resumeToken: joined.resumeToken }),
			...(terms ? { termsSha256: terms.sha256 } : {}),
		});
		client = session;
		printSessionEvents(session, out, { linkServer: transport.origin });
		if (capture && input) {
			desktop = await attachDesktop({
				session,
				input,
				capture,
				out,
				name: displayName,
				supporterName: () => session.state?.takeover?.name || "The supporter",
				socket: () => socket,
			});
		}

		const report = (what: string) => (err: unknown) =>
			out.event(
				"error",
				{ source: "cli", code: "ACTION_FAILED", message: `${what}: ${(err as Error).message}` },
				`Could not ${what}: ${(err as Error).message}`,
			);
		const act = (action: string, text: string, run: () => Promise<void>) =>
			run().then(() => out.event("action", { action }, text), report(action));

		// One question at a time, in the order the requests came.
		let questions: Promise<unknown> = Promise.resolve();
		const decide = (flag: boolean, question: string): Promise<boolean> => {
			const answer = questions.then(() =>
				flag ? true : keys.enabled ? keys.ask(write, question) : false,
			);
			questions = answer.catch(() => false);
			return answer;
		};
		session.on("control", ({ message, verified }) => {
			if (verified === false) return;
			switch (message.type) {
				case "view.request":
					void decide(values["grant-view"], "Show your screen to the supporter?").then((yes) =>
						yes
							? act("view.grant", "You are showing your screen.", () => session.grantView())
							: act("view.deny", "Declined to show your screen.", () => session.denyView()),
					);
					return;
				case "control.request":
					void decide(
						values["grant-control"],
						"Give the supporter control of mouse and keyboard?",
					).then((yes) =>
						yes
							? act("control.grant", "Remote control granted (press s to stop).", () =>
									session.grantControl(),
								)
							: act("control.deny", "Remote control declined.", () => session.denyControl()),
					);
					return;
				case "file.offer": {
					const id = message.id;
					void decide(
						values["allow-files"],
						`Accept the file ${message.name} (${message.size} bytes)?`,
					).then((yes) =>
						yes
							? act("file.accept", "File accepted.", () => session.acceptFile(id))
							: act("file.reject", "File declined.", () => session.rejectFile(id)),
					);
					return;
				}
				default:
			}
		});

		let stopping = false;
		const stop = () => {
			if (stopping) return;
			stopping = true;
			out.say("STOP: ending remote access now.");
			// Input stops on this PC now, not when the relay's answer comes back.
			desktop?.control.stopLocally("terminal");
			void act("stop", "Stopped.", () => session.stop());
		};
		keys.onKey((key) => {
			if (key === "s" || key === "S" || key === "ctrl-c") stop();
		});
		// Ctrl+C without a terminal (a script, a signal) means STOP too: never leave access open.
		process.once("SIGINT", stop);
		process.once("SIGTERM", stop);

		let sentTerms = false;
		let sentChat = false;
		const onReady = () => {
			const state = session.state;
			if (!session.sas || !state || state.phase !== "active") return;
			if (terms && !state.termsAccepted && !sentTerms) {
				sentTerms = true;
				void act("terms.accept", "Terms accepted.", () => session.acceptTerms());
			}
			if (values.chat && !sentChat && (!state.termsRequired || state.termsAccepted)) {
				sentChat = true;
				const text = values.chat;
				void act("chat", "Chat message sent.", async () => {
					await session.send("chat", 0, new TextEncoder().encode(text));
				});
			}
		};
		session.on("ready", onReady);
		session.on("state", onReady);
		if (stopAfterMs !== null) {
			void session
				.whenReady(2 ** 31 - 1)
				.then(() => sleep(stopAfterMs))
				.then(stop, () => {});
		}

		const closed = session.waitFor("closed", () => true, 2 ** 31 - 1);
		let ended = false;
		session.on("end", () => {
			ended = true;
		});
		await session.connect();
		out.say(keys.enabled ? "Connected. Press s at any time to STOP." : "Connected.");
		const result = await closed;
		process.off("SIGINT", stop);
		process.off("SIGTERM", stop);
		out.event("closed", result, null);
		return ended ? 0 : 1;
	} catch (err) {
		client?.close();
		throw explain(err, transport);
	} finally {
		await desktop?.close();
		keys.close();
		await transport.close();
	}
}

function safeUserName(): string {
	try {
		return userInfo().username.slice(0, 80) || "Customer";
	} catch {
		return "Customer"; // no passwd entry (containers): a neutral name is fine
	}
}

function parse(argv: string[]) {
	return parseArgs({
		args: argv,
		allowPositionals: true,
		options: {
			...CONNECTION_OPTIONS,
			name: { type: "string" },
			lang: { type: "string" },
			"accept-terms": { type: "boolean", default: false },
			"grant-view": { type: "boolean", default: false },
			"grant-control": { type: "boolean", default: false },
			"allow-files": { type: "boolean", default: false },
			chat: { type: "string" },
			capture: { type: "string" },
			"stop-after-ms": { type: "string" },
		},
	});
}
