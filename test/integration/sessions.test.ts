import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLOSE } from "../../protocol/control.ts";
import { parseHeader } from "../../protocol/frame.ts";
import { findChainBreak } from "../../schema/audit.ts";
import { ADMIN, bearer, createUserAs, from, mustLogin } from "../helpers/auth.ts";
import { CHANNELS, RawParticipant } from "../helpers/raw-session.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import {
	auditChain,
	type Created,
	type Joined,
	openPair,
	waitForAuditTypes,
} from "../helpers/sessions.ts";
import { queryDb } from "../helpers/sql.ts";

const te = new TextEncoder();

/** Gives frames in flight a moment (where no frame can flow to mark the end of them). */
async function settle(ms = 300) {
	await new Promise((r) => setTimeout(r, ms));
}

/**
 * Sends a chat frame from `from` and waits for it at `to`. The relay decides one socket's frames
 * in order, so everything `from` sent before has been forwarded or dropped by then: returns what
 * arrived besides the marker, and takes the marker out of `to.frames` again.
 */
async function framesBefore(from: RawParticipant, to: RawParticipant): Promise<Uint8Array[]> {
	const before = to.frames.length;
	const marker = await from.seal(CHANNELS.chat, te.encode("marker"));
	from.sendFrame(marker);
	const same = (f: Uint8Array) => Buffer.from(f).equals(Buffer.from(marker));
	await to.until(() => to.frames.slice(before).some(same));
	const arrived = to.frames.splice(before);
	return arrived.filter((f) => !same(f));
}

