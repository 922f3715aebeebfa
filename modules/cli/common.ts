/**
 * What the `support` and `join` commands share: the connection flags, output as text for people
 * or JSON lines for scripts, single-key input on a terminal, and the session events both print.
 */
import { readFileSync } from "node:fs";
import { emitKeypressEvents } from "node:readline";
import { linkPagePath, splitLinks } from "../../protocol/links.ts";
import { ApiError } from "../sdk/api.ts";
import type { SessionClient } from "../sdk/session.ts";
import {
	createTrustedTransport,
	defaultTrustFile,
	TrustError,
	type TrustedTransport,
} from "./tls.ts";

/** A failure the user can act on; printed without a stack. */
export class CliError extends Error {
	override name = "CliError";
	readonly exitCode: number;
	constructor(message: string, exitCode = 1) {
		super(message);
		this.exitCode = exitCode;
	}
}

/**
 * Parses a command's arguments: a usage error becomes exit code 2 with the usage text, and
 * `--help` prints the usage. Returns null when help was printed (the command then exits 0).
 */
export function parseCommand<T extends { values: { help?: boolean | undefined } }>(
	parse: () => T,
	usage: string,
): T | null {
	let parsed: T;
	try {
		parsed = parse();
	} catch (err) {
		throw new CliError(`${(err as Error).message}\n\n${usage}`, 2);
	}
	if (parsed.values.help) {
		process.stdout.write(`${usage}\n`);
		return null;
	}
	return parsed;
}

/** The flags every module command takes (node:util parseArgs options). */
export const CONNECTION_OPTIONS = {
	url: { type: "string" },
	ca: { type: "string" },
	fingerprint: { type: "string" },
	"pin-ca": { type: "boolean", default: false },
	"trust-file": { type: "string" },
	json: { type: "boolean", default: false },
	help: { type: "boolean", short: "h", default: false },
} as const;

/** Help text for {@link CONNECTION_OPTIONS}. */
export const CONNECTION_USAGE = `  --url URL            the server (default $FERNWART_URL or https://localhost:8443)
  --fingerprint SHA256 trust exactly this certificate (the AB:CD:… value the server prints)
  --ca FILE            trust certificates issued by this CA (PEM); default: the system store
  --pin-ca             with --ca: pin the CA, not the certificate, so the admin may renew it
  --trust-file FILE    where pins are kept (default ~/.config/fernwart/known-servers.json)
  --json               print one JSON object per line instead of text`;

/** Builds the pinned transport from the connection flags. */
export function openTransport(values: {
	url?: string | undefined;
	ca?: string | undefined;
	fingerprint?: string | undefined;
	"pin-ca"?: boolean | undefined;
	"trust-file"?: string | undefined;
}): TrustedTransport {
	const url = values.url ?? process.env.FERNWART_URL ?? "https://localhost:8443";
	let ca: string | undefined;
	if (values.ca) {
		try {
			ca = readFileSync(values.ca, "utf8");
		} catch (err) {
			throw new CliError(`cannot read --ca ${values.ca}: ${(err as Error).message}`, 2);
		}
	}
	try {
		return createTrustedTransport({
			url,
			...(ca ? { ca } : {}),
			...(values.fingerprint ? { fingerprint: values.fingerprint } : {}),
			...(values["pin-ca"] ? { pinCa: true } : {}),
			trustFile: values["trust-file"] ?? defaultTrustFile(),
		});
	} catch (err) {
		if (err instanceof TrustError) throw new CliError(err.message, 2);
		if (err instanceof TypeError) throw new CliError(`not a URL: ${url}`, 2);
		throw err;
	}
}

/** Turns SDK and trust failures into messages a person can act on. */
export function explain(err: unknown, transport?: TrustedTransport): CliError {
	if (err instanceof CliError) return err;
	if (err instanceof ApiError) {
		// A refused certificate shows up as a network error; its own message says more.
		if (err.status === 0 && transport?.lastError instanceof TrustError) {
			return new CliError(transport.lastError.message, 3);
		}
		return new CliError(`${err.code}: ${err.message}`, err.status === 0 ? 3 : 1);
	}
	if (err instanceof TrustError) return new CliError(err.message, 3);
	return new CliError(err instanceof Error ? err.message : String(err));
}

/** Prints events: text lines for people, or one JSON object per line for scripts. */
export class Output {
	readonly json: boolean;
	readonly #write: (text: string) => void;

	constructor(json: boolean, write: (text: string) => void = (t) => process.stdout.write(t)) {
		this.json = json;
		this.#write = write;
	}

