import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { ROOT } from "./server.ts";

/** Debian's Chromium (`apt-get install chromium`); playwright-core downloads no browser. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** True when the browser tests can run here. */
export const hasChromium = existsSync(CHROMIUM_PATH);

/** The one line `npm test` prints where Chromium is missing. */
export const MISSING_CHROMIUM = `Chromium not found at ${CHROMIUM_PATH}: apt-get install chromium (browser tests skipped)`;

/** Screenshots for review land here (gitignored with the rest of test-output/). */
export const SCREENSHOT_DIR = join(ROOT, "test-output/screenshots");

/**
 * Headless Chromium as root in a container: no sandbox, no GPU, nothing that phones home. The
 * fake media flags make getDisplayMedia pick a synthetic "Entire screen" without a picker: a
 * green test card (background rgb(0,135,0)) that the tests look for on the supporter's canvas.
 */
export function launchChromium(): Promise<Browser> {
	return chromium.launch({
		executablePath: CHROMIUM_PATH,
		headless: true,
		args: [
			"--no-sandbox",
			"--disable-gpu",
			"--no-first-run",
			"--disable-background-networking",
			"--disable-component-update",
			"--disable-sync",
			"--disable-quic",
			"--use-fake-ui-for-media-stream",
			"--use-fake-device-for-media-stream",
			"--auto-select-desktop-capture-source=Entire screen",
		],
	});
}

/** Saves a full-page screenshot as test-output/screenshots/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
	mkdirSync(SCREENSHOT_DIR, { recursive: true });
	await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
}

/** Collects console errors and CSP refusals of a page, to assert none happened. */
export function watchErrors(page: Page): string[] {
	const errors: string[] = [];
	page.on("console", (message) => {
		if (message.type() === "error") errors.push(message.text());
	});
	page.on("pageerror", (error) => errors.push(error.message));
	page.on("response", (response) => {
		if (response.status() >= 400) errors.push(`${response.status()} ${response.url()}`);
	});
	return errors;
}

/** Logs `who` in on /login and waits for the page the login leads to (default the console). */
export async function logIn(
	page: Page,
	base: URL,
	who: { email: string; password: string },
	next = "/console",
): Promise<void> {
	await page.goto(new URL(`/login?next=${encodeURIComponent(next)}`, base).href);
	await page.fill("#email", who.email);
	await page.fill("#password", who.password);
	await page.click("button[type=submit]");
	await page.waitForURL((url) => url.pathname === next);
}

/** The supporter issues a support ID on /console; returns its 8 digits. */
export async function issueSupportId(supporter: Page): Promise<string> {
	await supporter.click("#issue-button");
	await supporter.waitForSelector("#code-box:not([hidden])");
	return ((await supporter.textContent("#code")) ?? "").replace(/\D/g, "");
}

/** The supporter admits the customer waiting on /console (organisations have admission on by default). */
export async function admitCustomer(supporter: Page): Promise<void> {
	await supporter.waitForSelector("#admission:not([hidden])");
	await supporter.click("#admit");
	await supporter.waitForSelector("#admission", { state: "hidden" });
}

/**
 * The customer opens /join with the ID, gives a name and accepts the terms; returns the page's
 * response (for header checks).
 */
export async function joinAndAcceptTerms(
	customer: Page,
	base: URL,
	code: string,
	name = "Kim Kunde",
) {
	const response = await customer.goto(new URL(`/join#${code}`, base).href);
	await customer.fill("#name", name);
	await customer.click("#join-form button[type=submit]");
	await customer.waitForSelector("#step-terms:not([hidden])");
	await customer.check("#terms-accept");
	await customer.click("#terms-submit");
	return response;
}
