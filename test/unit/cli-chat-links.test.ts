import { describe, expect, it } from "vitest";
import { chatLinks, formatChatText } from "../../modules/cli/common.ts";

const SERVER = "https://support.example.test:8443";

describe("CLI chat links", () => {
	it("keeps the text and adds the warning page for each http(s) link", () => {
		const text = "See https://docs.example.org/a?b=1&c=2 and (http://x.test/p_(q)), thanks.";
		expect(formatChatText(text, SERVER)).toBe(
			[
				`Chat: ${text}`,
				`  Link (opens the warning page): ${SERVER}/link?u=${encodeURIComponent("https://docs.example.org/a?b=1&c=2")}`,
				`  Link (opens the warning page): ${SERVER}/link?u=${encodeURIComponent("http://x.test/p_(q)")}`,
			].join("\n"),
		);
	});

	it("encodes the target so it cannot break out of the u parameter", () => {
		const [link] = chatLinks("https://evil.test/#x&u=https://other.test", SERVER);
		const url = new URL(link as string);
		expect(url.origin).toBe(SERVER);
		expect(url.pathname).toBe("/link");
		expect([...url.searchParams.keys()]).toEqual(["u"]);
		expect(url.searchParams.get("u")).toBe("https://evil.test/#x&u=https://other.test");
	});

	it("leaves text without links, other schemes and serverless output unchanged", () => {
		expect(formatChatText("hello", SERVER)).toBe("Chat: hello");
		expect(formatChatText("javascript:alert(1) ftp://x.test", SERVER)).toBe(
			"Chat: javascript:alert(1) ftp://x.test",
		);
		expect(formatChatText("https://x.test")).toBe("Chat: https://x.test");
		expect(chatLinks("https://x.test")).toEqual([]);
	});

	it("uses the server's origin even when given with a trailing slash", () => {
		expect(chatLinks("https://x.test/a", `${SERVER}/`)).toEqual([
			`${SERVER}/link?u=${encodeURIComponent("https://x.test/a")}`,
		]);
	});
});
