import type { Browser, BrowserContext, Page } from "playwright-core";
import { Agent, WebSocket as UndiciWebSocket, fetch as undiciFetch } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiClient, type FetchLike } from "../../modules/sdk/api.ts";
import type { InputEvent } from "../../modules/sdk/index.ts";
import { SessionClient, type WebSocketLike } from "../../modules/sdk/session.ts";
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

const SUPPORTER = { email: "control-supporter@example.test", password: "supporter password 1" };
const encoder = new TextEncoder();

/** An input event as the SDK customer received it, with the grant it saw. */
interface Received {
	event: InputEvent;
	granted: boolean;
}

/** Polls `find` until it returns something (state, not time: the deadline only ends a hang). */
async function until<T>(find: () => T | undefined | null | false, what: string): Promise<T> {
	const deadline = Date.now() + 15_000;
	for (;;) {
		const found = find();
		if (found) return found;
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
		await new Promise((r) => setTimeout(r, 20));
	}
}

/**
 * Counts the binary frames the page sends per channel (byte 1 of the clear header): input is
 * channel 2, clipboard 5. This is what leaves the browser, before the relay could drop anything.
 */
function countSentFrames(): void {
	const sent: Record<number, number> = {};
	(window as unknown as { sentFrames: Record<number, number> }).sentFrames = sent;
	const original = WebSocket.prototype.send;
	WebSocket.prototype.send = function (data) {
		const bytes =
			data instanceof ArrayBuffer
				? new Uint8Array(data)
				: ArrayBuffer.isView(data)
					? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
					: null;
		const channel = bytes?.[1];
		if (bytes && bytes.length >= 14 && channel !== undefined)
			sent[channel] = (sent[channel] ?? 0) + 1;
		return original.call(this, data);
	};
}

/**
 * Window coordinates of a point of the console's picture, in fractions of it, after scrolling the
 * picture into the middle of the window (measured in the page: what the mouse events use).
 */
function pointOf(page: Page, fx: number, fy: number): Promise<readonly [number, number]> {
	return page.evaluate(
		([x, y]) => {
			const canvas = document.getElementById("screen") as HTMLCanvasElement;
			canvas.scrollIntoView({ block: "center" });
			const box = canvas.getBoundingClientRect();
			return [box.left + box.width * x, box.top + box.height * y] as const;
		},
		[fx, fy] as const,
	);
}

const sentInputFrames = (page: Page) =>
	page.evaluate(
		() => (window as unknown as { sentFrames: Record<number, number> }).sentFrames[2] ?? 0,
	);

