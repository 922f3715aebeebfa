/**
 * How the CLI modules trust a server: by the system store, by `--ca FILE`, or by the SHA-256
 * fingerprint the launcher prints (`--fingerprint`). Whatever made the first contact trusted, the
 * certificate it presented is pinned per origin in a small trust file, and from then on only that
 * certificate is accepted: a changed one is refused until the user passes its new fingerprint,
 * which they can only have from the server's admin.
 *
 * One undici Agent with a wrapping connector serves both fetch and the WebSocket, so the HTTP
 * calls and the session socket are held to the same check on every new TLS connection.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import type { TLSSocket } from "node:tls";
import { Agent, buildConnector, WebSocket as UndiciWebSocket, fetch as undiciFetch } from "undici";
import * as z from "zod";
import type { FetchLike } from "../sdk/api.ts";
import type { WebSocketFactory, WebSocketLike } from "../sdk/session.ts";

/** A refusal to talk to a server whose certificate is not trusted. */
export class TrustError extends Error {
	override name = "TrustError";
}

const FINGERPRINT_HEX = /^[0-9A-F]{64}$/;

/**
 * Normalises a SHA-256 fingerprint to `AB:CD:…` (what the launcher, browsers and Node print).
 * Accepts any case, with or without colons or spaces; throws on anything else.
 */
export function normalizeFingerprint(input: string): string {
	const hex = input.replace(/[\s:]/g, "").toUpperCase();
	if (!FINGERPRINT_HEX.test(hex)) {
		throw new TrustError("a fingerprint is 64 hex digits (SHA-256), e.g. AB:CD:…");
	}
	return hex.replace(/(..)(?!$)/g, "$1:");
}

/** The default trust file: `$XDG_CONFIG_HOME/fernwart/known-servers.json` (or ~/.config/…). */
export function defaultTrustFile(env: NodeJS.ProcessEnv = process.env): string {
	if (env.FERNWART_TRUST_FILE) return env.FERNWART_TRUST_FILE;
	const base = env.XDG_CONFIG_HOME || join(homedir(), ".config");
	return join(base, "fernwart", "known-servers.json");
}

const trustFileSchema = z.object({
	version: z.literal(1),
	servers: z.record(
		z.string(),
		z.object({ fingerprint: z.string(), pinnedAt: z.string() }).loose(),
	),
});
type TrustFile = z.infer<typeof trustFileSchema>;

/** Reads the trust file; a missing file is empty, a damaged one is an error (never ignored). */
export function readTrustFile(path: string): TrustFile {
	let text: string;
	try {
		text = readFileSync(path, "utf8");
	} catch (err) {
		if ((err as NodeJS.ErrnoException).code === "ENOENT") return { version: 1, servers: {} };
		throw new TrustError(`cannot read the trust file ${path}: ${(err as Error).message}`);
	}
	let json: unknown;
	try {
		json = JSON.parse(text);
	} catch {
		json = null;
	}
	const parsed = trustFileSchema.safeParse(json);
	// Silently starting over would forget every pin, which is exactly what an attacker wants.
	if (!parsed.success) throw new TrustError(`the trust file ${path} is damaged; fix or remove it`);
	return parsed.data;
}

/** Writes the pin for `origin` (atomically, mode 0600 in a 0700 folder). */
export function pinServer(path: string, origin: string, fingerprint: string): void {
	const file = readTrustFile(path);
	file.servers[origin] = { fingerprint, pinnedAt: new Date().toISOString() };
	mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
	const tmp = `${path}.${process.pid}.tmp`;
	writeFileSync(tmp, `${JSON.stringify(file, null, "\t")}\n`, { mode: 0o600 });
	renameSync(tmp, path);
}

/** Options of {@link createTrustedTransport}. */
export interface TrustOptions {
	/** The server's URL; only its origin matters. */
	url: string | URL;
	/** PEM of a CA (or the server's own certificate) to verify the chain against. */
	ca?: string;
	/** The fingerprint the admin gave out; overrides (and replaces) an existing pin. */
	fingerprint?: string;
	trustFile: string;
}

