import type { Browser, BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN, createUserAs, mustLogin } from "../helpers/auth.ts";
import {
	admitCustomer,
	hasChromium,
	issueSupportId,
	joinAndAcceptTerms,
	launchChromium,
	logIn,
	screenshot,
	watchErrors,
} from "../helpers/browser.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

const SUPPORTER = { email: "links-supporter@example.test", password: "supporter password 1" };

describe.skipIf(!hasChromium)("links in chat go to the warning page", () => {
	let server: TestServer;
	let browser: Browser;
	let staff: BrowserContext;
	let customerContext: BrowserContext;
	const errors: string[][] = [];

	beforeAll(async () => {
		server = await startServer();
		const admin = await mustLogin(server, ADMIN);
		await createUserAs(server, admin.accessToken, { ...SUPPORTER, role: "supporter" });
		browser = await launchChromium();
		staff = await browser.newContext({ ignoreHTTPSErrors: true, locale: "en-US" });
		customerContext = await browser.newContext({ ignoreHTTPSErrors: true, locale: "de-DE" });
	});

	afterAll(async () => {
		const seen = errors.flat();
		if (seen.length) console.log(`page errors:\n${seen.join("\n")}`);
		await browser?.close();
		await server?.stop();
	});

	it("the admin allow-lists a host; a URL sent in chat opens /link, which shows the host", async () => {
		const base = server.url;
		const adminPage = await staff.newPage();
		errors.push(watchErrors(adminPage));
		await logIn(adminPage, base, ADMIN, "/admin");
		// The settings have loaded once the terms text is filled in.
		await adminPage.waitForFunction(
			() => (document.getElementById("terms-text") as HTMLTextAreaElement | null)?.value !== "",
		);
		await adminPage.fill("#link-allow-list", "support.example.org\n\n  *.docs.example.net  ");
		await adminPage.click("#settings-form button[type=submit]");
		await adminPage.waitForFunction(
			() => document.getElementById("settings-result")?.textContent === "Settings saved.",
		);
		expect(await adminPage.inputValue("#link-allow-list")).toBe(
			"support.example.org\n*.docs.example.net",
		);
		await adminPage.close();

		const supporter = await staff.newPage();
		errors.push(watchErrors(supporter));
		await logIn(supporter, base, SUPPORTER);
		const code = await issueSupportId(supporter);

		const customer = await customerContext.newPage();
		errors.push(watchErrors(customer));
		await joinAndAcceptTerms(customer, base, code);
		await admitCustomer(supporter);
		// Enabled only once the relay's state has the terms accepted, i.e. once it forwards chat
		// (it used to open with the keys, and a message sent then was dropped under load).
		await supporter.waitForSelector("#chat-input:not([disabled])");

		await supporter.fill(
			"#chat-input",
			"Bitte https://support.example.org/help?x=1 öffnen, nicht https://аррӏе.com/login.",
		);
		await supporter.click("#chat-send");
		const links = customer.locator("#chat-log li.peer a");
		await links.first().waitFor();
		expect(await links.count()).toBe(2);
		const first = links.nth(0);
		expect(await first.textContent()).toBe("https://support.example.org/help?x=1");
		expect(await first.getAttribute("href")).toBe(
			`/link?u=${encodeURIComponent("https://support.example.org/help?x=1")}`,
		);
		expect(await first.getAttribute("rel")).toBe("noopener noreferrer");
		expect(await first.getAttribute("target")).toBe("_blank");
		// The sentence around the links stays text; the trailing dot is not part of the link.
		expect(await customer.textContent("#chat-log li.peer")).toContain("/login.");
		expect(await links.nth(1).textContent()).toBe("https://аррӏе.com/login");
		await screenshot(customer, "50-links-chat");

		// A click opens the warning page in a new tab; the session page stays.
		const [warning] = await Promise.all([customerContext.waitForEvent("page"), first.click()]);
		errors.push(watchErrors(warning));
		await warning.waitForLoadState();
		expect(new URL(warning.url()).pathname).toBe("/link");
		expect(await warning.textContent("#link-host")).toBe("support.example.org");
		expect(await warning.textContent("h1")).toBe("Sie verlassen diesen Server");
		await warning.waitForSelector("#link-allowed");
		expect(await warning.getAttribute("#link-continue", "href")).toBe(
			"https://support.example.org/help?x=1",
		);
		await screenshot(warning, "51-links-warning-allowed");
		await warning.close();

		const [lookalike] = await Promise.all([
			customerContext.waitForEvent("page"),
			links.nth(1).click(),
		]);
		errors.push(watchErrors(lookalike));
		await lookalike.waitForLoadState();
		expect(await lookalike.textContent("#link-host")).toBe("аррӏе.com");
		expect(await lookalike.textContent("#link-ascii")).toBe("xn--80ak6aa92e.com");
		expect(await lookalike.locator("#link-allowed").count()).toBe(0);
		await screenshot(lookalike, "52-links-warning-idn");
		await lookalike.close();

		expect(customer.url()).toContain("/join");
		await customer.waitForSelector("#step-session:not([hidden])");
		expect(errors.flat()).toEqual([]);
	});
});
