import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLOSE } from "../../protocol/control.ts";
import { ADMIN, bearer, createUserAs, type ErrorBody, from, mustLogin } from "../helpers/auth.ts";
import { CHANNELS, RawParticipant } from "../helpers/raw-session.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { auditTypes, type Created, type Joined, openPair } from "../helpers/sessions.ts";
import { queryDb } from "../helpers/sql.ts";

const te = new TextEncoder();

async function settle(ms = 300) {
	await new Promise((r) => setTimeout(r, ms));
}

interface AdmissionState {
	status: string;
	name: string | null;
	address: string | null;
	joinedAt: number;
}
const admissionOf = (s: Record<string, unknown>) => s.admission as AdmissionState | null;

/** Audit rows of one type for a session, with their data. */
function rows(server: TestServer, sessionId: string, type: string) {
	return queryDb(
		join(server.dataDir, "fernwart.db"),
		"SELECT actor, ip, data FROM audit_events WHERE session_id = ? AND type = ? ORDER BY seq",
		[sessionId, type],
	).map((r) => ({
		actor: r.actor as string | null,
		ip: r.ip as string | null,
		data: JSON.parse(String(r.data)) as Record<string, unknown>,
	}));
}

describe("admission: a customer waits until the supporter admits them", () => {
	let server: TestServer;
	let token: string;
	beforeAll(async () => {
		server = await startServer();
		token = (await mustLogin(server, ADMIN)).accessToken;
	});
	afterAll(async () => {
		await server?.stop();
	});

	it("shows the supporter who joined, and lets nothing but the handshake and the terms flow before admission", async () => {
		const before = Date.now();
		const { sessionId, joined, supporter, customer } = await openPair(server, token, {
			requireTerms: true,
			admit: false,
			joinHeaders: from("203.0.113.7"),
		});
		const waiting = admissionOf(await supporter.state((s) => admissionOf(s) !== null));
		expect(waiting).toMatchObject({ status: "waiting", name: "Ann", address: "203.0.113.7" });
		expect(waiting?.joinedAt).toBeGreaterThanOrEqual(before - 1000);
		expect(waiting?.joinedAt).toBeLessThanOrEqual(Date.now());
		expect(admissionOf(customer.latestState() ?? {})?.status).toBe("waiting");

		// The terms may be accepted while waiting.
		await customer.consent("terms.accept", { sha256: joined.terms?.sha256 ?? "" });
		await supporter.state((s) => s.termsAccepted === true);

		// Nothing else: requests, grants, comments and chat frames are held back by the relay.
		const errorsBefore = supporter.messages.length;
		supporter.send({ type: "view.request" });
		supporter.send({ type: "comment", text: "hello there" });
		await supporter.until(
			() =>
				supporter.messages
					.slice(errorsBefore)
					.filter((m) => (m as { type: string }).type === "error").length >= 2,
		);
		await customer.consent("view.grant");
		const refused = (await customer.next("error")) as { code: string; message: string };
		expect(refused).toMatchObject({ code: "NOT_ALLOWED" });
		expect(refused.message).toMatch(/admitted/);
		customer.sendFrame(await customer.seal(CHANNELS.chat, te.encode("secret")));
		supporter.sendFrame(await supporter.seal(CHANNELS.chat, te.encode("secret")));
		// The customer cannot admit itself.
		customer.send({ type: "admit" });
		await settle();
		expect(supporter.frames).toHaveLength(0);
		expect(customer.frames).toHaveLength(0);
		expect(
			customer.messages.some((m) =>
				["view.request", "comment"].includes((m as { type: string }).type),
			),
		).toBe(false);
		expect(admissionOf(supporter.latestState() ?? {})?.status).toBe("waiting");

		// Admitted: the session works as before.
		supporter.send({ type: "admit" });
		await customer.state((s) => admissionOf(s)?.status === "admitted");
		customer.sendFrame(await customer.seal(CHANNELS.chat, te.encode("hi")));
		await supporter.until(() => supporter.frames.length === 1);
		const admitted = rows(server, sessionId, "session.admitted");
		expect(admitted).toHaveLength(1);
		expect(admitted[0]?.actor).toMatch(/^supporter:/);
		expect(admitted[0]?.data).toMatchObject({ name: "Ann", address: "203.0.113.7" });
		// A second admit is refused; so is a refusal after the admission.
		supporter.send({ type: "refuse" });
		await supporter.until(() =>
			supporter.messages.some(
				(m) => (m as { message?: string }).message === "nobody is waiting for admission",
			),
		);
		supporter.close();
		customer.close();
	});

	it("refuses a customer: both sockets close with 4011, the session ends and the ID stays dead", async () => {
		const { sessionId, code, joined, supporter, customer } = await openPair(server, token, {
			admit: false,
		});
		supporter.send({ type: "refuse" });
		expect(await customer.next("end")).toMatchObject({ reason: "refused", by: "supporter" });
		await customer.until(() => customer.closeCode !== null);
		await supporter.until(() => supporter.closeCode !== null);
		expect(customer.closeCode).toBe(CLOSE.REFUSED);
		expect(supporter.closeCode).toBe(CLOSE.REFUSED);
		const types = await pollUntil(() => {
			const t = auditTypes(server, sessionId);
			return t.includes("session.ended") ? t : null;
		});
		expect(types.slice(-2)).toEqual(["session.refused", "session.ended"]);
		expect(rows(server, sessionId, "session.ended")[0]?.data).toMatchObject({ reason: "refused" });
		expect(rows(server, sessionId, "session.refused")[0]?.data).toMatchObject({ name: "Ann" });

		const again = await server.json("/api/v1/sessions/join", {
			body: { code, displayName: "Ann" },
		});
		expect(again.status).toBe(404);
		const resume = await server.json<ErrorBody>(`/api/v1/sessions/${sessionId}/tickets`, {
			body: { resumeToken: joined.resumeToken },
		});
		expect(resume.status).toBe(410);
		const view = await server.json<{ endReason: string }>(`/api/v1/sessions/${sessionId}`, {
			method: "GET",
			headers: bearer(token),
		});
		expect(view.body.endReason).toBe("refused");
	});

	it("lets a join straight in when the organisation switched admission off", async () => {
		const off = await server.json<{ requireAdmission: boolean }>("/api/v1/settings", {
			method: "PATCH",
			body: { requireAdmission: false },
			headers: bearer(token),
		});
		expect(off.status).toBe(200);
		expect(off.body.requireAdmission).toBe(false);
		try {
			const { supporter, customer } = await openPair(server, token);
			const state = customer.latestState() ?? {};
			expect(admissionOf(state)?.status).toBe("admitted");
			customer.sendFrame(await customer.seal(CHANNELS.chat, te.encode("hi")));
			await supporter.until(() => supporter.frames.length === 1);
			supporter.close();
			customer.close();
		} finally {
			await server.json("/api/v1/settings", {
				method: "PATCH",
				body: { requireAdmission: true },
				headers: bearer(token),
			});
		}
	});
});

