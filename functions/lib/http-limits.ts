/**
 * Caps on what one HTTP request may make the worker hold, and the table of mounted routes they
 * are looked up in. docs/security.md ("Bounded requests") explains each number.
 */

/** Longest path plus query the app answers; workerd itself refuses URLs over 64 KiB. */
export const URL_MAX_BYTES = 16 * 1024;

/**
 * Cap for a JSON body unless the route names its own. The largest ordinary body is a password
 * change (two passwords of at most 1024 characters, 12 KiB even when every character is escaped).
 */
export const BODY_DEFAULT_MAX_BYTES = 16 * 1024;

/** Cap for routes that take no body: room for a stray `{}`, nothing that costs memory. */
export const BODY_NONE_MAX_BYTES = 1024;

/**
 * The settings take the support terms in two languages (20,000 characters each, up to 120 KB
 * each when every character is escaped) and a link allow-list of 100 host names.
 */
export const SETTINGS_MAX_BODY_BYTES = 384 * 1024;

/** A user with 50 group names of 100 characters each, next to a password. */
export const USER_MAX_BODY_BYTES = 64 * 1024;

/** The OpenAPI extension a route uses to name a cap other than the default. */
export const BODY_LIMIT_EXTENSION = "x-max-body-bytes";

/** One mounted route as the limits see it. */
export interface RouteLimits {
	method: string;
	/** Hono's form, `/api/v1/users/:id`. */
	path: string;
	/** The route declares an `application/json` body. */
	json: boolean;
	maxBodyBytes: number;
}

/** The fields of a zod-openapi route definition that matter here. */
interface RouteDefinition {
	type: string;
	route?: {
		method: string;
		path: string;
		request?: { body?: { content?: Record<string, unknown> } };
		[BODY_LIMIT_EXTENSION]?: unknown;
	};
}

/** Converts an OpenAPI path (`{id}`) to Hono's (`:id`), as zod-openapi does when mounting. */
export function toHonoPath(openApiPath: string): string {
	return openApiPath.replaceAll(/\/{(.+?)}/g, "/:$1");
}

/**
 * Builds `METHOD path` → limits from the OpenAPI registry. Every documented route gets its cap
 * written back as `x-max-body-bytes`, so clients read the same number the server enforces.
 */
export function buildRouteLimits(definitions: readonly RouteDefinition[]) {
	const table = new Map<string, RouteLimits>();
	for (const def of definitions) {
		const route = def.route;
		if (def.type !== "route" || !route) continue;
		const json = Object.keys(route.request?.body?.content ?? {}).includes("application/json");
		const named = route[BODY_LIMIT_EXTENSION];
		const maxBodyBytes =
			typeof named === "number" ? named : json ? BODY_DEFAULT_MAX_BYTES : BODY_NONE_MAX_BYTES;
		route[BODY_LIMIT_EXTENSION] = maxBodyBytes;
		const method = route.method.toUpperCase();
		const path = toHonoPath(route.path);
		table.set(`${method} ${path}`, { method, path, json, maxBodyBytes });
	}
	return table;
}

/** A Hono route path as a regular expression over request paths. */
export function pathPattern(honoPath: string): RegExp {
	const source = honoPath
		.split("/")
		.map((part) => {
			if (part === "*") return ".*";
			if (part.startsWith(":")) return "[^/]+";
			return part.replaceAll(/[.*+?^${}()|[\]\\]/g, "\\$&");
		})
		.join("/");
	return new RegExp(`^${source}/?$`);
}

/**
 * The methods routes answer for `path`, for a 405's `Allow` header; empty if no route has this
 * path at all (then it is a 404). GET routes also answer HEAD.
 */
export function allowedMethods(
	routes: readonly { method: string; path: string }[],
	path: string,
): string[] {
	const methods = new Set<string>();
	for (const r of routes) {
		if (r.method === "ALL" || !pathPattern(r.path).test(path)) continue;
		methods.add(r.method);
		if (r.method === "GET") methods.add("HEAD");
	}
	return [...methods].sort();
}
