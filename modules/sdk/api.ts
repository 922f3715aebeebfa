/**
 * A small typed client for the HTTP API the modules need: login, issuing and joining support
 * sessions, WebSocket tickets. Isomorphic: the caller injects `fetch` (a browser's own, or Node's
 * undici one with a pinned certificate), so this file holds no TLS policy and no `node:` import.
 *
 * Every answer is validated with zod before it is used: the server is trusted to authenticate,
 * not to be bug-free, and a module must never act on a half-understood response.
 */
import * as z from "zod";
import { consentStateSchema, sessionIdSchema } from "../../protocol/control.ts";

/** The part of a `Response` this client reads; browsers' and undici's both fit. */
export interface FetchResponseLike {
	status: number;
	headers: { get(name: string): string | null };
	text(): Promise<string>;
}

/** The part of `fetch` this client calls. Pass `globalThis.fetch` or undici's `fetch`. */
export type FetchLike = (
	url: string,
	init: { method: string; headers: Record<string, string>; body?: string },
) => Promise<FetchResponseLike>;

/**
 * A refusal from the server (`{"error":{"code","message"}}`), or a transport failure with
 * `status` 0 and code `NETWORK`, or an answer that did not match the contract (`BAD_RESPONSE`).
 */
export class ApiError extends Error {
	override name = "ApiError";
	/** HTTP status; 0 when no answer arrived. */
	readonly status: number;
	/** Stable error code, e.g. `SESSION_NOT_FOUND`; clients branch on this, not on the message. */
	readonly code: string;
	/** Seconds from `Retry-After` on 429 and 503 answers, if the server sent one. */
	readonly retryAfterSeconds: number | undefined;

	constructor(status: number, code: string, message: string, retryAfterSeconds?: number) {
		super(message);
		this.status = status;
		this.code = code;
		this.retryAfterSeconds = retryAfterSeconds;
	}
}

const errorBodySchema = z.object({
	error: z.object({ code: z.string(), message: z.string().optional() }),
});

/** Objects are not strict here: a newer server may add fields, which this client then ignores. */
const loginSchema = z.object({
	accessToken: z.string().min(1),
	refreshToken: z.string().min(1).optional(),
	expiresIn: z.number(),
	totpEnrolmentRequired: z.boolean().optional(),
	user: z.object({ id: z.string(), email: z.string(), role: z.string() }),
});
/** The answer to a successful login. */
export type LoginResult = z.infer<typeof loginSchema>;

const createdSessionSchema = z.object({
	sessionId: sessionIdSchema,
	code: z.string().regex(/^\d{8}$/, "code must be 8 digits"),
	/** When the code stops working (ms since the Unix epoch). */
	expiresAt: z.number(),
});
/** A freshly issued support session: the 8-digit code is what the supporter reads out. */
export type CreatedSession = z.infer<typeof createdSessionSchema>;

const termsSchema = z.object({
	text: z.string(),
	sha256: z.string().regex(/^[0-9a-f]{64}$/, "terms sha256 must be 64 lowercase hex"),
	/** The language of `text` (an older server sends none). */
	lang: z.string().optional(),
});
/** Support terms the customer must accept, with the digest its signed acceptance names. */
export type Terms = z.infer<typeof termsSchema>;

const joinedSessionSchema = z.object({
	sessionId: sessionIdSchema,
	ticket: z.string().min(1),
	resumeToken: z.string().min(1),
	terms: termsSchema.nullable().optional(),
	/** The supporter's name and picture URL (same origin; absent from an older server). */
	supporter: z.object({ name: z.string(), pictureUrl: z.string().nullable() }).optional(),
	/** The customer may ask for a copy of the protocol by e-mail; absent from older servers. */
	protocolCopy: z.boolean().optional(),
});
/** What a customer gets for a valid code: the first ticket and the token for later ones. */
export type JoinedSession = z.infer<typeof joinedSessionSchema>;

const ticketSchema = z.object({ ticket: z.string().min(1) });

const sessionInfoSchema = z.looseObject({
	sessionId: sessionIdSchema,
	view: z.enum(["customer", "supporter"]),
	termsRequired: z.boolean(),
	customerName: z.string().nullable(),
	createdAt: z.number(),
	expiresAt: z.number(),
	joinedAt: z.number().nullable(),
	endedAt: z.number().nullable(),
	endReason: z.string().nullable(),
	/** The relay's live consent state; null once the relay no longer knows the session. */
	state: consentStateSchema.nullable(),
});
/** The server's view of a session (supporters and admins); extra fields are kept as they are. */
export type SessionInfo = z.infer<typeof sessionInfoSchema>;

