import type { Browser, BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN, bearer, createUserAs, login, mustLogin } from "../helpers/auth.ts";
import {
	hasChromium,
	issueSupportId,
	launchChromium,
	logIn,
	screenshot,
	watchErrors,
} from "../helpers/browser.ts";
import { startS3, type TestS3 } from "../helpers/s3.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

const SUPPORTER = { email: "uma@example.test", password: "supporter password 1" };
const RESET = "reset by the admin 22";
const OWN = "chosen by uma herself 3";
/** A 1×1 PNG. */
const PNG = Buffer.from(
	"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
	"base64",
);

describe.skipIf(!hasChromium)("editing users and groups, and the own password, in Chromium", () => {
	let server: TestServer;
	let browser: Browser;
	let context: BrowserContext;
	let s3: TestS3;

	beforeAll(async () => {
		// The admin's own S3-compatible store, for profile pictures (a real one, on loopback).
		s3 = await startS3("pictures");
		server = await startServer({ env: { S3_URL: s3.s3Url } });
		const admin = await mustLogin(server, ADMIN);
		await createUserAs(server, admin.accessToken, { ...SUPPORTER, displayName: "Uma" });
		browser = await launchChromium();
		context = await browser.newContext({
			ignoreHTTPSErrors: true,
			locale: "en-US",
			viewport: { width: 1280, height: 900 },
		});
	});

	afterAll(async () => {
		await browser?.close();
		await server?.stop();
		await s3?.close();
	});

	it("edits a user and renames and deletes a group on /admin", async () => {
		const page = await context.newPage();
		const seen = watchErrors(page);
		await logIn(page, server.url, ADMIN, "/admin");
		await page.waitForSelector(`#users td:text-is("${SUPPORTER.email}")`);
		expect(await page.isVisible('nav a[href="/admin"]')).toBe(true);

		await page.click(`button[aria-label="Edit ${SUPPORTER.email}"]`);
		await page.fill("#user-edit-name", "Uma Umbrella");
		await page.selectOption("#user-edit-role", "admin");
		await page.fill("#user-edit-password", RESET);
		await page.click("#user-edit-form button[type=submit]");
		await page.waitForSelector(`#user-result:text("${SUPPORTER.email} saved.")`);
		const row = `#users tr:has(td:text-is("${SUPPORTER.email}"))`;
		await page.waitForSelector(`${row} td:text-is("Uma Umbrella")`);
		expect(await page.textContent(`${row} td:nth-child(3)`)).toBe("admin");
		expect((await login(server, SUPPORTER)).status).toBe(401);
		await mustLogin(server, { email: SUPPORTER.email, password: RESET });

		// Disabling, and back to supporter.
		await page.click(`button[aria-label="Edit ${SUPPORTER.email}"]`);
		await page.selectOption("#user-edit-role", "supporter");
		await page.check("#user-edit-disabled");
		await page.click("#user-edit-form button[type=submit]");
		await page.waitForSelector(`${row} td:text-is("supporter (disabled)")`);
		expect((await login(server, { email: SUPPORTER.email, password: RESET })).status).toBe(403);
		await page.click(`button[aria-label="Edit ${SUPPORTER.email}"]`);
		await page.uncheck("#user-edit-disabled");
		await page.click("#user-edit-form button[type=submit]");
		await page.waitForSelector(`${row} td:text-is("supporter")`);

		// A group: renamed, then deleted.
		await page.fill("#group-name", "Frontdesk");
		await page.click("#group-form button[type=submit]");
		await page.waitForSelector('#groups td:text-is("Frontdesk")');
		await page.click('button[aria-label="Group Frontdesk"]');
		await page.fill("#group-edit-name", "Reception");
		await page.click("#group-edit-form button[type=submit]");
		await page.waitForSelector('#groups td:text-is("Reception")');
		await page.click('button[aria-label="Group Reception"]');
		await page.click("#group-delete");
		await page.waitForSelector('#group-result:text("Group Reception deleted.")');
		await page.waitForSelector('#groups td:text-is("Reception")', { state: "detached" });
		expect(seen).toEqual([]);
		await page.close();
	});

	it("lets a supporter set a profile picture and change their own password on /console", async () => {
		const page = await context.newPage();
		await logIn(page, server.url, { email: SUPPORTER.email, password: RESET });
		// A supporter's header has no Administration link (the page would only refuse them).
		expect(await page.isHidden('nav a[href="/admin"]')).toBe(true);
		expect(await page.isVisible('nav a[href="/console"]')).toBe(true);
		await page.click("#account summary");
		// The admin wired up an S3 store, so the picture section shows; it goes there and back.
		await page.waitForSelector("#picture-section:not([hidden])");
		await page.waitForSelector("#picture-none:not([hidden])");
		await page.setInputFiles("#picture-file", {
			name: "not-a-picture.png",
			mimeType: "image/png",
			buffer: Buffer.from("<html>not a picture</html>"),
		});
		await page.waitForSelector(
			'#picture-result:text("That file is not a PNG, JPEG or WebP picture.")',
		);
		await page.setInputFiles("#picture-file", {
			name: "me.png",
			mimeType: "image/png",
			buffer: PNG,
		});
		await page.waitForSelector('#picture-result:text("Picture saved.")');
		await page.waitForFunction(
			() => (document.getElementById("picture-preview") as HTMLImageElement).naturalWidth === 1,
		);
		await screenshot(page, "53-account-picture");
		// The picture shows in the header of the staff pages and in the admin's user list, both
		// served by this server (the pages' CSP allows images from nowhere else).
		await page.reload();
		await page.waitForFunction(() => {
			const img = document.getElementById("me-picture") as HTMLImageElement;
			return !img.hidden && img.complete && img.naturalWidth === 1;
		});
		expect(new URL((await page.getAttribute("#me-picture", "src")) ?? "", server.url).origin).toBe(
			server.url.origin,
		);
		const admin = await context.newPage();
		await logIn(admin, server.url, ADMIN, "/admin");
		await admin.waitForFunction((email) => {
			const row = [...document.querySelectorAll("#users tr")].find((r) =>
				r.textContent?.includes(email),
			);
			const img = row?.querySelector("img.avatar") as HTMLImageElement | null;
			return img?.complete === true && img.naturalWidth === 1;
		}, SUPPORTER.email);
		await admin.waitForSelector('#pictures-state:text("On")');
		await admin.close();
		// The customer sees whom they let in: the supporter's name and picture.
		const console2 = await context.newPage();
		await logIn(console2, server.url, { email: SUPPORTER.email, password: RESET });
		const code = await issueSupportId(console2);
		const customer = await context.newPage();
		await customer.goto(new URL(`/join#${code}`, server.url).href);
		await customer.fill("#name", "Kim Kunde");
		await customer.click("#join-form button[type=submit]");
		await customer.waitForSelector('#supporter-name:text-is("Uma Umbrella")');
		await customer.waitForFunction(() => {
			const img = document.getElementById("supporter-picture") as HTMLImageElement;
			return !img.hidden && img.complete && img.naturalWidth === 1;
		});
		await screenshot(customer, "54-customer-sees-supporter");
		await customer.close();
		await console2.close();
		await page.click("#account summary");
		await page.click("#picture-remove");
		await page.waitForSelector('#picture-result:text("Picture removed.")');
		await page.waitForSelector("#picture-preview", { state: "hidden" });
		await page.fill("#account-current", "not the password 1");
		await page.fill("#account-new", OWN);
		await page.fill("#account-repeat", OWN);
		await page.click("#account-form button[type=submit]");
		await page.waitForSelector('#account-result:text("The current password is wrong.")');
		// Still logged in: a wrong current password does not end the page's login.
		expect(new URL(page.url()).pathname).toBe("/console");

		await page.fill("#account-current", RESET);
		await page.fill("#account-new", OWN);
		await page.fill("#account-repeat", OWN);
		await page.click("#account-form button[type=submit]");
		await page.waitForSelector('#account-result:text("Password changed.")');
		await page.waitForURL((url) => url.pathname === "/login");
		expect((await login(server, { email: SUPPORTER.email, password: RESET })).status).toBe(401);
		const fresh = await mustLogin(server, { email: SUPPORTER.email, password: OWN });
		const me = await server.json<{ email: string }>("/api/v1/me", {
			headers: bearer(fresh.accessToken),
		});
		expect(me.body.email).toBe(SUPPORTER.email);
		await page.close();
	});
});
