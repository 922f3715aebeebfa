import { createRoute, z } from "@hono/zod-openapi";
import {
	createGroup,
	deleteEmptyGroup,
	getGroup,
	listGroupSummaries,
	renameGroup,
	setGroupPolicy,
} from "../../schema/groups.ts";
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
		mailProtocol: z.boolean().openapi({
			description:
				"After each session of the group, mail its protocol (a summary and the signed excerpt) to the supporter, and to a customer who asked for a copy. Needs SMTP_URL.",
		}),
		members: z.number(),
		hosts: z.number(),
	})
	.openapi("Group");

const createBody = z
	.object({ name: z.string().trim().min(1).max(100) })
	.strict()
	.openapi("CreateGroup");

const updateBody = z
	.object({
		name: z.string().trim().min(1).max(100).optional(),
		mailProtocol: z.boolean().optional(),
	})
	.strict()
	.refine((b) => b.name !== undefined || b.mailProtocol !== undefined, {
		message: "nothing to change",
	})
	.openapi("UpdateGroup");

const idParams = z.object({ id: z.uuid() });

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
				mailProtocol: group.mailProtocol,
				members: 0,
				hosts: 0,
			},
			201,
		);
	},
);

groupRoutes.openapi(
	createRoute({
		method: "patch",
		path: "/api/v1/groups/{id}",
		tags: ["groups"],
		security,
		middleware: [withClientAddress, requireAdmin] as const,
		request: {
			params: idParams,
			body: { content: { "application/json": { schema: updateBody } }, required: true },
		},
		description:
			"Renames the group and/or changes its policy (`mailProtocol`, off by default). Each change is audited.",
		responses: {
			200: jsonResponse(groupView, "The group as it is now."),
			403: errorResponse("FORBIDDEN"),
			404: errorResponse("GROUP_NOT_FOUND"),
			409: errorResponse("GROUP_NAME_TAKEN"),
		},
	}),
	async (c) => {
		const { id } = c.req.valid("param");
		const { name, mailProtocol } = c.req.valid("json");
		const { db, principal } = c.var;
		const before = await getGroup(db, id);
		if (!before) throw new AppError("GROUP_NOT_FOUND");
		if (name !== undefined && name !== before.name) {
			const renamed = await renameGroup(db, id, name);
			if (renamed === "taken") throw new AppError("GROUP_NAME_TAKEN");
			if (!renamed) throw new AppError("GROUP_NOT_FOUND");
			await audit(c.env, {
				type: "group.renamed",
				actor: principal.id,
				subject: id,
				ip: c.var.ip,
				data: { from: before.name, to: renamed.name },
			});
		}
		if (mailProtocol !== undefined && mailProtocol !== before.mailProtocol) {
			if (!(await setGroupPolicy(db, id, { mailProtocol }))) throw new AppError("GROUP_NOT_FOUND");
			await audit(c.env, {
				type: "group.policy_updated",
				actor: principal.id,
				subject: id,
				ip: c.var.ip,
				data: { mailProtocol },
			});
		}
		const [summary] = await listGroupSummaries(db, [id]);
		if (!summary) throw new AppError("GROUP_NOT_FOUND");
		return c.json({ ...summary, createdAt: summary.createdAt.getTime() }, 200);
	},
);

groupRoutes.openapi(
	createRoute({
		method: "delete",
		path: "/api/v1/groups/{id}",
		tags: ["groups"],
		security,
		middleware: [withClientAddress, requireAdmin] as const,
		request: { params: idParams },
		responses: {
			204: { description: "Deleted, with its memberships, enrolment tokens and host policy." },
			403: errorResponse("FORBIDDEN"),
			404: errorResponse("GROUP_NOT_FOUND"),
			409: errorResponse("GROUP_NOT_EMPTY: hosts still belong to the group"),
		},
	}),
	async (c) => {
		const { id } = c.req.valid("param");
		const { db, principal } = c.var;
		const group = await getGroup(db, id);
		if (!group) throw new AppError("GROUP_NOT_FOUND");
		const result = await deleteEmptyGroup(db, id);
		if (result === "not_found") throw new AppError("GROUP_NOT_FOUND");
		if (result === "not_empty") throw new AppError("GROUP_NOT_EMPTY");
		await audit(c.env, {
			type: "group.deleted",
			actor: principal.id,
			subject: id,
			ip: c.var.ip,
			data: { name: group.name },
		});
		return c.body(null, 204);
	},
);
