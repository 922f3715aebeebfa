/**
 * The whole remote-control path as a supporter uses it: the console in Chromium controls an
 * unattended host agent whose desktop is an Xvfb display. A click on the console's picture lands
 * on the right pixel of an X client there, typed keys arrive as those keys, and a special key
 * from the menu arrives as its key sequence. Needs Debian's xvfb and ffmpeg (.ci/run installs
 * them); on CI a missing tool fails, elsewhere the file is skipped with one line.
 */
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findExecutable } from "../../modules/cli/host-capture.ts";
import { ADMIN, createUserAs, mustLogin } from "../helpers/auth.ts";
import { hasChromium, launchChromium, logIn, screenshot, watchErrors } from "../helpers/browser.ts";
import { enrollHost, JsonProcess } from "../helpers/hosts.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { startXvfb, XObserver, type Xvfb } from "../helpers/xdisplay.ts";

const TOOLS = ["Xvfb", "ffmpeg"];
const missing = TOOLS.filter((t) => !findExecutable(t, process.env.PATH));
if (missing.length > 0 && process.env.CI === "true") {
	throw new Error(`${missing.join(", ")} not found: required on CI (apt-get install xvfb ffmpeg)`);
}
if (missing.length > 0) console.warn(`${missing.join(", ")} not found: agent control e2e skipped`);

const SUPPORTER = {
	email: "controller@example.test",
	password: "supporter password 1",
	groups: ["desk"],
};
const HOST_PASSWORD = "Wartung-2026-red-lamp";
/** X keysyms (X11 keysymdef.h) of what the test types and of Ctrl+Alt+Del. */
const KEYSYM = { h: 0x68, i: 0x69, controlL: 0xffe3, altL: 0xffe9, delete: 0xffff } as const;

describe.skipIf(!hasChromium || missing.length > 0)(
	"the console controls a host agent's X desktop",
	() => {
		let server: TestServer;
		let xvfb: Xvfb;
		let observer: XObserver;
		let agent: JsonProcess | null = null;
		let browser: Browser;
		let hostId = "";

		beforeAll(async () => {
			[server, xvfb] = await Promise.all([startServer(), startXvfb(400, 300)]);
			observer = await XObserver.open(xvfb.display);
			const admin = await mustLogin(server, ADMIN);
			await createUserAs(server, admin.accessToken, { ...SUPPORTER, role: "supporter" });
			const supporter = await mustLogin(server, SUPPORTER);
			const enrolled = await enrollHost(server, supporter.accessToken, {
				group: "desk",
				name: "pc-xvfb",
				password: HOST_PASSWORD,
			});
			hostId = enrolled.hostId;
			agent = new JsonProcess(
				["host", "run", "--config", enrolled.config, "--capture", "x11", "--json"],
				{ DISPLAY: xvfb.display },
			);
			await agent.waitFor((e) => e.event === "online");
			browser = await launchChromium();
		});

		afterAll(async () => {
			agent?.kill("SIGKILL");
			await browser?.close();
			observer?.close();
			xvfb?.stop();
			await server?.stop();
		});

		it("clicks at the right pixel, types, and sends Ctrl+Alt+Del from the menu", async () => {
			const context = await browser.newContext({
				ignoreHTTPSErrors: true,
				locale: "en-US",
				viewport: { width: 1280, height: 900 },
			});
			const page = await context.newPage();
			const errors = watchErrors(page);
			await logIn(page, server.url, SUPPORTER);
			const row = `#hosts-table tr[data-host-id="${hostId}"]`;
			await page.waitForSelector(`${row}[data-online="true"]`, { timeout: 30_000 });
			await page.click(`${row} button`);
			await page.waitForSelector("#host-auth-form:not([hidden])");
			await page.fill("#host-password", HOST_PASSWORD);
			await page.click("#host-unlock");
			await page.waitForSelector("#live:not([hidden])", { timeout: 60_000 });
			// The agent's real screen (ffmpeg x11grab), not a text snapshot.
			await page.waitForFunction(
				() => Number(document.getElementById("screen")?.dataset.frames ?? 0) >= 2,
				undefined,
				{ timeout: 30_000 },
			);
			// The group's default policy lets the agent grant control without anyone at the PC.
			await page.click("#request-control");
			await page.waitForSelector("#control-tools:not([hidden])", { timeout: 30_000 });
			await agent?.waitFor((e) => e.event === "control.active");

			// A click at 50 % × 75 % of the picture is a click at (200, 224) on the 400×300 display.
			const pressed = observer.next((e) => e.type === "down");
			const [x, y] = await page.evaluate(() => {
				const canvas = document.getElementById("screen") as HTMLCanvasElement;
				canvas.scrollIntoView({ block: "center" });
				const box = canvas.getBoundingClientRect();
				return [box.left + box.width * 0.5, box.top + box.height * 0.75] as const;
			});
			await page.mouse.click(x, y);
			const click = await pressed;
			expect(click.detail).toBe(1);
			expect(Math.abs(click.x - 200)).toBeLessThanOrEqual(2);
			expect(Math.abs(click.y - 224)).toBeLessThanOrEqual(2);

			// The click gave the keyboard to the remote PC: typed keys arrive as those keys.
			await page.waitForSelector("#keyboard-state.on");
			const from = observer.events.length;
			const typedI = observer.next((e) => e.type === "key" && e.keysym === KEYSYM.i);
			await page.keyboard.press("KeyH");
			await page.keyboard.press("KeyI");
			await typedI;
			expect(observer.typed(from)).toBe("hi");
			await screenshot(page, "76-console-controls-agent");

			// Ctrl+Alt+Del from the special-keys menu: the three keys, in order, on the X display.
			const deleted = observer.next((e) => e.type === "key" && e.keysym === KEYSYM.delete);
			const before = observer.events.length;
			await page.click("#special-keys summary");
			await page.click('button[data-special="ctrl-alt-del"]');
			await deleted;
			const pressedKeys = observer.events
				.slice(before)
				.filter((e) => e.type === "key")
				.map((e) => e.keysym);
			expect(pressedKeys).toEqual([KEYSYM.controlL, KEYSYM.altL, KEYSYM.delete]);
			expect(errors.filter((e) => !e.includes("camera is not allowed"))).toEqual([]);
			await context.close();
		}, 120_000);
	},
);
