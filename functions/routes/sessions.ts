import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { sessionActorStub } from "../../durable/session-actor-api.ts";
import { consentStateSchema } from "../../protocol/control.ts";
import { sessionMailsProtocol } from "../../schema/groups.ts";
import {
	consumeCode,
	getSession,
	type InsertSessionResult,
	insertSessionWithin,
	listLiveSessions,
	retireExpiredCodes,
	type SupportSession,
	TERMS_LANGS,
	type TermsLang,
	type TermsTranslations,
	VIEW_DIRECTIONS,
} from "../../schema/sessions.ts";
import { getSettings } from "../../schema/settings.ts";
import { getUserById } from "../../schema/users.ts";
import type { AppEnv, Env, Principal } from "../env.ts";
import { audit } from "../lib/audit.ts";
import { addressPrefix } from "../lib/client-address.ts";
import { fromBase64Url, sha256Hex, toBase64Url, toHex } from "../lib/encoding.ts";
import { AppError } from "../lib/errors.ts";
import { constantTimeEqual } from "../lib/password.ts";
import { createRouter, errorResponse, jsonResponse } from "../lib/router.ts";
import { maySupport } from "../lib/session-access.ts";
import { signTicket } from "../lib/tickets.ts";
import { withClientAddress } from "../middleware/client-address.ts";
import { type Reserved, releaseAttempt, reserveAttempt } from "../middleware/rate-limit.ts";
import { requireUser } from "../middleware/require-user.ts";
import { withDb } from "../middleware/with-db.ts";
import { picturesEnabled, pictureUrl } from "./pictures.ts";

/** The longest a session may run, whatever happens. */
export const SESSION_MAX_MS = 12 * 60 * 60_000;

/**
 * Failed joins (docs/security.md, "Support IDs", has the arithmetic). With admission on, a
 * guessed ID opens nothing by itself, so these limits bound the work and the noise of guessing
 * rather than being the only line; they are chosen so that no attacker can lock out everyone:
 * - per address: 20 wrong IDs in 10 minutes lock that address for 10 minutes (a customer who
 *   mistypes a few times is never near it);
 * - per network (/24 for IPv4, /48 for IPv6): 100 in 10 minutes, so one host with many
 *   addresses (an IPv6 /64, a rented /24) gets five addresses' worth, and bites long before the
 *   global limit;
 * - all networks: 1,000 in 10 minutes, which only guesses from at least ten networks reach.
 *   While it is full, a join is still evaluated if its address and its network have no other
 *   guess counted in the window: an honest customer (first try, from a network nobody guesses
 *   from) gets in with a correct ID, and an attacker gets one guess per network per 10 minutes.
 * A correct ID is never counted.
 */
export const JOIN_POLICIES = {
	address: { limit: 20, windowMs: 10 * 60_000, lockMs: 10 * 60_000 },
	prefix: { limit: 100, windowMs: 10 * 60_000, lockMs: 10 * 60_000 },
	global: { limit: 1000, windowMs: 10 * 60_000, lockMs: 5 * 60_000 },
} as const;

const security = [{ bearer: [] }];

/** 8 digits from a CSPRNG; rejection sampling keeps every code equally likely. */
export function generateCode(): string {
	const limit = 4_200_000_000; // the largest multiple of 10^8 below 2^32
	for (;;) {
		const [n] = crypto.getRandomValues(new Uint32Array(1));
		if (n !== undefined && n < limit) return String(n % 100_000_000).padStart(8, "0");
	}
}

/**
 * The stored form of a code: HMAC-SHA256 keyed with the server's seal key, so a copy of the
 * database alone does not let anyone try the 10^8 codes offline.
 */
async function codeHash(env: Env, code: string): Promise<string> {
	const key = await crypto.subtle.importKey(
		"raw",
		fromBase64Url(env.SEAL_KEY) as BufferSource,
		{ name: "HMAC", hash: "SHA-256" },
		false,
		["sign"],
	);
	const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`code:${code}`));
	return toHex(new Uint8Array(mac));
}

function actorFor(env: Env, sessionId: string) {
	return sessionActorStub(env.SESSION_ACTOR, sessionId);
}

/**
 * Ends the relays of sessions whose support ID expired unused (their rows were just marked
 * ended), after the response: a supporter still waiting there is told, and the actor stops. If
 * this fails, the relay's own deadline ends it later; nobody can join it either way.
 */
