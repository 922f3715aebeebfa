import { describe, expect, it, vi } from "vitest";
import {
	SessionClient,
	type SessionClientOptions,
	type WebSocketEventLike,
	type WebSocketLike,
} from "../../modules/sdk/session.ts";
import { BACKPRESSURE_HOLD_MS, CLOSE, parseControlFrame } from "../../protocol/control.ts";

type Side = "supporter" | "customer";
type Listener = (event: WebSocketEventLike) => void;

/** An in-memory socket: what one side sends arrives at the relay a macrotask later. */
class FakeSocket implements WebSocketLike {
	binaryType = "blob";
	readyState = 0;
	readonly url: string;
	readonly #listeners = new Map<string, Listener[]>();
	readonly #relay: FakeRelay;
	readonly #side: Side;

	constructor(relay: FakeRelay, side: Side, url: string) {
		this.#relay = relay;
		this.#side = side;
		this.url = url;
		setTimeout(() => {
			this.readyState = 1;
			this.dispatch("open", {});
			relay.opened(side, this);
		}, 0);
	}

	addEventListener(type: string, listener: Listener): void {
		this.#listeners.set(type, [...(this.#listeners.get(type) ?? []), listener]);
	}

	dispatch(type: string, event: WebSocketEventLike): void {
		for (const l of this.#listeners.get(type) ?? []) l(event);
	}

	send(data: string | ArrayBuffer | ArrayBufferView<ArrayBuffer>): void {
		if (this.readyState !== 1) throw new Error("not open");
		const copy =
			typeof data === "string"
				? data
				: new Uint8Array(ArrayBuffer.isView(data) ? data.buffer : data).slice(
						ArrayBuffer.isView(data) ? data.byteOffset : 0,
						ArrayBuffer.isView(data) ? data.byteOffset + data.byteLength : undefined,
					);
		setTimeout(() => this.#relay.received(this.#side, this, copy), 0);
	}

	/** Delivers a message to the client, as the server would. */
	deliver(data: string | Uint8Array): void {
		if (this.readyState !== 1) return;
		const value = typeof data === "string" ? data : data.slice().buffer;
		setTimeout(() => this.dispatch("message", { data: value }), 0);
	}

	close(code = 1000, reason = ""): void {
		if (this.readyState >= 2) return;
		this.readyState = 3;
		setTimeout(() => this.dispatch("close", { code, reason }), 0);
		this.#relay.closed(this.#side, this);
	}
}

/**
 * A relay that follows the contract's handshake rules and forwards everything else verbatim.
 * Hooks let a test tamper with what passes, as a malicious server could.
 */
class FakeRelay {
	readonly sockets = new Map<Side, FakeSocket>();
	readonly hellos = new Map<Side, string>();
	readonly log: { from: Side; data: string | Uint8Array }[] = [];
	tamper: ((from: Side, data: string | Uint8Array) => string | Uint8Array | null) | null = null;
	/** Swallows everything, keepalives included, as a black-holed connection does. */
	silent = false;

	factory(side: Side) {
		return (url: string) => new FakeSocket(this, side, url);
	}

	opened(side: Side, socket: FakeSocket): void {
		this.sockets.set(side, socket);
		const other = side === "supporter" ? "customer" : "supporter";
		const hello = this.hellos.get(other);
		// On a resume the relay sends the other side's hello again, as the real one does.
		if (hello) socket.deliver(JSON.stringify({ type: "peer", hello: JSON.parse(hello) }));
	}

	closed(side: Side, socket: FakeSocket): void {
		if (this.sockets.get(side) === socket) this.sockets.delete(side);
	}

	received(from: Side, socket: FakeSocket, data: string | Uint8Array): void {
		if (this.sockets.get(from) !== socket || this.silent) return;
		this.log.push({ from, data });
		// The runtime answers keepalives itself, as workerd's auto-response does.
		if (data === "ping") {
			socket.deliver("pong");
			return;
		}
		const to = this.sockets.get(from === "supporter" ? "customer" : "supporter");
		if (typeof data === "string") {
			const parsed = parseControlFrame(data);
			if (!parsed.ok) throw new Error(`bad frame from ${from}: ${parsed.detail}`);
			if (parsed.value.type === "hello") {
				this.hellos.set(from, data);
				to?.deliver(JSON.stringify({ type: "peer", hello: parsed.value }));
				return;
			}
		}
		const out = this.tamper ? this.tamper(from, data) : data;
		if (out !== null) to?.deliver(out);
	}

	/** Drops a side's transport as a network failure would (1006). */
	drop(side: Side): void {
		const socket = this.sockets.get(side);
		if (!socket) return;
		socket.readyState = 3;
		this.sockets.delete(side);
		setTimeout(() => socket.dispatch("close", { code: 1006, reason: "" }), 0);
	}
}

const SESSION_ID = "sess-unit-1";

function pair(relay = new FakeRelay(), extra: Partial<SessionClientOptions> = {}) {
	const tickets = { supporter: 0, customer: 0 };
	const make = (role: Side) =>
		new SessionClient({
			role,
			sessionId: SESSION_ID,
			baseUrl: "https://relay.test",
			webSocket: relay.factory(role),
			renewTicket: async () => `ticket-${role}-${++tickets[role]}`,
			resume: { initialDelayMs: 5, maxDelayMs: 20, maxAttempts: 5 },
			...extra,
		});
	return { relay, supporter: make("supporter"), customer: make("customer"), tickets };
}

async function connected(relay = new FakeRelay(), extra: Partial<SessionClientOptions> = {}) {
	const p = pair(relay, extra);
	const sas = Promise.all([p.supporter.whenReady(2000), p.customer.whenReady(2000)]);
	await p.supporter.connect();
	await p.customer.connect();
	const [a, b] = await sas;
	return { ...p, sas: [a, b] as const };
}

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const bytesOf = (s: string) => new TextEncoder().encode(s);

describe("SessionClient keepalive and flow control", () => {
	it("echoes each relay mark it reads and nothing else", async () => {
		const { relay, supporter, customer } = await connected();
		const handled: string[] = [];
		customer.on("frame", () => handled.push("frame"));
		const socket = relay.sockets.get("customer");
		if (!socket) throw new Error("no customer socket");
		const sealed: Uint8Array[] = [];
		relay.tamper = (from, data) => {
			if (from === "supporter" && typeof data !== "string") sealed.push(data);
			return null;
		};
		for (let i = 0; i < 3; i++) await supporter.send("screen", 1, new Uint8Array(64 * 1024));
		const until = Date.now() + 2000;
		while (sealed.length < 3 && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
		// What the relay puts into the stream: three frames, a mark, a forged mark, garbage.
		for (const frame of sealed) socket.deliver(frame);
		socket.deliver(JSON.stringify({ type: "mark", id: "00112233aabbccdd" }));
		socket.deliver(JSON.stringify({ type: "mark", id: "not-hex" }));
		socket.deliver('{"type":"mark"');
		while (handled.length < 3 && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
		const acks = relay.log
			.filter((m) => m.from === "customer" && typeof m.data === "string")
			.map((m) => JSON.parse(m.data as string))
			.filter((m) => m.type === "ack");
		expect(acks).toEqual([{ type: "ack", mark: "00112233aabbccdd" }]);
		expect(parseControlFrame(JSON.stringify(acks[0])).ok).toBe(true);
		expect(handled).toHaveLength(3);
		supporter.close();
		customer.close();
	});

	it("pings every 10 s and takes the runtime's pong in its stride", async () => {
		const { relay, supporter, customer } = await connected();
		const errors: unknown[] = [];
		supporter.on("error", (e) => errors.push(e));
		vi.useFakeTimers({ toFake: ["setInterval"] });
		try {
			// The pingers were started before the fake clock: start a fresh socket under it.
			relay.drop("supporter");
			await supporter.waitFor("open", () => true, 2000);
			vi.advanceTimersByTime(10_000);
		} finally {
			vi.useRealTimers();
		}
		await new Promise((r) => setTimeout(r, 20));
		const pings = relay.log.filter((m) => m.from === "supporter" && m.data === "ping");
		expect(pings).toHaveLength(1);
		expect(errors).toEqual([]);
		supporter.close();
		customer.close();
	});

	it("gives up a socket on which nothing arrives for 30 s and resumes on a new one", async () => {
		const { relay, supporter, customer, tickets } = await connected();
		vi.useFakeTimers({ toFake: ["setInterval", "Date"] });
		try {
			relay.drop("supporter");
			await supporter.waitFor("open", () => true, 2000);
			const before = tickets.supporter;
			relay.silent = true; // a network that vanished: nothing arrives, no close either
			const reconnecting = supporter.waitFor("reconnecting", () => true, 2000);
			vi.advanceTimersByTime(30_000);
			relay.silent = false;
			expect(await reconnecting).toMatchObject({ code: 1006 });
			await supporter.waitFor("open", () => true, 2000);
			expect(tickets.supporter).toBe(before + 1);
		} finally {
			vi.useRealTimers();
		}
		supporter.close();
		customer.close();
	});
});

describe("SessionClient back-pressure", () => {
	it("holds file frames while the relay reports the reader behind, in order, and lets input pass", async () => {
		const { relay, supporter, customer } = await connected();
		const got: string[] = [];
		customer.on("frame", (f) => got.push(`${f.channelName}:${text(f.payload)}`));
		const changes: boolean[] = [];
		supporter.on("backpressure", ({ active }) => changes.push(active));
		relay.sockets.get("supporter")?.deliver(JSON.stringify({ type: "backpressure", active: true }));
		await supporter.waitFor("backpressure", () => true, 2000);
		expect(supporter.peerLagging).toBe(true);
		const held = [
			supporter.send("file", 7, bytesOf("one")),
			supporter.send("file", 7, bytesOf("two")),
		];
		await supporter.send("chat", 1, bytesOf("chat passes"));
		await new Promise((r) => setTimeout(r, 50));
		expect(got).toEqual(["chat:chat passes"]);
		relay.sockets
			.get("supporter")
			?.deliver(JSON.stringify({ type: "backpressure", active: false }));
		await Promise.all(held);
		const until = Date.now() + 2000;
		while (got.length < 3 && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
		expect(got).toEqual(["chat:chat passes", "file:one", "file:two"]);
		expect(changes).toEqual([true, false]);
		expect(supporter.peerLagging).toBe(false);
		supporter.close();
		customer.close();
	});

	it("goes on by itself when the relay stops repeating that the reader is behind", async () => {
		const { relay, supporter, customer } = await connected();
		vi.useFakeTimers({ toFake: ["setTimeout"] });
		try {
			relay.sockets
				.get("supporter")
				?.deliver(JSON.stringify({ type: "backpressure", active: true }));
			vi.advanceTimersByTime(1); // the fake socket delivers on a timer
			await Promise.resolve();
			expect(supporter.peerLagging).toBe(true);
			vi.advanceTimersByTime(BACKPRESSURE_HOLD_MS);
			expect(supporter.peerLagging).toBe(false);
		} finally {
			vi.useRealTimers();
		}
		supporter.close();
		customer.close();
	});
});

describe("SessionClient", () => {
	it("builds the WebSocket URL from the origin, the session ID and the ticket", async () => {
		const { relay, supporter } = pair();
		await supporter.connect();
		const url = new URL((relay.sockets.get("supporter") as FakeSocket).url);
		expect(url.protocol).toBe("wss:");
		expect(url.pathname).toBe(`/ws/v1/sessions/${SESSION_ID}`);
		expect(url.searchParams.get("ticket")).toBe("ticket-supporter-1");
		supporter.close();
	});

	it("completes the handshake with a commitment first and shows the same SAS on both sides", async () => {
		const { relay, supporter, customer, sas } = await connected();
		expect(sas[0]).toMatch(/^\d{6}$/);
		expect(sas[0]).toBe(sas[1]);
		const sent = relay.log.map((m) => (typeof m.data === "string" ? JSON.parse(m.data) : null));
		const supporterHello = sent.find((m) => m?.type === "hello" && m.role === "supporter");
		expect(supporterHello).toHaveProperty("x25519Commitment");
		expect(supporterHello).not.toHaveProperty("x25519");
		// The reveal comes only after the customer's key reached the supporter.
		const customerHello = sent.findIndex((m) => m?.type === "hello" && m.role === "customer");
		const reveal = sent.findIndex((m) => m?.type === "key.reveal");
		expect(customerHello).toBeGreaterThan(-1);
		expect(reveal).toBeGreaterThan(customerHello);
		supporter.close();
		customer.close();
	});

	it("exchanges encrypted chat frames that the relay cannot read", async () => {
		const { relay, supporter, customer } = await connected();
		const got = customer.waitFor("frame");
		const seq = await supporter.send("chat", 0, bytesOf("hello there"));
		expect(seq).toBe(0n);
		const frame = await got;
		expect(frame.channelName).toBe("chat");
		expect(text(frame.payload)).toBe("hello there");
		const wire = relay.log.find((m) => typeof m.data !== "string")?.data as Uint8Array;
		expect(text(wire)).not.toContain("hello there");

		const back = supporter.waitFor("frame");
		await customer.send("screen", 1, new Uint8Array([1, 2, 3]));
		expect([...(await back).payload]).toEqual([1, 2, 3]);
		supporter.close();
		customer.close();
	});

	it("rejects a flipped ciphertext bit, a replayed frame and an edited header", async () => {
		const { relay, supporter, customer } = await connected();
		const rejected: string[] = [];
		customer.on("rejected", (r) => rejected.push(r.reason));
		const frames: string[] = [];
		customer.on("frame", (f) => frames.push(text(f.payload)));
		let mode: "flip" | "replay" | "header" | null = null;
		relay.tamper = (from, data) => {
			if (typeof data === "string" || from !== "supporter" || mode === null) return data;
			const copy = data.slice();
			if (mode === "flip") copy[20] = (copy[20] ?? 0) ^ 1;
			if (mode === "header") copy[5] = (copy[5] ?? 0) ^ 1; // the stream, part of the AAD
			if (mode === "replay") {
				const socket = relay.sockets.get("customer");
				socket?.deliver(data);
				socket?.deliver(data);
				return null;
			}
			return copy;
		};
		mode = "flip";
		await supporter.send("chat", 0, bytesOf("one"));
		await customer.waitFor("rejected");
		mode = "replay";
		await supporter.send("chat", 0, bytesOf("two"));
		await customer.waitFor("rejected");
		mode = "header";
		await supporter.send("chat", 0, bytesOf("three"));
		await customer.waitFor("rejected");
		mode = null;
		await supporter.send("chat", 0, bytesOf("four"));
		await customer.waitFor("frame", (f) => text(f.payload) === "four");
		expect(rejected).toEqual(["auth-failed", "stale-seq", "auth-failed"]);
		expect(frames).toEqual(["two", "four"]);
		supporter.close();
		customer.close();
	});

	it("verifies the peer's signed consent and flags a forged one", async () => {
		const { relay, supporter, customer } = await connected();
		const granted = supporter.waitFor("control", (c) => c.message.type === "view.grant");
		await customer.grantView();
		expect((await granted).verified).toBe(true);

		relay.tamper = (from, data) => {
			if (typeof data !== "string" || from !== "customer") return data;
			const message = JSON.parse(data);
			if (message.statement) message.statement.timestamp += 1; // no longer what was signed
			return JSON.stringify(message);
		};
		const errors: string[] = [];
		supporter.on("error", (e) => errors.push(e.code));
		const forged = supporter.waitFor("control", (c) => c.message.type === "control.grant");
		await customer.grantControl();
		expect((await forged).verified).toBe(false);
		expect(errors).toEqual(["BAD_SIGNATURE"]);
		supporter.close();
		customer.close();
	});

	it("signs the terms' digest in terms.accept and the file id in file.accept", async () => {
		const sha256 = "a".repeat(64);
		const { supporter, customer } = await connected(new FakeRelay(), { termsSha256: sha256 });
		const terms = supporter.waitFor("control", (c) => c.message.type === "terms.accept");
		await customer.acceptTerms();
		const t = (await terms).message;
		expect(t.type === "terms.accept" && t.statement.details).toEqual({ sha256 });

		const offer = customer.waitFor("control", (c) => c.message.type === "file.offer");
		await supporter.offerFile({ id: 7, name: "log.txt", size: 3, sha256 });
		await offer;
		const accepted = supporter.waitFor("control", (c) => c.message.type === "file.accept");
		await customer.acceptFile(7);
		const a = await accepted;
		expect(a.verified).toBe(true);
		expect(a.message.type === "file.accept" && a.message.statement.details).toEqual({ fileId: 7 });
		supporter.close();
		customer.close();
	});

	it("refuses a revealed key that does not open the commitment", async () => {
		const relay = new FakeRelay();
		relay.tamper = (_from, data) => {
			if (typeof data !== "string" || !data.includes("key.reveal")) return data;
			return JSON.stringify({ type: "key.reveal", x25519: `${"A".repeat(42)}E` });
		};
		const { supporter, customer } = pair(relay);
		const failed = customer.waitFor("error", (e) => e.fatal);
		await supporter.connect();
		await customer.connect();
		expect((await failed).code).toBe("BAD_COMMITMENT");
		expect(customer.sas).toBeNull();
		expect(customer.finished).toBe(true);
		supporter.close();
	});

	it("resumes after a dropped transport with a fresh ticket, keeping keys and sequence", async () => {
		const { relay, supporter, customer, tickets } = await connected();
		await supporter.send("chat", 0, bytesOf("before"));
		await customer.waitFor("frame");
		const reopened = supporter.waitFor("open", (o) => o.resumed);
		relay.drop("supporter");
		await supporter.waitFor("reconnecting");
		// Sent while the transport is down: it waits in the outbox and follows the new hello.
		const queued = supporter.send("chat", 0, bytesOf("during"));
		await reopened;
		expect(tickets.supporter).toBe(2);
		expect(await queued).toBe(1n);
		const frame = await customer.waitFor("frame");
		expect(text(frame.payload)).toBe("during");
		expect(frame.seq).toBe(1n);

		// The customer resumes too and still opens the supporter's frames.
		const customerBack = customer.waitFor("open", (o) => o.resumed);
		relay.drop("customer");
		await customerBack;
		const after = customer.waitFor("frame");
		await supporter.send("chat", 0, bytesOf("after"));
		expect(text((await after).payload)).toBe("after");
		expect(supporter.sas).toBe(customer.sas);
		supporter.close();
		customer.close();
	});

	it("ends without resuming on STOP, and reports who stopped", async () => {
		const { relay, supporter, customer } = await connected();
		const ended = supporter.waitFor("end");
		const closed = supporter.waitFor("closed");
		const socket = relay.sockets.get("supporter") as FakeSocket;
		socket.deliver(JSON.stringify({ type: "end", reason: "stopped", by: "customer" }));
		setTimeout(() => socket.close(CLOSE.STOPPED, "stopped"), 5);
		expect(await ended).toEqual({ reason: "stopped", by: "customer" });
		expect((await closed).code).toBe(CLOSE.STOPPED);
		expect(supporter.finished).toBe(true);
		customer.close();
	});

	it("gives up on a final close code such as UNAUTHORIZED", async () => {
		const { relay, supporter, customer, tickets } = await connected();
		const closed = supporter.waitFor("closed");
		(relay.sockets.get("supporter") as FakeSocket).close(CLOSE.UNAUTHORIZED, "unauthorized");
		expect((await closed).code).toBe(CLOSE.UNAUTHORIZED);
		expect(tickets.supporter).toBe(1);
		customer.close();
	});

	it("stops resuming when the server says the session is gone", async () => {
		const relay = new FakeRelay();
		const { supporter, customer } = await connected(relay, {
			renewTicket: async () => {
				throw Object.assign(new Error("SESSION_NOT_FOUND"), { status: 404 });
			},
			ticket: "first",
		});
		const failed = supporter.waitFor("error", (e) => e.fatal);
		relay.drop("supporter");
		expect((await failed).code).toBe("RESUME_REFUSED");
		expect(supporter.finished).toBe(true);
		customer.close();
	});

	it("keeps only newer consent states", async () => {
		const { relay, supporter, customer } = await connected();
		const socket = relay.sockets.get("supporter") as FakeSocket;
		const state = (revision: number, phase: string) =>
			JSON.stringify({
				type: "state",
				state: {
					sessionId: SESSION_ID,
					revision,
					phase,
					connected: ["supporter", "customer"],
					termsRequired: false,
					termsAccepted: false,
					shower: null,
					controller: null,
					files: [],
				},
			});
		const seen: number[] = [];
		supporter.on("state", (s) => seen.push(s.revision));
		socket.deliver(state(2, "active"));
		socket.deliver(state(1, "waiting"));
		socket.deliver(state(2, "active"));
		socket.deliver(state(3, "active"));
		await supporter.waitFor("state", (s) => s.revision === 3);
		expect(seen).toEqual([2, 3]);
		expect(supporter.state?.revision).toBe(3);
		supporter.close();
		customer.close();
	});
});
