import { html, raw } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import { WEB_ASSETS } from "./assets.gen.js";
import type { Lang, MessageKey, Messages } from "./i18n.ts";

/**
 * The pages' policy: scripts and styles only from this server, no inline script, network only
 * to this origin (CSP 3 lets 'self' cover wss: on the same host), images from blobs (decoded
 * screen frames), never inside a frame. Inline style attributes are refused too; scripts set
 * positions through the CSSOM, which the policy does not restrict. Workers only from this server
 * (the screen capture's frame clock, /assets/frame-timer.js), never from blob: URLs.
 */
export const PAGE_CSP = [
	"default-src 'none'",
	"script-src 'self'",
	"style-src 'self'",
	"img-src 'self' blob: data:",
	"media-src 'self' blob:",
	"connect-src 'self'",
	"worker-src 'self'",
	"form-action 'self'",
	"base-uri 'none'",
	"frame-ancestors 'none'",
].join("; ");

/**
 * The link warning page runs no script, connects nowhere and submits nothing: only the style
 * sheet and the empty data: icon load.
 */
export const LINK_CSP = [
	"default-src 'none'",
	"style-src 'self'",
	"img-src data:",
	"form-action 'none'",
	"base-uri 'none'",
	"frame-ancestors 'none'",
].join("; ");

/** Screen capture for this origin only; nothing else the pages do not use. */
export const PAGE_PERMISSIONS =
	"display-capture=(self), clipboard-write=(self), camera=(), microphone=(), geolocation=(), payment=(), usb=()";

type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

/** The URL of a bundled asset, versioned by its ETag so a new build is never served stale. */
export function assetUrl(name: string): string {
	const asset = WEB_ASSETS[name];
	const version = asset ? asset.etag.replaceAll('"', "") : "missing";
	return `/assets/${name}?v=${version}`;
}

/**
 * JSON inside a `<script type="application/json">` block: `<` is escaped so that no value can
 * close the element. The block is data, not script, so the CSP needs no exception for it.
 */
function jsonBlock(id: string, value: unknown): HtmlEscapedString {
	const text = JSON.stringify(value).replaceAll("<", "\\u003c");
	return raw(`<script type="application/json" id="${id}">${text}</script>`);
}

export interface PageOptions {
	lang: Lang;
	t: Messages;
	titleKey: MessageKey;
	/** The entry bundle in modules/web/, or null for a page without script. */
	script: string | null;
	/** The path of this page (with its query, if any), for the language switch. */
	path: string;
	body: Html;
	/** Links in the header; supporters' pages show console and admin. */
	nav?: "staff" | "customer";
}

/** One page: header with language switch, a skip link, the body, and the texts for the script. */
export function renderPage(options: PageOptions): Html {
	const { lang, t } = options;
	const other = t["lang.other"];
	const staffNav =
		options.nav === "staff"
			? html`<nav aria-label="${t["app.name"]}">
					<a href="/console">${t["nav.console"]}</a>
					<a href="/admin">${t["nav.admin"]}</a>
					<img id="me-picture" class="avatar" alt="" hidden>
					<button type="button" id="logout" class="link" hidden>${t["nav.logout"]}</button>
				</nav>`
			: "";
	return html`<!doctype html>
<html lang="${lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>${t[options.titleKey]} · ${t["app.name"]}</title>
<link rel="stylesheet" href="${assetUrl("style.css")}">
${options.script ? html`<script type="module" src="${assetUrl(`${options.script}.js`)}"></script>` : ""}
</head>
<body>
<a class="skip" href="#main">${t.skip}</a>
<header class="top">
<a class="brand" href="/">${t["app.name"]}</a>
${staffNav}
<a class="lang" href="${options.path}${options.path.includes("?") ? "&" : "?"}lang=${other}" hreflang="${other}" lang="${other}">${t["lang.switch"]}</a>
</header>
<main id="main" tabindex="-1">
<h1>${t[options.titleKey]}</h1>
${options.body}
</main>
${jsonBlock("i18n", t)}
</body>
</html>`;
}
