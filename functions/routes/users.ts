import { createRoute, z } from "@hono/zod-openapi";
import { getGroupNamesByUser, getUserGroupNames, setUserGroups } from "../../schema/groups.ts";
import { revokeUserRefreshTokens } from "../../schema/refresh-tokens.ts";
import {
	countOtherActiveAdmins,
	createUser,
	deleteUser,
	getUserByEmail,
	getUserById,
	listUsers,
	USER_ROLES,
	type UserChanges,
	updateUser,
} from "../../schema/users.ts";
import { audit } from "../lib/audit.ts";
import { endSessions } from "../lib/end-sessions.ts";
import { AppError } from "../lib/errors.ts";
import { BODY_LIMIT_EXTENSION, USER_MAX_BODY_BYTES } from "../lib/http-limits.ts";
import { hashPassword } from "../lib/password.ts";
import { createRouter, errorResponse, jsonResponse } from "../lib/router.ts";
import { withClientAddress } from "../middleware/client-address.ts";
import { requireAdmin } from "../middleware/require-user.ts";
import { emailSchema, passwordSchema, toUserView, userSchema } from "./user-view.ts";

const security = [{ bearer: [] }];
const groupNames = z.array(z.string().trim().min(1).max(100)).max(50);
const idParams = z.object({ id: z.uuid() });

const createBody = z
	.object({
		email: emailSchema,
		displayName: z.string().trim().min(1).max(200),
		role: z.enum(USER_ROLES).default("supporter"),
		password: passwordSchema,
		groups: groupNames.default([]),
	})
	.openapi("CreateUser");

const patchBody = z
	.object({
		displayName: z.string().trim().min(1).max(200).optional(),
		role: z.enum(USER_ROLES).optional(),
		disabled: z.boolean().optional(),
		password: passwordSchema.optional(),
		groups: groupNames.optional(),
		/** Turns the user's TOTP off, e.g. after a lost phone; they enrol again. */
		resetTotp: z.literal(true).optional(),
	})
	.strict()
	.openapi("UpdateUser");

/** Admin user management. The admin CLI uses the same routes while the server runs. */
export const users = createRouter();
// `/api/v1/users/*` also matches `/api/v1/users` itself in Hono.
users.use("/api/v1/users/*", withClientAddress, requireAdmin);

users.openapi(
	createRoute({
		method: "get",
		path: "/api/v1/users",
		tags: ["users"],
		security,
		responses: {
			200: jsonResponse(z.object({ users: z.array(userSchema) }), "All users."),
			403: errorResponse("FORBIDDEN"),
		},
	}),
	async (c) => {
		const [rows, groups] = await Promise.all([listUsers(c.var.db), getGroupNamesByUser(c.var.db)]);
		return c.json({ users: rows.map((u) => toUserView(u, groups.get(u.id) ?? [])) }, 200);
	},
);

users.openapi(
	createRoute({
		method: "post",
		path: "/api/v1/users",
		tags: ["users"],
		security,
		[BODY_LIMIT_EXTENSION]: USER_MAX_BODY_BYTES,
		request: { body: { content: { "application/json": { schema: createBody } }, required: true } },
		responses: {
			201: jsonResponse(userSchema, "The new user."),
			409: errorResponse("EMAIL_TAKEN"),
		},
	}),
	async (c) => {
		const body = c.req.valid("json");
		const db = c.var.db;
		if (await getUserByEmail(db, body.email)) throw new AppError("EMAIL_TAKEN");
		const user = await createUser(db, {
			email: body.email,
			displayName: body.displayName,
			role: body.role,
			passwordHash: await hashPassword(body.password),
		});
		if (body.groups.length) await setUserGroups(db, user.id, body.groups);
		await audit(c.env, {
			type: "user.created",
			actor: c.var.principal.id,
			subject: user.id,
			ip: c.var.ip,
			data: { email: user.email, role: user.role },
		});
		return c.json(toUserView(user, await getUserGroupNames(db, user.id)), 201);
	},
);

users.openapi(
	createRoute({
		method: "get",
		path: "/api/v1/users/{id}",
		tags: ["users"],
		security,
		request: { params: idParams },
		responses: {
			200: jsonResponse(userSchema, "The user."),
			404: errorResponse("USER_NOT_FOUND"),
		},
	}),
	async (c) => {
		const user = await getUserById(c.var.db, c.req.valid("param").id);
		if (!user) throw new AppError("USER_NOT_FOUND");
		return c.json(toUserView(user, await getUserGroupNames(c.var.db, user.id)), 200);
	},
);