export function endUnusedRelays(c: Pick<Context<AppEnv>, "env" | "executionCtx">, ids: string[]) {
	if (ids.length === 0) return;
	const ending = Promise.all(
		ids.map((id) =>
			actorFor(c.env, id)
				.end("expired", null)
				.catch((err: Error) => console.error(`[sessions] ending unused ${id} failed: ${err.name}`)),
		),
	);
	c.executionCtx.waitUntil(ending);
}

/** The session if the principal may manage it (its supporter or an admin); else not found. */
async function requireOwnSession(
	c: { var: { db: Parameters<typeof getSession>[0] } },
	principal: Principal,
	id: string,
): Promise<SupportSession> {
	const session = await getSession(c.var.db, id);
	const mine = session && (principal.role === "admin" || session.supporterId === principal.id);
	if (!session || !mine) throw new AppError("SESSION_NOT_FOUND"); // another's session: not found
	return session;
}

/**
 * The session whose customer holds this resume token (compared in constant time); anything else,
 * a missing token included, is SESSION_NOT_FOUND.
 */
async function requireCustomer(
	c: { var: { db: Parameters<typeof getSession>[0] } },
	id: string,
	resumeToken: string | undefined,
): Promise<SupportSession> {
	const session = await getSession(c.var.db, id);
	const given = new TextEncoder().encode(await sha256Hex(resumeToken ?? ""));
	const stored = new TextEncoder().encode(session?.resumeHash ?? "");
	if (!session || !resumeToken || !constantTimeEqual(given, stored)) {
		throw new AppError("SESSION_NOT_FOUND");
	}
	return session;
}

/** Like {@link requireOwnSession}, and the supporter must still be entitled to the seat. */
async function requireSupporterSeat(
	c: { var: { db: Parameters<typeof getSession>[0] } },
	principal: Principal,
	id: string,
): Promise<SupportSession> {
	const session = await requireOwnSession(c, principal, id);
	if (principal.kind !== "user" || !(await maySupport(c.var.db, principal.user, session)))
		throw new AppError("SESSION_NOT_FOUND"); // e.g. no longer in the host's group
	return session;
}

/**
 * Reserves one join attempt on the address, its network and the global counter (see
 * {@link JOIN_POLICIES}). A full global counter refuses only joins whose address or network has
 * another guess counted in the window; a join from a clean address and network is evaluated.
 */
async function reserveJoin(env: Env, ip: string | null): Promise<Reserved[]> {
	const local = await reserveAttempt(
		env,
		ip
			? [
					{ key: `join-ip:${ip}`, policy: JOIN_POLICIES.address },
					{ key: `join-net:${addressPrefix(ip)}`, policy: JOIN_POLICIES.prefix },
				]
			: [],
	);
	try {
		return [
			...local,
			...(await reserveAttempt(env, [{ key: "join-global", policy: JOIN_POLICIES.global }])),
		];
	} catch (err) {
		// count 1: this attempt is the only one counted there, so nothing failed or is in flight.
		const clean = local.length === 2 && local.every((r) => r.count === 1);
		if (clean && err instanceof AppError && err.code === "RATE_LIMITED") return local;
		await releaseAttempt(env, local);
		throw err;
	}
}

const sessionIdParam = z.object({ id: z.string().min(1).max(128) });

const createBody = z
	.object({
		view: z.enum(VIEW_DIRECTIONS).optional(),
		requireTerms: z.boolean().optional(),
	})
	.openapi("CreateSession");

const createdSchema = z
	.object({ sessionId: z.string(), code: z.string(), expiresAt: z.number() })
	.openapi("SessionCreated");

const joinBody = z
	.object({
		// Digits may come with the spaces or dashes people type them with.
		code: z
			.string()
			.regex(/^[0-9 -]{8,16}$/)
			.transform((s) => s.replace(/[ -]/g, "")),
		displayName: z.string().trim().min(1).max(80),
		/** The language of the customer's page: the terms come in it where they exist. */
		lang: z.enum(["en", ...TERMS_LANGS]).optional(),
	})
	.openapi("JoinSession");

