import type { Browser, BrowserContext, Page } from "playwright-core";
import { Agent, WebSocket as UndiciWebSocket, fetch as undiciFetch } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiClient, type FetchLike } from "../../modules/sdk/api.ts";
import { SessionClient } from "../../modules/sdk/session.ts";
import { ADMIN, bearer, createUserAs, mustLogin } from "../helpers/auth.ts";
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
import { Tap } from "../helpers/socket-tap.ts";

const SUPPORTER = { email: "status-supporter@example.test", password: "supporter password 1" };
/** How far the German customer's clock is behind. */
const CUSTOMER_CLOCK_SKEW_MS = -25 * 60_000;

describe.skipIf(!hasChromium)("the pages say what the other side did", () => {
	let server: TestServer;
	let browser: Browser;
	let staff: BrowserContext;
	let customerContext: BrowserContext;
	let agent: Agent;
	let fetch: FetchLike;
	const errors: string[][] = [];

	const statusIs = (page: Page, text: string) =>
		page.waitForFunction(
			(expected) => document.getElementById("status")?.textContent?.includes(expected) === true,
			text,
		);

	beforeAll(async () => {
		server = await startServer();
		const admin = await mustLogin(server, ADMIN);
		await createUserAs(server, admin.accessToken, { ...SUPPORTER, role: "supporter" });
		// Admission has its own test (admission.test.ts); here the customer is in once it joins.
		const off = await server.json("/api/v1/settings", {
			method: "PATCH",
			body: { requireAdmission: false },
			headers: bearer(admin.accessToken),
		});
		if (off.status !== 200) throw new Error(`settings: ${off.status}`);
		browser = await launchChromium();
		staff = await browser.newContext({ ignoreHTTPSErrors: true, locale: "en-US" });
		customerContext = await browser.newContext({ ignoreHTTPSErrors: true, locale: "de-DE" });
		agent = new Agent({ connect: { ca: server.ca } });
		fetch = (url, init) => undiciFetch(url, { ...init, dispatcher: agent });
	});

	afterAll(async () => {
		const seen = errors.flat().filter((e) => !e.includes("camera is not allowed"));
		if (seen.length) console.log(`page errors:\n${seen.join("\n")}`);
		await browser?.close();
		await agent?.close();
		await server?.stop();
	});

	it("a customer who declines the terms is reported as declining, not as STOP", async () => {
		const supporter = await staff.newPage();
		errors.push(watchErrors(supporter));
		await logIn(supporter, server.url, SUPPORTER);
		const code = await issueSupportId(supporter);
		const customer = await customerContext.newPage();
		errors.push(watchErrors(customer));
		await customer.goto(new URL(`/join#${code}`, server.url).href);
		await customer.fill("#name", "Kim Kunde");
		await customer.click("#join-form button[type=submit]");
		await customer.waitForSelector("#step-terms:not([hidden])");
		// The supporter's page knows the customer is there before the customer declines.
		await statusIs(supporter, "Waiting for the customer to accept the terms");
		await customer.click("#terms-decline");
		await customer.waitForSelector("#step-ended:not([hidden])");
		expect(await customer.textContent("#ended-text")).toContain(
			"Sie haben die Nutzungsbedingungen abgelehnt",
		);
		await supporter.waitForSelector("#ended:not([hidden])");
		expect(await supporter.textContent("#ended-text")).toBe(
			"The customer declined the terms. The session has ended.",
		);
		await screenshot(supporter, "60-console-declined");
		await supporter.close();
		await customer.close();
	});

	it("a customer whose clock is 25 minutes behind shares; stopping and leaving reach the console", async () => {
		const supporter = await staff.newPage();
		errors.push(watchErrors(supporter));
		await logIn(supporter, server.url, SUPPORTER);
		const code = await issueSupportId(supporter);
		const customer = await customerContext.newPage();
		errors.push(watchErrors(customer));
		await customer.addInitScript((skew) => {
			const realNow = Date.now.bind(Date);
			Date.now = () => realNow() + skew;
		}, CUSTOMER_CLOCK_SKEW_MS);
		await joinAndAcceptTerms(customer, server.url, code);
		await customer.waitForSelector("#share:not([disabled])");
		await customer.click("#share");
		// Signed with the server's time, the consent is recorded and the picture flows.
		await customer.waitForSelector("#ind-viewing:not([hidden])");
		await statusIs(customer, "Sie geben Ihren Bildschirm frei.");
		await supporter.waitForFunction(
			() => Number(document.getElementById("screen")?.dataset.frames ?? 0) >= 2,
		);

		// Stop sharing: the relay stops forwarding, and the console says so.
		await customer.click("#share-stop");
		await statusIs(supporter, "The customer stopped sharing their screen.");
		expect(await supporter.$eval("#screen", (c) => (c as HTMLElement).style.opacity)).toBe("0.35");
		expect(await customer.textContent("#status")).not.toContain("Sie geben");
		await screenshot(supporter, "61-console-stopped-sharing");

		// The customer closes the page (a reload is the same to the relay).
		await customer.close();
		await statusIs(supporter, "The customer's connection was lost");
		await screenshot(supporter, "62-console-customer-lost");
		await supporter.close();
	});

	it("a customer whose network drops and comes back is shown as lost, then connected again", async () => {
		const supporter = await staff.newPage();
		errors.push(watchErrors(supporter));
		await logIn(supporter, server.url, SUPPORTER);
		const code = await issueSupportId(supporter);
		const api = createApiClient({ baseUrl: server.url.origin, fetch });
		const joined = await api.joinSession({ code, displayName: "Nils Netz" });
		const sockets: Tap[] = [];
		const customer = new SessionClient({
			role: "customer",
			sessionId: joined.sessionId,
			baseUrl: server.url.origin,
			webSocket: (url) => {
				const socket = new Tap(new UndiciWebSocket(url, { dispatcher: agent }));
				sockets.push(socket);
				return socket;
			},
			ticket: joined.ticket,
			renewTicket: () => api.ticket(joined.sessionId, { resumeToken: joined.resumeToken }),
			resume: { initialDelayMs: 2000, maxDelayMs: 2000, maxAttempts: 10 },
			...(joined.terms ? { termsSha256: joined.terms.sha256 } : {}),
		});
		await customer.connect();
		await customer.whenReady(10_000);
		await customer.acceptTerms();
		await statusIs(supporter, "Waiting for the customer to share their screen");

		sockets.at(-1)?.drop();
		await statusIs(supporter, "The customer's connection was lost");
		await customer.waitFor("open", (e) => e.resumed, 20_000);
		await statusIs(supporter, "The customer is connected again.");
		await screenshot(supporter, "63-console-customer-back");
		customer.close();
		await supporter.close();
	});

	it("the customer page says when the supporter's connection is lost and back", async () => {
		const supporterApi = createApiClient({ baseUrl: server.url.origin, fetch });
		await supporterApi.login(SUPPORTER);
		const created = await supporterApi.createSession({ view: "customer" });
		const sockets: Tap[] = [];
		const supporter = new SessionClient({
			role: "supporter",
			sessionId: created.sessionId,
			baseUrl: server.url.origin,
			webSocket: (url) => {
				const socket = new Tap(new UndiciWebSocket(url, { dispatcher: agent }));
				sockets.push(socket);
				return socket;
			},
			renewTicket: () => supporterApi.ticket(created.sessionId),
			resume: { initialDelayMs: 2000, maxDelayMs: 2000, maxAttempts: 10 },
		});
		await supporter.connect();
		const customer = await customerContext.newPage();
		errors.push(watchErrors(customer));
		await joinAndAcceptTerms(customer, server.url, created.code);
		await customer.waitForSelector("#share:not([disabled])");

		sockets.at(-1)?.drop();
		await statusIs(customer, "Die Verbindung zu Ihrem Supporter ist unterbrochen");
		await supporter.waitFor("open", (e) => e.resumed, 20_000);
		await statusIs(customer, "Ihr Supporter ist wieder verbunden.");
		await screenshot(customer, "64-customer-supporter-back");
		supporter.close();
		await customer.close();
		expect(errors.flat().filter((e) => !e.includes("camera is not allowed"))).toEqual([]);
	});
});
