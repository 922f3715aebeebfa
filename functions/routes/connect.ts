import { createRoute, z } from "@hono/zod-openapi";
import { HOST_ACTOR_TICKET_PREFIX, HOST_PRINCIPAL_HEADER } from "../../durable/host-actor-api.ts";
import { PRINCIPAL_HEADER } from "../../durable/session-actor-api.ts";
import { AppError } from "../lib/errors.ts";
import { createRouter, errorResponse } from "../lib/router.ts";
import { verifyTicket } from "../lib/tickets.ts";
import { withClientAddress } from "../middleware/client-address.ts";

/**
 * The WebSocket upgrade: the only route that calls an actor's `fetch`. The ticket is verified
 * here; the actor trusts the principal header, which is built here after any copy the client
 * sent was dropped, and consumes the ticket's `jti` so a ticket works once.
 */
export const connect = createRouter();
connect.use("/ws/v1/*", withClientAddress);

connect.openapi(
	createRoute({
		method: "get",
		path: "/ws/v1/sessions/{id}",
		tags: ["sessions"],
		description: "WebSocket (protocol fernwart.v1, docs/protocol.md) with a single-use ticket.",
		request: {
			params: z.object({ id: z.string().min(1).max(128) }),
			query: z.object({ ticket: z.string().min(20).max(4096) }),
		},
		responses: {
			101: { description: "Switching protocols." },
			401: errorResponse("INVALID_TICKET"),
			426: errorResponse("UPGRADE_REQUIRED"),
		},
	}),
	async (c) => {
		if (c.req.header("upgrade")?.toLowerCase() !== "websocket")
			throw new AppError("UPGRADE_REQUIRED");
		const { id } = c.req.valid("param");
		const { ticket } = c.req.valid("query");
		const claims = await verifyTicket(c.env.JWT_PRIVATE_KEY, ticket);
		if (!claims || claims.sid !== id) throw new AppError("INVALID_TICKET");
		const headers = new Headers(c.req.raw.headers);
		headers.delete(PRINCIPAL_HEADER);
		headers.set(
			PRINCIPAL_HEADER,
			JSON.stringify({
				sessionId: claims.sid,
				role: claims.role,
				principalId: claims.sub,
				jti: claims.jti,
				exp: claims.exp,
				ip: c.var.ip,
			}),
		);
		const stub = c.env.SESSION_ACTOR.get(c.env.SESSION_ACTOR.idFromName(id));
		const res = await stub.fetch(new Request(c.req.raw, { headers }));
		if (res.status === 401) throw new AppError("INVALID_TICKET");
		if (res.status === 404) throw new AppError("SESSION_NOT_FOUND");
		return res;
	},
);

connect.openapi(
	createRoute({
		method: "get",
		path: "/ws/v1/hosts/{id}",
		tags: ["hosts"],
		description:
			"The host's presence WebSocket (heartbeats, session notices) with a single-use ticket from POST /api/v1/hosts/{id}/tickets.",
		request: {
			params: z.object({ id: z.uuid() }),
			query: z.object({ ticket: z.string().min(20).max(4096) }),
		},
		responses: {
			101: { description: "Switching protocols." },
			401: errorResponse("INVALID_TICKET"),
			426: errorResponse("UPGRADE_REQUIRED"),
		},
	}),
	async (c) => {
		if (c.req.header("upgrade")?.toLowerCase() !== "websocket")
			throw new AppError("UPGRADE_REQUIRED");
		const { id } = c.req.valid("param");
		const { ticket } = c.req.valid("query");
		const claims = await verifyTicket(c.env.JWT_PRIVATE_KEY, ticket);
		// A session ticket never names `host:<id>`, so it cannot open a presence socket.
		if (!claims || claims.role !== "host" || claims.sid !== `${HOST_ACTOR_TICKET_PREFIX}${id}`) {
			throw new AppError("INVALID_TICKET");
		}
		const headers = new Headers(c.req.raw.headers);
		headers.delete(HOST_PRINCIPAL_HEADER);
		headers.set(
			HOST_PRINCIPAL_HEADER,
			JSON.stringify({ hostId: id, jti: claims.jti, exp: claims.exp, ip: c.var.ip }),
		);
		const stub = c.env.HOST_ACTOR.get(c.env.HOST_ACTOR.idFromName(id));
		const res = await stub.fetch(new Request(c.req.raw, { headers }));
		if (res.status === 401) throw new AppError("INVALID_TICKET");
		if (res.status === 404) throw new AppError("HOST_NOT_FOUND");
		return res;
	},
);