const joinedSchema = z
	.object({
		sessionId: z.string(),
		ticket: z.string(),
		resumeToken: z.string(),
		terms: z
			.object({ text: z.string(), sha256: z.string(), lang: z.enum(["en", ...TERMS_LANGS]) })
			.nullable(),
		/**
		 * Who the customer is about to let in: the supporter's display name and, where the admin
		 * turned pictures on, the same-origin URL of their picture.
		 */
		supporter: z.object({ name: z.string(), pictureUrl: z.string().nullable() }),
		protocolCopy: z.boolean().openapi({
			description:
				"Whether the customer may ask for a copy of the protocol by e-mail (`POST /api/v1/sessions/{id}/protocol-copy`): the session's group mails protocols and the server has SMTP.",
		}),
	})
	.openapi("SessionJoined");

const protocolCopyBody = z
	.object({
		resumeToken: z.string().min(20).max(100),
		/** Checked in the handler, so that a wrong address gets its own error code. */
		email: z.string().max(320),
		/** The customer's explicit agreement to be mailed the protocol; `true` or nothing is sent. */
		agree: z.boolean(),
		lang: z.enum(["en", ...TERMS_LANGS]).optional(),
	})
	.strict()
	.openapi("ProtocolCopyRequest");

/** What counts as an e-mail address here: the HTML form's rule, at most 254 characters. */
const emailAddress = z.email({ pattern: z.regexes.html5Email }).max(254);

const ticketBody = z
	.object({
		resumeToken: z.string().min(20).max(100).optional(),
		/**
		 * An admin takes the supporter's seat of another supporter's session: audited, shown to
		 * the customer, the grants end and the previous supporter is disconnected.
		 */
		takeover: z.boolean().optional(),
	})
	.openapi("TicketRequest");

const sessionView = z
	.object({
		sessionId: z.string(),
		kind: z.string(),
		view: z.enum(VIEW_DIRECTIONS),
		termsRequired: z.boolean(),
		customerName: z.string().nullable(),
		createdAt: z.number(),
		expiresAt: z.number(),
		joinedAt: z.number().nullable(),
		endedAt: z.number().nullable(),
		endReason: z.string().nullable(),
		state: consentStateSchema.nullable(),
	})
	.openapi("Session");

/** Issuing, joining, tickets, reading and ending support sessions. */
export const sessions = createRouter();
sessions.use("/api/v1/sessions/*", withDb, withClientAddress);
sessions.use("/api/v1/sessions", withDb, withClientAddress);

// The relay is opened before the code is returned, so an immediate join cannot race it.
sessions.openapi(
	createRoute({
		method: "post",
		path: "/api/v1/sessions",
		tags: ["sessions"],
		security,
		middleware: [requireUser] as const,
		request: { body: { content: { "application/json": { schema: createBody } }, required: false } },
		responses: {
			201: jsonResponse(createdSchema, "The session and its 8-digit support ID."),
			401: errorResponse("UNAUTHENTICATED"),
			409: errorResponse("TOO_MANY_SESSIONS: setting maxLiveSessionsPerSupporter reached"),
		},
	}),
	async (c) => {
		const body = c.req.valid("json") ?? {};
		const { db, principal } = c.var;
		if (principal.kind !== "user") throw new AppError("FORBIDDEN");
		const settings = await getSettings(db);
		const now = new Date();
		const termsRequired = body.requireTerms ?? settings.requireTerms;
		const termsSha256 = termsRequired ? await sha256Hex(settings.termsText) : null;
		// Each language's text is fixed with the session, like the default one.
		const termsTranslations: TermsTranslations | null = termsRequired
			? { de: { text: settings.termsTextDe, sha256: await sha256Hex(settings.termsTextDe) } }
			: null;
		await retireExpiredCodes(db, now);
		const limit = settings.maxLiveSessionsPerSupporter;
		let code = "";
		let session: SupportSession | undefined;
		// A clash with a live code is refused by the unique index; draw again (10^-8 per try).
		for (let attempt = 0; attempt < 5 && !session; attempt++) {
			code = generateCode();
			const row: SupportSession = {
				id: toBase64Url(crypto.getRandomValues(new Uint8Array(16))),
				kind: "adhoc",
				supporterId: principal.id,
				codeHash: await codeHash(c.env, code),
				codeExpiresAt: new Date(now.getTime() + settings.sessionCodeTtlMinutes * 60_000),
				joinedAt: null,
				view: body.view ?? settings.defaultView,
				termsRequired,
				termsText: termsRequired ? settings.termsText : null,
				termsSha256,
				termsTranslations,
				customerName: null,
				resumeHash: null,
				createdAt: now,
				expiresAt: new Date(now.getTime() + SESSION_MAX_MS),
				endedAt: null,
				endReason: null,
				hostId: null,
			};
			let stored: InsertSessionResult;
			try {
				stored = await insertSessionWithin(db, row, limit);
			} catch (err) {
				if (attempt === 4) throw err;
				continue;
			}
			endUnusedRelays(c, stored.ended);
			if (!stored.ok) throw new AppError("TOO_MANY_SESSIONS", { limit });
			session = row;
		}
		const s = session as SupportSession;
		const mailProtocol = await sessionMailsProtocol(db, {
			supporterId: s.supporterId,
			hostGroupId: null,
		});
		await actorFor(c.env, s.id).open({
			id: s.id,
			kind: "adhoc",
			supporterId: s.supporterId,
			view: s.view,
			termsRequired: s.termsRequired,
			termsSha256: s.termsSha256,
			termsTranslationSha256s: Object.values(s.termsTranslations ?? {}).map((v) => v.sha256),
			expiresAt: s.expiresAt.getTime(),
			codeExpiresAt: s.codeExpiresAt.getTime(),
			idleGraceMs: settings.sessionIdleSeconds * 1000,
			admission: settings.requireAdmission,
			mailProtocol,
		});
		await audit(c.env, {
			type: "session.issued",
			actor: principal.id,
			subject: principal.id,
			sessionId: s.id,
			ip: c.var.ip,
			data: {
				view: s.view,
				termsRequired,
				admission: settings.requireAdmission,
				codeExpiresAt: s.codeExpiresAt.getTime(),
			},
		});
		return c.json({ sessionId: s.id, code, expiresAt: s.codeExpiresAt.getTime() }, 201);
	},
);