describe.skipIf(!hasChromium)("the console controls a remote PC", () => {
	let server: TestServer;
	let browser: Browser;
	let staff: BrowserContext;
	let customerContext: BrowserContext;
	let agent: Agent;
	let fetch: FetchLike;
	const errors: string[][] = [];

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
		staff = await browser.newContext({
			ignoreHTTPSErrors: true,
			locale: "en-US",
			viewport: { width: 1280, height: 900 },
		});
		await staff.grantPermissions(["clipboard-read", "clipboard-write"], {
			origin: server.url.origin,
		});
		customerContext = await browser.newContext({
			ignoreHTTPSErrors: true,
			locale: "de-DE",
			viewport: { width: 1280, height: 900 },
		});
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

	it("sends clicks, keys, text, wheel, special keys, the screen choice and clipboard only while control stands", async () => {
		const supporter = await staff.newPage();
		errors.push(watchErrors(supporter));
		await supporter.addInitScript(countSentFrames);
		await logIn(supporter, server.url, SUPPORTER);
		const code = await issueSupportId(supporter);

		// The controlled side: the SDK as a native module would use it.
		const api = createApiClient({ baseUrl: server.url.origin, fetch });
		const joined = await api.joinSession({ code, displayName: "Rita Remote" });
		const customer = new SessionClient({
			role: "customer",
			sessionId: joined.sessionId,
			baseUrl: server.url.origin,
			webSocket: (url) => new UndiciWebSocket(url, { dispatcher: agent }) as WebSocketLike,
			ticket: joined.ticket,
			renewTicket: () => api.ticket(joined.sessionId, { resumeToken: joined.resumeToken }),
			...(joined.terms ? { termsSha256: joined.terms.sha256 } : {}),
		});
		const inputs: Received[] = [];
		const clipboard: string[] = [];
		const chat: string[] = [];
		customer.on("input", (received) => {
			inputs.push(received);
			// What an injecting module does: echo the id once the event is carried out.
			const id = "id" in received.event ? received.event.id : undefined;
			if (id !== undefined) void customer.sendScreenInfo({ t: "injected", id });
		});
		customer.on("clipboard", ({ text }) => clipboard.push(text));
		customer.on("frame", (frame) => {
			if (frame.channelName === "chat") chat.push(new TextDecoder().decode(frame.payload));
		});
		await customer.connect();
		await customer.whenReady(10_000);
		if (joined.terms) await customer.acceptTerms();
		const showing = customer.waitFor("state", (s) => s.shower === "customer");
		await customer.grantView();
		await showing;
		const sendPictures = async (count: number) => {
			for (let i = 0; i < count; i++) {
				await customer.send("screen", 1, encoder.encode(`remote desktop, picture ${i}`));
			}
		};
		await sendPictures(3);
		await supporter.waitForFunction(
			() => Number(document.getElementById("screen")?.dataset.frames ?? 0) >= 1,
		);
		const at = (fx: number, fy: number) => pointOf(supporter, fx, fy);
		const box = await supporter.locator("#screen").boundingBox();
		if (!box) throw new Error("no canvas box");
		// Fit: the picture (960×540 text snapshot) fills the viewport's width or height.
		const viewport = await supporter.locator("#viewport").boundingBox();
		expect(
			Math.abs((viewport?.width ?? 0) - box.width) < 2 ||
				Math.abs((viewport?.height ?? 0) - box.height) < 2,
		).toBe(true);

		// 1:1: one picture pixel per device pixel, the view scrolls; and back to fit.
		await supporter.click("#fit-toggle");
		expect(await supporter.getAttribute("#fit-toggle", "aria-pressed")).toBe("true");
		const actual = await supporter.$eval("#viewport", (v) => {
			const canvas = document.getElementById("screen") as HTMLCanvasElement;
			const box = canvas.getBoundingClientRect();
			return {
				scrolls: getComputedStyle(v).overflow,
				width: box.width * devicePixelRatio,
				pixels: canvas.width,
			};
		});
		expect(actual).toEqual({ scrolls: "auto", width: actual.pixels, pixels: 960 });
		await supporter.click("#fit-toggle");
		expect(await supporter.getAttribute("#fit-toggle", "aria-pressed")).toBe("false");
		// Full screen holds the picture and its tools, and leaves again.
		await supporter.click("#fullscreen");
		// The page's own state, which follows the fullscreenchange event (not the bare API).
		await supporter.waitForSelector('#fullscreen[aria-pressed="true"]');
		expect(await supporter.evaluate(() => document.fullscreenElement?.id)).toBe("stage");
		expect(await supporter.textContent("#fullscreen")).toBe("Leave full screen");
		await supporter.click("#fullscreen");
		await supporter.waitForSelector('#fullscreen[aria-pressed="false"]');
		expect(await supporter.evaluate(() => document.fullscreenElement)).toBeNull();
		expect(await supporter.textContent("#fullscreen")).toBe("Full screen");

		// Without the grant: no tools, and clicks, keys and wheel send nothing.
		expect(await supporter.isHidden("#control-tools")).toBe(true);
		expect(await supporter.isHidden("#clipboard")).toBe(true);
		await supporter.mouse.click(...(await at(0.5, 0.5)));
		await supporter.keyboard.type("no");
		await supporter.mouse.wheel(0, 100);
		// A chat message leaves behind anything queued before it: once it arrived, nothing was sent.
		await supporter.fill("#chat-input", "marker before the grant");
		await supporter.click("#chat-send");
		await until(() => chat.some((c) => c.includes("marker before")), "the first chat marker");
		expect(await sentInputFrames(supporter)).toBe(0);
		expect(inputs).toEqual([]);

		// The grant.
		const requested = customer.waitFor("control", (c) => c.message.type === "control.request");
		await supporter.click("#request-control");
		await requested;
		await customer.grantControl();
		await supporter.waitForSelector("#screen.controlled");
		await supporter.waitForSelector("#control-tools:not([hidden])");

		// Screen info from the controlled side: two displays and its cursor.
		await customer.sendScreenInfo({
			t: "displays",
			displays: [
				{ index: 0, name: "DP-1", width: 1920, height: 1080, primary: true },
				{ index: 1, name: "HDMI-1", width: 1280, height: 1024, primary: false },
			],
			current: null,
		});
		await customer.sendScreenInfo({ t: "cursor", x: 0.5, y: 0.25 });
		await supporter.waitForSelector("#display-field:not([hidden])");
		expect(await supporter.locator("#display-select option").allTextContents()).toEqual([
			"All screens",
			"1: DP-1 (1920×1080) (main screen)",
			"2: HDMI-1 (1280×1024)",
		]);
		await supporter.waitForSelector("#remote-cursor:not([hidden])");
		expect(await supporter.$eval("#remote-cursor", (c) => (c as HTMLElement).style.left)).toBe(
			"50%",
		);
		expect(await supporter.$eval("#remote-cursor", (c) => (c as HTMLElement).style.top)).toBe(
			"25%",
		);

		// A click at a known place: normalised to the picture, not to the page.
		await supporter.evaluate(() => {
			const seen: boolean[] = [];
			(window as unknown as { menus: boolean[] }).menus = seen;
			window.addEventListener("contextmenu", (e) => seen.push(e.defaultPrevented));
		});
		await supporter.mouse.click(...(await at(0.25, 0.75)));
		const down = await until(
			() => inputs.find((r) => r.event.t === "pointer" && r.event.kind === "down"),
			"pointer down",
		);
		const up = await until(
			() => inputs.find((r) => r.event.t === "pointer" && r.event.kind === "up"),
			"pointer up",
		);
		for (const received of [down, up]) {
			if (received.event.t !== "pointer") throw new Error("not a pointer event");
			expect(received.granted).toBe(true);
			expect(received.event.button).toBe(0);
			expect(received.event.x).toBeCloseTo(0.25, 2);
			expect(received.event.y).toBeCloseTo(0.75, 2);
			expect(received.event.id).toBeTypeOf("number");
		}
		// The right button, with the browser's own menu suppressed on the picture.
		await supporter.mouse.click(...(await at(0.6, 0.4)), { button: "right" });
		const right = await until(
			() => inputs.find((r) => r.event.t === "pointer" && r.event.button === 2),
			"right button",
		);
		if (right.event.t !== "pointer") throw new Error("not a pointer event");
		expect(right.event.x).toBeCloseTo(0.6, 2);
		expect(
			await supporter.evaluate(() => (window as unknown as { menus: boolean[] }).menus),
		).toEqual([true]);

		// The click gave the keyboard to the remote PC, and the page says so.
		await supporter.waitForSelector("#keyboard-state.on");
		expect(await supporter.evaluate(() => document.activeElement?.id)).toBe("keyboard-sink");
		expect(await supporter.textContent("#keyboard-state")).toContain(
			"Keyboard goes to the remote PC",
		);
		await screenshot(supporter, "70-console-controlling");
		await supporter.keyboard.press("Shift+KeyH");
		await supporter.keyboard.press("KeyI");
		await until(
			() =>
				inputs.find((r) => r.event.t === "key" && r.event.code === "KeyI" && r.event.kind === "up"),
			"key i up",
		);
		const keys = inputs.flatMap((r) => (r.event.t === "key" ? [r.event] : []));
		expect(keys.map((k) => `${k.kind} ${k.code} ${k.key} ${(k.mods ?? []).join("+")}`)).toEqual([
			"down ShiftLeft Shift Shift",
			"down KeyH H Shift",
			"up KeyH H Shift",
			"up ShiftLeft Shift ",
			"down KeyI i ",
			"up KeyI i ",
		]);

		// Text without keys (IME commits, virtual keyboards): the `text` event.
		await supporter.keyboard.insertText("üß€");
		await supporter.$eval("#keyboard-sink", (sink) =>
			sink.dispatchEvent(new CompositionEvent("compositionend", { data: "日本語" })),
		);
		await until(
			() => inputs.find((r) => r.event.t === "text" && r.event.text === "日本語"),
			"IME text",
		);
		expect(inputs.flatMap((r) => (r.event.t === "text" ? [r.event.text] : []))).toEqual([
			"üß€",
			"日本語",
		]);

		// The wheel, where the pointer is.
		await supporter.mouse.move(...(await at(0.5, 0.5)));
		await supporter.mouse.wheel(0, 120);
		const wheel = await until(() => inputs.find((r) => r.event.t === "wheel"), "wheel");
		if (wheel.event.t !== "wheel") throw new Error("not a wheel event");
		expect(wheel.event).toMatchObject({ dx: 0, dy: 120, mode: "pixel" });
		expect(wheel.event.x).toBeCloseTo(0.5, 2);
		expect(wheel.event.y).toBeCloseTo(0.5, 2);

		// A special key from the menu, and the screen choice.
		await supporter.click("#special-keys summary");
		await screenshot(supporter, "71-console-special-keys");
		await supporter.click('button[data-special="ctrl-alt-del"]');
		await until(
			() => inputs.find((r) => r.event.t === "special" && r.event.name === "ctrl-alt-del"),
			"ctrl-alt-del",
		);
		await supporter.selectOption("#display-select", "1");
		await until(
			() => inputs.find((r) => r.event.t === "display" && r.event.index === 1),
			"display 1",
		);

		// Clipboard: my clipboard, the paste box, and text from the remote PC.
		await supporter.evaluate(() => navigator.clipboard.writeText("copied on the console PC"));
		await supporter.click("#clipboard-send");
		await until(() => clipboard.includes("copied on the console PC"), "clipboard text");
		await supporter.fill("#clipboard-text", "pasted by hand");
		await supporter.click("#clipboard-send-text");
		await until(() => clipboard.includes("pasted by hand"), "pasted text");
		expect(clipboard).toEqual(["copied on the console PC", "pasted by hand"]);
		await customer.sendClipboard("from the remote PC");
		await supporter.waitForFunction(
			() =>
				(document.getElementById("clipboard-remote") as HTMLTextAreaElement).value ===
				"from the remote PC",
		);
		await supporter.click("#clipboard-copy");
		expect(await supporter.evaluate(() => navigator.clipboard.readText())).toBe(
			"from the remote PC",
		);

		// The readout: a round trip from the `injected` echoes, frames per second from pictures.
		await supporter.waitForSelector("#readout[data-latency-ms]");
		await sendPictures(8);
		await supporter.waitForFunction(
			() => Number(document.getElementById("readout")?.dataset.fps ?? 0) >= 1,
		);
		const readout = (await supporter.textContent("#readout")) ?? "";
		expect(readout).toMatch(/^\d+ fps · \d+ ms$/);
		console.log(`console readout after the echoes: ${readout}`);

		// The controlled side says it cannot carry input out.
		await customer.sendScreenInfo({
			t: "input-unavailable",
			reason: "failed",
			message: "XTest went away",
		});
		await supporter.waitForSelector("#input-unavailable:not([hidden])");
		expect(await supporter.textContent("#input-unavailable")).toBe(
			"Input failed on the remote PC: XTest went away",
		);
		await screenshot(supporter, "72-console-input-failed");

		// The escape: Ctrl+Alt+Shift gives the keyboard back; keys then stay here.
		await supporter.mouse.click(...(await at(0.9, 0.9)));
		await supporter.waitForSelector("#keyboard-state.on");
		const before = inputs.length;
		await supporter.keyboard.press("Control+Alt+Shift");
		await supporter.waitForSelector("#keyboard-state:not(.on)");
		expect(await supporter.evaluate(() => document.activeElement?.id)).toBe("keyboard-toggle");
		await supporter.keyboard.press("x");
		await supporter.keyboard.press("Enter"); // on the focused button: captures again
		await supporter.waitForSelector("#keyboard-state.on");
		await supporter.keyboard.press("y");
		await until(
			() => inputs.find((r) => r.event.t === "key" && r.event.key === "y" && r.event.kind === "up"),
			"key y up",
		);
		const afterEscape = inputs.slice(before).flatMap((r) => (r.event.t === "key" ? [r.event] : []));
		expect(afterEscape.some((k) => k.key === "x")).toBe(false);
		// Ctrl and Alt went down before the third key; the release let them up on the remote PC.
		expect(afterEscape.map((k) => `${k.kind} ${k.key}`)).toEqual([
			"down Control",
			"down Alt",
			"up Control",
			"up Alt",
			"down y",
			"up y",
		]);
		// Tab leaves the view: keyboard users are not trapped in it.
		await supporter.keyboard.press("Tab");
		expect(await supporter.evaluate(() => document.activeElement?.id)).not.toBe("keyboard-sink");

		// Revoked: tools gone, and nothing leaves the page any more.
		await customer.revokeControl();
		await supporter.waitForSelector("#screen:not(.controlled)");
		await supporter.waitForSelector("#control-tools", { state: "hidden" });
		expect(await supporter.isHidden("#clipboard")).toBe(true);
		const sentBefore = await sentInputFrames(supporter);
		const receivedBefore = inputs.length;
		await supporter.mouse.click(...(await at(0.3, 0.3)));
		await supporter.keyboard.type("after");
		await supporter.mouse.wheel(0, 50);
		await supporter.fill("#chat-input", "marker after the revoke");
		await supporter.click("#chat-send");
		await until(() => chat.some((c) => c.includes("marker after")), "the second chat marker");
		expect(await sentInputFrames(supporter)).toBe(sentBefore);
		expect(inputs.length).toBe(receivedBefore);
		expect(inputs.every((r) => r.granted)).toBe(true);

		customer.close();
		await supporter.close();
	});

	it("a browser customer is offered the native module, shows the pointer and exchanges clipboard text", async () => {
		const supporter = await staff.newPage();
		errors.push(watchErrors(supporter));
		await logIn(supporter, server.url, SUPPORTER);
		const code = await issueSupportId(supporter);
		const customer = await customerContext.newPage();
		errors.push(watchErrors(customer));
		await joinAndAcceptTerms(customer, server.url, code);
		await customer.waitForSelector("#share:not([disabled])");
		await customer.click("#share");
		await customer.waitForSelector("#ind-viewing:not([hidden])");
		await supporter.waitForFunction(
			() => Number(document.getElementById("screen")?.dataset.frames ?? 0) >= 1,
		);

		await supporter.click("#request-control");
		await customer.waitForSelector("#consent[open]");
		// The page explains that a browser cannot be controlled, and how the module can.
		await customer.waitForSelector("#native-offer:not([hidden])");
		expect(await customer.textContent("#native-command")).toBe(
			`npm run fernwart -- join NEUE-ID --url ${server.url.origin} --capture x11`,
		);
		await screenshot(customer, "73-customer-native-offer");
		await customer.click("#consent-allow");
		await supporter.waitForSelector("#screen.controlled");
		// The console hears that this side shows a marker only.
		await supporter.waitForSelector('#input-unavailable[data-reason="unsupported"]:not([hidden])');
		expect(await supporter.textContent("#input-unavailable")).toContain(
			"The remote PC cannot carry out input",
		);

		// The marker follows the pointer and the wheel; keys have nothing to show.
		await supporter.mouse.move(...(await pointOf(supporter, 0.2, 0.3)));
		await customer.waitForSelector("#pointer:not([hidden])");
		await supporter.mouse.move(...(await pointOf(supporter, 0.7, 0.6)));
		await supporter.mouse.wheel(0, 100);
		await customer.waitForFunction(
			() => document.getElementById("pointer")?.style.left.startsWith("70") === true,
		);

		// Clipboard text both ways, by explicit buttons.
		await customer.fill("#clipboard-text", "Kundentext");
		await customer.click("#clipboard-send-text");
		await supporter.waitForFunction(
			() =>
				(document.getElementById("clipboard-remote") as HTMLTextAreaElement).value === "Kundentext",
		);
		await supporter.fill("#clipboard-text", "text for the customer");
		await supporter.click("#clipboard-send-text");
		await customer.waitForFunction(
			() =>
				(document.getElementById("clipboard-remote") as HTMLTextAreaElement).value ===
				"text for the customer",
		);
		expect(await customer.textContent("#clipboard-status")).toContain("Zeichen empfangen");
		await screenshot(customer, "74-customer-clipboard");
		await screenshot(supporter, "75-console-browser-customer");

		await customer.keyboard.press("Alt+Shift+S");
		await supporter.waitForSelector("#ended:not([hidden])");
		await supporter.close();
		await customer.close();
		expect(errors.flat().filter((e) => !e.includes("camera is not allowed"))).toEqual([]);
	});
});
