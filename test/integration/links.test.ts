import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN, bearer, type ErrorBody, mustLogin } from "../helpers/auth.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

const link = (url: string) => `/link?u=${encodeURIComponent(url)}`;

describe("the link warning page", () => {
	let server: TestServer;
	let adminToken: string;

	beforeAll(async () => {
		server = await startServer();
		adminToken = (await mustLogin(server, ADMIN)).accessToken;
	});

	afterAll(async () => {
		await server?.stop();
	});

	it("shows an http(s) target with its host, a plain link to continue, strict CSP and no referrer", async () => {
		const res = await server.fetch(link("https://support.example.org/help?a=1&b=2#top"));
		expect(res.status).toBe(200);
		expect(res.headers.get("content-type")).toMatch(/^text\/html/);
		expect(res.headers.get("referrer-policy")).toBe("no-referrer");
		const csp = res.headers.get("content-security-policy") ?? "";
		expect(csp).toContain("default-src 'none'");
		expect(csp).toContain("frame-ancestors 'none'");
		expect(csp).not.toMatch(/script-src|connect-src|unsafe/);
		expect(res.headers.get("location")).toBeNull();
		const html = await res.text();
		expect(html).toContain('<strong id="link-host" lang="">support.example.org</strong>');
		expect(html).toContain(
			'href="https://support.example.org/help?a=1&amp;b=2#top" rel="noopener noreferrer"',
		);
		expect(html).toContain('id="link-unchecked"');
		expect(html).not.toContain('id="link-allowed"');
		expect(html).not.toMatch(/http-equiv="refresh"/i);
		// No script runs on this page: only the JSON text block.
		const scripts = [...html.matchAll(/<script([^>]*)>/g)].map((m) => m[1] ?? "");
		expect(scripts).toEqual([' type="application/json" id="i18n"']);
	});

	it("speaks German, and warns about plain http and a user name in front of the host", async () => {
		const res = await server.fetch(link("http://paypal.com@evil.example/login"), {
			headers: { "accept-language": "de" },
		});
		expect(res.status).toBe(200);
		const html = await res.text();
		expect(html).toContain('<html lang="de">');
		expect(html).toContain("Sie verlassen diesen Server");
		expect(html).toContain('id="link-host" lang="">evil.example<');
		expect(html).toContain("nicht verschlüsselt");
		expect(html).toContain("(paypal.com@)");
		// The language switch keeps the target.
		expect(html).toContain(`href="${link("http://paypal.com@evil.example/login")}&amp;lang=en"`);
	});

	it("shows an IDN host decoded and as punycode", async () => {
		const res = await server.fetch(link("https://аррӏе.com/"));
		expect(res.status).toBe(200);
		const html = await res.text();
		expect(html).toContain('id="link-host" lang="">аррӏе.com<');
		expect(html).toContain('<code id="link-ascii" class="link-ascii">xn--80ak6aa92e.com</code>');
		expect(html).toContain('href="https://xn--80ak6aa92e.com/"');
	});

	it("refuses javascript:, data:, file:, malformed, missing and overlong targets with 400", async () => {
		for (const bad of [
			"javascript:alert(document.domain)",
			"data:text/html,<script>alert(1)</script>",
			"file:///etc/passwd",
			"https://",
			"not a url",
			`https://example.org/${"a".repeat(2100)}`,
		]) {
			const res = await server.fetch(link(bad));
			expect(res.status, bad).toBe(400);
			expect(res.headers.get("referrer-policy")).toBe("no-referrer");
			expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
			const html = await res.text();
			expect(html, bad).toContain("This link is not opened");
			expect(html).not.toContain("link-continue");
			expect(html).not.toContain("<script>alert");
		}
		const none = await server.fetch("/link");
		expect(none.status).toBe(400);
		expect(await none.text()).toContain("No address was given.");
	});

	it("never puts the target into the page unescaped", async () => {
		for (const evil of [
			'https://example.org/"><script>alert(1)</script>',
			'https://example.org/?q="><img src=x onerror=alert(1)>',
			"https://example.org/#'><svg onload=alert(1)>",
			'javascript:"><script>alert(1)</script>',
		]) {
			const res = await server.fetch(link(evil));
			const html = await res.text();
			// Only the page's own elements, no event-handler attribute, one (JSON) script block.
			const tags = new Set([...html.matchAll(/<([a-z0-9]+)/gi)].map((m) => m[1]?.toLowerCase()));
			const own =
				"html head meta link title script body a header main h1 h2 section p strong code span";
			for (const tag of tags) expect(own.split(" "), `${evil}: <${tag}>`).toContain(tag);
			expect(html, evil).not.toMatch(/<[^>]*\son\w+=/i);
			expect(html.match(/<script/g)?.length, evil).toBe(1);
		}
		// The refusal page shows what it refused, as text.
		const refused = await (
			await server.fetch(link('javascript:"><script>alert(1)</script>'))
		).text();
		expect(refused).toContain("javascript:&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;");
	});

	it("marks hosts on the admin's allow-list, which PATCH /api/v1/settings validates and audits", async () => {
		const bad = await server.json<ErrorBody>("/api/v1/settings", {
			method: "PATCH",
			body: { linkAllowList: ["https://example.org/"] },
			headers: bearer(adminToken),
		});
		expect(bad.status).toBe(400);
		const tooMany = await server.json<ErrorBody>("/api/v1/settings", {
			method: "PATCH",
			body: { linkAllowList: Array.from({ length: 101 }, (_, i) => `h${i}.example.org`) },
			headers: bearer(adminToken),
		});
		expect(tooMany.status).toBe(400);

		const saved = await server.json<{ linkAllowList: string[] }>("/api/v1/settings", {
			method: "PATCH",
			body: { linkAllowList: ["Support.Example.org", "*.docs.example.net"] },
			headers: bearer(adminToken),
		});
		expect(saved.status).toBe(200);
		expect(saved.body.linkAllowList).toEqual(["support.example.org", "*.docs.example.net"]);

		const allowed = await (await server.fetch(link("https://support.example.org/x"))).text();
		expect(allowed).toContain('id="link-allowed"');
		expect(allowed).toContain("Allowed by your administrator");
		// Still the page, still the link to click: allow-listed links do not skip the warning.
		expect(allowed).toContain('id="link-continue"');
		const sub = await (await server.fetch(link("https://a.b.docs.example.net/"))).text();
		expect(sub).toContain('id="link-allowed"');
		for (const other of ["https://docs.example.net/", "https://support.example.org.evil.test/"]) {
			const html = await (await server.fetch(link(other))).text();
			expect(html, other).not.toContain('id="link-allowed"');
		}

		const audit = await server.json<{ events: { data: { linkAllowList?: string[] } }[] }>(
			"/api/v1/audit?type=settings.updated",
			{ headers: bearer(adminToken) },
		);
		expect(audit.body.events.map((e) => e.data.linkAllowList)).toContainEqual([
			"support.example.org",
			"*.docs.example.net",
		]);
	});

	it("is in the OpenAPI document", async () => {
		const doc = await server.json<{ paths: Record<string, unknown> }>("/api/v1/openapi.json");
		expect(Object.keys(doc.body.paths)).toContain("/link");
	});
});