const liveSessionView = z
	.object({
		sessionId: z.string(),
		kind: z.string(),
		supporterId: z.string(),
		customerName: z.string().nullable(),
		createdAt: z.number(),
		expiresAt: z.number(),
		joinedAt: z.number().nullable(),
		state: consentStateSchema.nullable(),
	})
	.openapi("LiveSession");

// The admin console's live list: an admin sees every session, a supporter only their own.
sessions.openapi(
	createRoute({
		method: "get",
		path: "/api/v1/sessions",
		tags: ["sessions"],
		security,
		middleware: [requireUser] as const,
		responses: {
			200: jsonResponse(
				z.object({ sessions: z.array(liveSessionView) }),
				"Live sessions (at most 100, newest first) with their consent state.",
			),
			401: errorResponse("UNAUTHENTICATED"),
		},
	}),
	async (c) => {
		const { db, principal } = c.var;
		const rows = await listLiveSessions(
			db,
			principal.role === "admin" ? null : principal.id,
			new Date(),
		);
		const list = await Promise.all(
			rows.map(async (s) => ({
				sessionId: s.id,
				kind: s.kind,
				supporterId: s.supporterId,
				customerName: s.customerName,
				createdAt: s.createdAt.getTime(),
				expiresAt: s.expiresAt.getTime(),
				joinedAt: s.joinedAt?.getTime() ?? null,
				state: await actorFor(c.env, s.id).snapshot(),
			})),
		);
		// A relay that has already ended is not live, whatever the row says in this instant.
		return c.json({ sessions: list.filter((s) => s.state?.phase !== "ended") }, 200);
	},
);

