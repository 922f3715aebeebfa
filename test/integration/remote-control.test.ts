/**
 * Remote control on a real X display: the supporter's SDK sends input through the real server,
 * the customer's native-module code (attachDesktop, as `join --capture x11` runs it) injects it
 * into Xvfb, and an X client on that display records what arrives. Nothing may arrive without a
 * grant, after the customer's revoke or after STOP. Needs Debian's `xvfb` and `xclip` (.ci/run
 * installs them): on CI a missing tool fails, elsewhere the file is skipped with one line.
 */
import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Agent, WebSocket as UndiciWebSocket, fetch as undiciFetch } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Output } from "../../modules/cli/common.ts";
import { attachDesktop, planInput } from "../../modules/cli/desktop/control.ts";
import { findExecutable } from "../../modules/cli/host-capture.ts";
import { createApiClient, type FetchLike } from "../../modules/sdk/api.ts";
import { type ScreenInfo, SessionClient } from "../../modules/sdk/index.ts";
import { encodeJson } from "../../protocol/input.ts";
import { ADMIN } from "../helpers/auth.ts";
import { caFile, JsonProcess } from "../helpers/hosts.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { startXvfb, XObserver, type Xvfb } from "../helpers/xdisplay.ts";

const TOOLS = ["Xvfb", "xclip", "ffmpeg", "xdotool", "xwininfo"];
const missing = TOOLS.filter((t) => !findExecutable(t, process.env.PATH));
const MISSING_LINE = `${missing.join(", ")} not found: apt-get install xvfb xclip ffmpeg xdotool x11-utils (remote control test skipped)`;
if (missing.length > 0 && process.env.CI === "true") {
	throw new Error(MISSING_LINE.replace("skipped", "required on CI"));
}
if (missing.length > 0) console.warn(MISSING_LINE);
const execFileAsync = promisify(execFile);