	/** One event; `text` is what a person reads (omitted in JSON mode, and null prints nothing). */
	event(event: string, data: Record<string, unknown>, text: string | null): void {
		if (this.json) {
			this.#write(
				`${JSON.stringify({ event, ...data }, (_k, v) => (typeof v === "bigint" ? v.toString() : v))}\n`,
			);
		} else if (text !== null) {
			this.#write(`${text}\n`);
		}
	}

	/** Text only for people (prompts, help); nothing in JSON mode. */
	say(text: string): void {
		if (!this.json) this.#write(`${text}\n`);
	}
}

/**
 * A chat message as the terminal shows it: the text as sent, then for each http(s) link in it
 * (found as the web chat finds them) the server's warning page `/link?u=…`, so that whoever
 * opens it first sees where it leads. Without `server`, just the text.
 */
export function formatChatText(text: string, server?: string): string {
	return [
		`Chat: ${text}`,
		...chatLinks(text, server).map((link) => `  Link (opens the warning page): ${link}`),
	].join("\n");
}

/** The warning-page URLs on `server` for the http(s) links in `text`, in order; none without it. */
export function chatLinks(text: string, server?: string): string[] {
	if (!server) return [];
	return splitLinks(text).flatMap((part) =>
		"url" in part ? [new URL(linkPagePath(part.url), server).href] : [],
	);
}

/** The JSON fields of a chat frame: its text and, with a server, its warning-page links. */
function chatFields(payload: Uint8Array, server?: string): Record<string, unknown> {
	const text = new TextDecoder().decode(payload);
	const links = chatLinks(text, server);
	return links.length ? { text, links } : { text };
}

/**
 * Prints the events both roles see; returns a function that removes the listeners. With
 * `linkServer` (the server's origin), links in chat messages are also shown as its warning page.
 */
export function printSessionEvents(
	client: SessionClient,
	out: Output,
	options: { linkServer?: string } = {},
): () => void {
	let lastState: string | null = null;
	const offs = [
		client.on("ready", ({ sas }) =>
			out.event(
				"sas",
				{ sas },
				`Security code: ${sas.slice(0, 3)} ${sas.slice(3)} — compare it with the other side; ` +
					"if it differs, end the session.",
			),
		),
		client.on("state", (state) => {
			// Every state goes out as JSON; people see a line only when what it says changed.
			const text = describeState(state, client.role);
			out.event("state", { state }, text === lastState ? null : text);
			lastState = text;
		}),
		client.on("control", ({ message, verified }) => {
			if (message.type === "key.reveal") return;
			out.event(
				"control",
				{ message, verified },
				verified === false
					? `Ignored ${message.type}: its signature did not verify.`
					: describeControl(message),
			);
		}),
		client.on("frame", (frame) => {
			// Input frames are not logged, not even their sizes: a journal line per key press would
			// record the timing of what the supporter types (passwords included).
			if (frame.channelName === "input") return;
			out.event(
				"frame",
				{
					channel: frame.channelName,
					stream: frame.stream,
					seq: frame.seq,
					bytes: frame.payload.length,
					...(frame.channelName === "chat" ? chatFields(frame.payload, options.linkServer) : {}),
				},
				frame.channelName === "chat"
					? formatChatText(new TextDecoder().decode(frame.payload), options.linkServer)
					: null,
			);
		}),
		client.on("rejected", (r) =>
			out.event(
				"rejected",
				{ reason: r.reason, channel: r.channel, seq: r.seq },
				`Dropped a frame that failed to open (${r.reason}).`,
			),
		),
		client.on("reconnecting", (r) =>
			out.event("reconnecting", r, `Connection lost; reconnecting (attempt ${r.attempt})…`),
		),
		client.on("open", ({ resumed }) =>
			out.event("open", { resumed }, resumed ? "Reconnected." : null),
		),
		client.on("error", (e) =>
			out.event("error", { ...e }, `${e.fatal ? "Error" : "Note"}: ${e.code}: ${e.message}`),
		),
		client.on("end", (e) =>
			out.event(
				"end",
				{ ...e },
				e.reason === "stopped"
					? `The session was stopped${e.by ? ` by the ${e.by}` : ""}.`
					: e.reason === "refused"
						? "The supporter did not admit this participant. The session has ended."
						: e.reason === "taken-over"
							? "An administrator took over this session; you are disconnected."
							: `The session ${e.reason === "expired" ? "expired" : "ended"}.`,
			),
		),
	];
	return () => {
		for (const off of offs) off();
	};
}

function yesNo(value: boolean): string {
	return value ? "yes" : "no";
}

