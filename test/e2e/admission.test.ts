import type { Browser, BrowserContext, Page } from "playwright-core";
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

type Box = { x: number; y: number; width: number; height: number };

function overlaps(a: Box, b: Box): boolean {
	return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

async function box(page: Page, selector: string): Promise<Box> {
	const found = await page.locator(selector).boundingBox();
	if (!found) throw new Error(`${selector} has no box`);
	return found;
}

/**
 * The visible controls of the session step that STOP covers once each is scrolled into view, and
 * at the very end of the page; empty when none.
 */
async function controlsUnderStop(page: Page): Promise<string[]> {
	const controls = page.locator(
		"#step-session :is(button, input, select, textarea, a, label[for]):visible",
	);
	const covered: string[] = [];
	const count = await controls.count();
	expect(count).toBeGreaterThan(3);
	for (let i = 0; i < count; i++) {
		const control = controls.nth(i);
		await control.scrollIntoViewIfNeeded();
		const at = await control.boundingBox();
		const name = await control.evaluate((el) => el.id || el.outerHTML.slice(0, 60));
		if (at && overlaps(at, await box(page, "#stop"))) covered.push(name);
	}
	await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
	const stop = await box(page, "#stop");
	for (let i = 0; i < count; i++) {
		const at = await controls.nth(i).boundingBox();
		if (at && overlaps(at, stop)) covered.push(`${i} at the end of the page`);
	}
	return covered;
}

/**
 * A short or non-numeric ID is refused on the page, in both languages, without a request. English
 * comes last: `?lang=` is remembered in a cookie for the pages that follow.
 */
async function expectDigitsHint(page: Page, base: URL): Promise<void> {
	const joins: string[] = [];
	page.on("request", (request) => {
		if (request.url().includes("/api/v1/sessions/join")) joins.push(request.url());
	});
	for (const [lang, code, text] of [
		["de", "12ab56cd", "Geben Sie die 8 Ziffern Ihrer Support-ID ein."],
		["en", "1234", "Enter the 8 digits of your support ID."],
	] as const) {
		await page.goto(new URL(`/join?lang=${lang}`, base).href);
		await page.fill("#code", code);
		await page.fill("#name", "Kim Kunde");
		await page.click("#join-form button[type=submit]");
		await page.waitForSelector("#join-error:not([hidden])");
		expect(await page.textContent("#join-error")).toBe(text);
		expect(await page.evaluate(() => document.activeElement?.id)).toBe("code");
	}
	await screenshot(page, "admission-00-customer-short-id");
	expect(joins).toEqual([]);
}

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
		await expectDigitsHint(customer, base);
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

		// STOP covers no control, on a wide and on a phone-sized screen.
		for (const size of [
			{ width: 1280, height: 800 },
			{ width: 360, height: 640 },
		]) {
			await customer.setViewportSize(size);
			expect(await controlsUnderStop(customer), `at ${size.width}x${size.height}`).toEqual([]);
		}
		await screenshot(customer, "admission-07-customer-360x640");

		// With a consent question open, STOP is above the dialog and takes a real mouse click.
		await supporter.click("#request-view");
		await customer.waitForSelector("#consent[open]");
		const stop = await box(customer, "#stop");
		for (const id of ["#consent-allow", "#consent-deny", "#consent-text"])
			expect(overlaps(await box(customer, id), stop), id).toBe(false);
		await screenshot(customer, "admission-08-consent-with-stop-360x640");
		await customer.click("#stop"); // Playwright refuses to click an inert or covered button
		await customer.waitForSelector("#step-ended:not([hidden])");
		expect(await customer.textContent("#ended-text")).toContain("You stopped the session");

		expect(errors.flat().filter((e) => !e.includes("camera is not allowed"))).toEqual([]);
	});
});