describe.skipIf(missing.length > 0)("remote control of an X display", () => {
	let server: TestServer;
	let xvfb: Xvfb;
	let observer: XObserver;
	let agent: Agent;
	let fetch: FetchLike;

	beforeAll(async () => {
		[server, xvfb] = await Promise.all([startServer(), startXvfb(320, 240)]);
		observer = await XObserver.open(xvfb.display);
		agent = new Agent({ connect: { ca: server.ca } });
		fetch = (url, init) => undiciFetch(url, { ...init, dispatcher: agent });
	});

	afterAll(async () => {
		observer?.close();
		xvfb?.stop();
		await agent?.close();
		await server?.stop();
	});

	/** A supporter SDK and a customer SDK with the native module's desktop attached. */
	async function openControlled(env: NodeJS.ProcessEnv = { DISPLAY: xvfb.display }) {
		const origin = server.url.origin;
		const supporterApi = createApiClient({ baseUrl: origin, fetch });
		await supporterApi.login(ADMIN);
		const created = await supporterApi.createSession({ view: "customer", requireTerms: false });
		const customerApi = createApiClient({ baseUrl: origin, fetch });
		const joined = await customerApi.joinSession({ code: created.code, displayName: "Carla" });
		const ws = (url: string) => new UndiciWebSocket(url, { dispatcher: agent });
		const supporter = new SessionClient({
			role: "supporter",
			sessionId: created.sessionId,
			baseUrl: origin,
			webSocket: ws,
			renewTicket: () => supporterApi.ticket(created.sessionId),
		});
		const customer = new SessionClient({
			role: "customer",
			sessionId: joined.sessionId,
			baseUrl: origin,
			webSocket: ws,
			ticket: joined.ticket,
			renewTicket: () => customerApi.ticket(joined.sessionId, { resumeToken: joined.resumeToken }),
		});
		const log: Record<string, unknown>[] = [];
		const out = new Output(true, (t) => {
			for (const line of t.split("\n").filter(Boolean)) log.push(JSON.parse(line));
		});
		const desktop = await attachDesktop({
			session: customer,
			input: planInput(env, "linux"),
			capture: { mode: "none", reason: "not needed here", requested: true },
			out,
			name: "Carla",
			supporterName: () => "Sam Supporter",
			socket: () => null,
		});
		const info: ScreenInfo[] = [];
		supporter.on("screenInfo", (i) => info.push(i));
		const chats: string[] = [];
		customer.on("frame", (f) => {
			if (f.channelName === "chat") chats.push(new TextDecoder().decode(f.payload));
		});
		await Promise.all([supporter.connect(), customer.connect()]);
		await Promise.all([supporter.whenReady(10_000), customer.whenReady(10_000)]);
		const active =
			customer.state?.phase === "active"
				? customer.state
				: await customer.waitFor("state", (s) => s.phase === "active");
		if (active.admission?.status === "waiting") await supporter.admit();
		await customer
			.waitFor("state", (s) => s.admission?.status !== "waiting", 10_000)
			.catch(() => {});
		// The customer shows its screen (the session was created with view: "customer").
		if (customer.state?.shower !== "customer") {
			const shown = supporter.waitFor("state", (s) => s.shower === "customer");
			await customer.grantView();
			await shown;
		}
		/** A chat marker sent right behind frames that must be dropped: when it arrives, they had their chance. */
		const marker = async (text: string) => {
			await supporter.send("chat", 0, new TextEncoder().encode(text));
			for (let i = 0; i < 200 && !chats.includes(text); i++)
				await new Promise((r) => setTimeout(r, 25));
			expect(chats).toContain(text);
			await desktop.control.idle;
			await new Promise((r) => setTimeout(r, 100)); // X events from anything injected reach the observer
		};
		const grant = async () => {
			const granted = supporter.waitFor("state", (s) => s.controller === "supporter");
			await supporter.requestControl();
			await customer.waitFor("control", (c) => c.message.type === "control.request");
			await customer.grantControl();
			await granted;
			if (!desktop.control.granted)
				await customer.waitFor("state", (s) => s.controller === "supporter");
		};
		/** Input sent as the raw frame, past the SDK's own grant check: only the relay and the module stand in the way. */
		const rawInput = (event: unknown) => supporter.send("input", 1, encodeJson(event));
		return { supporter, customer, desktop, info, log, marker, grant, rawInput };
	}

	it("injects a click, typed text and keys at the right place, and nothing without a grant, after revoke or after STOP", async () => {
		const s = await openControlled();
		const { supporter, customer } = s;

		// Without a grant the SDK refuses, and a raw frame is dropped by the relay.
		await expect(
			supporter.sendInput({ t: "pointer", kind: "down", x: 0.5, y: 0.5, button: 0 }),
		).rejects.toThrow();
		const before = observer.events.length;
		await s.rawInput({ t: "pointer", kind: "down", x: 0.5, y: 0.5, button: 0 });
		await s.rawInput({ t: "text", text: "no" });
		await s.marker("m1");
		expect(observer.events.slice(before)).toEqual([]);

		await s.grant();
		const displays = s.info.find((i) => i.t === "displays");
		expect(displays).toMatchObject({
			t: "displays",
			current: null,
			displays: [{ index: 0, width: 320, height: 240 }],
		});

		// Choosing a display: one that exists is confirmed, one that does not is ignored.
		const chosen = supporter.waitFor("screenInfo", (i) => i.t === "displays" && i.current === 0);
		await supporter.sendInput({ t: "display", index: 0 });
		await chosen;
		await supporter.sendInput({ t: "display", index: 5 });
		const all = supporter.waitFor("screenInfo", (i) => i.t === "displays" && i.current === null);
		await supporter.sendInput({ t: "display", index: null });
		await all;
		expect(
			s.info.filter((i) => i.t === "displays").map((i) => i.t === "displays" && i.current),
		).toEqual([null, 0, null]);

		// A click at a quarter across, two thirds down: pixel (80, 159) of 320×240.
		const injected = supporter.waitFor("screenInfo", (i) => i.t === "injected" && i.id === 7);
		const down = observer.next((e) => e.type === "down");
		const up = observer.next((e) => e.type === "up");
		await supporter.sendInput({ t: "pointer", kind: "move", x: 0.25, y: 2 / 3, button: 0 });
		await supporter.sendInput({ t: "pointer", kind: "down", x: 0.25, y: 2 / 3, button: 0 });
		await supporter.sendInput({ t: "pointer", kind: "up", x: 0.25, y: 2 / 3, button: 0, id: 7 });
		await injected;
		expect(await down).toMatchObject({ detail: 1, x: 80, y: 159 });
		expect(await up).toMatchObject({ detail: 1, x: 80, y: 159 });
		// Right button and the wheel (three lines down = three clicks of button 5).
		const right = observer.next((e) => e.type === "down" && e.detail === 3);
		await supporter.sendInput({ t: "pointer", kind: "down", x: 1, y: 1, button: 2 });
		await supporter.sendInput({ t: "pointer", kind: "up", x: 1, y: 1, button: 2 });
		expect(await right).toMatchObject({ x: 319, y: 239 });
		const wheelFrom = observer.events.length;
		const wheeled = supporter.waitFor("screenInfo", (i) => i.t === "injected" && i.id === 8);
		await supporter.sendInput({ t: "wheel", x: 0.5, y: 0.5, dx: 0, dy: 3, mode: "line", id: 8 });
		await wheeled;
		await new Promise((r) => setTimeout(r, 100));
		expect(
			observer.events
				.slice(wheelFrom)
				.filter((e) => e.type === "down")
				.map((e) => e.detail),
		).toEqual([5, 5, 5]);

		// Typed text, with characters a US layout does not have.
		const from = observer.events.length;
		const typed = supporter.waitFor("screenInfo", (i) => i.t === "injected" && i.id === 9);
		await supporter.sendInput({ t: "text", text: "Hallo Wörld €1", id: 9 });
		await typed;
		for (let i = 0; i < 100 && observer.typed(from) !== "Hallo Wörld €1"; i++)
			await new Promise((r) => setTimeout(r, 20));
		expect(observer.typed(from)).toBe("Hallo Wörld €1");

		// Keys by code (the physical key: KeyZ is z on a US layout) and by key only.
		const keysFrom = observer.events.length;
		const keyed = supporter.waitFor("screenInfo", (i) => i.t === "injected" && i.id === 10);
		await supporter.sendInput({ t: "key", kind: "down", key: "y", code: "KeyZ" });
		await supporter.sendInput({ t: "key", kind: "up", key: "y", code: "KeyZ" });
		await supporter.sendInput({ t: "key", kind: "down", key: "ß", code: "" });
		await supporter.sendInput({ t: "key", kind: "up", key: "ß", code: "" });
		await supporter.sendInput({ t: "key", kind: "down", key: "Enter", code: "Enter", id: 10 });
		await supporter.sendInput({ t: "key", kind: "up", key: "Enter", code: "Enter" });
		await keyed;
		await new Promise((r) => setTimeout(r, 100));
		const keys = observer.events.slice(keysFrom).filter((e) => e.type === "key");
		expect(keys.map((e) => e.keysym)).toEqual([0x7a, 0xdf, 0xff0d]);
		expect(keys.map((e) => e.detail)[0]).toBe(52);

		// A special sequence: Alt+F4 as two presses and two releases.
		const specialFrom = observer.events.length;
		const special = supporter.waitFor("screenInfo", (i) => i.t === "injected" && i.id === 11);
		await supporter.sendInput({ t: "special", name: "alt-f4", id: 11 });
		await special;
		await new Promise((r) => setTimeout(r, 100));
		expect(observer.events.slice(specialFrom).map((e) => `${e.type}:${e.detail}`)).toEqual([
			"key:64",
			"key:70",
			"keyup:70",
			"keyup:64",
		]);

		// The indicator is on the display while control stands.
		const tree = await execFileAsync("xwininfo", ["-root", "-tree"], {
			env: { ...process.env, DISPLAY: xvfb.display },
		}).catch(() => null);
		if (tree) expect(tree.stdout).toContain("Fernwart remote control");

		// A held button is released when the customer revokes; after it nothing arrives.
		const released = observer.next((e) => e.type === "up" && e.detail === 1);
		await supporter.sendInput({ t: "pointer", kind: "down", x: 0.5, y: 0.5, button: 0, id: 12 });
		await supporter.waitFor("screenInfo", (i) => i.t === "injected" && i.id === 12);
		const revoked = supporter.waitFor("state", (st) => st.controller === null);
		await customer.revokeControl();
		await revoked;
		await released;
		const afterRevoke = observer.events.length;
		await s.rawInput({ t: "pointer", kind: "down", x: 0.1, y: 0.9, button: 0 });
		await s.rawInput({ t: "text", text: "revoked" });
		await s.marker("m2");
		expect(observer.events.slice(afterRevoke)).toEqual([]);
		expect(s.desktop.control.granted).toBe(false);

		// Granted again, then STOP: the session ends and nothing arrives.
		await s.grant();
		const ended = supporter.waitFor("end", () => true);
		await customer.stop();
		await ended;
		const afterStop = observer.events.length;
		await s.rawInput({ t: "text", text: "stopped" }).catch(() => {});
		await new Promise((r) => setTimeout(r, 300));
		expect(observer.events.slice(afterStop)).toEqual([]);
		supporter.close();
		customer.close();
		await s.desktop.close();
		expect(s.log.some((e) => e.event === "control.active")).toBe(true);
	}, 40_000);

	it("ends remote access when the person at the PC clicks STOP on the red bar", async () => {
		const s = await openControlled();
		await s.grant();
		const env = { ...process.env, DISPLAY: xvfb.display };
		// The bar: its geometry from the X server, as a person would see it on the screen.
		const info = await execFileAsync("xwininfo", ["-name", "Fernwart remote control"], { env });
		const num = (label: string) =>
			Number(new RegExp(`${label}:\\s+(-?\\d+)`).exec(info.stdout)?.[1]);
		const [x, y, w, h] = [
			num("Absolute upper-left X"),
			num("Absolute upper-left Y"),
			num("Width"),
			num("Height"),
		];
		expect(y).toBe(0);
		expect(w).toBeGreaterThan(100);
		const ended = s.supporter.waitFor("end", () => true);
		// A click on the bar's text does nothing; STOP is its right end.
		await execFileAsync("xdotool", ["mousemove", String(x + 10), String(y + h / 2), "click", "1"], {
			env,
		});
		await s.marker("bar");
		expect(s.customer.state?.phase).toBe("active");
		await execFileAsync(
			"xdotool",
			["mousemove", String(x + w - 20), String(y + h / 2), "click", "1"],
			{ env },
		);
		expect(await ended).toMatchObject({ reason: "stopped", by: "customer" });
		expect(s.log.find((e) => e.event === "stop.local")).toMatchObject({ via: "button" });
		s.supporter.close();
		s.customer.close();
		await s.desktop.close();
	});

	it("says clearly on Wayland that input cannot work, and injects nothing", async () => {
		const s = await openControlled({ WAYLAND_DISPLAY: "wayland-0", XDG_SESSION_TYPE: "wayland" });
		const told = s.supporter.waitFor("screenInfo", (i) => i.t === "input-unavailable");
		await s.grant();
		const notice = await told;
		expect(notice).toMatchObject({ t: "input-unavailable", reason: "unsupported" });
		expect(notice.t === "input-unavailable" && notice.message).toContain("Wayland");
		const before = observer.events.length;
		await s.supporter.sendInput({ t: "pointer", kind: "down", x: 0.5, y: 0.5, button: 0, id: 1 });
		await s.marker("w1");
		expect(observer.events.slice(before)).toEqual([]);
		expect(s.info.some((i) => i.t === "injected")).toBe(false);
		expect(s.log.find((e) => e.event === "control.active")).toMatchObject({ injection: "none" });
		s.supporter.close();
		s.customer.close();
		await s.desktop.close();
	});

	it("lets `join --capture x11` share the display and be controlled", async () => {
		const origin = server.url.origin;
		const supporterApi = createApiClient({ baseUrl: origin, fetch });
		await supporterApi.login(ADMIN);
		const created = await supporterApi.createSession({ view: "customer", requireTerms: false });
		const home = mkdtempSync(join(tmpdir(), "fernwart-join-"));
		const customer = new JsonProcess(
			[
				"join",
				created.code,
				"--url",
				origin,
				"--ca",
				caFile(server),
				"--trust-file",
				join(home, "known.json"),
				"--grant-view",
				"--grant-control",
				"--capture",
				"x11",
				"--json",
			],
			{ DISPLAY: xvfb.display, HOME: home },
		);
		try {
			await customer.waitFor((e) => e.event === "input" && e.mode === "x11");
			const supporter = new SessionClient({
				role: "supporter",
				sessionId: created.sessionId,
				baseUrl: origin,
				webSocket: (url) => new UndiciWebSocket(url, { dispatcher: agent }),
				renewTicket: () => supporterApi.ticket(created.sessionId),
			});
			const jpegs: Uint8Array[] = [];
			supporter.on("frame", (f) => {
				if (f.channelName === "screen" && f.stream === 1) jpegs.push(f.payload);
			});
			const displays = supporter.waitFor("screenInfo", (i) => i.t === "displays", 20_000);
			await supporter.connect();
			await supporter.whenReady(20_000);
			const active =
				supporter.state?.phase === "active"
					? supporter.state
					: await supporter.waitFor("state", (st) => st.phase === "active");
			if (active.admission?.status === "waiting") await supporter.admit();
			if (supporter.state?.shower !== "customer") {
				const shown = supporter.waitFor("state", (st) => st.shower === "customer", 20_000);
				await supporter.requestView();
				await shown;
			}
			expect(await displays).toMatchObject({
				current: null,
				displays: [{ width: 320, height: 240 }],
			});
			const controlling = supporter.waitFor("state", (st) => st.controller === "supporter", 20_000);
			await supporter.requestControl();
			await controlling;
			const down = observer.next((e) => e.type === "down");
			await supporter.sendInput({ t: "pointer", kind: "down", x: 0.5, y: 0.5, button: 0 });
			await supporter.sendInput({ t: "pointer", kind: "up", x: 0.5, y: 0.5, button: 0, id: 3 });
			await supporter.waitFor("screenInfo", (i) => i.t === "injected" && i.id === 3);
			expect(await down).toMatchObject({ x: 160, y: 120 });
			for (let i = 0; i < 200 && jpegs.length === 0; i++)
				await new Promise((r) => setTimeout(r, 50));
			expect([jpegs[0]?.[0], jpegs[0]?.[1]]).toEqual([0xff, 0xd8]);
			const ended = supporter.waitFor("end", () => true);
			await supporterApi.endSession(created.sessionId);
			await ended;
			expect(await customer.exited).toBe(0);
			supporter.close();
		} finally {
			customer.kill("SIGKILL");
		}
	}, 40_000);
});
