import { readdirSync, readFileSync } from "node:fs";
import { Readable } from "node:stream";
import { Agent, request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN, bearer, createUserAs, type ErrorBody, mustLogin } from "../helpers/auth.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

/** The headers app.ts puts on every answer it gives (pages replace the CSP with their own). */
const SECURITY_HEADERS = [
	"strict-transport-security",
	"x-content-type-options",
	"referrer-policy",
	"x-frame-options",
	"content-security-policy",
	"cache-control",
];
const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"] as const;
const ANY_ID = "00000000-0000-4000-8000-000000000000";

interface Operation {
	method: string;
	/** The OpenAPI path, `{id}` and all. */
	path: string;
	/** A concrete URL for it, with syntactically valid parameters. */
	url: string;
	json: boolean;
	maxBodyBytes: number;
}

interface Answer {
	status: number;
	headers: Record<string, string | string[] | undefined>;
	text: string;
}

function pathPattern(openApiPath: string): RegExp {
	return new RegExp(`^${openApiPath.replaceAll(/\{[^}]+\}/g, "[^/]+")}$`);
}

/** A JSON document of exactly `bytes` bytes. */
function jsonOfSize(bytes: number): string {
	const frame = '{"pad":""}';
	return `{"pad":"${"a".repeat(bytes - frame.length)}"}`;
}

function expectJsonError(answer: Answer, status: number, code: string) {
	const where = `${answer.status} ${answer.text.slice(0, 200)}`;
	expect(answer.status, where).toBe(status);
	expect(String(answer.headers["content-type"]), where).toMatch(/^application\/json/);
	for (const name of SECURITY_HEADERS) expect(answer.headers[name], name).toBeTruthy();
	expect(answer.headers["x-content-type-options"]).toBe("nosniff");
	const body = JSON.parse(answer.text);
	expect(body, where).toMatchObject({ error: { code, message: expect.any(String) } });
	expect(Object.keys(body)).toEqual(["error"]);
}

