import { createRoute, z } from "@hono/zod-openapi";
import { sql } from "drizzle-orm";
import { renderMetrics } from "../../durable/metrics.ts";
import { AppError } from "../lib/errors.ts";
import { createRouter, errorResponse, jsonResponse } from "../lib/router.ts";
import { missingSecrets } from "../lib/secrets.ts";
import { dbFor } from "../middleware/with-db.ts";

const healthSchema = z.object({ status: z.literal("ok"), version: z.string() }).openapi("Health");
const readySchema = z.object({ status: z.literal("ready") }).openapi("Ready");
const fingerprint = z.string().regex(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
const tlsSchema = z
	.object({
		fingerprint: fingerprint
			.nullable()
			.openapi({ description: "SHA-256 of the certificate in use." }),
		next: fingerprint.nullable().openapi({
			description: "SHA-256 of the certificate announced to replace it (TLS_NEXT_CERT), or null.",
		}),
	})
	.openapi("TlsFingerprints");

/** Liveness, readiness and metrics. None of these needs a login or reveals any user data. */
export const health = createRouter()
	// Liveness never touches the database: a slow disk must not get the process restarted.
	.openapi(
		createRoute({
			method: "get",
			path: "/healthz",
			tags: ["operations"],
			responses: { 200: jsonResponse(healthSchema, "The process is up.") },
		}),
		(c) => c.json({ status: "ok" as const, version: c.env.FERNWART_VERSION }, 200),
	)
	.openapi(
		createRoute({
			method: "get",
			path: "/readyz",
			tags: ["operations"],
			responses: {
				200: jsonResponse(readySchema, "The secrets are set and the database answers."),
				503: errorResponse(
					"SERVER_MISCONFIGURED (details.missing names the unset environment variables) or DB_UNAVAILABLE.",
				),
			},
		}),
		async (c) => {
			// Names of environment variables only, never values: what an admin needs to fix it.
			const missing = missingSecrets(c.env);
			if (missing.length > 0) throw new AppError("SERVER_MISCONFIGURED", { missing });
			try {
				await dbFor(c.env).run(sql`SELECT 1`);
			} catch {
				// The cause is logged by the DB service side; the probe only needs yes or no.
				throw new AppError("DB_UNAVAILABLE");
			}
			return c.json({ status: "ready" as const }, 200);
		},
	)
	// Certificate rollover (docs/operations.md "Certificates"): a module that pinned the current
	// certificate reads this over the pinned connection and trusts the next one when it comes.
	.openapi(
		createRoute({
			method: "get",
			path: "/api/v1/tls",
			tags: ["operations"],
			responses: {
				200: jsonResponse(
					tlsSchema,
					"The fingerprints of the certificate in use and the next one.",
				),
			},
		}),
		(c) =>
			c.json(
				{ fingerprint: c.env.TLS_FINGERPRINT ?? null, next: c.env.TLS_NEXT_FINGERPRINT ?? null },
				200,
			),
	)
	.openapi(
		createRoute({
			method: "get",
			path: "/metrics",
			tags: ["operations"],
			responses: {
				200: {
					content: { "text/plain": { schema: z.string() } },
					description: "Prometheus text format 0.0.4.",
				},
			},
		}),
		(c) =>
			c.text(renderMetrics(c.env.FERNWART_VERSION), 200, {
				"content-type": "text/plain; version=0.0.4; charset=utf-8",
			}),
	);
