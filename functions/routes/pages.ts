import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { html } from "hono/html";
import {
	hostAllowed,
	LINK_MAX_LENGTH,
	linkPagePath,
	parseLinkTarget,
} from "../../protocol/links.ts";
import { getSettings } from "../../schema/settings.ts";
import type { AppEnv } from "../env.ts";
import { AppError } from "../lib/errors.ts";
import { createRouter, errorResponse } from "../lib/router.ts";
import { withDb } from "../middleware/with-db.ts";
import { adminBody } from "../web/admin-page.ts";
import { WEB_ASSETS } from "../web/assets.gen.js";
import {
	LANGS,
	type Lang,
	type MessageKey,
	type Messages,
	messages,
	pickLang,
} from "../web/i18n.ts";
import {
	LINK_CSP,
	PAGE_CSP,
	PAGE_PERMISSIONS,
	type PageOptions,
	renderPage,
} from "../web/layout.ts";
import { linkBody, linkRefusedBody } from "../web/link-page.ts";
import { consoleBody, homeBody, joinBody, loginBody } from "../web/pages.ts";

/** The language switch's cookie: not a credential, so it is the only cookie the pages set. */
const LANG_COOKIE = "fernwart_lang";

const pageQuery = z.object({ lang: z.string().max(8).optional() });

const htmlResponse = (description: string) => ({
	content: { "text/html": { schema: z.string() } },
	description,
});

/** Language from `?lang=`, the cookie, then Accept-Language; an explicit choice is remembered. */
function language(c: Context<AppEnv>): Lang {
	const query = c.req.query("lang");
	const lang = pickLang(query, getCookie(c, LANG_COOKIE), c.req.header("accept-language"));
	if (query && (LANGS as readonly string[]).includes(query)) {
		setCookie(c, LANG_COOKIE, lang, {
			path: "/",
			secure: true,
			httpOnly: true,
			sameSite: "Lax",
			maxAge: 365 * 24 * 3600,
		});
	}
	return lang;
}

/**
 * What a browser gets for an unknown address: a small page in its language with a link home,
 * status 404, under the pages' CSP. Only for GET requests that accept HTML outside the API,
 * the assets and the sockets; everything else keeps the JSON error (app.ts).
 */
export async function notFoundPage(c: Context<AppEnv>): Promise<Response | null> {
	const path = c.req.path;
	const machine = /^\/(api|assets|ws|\.well-known)(\/|$)/.test(path);
	const wantsHtml = (c.req.header("accept") ?? "").includes("text/html");
	if (c.req.method !== "GET" || machine || !wantsHtml) return null;
	const res = await page(
		c,
		"/",
		"notFound.title",
		null,
		(t) =>
			html`<section class="card"><p>${t["notFound.text"]}</p><p><a href="/">${t["notFound.home"]}</a></p></section>`,
	);
	return new Response(res.body, { status: 404, headers: res.headers });
}

/**
 * A page in the visitor's language under the pages' CSP; `body` gets the dictionary. Exported
 * for route modules that serve a page of their own (routes/downloads.ts).
 */
export async function page(
	c: Context<AppEnv>,
	path: string,
	titleKey: MessageKey,
	script: string | null,
	body: (t: Messages) => PageOptions["body"],
	nav?: PageOptions["nav"],
) {
	const lang = language(c);
	const t = messages(lang);
	c.header("content-security-policy", PAGE_CSP);
	c.header("permissions-policy", PAGE_PERMISSIONS);
	c.header("content-language", lang);
	c.header("vary", "accept-language, cookie");
	const options: PageOptions = { lang, t, titleKey, script, path, body: body(t) };
	return c.html(await renderPage(nav ? { ...options, nav } : options), 200);
}

/** One documented GET route per page; the bodies are HTML, the data comes from the JSON API. */
function pageRoute(path: string, description: string) {
	return createRoute({
		method: "get",
		path,
		tags: ["pages"],
		description,
		request: { query: pageQuery },
		responses: { 200: htmlResponse(description) },
	});
}

