import { createRoute, z } from "@hono/zod-openapi";
import { createGroup, listGroupSummaries } from "../../schema/groups.ts";
import { getUserGroupIds } from "../../schema/hosts.ts";
import { audit } from "../lib/audit.ts";
import { AppError } from "../lib/errors.ts";
import { createRouter, errorResponse, jsonResponse } from "../lib/router.ts";
import { withClientAddress } from "../middleware/client-address.ts";
import { requireAdmin, requireUser } from "../middleware/require-user.ts";

const security = [{ bearer: [] }];

const groupView = z
	.object({
		id: z.string(),
		name: z.string(),
		createdAt: z.number(),
		members: z.number(),
		hosts: z.number(),
	})
	.openapi("Group");

const createBody = z
	.object({ name: z.string().trim().min(1).max(100) })
	.strict()
	.openapi("CreateGroup");

/**
 * Groups of supporters and hosts. Memberships are set on the user (`PATCH /api/v1/users/{id}`
 * `{groups}`); hosts join a group through their enrolment token or `PATCH /api/v1/hosts/{id}`.
 */
export const groupRoutes = createRouter();

groupRoutes.openapi(
	createRoute({
		method: "get",
		path: "/api/v1/groups",
		tags: ["groups"],
		security,
		middleware: [requireUser] as const,
		description: "Groups with member and host counts: admins all, a supporter its own.",
		responses: {
			200: jsonResponse(z.object({ groups: z.array(groupView) }).openapi("GroupList"), "Groups."),
			401: errorResponse("UNAUTHENTICATED"),
		},
	}),
	async (c) => {
		const { db, principal } = c.var;
		const ids = principal.role === "admin" ? null : await getUserGroupIds(db, principal.id);
		const rows = await listGroupSummaries(db, ids);
		return c.json({ groups: rows.map((g) => ({ ...g, createdAt: g.createdAt.getTime() })) }, 200);
	},
);

groupRoutes.openapi(
	createRoute({
		method: "post",
		path: "/api/v1/groups",
		tags: ["groups"],
		security,
		middleware: [withClientAddress, requireAdmin] as const,
		request: { body: { content: { "application/json": { schema: createBody } }, required: true } },
		responses: {
			201: jsonResponse(groupView, "The new, empty group."),
			403: errorResponse("FORBIDDEN"),
			409: errorResponse("GROUP_NAME_TAKEN"),
		},
	}),
	async (c) => {
		const { name } = c.req.valid("json");
		const { db, principal } = c.var;
		const group = await createGroup(db, name);
		if (!group) throw new AppError("GROUP_NAME_TAKEN");
		await audit(c.env, {
			type: "group.created",
			actor: principal.id,
			subject: group.id,
			ip: c.var.ip,
			data: { name: group.name },
		});
		return c.json(
			{
				id: group.id,
				name: group.name,
				createdAt: group.createdAt.getTime(),
				members: 0,
				hosts: 0,
			},
			201,
		);
	},
);