describe("one error shape on every route", () => {
	let server: TestServer;
	let agent: Agent;
	let auth: Record<string, string>;
	let operations: Operation[];

	/** One request through undici's dispatcher, which (unlike fetch) also sends GET bodies. */
	async function send(
		method: string,
		url: string,
		init: { headers?: Record<string, string>; body?: string | Readable } = {},
	): Promise<Answer> {
		const res = await request(new URL(url, server.url), {
			method: method as "GET",
			dispatcher: agent,
			headers: { ...auth, ...init.headers },
			body: init.body,
		});
		return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
	}

	beforeAll(async () => {
		server = await startServer();
		agent = new Agent({ connect: { ca: server.ca } });
		// An admin passes every route's authentication, so each refusal below is the one tested.
		auth = bearer((await mustLogin(server, ADMIN)).accessToken);
		const doc = await server.json<{
			paths: Record<string, Record<string, Record<string, unknown>>>;
		}>("/api/v1/openapi.json");
		operations = Object.entries(doc.body.paths).flatMap(([path, ops]) =>
			Object.entries(ops).map(([method, op]) => {
				const content = (op.requestBody as { content?: Record<string, unknown> } | undefined)
					?.content;
				return {
					method: method.toUpperCase(),
					path,
					url: path.replaceAll(/\{name\}/g, "missing.js").replaceAll(/\{[^}]+\}/g, ANY_ID),
					json: content?.["application/json"] !== undefined,
					maxBodyBytes: Number(op["x-max-body-bytes"]),
				};
			}),
		);
	});
	afterAll(async () => {
		await agent?.close();
		await server?.stop();
	});

	it("documents a body cap for every route, and every route module is in the document", () => {
		expect(operations.length).toBeGreaterThan(40);
		for (const op of operations) expect(op.maxBodyBytes, op.path).toBeGreaterThan(0);
		const paths = new Set(operations.map((o) => o.path));
		// Each route file's literal paths must show up, so the sweeps below cover all of them.
		const dir = new URL("../../functions/routes/", import.meta.url);
		for (const file of readdirSync(dir)) {
			const source = readFileSync(new URL(file, dir), "utf8");
			for (const m of source.matchAll(/(?:path: |pageRoute\()"(\/[^"]*)"/g)) {
				expect(paths, `${file}: ${m[1]}`).toContain(m[1]);
			}
		}
	});

	it("answers a method a path does not have with 405, Allow and the JSON error", async () => {
		const urls = new Map(operations.map((o) => [o.url, o]));
		for (const url of urls.keys()) {
			const allowed = new Set(
				operations.filter((o) => pathPattern(o.path).test(url)).map((o) => o.method),
			);
			const wrong = METHODS.find((m) => !allowed.has(m));
			if (!wrong) continue;
			const answer = await send(wrong, url);
			expectJsonError(answer, 405, "METHOD_NOT_ALLOWED");
			const allow = String(answer.headers.allow).split(", ");
			for (const m of allowed) expect(allow, `${wrong} ${url}`).toContain(m);
		}
	});

	it("refuses a body one byte over the route's cap with 413, before authentication", async () => {
		for (const op of operations) {
			const body = jsonOfSize(op.maxBodyBytes + 1);
			const headers = { "content-type": "application/json", authorization: "Bearer nobody" };
			const answer = await send(op.method, op.url, { headers, body });
			expectJsonError(answer, 413, "PAYLOAD_TOO_LARGE");
			expect(JSON.parse(answer.text).error.details).toEqual({ limit: op.maxBodyBytes });
		}
	});

	it("counts chunked bodies without Content-Length while reading them", async () => {
		for (const op of operations.filter((o) => o.method !== "GET")) {
			const bytes = new TextEncoder().encode(jsonOfSize(op.maxBodyBytes + 1));
			async function* chunks() {
				for (let i = 0; i < bytes.length; i += 1000) yield bytes.subarray(i, i + 1000);
			}
			const answer = await send(op.method, op.url, {
				headers: { "content-type": "application/json" },
				body: Readable.from(chunks()),
			});
			expectJsonError(answer, 413, "PAYLOAD_TOO_LARGE");
		}
	});

	it("reads a body of exactly the cap and validates it", async () => {
		const join = { code: "1234 5678", displayName: "x" };
		const padded = JSON.stringify(join).replace("}", `,"displayName2":""}`);
		const fill = 16 * 1024 - padded.length;
		const body = padded.replace('"displayName2":""', `"displayName2":"${"a".repeat(fill)}"`);
		expect(Buffer.byteLength(body)).toBe(16 * 1024);
		const answer = await send("POST", "/api/v1/sessions/join", {
			headers: { "content-type": "application/json" },
			body,
		});
		// The unknown support ID is the refusal, so the body was read and parsed.
		expectJsonError(answer, 404, "SESSION_NOT_FOUND");
	});

	it("takes support terms of 20,000 escaped characters in both languages within the settings' cap", async () => {
		const termsText = "\u2603".repeat(20_000);
		const body = JSON.stringify({ termsText, termsTextDe: termsText }).replaceAll(
			"\u2603",
			"\\u2603",
		);
		expect(body.length).toBeGreaterThan(200_000);
		const answer = await send("PATCH", "/api/v1/settings", {
			headers: { "content-type": "application/json" },
			body,
		});
		expect(answer.status).toBe(200);
		expect(JSON.parse(answer.text).termsText).toBe(termsText);
		expect(JSON.parse(answer.text).termsTextDe).toBe(termsText);
	});

	it("answers a wrong content type on every JSON route with 415 UNSUPPORTED_MEDIA_TYPE", async () => {
		for (const op of operations.filter((o) => o.json)) {
			for (const type of ["text/plain", "application/x-www-form-urlencoded", undefined]) {
				const headers: Record<string, string> = type ? { "content-type": type } : {};
				const answer = await send(op.method, op.url, { headers, body: "{}" });
				expectJsonError(answer, 415, "UNSUPPORTED_MEDIA_TYPE");
			}
		}
	});

	it("answers malformed JSON on every JSON route with 400 INVALID_REQUEST", async () => {
		for (const op of operations.filter((o) => o.json)) {
			for (const body of ['{"a":', "\u00ff\u00fe{}", "{}}"]) {
				const answer = await send(op.method, op.url, {
					headers: { "content-type": "application/json" },
					body,
				});
				expectJsonError(answer, 400, "INVALID_REQUEST");
			}
		}
	});

	it("answers unknown paths and unknown assets with the JSON 404", async () => {
		for (const url of ["/nope", "/api/v1/nope", "/assets/missing.js", "/assets/..%2fapp.js"]) {
			expectJsonError(await send("GET", url), 404, "NOT_FOUND");
		}
	});

	it("answers a URL over 16 KiB with 414 and the JSON error", async () => {
		const answer = await send("GET", `/healthz?pad=${"a".repeat(16 * 1024)}`);
		expectJsonError(answer, 414, "URI_TOO_LONG");
		// A long but legitimate link page address still works.
		const link = `/link?u=${encodeURIComponent(`https://example.org/${"%".repeat(2000)}`)}`;
		expect((await send("GET", link)).status).toBeLessThan(500);
	});

	it("never answers 500 to any of the sweeps' odd parameters", async () => {
		for (const op of operations.filter((o) => o.method === "GET")) {
			for (const q of ["?limit=%ZZ", "?lang=%E0%A4%A", `?cursor=${"x".repeat(5000)}`]) {
				const answer = await send("GET", `${op.url.replace(ANY_ID, "%ZZ")}${q}`);
				expect(answer.status, `${op.url}${q}: ${answer.text.slice(0, 200)}`).toBeLessThan(500);
			}
		}
	});
});