/**
 * The web console's pages and their bundled scripts (docs/web.md). The pages hold no data and
 * need no login: the scripts authenticate against the JSON API with Bearer tokens.
 */
export const pages = createRouter();

pages.openapi(pageRoute("/", "Start page: join a session or log in."), (c) =>
	page(c, "/", "home.title", null, homeBody),
);
pages.openapi(pageRoute("/login", "Login page of the web console."), (c) =>
	page(c, "/login", "login.title", "login", loginBody),
);
pages.openapi(pageRoute("/join", "Customer module: join with a support ID, no install."), (c) =>
	page(c, "/join", "join.title", "customer", joinBody, "customer"),
);
pages.openapi(pageRoute("/console", "Supporter console."), (c) =>
	page(c, "/console", "console.title", "console", consoleBody, "staff"),
);
pages.openapi(pageRoute("/admin", "Admin console."), (c) =>
	page(c, "/admin", "admin.title", "admin", adminBody, "staff"),
);

pages.openapi(
	createRoute({
		method: "get",
		path: "/assets/{name}",
		tags: ["pages"],
		description: "The pages' bundled scripts and style sheet (built by npm run build).",
		request: { params: z.object({ name: z.string().max(64) }) },
		responses: {
			200: {
				content: { "text/javascript": { schema: z.string() }, "text/css": { schema: z.string() } },
				description: "The asset; revalidated with its ETag.",
			},
			304: { description: "Not modified." },
			404: errorResponse("NOT_FOUND: no such asset"),
		},
	}),
	(c) => {
		const asset = Object.hasOwn(WEB_ASSETS, c.req.param("name"))
			? WEB_ASSETS[c.req.param("name")]
			: undefined;
		if (!asset) throw new AppError("NOT_FOUND");
		// Versioned URLs could be cached for good; revalidation is cheap and never serves stale code.
		c.header("cache-control", "no-cache");
		c.header("etag", asset.etag);
		if (c.req.header("if-none-match") === asset.etag) return c.body(null, 304);
		c.header("content-type", asset.type);
		return c.body(asset.body, 200);
	},
);

pages.use("/link", withDb);
pages.openapi(
	createRoute({
		method: "get",
		path: "/link",
		tags: ["pages"],
		description:
			"Warning page for a link from a module: shows the full target (host highlighted, IDN hosts also in ASCII) and whether the admin's allow-list names its host, with a plain link to continue. Never redirects, never fetches the target.",
		request: {
			query: pageQuery.extend({
				u: z
					.string()
					.optional()
					.openapi({ description: `An http(s) URL of at most ${LINK_MAX_LENGTH} characters.` }),
			}),
		},
		responses: {
			200: htmlResponse("The warning page with the target and a link to continue."),
			400: htmlResponse("Refusal: not an http(s) URL, malformed or too long."),
		},
	}),
	async (c) => {
		const raw = c.req.query("u");
		const url = raw === undefined ? null : parseLinkTarget(raw);
		const lang = language(c);
		const t = messages(lang);
		c.header("content-security-policy", LINK_CSP);
		// The target must not learn which support server (and which link) sent the visitor.
		c.header("referrer-policy", "no-referrer");
		c.header("content-language", lang);
		c.header("vary", "accept-language, cookie");
		if (!url) {
			const body = linkRefusedBody(t, raw);
			// The language switch repeats the refused address, unless it is too long for a link.
			const path = raw !== undefined && raw.length <= LINK_MAX_LENGTH ? linkPagePath(raw) : "/link";
			const options: PageOptions = {
				lang,
				t,
				titleKey: "link.refusedTitle",
				script: null,
				path,
				body,
			};
			return c.html(await renderPage(options), 400);
		}
		const { linkAllowList } = await getSettings(c.var.db);
		const body = linkBody(t, url, hostAllowed(url.hostname, linkAllowList));
		const options: PageOptions = {
			lang,
			t,
			titleKey: "link.title",
			script: null,
			path: linkPagePath(raw ?? ""),
			body,
		};
		return c.html(await renderPage(options), 200);
	},
);
