import { html } from "hono/html";
import { hostToUnicode } from "../../protocol/links.ts";
import type { Messages } from "./i18n.ts";

/*
 * The warning page `/link?u=…` (docs/web.md, "Links"). It has no script: the target is parsed on
 * the server and every part of it is interpolated through Hono's `html` tag, which escapes it.
 */

/** Fills `{name}` placeholders (the server-side twin of the scripts' `t()`). */
function fill(text: string, values: Record<string, string>): string {
	return text.replace(/\{(\w+)\}/g, (_, name: string) => values[name] ?? `{${name}}`);
}

/**
 * The warning for a valid http(s) target; `allowed` when its host is on the admin's list. The
 * continue button names the ASCII host: a look-alike Unicode name must not be the last word.
 */
export function linkBody(t: Messages, url: URL, allowed: boolean) {
	const ascii = url.hostname;
	const unicode = hostToUnicode(ascii);
	const idn = unicode !== ascii;
	const userinfo = url.username ? `${url.username}${url.password ? ":…" : ""}` : "";
	// The address as the browser will request it, with the host set apart; the rest follows.
	const authority = url.username ? `${url.username}${url.password ? `:${url.password}` : ""}@` : "";
	const rest = `${url.port ? `:${url.port}` : ""}${url.pathname}${url.search}${url.hash}`;
	return html`<section class="card link-card">
<p>${t["link.intro"]}</p>
<h2>${t["link.host"]}</h2>
<p class="link-host"><strong id="link-host" lang="">${unicode}</strong></p>
${
	idn
		? html`<p class="link-warn" role="note">${t["link.idn"]}</p>
<p>${t["link.ascii"]} <code id="link-ascii" class="link-ascii">${ascii}</code></p>`
		: ""
}
<h2>${t["link.address"]}</h2>
<p class="link-url"><code id="link-url"><span class="link-scheme">${url.protocol}//</span>${authority ? html`<span class="link-userinfo">${authority}</span>` : ""}<strong class="link-url-host">${ascii}</strong><span class="link-rest">${rest}</span></code></p>
${userinfo ? html`<p class="link-warn" role="note">${fill(t["link.userinfo"], { userinfo })}</p>` : ""}
${url.protocol === "http:" ? html`<p class="link-warn" role="note">${t["link.http"]}</p>` : ""}
${
	allowed
		? html`<p id="link-allowed" class="link-allowed" role="note">${t["link.allowed"]}</p>`
		: html`<p id="link-unchecked" class="link-warn" role="note">${t["link.unchecked"]}</p>`
}
<p class="hint">${t["link.noFetch"]}</p>
<p><a id="link-continue" class="button${allowed ? " primary" : ""}" href="${url.href}" rel="noopener noreferrer">${fill(t["link.continue"], { host: ascii })}</a></p>
<p class="hint">${t["link.close"]}</p>
</section>`;
}

/** Shown with 400 for anything that is not an http(s) URL within the length limit. */
export function linkRefusedBody(t: Messages, raw: string | undefined) {
	const shown = raw && raw.length > 300 ? `${raw.slice(0, 300)}…` : raw;
	return html`<section class="card link-card">
${
	shown
		? html`<p role="alert">${t["link.refused"]}</p>
<p class="link-url"><code id="link-refused">${shown}</code></p>`
		: html`<p role="alert">${t["link.missing"]}</p>`
}
<p class="hint">${t["link.close"]}</p>
</section>`;
}
