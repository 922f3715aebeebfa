import type { Browser, BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN, bearer, createUserAs, mustLogin } from "../helpers/auth.ts";
import { hasChromium, launchChromium, logIn, screenshot, watchErrors } from "../helpers/browser.ts";
import { enrollHost, type JsonProcess, runHostAgent } from "../helpers/hosts.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

const SUPPORTER = {
	email: "host-supporter@example.test",
	password: "supporter password 1",
	groups: ["alpha"],
};
const HOST_PASSWORD = "Wartung-2026-blue-lamp";

describe.skipIf(!hasChromium)("unattended hosts in the supporter console", () => {
	let server: TestServer;
	let browser: Browser;
	let staff: BrowserContext;
	let agent: JsonProcess | null = null;
	let hostId = "";
	let hostKey = "";
	const errors: string[][] = [];

	beforeAll(async () => {
		server = await startServer();
		const admin = await mustLogin(server, ADMIN);
		await createUserAs(server, admin.accessToken, { ...SUPPORTER, role: "supporter" });
		const supporter = await mustLogin(server, SUPPORTER);
		// Enrolled with the CLI exactly as an admin would, then run as the host agent.
		const enrolled = await enrollHost(server, supporter.accessToken, {
			group: "alpha",
			name: "pc-reception",
			password: HOST_PASSWORD,
		});
		hostId = enrolled.hostId;
		hostKey = enrolled.file.publicKey;
		agent = runHostAgent(enrolled.config);
		await agent.waitFor((e) => e.event === "online");
		for (let i = 0; ; i++) {
			const list = await server.json<{ hosts: { id: string; online: boolean }[] }>(
				"/api/v1/hosts",
				{ headers: bearer(supporter.accessToken) },
			);
			if (list.body.hosts.some((h) => h.id === hostId && h.online)) break;
			if (i > 80) throw new Error("the host never showed as online");
			await new Promise((r) => setTimeout(r, 250));
		}
		browser = await launchChromium();
		staff = await browser.newContext({
			ignoreHTTPSErrors: true,
			locale: "en-US",
			viewport: { width: 1280, height: 900 },
		});
	});

	afterAll(async () => {
		const seen = errors.flat();
		if (seen.length) console.log(`page errors:\n${seen.join("\n")}`);
		agent?.kill("SIGKILL");
		await browser?.close();
		await server?.stop();
	});

	it("lists the host online, refuses a wrong password, shows the host's frames after the right one", async () => {
		const page = await staff.newPage();
		errors.push(watchErrors(page));
		await logIn(page, server.url, SUPPORTER);
		const row = `#hosts-table tr[data-host-id="${hostId}"]`;
		await page.waitForSelector(`${row}[data-online="true"]`);
		expect(await page.textContent(`${row} td:nth-child(1)`)).toBe("pc-reception");
		expect(await page.textContent(`${row} td:nth-child(2)`)).toBe("alpha");
		expect(await page.textContent(`${row} .host-state`)).toBe("Online");
		await screenshot(page, "30-hosts-list");

		// Keyboard: the Connect button is a real button, reached and pressed without a mouse.
		await page.focus(`${row} button`);
		await page.keyboard.press("Enter");
		await page.waitForSelector("#host-auth-form:not([hidden])");
		expect(await page.textContent("#host-auth-status")).toContain("pinned");
		const pins = await page.evaluate(() => localStorage.getItem("fernwart.hostKeys"));
		expect(JSON.parse(pins ?? "{}")[hostId]?.publicKey).toBe(hostKey);

		// A wrong password: the host refuses, and the supporter may try again.
		await page.fill("#host-password", "not the password");
		await page.keyboard.press("Enter");
		await page.waitForSelector("#host-auth-error:not([hidden])", { timeout: 60_000 });
		expect(await page.textContent("#host-auth-error")).toContain("refused the password");
		expect(await page.isHidden("#live")).toBe(true);
		expect(await page.inputValue("#host-password")).toBe(""); // never kept in the page
		await screenshot(page, "31-host-password-refused");
		await agent?.waitFor((e) => e.event === "auth" && e.result === "refused");

		// The right one: the host's signed verdict opens the session and its frames arrive.
		await page.fill("#host-password", HOST_PASSWORD);
		await page.click("#host-unlock");
		await page.waitForSelector("#live:not([hidden])", { timeout: 60_000 });
		await page.waitForFunction(
			() => Number(document.getElementById("screen")?.dataset.frames ?? 0) >= 2,
			undefined,
			{ timeout: 30_000 },
		);
		expect(await page.getAttribute("#screen", "data-snapshot")).toContain("pc-reception");
		expect(await page.textContent("#screen-title")).toBe("Screen of pc-reception");
		expect(await page.textContent("#status")).toContain("Password accepted");
		await screenshot(page, "32-host-live");
		// A host session speaks of the host agent, not of a customer, and of control on its desktop.
		expect(await page.textContent("#sas-hint")).toContain("the code the host agent shows");
		const note = (await page.textContent("#control-note")) ?? "";
		expect(note).toContain("act on the PC's desktop");
		// What the supporter sees (innerText leaves out hidden parts such as the admission box,
		// which never shows in a host session).
		// biome-ignore lint/performance/useDomNodeTextContent: the rendered, visible text is the point
		expect(await page.innerText("#live")).not.toMatch(/customer/i);
		expect(await page.isVisible("#admission")).toBe(false);
		await page.locator("#control-note").scrollIntoViewIfNeeded();
		await screenshot(page, "35-host-wording");

		// Ending it in the console ends it at the host too.
		await page.click("#end");
		await page.waitForSelector("#ended:not([hidden])");
		await agent?.waitFor((e) => e.event === "session.closed");
		expect(errors.flat().filter((e) => !e.includes("camera is not allowed"))).toEqual([]);
	});

	it("refuses to connect when the host's key differs from the pinned one, with no way to click through", async () => {
		const page = await staff.newPage();
		errors.push(watchErrors(page));
		await logIn(page, server.url, SUPPORTER);
		// Another key pinned for this host id, as after an impostor's or a silent re-enrolment.
		const other = "A".repeat(43);
		await page.evaluate(
			([id, key]) => {
				const pins = JSON.parse(localStorage.getItem("fernwart.hostKeys") ?? "{}");
				pins[id as string] = { publicKey: key, name: "pc-reception", pinnedAt: Date.now() };
				localStorage.setItem("fernwart.hostKeys", JSON.stringify(pins));
			},
			[hostId, other],
		);
		await page.reload();
		const row = `#hosts-table tr[data-host-id="${hostId}"]`;
		await page.waitForSelector(`${row}[data-online="true"]`);
		const sessionsBefore = agent?.events.filter((e) => e.event === "session").length ?? 0;
		await page.click(`${row} button`);
		await page.waitForSelector("#host-auth-error.alarm:not([hidden])");
		const text = (await page.textContent("#host-auth-error")) ?? "";
		expect(text).toContain("THE IDENTITY KEY OF HOST pc-reception HAS CHANGED");
		expect(text).toContain(other);
		expect(text).toContain(hostKey);
		expect(await page.isHidden("#host-auth-form")).toBe(true);
		expect(await page.isHidden("#live")).toBe(true);
		await screenshot(page, "33-host-key-changed");
		// No session was started with the host, and the pin was not replaced.
		await new Promise((r) => setTimeout(r, 500));
		expect(agent?.events.filter((e) => e.event === "session").length).toBe(sessionsBefore);
		const pins = await page.evaluate(() => localStorage.getItem("fernwart.hostKeys"));
		expect(JSON.parse(pins ?? "{}")[hostId]?.publicKey).toBe(other);
		expect(errors.flat().filter((e) => !e.includes("camera is not allowed"))).toEqual([]);
	});
	it("says so when the host locks itself after repeated wrong passwords, and ends the attempt", async () => {
		const page = await staff.newPage();
		errors.push(watchErrors(page));
		await logIn(page, server.url, SUPPORTER);
		await page.evaluate(
			([id, key]) => {
				const pins = { [id as string]: { publicKey: key, name: "pc-reception", pinnedAt: 1 } };
				localStorage.setItem("fernwart.hostKeys", JSON.stringify(pins));
			},
			[hostId, hostKey],
		);
		const row = `#hosts-table tr[data-host-id="${hostId}"]`;
		await page.waitForSelector(`${row}[data-online="true"]`);
		await page.click(`${row} button`);
		await page.waitForSelector("#host-auth-form:not([hidden])");
		// Five wrong answers in a row lock the host (modules/cli/host-auth.ts, MAX_FAILURES).
		for (let attempt = 1; attempt <= 4; attempt++) {
			await page.waitForSelector("#host-password:not([disabled])");
			await page.fill("#host-password", `wrong ${attempt}`);
			await page.click("#host-unlock");
			await agent?.waitFor(
				(e) => e.event === "auth" && e.result === "refused" && e.failures === attempt,
				30_000,
			);
		}
		await page.waitForSelector("#host-password:not([disabled])");
		await page.fill("#host-password", "wrong 5");
		await page.click("#host-unlock");
		await page.waitForSelector("#ended:not([hidden])", { timeout: 30_000 });
		const text = (await page.textContent("#ended-text")) ?? "";
		expect(text).toMatch(/locked after repeated wrong passwords\. Try again in 1:00/);
		expect(await page.isHidden("#live")).toBe(true);
		await screenshot(page, "34-host-locked");
		expect(errors.flat().filter((e) => !e.includes("camera is not allowed"))).toEqual([]);
	});
});
