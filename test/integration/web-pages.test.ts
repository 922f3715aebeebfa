import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN, bearer, createUserAs, mustLogin } from "../helpers/auth.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

const PAGES = ["/", "/login", "/join", "/console", "/admin"];

describe("web console pages", () => {
	let server: TestServer;

	beforeAll(async () => {
		server = await startServer();
	});

	afterAll(async () => {
		await server?.stop();
	});

	it("serves every page with a strict CSP and only this server's own resources", async () => {
		for (const path of PAGES) {
			const res = await server.fetch(path);
			expect(res.status, path).toBe(200);
			expect(res.headers.get("content-type")).toMatch(/^text\/html/);
			const csp = res.headers.get("content-security-policy") ?? "";
			expect(csp).toContain("default-src 'none'");
			expect(csp).toContain("script-src 'self'");
			expect(csp).toContain("frame-ancestors 'none'");
			expect(csp).not.toContain("unsafe-inline");
			expect(res.headers.get("x-frame-options")).toBe("DENY");
			const html = await res.text();
			// Every src and href is a path on this server (or the empty data: icon).
			const urls = [...html.matchAll(/(?:src|href)="([^"]*)"/g)].map((m) => m[1] ?? "");
			for (const url of urls) expect(url, `${path}: ${url}`).toMatch(/^(\/|#|data:,$)/);
			// No inline script: only external modules and the JSON data block.
			const scripts = [...html.matchAll(/<script([^>]*)>/g)].map((m) => m[1] ?? "");
			for (const attrs of scripts)
				expect(attrs).toMatch(/src="\/assets\/|type="application\/json"/);
		}
	});

	it("speaks German or English by Accept-Language, ?lang= and the remembered switch", async () => {
		const de = await server.fetch("/join", { headers: { "accept-language": "de-DE,de;q=0.9" } });
		expect(await de.text()).toContain('<html lang="de">');
		const en = await server.fetch("/join", { headers: { "accept-language": "fr, en;q=0.5" } });
		expect(await en.text()).toContain('<html lang="en">');

		const switched = await server.fetch("/join?lang=de", {
			headers: { "accept-language": "en" },
		});
		expect(await switched.text()).toContain("Einer Support-Sitzung beitreten");
		const cookie = switched.headers.get("set-cookie") ?? "";
		expect(cookie).toMatch(/fernwart_lang=de/);
		expect(cookie).toMatch(/Secure/);
		expect(cookie).toMatch(/HttpOnly/);
		const remembered = await server.fetch("/login", {
			headers: { "accept-language": "en", cookie: "fernwart_lang=de" },
		});
		expect(await remembered.text()).toContain('<html lang="de">');
	});

	it("serves the bundled scripts with an ETag and answers 304 when unchanged", async () => {
		const page = await (await server.fetch("/join")).text();
		const src = /src="(\/assets\/customer\.js[^"]*)"/.exec(page)?.[1];
		expect(src).toBeTruthy();
		const res = await server.fetch(src ?? "");
		expect(res.status).toBe(200);
		expect(res.headers.get("content-type")).toMatch(/^text\/javascript/);
		const etag = res.headers.get("etag") ?? "";
		expect(etag).toMatch(/^".+"$/);
		const again = await server.fetch(src ?? "", { headers: { "if-none-match": etag } });
		expect(again.status).toBe(304);
		expect((await server.fetch("/assets/nothing.js")).status).toBe(404);
	});

	it("shows a browser a small 404 page in its language; programs and the API keep JSON", async () => {
		const html = { accept: "text/html,application/xhtml+xml" };
		const page = await server.fetch("/no/such/page", { headers: html });
		expect(page.status).toBe(404);
		expect(page.headers.get("content-type")).toMatch(/^text\/html/);
		expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
		const text = await page.text();
		expect(text).toContain("Page not found");
		expect(text).toContain('href="/"');
		const german = await server.fetch("/no/such/page", {
			headers: { ...html, "accept-language": "de-DE,de;q=0.9" },
		});
		expect(await german.text()).toContain("Seite nicht gefunden");
		for (const path of ["/api/v1/nothing", "/assets/nothing.js"]) {
			const res = await server.fetch(path, { headers: html });
			expect(res.status).toBe(404);
			expect(await res.json()).toMatchObject({ error: { code: "NOT_FOUND" } });
		}
		const program = await server.fetch("/no/such/page");
		expect(await program.json()).toMatchObject({ error: { code: "NOT_FOUND" } });
	});

	it("lists live sessions: all for an admin, only their own for a supporter", async () => {
		const admin = await mustLogin(server, ADMIN);
		await createUserAs(server, admin.accessToken, {
			email: "list@example.test",
			password: "list supporter password",
			role: "supporter",
		});
		const supporter = await mustLogin(server, {
			email: "list@example.test",
			password: "list supporter password",
		});
		const own = await server.json<{ sessionId: string }>("/api/v1/sessions", {
			body: {},
			headers: bearer(supporter.accessToken),
		});
		const other = await server.json<{ sessionId: string }>("/api/v1/sessions", {
			body: {},
			headers: bearer(admin.accessToken),
		});
		type List = { sessions: { sessionId: string; state: { phase: string } | null }[] };
		const forAdmin = await server.json<List>("/api/v1/sessions", {
			headers: bearer(admin.accessToken),
		});
		expect(forAdmin.body.sessions.map((s) => s.sessionId)).toEqual(
			expect.arrayContaining([own.body.sessionId, other.body.sessionId]),
		);
		expect(forAdmin.body.sessions[0]?.state?.phase).toBe("waiting");
		const forSupporter = await server.json<List>("/api/v1/sessions", {
			headers: bearer(supporter.accessToken),
		});
		expect(forSupporter.body.sessions.map((s) => s.sessionId)).toEqual([own.body.sessionId]);

		await server.json(`/api/v1/sessions/${own.body.sessionId}`, {
			method: "DELETE",
			headers: bearer(supporter.accessToken),
		});
		const after = await server.json<List>("/api/v1/sessions", {
			headers: bearer(supporter.accessToken),
		});
		expect(after.body.sessions).toEqual([]);
		expect((await server.fetch("/api/v1/sessions")).status).toBe(401);
	});
});
