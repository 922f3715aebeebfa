import { html } from "hono/html";
import type { SignedModuleManifest } from "../../protocol/module-manifest.ts";
import type { Messages } from "./i18n.ts";

/*
 * The page `/download` (docs/modules.md §9): the native module's files with size and SHA-256,
 * and the fingerprint of the key that signs their manifest, so that an admin can compare it with
 * what a module pinned. No script; every value goes through Hono's `html` tag, which escapes it.
 */

const PLATFORM_NAMES: Record<string, string> = {
	linux: "Linux",
	win32: "Windows",
	darwin: "macOS",
};

/** Bytes as MB with one decimal (10^6, as file managers show them), plus the exact count. */
function size(bytes: number): string {
	return `${(bytes / 1_000_000).toFixed(1)} MB (${bytes.toLocaleString("en-US")} bytes)`;
}

/** The key and the listing; `signed` is null when no modules were built on this server. */
export function downloadBody(
	t: Messages,
	key: { fingerprint: string; publicKey: string; origin: string },
	signed: SignedModuleManifest | null,
) {
	const files = signed?.manifest.files ?? [];
	return html`<section class="card">
<p>${t["download.intro"]}</p>
${
	signed && files.length > 0
		? html`<p>${t["download.version"]} <strong id="download-version">${signed.manifest.version}</strong> · ${t["download.built"]} <time datetime="${signed.manifest.createdAt}">${signed.manifest.createdAt}</time></p>
<table id="download-files">
<thead><tr><th scope="col">${t["download.file"]}</th><th scope="col">${t["download.platform"]}</th><th scope="col">${t["download.size"]}</th><th scope="col">SHA-256</th></tr></thead>
<tbody>
${files.map(
	(f) =>
		html`<tr><td><a href="/download/files/${encodeURIComponent(f.name)}" download>${f.name}</a></td><td>${PLATFORM_NAMES[f.platform] ?? f.platform} ${f.arch}</td><td>${size(f.size)}</td><td><code class="hash">${f.sha256}</code></td></tr>`,
)}
</tbody>
</table>
<p class="hint"><a href="/download/manifest.json">manifest.json</a> · ${t["download.manifestHint"]}</p>`
		: html`<p id="download-none" role="note">${t["download.none"]}</p>`
}
</section>
<section class="card">
<h2>${t["download.keyTitle"]}</h2>
<p>${t["download.keyIntro"]}</p>
<p><code id="download-fingerprint" class="command">${key.fingerprint}</code></p>
<p class="hint">${t["download.publicKey"]} <code id="download-public-key">${key.publicKey}</code></p>
<p>${t["download.update"]}</p>
<p><code class="command">fernwart update --url ${key.origin} --module-key ${key.fingerprint}</code></p>
</section>`;
}
