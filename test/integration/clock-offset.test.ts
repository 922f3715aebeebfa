import { Agent, WebSocket as UndiciWebSocket, fetch as undiciFetch } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiClient, type FetchLike } from "../../modules/sdk/api.ts";
import {
	SessionClient,
	type SessionErrorEvent,
	type WebSocketEventLike,
	type WebSocketLike,
} from "../../modules/sdk/session.ts";
import { ADMIN, bearer, mustLogin } from "../helpers/auth.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

const MINUTE_MS = 60_000;

let server: TestServer;
let agent: Agent;
let fetch: FetchLike;

/**
 * A socket that hides the relay's clock from the SDK: the module then signs with its own
 * (wrong) clock, as a module that does not know the offset would.
 */
class NoServerTime implements WebSocketLike {
	readonly inner: WebSocketLike;
	constructor(inner: WebSocketLike) {
		this.inner = inner;
	}
	get binaryType() {
		return this.inner.binaryType;
	}
	set binaryType(value: string) {
		this.inner.binaryType = value;
	}
	get readyState() {
		return this.inner.readyState;
	}
	addEventListener(type: string, listener: (event: WebSocketEventLike) => void): void {
		this.inner.addEventListener(type as "message", (event) => {
			if (type !== "message" || typeof event.data !== "string") return listener(event);
			const message = JSON.parse(event.data) as Record<string, unknown>;
			delete message.serverTime;
			listener({ ...event, type: "message", data: JSON.stringify(message) });
		});
	}
	send(data: string | ArrayBuffer | ArrayBufferView<ArrayBuffer>): void {
		this.inner.send(data);
	}
	close(code?: number, reason?: string): void {
		this.inner.close(code, reason);
	}
}

/** A supporter and a customer whose clocks are `supporterSkewMs` / `customerSkewMs` off. */
async function openPair(opts: {
	supporterSkewMs: number;
	customerSkewMs: number;
	hideServerTime?: boolean;
}) {
	const origin = server.url.origin;
	const supporterApi = createApiClient({ baseUrl: origin, fetch });
	await supporterApi.login(ADMIN);
	const created = await supporterApi.createSession({ view: "customer", requireTerms: true });
	const customerApi = createApiClient({ baseUrl: origin, fetch });
	const joined = await customerApi.joinSession({ code: created.code, displayName: "Carla" });
	const socket = (url: string): WebSocketLike => new UndiciWebSocket(url, { dispatcher: agent });
	const supporter = new SessionClient({
		role: "supporter",
		sessionId: created.sessionId,
		baseUrl: origin,
		webSocket: socket,
		renewTicket: () => supporterApi.ticket(created.sessionId),
		now: () => Date.now() + opts.supporterSkewMs,
	});
	const customer = new SessionClient({
		role: "customer",
		sessionId: joined.sessionId,
		baseUrl: origin,
		webSocket: (url) => (opts.hideServerTime ? new NoServerTime(socket(url)) : socket(url)),
		ticket: joined.ticket,
		renewTicket: () => customerApi.ticket(joined.sessionId, { resumeToken: joined.resumeToken }),
		now: () => Date.now() + opts.customerSkewMs,
		...(joined.terms ? { termsSha256: joined.terms.sha256 } : {}),
	});
	const errors: SessionErrorEvent[] = [];
	customer.on("error", (e) => errors.push(e));
	const ready = Promise.all([supporter.whenReady(10_000), customer.whenReady(10_000)]);
	await supporter.connect();
	await customer.connect();
	await ready;
	return { supporter, customer, errors, terms: joined.terms };
}

beforeAll(async () => {
	server = await startServer();
	// Admission is another test's subject; here the customer is let in as soon as it joins.
	const admin = (await mustLogin(server, ADMIN)).accessToken;
	const off = await server.json("/api/v1/settings", {
		method: "PATCH",
		body: { requireAdmission: false },
		headers: bearer(admin),
	});
	if (off.status !== 200) throw new Error(`settings: ${off.status}`);
	agent = new Agent({ connect: { ca: server.ca } });
	fetch = (url, init) => undiciFetch(url, { ...init, dispatcher: agent });
});

afterAll(async () => {
	await agent?.close();
	await server?.stop();
});

describe("consent with wrong clocks", () => {
	it("records terms and view consent from a customer 17 minutes behind and a supporter 13 ahead", async () => {
		const p = await openPair({ customerSkewMs: -17 * MINUTE_MS, supporterSkewMs: 13 * MINUTE_MS });
		// Each module learned its offset from the relay's state messages.
		expect(Math.abs(p.customer.clockOffsetMs - 17 * MINUTE_MS)).toBeLessThan(5_000);
		expect(Math.abs(p.supporter.clockOffsetMs + 13 * MINUTE_MS)).toBeLessThan(5_000);

		const granted = p.supporter.waitFor("control", (c) => c.message.type === "view.grant", 10_000);
		await p.customer.acceptTerms();
		await p.customer.waitFor("state", (s) => s.termsAccepted, 10_000);
		await p.customer.grantView();
		const state = await p.supporter.waitFor("state", (s) => s.shower === "customer", 10_000);
		expect(state.termsAccepted).toBe(true);
		// The supporter verifies the customer's statement against the server's time, too.
		expect((await granted).verified).toBe(true);

		// What the relay now lets through really arrives.
		const frame = p.supporter.waitFor("frame", (f) => f.channelName === "screen", 10_000);
		await p.customer.send("screen", 1, new TextEncoder().encode("picture"));
		expect(new TextDecoder().decode((await frame).payload)).toBe("picture");
		expect(p.errors).toEqual([]);
		p.supporter.close();
		p.customer.close();
	});

	it("names the clock when a statement is refused for its time", async () => {
		const p = await openPair({
			customerSkewMs: -25 * MINUTE_MS,
			supporterSkewMs: 0,
			hideServerTime: true,
		});
		expect(p.customer.clockOffsetMs).toBe(0);
		const refused = p.customer.waitFor("error", (e) => e.source === "server", 10_000);
		await p.customer.acceptTerms();
		const error = await refused;
		expect(error.code).toBe("CLOCK_SKEW");
		expect(error.message).toContain("25 minutes behind the server's clock");
		expect(p.customer.state?.termsAccepted).toBe(false);
		p.supporter.close();
		p.customer.close();
	});
});
