import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { Agent, getGlobalDispatcher, setGlobalDispatcher } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLOSE, MAX_CONTROL_FRAME_BYTES, parseInboundFrame } from "../../protocol/control.ts";
import { ADMIN, bearer, mustLogin } from "../helpers/auth.ts";
import { CHANNELS, type RawParticipant } from "../helpers/raw-session.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { auditChain, openPair } from "../helpers/sessions.ts";

const MiB = 1024 * 1024;

/** The workerd process the launcher started (a descendant of the launcher's child). */
function workerdPid(server: TestServer): number {
	const rows = execFileSync("ps", ["-e", "-o", "pid=,ppid=,comm="], { encoding: "utf8" })
		.split("\n")
		.map((l) => l.trim().split(/\s+/))
		.filter((r) => r.length === 3)
		.map(([pid, ppid, comm]) => ({ pid: Number(pid), ppid: Number(ppid), comm }));
	const ours = new Set([server.process.pid as number]);
	for (let grew = true; grew; ) {
		grew = false;
		for (const r of rows) {
			if (ours.has(r.ppid) && !ours.has(r.pid)) {
				ours.add(r.pid);
				grew = true;
			}
		}
	}
	const found = rows.find((r) => ours.has(r.pid) && r.comm === "workerd");
	if (!found) throw new Error("no workerd process found");
	return found.pid;
}

/** Resident set size in bytes. */
function rss(pid: number): number {
	const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
	return Number(kb) * 1024;
}

/** Sends as fast as the client's own socket takes it (so the client is not what buffers). */
async function drain(p: RawParticipant): Promise<void> {
	while (p.ws.bufferedAmount > 4 * MiB) await new Promise((r) => setTimeout(r, 5));
}

async function viewGranted(pair: Awaited<ReturnType<typeof openPair>>) {
	pair.supporter.send({ type: "view.request" });
	await pair.customer.next("view.request");
	await pair.customer.consent("view.grant");
	await pair.supporter.state((s) => s.shower === "customer");
}

