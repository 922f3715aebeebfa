import { HTTPException } from "hono/http-exception";
import { routePath } from "hono/route";
import { countRequest } from "../durable/metrics.ts";
import type { AppEnv } from "./env.ts";
import { AppError, ERRORS, type ErrorCode, errorBody } from "./lib/errors.ts";
import { allowedMethods, buildRouteLimits, type RouteLimits } from "./lib/http-limits.ts";
import { createRouter } from "./lib/router.ts";
import { boundedRequest } from "./middleware/bounded-request.ts";
import { requireSecrets } from "./middleware/require-secrets.ts";
import { auditRoutes } from "./routes/audit.ts";
import { auth } from "./routes/auth.ts";
import { connect } from "./routes/connect.ts";
import { downloadRoutes } from "./routes/downloads.ts";
import { groupRoutes } from "./routes/groups.ts";
import { health } from "./routes/health.ts";
import { hostRoutes } from "./routes/hosts.ts";
import { me } from "./routes/me.ts";
import { notFoundPage, pages } from "./routes/pages.ts";
import { pictures } from "./routes/pictures.ts";
import { reports } from "./routes/reports.ts";
import { sessions } from "./routes/sessions.ts";
import { settings } from "./routes/settings.ts";
import { users } from "./routes/users.ts";

const SECURITY_HEADERS = {
	"strict-transport-security": "max-age=31536000",
	"x-content-type-options": "nosniff",
	"referrer-policy": "no-referrer",
	"x-frame-options": "DENY",
	"content-security-policy": "default-src 'none'; frame-ancestors 'none'",
	"cache-control": "no-store",
} as const;

/** The code for an HTTPException Hono or a validator raised (never a 5xx; those are bugs). */
const HTTP_EXCEPTION_CODES: Partial<Record<number, ErrorCode>> = {
	401: "UNAUTHENTICATED",
	404: "NOT_FOUND",
	405: "METHOD_NOT_ALLOWED",
	413: "PAYLOAD_TOO_LARGE",
	414: "URI_TOO_LONG",
	415: "UNSUPPORTED_MEDIA_TYPE",
};

/**
 * Builds the HTTP app: metrics and headers first, then the request bounds, then the route
 * modules, then errors. Every answer the app gives, refusals included, is the JSON error body
 * with the security headers.
 */
export function createApp() {
	const app = createRouter();
	// Filled once every route is mounted; requests arrive only after createApp returns.
	let routeLimits: ReadonlyMap<string, RouteLimits> = new Map();

	app.use(async (c, next) => {
		await next();
		// The route pattern, not the path, so IDs in URLs neither leak nor explode the label set.
		const pattern = routePath(c, -1);
		const route = pattern === "/*" ? "unmatched" : pattern;
		countRequest(c.req.method, route, c.res.status);
		// A WebSocket upgrade's response belongs to the runtime; its headers are not ours to set.
		if (c.res.status === 101) return;
		for (const [k, v] of Object.entries(SECURITY_HEADERS)) {
			if (!c.res.headers.has(k)) c.res.headers.set(k, v);
		}
	});
	app.use(boundedRequest(() => routeLimits));

	app.route("/", health);
	// The API does not work without the secrets: one clear 503 instead of a 500 deep inside.
	// (Scoped to /api/ so that the metrics keep the route pattern of what really ran.)
	app.use("/api/*", requireSecrets);
	app.route("/", auth);
	app.route("/", me);
	app.route("/", pictures);
	app.route("/", users);
	app.route("/", settings);
	app.route("/", sessions);
	app.route("/", hostRoutes);
	app.route("/", groupRoutes);
	app.route("/", connect);
	app.route("/", auditRoutes);
	app.route("/", reports);
	app.route("/", downloadRoutes);
	// The web console's pages set their own CSP; the API's `default-src 'none'` applies elsewhere.
	app.route("/", pages);

	app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
		type: "http",
		scheme: "bearer",
		bearerFormat: "JWT",
	});

	app.doc31("/api/v1/openapi.json", (c) => ({
		openapi: "3.1.0",
		info: { title: "Fernwart API", version: c.env.FERNWART_VERSION },
	}));

	routeLimits = buildRouteLimits(app.openAPIRegistry.definitions);
	const routes = app.routes.map((r) => ({ method: r.method, path: r.path }));

	// A path some route has, with another method: 405 and the methods that would work.
	app.notFound(async (c) => {
		const allow = allowedMethods(routes, c.req.path);
		// A person in a browser gets a page with a way home; programs keep the JSON error.
		if (allow.length === 0) return (await notFoundPage(c)) ?? c.json(errorBody("NOT_FOUND"), 404);
		return c.json(errorBody("METHOD_NOT_ALLOWED"), 405, { allow: allow.join(", ") });
	});

	app.onError((err, c) => {
		if (err instanceof AppError) {
			return c.json(errorBody(err.code, err.details), ERRORS[err.code].status, err.headers);
		}
		if (err instanceof HTTPException && err.status < 500) {
			// Raised by Hono or zod-openapi, e.g. malformed JSON (400) or a wrong content type (415).
			const code = HTTP_EXCEPTION_CODES[err.status] ?? "INVALID_REQUEST";
			return c.json(errorBody(code), ERRORS[code].status);
		}
		console.error(`[app] ${c.req.method} ${routePath(c, -1)} failed: ${err.name}: ${err.message}`);
		return c.json(errorBody("INTERNAL"), 500);
	});

	return app;
}

export type App = ReturnType<typeof createApp>;
export type { AppEnv };
