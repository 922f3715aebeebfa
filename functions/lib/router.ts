import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../env.ts";
import { AppError } from "./errors.ts";

/**
 * Every route module builds its sub-app here, so a failed zod check always becomes the same
 * `INVALID_REQUEST` with the offending paths (never the values, which may be secrets).
 */
export function createRouter() {
	return new OpenAPIHono<AppEnv>({
		defaultHook: (result) => {
			if (!result.success) {
				const issues = result.error.issues.slice(0, 20).map((i) => ({
					path: i.path.join("."),
					message: i.message,
				}));
				throw new AppError("INVALID_REQUEST", { issues });
			}
		},
	});
}

/** The error body as an OpenAPI schema, for the `responses` of each route. */
export const errorSchema = z
	.object({
		error: z.object({
			code: z.string().openapi({ example: "INVALID_REQUEST" }),
			message: z.string(),
			details: z.unknown().optional(),
		}),
	})
	.openapi("Error");

/** A JSON response entry for createRoute. */
export function jsonResponse<T extends z.ZodType>(schema: T, description: string) {
	return { content: { "application/json": { schema } }, description };
}

/** The standard error response entry for createRoute. */
export function errorResponse(description: string) {
	return jsonResponse(errorSchema, description);
}
