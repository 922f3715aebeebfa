import { describe, expect, it } from "vitest";
import {
	allowedMethods,
	BODY_DEFAULT_MAX_BYTES,
	BODY_NONE_MAX_BYTES,
	buildRouteLimits,
	pathPattern,
} from "../../functions/lib/http-limits.ts";

describe("http limits", () => {
	it("matches Hono paths segment by segment", () => {
		expect(pathPattern("/api/v1/users/:id").test("/api/v1/users/abc")).toBe(true);
		expect(pathPattern("/api/v1/users/:id").test("/api/v1/users/abc/x")).toBe(false);
		expect(pathPattern("/api/v1/users/:id").test("/api/v1/users/")).toBe(false);
		expect(pathPattern("/a.b").test("/aXb")).toBe(false);
	});

	it("lists the methods of every route on a path, HEAD with GET, middleware left out", () => {
		const routes = [
			{ method: "ALL", path: "/api/v1/users/*" },
			{ method: "GET", path: "/api/v1/users/:id" },
			{ method: "DELETE", path: "/api/v1/users/:id" },
			{ method: "POST", path: "/api/v1/users" },
		];
		expect(allowedMethods(routes, "/api/v1/users/1")).toEqual(["DELETE", "GET", "HEAD"]);
		expect(allowedMethods(routes, "/api/v1/users")).toEqual(["POST"]);
		expect(allowedMethods(routes, "/api/v1/nope")).toEqual([]);
	});

	it("gives JSON routes the default cap, others the small one, and honours a named cap", () => {
		const json = { body: { content: { "application/json": {} } } };
		const definitions = [
			{ type: "route", route: { method: "post", path: "/a", request: json } },
			{ type: "route", route: { method: "get", path: "/b/{id}" } },
			{
				type: "route",
				route: { method: "patch", path: "/c", request: json, "x-max-body-bytes": 9 },
			},
			{ type: "component" },
		];
		const table = buildRouteLimits(definitions);
		expect(table.get("POST /a")?.maxBodyBytes).toBe(BODY_DEFAULT_MAX_BYTES);
		expect(table.get("GET /b/:id")).toMatchObject({
			json: false,
			maxBodyBytes: BODY_NONE_MAX_BYTES,
		});
		expect(table.get("PATCH /c")?.maxBodyBytes).toBe(9);
		// Written back, so the OpenAPI document shows what is enforced.
		expect(definitions[1]?.route?.["x-max-body-bytes"]).toBe(BODY_NONE_MAX_BYTES);
	});
});
