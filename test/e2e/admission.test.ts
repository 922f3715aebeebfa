import type { Browser, BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN } from "../helpers/auth.ts";
import {
	hasChromium,
	issueSupportId,
	joinAndAcceptTerms,
	launchChromium,
	logIn,
	screenshot,
	watchErrors,
} from "../helpers/browser.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

describe.skipIf(!hasChromium)("admission in Chromium", () => {
	let server: TestServer;
	let browser: Browser;
	let staff: BrowserContext;
	let customers: BrowserContext;
	const errors: string[][] = [];

	beforeAll(async () => {
		server = await startServer();
		browser = await launchChromium();
		staff = await browser.newContext({
			ignoreHTTPSErrors: true,
			locale: "en-US",
			viewport: { width: 1280, height: 900 },
		});
		customers = await browser.newContext({
			ignoreHTTPSErrors: true,
			locale: "en-US",
			viewport: { width: 1000, height: 800 },
		});
	});

	afterAll(async () => {
		const seen = errors.flat();
		if (seen.length) console.log(`page errors:\n${seen.join("\n")}`);
		await browser?.close();
		await server?.stop();
	});

	it("the supporter sees who joined and refuses them; then admits the expected customer", async () => {
		const base = server.url;
		const supporter = await staff.newPage();
		errors.push(watchErrors(supporter));
		await logIn(supporter, base, ADMIN);

		// Someone types the ID: the console shows name, address and time; the customer waits.
		const first = await issueSupportId(supporter);
		const stranger = await customers.newPage();
		errors.push(watchErrors(stranger));
		await joinAndAcceptTerms(stranger, base, first, "Eve Unknown");
		await stranger.waitForSelector("#admission-note:not([hidden])");
		expect(await stranger.textContent("#admission-note")).toContain("Please wait");
		expect(await stranger.isDisabled("#share")).toBe(true);
		expect(await stranger.isDisabled("#chat-input")).toBe(true);
		await supporter.waitForSelector("#admission:not([hidden])");
		const who = (await supporter.textContent("#admission-who")) ?? "";
		expect(who).toContain("Eve Unknown");
		expect(who).toMatch(/joined from \S+ at /);
		await screenshot(stranger, "admission-01-customer-waiting");
		await screenshot(supporter, "admission-02-console-admit-or-refuse");

		// Refused: the customer is told and disconnected; the console says the session ended.
		await supporter.click("#refuse");
		await stranger.waitForSelector("#step-ended:not([hidden])");
		expect(await stranger.textContent("#ended-text")).toContain("did not let you in");
		await supporter.waitForSelector("#ended:not([hidden])");
		expect(await supporter.textContent("#ended-text")).toContain("You refused the customer");
		await screenshot(stranger, "admission-03-customer-refused");
		await screenshot(supporter, "admission-04-console-refused");

		// The used ID stays dead.
		const dead = await server.json("/api/v1/sessions/join", {
			body: { code: first, displayName: "Eve Unknown" },
		});
		expect(dead.status).toBe(404);

		// A new ID for the expected customer, who is admitted and can then share.
		await supporter.goto(new URL("/console", base).href);
		const second = await issueSupportId(supporter);
		const customer = await customers.newPage();
		errors.push(watchErrors(customer));
		await joinAndAcceptTerms(customer, base, second, "Kim Kunde");
		await supporter.waitForSelector("#admission:not([hidden])");
		expect(await supporter.textContent("#admission-who")).toContain("Kim Kunde");
		await supporter.click("#admit");
		await supporter.waitForSelector("#admission", { state: "hidden" });
		await customer.waitForSelector("#share:not([disabled])");
		expect(await customer.textContent("#admission-note")).toContain("let you in");
		await customer.waitForSelector("#chat-input:not([disabled])");
		await screenshot(customer, "admission-05-customer-admitted");
		await screenshot(supporter, "admission-06-console-admitted");

		expect(errors.flat().filter((e) => !e.includes("camera is not allowed"))).toEqual([]);
	});
});
