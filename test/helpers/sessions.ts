import { join } from "node:path";
import { expect } from "vitest";
import type { AuditEvent } from "../../schema/audit.ts";
import { bearer } from "./auth.ts";
import { RawParticipant } from "./raw-session.ts";
import type { TestServer } from "./server.ts";
import { queryDb } from "./sql.ts";

export interface Created {
	sessionId: string;
	code: string;
	expiresAt: number;
}
export interface Joined {
	sessionId: string;
	ticket: string;
	resumeToken: string;
	terms: { text: string; sha256: string } | null;
}

/** Rows of the audit protocol for one session, oldest first. */
export function auditTypes(server: TestServer, sessionId: string): string[] {
	return queryDb(
		join(server.dataDir, "fernwart.db"),
		"SELECT type FROM audit_events WHERE session_id = ? ORDER BY seq",
		[sessionId],
	).map((r) => String(r.type));
}

/**
 * The session's audit types once all of `needed` are among them (or after `timeoutMs`): audit
 * rows are written after the actor answered, so a test waits for them instead of for a delay.
 */
export async function waitForAuditTypes(
	server: TestServer,
	sessionId: string,
	needed: string[],
	timeoutMs = 10_000,
): Promise<string[]> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const types = auditTypes(server, sessionId);
		if (needed.every((t) => types.includes(t)) || Date.now() > deadline) return types;
		await new Promise((r) => setTimeout(r, 100));
	}
}

export function auditChain(server: TestServer): AuditEvent[] {
	return queryDb(
		join(server.dataDir, "fernwart.db"),
		"SELECT * FROM audit_events ORDER BY seq",
	).map((r) => ({
		seq: Number(r.seq),
		id: String(r.id),
		ts: new Date(Number(r.ts)),
		type: String(r.type),
		actor: (r.actor as string | null) ?? null,
		subject: (r.subject as string | null) ?? null,
		sessionId: (r.session_id as string | null) ?? null,
		hostId: (r.host_id as string | null) ?? null,
		ip: (r.ip as string | null) ?? null,
		data: r.data === null ? null : JSON.parse(String(r.data)),
		prevHash: String(r.prev_hash),
		hash: String(r.hash),
	}));
}

/**
 * Issues a session as the admin, joins it as a customer and completes the handshake (commitment,
 * key, reveal) with two raw participants, as docs/protocol.md §4 orders it; then the supporter
 * admits the customer if the session asks for admission (the default), unless `admit: false`.
 */
export async function openPair(
	server: TestServer,
	token: string,
	options: { requireTerms?: boolean; admit?: boolean; joinHeaders?: Record<string, string> } = {},
) {
	const created = await server.json<Created>("/api/v1/sessions", {
		body: { requireTerms: options.requireTerms ?? false },
		headers: bearer(token),
	});
	expect(created.status).toBe(201);
	const { sessionId, code } = created.body;
	const joined = await server.json<Joined>("/api/v1/sessions/join", {
		body: { code, displayName: "Ann" },
		headers: options.joinHeaders ?? {},
	});
	expect(joined.status).toBe(200);
	const t = await server.json<{ ticket: string }>(`/api/v1/sessions/${sessionId}/tickets`, {
		method: "POST",
		headers: bearer(token),
	});
	const supporter = await RawParticipant.connect(server, sessionId, t.body.ticket, "supporter");
	const customer = await RawParticipant.connect(server, sessionId, joined.body.ticket, "customer");
	await supporter.hello();
	const commitment = (await customer.next("peer")).hello as { ed25519: string };
	await customer.hello();
	const customerHello = (await supporter.next("peer")).hello as { x25519: string; ed25519: string };
	supporter.reveal();
	const reveal = (await customer.next("key.reveal")) as { x25519: string };
	const sasS = await supporter.derive(customerHello, "customer");
	const sasC = await customer.derive(
		{ x25519: reveal.x25519, ed25519: commitment.ed25519 },
		"supporter",
	);
	const active = await customer.state((s) => s.phase === "active");
	const admission = active.admission as { status: string } | null | undefined;
	if (admission?.status === "waiting" && options.admit !== false) {
		supporter.send({ type: "admit" });
		await customer.state((s) => (s.admission as { status: string }).status === "admitted");
		await supporter.state((s) => (s.admission as { status: string }).status === "admitted");
	}
	return { sessionId, code, joined: joined.body, supporter, customer, sasS, sasC };
}