describe("admin takeover of a supporter's seat", () => {
	let server: TestServer;
	let adminToken: string;
	let samToken: string;
	beforeAll(async () => {
		server = await startServer();
		adminToken = (await mustLogin(server, ADMIN)).accessToken;
		const sam = { email: "sam@example.test", password: "sam's long password 1" };
		await createUserAs(server, adminToken, { ...sam, displayName: "Sam", role: "supporter" });
		samToken = (await mustLogin(server, sam)).accessToken;
	});
	afterAll(async () => {
		await server?.stop();
	});

	it("needs takeover: true, ends the previous supporter's socket and grants, and is shown to the customer", async () => {
		const { sessionId, supporter, customer } = await openPair(server, samToken);
		await customer.consent("view.grant");
		await supporter.state((s) => s.shower === "customer");
		supporter.send({ type: "control.request" });
		await customer.next("control.request");
		await customer.consent("control.grant");
		await supporter.state((s) => s.controller === "supporter");

		// Without saying so, an admin gets a clear refusal and nothing changes.
		const silent = await server.json<ErrorBody>(`/api/v1/sessions/${sessionId}/tickets`, {
			method: "POST",
			headers: bearer(adminToken),
		});
		expect(silent.status).toBe(409);
		expect(silent.body.error.code).toBe("TAKEOVER_REQUIRED");
		await settle(200);
		expect(supporter.closeCode).toBeNull();
		expect(customer.latestState()?.controller).toBe("supporter");

		const taken = await server.json<{ ticket: string }>(`/api/v1/sessions/${sessionId}/tickets`, {
			body: { takeover: true },
			headers: { ...bearer(adminToken), ...from("198.51.100.9") },
		});
		expect(taken.status).toBe(200);
		expect(await supporter.next("end")).toMatchObject({ reason: "taken-over" });
		await supporter.until(() => supporter.closeCode !== null);
		expect(supporter.closeCode).toBe(CLOSE.TAKEN_OVER);
		const after = await customer.state((s) => s.takeover !== null && s.takeover !== undefined);
		expect(after).toMatchObject({ shower: null, controller: null, phase: "waiting" });
		expect(after.takeover).toMatchObject({ name: "Administrator" });
		expect(admissionOf(after)?.status).toBe("admitted");
		const audited = (
			await pollUntil(() => {
				const r = rows(server, sessionId, "session.taken_over");
				return r.length > 0 ? r : null;
			})
		)[0];
		expect(audited?.ip).toBe("198.51.100.9");
		expect(audited?.data).toMatchObject({ name: "Administrator" });
		expect(String(audited?.actor)).toMatch(/^supporter:/);

		// The admin starts a new handshake; the customer's old grants do not carry over.
		const admin = await RawParticipant.connect(server, sessionId, taken.body.ticket, "supporter");
		const mark = customer.messages.length;
		await admin.hello();
		const commitment = (await customer.next("peer", mark)).hello as { ed25519: string };
		expect(commitment.ed25519).toBe(admin.keys.ed25519);
		await customer.hello();
		const customerHello = (await admin.next("peer")).hello as { x25519: string; ed25519: string };
		admin.reveal();
		const reveal = (await customer.next("key.reveal", mark)) as { x25519: string };
		const sasA = await admin.derive(customerHello, "customer");
		const sasC = await customer.derive(
			{ x25519: reveal.x25519, ed25519: commitment.ed25519 },
			"supporter",
		);
		expect(sasA).toBe(sasC);
		await customer.state((s) => s.phase === "active");
		customer.sendFrame(await customer.seal(CHANNELS.screen, te.encode("jpeg"), 1));
		await settle();
		expect(admin.frames).toHaveLength(0); // no view grant for the new supporter yet
		await customer.consent("view.grant");
		await admin.state((s) => s.shower === "customer");
		customer.sendFrame(await customer.seal(CHANNELS.screen, te.encode("jpeg"), 1));
		await admin.until(() => admin.frames.length === 1);

		// The seat is the admin's: further tickets need no flag, the previous supporter's open nothing.
		const resume = await server.json<{ ticket: string }>(`/api/v1/sessions/${sessionId}/tickets`, {
			method: "POST",
			headers: bearer(adminToken),
		});
		expect(resume.status).toBe(200);
		const samTicket = await server.json<{ ticket: string }>(
			`/api/v1/sessions/${sessionId}/tickets`,
			{ method: "POST", headers: bearer(samToken) },
		);
		expect(samTicket.status).toBe(200);
		await expect(
			RawParticipant.connect(server, sessionId, samTicket.body.ticket, "supporter"),
		).rejects.toThrow(/401/);
		admin.close();
		customer.close();
	});

	it("is refused for an ended session, and an admin's own session needs no flag", async () => {
		const own = await server.json<Created>("/api/v1/sessions", {
			body: {},
			headers: bearer(adminToken),
		});
		const t = await server.json(`/api/v1/sessions/${own.body.sessionId}/tickets`, {
			method: "POST",
			headers: bearer(adminToken),
		});
		expect(t.status).toBe(200);

		const theirs = await server.json<Created>("/api/v1/sessions", {
			body: {},
			headers: bearer(samToken),
		});
		await server.json<Joined>("/api/v1/sessions/join", {
			body: { code: theirs.body.code, displayName: "Ann" },
		});
		await server.json(`/api/v1/sessions/${theirs.body.sessionId}`, {
			method: "DELETE",
			headers: bearer(samToken),
		});
		const late = await server.json<ErrorBody>(`/api/v1/sessions/${theirs.body.sessionId}/tickets`, {
			body: { takeover: true },
			headers: bearer(adminToken),
		});
		expect(late.status).toBe(410);
	});
});

/** Polls `read` until it returns something (the actor writes some rows after answering). */
async function pollUntil<T>(read: () => T | null, timeoutMs = 5000): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = read();
		if (value !== null) return value;
		if (Date.now() > deadline) throw new Error("timed out");
		await settle(50);
	}
}
