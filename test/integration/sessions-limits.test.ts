import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_VIOLATIONS, REQUEST_LIMITS } from "../../durable/session-rules.ts";
import { CLOSE } from "../../protocol/control.ts";
import { HEADER_BYTES, MAX_FRAME_BYTES, TAG_BYTES } from "../../protocol/frame.ts";
import { ADMIN, bearer, mustLogin } from "../helpers/auth.ts";
import { CHANNELS, RawParticipant } from "../helpers/raw-session.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { openPair } from "../helpers/sessions.ts";
import { queryDb } from "../helpers/sql.ts";

const te = new TextEncoder();
const OVERHEAD = HEADER_BYTES + TAG_BYTES;

async function settle(ms = 300) {
	await new Promise((r) => setTimeout(r, ms));
}

/**
 * The relay's bounds: frames capped per channel, dialog-opening requests limited per session,
 * and every refused frame or message accounted for in the protocol, also across reconnects.
 */
describe("relay limits and violation accounting", () => {
	let server: TestServer;
	let token: string;
	beforeAll(async () => {
		server = await startServer();
		token = (await mustLogin(server, ADMIN)).accessToken;
	});
	afterAll(async () => {
		await server?.stop();
	});

	function rows(sessionId: string, type?: string) {
		return queryDb(
			join(server.dataDir, "fernwart.db"),
			`SELECT type, actor, data FROM audit_events WHERE session_id = ?${type ? " AND type = ?" : ""} ORDER BY seq`,
			type ? [sessionId, type] : [sessionId],
		).map((r) => ({
			type: String(r.type),
			actor: r.actor as string | null,
			data: r.data === null ? null : (JSON.parse(String(r.data)) as Record<string, unknown>),
		}));
	}

	async function waitForRows(sessionId: string, type: string, n = 1) {
		const deadline = Date.now() + 10_000;
		for (;;) {
			const found = rows(sessionId, type);
			if (found.length >= n || Date.now() > deadline) return found;
			await settle(200);
		}
	}

	async function newSupporterSocket(sessionId: string) {
		const t = await server.json<{ ticket: string }>(`/api/v1/sessions/${sessionId}/tickets`, {
			method: "POST",
			headers: bearer(token),
		});
		return RawParticipant.connect(server, sessionId, t.body.ticket, "supporter");
	}

	it("relays a chat frame at its cap and closes the sender of a larger one with 4008, unrelayed", async () => {
		const { sessionId, supporter, customer } = await openPair(server, token);
		const atCap = await supporter.seal(
			CHANNELS.chat,
			new Uint8Array(MAX_FRAME_BYTES.chat - OVERHEAD),
		);
		supporter.sendFrame(atCap);
		expect((await customer.until(() => customer.frames[0])).length).toBe(MAX_FRAME_BYTES.chat);

		const over = await supporter.seal(
			CHANNELS.chat,
			new Uint8Array(MAX_FRAME_BYTES.chat - OVERHEAD + 1),
		);
		supporter.sendFrame(over);
		// Queued right behind it: must not be relayed either.
		supporter.sendFrame(await supporter.seal(CHANNELS.chat, te.encode("after")));
		await supporter.until(() => supporter.closeCode !== null);
		expect(supporter.closeCode).toBe(CLOSE.TOO_LARGE);
		await settle();
		expect(customer.frames).toHaveLength(1);
		expect(customer.closeCode).toBeNull();

		const [summary] = await waitForRows(sessionId, "policy.violation_summary");
		expect(summary?.data).toMatchObject({
			role: "supporter",
			cause: "too-large",
			total: 1,
			reasons: { "too-large:chat": 1 },
		});
		customer.close();
	});

	it("caps input, screen and control messages at their own sizes", async () => {
		const { supporter, customer } = await openPair(server, token);
		supporter.send({ type: "view.request" });
		await customer.next("view.request");
		await customer.consent("view.grant");
		await supporter.state((s) => s.shower === "customer");
		// A screen frame of 1 MiB passes; one byte more closes.
		const screen = await customer.seal(
			CHANNELS.screen,
			new Uint8Array(MAX_FRAME_BYTES.screen - OVERHEAD),
			1,
		);
		customer.sendFrame(screen);
		expect((await supporter.until(() => supporter.frames[0], 15_000)).length).toBe(
			MAX_FRAME_BYTES.screen,
		);

		supporter.send({ type: "control.request" });
		await customer.next("control.request");
		await customer.consent("control.grant");
		await supporter.state((s) => s.controller === "supporter");
		supporter.sendFrame(
			await supporter.seal(CHANNELS.input, new Uint8Array(MAX_FRAME_BYTES.input)),
		);
		await supporter.until(() => supporter.closeCode !== null);
		expect(supporter.closeCode).toBe(CLOSE.TOO_LARGE);
		expect(customer.frames).toHaveLength(0);

		// A control message over 16 KiB (here in UTF-8 bytes, not characters) closes as well.
		customer.send({ type: "comment", text: "é".repeat(8200) });
		await customer.until(() => customer.closeCode !== null);
		expect(customer.closeCode).toBe(CLOSE.TOO_LARGE);
	});

	it("leaves frames over workerd's own 32 MiB limit to workerd: closed 1009, never relayed", async () => {
		const { supporter, customer } = await openPair(server, token);
		const huge = await supporter.seal(CHANNELS.chat, new Uint8Array(32 * 1024 * 1024));
		supporter.sendFrame(huge);
		await supporter.until(() => supporter.closeCode !== null, 30_000);
		expect(supporter.closeCode).toBe(1009);
		await settle();
		expect(customer.frames).toHaveLength(0);
		expect(customer.closeCode).toBeNull();
		customer.close();
	});

	it("forwards a bounded number of control and view requests per minute, then refuses and audits", async () => {
		const { sessionId, supporter, customer } = await openPair(server, token);
		const max = REQUEST_LIMITS["view.request"].max;
		for (let i = 0; i < max + 3; i++) supporter.send({ type: "view.request" });
		await supporter.until(
			() =>
				supporter.messages.filter((m) => (m as { code?: string }).code === "RATE_LIMITED")
					.length === 3,
		);
		await settle();
		expect(
			customer.messages.filter((m) => (m as { type: string }).type === "view.request"),
		).toHaveLength(max);

		await customer.consent("view.grant");
		await supporter.state((s) => s.shower === "customer");
		const limit = REQUEST_LIMITS["control.request"].max;
		for (let i = 0; i < limit + 4; i++) supporter.send({ type: "control.request" });
		await supporter.until(
			() =>
				supporter.messages.filter((m) => (m as { code?: string }).code === "RATE_LIMITED")
					.length === 7,
		);
		await settle();
		expect(
			customer.messages.filter((m) => (m as { type: string }).type === "control.request"),
		).toHaveLength(limit);
		const error = supporter.messages.findLast(
			(m) => (m as { code?: string }).code === "RATE_LIMITED",
		) as { message: string };
		expect(error.message).toMatch(/too many control\.request messages; try again in \d+ s/);
		expect(rows(sessionId, "control.requested")).toHaveLength(limit);

		// Every refusal is in the protocol once the socket closes.
		supporter.close();
		const [summary] = await waitForRows(sessionId, "policy.violation_summary");
		expect(summary?.data).toMatchObject({
			cause: "socket-closed",
			total: 7,
			reasons: { "rate-limited:view.request": 3, "rate-limited:control.request": 4 },
		});
		const first = rows(sessionId, "policy.violation")[0];
		expect(first?.data).toMatchObject({ reason: "rate-limited:view.request", count: 1 });
		customer.close();
	});

	it("closes at the 20th violation even in a queued burst, and processes nothing queued behind it", async () => {
		const { sessionId, supporter, customer } = await openPair(server, token);
		// Signed consents are verified asynchronously, so they queue up behind each other.
		const burst = 30;
		for (let i = 0; i < burst; i++) await supporter.consent("control.grant");
		supporter.send({ type: "comment", text: "queued behind the violations" });
		await supporter.until(() => supporter.closeCode !== null);
		expect(supporter.closeCode).toBe(CLOSE.POLICY_VIOLATION);
		await settle(500);
		expect(customer.messages.some((m) => (m as { type: string }).type === "comment")).toBe(false);
		expect(rows(sessionId, "comment.added")).toHaveLength(0);
		const errors = supporter.messages.filter((m) => (m as { type: string }).type === "error");
		expect(errors).toHaveLength(MAX_VIOLATIONS);

		const summaries = await waitForRows(sessionId, "policy.violation_summary");
		expect(summaries[0]?.data).toMatchObject({
			role: "supporter",
			cause: "closed-for-violations",
			total: MAX_VIOLATIONS,
			reasons: { "refused:control.grant": MAX_VIOLATIONS },
		});
		customer.close();
	});

	it("keeps counting across a reconnect, and the summary accounts for every violation by reason", async () => {
		const { sessionId, supporter, customer } = await openPair(server, token);
		for (let i = 0; i < 12; i++)
			supporter.sendFrame(await supporter.seal(CHANNELS.input, te.encode(`x${i}`)));
		for (let i = 0; i < 3; i++) supporter.send({ type: "nonsense" });
		await supporter.until(
			() => supporter.messages.filter((m) => (m as { type: string }).type === "error").length === 3,
		);
		await settle();
		// A resume with a fresh ticket replaces the socket; the count goes on.
		const again = await newSupporterSocket(sessionId);
		await supporter.until(() => supporter.closeCode !== null);
		expect(supporter.closeCode).toBe(CLOSE.REPLACED);
		// The new socket has no keys of its own: a bare screen header is enough to be refused.
		const screenHeader = new Uint8Array([1, CHANNELS.screen, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
		for (let i = 0; i < 10; i++) again.sendFrame(screenHeader);
		await again.until(() => again.closeCode !== null);
		expect(again.closeCode).toBe(CLOSE.POLICY_VIOLATION);
		expect(customer.frames).toHaveLength(0);

		const deadline = Date.now() + 10_000;
		let summaries = rows(sessionId, "policy.violation_summary");
		while (
			!summaries.some((r) => r.data?.cause === "closed-for-violations") &&
			Date.now() < deadline
		) {
			await settle(200);
			summaries = rows(sessionId, "policy.violation_summary");
		}
		type Summary = { total: number; reasons: Record<string, number>; cause: string };
		// The replaced socket's close summarised its 15; the close for violations all 20.
		expect(summaries[0]?.data).toMatchObject({ cause: "socket-closed", total: 15 });
		const closing = summaries.find((r) => r.data?.cause === "closed-for-violations")
			?.data as Summary;
		expect(closing.total).toBe(MAX_VIOLATIONS);
		expect(closing.reasons["input:no-control-grant"]).toBe(12);
		expect(closing.reasons["bad-message:invalid"]).toBe(3);
		expect(closing.reasons["screen:no-view-grant"]).toBe(5);
		expect(Object.values(closing.reasons).reduce((a, b) => a + b, 0)).toBe(MAX_VIOLATIONS);
		// Frames still in flight after the close are dropped unprocessed, and counted too.
		await again.until(() => again.closeCode !== null);
		await settle(500);
		const last = rows(sessionId, "policy.violation_summary").at(-1)?.data as Summary;
		expect(last.total).toBe(MAX_VIOLATIONS + (last.reasons["after-close"] ?? 0));
		// Every row names the principal, so per-principal counts can be checked from the protocol.
		for (const s of summaries) expect(s.actor).toMatch(/^supporter:/);
		customer.close();
	});
});
