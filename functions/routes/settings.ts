import { createRoute, z } from "@hono/zod-openapi";
import { linkAllowListSchema } from "../../protocol/links.ts";
import type { Db } from "../../schema/db.ts";
import { getSettings, type SettingKey, setSetting } from "../../schema/settings.ts";
import type { Env } from "../env.ts";
import { audit } from "../lib/audit.ts";
import { sha256Hex } from "../lib/encoding.ts";
import { BODY_LIMIT_EXTENSION, SETTINGS_MAX_BODY_BYTES } from "../lib/http-limits.ts";
import { createRouter, errorResponse, jsonResponse } from "../lib/router.ts";
import { withClientAddress } from "../middleware/client-address.ts";
import { requireAdmin } from "../middleware/require-user.ts";
import { mailEnabled } from "./auth.ts";
import { picturesEnabled } from "./pictures.ts";

const settingsSchema = z
	.object({
		requireTotp: z.boolean(),
		termsText: z.string().min(1).max(20_000),
		/** The terms for customers whose page is in German. */
		termsTextDe: z.string().min(1).max(20_000),
		requireTerms: z.boolean(),
		defaultView: z.enum(["customer", "supporter"]),
		sessionCodeTtlMinutes: z.int().min(1).max(60),
		sessionIdleSeconds: z.int().min(10).max(3600),
		auditRetentionDays: z.int().min(0).max(36_500),
		/** Host names (or `*.example.org`) the link warning page marks as allowed; at most 100. */
		linkAllowList: linkAllowListSchema,
		/** Open enrolment tokens per group, and per user who makes them. */
		maxOpenEnrollments: z.int().min(1).max(10_000),
		/** Live sessions (joined, or with a valid support ID) per supporter. */
		maxLiveSessionsPerSupporter: z.int().min(1).max(1000),
		/** Customers wait for the supporter's admission after typing the support ID. */
		requireAdmission: z.boolean(),
	})
	.openapi("Settings");

/**
 * What GET and PATCH answer: the writable settings plus read-only facts of the deployment, which
 * the PATCH body (the writable schema, strict) refuses.
 */
const settingsView = settingsSchema
	.extend({
		/** True only when the admin configured SMTP_URL; nothing is ever mailed otherwise. */
		mailEnabled: z.boolean(),
		/** True only when the admin configured their own S3 store (S3_URL); no pictures otherwise. */
		picturesEnabled: z.boolean(),
	})
	.openapi("SettingsView");
/** The stored settings plus which optional features the admin wired up. */
async function settingsResponse(db: Db, env: Env) {
	return {
		...(await getSettings(db)),
		mailEnabled: mailEnabled(env),
		picturesEnabled: picturesEnabled(env),
	};
}

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
			200: jsonResponse(settingsView, "The current settings."),
			403: errorResponse("FORBIDDEN"),
		},
	}),
	async (c) => c.json(await settingsResponse(c.var.db, c.env), 200),
);

settings.openapi(
	createRoute({
		method: "patch",
		path: "/api/v1/settings",
		tags: ["settings"],
		security,
		[BODY_LIMIT_EXTENSION]: SETTINGS_MAX_BODY_BYTES,
		request: {
			body: {
				content: { "application/json": { schema: settingsSchema.partial().strict() } },
				required: true,
			},
		},
		responses: { 200: jsonResponse(settingsView, "The settings after the change.") },
	}),
	async (c) => {
		const body = c.req.valid("json");
		for (const [key, value] of Object.entries(body) as [SettingKey, never][]) {
			if (value !== undefined) await setSetting(c.var.db, key, value);
		}
		await audit(c.env, {
			type: "settings.updated",
			actor: c.var.principal.id,
			ip: c.var.ip,
			// The terms text can be long; the protocol records that it changed and its hash.
			data: {
				...body,
				...(body.termsText !== undefined ? { termsText: await sha256Hex(body.termsText) } : {}),
				...(body.termsTextDe !== undefined
					? { termsTextDe: await sha256Hex(body.termsTextDe) }
					: {}),
			},
		});
		return c.json(await settingsResponse(c.var.db, c.env), 200);
	},
);
