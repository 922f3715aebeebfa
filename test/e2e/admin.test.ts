import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyExportFile } from "../../server/audit-verify.ts";
import { ADMIN, bearer, createUserAs, mustLogin } from "../helpers/auth.ts";
import { hasChromium, launchChromium, logIn, screenshot, watchErrors } from "../helpers/browser.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { openPair } from "../helpers/sessions.ts";

const SUPPORTER = { email: "sam@example.test", password: "supporter password 1" };

/** A fresh Ed25519 public key as the host agent registers it. */
async function hostKey() {
	const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
		"sign",
		"verify",
	])) as CryptoKeyPair;
	const jwk = (await crypto.subtle.exportKey("jwk", pair.publicKey)) as { x: string };
	return { kty: "OKP", crv: "Ed25519", x: jwk.x };
}

/** Clicks `selector` and returns the file the page downloads, saved under a temp folder. */
async function download(page: Page, selector: string): Promise<{ path: string; name: string }> {
	const [file] = await Promise.all([page.waitForEvent("download"), page.click(selector)]);
	const path = join(mkdtempSync(join(tmpdir(), "fernwart-dl-")), file.suggestedFilename());
	await file.saveAs(path);
	return { path, name: file.suggestedFilename() };
}

describe.skipIf(!hasChromium)("admin console in Chromium", () => {
	let server: TestServer;
	let browser: Browser;
	let context: BrowserContext;
	let sessionId: string;
	const errors: string[] = [];

	beforeAll(async () => {
		server = await startServer();
		// A supporter with one finished, connected session: something to audit and to evaluate.
		const admin = await mustLogin(server, ADMIN);
		await createUserAs(server, admin.accessToken, {
			...SUPPORTER,
			displayName: "Sam Supporter",
		});
		const sam = await mustLogin(server, SUPPORTER);
		const pair = await openPair(server, sam.accessToken);
		sessionId = pair.sessionId;
		await new Promise((resolve) => setTimeout(resolve, 1500));
		const ended = await server.fetch(`/api/v1/sessions/${sessionId}`, {
			method: "DELETE",
			headers: bearer(sam.accessToken),
		});
		expect(ended.status).toBe(204);
		pair.supporter.close();
		pair.customer.close();

		browser = await launchChromium();
		context = await browser.newContext({
			ignoreHTTPSErrors: true,
			locale: "en-US",
			viewport: { width: 1280, height: 900 },
			acceptDownloads: true,
		});
		await context.grantPermissions(["clipboard-read", "clipboard-write"], {
			origin: server.url.origin,
		});
	});

	afterAll(async () => {
		if (errors.length) console.log(`page errors:\n${errors.join("\n")}`);
		await browser?.close();
		await server?.stop();
	});

	it("manages groups, enrolment, hosts, the audit protocol, evaluation and settings", async () => {
		const base = server.url;
		const page = await context.newPage();
		errors.push(...[]);
		const seen = watchErrors(page);
		await logIn(page, base, ADMIN, "/admin");
		await page.waitForSelector(`#users td:text-is("${SUPPORTER.email}")`);

		// Before any group exists, the policy form shows what a new group gets, read-only.
		await page.waitForSelector('#policy-result:text("No group yet")');
		expect(await page.inputValue("#policy-control")).toBe("allow");
		expect(await page.inputValue("#policy-files")).toBe("ask");
		expect(await page.isDisabled("#policy-save")).toBe(true);
		await page.locator("#policy-form").screenshot({
			path: join("test-output/screenshots", "39-admin-policy-before-groups.png"),
		});

		// A group, and the supporter in it.
		await page.fill("#group-name", "Helpdesk");
		await page.click("#group-form button[type=submit]");
		await page.waitForSelector('#groups td:text-is("Helpdesk")');
		await page.click(`button[aria-label="Groups of ${SUPPORTER.email}"]`);
		await page.check('#user-groups-boxes label:has-text("Helpdesk") input');
		await page.click("#user-groups-form button[type=submit]");
		await page.waitForSelector(
			`#users tr:has(td:text-is("${SUPPORTER.email}")) td:text-is("Helpdesk")`,
		);
		expect(await page.textContent('#groups tr:has(td:text-is("Helpdesk")) td:nth-child(2)')).toBe(
			"1",
		);

		// Its unattended policy: control without asking.
		await page.selectOption("#policy-group", { label: "Helpdesk" });
		await page.waitForSelector('#policy-result:text("default policy")');
		await page.selectOption("#policy-control", "allow");
		await page.click("#policy-form button[type=submit]");
		await page.waitForSelector('#policy-result:text("Policy for Helpdesk saved.")');

		// A one-time enrolment token, shown once with a copy button.
		await page.selectOption("#enroll-group", { label: "Helpdesk" });
		await page.fill("#enroll-minutes", "30");
		await page.click("#enroll-form button[type=submit]");
		await page.waitForSelector("#enroll-box:not([hidden])");
		const token = (await page.textContent("#enroll-token")) ?? "";
		expect(token.length).toBeGreaterThan(20);
		await page.click("#enroll-copy");
		await page.waitForSelector('#enroll-copy:text-is("Copied")');
		expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(token);
		// The command for the host names this server and pins its certificate.
		const pin = new X509Certificate(readFileSync(join(server.dataDir, "tls", "cert.pem")))
			.fingerprint256;
		expect(await page.textContent("#enroll-command")).toBe(
			`npm run fernwart -- host enroll ${base.origin} ${token} --name <name> --fingerprint ${pin}`,
		);
		await screenshot(page, "40-admin-groups-enrolment");

		// A host agent uses the token; the admin renames it with the keyboard.
		const registered = await server.json<{ hostId: string }>("/api/v1/hosts/register", {
			body: { token, name: "test-pc", platform: "linux", publicKey: await hostKey() },
		});
		expect(registered.status).toBe(201);
		await page.waitForSelector('#hosts td:text-is("test-pc")', { timeout: 15_000 });
		expect(await page.textContent('#hosts tr:has(td:text-is("test-pc"))')).toContain("offline");
		await page.focus('button[aria-label="Edit test-pc"]');
		await page.keyboard.press("Enter");
		await page.waitForSelector("#host-dialog[open]");
		expect(await page.evaluate(() => document.activeElement?.id)).toBe("host-name");
		await page.keyboard.press("Escape");
		await page.waitForSelector("#host-dialog[open]", { state: "detached" });
		await page.click('button[aria-label="Edit test-pc"]');
		await page.fill("#host-name", "Front desk PC");
		await page.click("#host-form button[type=submit]");
		await page.waitForSelector('#hosts td:text-is("Front desk PC")');
		await screenshot(page, "41-admin-hosts");

		// The audit protocol, filtered to the supporter's session.
		await page.fill("#audit-session", sessionId);
		await page.click("#audit-form button[type=submit]");
		await page.waitForSelector(`#audit-status:text("events shown")`);
		const types = await page.$$eval("#audit tbody tr td:nth-child(2)", (cells) =>
			cells.map((c) => c.textContent),
		);
		expect(types).toEqual(expect.arrayContaining(["session.issued", "session.ended"]));
		const sessions = await page.$$eval("#audit tbody tr td:nth-child(4) button", (buttons) =>
			buttons.map((b) => b.getAttribute("aria-label")),
		);
		expect(sessions.length).toBe(types.length);
		for (const label of sessions) expect(label).toContain(sessionId);
		// People by name, never a raw `customer:customer:<id>`; one dash for every empty cell.
		const actors = await page.$$eval("#audit tbody tr td:nth-child(3)", (cells) =>
			cells.map((c) => c.textContent ?? ""),
		);
		expect(actors).toContain(`Sam Supporter (${SUPPORTER.email})`);
		expect(actors).toContain("Customer Ann");
		expect(actors.join("\n")).not.toMatch(/customer:|supporter:/);
		const texts = await page.$$eval("#audit tbody td", (cells) =>
			cells.map((c) => (c.textContent ?? "").trim()),
		);
		expect(texts.filter((text) => text === "" || text === "-")).toEqual([]);
		await page.locator("#audit-title").scrollIntoViewIfNeeded();
		await screenshot(page, "42-admin-audit");

		// One event is "1 event"; the user filter takes an e-mail address; hosts go by name.
		await page.fill("#audit-type", "session.issued");
		await page.click("#audit-form button[type=submit]");
		await page.waitForSelector('#audit-status:text-is("1 event shown.")');
		await page.fill("#audit-session", "");
		await page.fill("#audit-type", "");
		await page.fill("#audit-user", SUPPORTER.email);
		await page.click("#audit-form button[type=submit]");
		await page.waitForSelector(`#audit-status:text("events shown")`);
		expect(await page.textContent("#audit tbody")).toContain("Customer Ann");
		await page.fill("#audit-user", "");
		await page.fill("#audit-host", registered.body.hostId);
		await page.click("#audit-form button[type=submit]");
		await page.waitForSelector('#audit tbody td:text-is("Host Front desk PC")');
		expect(await page.textContent("#audit tbody tr td:nth-child(5)")).toBe("Front desk PC");
		await page.fill("#audit-host", "");
		await page.fill("#audit-session", sessionId);
		await page.click("#audit-form button[type=submit]");
		await page.waitForSelector(`#audit-status:text("events shown")`);

		// Its export, fetched with the Bearer token, verifies offline.
		const exported = await download(page, "#audit-export");
		expect(exported.name).toMatch(/^fernwart-audit-.*\.ndjson$/);
		const verdict = await verifyExportFile(exported.path);
		expect(verdict.ok, JSON.stringify(verdict)).toBe(true);
		const lines = readFileSync(exported.path, "utf8").trim().split("\n");
		const eventTypes = lines
			.map((l) => JSON.parse(l) as { kind: string; type?: string; sessionId?: string })
			.filter((l) => l.kind === "event")
			.map((l) => l.type);
		expect(eventTypes).toContain("session.ended");
		await page.waitForSelector('#audit-status:text("Export saved as")');

		// Evaluation: a bar per day and per supporter, with the same figures in tables and CSV.
		await page.waitForSelector("#chart-day svg rect.bar.connected");
		const width = await page.$eval("#chart-supporter rect.bar.connected", (r) =>
			Number(r.getAttribute("width")),
		);
		expect(width).toBeGreaterThan(0);
		expect(await page.textContent("#report-supporter tbody")).toContain(SUPPORTER.email);
		expect(await page.textContent("#chart-supporter svg")).toContain("1 session");
		expect(await page.textContent("#chart-supporter svg")).not.toContain("1 sessions");
		expect(await page.textContent("#report-totals")).toMatch(
			/^Sessions: 1 · connected 0:00:0[1-9]/,
		);
		const csv = await download(page, "#csv-supporter");
		expect(readFileSync(csv.path, "utf8")).toContain(SUPPORTER.email);
		await page.locator("#report-title").scrollIntoViewIfNeeded();
		await page.locator("section:has(#report-title)").screenshot({
			path: join("test-output/screenshots", "43-admin-evaluation.png"),
		});

		// Settings: mail is off without SMTP_URL; retention is editable.
		expect(await page.textContent("#mail-state")).toBe("Off");
		await page.fill("#retention-days", "400");
		await page.click("#settings-form button[type=submit]");
		await page.waitForSelector('#settings-result:text-is("Settings saved.")');
		await page.locator("#settings-title").scrollIntoViewIfNeeded();
		await screenshot(page, "44-admin-settings");

		// Deleting the host asks first.
		page.once("dialog", (dialog) => {
			dialog.accept().catch(() => undefined);
		});
		await page.click('button[aria-label="Delete Front desk PC"]');
		await page.waitForSelector("#hosts-none:not([hidden])");

		// The same page in German.
		await page.goto(new URL("/admin?lang=de", base).href);
		await page.waitForSelector('#groups td:text-is("Helpdesk")');
		expect(await page.textContent("#report-title")).toBe("Auswertung");
		expect(await page.textContent("#mail-state")).toBe("Aus");
		await screenshot(page, "45-admin-de");

		errors.push(...seen);
		expect(seen).toEqual([]);
	});
});
