import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../functions/app.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

/** Hono's `/users/:id` written the OpenAPI way, `/users/{id}`. */
function toOpenApiPath(path: string): string {
	return path.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
}

describe("platform: the embedded server", () => {
	let server: TestServer;
	beforeAll(async () => {
		server = await startServer();
	});
	afterAll(async () => {
		await server?.stop();
	});

	it("answers /healthz over HTTPS with the generated certificate and the package version", async () => {
		const res = await server.json("/healthz");
		expect(res.status).toBe(200);
		expect(res.body).toEqual({ status: "ok", version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
		expect(res.headers.get("strict-transport-security")).toContain("max-age=");
		expect(res.headers.get("x-content-type-options")).toBe("nosniff");
	});

	it("answers /readyz with 200 while the database answers", async () => {
		const res = await server.json("/readyz");
		expect(res).toMatchObject({ status: 200, body: { status: "ready" } });
	});

	it("refuses plain HTTP on the HTTPS port", async () => {
		const plain = new URL(server.url);
		plain.protocol = "http:";
		await expect(fetch(new URL("/healthz", plain))).rejects.toThrow();
	});

	it("serves Prometheus metrics that count requests by route pattern", async () => {
		for (let i = 0; i < 3; i++) await server.json("/healthz");
		await server.json("/no/such/path/123");
		const res = await server.fetch("/metrics");
		expect(res.headers.get("content-type")).toContain("text/plain; version=0.0.4");
		const text = await res.text();
		const healthz =
			/fernwart_http_requests_total\{method="GET",route="\/healthz",status="200"\} (\d+)/.exec(
				text,
			);
		expect(Number(healthz?.[1])).toBeGreaterThanOrEqual(4);
		// Unknown paths are counted under one label, so URLs cannot blow up the series count.
		expect(text).toMatch(/route="unmatched",status="404"\} \d+/);
		expect(text).not.toContain("/no/such/path");
		expect(text).toMatch(/^fernwart_websockets_open \d+$/m);
	});

	it("answers unknown paths with the standard error body", async () => {
		const res = await server.json("/api/v1/nothing-here");
		expect(res).toMatchObject({
			status: 404,
			body: { error: { code: "NOT_FOUND", message: expect.any(String) } },
		});
	});

	it("lists every mounted route in the OpenAPI 3.1 document", async () => {
		const res = await server.json<{
			openapi: string;
			paths: Record<string, Record<string, unknown>>;
		}>("/api/v1/openapi.json");
		expect(res.status).toBe(200);
		expect(res.body.openapi).toBe("3.1.0");
		const documented = new Set(
			Object.entries(res.body.paths).flatMap(([path, ops]) =>
				Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
			),
		);
		const mounted = createApp()
			.routes.filter((r) => r.method !== "ALL" && r.path !== "/api/v1/openapi.json")
			.map((r) => `${r.method} ${toOpenApiPath(r.path)}`);
		expect(mounted.length).toBeGreaterThanOrEqual(3);
		const missing = [...new Set(mounted)].filter((route) => !documented.has(route));
		expect(missing).toEqual([]);
	});

	it("never sends a stack trace or internal detail in an error", async () => {
		const res = await server.fetch("/api/v1/openapi.json", { method: "DELETE" });
		const text = await res.text();
		expect(res.status).toBeGreaterThanOrEqual(400);
		expect(text).not.toMatch(/at .*\.(js|ts):\d+/);
	});
});

describe("platform: process lifecycle", () => {
	it("stops cleanly on SIGTERM and leaves no workerd behind", async () => {
		const server = await startServer();
		const pid = server.process.pid as number;
		const children = () => {
			try {
				return execFileSync("ps", ["-o", "pid=,comm=", "--ppid", String(pid)], {
					encoding: "utf8",
				});
			} catch {
				return ""; // ps exits 1 when nothing matches
			}
		};
		expect(children()).toMatch(/workerd/);
		const workerdPids = children()
			.split("\n")
			.filter((l) => l.includes("workerd"))
			.map((l) => Number(l.trim().split(/\s+/)[0]));
		expect(await server.stop()).toBe(0);
		for (const p of workerdPids) {
			expect(() => process.kill(p, 0)).toThrow(); // ESRCH: the process is gone
		}
	});
});
