import { createRoute, z } from "@hono/zod-openapi";
import { getSettings, setSetting } from "../../schema/settings.ts";
import { audit } from "../lib/audit.ts";
import { createRouter, errorResponse, jsonResponse } from "../lib/router.ts";
import { withClientAddress } from "../middleware/client-address.ts";
import { requireAdmin } from "../middleware/require-user.ts";

const settingsSchema = z.object({ requireTotp: z.boolean() }).openapi("Settings");
const security = [{ bearer: [] }];

/** Server-wide settings, admin only. */
export const settings = createRouter();
settings.use("/api/v1/settings", withClientAddress, requireAdmin);

settings.openapi(
	createRoute({
		method: "get",
		path: "/api/v1/settings",
		tags: ["settings"],
		security,
		responses: {
			200: jsonResponse(settingsSchema, "The current settings."),
			403: errorResponse("FORBIDDEN"),
		},
	}),
	async (c) => c.json(await getSettings(c.var.db), 200),
);

settings.openapi(
	createRoute({
		method: "patch",
		path: "/api/v1/settings",
		tags: ["settings"],
		security,
		request: {
			body: {
				content: { "application/json": { schema: settingsSchema.partial().strict() } },
				required: true,
			},
		},
		responses: { 200: jsonResponse(settingsSchema, "The settings after the change.") },
	}),
	async (c) => {
		const body = c.req.valid("json");
		if (body.requireTotp !== undefined) await setSetting(c.var.db, "requireTotp", body.requireTotp);
		await audit(c.env, {
			type: "settings.updated",
			actor: c.var.principal.id,
			ip: c.var.ip,
			data: body,
		});
		return c.json(await getSettings(c.var.db), 200);
	},
);