/** fetch and WebSocket for one server, both bound to the trust decision. */
export interface TrustedTransport {
	origin: string;
	fetch: FetchLike;
	webSocket: WebSocketFactory;
	/** The certificate fingerprint the server presented, once a connection was made. */
	readonly seenFingerprint: string | null;
	/** Why the last TLS connection was refused, if it was. */
	readonly lastError: Error | null;
	close(): Promise<void>;
}

/**
 * Builds the transport. The rule, in order: an explicit `--fingerprint`, else the pin in the
 * trust file, must equal the presented certificate's SHA-256 (host names and chains do not matter
 * then: the admin vouched for this exact certificate). Without either, the chain must verify
 * against `--ca` or the system store, and the certificate is pinned on that first contact.
 */
export function createTrustedTransport(options: TrustOptions): TrustedTransport {
	const url = new URL(options.url);
	if (url.protocol !== "https:") throw new TrustError("the server URL must be https://");
	const origin = url.origin;
	const pinned = readTrustFile(options.trustFile).servers[origin]?.fingerprint ?? null;
	const given = options.fingerprint ? normalizeFingerprint(options.fingerprint) : null;
	const expected = given ?? (pinned ? normalizeFingerprint(pinned) : null);

	const base = buildConnector({
		// A resumed TLS session shows no certificate, so every connection does a full handshake
		// and is checked on its own.
		maxCachedSessions: 0,
		...(expected
			? // The fingerprint below is the whole check; CA and host name would only add false refusals.
				{ rejectUnauthorized: false }
			: { rejectUnauthorized: true, ...(options.ca ? { ca: options.ca } : {}) }),
	});
	let seen: string | null = null;
	let lastError: Error | null = null;
	let wrotePin = false;
	const refuse = (err: Error, callback: buildConnector.Callback) => {
		lastError = err;
		callback(err, null);
	};

	const connector: buildConnector.connector = (opts, callback) => {
		base(opts, (err, socket) => {
			if (err || !socket) {
				refuse(explainTlsError(err ?? new Error("no socket"), origin), callback);
				return;
			}
			const fingerprint = (socket as TLSSocket).getPeerCertificate?.().fingerprint256;
			if (!fingerprint) {
				socket.destroy();
				refuse(new TrustError(`${origin} presented no certificate`), callback);
				return;
			}
			if (expected && fingerprint !== expected) {
				socket.destroy();
				refuse(
					changedCertificate(origin, fingerprint, expected, given !== null, options),
					callback,
				);
				return;
			}
			seen = fingerprint;
			if (!wrotePin && pinned !== fingerprint) {
				// First contact, or the user gave the admin's new fingerprint: remember it.
				pinServer(options.trustFile, origin, fingerprint);
				wrotePin = true;
			}
			callback(null, socket);
		});
	};
	const agent = new Agent({ connect: connector });

	return {
		origin,
		fetch: (input, init) => undiciFetch(input, { ...init, dispatcher: agent }),
		webSocket: (socketUrl: string): WebSocketLike =>
			new UndiciWebSocket(socketUrl, { dispatcher: agent }),
		get seenFingerprint() {
			return seen;
		},
		get lastError() {
			return lastError;
		},
		close: () => agent.close(),
	};
}

function changedCertificate(
	origin: string,
	presented: string,
	expected: string,
	explicit: boolean,
	options: TrustOptions,
): TrustError {
	if (explicit) {
		return new TrustError(
			`${origin} presented the certificate ${presented}, not the fingerprint given with ` +
				`--fingerprint (${expected}). Refusing to connect.`,
		);
	}
	return new TrustError(
		`${origin} presented a different certificate than the one pinned in ${options.trustFile}.\n` +
			`  pinned:    ${expected}\n  presented: ${presented}\n` +
			"Someone may be intercepting the connection. If the admin replaced the certificate, check " +
			"the new fingerprint with them and run again with --fingerprint <new fingerprint>.",
	);
}

function explainTlsError(err: Error, origin: string): Error {
	const code = (err as NodeJS.ErrnoException).code ?? "";
	if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)) {
		return new TrustError(
			`the certificate of ${origin} is not trusted (${err.message}). Pass --fingerprint with the ` +
				"SHA-256 fingerprint the server prints at start (ask its admin), or --ca FILE.",
		);
	}
	return err;
}
