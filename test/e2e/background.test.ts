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
	watchErrors,
} from "../helpers/browser.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

const SUPPORTER = { email: "background-supporter@example.test", password: "supporter password 1" };

/** Frames the supporter must receive per second while /join is in the background. */
const MIN_FPS = 3;

/**
 * A customer who shares a window and switches to it leaves /join in the background, where
 * Chromium throttles main-thread timers; the capture loop runs on a worker's clock instead
 * (modules/web/frame-timer.ts). Headless Chromium keeps a background page "visible" and its
 * timers unthrottled, so this cannot show the throttling itself: it checks that frames keep
 * coming with another page in front and that the worker clock (not the fallback) drives them.
 */
describe.skipIf(!hasChromium)("screen capture with /join in the background", () => {
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
		customerContext = await browser.newContext({ ignoreHTTPSErrors: true, locale: "en-US" });
	});

	afterAll(async () => {
		const seen = errors.flat();
		if (seen.length) console.log(`page errors:\n${seen.join("\n")}`);
		await browser?.close();
		await server?.stop();
	});

	it("keeps sending frames from the worker clock while another page is in front", async () => {
		const base = server.url;
		const supporter = await staff.newPage();
		errors.push(watchErrors(supporter));
		await logIn(supporter, base, SUPPORTER);
		const code = await issueSupportId(supporter);

		const customer = await customerContext.newPage();
		errors.push(watchErrors(customer));
		const joined = await joinAndAcceptTerms(customer, base, code);
		await admitCustomer(supporter);
		expect(joined?.headers()["content-security-policy"]).toContain("worker-src 'self'");
		await customer.waitForSelector("#share:not([disabled])");
		await customer.click("#share");
		await customer.waitForSelector("#ind-viewing:not([hidden])");
		await customer.waitForSelector("#preview[data-frame-clock]");
		expect(await customer.getAttribute("#preview", "data-frame-clock")).toBe("worker");

		// Another page of the same browser in front: /join is now a background tab.
		const other = await customerContext.newPage();
		await other.goto(new URL("/", base).href);
		await other.bringToFront();
		const frames = () =>
			supporter.evaluate(() => Number(document.getElementById("screen")?.dataset.frames ?? 0));
		const before = await frames();
		await new Promise((resolve) => setTimeout(resolve, 3000));
		const received = (await frames()) - before;
		expect(received).toBeGreaterThanOrEqual(MIN_FPS * 3);
		expect(await customer.getAttribute("#preview", "data-frame-clock")).toBe("worker");

		// Chromium's fake media UI probes the camera too, which the pages' policy refuses.
		expect(errors.flat().filter((e) => !e.includes("camera is not allowed"))).toEqual([]);
	});

	it("keeps the session's keepalive going when the page's own timers no longer fire", async () => {
		// What intensive throttling does to a tab hidden for five minutes (its timers fire once a
		// minute, the relay gives up after 25 s of silence), played here by a page whose
		// setInterval never fires: headless Chromium does not throttle background pages itself.
		const context = await browser.newContext({ ignoreHTTPSErrors: true, locale: "en-US" });
		await context.addInitScript(() => {
			window.setInterval = (() => 0) as unknown as typeof window.setInterval;
		});
		const supporter = await staff.newPage();
		errors.push(watchErrors(supporter));
		await logIn(supporter, server.url, SUPPORTER);
		const code = await issueSupportId(supporter);
		const customer = await context.newPage();
		const cdp = await context.newCDPSession(customer);
		await cdp.send("Network.enable");
		let pings = 0;
		cdp.on("Network.webSocketFrameSent", (event) => {
			if (event.response.payloadData === "ping") pings += 1;
		});
		await joinAndAcceptTerms(customer, server.url, code);
		await admitCustomer(supporter);
		await customer.waitForSelector("#share:not([disabled])");
		// The SDK pings every 10 s: within 12 s at least one ping went out, from the worker.
		const until = Date.now() + 12_000;
		while (pings === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
		expect(pings).toBeGreaterThan(0);
		await context.close();
	});
});
