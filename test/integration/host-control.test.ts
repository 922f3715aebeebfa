/**
 * The host agent as a process (`host run`, DISPLAY on Xvfb) controlled through the real server:
 * a click reaches an X client on the display, clipboard text goes both ways, and the STOP
 * hotkey pressed on that display (XTEST through xdotool, as a keyboard would) ends the session.
 * Needs Debian's `xvfb`, `xdotool` and `xclip` (.ci/run installs them): on CI a missing tool
 * fails, elsewhere the file is skipped with one line.
 */
import { execFile, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { answerChallenge } from "../../modules/cli/host-auth.ts";
import { findExecutable } from "../../modules/cli/host-capture.ts";
import { createTrustedTransport } from "../../modules/cli/tls.ts";
import { createHostApi } from "../../modules/sdk/hosts.ts";
import { SessionClient } from "../../modules/sdk/session.ts";
import { decodeAuthMessage, encodeAuthMessage } from "../../protocol/host.ts";
import { ADMIN, createUserAs, mustLogin } from "../helpers/auth.ts";
import { enrollHost, JsonProcess } from "../helpers/hosts.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { startXvfb, XObserver, type Xvfb } from "../helpers/xdisplay.ts";

const TOOLS = ["Xvfb", "xdotool", "xclip"];
const missing = TOOLS.filter((t) => !findExecutable(t, process.env.PATH));
const MISSING_LINE = `${missing.join(", ")} not found: apt-get install xvfb xdotool xclip (host control test skipped)`;
if (missing.length > 0 && process.env.CI === "true") {
	throw new Error(MISSING_LINE.replace("skipped", "required on CI"));
}
if (missing.length > 0) console.warn(MISSING_LINE);

const PASSWORD = "correct horse battery staple";
const HOST_PASSWORD = "Wartung-2026-green-lamp";
const run = promisify(execFile);

describe.skipIf(missing.length > 0)("host agent under remote control", () => {
	let server: TestServer;
	let xvfb: Xvfb;
	let observer: XObserver;
	let agent: JsonProcess | null = null;
	let alice = "";
	let hostId = "";
	const onDisplay = () => ({ ...process.env, DISPLAY: xvfb.display });

	beforeAll(async () => {
		[server, xvfb] = await Promise.all([startServer(), startXvfb(400, 300)]);
		observer = await XObserver.open(xvfb.display);
		const admin = (await mustLogin(server, ADMIN)).accessToken;
		await createUserAs(server, admin, {
			email: "dora@example.test",
			password: PASSWORD,
			groups: ["alpha"],
		});
		alice = (await mustLogin(server, { email: "dora@example.test", password: PASSWORD }))
			.accessToken;
		const enrolled = await enrollHost(server, alice, {
			group: "alpha",
			name: "pc-ctl",
			password: HOST_PASSWORD,
		});
		hostId = enrolled.hostId;
		agent = new JsonProcess(
			["host", "run", "--config", enrolled.config, "--capture", "none", "--json"],
			{
				DISPLAY: xvfb.display,
			},
		);
		await agent.waitFor((e) => e.event === "online");
	});

	afterAll(async () => {
		agent?.kill("SIGKILL");
		observer?.close();
		xvfb?.stop();
		await server?.stop();
	});

	it("is controlled by the supporter, shares the clipboard, and ends at the STOP hotkey", async () => {
		expect(agent?.events.find((e) => e.event === "input")).toMatchObject({
			mode: "x11",
			display: xvfb.display,
		});
		const t = createTrustedTransport({
			url: server.url,
			ca: server.ca,
			trustFile: join(mkdtempSync(join(tmpdir(), "fernwart-trust-")), "known.json"),
		});
		const hosts = createHostApi({ baseUrl: server.url, fetch: t.fetch, accessToken: () => alice });
		const started = await hosts.connectHost(hostId);
		const session = new SessionClient({
			role: "supporter",
			sessionId: started.sessionId,
			baseUrl: server.url,
			webSocket: t.webSocket,
			ticket: started.ticket,
			renewTicket: async () => {
				throw Object.assign(new Error("no resume in this test"), { status: 404 });
			},
			expectedHost: { publicKey: started.hostPublicKey, pinnedKey: started.hostPublicKey },
		});
		session.on("frame", (frame) => {
			if (frame.channelName !== "auth") return;
			const msg = decodeAuthMessage(frame.payload);
			if (msg?.t === "challenge") {
				void answerChallenge(HOST_PASSWORD, msg).then((proof) =>
					session.send("auth", 0, encodeAuthMessage(proof)),
				);
			}
		});
		const accepted = session.waitFor(
			"control",
			(c) => c.message.type === "host.auth" && c.verified === true,
			30_000,
		);
		await session.connect();
		await accepted;
		const shown = session.waitFor("state", (s) => s.shower === "host");
		await session.requestView();
		await shown;
		const controlling = session.waitFor("state", (s) => s.controller === "supporter");
		await session.requestControl();
		await controlling;
		await agent?.waitFor((e) => e.event === "control.active");

		// A click through the agent process lands at the right pixel.
		const down = observer.next((e) => e.type === "down");
		await session.sendInput({ t: "pointer", kind: "down", x: 0.5, y: 0.75, button: 0 });
		await session.sendInput({ t: "pointer", kind: "up", x: 0.5, y: 0.75, button: 0, id: 1 });
		await session.waitFor("screenInfo", (i) => i.t === "injected" && i.id === 1);
		expect(await down).toMatchObject({ detail: 1, x: 200, y: 224 });

		// Clipboard: the supporter's text lands on the host's CLIPBOARD selection …
		await session.sendClipboard("from the supporter ✓");
		let pasted = "";
		for (let i = 0; i < 100 && pasted !== "from the supporter ✓"; i++) {
			pasted = await run("xclip", ["-selection", "clipboard", "-o"], {
				env: onDisplay(),
				timeout: 2000,
			})
				.then((r) => r.stdout)
				.catch(() => "");
			if (pasted !== "from the supporter ✓") await new Promise((r) => setTimeout(r, 50));
		}
		expect(pasted).toBe("from the supporter ✓");
		// … and what is copied on the host while control stands comes back.
		const back = session.waitFor("clipboard", (c) => c.text === "copied on the host", 10_000);
		const copy = spawn("xclip", ["-selection", "clipboard", "-i", "-quiet"], {
			env: onDisplay(),
			stdio: ["pipe", "ignore", "ignore"],
		});
		copy.stdin.end("copied on the host");
		await back;
		copy.kill("SIGTERM");

		// The STOP hotkey on the controlled display ends the session for both sides.
		const ended = session.waitFor("end", () => true, 10_000);
		await run("xdotool", ["key", "ctrl+alt+shift+s"], { env: onDisplay() });
		const end = await ended;
		expect(end).toMatchObject({ reason: "stopped", by: "host" });
		await agent?.waitFor((e) => e.event === "stop.local" && e.via === "hotkey");
		await agent?.waitFor((e) => e.event === "session.closed");
		// Nothing is injected any more (the session is gone); the agent stays online.
		expect(agent?.exitCode).toBe(null);
		session.close();
		await t.close();
	}, 40_000);
});
