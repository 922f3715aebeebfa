/**
 * Input latency for `npm run bench`: the supporter's SDK calls `sendInput` (a button press), the
 * frame is sealed, relayed by the real server, opened by the customer module's code
 * (attachDesktop, as `join --capture x11` runs it), injected through XTEST into Xvfb, and an X
 * client on that display receives the ButtonPress. The time from the `sendInput` call to that
 * event, plus the round trip of the `injected` echo back to the supporter. Needs Debian's xvfb;
 * without it the phase is skipped with a note.
 */
import { performance } from "node:perf_hooks";
import { Agent, WebSocket as UndiciWebSocket, fetch as undiciFetch } from "undici";
import { Output } from "../modules/cli/common.ts";
import { attachDesktop, planInput } from "../modules/cli/desktop/control.ts";
import { findExecutable } from "../modules/cli/host-capture.ts";
import { createApiClient, type FetchLike } from "../modules/sdk/api.ts";
import { SessionClient } from "../modules/sdk/session.ts";
import type { TestServer } from "../test/helpers/server.ts";
import { startXvfb, XObserver } from "../test/helpers/xdisplay.ts";
import { percentile } from "./measure.ts";

export interface InputLatency {
	samples: number;
	/** sendInput → ButtonPress seen by an X client on the display, milliseconds. */
	seenP50Ms: number;
	seenP99Ms: number;
	/** sendInput → the shower's `injected` echo back at the supporter, milliseconds. */
	echoP50Ms: number;
	echoP99Ms: number;
}

/** Measures `samples` presses; null (with the reason) when Xvfb is not installed. */
export async function measureInputLatency(
	server: TestServer,
	admin: { email: string; password: string },
	samples: number,
): Promise<InputLatency | { skipped: string }> {
	if (!findExecutable("Xvfb", process.env.PATH))
		return { skipped: "Xvfb not found (apt-get install xvfb)" };
	const xvfb = await startXvfb(640, 480);
	const agent = new Agent({ connect: { ca: server.ca } });
	const fetch: FetchLike = (url, init) => undiciFetch(url, { ...init, dispatcher: agent });
	let observer: XObserver | null = null;
	const clients: SessionClient[] = [];
	let desktop: Awaited<ReturnType<typeof attachDesktop>> | null = null;
	try {
		observer = await XObserver.open(xvfb.display);
		const origin = server.url.origin;
		const supporterApi = createApiClient({ baseUrl: origin, fetch });
		await supporterApi.login(admin);
		const created = await supporterApi.createSession({ view: "customer", requireTerms: false });
		const customerApi = createApiClient({ baseUrl: origin, fetch });
		const joined = await customerApi.joinSession({ code: created.code, displayName: "Bench" });
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
		clients.push(supporter, customer);
		desktop = await attachDesktop({
			session: customer,
			input: planInput({ DISPLAY: xvfb.display }, "linux"),
			capture: { mode: "none", reason: "bench", requested: true },
			out: new Output(true, () => {}),
			name: "Bench",
			supporterName: () => "Bench",
			socket: () => null,
		});
		await Promise.all([supporter.connect(), customer.connect()]);
		await Promise.all([supporter.whenReady(10_000), customer.whenReady(10_000)]);
		if (customer.state?.phase !== "active")
			await customer.waitFor("state", (s) => s.phase === "active");
		if (customer.state?.admission?.status === "waiting") {
			await supporter.admit();
			await customer.waitFor("state", (s) => s.admission?.status === "admitted");
		}
		if (customer.state?.shower !== "customer") {
			const shown = supporter.waitFor("state", (s) => s.shower === "customer");
			await customer.grantView();
			await shown;
		}
		const granted = supporter.waitFor("state", (s) => s.controller === "supporter");
		const asked = customer.waitFor("control", (c) => c.message.type === "control.request");
		await supporter.requestControl();
		await asked;
		await customer.grantControl();
		await granted;
		if (!desktop.control.granted)
			await customer.waitFor("state", (s) => s.controller === "supporter");

		const seen: number[] = [];
		const echo: number[] = [];
		for (let i = 0; i < samples + 10; i++) {
			const x = 0.1 + (i % 10) * 0.08;
			const id = i + 1;
			const press = observer.next((e) => e.type === "down");
			const echoed = supporter.waitFor("screenInfo", (s) => s.t === "injected" && s.id === id);
			const t0 = performance.now();
			await supporter.sendInput({ t: "pointer", kind: "down", x, y: 0.5, button: 0, id });
			await press;
			const t1 = performance.now();
			await echoed;
			const t2 = performance.now();
			await supporter.sendInput({ t: "pointer", kind: "up", x, y: 0.5, button: 0 });
			await observer.next((e) => e.type === "up");
			if (i < 10) continue; // warm-up
			seen.push(t1 - t0);
			echo.push(t2 - t0);
		}
		seen.sort((a, b) => a - b);
		echo.sort((a, b) => a - b);
		return {
			samples: seen.length,
			seenP50Ms: percentile(seen, 0.5),
			seenP99Ms: percentile(seen, 0.99),
			echoP50Ms: percentile(echo, 0.5),
			echoP99Ms: percentile(echo, 0.99),
		};
	} finally {
		for (const c of clients) c.close();
		await desktop?.close();
		observer?.close();
		xvfb.stop();
		await agent.close();
	}
}
