/**
 * How the CLI modules trust a server: by the system store, by `--ca FILE`, or by the SHA-256
 * fingerprint the launcher prints (`--fingerprint`). Whatever made the first contact trusted, the
 * certificate it presented is pinned per origin in a small trust file, and from then on only that
 * certificate is accepted: a changed one is refused until the user passes its new fingerprint,
 * which they can only have from the server's admin.
 *
 * Two ways let an admin replace the certificate without anyone re-pinning by hand
 * (docs/operations.md "Certificates"):
 * - `--ca FILE --pin-ca` pins the CA instead of the leaf: any certificate that CA issues for the
 *   server's host name is accepted (the chain and the name are checked, the system store is not
 *   consulted);
 * - rollover: a server with `TLS_NEXT_CERT` announces the next certificate's fingerprint at
 *   `GET /api/v1/tls`. A module reads it over the connection its pin verified and keeps it as
 *   `next`; when the server presents that certificate, the module accepts it and makes it the pin.
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
		z
			.object({
				/** The pinned leaf certificate (absent when a CA is pinned). */
				fingerprint: z.string().optional(),
				/** The certificate the server announced to replace it (rollover). */
				next: z.string().optional(),
				/** A pinned CA (PEM) instead of a leaf. */
				ca: z.string().optional(),
				pinnedAt: z.string(),
			})
			.loose(),
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

/** What is pinned for one origin: a leaf (with an announced next one) or a CA. */
export type Pin = { fingerprint: string; next?: string } | { ca: string };

/**
 * Writes the pin for `origin` (atomically, mode 0600 in a 0700 folder). A fingerprint string
 * pins that leaf and forgets any `next`; a {@link Pin} object is stored as given.
 */
export function pinServer(path: string, origin: string, pin: string | Pin): void {
	const file = readTrustFile(path);
	const entry = typeof pin === "string" ? { fingerprint: pin } : pin;
	file.servers[origin] = { ...entry, pinnedAt: new Date().toISOString() };
	mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
	const tmp = `${path}.${process.pid}.tmp`;
	writeFileSync(tmp, `${JSON.stringify(file, null, "\t")}\n`, { mode: 0o600 });
	renameSync(tmp, path);
}

/** A module asks for an announced next certificate on a new verified connection, at most this often. */
const ROLLOVER_CHECK_MS = 5_000;
const tlsInfoSchema = z.object({ next: z.string().nullable() }).loose();

/** Options of {@link createTrustedTransport}. */
export interface TrustOptions {
	/** The server's URL; only its origin matters. */
	url: string | URL;
	/** PEM of a CA (or the server's own certificate) to verify the chain against. */
	ca?: string;
	/** The fingerprint the admin gave out; overrides (and replaces) an existing pin. */
	fingerprint?: string;
	/** With `ca`: pin that CA for this origin instead of the leaf it issued. */
	pinCa?: boolean;
	trustFile: string;
}

/** fetch and WebSocket for one server, both bound to the trust decision. */
export interface TrustedTransport {
	origin: string;
	fetch: FetchLike;
	webSocket: WebSocketFactory;
	/** A GET whose whole answer (a streamed body) is wanted, e.g. a module download. */
	fetchStream(url: string, init?: { headers?: Record<string, string> }): Promise<Response>;
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
	const entry = readTrustFile(options.trustFile).servers[origin];
	const given = options.fingerprint ? normalizeFingerprint(options.fingerprint) : null;
	if (options.pinCa && !options.ca) throw new TrustError("--pin-ca needs --ca FILE");
	// A pinned CA (or one being pinned now) replaces the leaf check, unless a fingerprint is given.
	const pinnedCa = given ? null : options.pinCa ? (options.ca ?? null) : (entry?.ca ?? null);
	let pinned = entry?.fingerprint ? normalizeFingerprint(entry.fingerprint) : null;
	let next = entry?.next ? normalizeFingerprint(entry.next) : null;
	let expected = given ?? (pinnedCa ? null : pinned);

	const base = buildConnector({
		// A resumed TLS session shows no certificate, so every connection does a full handshake
		// and is checked on its own.
		maxCachedSessions: 0,
		...(expected
			? // The fingerprint below is the whole check; CA and host name would only add false refusals.
				{ rejectUnauthorized: false }
			: {
					rejectUnauthorized: true,
					...((pinnedCa ?? options.ca) ? { ca: pinnedCa ?? options.ca } : {}),
				}),
	});
	let seen: string | null = null;
	let lastError: Error | null = null;
	let wrotePin = false;
	let checkedAt = Number.NEGATIVE_INFINITY;
	const refuse = (err: Error, callback: buildConnector.Callback) => {
		lastError = err;
		callback(err, null);
	};
	// Over a connection the pin verified, ask whether the server announced its next certificate.
	const learnNext = async () => {
		try {
			const res = await undiciFetch(`${origin}/api/v1/tls`, { dispatcher: agent });
			const body = tlsInfoSchema.safeParse(await res.json());
			if (!res.ok || !body.success || !body.data.next) return;
			const announced = normalizeFingerprint(body.data.next);
			if (announced === expected || announced === next) return;
			next = announced;
			if (expected) pinServer(options.trustFile, origin, { fingerprint: expected, next });
		} catch {
			// An older server, or the connection went away: the next contact asks again.
		}
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
			if (expected && fingerprint !== expected && fingerprint === next && !given) {
				// The certificate the server announced over the old pin: it is the pin from now on.
				expected = fingerprint;
				wrotePin = false;
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
			if (pinnedCa) {
				// The CA is the pin: the leaf may change whenever the admin renews it.
				if (!wrotePin && (entry?.ca !== pinnedCa || entry?.fingerprint)) {
					pinServer(options.trustFile, origin, { ca: pinnedCa });
				}
				wrotePin = true;
			} else if (!wrotePin && pinned !== fingerprint) {
				// First contact, the user gave the admin's new fingerprint, or the announced next
				// certificate arrived: remember it, and hold every later connection of this process
				// to it too (a reconnect must not fall back to the CA chain alone).
				pinServer(options.trustFile, origin, fingerprint);
				pinned = fingerprint;
				next = null;
				wrotePin = true;
				expected ??= fingerprint;
			}
			callback(null, socket);
			if (expected && Date.now() - checkedAt >= ROLLOVER_CHECK_MS) {
				checkedAt = Date.now();
				void learnNext();
			}
		});
	};
	const agent = new Agent({ connect: connector });

	return {
		origin,
		fetch: (input, init) => undiciFetch(input, { ...init, dispatcher: agent }),
		fetchStream: (input, init) =>
			undiciFetch(input, { ...init, dispatcher: agent }) as unknown as Promise<Response>,
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
				"SHA-256 fingerprint the server prints at start (ask its admin; the enrolment command on " +
				"the admin page includes it), or --ca FILE.",
		);
	}
	return err;
}
