import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import {
	HOST_ACTOR_TICKET_PREFIX,
	HOST_PRINCIPAL_HEADER,
	hostActorStub,
} from "../../durable/host-actor-api.ts";
import { PRINCIPAL_HEADER, sessionActorStub } from "../../durable/session-actor-api.ts";
import type { Db } from "../../schema/db.ts";
import { getSession } from "../../schema/sessions.ts";
import { getUserById } from "../../schema/users.ts";
import type { AppEnv } from "../env.ts";
import { AppError, type ErrorCode } from "../lib/errors.ts";
import { createRouter, errorResponse } from "../lib/router.ts";
import { hostMayConnect, maySupport } from "../lib/session-access.ts";
import { type TicketClaims, verifyTicket } from "../lib/tickets.ts";
import { withClientAddress } from "../middleware/client-address.ts";
import { dbFor } from "../middleware/with-db.ts";

/**
 * The WebSocket upgrades: the only routes that call an actor's `fetch`. The ticket is verified
 * here; the actor trusts the principal header, which is built here after any copy the client
 * sent was dropped, and consumes the ticket's `jti` so a ticket works once.
 */
export const connect = createRouter();
connect.use("/ws/v1/*", withClientAddress);

function upgradeRoute(path: string, tag: string, description: string, id: z.ZodType<string>) {
	return createRoute({
		method: "get",
		path,
		tags: [tag],
		description,
		request: {
			params: z.object({ id }),
			query: z.object({ ticket: z.string().min(20).max(4096) }),
		},
		responses: {
			101: { description: "Switching protocols." },
			401: errorResponse("INVALID_TICKET"),
			409: errorResponse("SESSION_OCCUPIED"),
			426: errorResponse("UPGRADE_REQUIRED"),
		},
	});
}

/** Checks that this is an upgrade and that the ticket verifies; `accept` says whom it is for. */
async function requireTicket(
	c: Context<AppEnv>,
	ticket: string,
	accept: (claims: TicketClaims) => boolean,
): Promise<TicketClaims> {
	if (c.req.header("upgrade")?.toLowerCase() !== "websocket")
		throw new AppError("UPGRADE_REQUIRED");
	const claims = await verifyTicket(c.env.JWT_PRIVATE_KEY, ticket);
	if (!claims || !accept(claims)) throw new AppError("INVALID_TICKET");
	return claims;
}

/**
 * Re-checks at the moment of use what the ticket's issuer checked: a supporter's account, seat
 * and host group ({@link maySupport}), a host's enabled state. A customer's ticket came from the
 * support ID or the resume token, which nothing on the server can take away except the end.
 */
async function ticketHolderStillAllowed(db: Db, claims: TicketClaims): Promise<boolean> {
	if (claims.role === "customer") return true;
	if (claims.role === "host") return hostMayConnect(db, claims.sub.slice("host:".length));
	const [user, session] = await Promise.all([
		getUserById(db, claims.sub),
		getSession(db, claims.sid),
	]);
	return user !== null && session !== null && (await maySupport(db, user, session));
}

/** Hands the upgrade to the actor with the principal in `header` (a client's copy is dropped). */
async function forwardUpgrade(
	c: Context<AppEnv>,
	stub: { fetch(request: Request): Promise<Response> },
	header: string,
	principal: Record<string, unknown>,
	notFound: ErrorCode,
): Promise<Response> {
	const headers = new Headers(c.req.raw.headers);
	headers.delete(header);
	headers.set(header, JSON.stringify(principal));
	const res = await stub.fetch(new Request(c.req.raw, { headers }));
	if (res.status === 401) throw new AppError("INVALID_TICKET");
	if (res.status === 404) throw new AppError(notFound);
	if (res.status === 409) throw new AppError("SESSION_OCCUPIED");
	return res;
}

connect.openapi(
	upgradeRoute(
		"/ws/v1/sessions/{id}",
		"sessions",
		"WebSocket (protocol fernwart.v1, docs/protocol.md) with a single-use ticket.",
		z.string().min(1).max(128),
	),
	async (c) => {
		const { id } = c.req.valid("param");
		const claims = await requireTicket(c, c.req.valid("query").ticket, (t) => t.sid === id);
		// A ticket lives a minute; a privilege taken away since it was issued still counts.
		if (!(await ticketHolderStillAllowed(dbFor(c.env), claims)))
			throw new AppError("INVALID_TICKET");
		const principal = {
			sessionId: claims.sid,
			role: claims.role,
			principalId: claims.sub,
			jti: claims.jti,
			exp: claims.exp,
			ip: c.var.ip,
		};
		const stub = sessionActorStub(c.env.SESSION_ACTOR, id);
		return forwardUpgrade(c, stub, PRINCIPAL_HEADER, principal, "SESSION_NOT_FOUND");
	},
);

connect.openapi(
	upgradeRoute(
		"/ws/v1/hosts/{id}",
		"hosts",
		"The host's presence WebSocket (heartbeats, session notices) with a single-use ticket from POST /api/v1/hosts/{id}/tickets.",
		z.uuid(),
	),
	async (c) => {
		const { id } = c.req.valid("param");
		// A session ticket never names `host:<id>`, so it cannot open a presence socket.
		const claims = await requireTicket(
			c,
			c.req.valid("query").ticket,
			(t) => t.role === "host" && t.sid === `${HOST_ACTOR_TICKET_PREFIX}${id}`,
		);
		if (!(await hostMayConnect(dbFor(c.env), id))) throw new AppError("INVALID_TICKET");
		const principal = { hostId: id, jti: claims.jti, exp: claims.exp, ip: c.var.ip };
		const stub = hostActorStub(c.env.HOST_ACTOR, id);
		return forwardUpgrade(c, stub, HOST_PRINCIPAL_HEADER, principal, "HOST_NOT_FOUND");
	},
);
