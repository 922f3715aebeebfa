import { createRoute, z } from "@hono/zod-openapi";
import {
	auditKeySet,
	ExportUnavailableError,
	exportStream,
	planExport,
	signedHeader,
} from "../../durable/audit-export.ts";
import { eventLineSchema, toEventLine } from "../../protocol/audit-export.ts";
import { type AuditEvent, getAuditNames, listAuditPage } from "../../schema/audit.ts";
import { getSession } from "../../schema/sessions.ts";
import { getSettings } from "../../schema/settings.ts";
import { getUserByEmail } from "../../schema/users.ts";
import type { Principal } from "../env.ts";
import { auditLog } from "../lib/audit.ts";
import { AppError } from "../lib/errors.ts";
import { timeParam } from "../lib/query.ts";
import { createRouter, errorResponse, jsonResponse } from "../lib/router.ts";
import { withClientAddress } from "../middleware/client-address.ts";
import { requireAdmin, requireUser } from "../middleware/require-user.ts";
import { withDb } from "../middleware/with-db.ts";

const security = [{ bearer: [] }];

const listQuery = z.object({
	sessionId: z.string().min(1).max(128).optional(),
	hostId: z.string().min(1).max(128).optional(),
	/** A user's id or e-mail address. */
	userId: z.string().min(1).max(320).optional(),
	type: z
		.string()
		.regex(/^[a-z_]+(\.[a-z_]*)*(\.\*)?$/, "an event type, or a prefix such as session.*")
		.max(64)
		.optional(),
	from: timeParam.optional(),
	to: timeParam.optional(),
	cursor: z
		.string()
		.regex(/^\d{1,15}$/)
		.optional(),
	limit: z.coerce.number().int().min(1).max(1000).optional(),
});

/** An event as the list returns it: the export's event line without `kind`. */
const eventSchema = eventLineSchema.omit({ kind: true }).openapi("AuditEvent");

const exportQuery = z.object({
	from: timeParam.optional(),
	to: timeParam.optional(),
	sessionId: z.string().min(1).max(128).optional(),
});

const keysSchema = z
	.object({ keys: z.array(z.record(z.string(), z.unknown())) })
	.openapi("AuditKeys");

/** What a principal may read: everything (admin) or the events of its own sessions. */
function supporterScope(principal: Principal): string | undefined {
	return principal.role === "admin" ? undefined : principal.id;
}

function eventView(e: AuditEvent) {
	const { kind: _kind, ...view } = toEventLine({ ...e, ts: e.ts.getTime() });
	return view;
}

/** The audit protocol: reading, the verifiable export, its keys, and retention. */
export const auditRoutes = createRouter();
auditRoutes.use("/api/v1/audit/*", withDb, withClientAddress);
auditRoutes.use("/api/v1/audit", withDb, withClientAddress);

auditRoutes.openapi(
	createRoute({
		method: "get",
		path: "/api/v1/audit",
		tags: ["audit"],
		security,
		middleware: [requireUser] as const,
		description:
			"Events, newest first. Admins read all; a supporter reads the events of its own sessions.",
		request: { query: listQuery },
		responses: {
			200: jsonResponse(
				z
					.object({
						events: z.array(eventSchema),
						nextCursor: z.string().nullable(),
						names: z
							.record(z.string(), z.string())
							.describe(
								"Readable names by id for the page's users, hosts and sessions (a session by its customer's name); an id without a row is missing.",
							),
					})
					.openapi("AuditPage"),
				"A page of events; pass nextCursor as cursor for the next (older) page.",
			),
			401: errorResponse("UNAUTHENTICATED"),
		},
	}),
	async (c) => {
		const q = c.req.valid("query");
		const limit = q.limit ?? 100;
		// An admin knows people by their e-mail address; an unknown one matches no event.
		const userId =
			q.userId?.includes("@") === true
				? ((await getUserByEmail(c.var.db, q.userId))?.id ?? q.userId)
				: q.userId;
		const rows = await listAuditPage(c.var.db, {
			sessionId: q.sessionId,
			hostId: q.hostId,
			userId,
			type: q.type,
			from: q.from,
			to: q.to,
			supporterId: supporterScope(c.var.principal),
			beforeSeq: q.cursor === undefined ? undefined : Number(q.cursor),
			limit,
		});
		const last = rows.at(-1);
		return c.json(
			{
				events: rows.map(eventView),
				nextCursor: rows.length === limit && last ? String(last.seq) : null,
				names: await getAuditNames(c.var.db, rows),
			},
			200,
		);
	},
);