/** How a ticket request authenticates: the supporter's access token or the customer's token. */
export type TicketCredentials = { accessToken: string } | { resumeToken: string };

/** Options of {@link createApiClient}. */
export interface ApiClientOptions {
	/** The server's origin, e.g. `https://fernwart.example:8443`. */
	baseUrl: string | URL;
	fetch: FetchLike;
}

/** The typed HTTP API of a Fernwart server, as the modules use it. */
export interface ApiClient {
	/** Logs in; the access token is remembered for the supporter calls below. */
	login(input: { email: string; password: string; totp?: string }): Promise<LoginResult>;
	/** The access token from {@link login}, or null. */
	readonly accessToken: string | null;
	/** Uses a token obtained elsewhere (e.g. a browser module that refreshed it). */
	setAccessToken(token: string | null): void;
	/**
	 * Trades the refresh token from {@link login} for a new access token (and the next refresh
	 * token). Supporter calls do this by themselves once when the access token has expired.
	 */
	refresh(): Promise<LoginResult>;
	/** Issues a support session (supporter). */
	createSession(input?: {
		view?: "customer" | "supporter";
		requireTerms?: boolean;
	}): Promise<CreatedSession>;
	/** Joins with the 8-digit code (customer, no account). */
	/** `lang` (`en`, `de`) asks for the terms in the language of the customer's page. */
	joinSession(input: {
		code: string;
		displayName: string;
		lang?: "en" | "de";
	}): Promise<JoinedSession>;
	/**
	 * The customer asks for a copy of the protocol by e-mail when the session ends (only when the
	 * join answer's `protocolCopy` is true). `agree` must be the customer's own explicit yes.
	 * Throws ApiError `INVALID_EMAIL`, `AGREEMENT_REQUIRED`, `PROTOCOL_MAIL_OFF` or `SESSION_ENDED`.
	 */
	requestProtocolCopy(
		sessionId: string,
		input: { resumeToken: string; email: string; agree: boolean; lang?: "en" | "de" },
	): Promise<void>;
	/** A fresh single-use WebSocket ticket, for the first connect or a resume. */
	ticket(sessionId: string, credentials?: TicketCredentials): Promise<string>;
	/** The session as the server sees it (supporter, admin). */
	getSession(sessionId: string): Promise<SessionInfo>;
	/** Ends the session for both sides (supporter, admin). */
	endSession(sessionId: string): Promise<void>;
}

/**
 * One JSON request: sends `body` as JSON with an optional Bearer token, parses the answer, and
 * throws {@link ApiError} for a network failure (status 0, code NETWORK) or an error answer (the
 * server's code, `Retry-After` when given). Shared by every client in the SDK.
 */
export async function requestJson(
	fetchFn: FetchLike,
	base: URL,
	method: string,
	path: string,
	body?: unknown,
	token: string | null = null,
): Promise<{ status: number; json: unknown }> {
	const headers: Record<string, string> = { accept: "application/json" };
	if (body !== undefined) headers["content-type"] = "application/json";
	if (token) headers.authorization = `Bearer ${token}`;
	let res: FetchResponseLike;
	try {
		res = await fetchFn(new URL(path, base).href, {
			method,
			headers,
			...(body !== undefined ? { body: JSON.stringify(body) } : {}),
		});
	} catch (err) {
		// The cause's message says why (refused, certificate changed); it holds no request data.
		const cause = err instanceof Error ? (err.cause ?? err) : err;
		const why = cause instanceof Error ? cause.message : String(cause);
		throw new ApiError(0, "NETWORK", `cannot reach ${base.origin}: ${why}`);
	}
	const text = await res.text();
	let json: unknown;
	try {
		json = text ? JSON.parse(text) : undefined;
	} catch {
		json = undefined; // a non-JSON body is judged below like any other unexpected answer
	}
	if (res.status >= 400) {
		const parsed = errorBodySchema.safeParse(json);
		const retry = Number(res.headers.get("retry-after") ?? Number.NaN);
		throw new ApiError(
			res.status,
			parsed.success ? parsed.data.error.code : `HTTP_${res.status}`,
			(parsed.success ? parsed.data.error.message : undefined) ?? `HTTP ${res.status}`,
			Number.isFinite(retry) && retry >= 0 ? retry : undefined,
		);
	}
	return { status: res.status, json };
}