/** One line on what may flow now, from this role's point of view. */
export function describeState(
	state: NonNullable<SessionClient["state"]>,
	role: "supporter" | "customer" | "host",
): string {
	const other =
		role !== "supporter" ? "supporter" : state.connected.includes("host") ? "host" : "customer";
	const parts = [
		`peer ${state.connected.includes(other) ? "connected" : "not connected"}`,
		`phase ${state.phase}`,
	];
	if (state.admission) parts.push(`admission: ${state.admission.status}`);
	if (state.termsRequired) parts.push(`terms accepted: ${yesNo(state.termsAccepted)}`);
	parts.push(`screen shown by: ${state.shower ?? "nobody"}`);
	parts.push(`control: ${state.controller ?? "nobody"}`);
	return `State: ${parts.join(", ")}`;
}

/** A control message from the peer as one line for people. */
export function describeControl(message: { type: string } & Record<string, unknown>): string {
	switch (message.type) {
		case "view.request":
			return "The other side asks you to show your screen.";
		case "view.grant":
			return "The other side shows its screen now.";
		case "view.deny":
			return "The other side declined to show its screen.";
		case "view.revoke":
			return "The other side stopped showing its screen.";
		case "control.request":
			return "The other side asks for remote control.";
		case "control.grant":
			return "Remote control granted.";
		case "control.deny":
			return "Remote control declined.";
		case "control.revoke":
			return "Remote control revoked.";
		case "terms.accept":
			return "The customer accepted the terms.";
		case "file.offer":
			return `File offered: ${String(message.name)} (${message.size === 1 ? "1 byte" : `${String(message.size)} bytes`})`;
		case "file.accept":
			return `File ${String(message.id)} accepted.`;
		case "file.reject":
			return `File ${String(message.id)} declined.`;
		case "file.done":
			return `File ${String(message.id)} complete.`;
		case "comment":
			return `Comment: ${String(message.text)}`;
		default:
			return message.type;
	}
}

/**
 * Single keys from a terminal, and yes/no questions that wait for y or n. Only on a TTY: a
 * script's stdin is left alone, and the flags decide instead.
 */
export class Keys {
	readonly enabled: boolean;
	#handler: ((key: string) => void) | null = null;
	#question: ((yes: boolean) => void) | null = null;
	#line: { text: string; done: (text: string | null) => void } | null = null;
	readonly #onKeypress = (str: string | undefined, key: { name?: string; ctrl?: boolean }) =>
		this.#key(str, key);

	constructor(enabled: boolean) {
		this.enabled = enabled && process.stdin.isTTY === true;
		if (!this.enabled) return;
		emitKeypressEvents(process.stdin);
		process.stdin.setRawMode(true);
		process.stdin.on("keypress", this.#onKeypress);
		process.stdin.resume();
	}

	/** Called with each key that is not an answer to a question (`ctrl-c` for Ctrl+C). */
	onKey(handler: (key: string) => void): void {
		this.#handler = handler;
	}

	/** Asks a y/n question; resolves with the answer. */
	ask(write: (text: string) => void, question: string): Promise<boolean> {
		write(`${question} [y/n] `);
		return new Promise((resolve) => {
			this.#question = (yes) => {
				write(yes ? "yes\n" : "no\n");
				resolve(yes);
			};
		});
	}

	/** Reads one line (Enter ends it, Escape cancels with null). */
	readLine(write: (text: string) => void, prompt: string): Promise<string | null> {
		write(prompt);
		return new Promise((resolve) => {
			this.#line = { text: "", done: resolve };
		});
	}

	#key(str: string | undefined, key: { name?: string; ctrl?: boolean }): void {
		if (key?.ctrl && key.name === "c") {
			this.#handler?.("ctrl-c");
			return;
		}
		const line = this.#line;
		if (line) {
			if (key?.name === "return" || key?.name === "enter") {
				this.#line = null;
				process.stdout.write("\n");
				line.done(line.text);
			} else if (key?.name === "escape") {
				this.#line = null;
				process.stdout.write("\n");
				line.done(null);
			} else if (key?.name === "backspace") {
				line.text = line.text.slice(0, -1);
			} else if (str && str >= " ") {
				line.text += str;
				process.stdout.write(str);
			}
			return;
		}
		const question = this.#question;
		if (question && (str === "y" || str === "n" || str === "Y" || str === "N")) {
			this.#question = null;
			question(str.toLowerCase() === "y");
			return;
		}
		if (str) this.#handler?.(str);
	}

	/** Gives the terminal back. */
	close(): void {
		if (!this.enabled) return;
		process.stdin.off("keypress", this.#onKeypress);
		process.stdin.setRawMode(false);
		process.stdin.pause();
	}
}

/** Resolves after `ms`; the timer does not keep the process alive on its own. */
export function sleep(ms: number): Promise<void> {
	return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** Parses a non-negative integer flag. */
export function parseMs(value: string | undefined, flag: string): number | null {
	if (value === undefined) return null;
	const n = Number(value);
	if (!Number.isInteger(n) || n < 0)
		throw new CliError(`${flag} needs a number of milliseconds`, 2);
	return n;
}