describe("deleting a user", () => {
	let server: TestServer;
	let adminToken: string;
	let admin: Record<string, string>;
	beforeAll(async () => {
		server = await startServer();
		adminToken = (await mustLogin(server, ADMIN)).accessToken;
		admin = bearer(adminToken);
	});
	afterAll(async () => {
		await server?.stop();
	});

	it("answers 409 USER_HAS_HISTORY for a supporter with sessions and keeps the account", async () => {
		const password = "a long enough password 1";
		const user = await createUserAs(server, adminToken, {
			email: "history@example.test",
			password,
		});
		const own = bearer((await mustLogin(server, { email: user.email, password })).accessToken);
		const issued = await server.json("/api/v1/sessions", { method: "POST", headers: own });
		expect(issued.status).toBe(201);

		const refused = await server.json<ErrorBody>(`/api/v1/users/${user.id}`, {
			method: "DELETE",
			headers: admin,
		});
		expect(refused.status).toBe(409);
		expect(refused.body.error.code).toBe("USER_HAS_HISTORY");
		expect(refused.headers.get("x-frame-options")).toBe("DENY");
		// Nothing was half-deleted: the account, its groups and its login still work.
		expect((await server.json(`/api/v1/users/${user.id}`, { headers: admin })).status).toBe(200);
		expect((await server.json("/api/v1/me", { headers: own })).status).toBe(200);
		// Disabling is the way out, and it works.
		const disabled = await server.json(`/api/v1/users/${user.id}`, {
			method: "PATCH",
			headers: admin,
			body: { disabled: true },
		});
		expect(disabled.status).toBe(200);
	});

	it("deletes a user without sessions, with their memberships", async () => {
		const user = await createUserAs(server, adminToken, {
			email: "fresh@example.test",
			password: "a long enough password 1",
			groups: ["Deleted members"],
		});
		const res = await server.json(`/api/v1/users/${user.id}`, { method: "DELETE", headers: admin });
		expect(res.status).toBe(204);
		expect((await server.json(`/api/v1/users/${user.id}`, { headers: admin })).status).toBe(404);
	});
});
