import { z } from "@hono/zod-openapi";

/** A time as milliseconds since the epoch or as an ISO 8601 date. */
export const timeParam = z
	.string()
	.max(40)
	.transform((text, ctx) => {
		const ms = /^\d{1,15}$/.test(text) ? Number(text) : Date.parse(text);
		if (!Number.isFinite(ms)) {
			ctx.addIssue({ code: "custom", message: "a time in ms since the epoch or ISO 8601" });
			return z.NEVER;
		}
		return ms;
	})
	.openapi({ type: "string", example: "2026-11-01T00:00:00Z" });
