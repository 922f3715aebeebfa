import { describe, expect, it } from "vitest";
import {
	decodePunycode,
	hostAllowed,
	hostToUnicode,
	LINK_MAX_LENGTH,
	linkAllowListSchema,
	linkPagePath,
	parseLinkTarget,
	splitLinks,
} from "../../protocol/links.ts";

describe("link allow-list", () => {
	const list = linkAllowListSchema.parse([
		" Support.Example.org ",
		"*.docs.example.net",
		"192.0.2.10",
		"xn--bcher-kva.example",
	]);

	it("normalises entries to trimmed lower case", () => {
		expect(list[0]).toBe("support.example.org");
	});

	it("matches exact hosts, case-insensitively and with a trailing dot", () => {
		expect(hostAllowed("support.example.org", list)).toBe(true);
		expect(hostAllowed("SUPPORT.example.org.", list)).toBe(true);
		expect(hostAllowed("192.0.2.10", list)).toBe(true);
		expect(hostAllowed("xn--bcher-kva.example", list)).toBe(true);
	});

	it("does not match neighbours, prefixes or suffix tricks", () => {
		expect(hostAllowed("example.org", list)).toBe(false);
		expect(hostAllowed("evil-support.example.org", list)).toBe(false);
		expect(hostAllowed("support.example.org.evil.test", list)).toBe(false);
		expect(hostAllowed("x.support.example.org", list)).toBe(false);
		expect(hostAllowed("[::1]", list)).toBe(false);
		expect(hostAllowed("", list)).toBe(false);
	});

	it("lets *.domain match subdomains at any depth, but not the domain itself", () => {
		expect(hostAllowed("a.docs.example.net", list)).toBe(true);
		expect(hostAllowed("b.a.docs.example.net", list)).toBe(true);
		expect(hostAllowed("docs.example.net", list)).toBe(false);
		expect(hostAllowed("evildocs.example.net", list)).toBe(false);
	});

	it("refuses malformed entries, too broad wildcards and more than 100 entries", () => {
		for (const bad of [
			"",
			"*",
			"*.org",
			"https://example.org",
			"example.org/path",
			"exa mple.org",
			"-bad.example",
			"a.*.example.org",
			"bücher.example",
			"example.org:443",
		]) {
			expect(linkAllowListSchema.safeParse([bad]).success, bad).toBe(false);
		}
		const many = Array.from({ length: 101 }, (_, i) => `h${i}.example.org`);
		expect(linkAllowListSchema.safeParse(many).success).toBe(false);
		expect(linkAllowListSchema.safeParse(many.slice(0, 100)).success).toBe(true);
	});
});

describe("link targets", () => {
	it("accepts http and https only, within the length limit", () => {
		expect(parseLinkTarget("https://example.org/a?b=c#d")?.href).toBe(
			"https://example.org/a?b=c#d",
		);
		expect(parseLinkTarget("http://example.org")?.hostname).toBe("example.org");
		for (const bad of [
			"javascript:alert(1)",
			"JAVASCRIPT:alert(1)",
			"data:text/html,<script>alert(1)</script>",
			"file:///etc/passwd",
			"ftp://example.org",
			"//example.org",
			"example.org",
			"https://",
			"",
		]) {
			expect(parseLinkTarget(bad), bad).toBeNull();
		}
		const long = `https://example.org/${"a".repeat(LINK_MAX_LENGTH)}`;
		expect(parseLinkTarget(long)).toBeNull();
	});

	it("builds the warning page's path with the URL encoded", () => {
		expect(linkPagePath("https://example.org/?a=1&b=2")).toBe(
			"/link?u=https%3A%2F%2Fexample.org%2F%3Fa%3D1%26b%3D2",
		);
	});
});

describe("IDN hosts", () => {
	it("decodes punycode labels (RFC 3492 examples and look-alikes)", () => {
		expect(decodePunycode("bcher-kva")).toBe("bücher");
		expect(decodePunycode("mnchen-3ya")).toBe("münchen");
		expect(decodePunycode("80ak6aa92e")).toBe("аррӏе"); // Cyrillic look-alike of "apple"
		expect(hostToUnicode("xn--80ak6aa92e.com")).toBe("аррӏе.com");
		expect(hostToUnicode(new URL("https://bücher.example/").hostname)).toBe("bücher.example");
		expect(hostToUnicode("plain.example.org")).toBe("plain.example.org");
	});

	it("leaves invalid punycode as it is", () => {
		expect(decodePunycode("!!")).toBeNull();
		expect(hostToUnicode("xn--!!.example")).toBe("xn--!!.example");
	});
});

describe("links in chat text", () => {
	it("splits text into plain parts and http(s) links, punctuation outside", () => {
		expect(splitLinks("see https://example.org/a. Thanks")).toEqual([
			{ text: "see " },
			{ text: "https://example.org/a", url: "https://example.org/a" },
			{ text: ". Thanks" },
		]);
		expect(splitLinks("(https://en.wikipedia.org/wiki/A_(b))")).toEqual([
			{ text: "(" },
			{ text: "https://en.wikipedia.org/wiki/A_(b)", url: "https://en.wikipedia.org/wiki/A_(b)" },
			{ text: ")" },
		]);
	});

	it("leaves other schemes and plain text alone", () => {
		expect(splitLinks("javascript:alert(1) and ftp://x.org")).toEqual([
			{ text: "javascript:alert(1) and ftp://x.org" },
		]);
		expect(splitLinks("no links here")).toEqual([{ text: "no links here" }]);
		expect(splitLinks("")).toEqual([]);
	});

	it("stops a link at quotes and angle brackets", () => {
		const parts = splitLinks('x https://example.org/"><script>alert(1)</script>');
		expect(parts[1]).toEqual({ text: "https://example.org/", url: "https://example.org/" });
		expect(parts[2]).toEqual({ text: '"><script>alert(1)</script>' });
	});
});