users.openapi(
	createRoute({
		method: "patch",
		path: "/api/v1/users/{id}",
		tags: ["users"],
		security,
		[BODY_LIMIT_EXTENSION]: USER_MAX_BODY_BYTES,
		request: {
			params: idParams,
			body: { content: { "application/json": { schema: patchBody } }, required: true },
		},
		responses: {
			200: jsonResponse(userSchema, "The changed user."),
			404: errorResponse("USER_NOT_FOUND"),
			409: errorResponse("LAST_ADMIN or SELF_LOCKOUT"),
		},
	}),
	async (c) => {
		const db = c.var.db;
		const body = c.req.valid("json");
		const user = await getUserById(db, c.req.valid("param").id);
		if (!user) throw new AppError("USER_NOT_FOUND");
		const losesAdmin =
			user.role === "admin" &&
			!user.disabled &&
			(body.disabled === true || (body.role !== undefined && body.role !== "admin"));
		if (losesAdmin) {
			if (c.var.principal.id === user.id) throw new AppError("SELF_LOCKOUT");
			if ((await countOtherActiveAdmins(db, user.id)) === 0) throw new AppError("LAST_ADMIN");
		}
		const changes: UserChanges = {};
		if (body.displayName !== undefined) changes.displayName = body.displayName;
		if (body.role !== undefined) changes.role = body.role;
		if (body.disabled !== undefined) changes.disabled = body.disabled;
		if (body.password !== undefined) changes.passwordHash = await hashPassword(body.password);
		if (body.resetTotp) {
			changes.totpEnabled = false;
			changes.totpSecret = null;
			changes.totpLastStep = null;
		}
		const updated = (await updateUser(db, user.id, changes)) ?? user;
		if (body.groups !== undefined) await setUserGroups(db, user.id, body.groups);
		// Taken privileges act on live connections at once: a disabled account's sessions end;
		// a supporter who lost a group (or the admin role) loses the sessions with its hosts.
		const by = c.var.principal.id;
		if (body.disabled === true) await endSessions(c.env, db, { supporterId: user.id }, by);
		else if (updated.role !== "admin" && (body.groups !== undefined || body.role !== undefined))
			await endSessions(c.env, db, { unentitledHostSessionsOf: user.id }, by);
		// Sessions end when the account is disabled or its password is set by someone else.
		if (body.disabled === true || body.password !== undefined) {
			await revokeUserRefreshTokens(db, user.id);
		}
		await audit(c.env, {
			type: body.disabled === true ? "user.disabled" : "user.updated",
			actor: c.var.principal.id,
			subject: user.id,
			ip: c.var.ip,
			// Which fields changed, never their values (a password among them).
			data: { fields: Object.keys(body).sort() },
		});
		return c.json(toUserView(updated, await getUserGroupNames(db, user.id)), 200);
	},
);

users.openapi(
	createRoute({
		method: "delete",
		path: "/api/v1/users/{id}",
		tags: ["users"],
		security,
		request: { params: idParams },
		responses: {
			204: { description: "Deleted, with the user's logins and memberships." },
			404: errorResponse("USER_NOT_FOUND"),
			409: errorResponse(
				"LAST_ADMIN, SELF_LOCKOUT, or USER_HAS_HISTORY: support sessions name the user; disable instead",
			),
		},
	}),
	async (c) => {
		const db = c.var.db;
		const user = await getUserById(db, c.req.valid("param").id);
		if (!user) throw new AppError("USER_NOT_FOUND");
		if (c.var.principal.id === user.id) throw new AppError("SELF_LOCKOUT");
		if (
			user.role === "admin" &&
			!user.disabled &&
			(await countOtherActiveAdmins(db, user.id)) === 0
		) {
			throw new AppError("LAST_ADMIN");
		}
		// Session and audit history must stay attributable; such an account is disabled instead.
		const deleted = await deleteUser(db, user.id);
		if (!deleted.ok) throw new AppError("USER_HAS_HISTORY");
		await audit(c.env, {
			type: "user.deleted",
			actor: c.var.principal.id,
			subject: user.id,
			ip: c.var.ip,
			data: { email: user.email },
		});
		return c.body(null, 204);
	},
);