sessions.openapi(
	createRoute({
		method: "post",
		path: "/api/v1/sessions/join",
		tags: ["sessions"],
		request: { body: { content: { "application/json": { schema: joinBody } }, required: true } },
		responses: {
			200: jsonResponse(joinedSchema, "Joined: a ticket for the WebSocket and a resume token."),
			404: errorResponse("SESSION_NOT_FOUND: unknown, expired and used IDs alike"),
			429: errorResponse("RATE_LIMITED"),
		},
	}),
	async (c) => {
		const { code, displayName, lang } = c.req.valid("json");
		const ip = c.var.ip;
		// Reserved before the code is looked at: once over a limit, no guess is evaluated at
		// all, and of a concurrent burst at most the limit is.
		const attempt = await reserveJoin(c.env, ip);
		const resume = toBase64Url(crypto.getRandomValues(new Uint8Array(32)));
		const session =
			code.length === 8
				? await consumeCode(c.var.db, await codeHash(c.env, code), {
						customerName: displayName,
						resumeHash: await sha256Hex(resume),
						now: new Date(),
					})
				: null;
		if (!session) {
			await audit(c.env, { type: "session.join_failed", ip, data: { reason: "unknown-code" } });
			throw new AppError("SESSION_NOT_FOUND");
		}
		await releaseAttempt(c.env, attempt); // a correct ID is never counted
		// The supporter decides on admission by these: the name typed, the address, the time. If
		// this call fails, the customer's first socket notes the address and time instead.
		await actorFor(c.env, session.id)
			.customerJoined({ name: displayName, address: ip, joinedAt: Date.now() })
			.catch((err: Error) => console.error(`[sessions] noting ${session.id} failed: ${err.name}`));
		const ticket = await signTicket(c.env.JWT_PRIVATE_KEY, {
			sub: `customer:${session.id}`,
			sid: session.id,
			role: "customer",
		});
		// The customer reads and signs the terms in its page's language where they exist.
		const translated = lang === "de" ? session.termsTranslations?.de : undefined;
		let terms: { text: string; sha256: string; lang: "en" | TermsLang } | null = null;
		if (session.termsRequired && session.termsText && session.termsSha256) {
			terms = translated
				? { text: translated.text, sha256: translated.sha256, lang: "de" }
				: { text: session.termsText, sha256: session.termsSha256, lang: "en" };
		}
		const user = await getUserById(c.var.db, session.supporterId);
		const supporter = {
			name: user?.displayName || "—",
			pictureUrl: user && picturesEnabled(c.env) ? pictureUrl(user) : null,
		};
		// Tells the page only whether to offer the copy; nothing about the group.
		const protocolCopy = await actorFor(c.env, session.id)
			.protocolCopyOffered()
			.catch(() => false);
		return c.json(
			{ sessionId: session.id, ticket, resumeToken: resume, terms, supporter, protocolCopy },
			200,
		);
	},
);

sessions.openapi(
	createRoute({
		method: "post",
		path: "/api/v1/sessions/{id}/tickets",
		tags: ["sessions"],
		description:
			"A new single-use WebSocket ticket: the supporter with its Bearer token, the customer with its resume token.",
		request: {
			params: sessionIdParam,
			body: { content: { "application/json": { schema: ticketBody } }, required: false },
		},
		responses: {
			200: jsonResponse(z.object({ ticket: z.string() }).openapi("Ticket"), "A ticket."),
			401: errorResponse("UNAUTHENTICATED"),
			404: errorResponse("SESSION_NOT_FOUND"),
			409: errorResponse("TAKEOVER_REQUIRED: an admin asked for another supporter's seat"),
			410: errorResponse("SESSION_ENDED"),
		},
	}),
	async (c) => {
		const { id } = c.req.valid("param");
		const body = c.req.valid("json") ?? {};
		if (c.req.header("authorization")) {
			await requireUser(c, async () => {});
			const { principal } = c.var;
			const session = await requireSupporterSeat(c, principal, id);
			if (session.endedAt) throw new AppError("SESSION_ENDED");
			if (principal.kind === "user" && session.supporterId !== principal.id) {
				// Only an admin gets here (requireSupporterSeat). Someone else's seat is never taken
				// silently: it takes `takeover: true`, once; the admin's later tickets (a resume)
				// need nothing more while the seat stays theirs.
				const relay = actorFor(c.env, session.id);
				const holds = (await relay.snapshot())?.takeover?.by === principal.id;
				if (!holds) {
					if (body.takeover !== true) throw new AppError("TAKEOVER_REQUIRED");
					const name = principal.user.displayName || principal.user.email;
					if (!(await relay.takeOver({ by: principal.id, name, ip: c.var.ip })))
						throw new AppError("SESSION_ENDED");
				}
			}
			const ticket = await signTicket(c.env.JWT_PRIVATE_KEY, {
				sub: c.var.principal.id,
				sid: session.id,
				role: "supporter",
			});
			return c.json({ ticket }, 200);
		}
		const session = await requireCustomer(c, id, body.resumeToken);
		if (session.endedAt) throw new AppError("SESSION_ENDED");
		const ticket = await signTicket(c.env.JWT_PRIVATE_KEY, {
			sub: `customer:${session.id}`,
			sid: session.id,
			role: "customer",
		});
		return c.json({ ticket }, 200);
	},
);