describe("the relay under peers that do not keep up", () => {
	let server: TestServer;
	let token: string;
	beforeAll(async () => {
		server = await startServer();
		token = (await mustLogin(server, ADMIN)).accessToken;
	});
	afterAll(async () => {
		await server?.stop();
	});

	it("answers a close from `ws` with the peer's code at once", async () => {
		const { customer, supporter } = await openPair(server, token);
		const started = Date.now();
		const closed = new Promise<number>((resolve) => customer.ws.once("close", resolve));
		customer.ws.close(1000, "bye");
		expect(await closed).toBe(1000);
		expect(Date.now() - started).toBeLessThan(2000);
		await supporter.state((s) => !(s.connected as string[]).includes("customer"));
		const closedS = new Promise<number>((resolve) => supporter.ws.once("close", resolve));
		supporter.ws.close(4321, "custom");
		expect(await closedS).toBe(4321);
	});

	it("answers a close from Node's WebSocket, which then fires its close event", async () => {
		const created = await server.json<{ sessionId: string }>("/api/v1/sessions", {
			body: { requireTerms: false },
			headers: bearer(token),
		});
		const t = await server.json<{ ticket: string }>(
			`/api/v1/sessions/${created.body.sessionId}/tickets`,
			{ method: "POST", headers: bearer(token) },
		);
		const url = new URL(`/ws/v1/sessions/${created.body.sessionId}`, server.url);
		url.protocol = "wss:";
		url.searchParams.set("ticket", t.body.ticket);
		const agent = new Agent({ connect: { ca: server.ca } });
		// Node's global WebSocket is undici's and connects through the global dispatcher, which
		// here trusts the test certificate.
		const previous = getGlobalDispatcher();
		setGlobalDispatcher(agent);
		const ws = new WebSocket(url);
		try {
			// In the session: the relay's first state has arrived.
			await new Promise((resolve, reject) => {
				ws.addEventListener("message", resolve, { once: true });
				ws.addEventListener("error", reject);
			});
		} finally {
			setGlobalDispatcher(previous);
		}
		const started = Date.now();
		const closed = new Promise<CloseEvent>((resolve) => ws.addEventListener("close", resolve));
		ws.close(1000, "bye");
		const event = await closed;
		expect(event.code).toBe(1000);
		expect(event.wasClean).toBe(true);
		expect(Date.now() - started).toBeLessThan(2000);
		await agent.close();
	});

	it("drops screen frames for a stalled viewer and keeps workerd's memory bounded", async () => {
		const pair = await openPair(server, token);
		const { supporter, customer } = pair;
		await viewGranted(pair);
		const pid = workerdPid(server);
		const before = rss(pid);
		let peak = before;
		const sampler = setInterval(() => {
			try {
				peak = Math.max(peak, rss(pid));
			} catch {
				clearInterval(sampler); // the server stopped: the test failed already
			}
		}, 50);
		// A viewer that stops reading but whose keepalives still arrive (a slow, not a dead, peer).
		supporter.stall({ keepalive: true });
		// 256 MiB of screen frames of 512 KiB each, which the viewer never reads.
		const payload = new Uint8Array(512 * 1024 - 30);
		const started = Date.now();
		for (let i = 0; i < 512; i++) {
			customer.sendFrame(await customer.seal(CHANNELS.screen, payload));
			await drain(customer);
		}
		while (customer.ws.bufferedAmount > 0) await new Promise((r) => setTimeout(r, 10));
		// Everything sent has been read by the relay once a control round trip comes back.
		const mark = customer.messages.length;
		customer.send({ type: "file.done", id: 999 });
		await customer.next("error", mark);
		clearInterval(sampler);
		const growth = peak - before;
		console.log(
			`stalled viewer: 256 MiB of screen frames in ${Date.now() - started} ms; workerd RSS ` +
				`${(before / MiB).toFixed(0)} MiB before, peak ${(peak / MiB).toFixed(0)} MiB ` +
				`(+${(growth / MiB).toFixed(1)} MiB)`,
		);
		// What workerd holds beyond the relay's queue is received frames that V8 has not collected
		// yet (it collects external memory lazily, in cycles of about 250 MiB here, the same with a
		// viewer that reads); before flow control the whole stream was queued on top of that.
		expect(growth).toBeLessThan(1.5 * 256 * MiB);
		// Dropping screen frames is not a reason to close: the viewer is still in the session.
		expect(customer.latestState()?.connected).toContain("supporter");
		expect(customer.closeCode).toBeNull();

		// Chat frames cannot be dropped: past the bound the slow reader is closed (SLOW_READER)
		// and recorded as left; the sender stays.
		const chat = new Uint8Array(15 * 1024);
		for (let i = 0; i < 1200; i++) {
			const s = customer.latestState();
			if (s && !(s.connected as string[]).includes("supporter")) break;
			customer.sendFrame(await customer.seal(CHANNELS.chat, chat));
			await drain(customer);
			if (i % 50 === 0) await new Promise((r) => setTimeout(r, 20));
		}
		await customer.state((s) => !(s.connected as string[]).includes("supporter"));
		const after = rss(pid);
		console.log(
			`slow reader closed; workerd RSS ${(after / MiB).toFixed(0)} MiB ` +
				`(+${((after - before) / MiB).toFixed(1)} MiB)`,
		);
		expect(after - before).toBeLessThan(48 * MiB);
		expect(customer.closeCode).toBeNull();
		// What waited for the stalled viewer: a few screen frames up to the lag bound (the rest was
		// dropped), the chat frames up to the slow-reader bound, and what the kernel buffered.
		supporter.ws.resume();
		await supporter.until(() => supporter.closeCode !== null, 15_000);
		const screens = supporter.frames.filter((f) => f[1] === CHANNELS.screen).length;
		const chats = supporter.frames.filter((f) => f[1] === CHANNELS.chat).length;
		console.log(`the stalled viewer got ${screens} of 512 screen and ${chats} chat frames`);
		expect(screens).toBeLessThan(40);
		expect(supporter.closeCode).toBe(CLOSE.SLOW_READER);
		const left = auditChain(server).filter(
			(r) => r.sessionId === pair.sessionId && r.type === "session.left",
		);
		expect(left.map((r) => r.data)).toContainEqual(
			expect.objectContaining({ role: "supporter", code: CLOSE.SLOW_READER }),
		);
	});

	it("tells the sender when its reader falls behind and again when it caught up", async () => {
		const { supporter, customer } = await openPair(server, token);
		supporter.stall({ keepalive: true });
		const chat = new Uint8Array(15 * 1024);
		const mark = customer.messages.length;
		// 1.5 MiB of chat for a viewer that does not read: past BACKPRESSURE_ON_BYTES (1 MiB).
		for (let i = 0; i < 100; i++) {
			customer.sendFrame(await customer.seal(CHANNELS.chat, chat));
			await drain(customer);
		}
		expect(await customer.next("backpressure", mark)).toEqual({
			type: "backpressure",
			active: true,
		});
		expect(customer.closeCode).toBeNull();
		// The reader reads again and acknowledges: the sender hears it may go on.
		const resumed = customer.messages.length;
		supporter.ws.resume();
		expect(await customer.next("backpressure", resumed)).toEqual({
			type: "backpressure",
			active: false,
		});
		await supporter.until(
			() => supporter.frames.filter((f) => f[1] === CHANNELS.chat).length === 100,
		);
		expect(supporter.closeCode).toBeNull();
	});

	it("closes a reader that acknowledges what it never read", async () => {
		const pair = await openPair(server, token);
		const { supporter, customer } = pair;
		// A modified module: it stops reading yet keeps sending acks, with marks it made up.
		supporter.stall({ keepalive: true });
		const forger = setInterval(() => {
			const mark = Array.from(
				{ length: 16 },
				() => "0123456789abcdef"[Math.floor(Math.random() * 16)],
			);
			supporter.ws.send(JSON.stringify({ type: "ack", mark: mark.join("") }));
		}, 10);
		const chat = new Uint8Array(15 * 1024);
		let sent = 0;
		try {
			for (; sent < 1200; sent++) {
				const s = customer.latestState();
				if (s && !(s.connected as string[]).includes("supporter")) break;
				customer.sendFrame(await customer.seal(CHANNELS.chat, chat));
				await drain(customer);
				if (sent % 50 === 0) await new Promise((r) => setTimeout(r, 20));
			}
			await customer.state((s) => !(s.connected as string[]).includes("supporter"));
		} finally {
			clearInterval(forger);
		}
		supporter.ws.resume();
		await supporter.until(() => supporter.closeCode !== null, 15_000);
		expect(supporter.closeCode).toBe(CLOSE.SLOW_READER);
		// What the relay queued for it stopped at the 8 MiB bound (about 550 frames of 15 KiB):
		// the forged acks bought nothing. With acks that only named a byte count, they kept the
		// reader open for ever and the relay's queue grew with every frame.
		const chats = supporter.frames.filter((f) => f[1] === CHANNELS.chat).length;
		console.log(`reader with forged acks: closed after ${sent} sent, ${chats} queued for it`);
		expect(chats).toBeLessThanOrEqual(Math.ceil((8 * MiB) / chat.byteLength) + 1);
		expect(sent).toBeLessThan(1200);
		expect(customer.closeCode).toBeNull();
	});

	it("ignores a byte-count ack from an older module instead of counting it as a violation", async () => {
		const { supporter } = await openPair(server, token);
		const mark = supporter.messages.length;
		for (let i = 0; i < 30; i++) supporter.ws.send(JSON.stringify({ type: "ack", bytes: 262144 }));
		// A request that draws an error, sent behind the acks: the only error to come back.
		supporter.send({ type: "file.done", id: 999 });
		await supporter.next("error", mark);
		const errors = supporter.messages
			.slice(mark)
			.filter((m) => (m as { type: string }).type === "error");
		expect(errors).toHaveLength(1);
		expect(supporter.closeCode).toBeNull();
	});

	it("sends states past 16 KiB that the modules accept", async () => {
		const { customer, supporter } = await openPair(server, token);
		// 60 offers (the per-minute limit) whose names take 510 bytes each: about 35 KB of state.
		for (let i = 1; i <= 60; i++) {
			supporter.send({
				type: "file.offer",
				id: i,
				name: `${"é".repeat(250)}${String(i).padStart(5, "0")}`,
				size: 1,
				sha256: "ab".repeat(32),
			});
		}
		const state = await customer.state((s) => (s.files as unknown[]).length === 60);
		const text = JSON.stringify({ type: "state", state });
		expect(new TextEncoder().encode(text).length).toBeGreaterThan(2 * MAX_CONTROL_FRAME_BYTES);
		expect(parseInboundFrame(text).ok).toBe(true);
		expect(supporter.messages.filter((m) => (m as { type: string }).type === "error")).toEqual([]);
	});
});