describe("ad-hoc support sessions", () => {
	let server: TestServer;
	let token: string;
	beforeAll(async () => {
		server = await startServer();
		token = (await mustLogin(server, ADMIN)).accessToken;
	});
	afterAll(async () => {
		await server?.stop();
	});

	it("issues 8-digit IDs that join once; a used, an expired and a random ID get the same 404", async () => {
		const a = await server.json<Created>("/api/v1/sessions", { body: {}, headers: bearer(token) });
		expect(a.status).toBe(201);
		expect(a.body.code).toMatch(/^\d{8}$/);
		expect(a.body.expiresAt).toBeGreaterThan(Date.now() + 9 * 60_000);
		const first = await server.json<Joined>("/api/v1/sessions/join", {
			body: { code: `${a.body.code.slice(0, 4)} ${a.body.code.slice(4)}`, displayName: "Ann" },
		});
		expect(first.status).toBe(200);
		expect(first.body.sessionId).toBe(a.body.sessionId);
		// Whom the customer lets in; no picture without the admin's own S3 store.
		expect((first.body as unknown as { supporter: unknown }).supporter).toEqual({
			name: expect.any(String),
			pictureUrl: null,
		});
		const again = await server.json("/api/v1/sessions/join", {
			body: { code: a.body.code, displayName: "Eve" },
		});

		const b = await server.json<Created>("/api/v1/sessions", { body: {}, headers: bearer(token) });
		// Let the code expire the way time would, in the server's own database file.
		queryDb(
			join(server.dataDir, "fernwart.db"),
			"UPDATE support_sessions SET code_expires_at = ? WHERE id = ?",
			[Date.now() - 1000, b.body.sessionId],
		);
		const expired = await server.json("/api/v1/sessions/join", {
			body: { code: b.body.code, displayName: "Eve" },
		});
		let random = "00000000";
		while (random === a.body.code || random === b.body.code)
			random = String(Math.floor(Math.random() * 1e8)).padStart(8, "0");
		const unknown = await server.json("/api/v1/sessions/join", {
			body: { code: random, displayName: "Eve" },
		});

		for (const res of [again, expired, unknown]) {
			expect(res.status).toBe(404);
			expect(res.body).toEqual(unknown.body);
		}
		expect(unknown.body).toMatchObject({ error: { code: "SESSION_NOT_FOUND" } });
		// The code itself is never stored: only a keyed hash, cleared once used.
		const rows = queryDb(
			join(server.dataDir, "fernwart.db"),
			"SELECT code_hash FROM support_sessions",
		);
		expect(JSON.stringify(rows)).not.toContain(a.body.code);
	});

	it("pairs supporter and customer with the same SAS, and relays chat byte for byte", async () => {
		const { supporter, customer, sasS, sasC } = await openPair(server, token);
		expect(sasS).toMatch(/^\d{6}$/);
		expect(sasS).toBe(sasC);
		const frame = await supporter.seal(CHANNELS.chat, te.encode("hello, can you hear me?"));
		supporter.sendFrame(frame);
		const got = await customer.until(() => customer.frames[0]);
		expect(got).toEqual(frame);
		const opened = await customer.cipher?.open(got);
		expect(opened?.ok && new TextDecoder().decode(opened.plaintext)).toBe(
			"hello, can you hear me?",
		);
		supporter.close();
		customer.close();
	});

	it("lets nothing but control messages flow before the terms are accepted; records their hash and signature", async () => {
		const { sessionId, joined, supporter, customer } = await openPair(server, token, {
			requireTerms: true,
		});
		expect(joined.terms?.sha256).toMatch(/^[0-9a-f]{64}$/);
		supporter.sendFrame(await supporter.seal(CHANNELS.chat, te.encode("before terms")));
		customer.sendFrame(await customer.seal(CHANNELS.chat, te.encode("before terms")));
		await settle();
		expect(customer.frames).toHaveLength(0);
		expect(supporter.frames).toHaveLength(0);
		// Terms other than the ones shown are refused.
		await customer.consent("terms.accept", { sha256: "0".repeat(64) });
		expect((await customer.next("error")).code).toBe("NOT_ALLOWED");
		await customer.consent("terms.accept", { sha256: joined.terms?.sha256 ?? "" });
		await supporter.state((s) => s.termsAccepted === true);
		const after = await supporter.seal(CHANNELS.chat, te.encode("after terms"));
		supporter.sendFrame(after);
		expect(await customer.until(() => customer.frames[0])).toEqual(after);

		const rows = queryDb(
			join(server.dataDir, "fernwart.db"),
			"SELECT data FROM audit_events WHERE session_id = ? AND type = 'terms.accepted'",
			[sessionId],
		);
		expect(rows).toHaveLength(1);
		const data = JSON.parse(String(rows[0]?.data));
		expect(data.termsSha256).toBe(joined.terms?.sha256);
		expect(data.statement).toMatchObject({
			type: "terms.accept",
			sessionId,
			details: { sha256: joined.terms?.sha256 },
		});
		expect(data.signature).toMatch(/^[A-Za-z0-9_-]{86}$/);
		const consents = queryDb(
			join(server.dataDir, "fernwart.db"),
			"SELECT type, role FROM consents WHERE session_id = ?",
			[sessionId],
		);
		expect(consents).toEqual([{ type: "terms.accept", role: "customer" }]);
		supporter.close();
		customer.close();
	});

	it("forwards screen only after the view grant and input only while control is granted", async () => {
		const { supporter, customer } = await openPair(server, token);
		// The customer's screen before any grant: dropped.
		customer.sendFrame(await customer.seal(CHANNELS.screen, te.encode("screen before grant")));
		// The supporter's input before any grant: dropped.
		supporter.sendFrame(await supporter.seal(CHANNELS.input, te.encode("click before grant")));
		expect(await framesBefore(customer, supporter)).toEqual([]);
		expect(await framesBefore(supporter, customer)).toEqual([]);

		supporter.send({ type: "view.request" });
		await customer.next("view.request");
		await customer.consent("view.grant");
		await supporter.state((s) => s.shower === "customer");
		const screen = await customer.seal(CHANNELS.screen, new Uint8Array([1, 2, 3, 250, 251]));
		customer.sendFrame(screen);
		expect(await supporter.until(() => supporter.frames[0])).toEqual(screen);

		// Still no control: input dropped.
		supporter.sendFrame(await supporter.seal(CHANNELS.input, te.encode("click without control")));
		expect(await framesBefore(supporter, customer)).toEqual([]);

		supporter.send({ type: "control.request" });
		await customer.next("control.request");
		await customer.consent("control.grant");
		await supporter.state((s) => s.controller === "supporter");
		const click = await supporter.seal(CHANNELS.input, te.encode("click"));
		supporter.sendFrame(click);
		expect(await customer.until(() => customer.frames[0])).toEqual(click);

		await customer.consent("control.revoke");
		await supporter.state((s) => s.controller === null);
		// Sent right after the revoke was acknowledged: never arrives.
		supporter.sendFrame(await supporter.seal(CHANNELS.input, te.encode("click after revoke")));
		expect(await framesBefore(supporter, customer)).toEqual([]);
		expect(customer.frames).toHaveLength(1);
		supporter.close();
		customer.close();
	});

	it("stops a modified supporter that ignores the rules: the server closes it, not the peer", async () => {
		const { supporter, customer } = await openPair(server, token);
		// A supporter that grants itself control and sends input without any grant.
		await supporter.consent("control.grant");
		expect((await supporter.next("error")).code).toBe("NOT_ALLOWED");
		for (let i = 0; i < 25 && supporter.closeCode === null; i++) {
			supporter.sendFrame(await supporter.seal(CHANNELS.input, te.encode(`rogue ${i}`)));
			supporter.sendFrame(await supporter.seal(CHANNELS.screen, te.encode(`rogue ${i}`)));
		}
		await supporter.until(() => supporter.closeCode !== null);
		expect(supporter.closeCode).toBe(CLOSE.POLICY_VIOLATION);
		expect(customer.frames).toHaveLength(0);
		expect(customer.closeCode).toBeNull();
		// The relay counted the drops.
		const metrics = await (await server.fetch("/metrics")).text();
		expect(
			Number(/^fernwart_frames_dropped_total (\d+)$/m.exec(metrics)?.[1]),
		).toBeGreaterThanOrEqual(19);
		customer.close();
	});

	it("refuses a consent whose signature is not the customer's", async () => {
		const { supporter, customer } = await openPair(server, token);
		supporter.send({ type: "view.request" });
		await customer.next("view.request");
		// Signed with the supporter's key, sent on the customer's socket: not the customer's consent.
		const statement = {
			type: "view.grant",
			sessionId: customer.sessionId,
			details: {},
			timestamp: Date.now(),
		};
		const { signStatement } = await import("../../modules/sdk/crypto.ts");
		customer.send({
			type: "view.grant",
			statement,
			signature: await signStatement(supporter.keys.sign.privateKey, statement as never),
		});
		expect((await customer.next("error")).code).toBe("BAD_SIGNATURE");
		expect(customer.latestState()?.shower).toBeNull();
		supporter.close();
		customer.close();
	});

	it("STOP ends the session for both within 100 ms, and the protocol shows it", async () => {
		const { sessionId, supporter, customer } = await openPair(server, token);
		supporter.send({ type: "view.request" });
		await customer.next("view.request");
		await customer.consent("view.grant");
		await supporter.state((s) => s.shower === "customer");
		const started = performance.now();
		await customer.consent("stop");
		await Promise.all([
			supporter.until(() => supporter.closeCode !== null),
			customer.until(() => customer.closeCode !== null),
		]);
		const elapsed = performance.now() - started;
		expect(elapsed).toBeLessThan(100);
		expect(supporter.closeCode).toBe(CLOSE.STOPPED);
		expect(customer.closeCode).toBe(CLOSE.STOPPED);
		expect(supporter.messages).toContainEqual({ type: "end", reason: "stopped", by: "customer" });
		const expected = [
			"session.issued",
			"session.joined",
			"view.granted",
			"session.stopped",
			"session.ended",
		];
		expect(await waitForAuditTypes(server, sessionId, expected)).toEqual(
			expect.arrayContaining(expected),
		);
		const row = await server.json<{ endReason: string; state: { phase: string } }>(
			`/api/v1/sessions/${sessionId}`,
			{
				headers: bearer(token),
			},
		);
		expect(row.body.endReason).toBe("stopped");
		expect(row.body.state.phase).toBe("ended");
		// A new ticket for an ended session is refused.
		const t = await server.json(`/api/v1/sessions/${sessionId}/tickets`, {
			method: "POST",
			headers: bearer(token),
		});
		expect(t.status).toBe(410);
	});

	it("makes the receiving SDK reject a flipped ciphertext bit and a replayed frame", async () => {
		const { supporter, customer } = await openPair(server, token);
		const a = await supporter.seal(CHANNELS.chat, te.encode("first"));
		const b = await supporter.seal(CHANNELS.chat, te.encode("second"));
		const flipped = b.slice();
		flipped[flipped.length - 5] = (flipped[flipped.length - 5] ?? 0) ^ 1;
		supporter.sendFrame(a);
		supporter.sendFrame(flipped);
		supporter.sendFrame(a); // replay
		supporter.sendFrame(b);
		await customer.until(() => customer.frames.length >= 4);
		const results = [];
		for (const f of customer.frames) results.push(await customer.cipher?.open(f));
		expect(results.map((r) => (r?.ok ? "ok" : r?.reason))).toEqual([
			"ok",
			"auth-failed",
			"stale-seq",
			"ok",
		]);
		expect(parseHeader(flipped).ok).toBe(true); // the relay forwarded it; only the SDK can tell
		supporter.close();
		customer.close();
	});

	it("ends for both when the supporter ends it; another supporter cannot see or end it", async () => {
		const { sessionId, supporter, customer } = await openPair(server, token);
		const other = await createUserAs(server, token, {
			email: "bob@example.test",
			password: "another long password",
			role: "supporter",
		});
		const bob = await mustLogin(server, { email: other.email, password: "another long password" });
		const peek = await server.json(`/api/v1/sessions/${sessionId}`, {
			headers: bearer(bob.accessToken),
		});
		expect(peek.status).toBe(404);
		const steal = await server.json(`/api/v1/sessions/${sessionId}/tickets`, {
			method: "POST",
			headers: bearer(bob.accessToken),
		});
		expect(steal.status).toBe(404);
		const end = await server.fetch(`/api/v1/sessions/${sessionId}`, {
			method: "DELETE",
			headers: bearer(token),
		});
		expect(end.status).toBe(204);
		await customer.until(() => customer.closeCode !== null);
		await supporter.until(() => supporter.closeCode !== null);
		expect(customer.closeCode).toBe(CLOSE.ENDED);
		expect(customer.messages).toContainEqual({ type: "end", reason: "ended" });
	});

	it("refuses a second, different participant on a side that is connected", async () => {
		const sam = await createUserAs(server, token, {
			email: "sam@example.test",
			password: "sam's long password",
			role: "supporter",
		});
		const samToken = (
			await mustLogin(server, { email: sam.email, password: "sam's long password" })
		).accessToken;
		const { sessionId, supporter, customer } = await openPair(server, samToken);
		// The admin may manage Sam's session, but may not slip into Sam's seat: only an explicit
		// takeover (sessions-admission.test.ts) gets a ticket for it.
		const t = await server.json<{ error: { code: string } }>(
			`/api/v1/sessions/${sessionId}/tickets`,
			{ method: "POST", headers: bearer(token) },
		);
		expect(t.status).toBe(409);
		expect(t.body.error.code).toBe("TAKEOVER_REQUIRED");
		// Sam with a fresh ticket replaces his own socket (a resume).
		const again = await server.json<{ ticket: string }>(`/api/v1/sessions/${sessionId}/tickets`, {
			method: "POST",
			headers: bearer(samToken),
		});
		const resumed = await RawParticipant.connect(server, sessionId, again.body.ticket, "supporter");
		await supporter.until(() => supporter.closeCode !== null);
		expect(supporter.closeCode).toBe(CLOSE.REPLACED);
		resumed.close();
		customer.close();
	});

	it("refuses a used ticket and a ticket for another session", async () => {
		const one = await server.json<Created>("/api/v1/sessions", {
			body: {},
			headers: bearer(token),
		});
		const two = await server.json<Created>("/api/v1/sessions", {
			body: {},
			headers: bearer(token),
		});
		const t = await server.json<{ ticket: string }>(
			`/api/v1/sessions/${one.body.sessionId}/tickets`,
			{
				method: "POST",
				headers: bearer(token),
			},
		);
		const ws = await RawParticipant.connect(server, one.body.sessionId, t.body.ticket, "supporter");
		await expect(
			RawParticipant.connect(server, one.body.sessionId, t.body.ticket, "supporter"),
		).rejects.toThrow(/401/);
		await expect(
			RawParticipant.connect(server, two.body.sessionId, t.body.ticket, "supporter"),
		).rejects.toThrow(/401/);
		ws.close();
	});

	it("answers 1,000 wrong IDs from one address with at most 20 evaluations; the rest get 429", async () => {
		const statuses: number[] = [];
		const headers = from("198.51.100.77");
		for (let i = 0; i < 1000; i++) {
			const res = await server.json("/api/v1/sessions/join", {
				body: { code: String(10_000_000 + i), displayName: "x" },
				headers,
			});
			statuses.push(res.status);
		}
		expect(statuses.filter((s) => s === 404)).toHaveLength(20);
		expect(statuses.slice(20).every((s) => s === 429)).toBe(true);
		expect(statuses.every((s) => s === 404 || s === 429)).toBe(true);
	});

	it("keeps a hash chain over everything it wrote", () => {
		const rows = auditChain(server);
		expect(rows.length).toBeGreaterThan(20);
		return expect(findChainBreak(rows)).resolves.toBeNull();
	});
});