auditRoutes.openapi(
	createRoute({
		method: "get",
		path: "/api/v1/audit/keys",
		tags: ["audit"],
		description:
			"Every public key that signed checkpoints or export headers, retired ones included (JWKS).",
		responses: { 200: jsonResponse(keysSchema, "The audit key set.") },
	}),
	async (c) => c.json({ keys: await auditKeySet(c.env, c.var.db) }, 200),
);

auditRoutes.openapi(
	createRoute({
		method: "get",
		path: "/api/v1/audit/export",
		tags: ["audit"],
		security,
		middleware: [requireUser] as const,
		description:
			"NDJSON (docs/audit.md): a signed header, the start checkpoint, events and checkpoints, the end checkpoint. Verify offline with `npm run fernwart -- audit verify FILE`. Events a supporter may not read are redacted to their place in the chain.",
		request: { query: exportQuery },
		responses: {
			// No zod schema: the body is a stream of lines (application/x-ndjson), not one value.
			200: { description: "The export, streamed as application/x-ndjson." },
			401: errorResponse("UNAUTHENTICATED"),
			404: errorResponse("SESSION_NOT_FOUND"),
		},
	}),
	async (c) => {
		const q = c.req.valid("query");
		const { db, principal } = c.var;
		const supporterId = supporterScope(principal);
		if (q.sessionId && supporterId) {
			const session = await getSession(db, q.sessionId);
			if (!session || session.supporterId !== supporterId) throw new AppError("SESSION_NOT_FOUND");
		}
		const plan = await planExport(c.env, db, q).catch((err: unknown) => {
			throw err instanceof ExportUnavailableError ? new AppError("DB_UNAVAILABLE") : err;
		});
		const header = await signedHeader(c.env, db, plan, {
			from: q.from ?? null,
			to: q.to ?? null,
			sessionId: q.sessionId ?? null,
			visibility: supporterId ? `supporter:${supporterId}` : "all",
			url: c.env.PUBLIC_URL ?? new URL(c.req.url).origin,
		});
		const stream = exportStream(db, header, plan, { supporterId, sessionId: q.sessionId });
		const name = `fernwart-audit-${new Date(header.exportedAt).toISOString().replace(/[:.]/g, "-")}.ndjson`;
		return new Response(stream, {
			status: 200,
			headers: {
				"content-type": "application/x-ndjson; charset=utf-8",
				"content-disposition": `attachment; filename="${name}"`,
			},
		});
	},
);

auditRoutes.openapi(
	createRoute({
		method: "post",
		path: "/api/v1/audit/retention",
		tags: ["audit"],
		security,
		middleware: [requireAdmin] as const,
		description:
			"Applies retention now: deletes whole sessions' events older than `olderThanDays` (default: the `auditRetentionDays` setting) by cutting the chain at a signed checkpoint.",
		request: {
			body: {
				content: {
					"application/json": {
						schema: z
							.object({ olderThanDays: z.int().min(0).max(36_500).optional() })
							.strict()
							.openapi("RetentionRequest"),
					},
				},
				required: false,
			},
		},
		responses: {
			200: jsonResponse(
				z
					.object({
						cut: z.object({ seq: z.number(), hash: z.string() }).nullable(),
						deletedEvents: z.number(),
					})
					.openapi("RetentionResult"),
				"Where the chain was cut (null: nothing old enough) and how many events went.",
			),
			400: errorResponse("INVALID_REQUEST: retention is off and no olderThanDays was given"),
			403: errorResponse("FORBIDDEN"),
		},
	}),
	async (c) => {
		const body = c.req.valid("json") ?? {};
		const days = body.olderThanDays ?? (await getSettings(c.var.db)).auditRetentionDays;
		if (!days && body.olderThanDays === undefined)
			throw new AppError("INVALID_REQUEST", { reason: "retention is off (auditRetentionDays 0)" });
		const result = await auditLog(c.env).applyRetention(days, {
			actor: c.var.principal.id,
			ip: c.var.ip,
		});
		if (!result.ok) throw new AppError("DB_UNAVAILABLE");
		return c.json({ cut: result.cut, deletedEvents: result.deletedEvents }, 200);
	},
);
