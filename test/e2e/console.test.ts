import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearer, mustLogin } from "../helpers/auth.ts";
import { hasChromium, launchChromium, logIn, screenshot, watchErrors } from "../helpers/browser.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

const ADMIN = { email: "admin@example.test", password: "correct horse battery staple" };
const SUPPORTER = { email: "supporter@example.test", password: "supporter password 1" };

/** The fake screen's background (Chromium's synthetic capture); JPEG may shift it a little. */
const FAKE_SCREEN_GREEN = [0, 135, 0];

/** The colour at a point of the supporter's canvas, in fractions of its size. */
function canvasPixel(page: Page, fx: number, fy: number): Promise<number[]> {
	return page.evaluate(
		([x, y]) => {
			const canvas = document.getElementById("screen") as HTMLCanvasElement;
			const context = canvas.getContext("2d");
			const px = context?.getImageData(
				Math.floor(canvas.width * (x ?? 0)),
				Math.floor(canvas.height * (y ?? 0)),
				1,
				1,
			).data;
			return px ? [px[0] ?? -1, px[1] ?? -1, px[2] ?? -1] : [];
		},
		[fx, fy],
	);
}

describe.skipIf(!hasChromium)("web console in Chromium", () => {
	let server: TestServer;
	let browser: Browser;
	let staff: BrowserContext;
	let customerContext: BrowserContext;
	const errors: string[][] = [];

	beforeAll(async () => {
		server = await startServer();
		browser = await launchChromium();
		// Staff in English, the customer in German: both languages are rendered and used.
		staff = await browser.newContext({
			ignoreHTTPSErrors: true,
			locale: "en-US",
			viewport: { width: 1280, height: 900 },
		});
		customerContext = await browser.newContext({
			ignoreHTTPSErrors: true,
			locale: "de-DE",
			viewport: { width: 1280, height: 900 },
		});
	});

	afterAll(async () => {
		const seen = errors.flat();
		if (seen.length) console.log(`page errors:\n${seen.join("\n")}`);
		await browser?.close();
		await server?.stop();
	});

	it("admin creates a supporter, who issues an ID; the customer joins, shares, grants control and stops", async () => {
		const base = server.url;

		// Admin: log in, create a supporter in the admin console.
		const admin = await staff.newPage();
		errors.push(watchErrors(admin));
		await admin.goto(new URL("/login", base).href);
		await screenshot(admin, "01-login");
		await logIn(admin, base, ADMIN);
		await admin.goto(new URL("/admin", base).href);
		await admin.waitForSelector("#users tbody tr");
		await admin.fill("#user-email", SUPPORTER.email);
		await admin.fill("#user-name", "Sam Supporter");
		await admin.selectOption("#user-role", "supporter");
		await admin.fill("#user-password", SUPPORTER.password);
		await admin.click("#user-form button[type=submit]");
		await admin.waitForSelector(`#users td:text-is("${SUPPORTER.email}")`);
		await screenshot(admin, "02-admin");

		// Supporter: own tab (the login lives in sessionStorage), issue a support ID.
		const supporter = await staff.newPage();
		errors.push(watchErrors(supporter));
		await logIn(supporter, base, SUPPORTER);
		await supporter.click("#issue-button");
		await supporter.waitForSelector("#code-box:not([hidden])");
		const code = ((await supporter.textContent("#code")) ?? "").replace(/\D/g, "");
		expect(code).toMatch(/^\d{8}$/);
		expect(await supporter.textContent("#countdown")).toMatch(/Valid for \d+:\d\d/);
		// Before anyone typed the ID the page says what it waits for, and asks for nothing.
		await supporter.waitForSelector(
			'#status:text("Waiting for the customer to type in the support ID")',
		);
		expect(await supporter.isDisabled("#request-view")).toBe(true);
		expect(await supporter.isDisabled("#request-control")).toBe(true);
		expect(await supporter.isDisabled("#share-own")).toBe(true);
		await screenshot(supporter, "03-console-id");

		// Customer: German page, type the ID, accept the terms, share the (fake) screen.
		const customer = await customerContext.newPage();
		errors.push(watchErrors(customer));
		await customer.goto(new URL("/join", base).href);
		expect(await customer.getAttribute("html", "lang")).toBe("de");
		await screenshot(customer, "04-join");
		await customer.fill("#code", `${code.slice(0, 4)} ${code.slice(4)}`);
		await customer.fill("#name", "Kim Kunde");
		await customer.click("#join-form button[type=submit]");
		await customer.waitForSelector("#step-terms:not([hidden])");
		// The German page gets the German terms, which name its STOPP button.
		expect(await customer.textContent("#terms-text")).toContain("Bedingungen für die Fernwartung");
		expect(await customer.textContent("#terms-text")).toContain("STOPP");
		expect(await customer.isDisabled("#terms-submit")).toBe(true);
		await screenshot(customer, "05-terms");
		await customer.check("#terms-accept");
		await customer.click("#terms-submit");
		// The supporter sees who typed the ID and admits them; only then can the customer share.
		await supporter.waitForSelector("#admission:not([hidden])");
		expect(await supporter.textContent("#admission-who")).toContain("Kim Kunde");
		expect(await customer.isDisabled("#share")).toBe(true);
		await supporter.click("#admit");
		await customer.waitForSelector("#share:not([disabled])");
		await customer.click("#share");
		await customer.waitForSelector("#ind-viewing:not([hidden])");

		// Both sides show the same SAS.
		const sas = await customer.textContent("#sas");
		expect(sas).toMatch(/^\d{3} \d{3}$/);
		await supporter.waitForFunction(
			(expected) => document.getElementById("sas")?.textContent === expected,
			sas,
		);

		// The supporter's canvas shows the customer's pixels.
		await supporter.waitForFunction(
			() => Number(document.getElementById("screen")?.dataset.frames ?? 0) >= 3,
		);
		const pixel = await canvasPixel(supporter, 0.15, 0.85);
		for (const [i, expected] of FAKE_SCREEN_GREEN.entries()) {
			expect(Math.abs((pixel[i] ?? -99) - expected)).toBeLessThanOrEqual(24);
		}
		expect(await supporter.textContent("#status")).toContain("Kim Kunde");
		// The screen is shown: asking to see it again would do nothing.
		expect(await supporter.isDisabled("#request-view")).toBe(true);
		await screenshot(customer, "06-customer-sharing");
		await screenshot(supporter, "07-console-live");

		// Control: requested by the supporter, granted in the customer's dialog.
		await supporter.click("#request-control");
		await customer.waitForSelector("#consent[open]");
		await screenshot(customer, "08-consent-dialog");
		await customer.click("#consent-allow");
		await customer.waitForSelector("#ind-control:not([hidden])");
		await supporter.waitForSelector("#screen.controlled");
		const box = await supporter.locator("#screen").boundingBox();
		if (!box) throw new Error("no canvas box");
		await supporter.mouse.move(box.x + box.width / 2, box.y + box.height / 4);
		await supporter.mouse.move(box.x + box.width / 2 + 5, box.y + box.height / 4 + 5);
		await customer.waitForSelector("#pointer:not([hidden])");

		// Chat, both ways.
		await supporter.fill("#chat-input", "Hello from support");
		await supporter.click("#chat-send");
		await customer.waitForSelector('#chat-log li:has-text("Hello from support")');
		await customer.fill("#chat-input", "Hallo zurück");
		await customer.click("#chat-send");
		await supporter.waitForSelector('#chat-log li:has-text("Hallo zurück")');
		await screenshot(customer, "09-customer-controlled");
		await screenshot(supporter, "10-console-control");

		// View switch: the supporter shows their own screen; the customer's page displays it.
		await supporter.click("#share-own");
		await customer.waitForSelector("#peer-view:not([hidden])");
		await customer.waitForFunction(
			() => Number(document.getElementById("peer-screen")?.dataset.frames ?? 0) >= 2,
		);
		expect(await customer.isHidden("#ind-viewing")).toBe(true);
		expect(await customer.isHidden("#ind-control")).toBe(true); // a switch ends control
		await screenshot(customer, "11-customer-sees-supporter");

		// STOP by the keyboard shortcut ends the session on both pages.
		await customer.keyboard.press("Alt+Shift+S");
		await customer.waitForSelector("#step-ended:not([hidden])");
		expect(await customer.isHidden("#stop")).toBe(true);
		await supporter.waitForSelector("#ended:not([hidden])");
		expect(await supporter.textContent("#ended-text")).toContain("STOP");
		await screenshot(customer, "12-customer-stopped");
		await screenshot(supporter, "13-console-ended");
		// "Issue a support ID" after the end issues the next one at once.
		await supporter.click("#again");
		await supporter.waitForSelector("#code-box:not([hidden])");
		const next = ((await supporter.textContent("#code")) ?? "").replace(/\D/g, "");
		expect(next).toMatch(/^\d{8}$/);
		expect(next).not.toBe(code);
		expect(new URL(supporter.url()).search).toBe("");

		// The admin's list of live sessions is empty again.
		const { accessToken } = await mustLogin(server, ADMIN);
		const live = await server.json<{ sessions: unknown[] }>("/api/v1/sessions", {
			headers: bearer(accessToken),
		});
		expect(live.status).toBe(200);
		// Only the ID issued after the end is live.
		expect(live.body.sessions).toHaveLength(1);

		// No page hit a CSP refusal or a script error on the way.
		// (Chromium's fake media UI probes the camera too, which the pages' policy refuses.)
		expect(errors.flat().filter((e) => !e.includes("camera is not allowed"))).toEqual([]);
	});
});
