import type { Browser, BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN, bearer, createUserAs, mustLogin } from "../helpers/auth.ts";
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
import { startSmtp } from "../helpers/smtp.ts";

const SUPPORTER = { email: "mia.mailer@example.test", password: "a long enough password 1" };
const CUSTOMER_EMAIL = "kim.kunde@example.test";

describe.skipIf(!hasChromium)("the protocol copy on the customer page in Chromium", () => {
	let smtp: Awaited<ReturnType<typeof startSmtp>>;
	let server: TestServer;
	let browser: Browser;
	let staff: BrowserContext;
	let customers: BrowserContext;
	const errors: string[][] = [];

	beforeAll(async () => {
		smtp = await startSmtp();
		server = await startServer({
			env: { SMTP_URL: `smtp://127.0.0.1:${smtp.port}/?from=fernwart@example.test` },
		});
		const admin = await mustLogin(server, ADMIN);
		const group = await server.json<{ id: string }>("/api/v1/groups", {
			body: { name: "Mailers" },
			headers: bearer(admin.accessToken),
		});
		await server.json(`/api/v1/groups/${group.body.id}`, {
			method: "PATCH",
			body: { mailProtocol: true },
			headers: bearer(admin.accessToken),
		});
		await createUserAs(server, admin.accessToken, { ...SUPPORTER, groups: ["Mailers"] });
		browser = await launchChromium();
		staff = await browser.newContext({ ignoreHTTPSErrors: true, locale: "en-US" });
		customers = await browser.newContext({ ignoreHTTPSErrors: true, locale: "de-DE" });
	});

	afterAll(async () => {
		const seen = errors.flat();
		if (seen.length) console.log(`page errors:\n${seen.join("\n")}`);
		await browser?.close();
		await server?.stop();
		await smtp?.close();
	});

	it("is offered only where the group mails protocols, checks address and agreement, and is mailed", async () => {
		const base = server.url;
		// The admin belongs to no group that mails protocols: its customer is offered nothing.
		const adminPage = await staff.newPage();
		errors.push(watchErrors(adminPage));
		await logIn(adminPage, base, ADMIN);
		const plain = await customers.newPage();
		errors.push(watchErrors(plain));
		await joinAndAcceptTerms(plain, base, await issueSupportId(adminPage), "Otto Ohne");
		await plain.waitForSelector("#step-session:not([hidden])");
		expect(await plain.isHidden("#protocol-copy")).toBe(true);
		await adminPage.close();
		await plain.close();

		const supporter = await staff.newPage();
		errors.push(watchErrors(supporter));
		await logIn(supporter, base, SUPPORTER);
		const customer = await customers.newPage();
		errors.push(watchErrors(customer));
		await joinAndAcceptTerms(customer, base, await issueSupportId(supporter));
		await customer.waitForSelector("#protocol-copy:not([hidden])");
		expect(await customer.textContent("#copy-title")).toContain("Kopie des Protokolls");

		// Checked on the page first, in the page's language.
		await customer.fill("#copy-email", "kein-at-zeichen");
		await customer.click("#copy-submit");
		await customer.waitForSelector("#copy-error:not([hidden])");
		expect(await customer.textContent("#copy-error")).toBe(
			"Bitte geben Sie eine gültige E-Mail-Adresse ein.",
		);
		await customer.fill("#copy-email", CUSTOMER_EMAIL);
		await customer.click("#copy-submit");
		await customer.waitForFunction(() =>
			document.getElementById("copy-error")?.textContent?.includes("Einverständnis"),
		);
		await customer.check("#copy-agree");
		await customer.click("#copy-submit");
		await customer.waitForSelector("#copy-done:not([hidden])");
		expect(await customer.textContent("#copy-done")).toBe(
			`Eine Kopie geht an ${CUSTOMER_EMAIL}, wenn die Sitzung endet.`,
		);
		await screenshot(customer, "protocol-mail-01-customer-copy-requested");
		await admitCustomer(supporter);

		// The supporter ends the session; both get the protocol.
		const token = (await mustLogin(server, SUPPORTER)).accessToken;
		const live = await server.json<{ sessions: { sessionId: string }[] }>("/api/v1/sessions", {
			headers: bearer(token),
		});
		const sessionId = live.body.sessions[0]?.sessionId as string;
		const ended = await server.fetch(`/api/v1/sessions/${sessionId}`, {
			method: "DELETE",
			headers: bearer(token),
		});
		expect(ended.status).toBe(204);
		const mails = await smtp.waitFor(2, 30_000);
		expect(mails.map((m) => m.to[0]).sort()).toEqual([CUSTOMER_EMAIL, SUPPORTER.email]);
		expect(mails.every((m) => m.raw.includes(`fernwart-session-${sessionId}.ndjson`))).toBe(true);
		expect(errors.flat()).toEqual([]);
	});
});
