/**
 * Links that arrive from a module (chat text, later other places) never open directly: they go
 * to the server's warning page `/link?u=…`, which shows where they lead. This file holds what
 * the server, the admin settings and the browser modules share: which URLs count as links, the
 * admin's host allow-list and its matcher, and the decoding of IDN (punycode) host names.
 * Isomorphic (WHATWG URL and zod only).
 */
import * as z from "zod";

/** Longer targets are refused; no legitimate link a supporter types comes near it. */
export const LINK_MAX_LENGTH = 2048;

/** At most this many allow-list entries. */
export const LINK_ALLOW_LIST_MAX = 100;

const LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
/** A host name (at least one label) or a wildcard over at least two labels (`*.example.org`). */
const ENTRY = new RegExp(`^(?:${LABEL}(?:\\.${LABEL})*|\\*\\.${LABEL}(?:\\.${LABEL})+)$`);

/**
 * One allow-list entry: a host name in ASCII (IDN hosts in their `xn--` form), exact, or
 * `*.example.org` for every subdomain of example.org at any depth (not example.org itself).
 * Trimmed and lower-cased.
 */
export const linkAllowEntrySchema = z
	.string()
	.trim()
	.toLowerCase()
	.max(253)
	.regex(ENTRY, "a host name such as support.example.org, or *.example.org for its subdomains");

/** The admin's list; duplicates are harmless and kept as typed. */
export const linkAllowListSchema = z.array(linkAllowEntrySchema).max(LINK_ALLOW_LIST_MAX);

/** A link target: http(s) only, at most {@link LINK_MAX_LENGTH} characters; else null. */
export function parseLinkTarget(raw: string): URL | null {
	if (raw.length === 0 || raw.length > LINK_MAX_LENGTH) return null;
	let url: URL;
	try {
		url = new URL(raw);
	} catch {
		return null;
	}
	if (url.protocol !== "http:" && url.protocol !== "https:") return null;
	if (!url.hostname || url.href.length > LINK_MAX_LENGTH) return null;
	return url;
}

/** True when `hostname` (ASCII, as `URL.hostname` gives it) is on the allow-list. */
export function hostAllowed(hostname: string, allowList: readonly string[]): boolean {
	const host = hostname.toLowerCase().replace(/\.$/, "");
	if (!host || host.startsWith("[")) return false; // IPv6 literals are never listed
	return allowList.some((entry) => {
		// "*.example.org" → ".example.org": a suffix that the bare domain itself does not have.
		if (entry.startsWith("*.")) return host.endsWith(entry.slice(1));
		return host === entry;
	});
}

/** The path of the warning page for `url`. */
export function linkPagePath(url: string): string {
	return `/link?u=${encodeURIComponent(url)}`;
}

// ---------------------------------------------------------------------------------------------
// Finding links in text

/** Text split into plain parts and http(s) links, in order. */
export type TextPart = { text: string } | { text: string; url: string };

const URL_IN_TEXT = /\bhttps?:\/\/[^\s<>"'`]+/gi;
/** Punctuation that usually ends the sentence rather than the URL. */
const TRAILING = /[.,;:!?)\]}]+$/;

/**
 * Splits `text` into plain parts and links (http and https only). Trailing sentence punctuation
 * stays outside the link, except a closing parenthesis that closes one inside the URL.
 */
export function splitLinks(text: string): TextPart[] {
	const parts: TextPart[] = [];
	let last = 0;
	for (const match of text.matchAll(URL_IN_TEXT)) {
		let candidate = match[0];
		const trailing = TRAILING.exec(candidate)?.[0] ?? "";
		candidate = candidate.slice(0, candidate.length - trailing.length);
		// "(see https://x.org/a_(b))": keep as many ")" as the URL itself opened.
		let rest = trailing;
		while (rest.startsWith(")") && count(candidate, "(") > count(candidate, ")")) {
			candidate += ")";
			rest = rest.slice(1);
		}
		const start = match.index ?? 0;
		const url = parseLinkTarget(candidate);
		if (!url) continue;
		if (start > last) parts.push({ text: text.slice(last, start) });
		parts.push({ text: candidate, url: url.href });
		last = start + candidate.length;
	}
	if (last < text.length) parts.push({ text: text.slice(last) });
	return parts;
}

function count(s: string, c: string): number {
	return s.split(c).length - 1;
}

// ---------------------------------------------------------------------------------------------
// IDN: punycode (RFC 3492) decoding, so look-alike hosts can be shown both ways

const BASE = 36;
const T_MIN = 1;
const T_MAX = 26;
const SKEW = 38;
const DAMP = 700;

function adapt(delta: number, points: number, first: boolean): number {
	let d = first ? Math.floor(delta / DAMP) : delta >> 1;
	d += Math.floor(d / points);
	let k = 0;
	while (d > ((BASE - T_MIN) * T_MAX) >> 1) {
		d = Math.floor(d / (BASE - T_MIN));
		k += BASE;
	}
	return k + Math.floor(((BASE - T_MIN + 1) * d) / (d + SKEW));
}

function digit(code: number): number {
	if (code >= 0x30 && code <= 0x39) return code - 22; // 0-9 → 26-35
	if (code >= 0x61 && code <= 0x7a) return code - 0x61; // a-z → 0-25
	if (code >= 0x41 && code <= 0x5a) return code - 0x41;
	return BASE;
}

/** Decodes one punycode string (without `xn--`); null when it is not valid punycode. */
export function decodePunycode(input: string): string | null {
	const output: number[] = [];
	const basicEnd = input.lastIndexOf("-");
	for (let j = 0; j < Math.max(basicEnd, 0); j++) {
		const code = input.charCodeAt(j);
		if (code >= 0x80) return null;
		output.push(code);
	}
	let n = 128;
	let bias = 72;
	let i = 0;
	for (let index = basicEnd > 0 ? basicEnd + 1 : 0; index < input.length; ) {
		const oldi = i;
		let w = 1;
		for (let k = BASE; ; k += BASE) {
			if (index >= input.length) return null;
			const d = digit(input.charCodeAt(index++));
			if (d >= BASE) return null;
			i += d * w;
			const t = k <= bias ? T_MIN : k >= bias + T_MAX ? T_MAX : k - bias;
			if (d < t) break;
			w *= BASE - t;
			if (i > 0x10ffff * 64) return null;
		}
		bias = adapt(i - oldi, output.length + 1, oldi === 0);
		n += Math.floor(i / (output.length + 1));
		i %= output.length + 1;
		if (n > 0x10ffff) return null;
		output.splice(i++, 0, n);
	}
	return String.fromCodePoint(...output);
}

/** The Unicode form of an ASCII host: every `xn--` label decoded (left as is when invalid). */
export function hostToUnicode(hostname: string): string {
	return hostname
		.split(".")
		.map((label) => {
			if (!label.toLowerCase().startsWith("xn--")) return label;
			return decodePunycode(label.slice(4)) ?? label;
		})
		.join(".");
}