/** Builds an {@link ApiClient} over the given `fetch`. */
export function createApiClient(options: ApiClientOptions): ApiClient {
	const base = new URL(options.baseUrl);
	let accessToken: string | null = null;
	let refreshToken: string | null = null;
	let refreshing: Promise<LoginResult> | null = null;

	/** Sends one request; returns the status and parsed JSON body, or throws the refusal. */
	const call = (method: string, path: string, body?: unknown, token: string | null = null) =>
		requestJson(options.fetch, base, method, path, body, token);
	const must = async <T>(
		method: string,
		path: string,
		schema: z.ZodType<T>,
		body?: unknown,
		token: string | null = null,
	): Promise<T> => {
		const { status, json } = await call(method, path, body, token);
		const parsed = schema.safeParse(json);
		if (parsed.success) return parsed.data;
		const issue = parsed.error.issues[0];
		const where = issue?.path.length ? ` at ${issue.path.join(".")}` : "";
		throw new ApiError(status, "BAD_RESPONSE", `unexpected answer from the server${where}`);
	};
	const requireToken = (): string => {
		if (!accessToken) throw new ApiError(401, "UNAUTHENTICATED", "log in first");
		return accessToken;
	};
	const refresh = (): Promise<LoginResult> => {
		// One refresh at a time: refresh tokens are single-use, and a second use revokes the login.
		refreshing ??= (async () => {
			try {
				if (!refreshToken) throw new ApiError(401, "UNAUTHENTICATED", "log in again");
				const result = await must("POST", "/api/v1/auth/refresh", loginSchema, { refreshToken });
				accessToken = result.accessToken;
				refreshToken = result.refreshToken ?? null;
				return result;
			} finally {
				refreshing = null;
			}
		})();
		return refreshing;
	};
	/** A supporter call; an expired access token (15 min) is refreshed once and the call retried. */
	const asUser = async <T>(call: (token: string) => Promise<T>): Promise<T> => {
		const token = requireToken();
		try {
			return await call(token);
		} catch (err) {
			if (!(err instanceof ApiError) || err.code !== "UNAUTHENTICATED" || !refreshToken) throw err;
			// Another call may have refreshed meanwhile; its token is then the one to use.
			const current = accessToken;
			return call(current && current !== token ? current : (await refresh()).accessToken);
		}
	};
	const sessionPath = (sessionId: string) => `/api/v1/sessions/${encodeURIComponent(sessionId)}`;

	return {
		get accessToken() {
			return accessToken;
		},
		setAccessToken(token) {
			accessToken = token;
			refreshToken = null;
		},
		async login(input) {
			const result = await must("POST", "/api/v1/auth/login", loginSchema, input);
			accessToken = result.accessToken;
			refreshToken = result.refreshToken ?? null;
			return result;
		},
		refresh,
		createSession(input = {}) {
			return asUser((token) =>
				must("POST", "/api/v1/sessions", createdSessionSchema, input, token),
			);
		},
		joinSession(input) {
			return must("POST", "/api/v1/sessions/join", joinedSessionSchema, input);
		},
		async requestProtocolCopy(sessionId, input) {
			await call("POST", `${sessionPath(sessionId)}/protocol-copy`, input);
		},
		async ticket(sessionId, credentials) {
			const path = `${sessionPath(sessionId)}/tickets`;
			const result =
				credentials && "resumeToken" in credentials
					? await must("POST", path, ticketSchema, { resumeToken: credentials.resumeToken })
					: credentials
						? await must("POST", path, ticketSchema, {}, credentials.accessToken)
						: await asUser((token) => must("POST", path, ticketSchema, {}, token));
			return result.ticket;
		},
		getSession(sessionId) {
			return asUser((token) =>
				must("GET", sessionPath(sessionId), sessionInfoSchema, undefined, token),
			);
		},
		async endSession(sessionId) {
			await asUser((token) => call("DELETE", sessionPath(sessionId), undefined, token));
		},
	};
}