sessions.openapi(
	createRoute({
		method: "post",
		path: "/api/v1/sessions/{id}/protocol-copy",
		tags: ["sessions"],
		description:
			"The customer (with its resume token) asks for a copy of the session's protocol by e-mail: a readable summary and the signed excerpt, sent when the session ends. Needs `agree: true`. The request is written to the protocol without the address; the address is kept only until the mail is sent. A later request replaces an earlier one; only the first request and real changes (another language, a replaced address) are written to the protocol. At most 5 requests per session, then 429 RATE_LIMITED.",
		request: {
			params: sessionIdParam,
			body: { content: { "application/json": { schema: protocolCopyBody } }, required: true },
		},
		responses: {
			204: { description: "The copy will be sent when the session ends." },
			400: errorResponse("INVALID_EMAIL, AGREEMENT_REQUIRED or INVALID_REQUEST"),
			404: errorResponse("SESSION_NOT_FOUND"),
			409: errorResponse("PROTOCOL_MAIL_OFF"),
			410: errorResponse("SESSION_ENDED"),
			429: errorResponse("RATE_LIMITED: the session already had 5 requests"),
			503: errorResponse("DB_UNAVAILABLE: the request could not be written to the protocol"),
		},
	}),
	async (c) => {
		const { id } = c.req.valid("param");
		const body = c.req.valid("json");
		const session = await requireCustomer(c, id, body.resumeToken);
		const email = emailAddress.safeParse(body.email.trim());
		if (!email.success) throw new AppError("INVALID_EMAIL");
		if (!body.agree) throw new AppError("AGREEMENT_REQUIRED");
		if (session.endedAt) throw new AppError("SESSION_ENDED");
		const result = await actorFor(c.env, session.id).requestProtocolCopy({
			copy: { address: email.data, lang: body.lang ?? "en" },
			ip: c.var.ip,
		});
		if (result === "off") throw new AppError("PROTOCOL_MAIL_OFF");
		if (result === "ended") throw new AppError("SESSION_ENDED");
		if (result === "not_found") throw new AppError("SESSION_NOT_FOUND");
		if (result === "unavailable") throw new AppError("DB_UNAVAILABLE");
		// A per-session limit, not a window: waiting does not help, so no Retry-After.
		if (result === "rate_limited") throw new AppError("RATE_LIMITED");
		return c.body(null, 204);
	},
);

sessions.openapi(
	createRoute({
		method: "get",
		path: "/api/v1/sessions/{id}",
		tags: ["sessions"],
		security,
		middleware: [requireUser] as const,
		request: { params: sessionIdParam },
		responses: {
			200: jsonResponse(sessionView, "The session and its live consent state."),
			404: errorResponse("SESSION_NOT_FOUND"),
		},
	}),
	async (c) => {
		const { id } = c.req.valid("param");
		const s = await requireOwnSession(c, c.var.principal, id);
		const state = await actorFor(c.env, s.id).snapshot();
		return c.json(
			{
				sessionId: s.id,
				kind: s.kind,
				view: s.view,
				termsRequired: s.termsRequired,
				customerName: s.customerName,
				createdAt: s.createdAt.getTime(),
				expiresAt: s.expiresAt.getTime(),
				joinedAt: s.joinedAt?.getTime() ?? null,
				endedAt: s.endedAt?.getTime() ?? null,
				endReason: s.endReason,
				state,
			},
			200,
		);
	},
);

sessions.openapi(
	createRoute({
		method: "delete",
		path: "/api/v1/sessions/{id}",
		tags: ["sessions"],
		security,
		middleware: [requireUser] as const,
		request: { params: sessionIdParam },
		responses: {
			204: { description: "Ended (or had ended already)." },
			404: errorResponse("SESSION_NOT_FOUND"),
		},
	}),
	async (c) => {
		const { id } = c.req.valid("param");
		const s = await requireOwnSession(c, c.var.principal, id);
		await actorFor(c.env, s.id).end("ended", c.var.principal.id);
		return c.body(null, 204);
	},
);
