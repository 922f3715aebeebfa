import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EventLine } from "../../protocol/audit-export.ts";
import {
	deleteLine,
	editByte,
	lineNumbers,
	linesOf,
	makeSigner,
	resignCheckpoint,
	swapLines,
	verifyCli as verifyCliIn,
} from "../helpers/audit.ts";
import { ADMIN, bearer, createUserAs, mustLogin } from "../helpers/auth.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { type Created, openPair } from "../helpers/sessions.ts";
import { queryDb } from "../helpers/sql.ts";

const dir = mkdtempSync(join(tmpdir(), "fernwart-audit-"));

const verifyCli = (text: string, name = "export.ndjson") => verifyCliIn(dir, name, text);

function events(text: string): EventLine[] {
	return linesOf(text)
		.map((l) => JSON.parse(l) as EventLine)
		.filter((l) => l.kind === "event");
}

describe("the audit protocol", () => {
	let server: TestServer;
	let token: string;
	const started = Date.now();
	/** The scripted session of the first test, shared by the ones after it. */
	let scripted: { sessionId: string; supporterKey: string; customerKey: string } | undefined;

	const exportText = async (query: string, as = token) => {
		const res = await server.fetch(`/api/v1/audit/export${query}`, { headers: bearer(as) });
		expect(res.status).toBe(200);
		expect(res.headers.get("content-type")).toContain("application/x-ndjson");
		return res.text();
	};

	/** STOP acts first and is written right after: waits for the record of the end. */
	const endRecorded = async (sessionId: string) => {
		const db = join(server.dataDir, "fernwart.db");
		const sql = "SELECT 1 FROM audit_events WHERE session_id = ? AND type = 'session.ended'";
		for (let i = 0; i < 100 && queryDb(db, sql, [sessionId]).length === 0; i++)
			await new Promise((r) => setTimeout(r, 50));
	};

	beforeAll(async () => {
		server = await startServer();
		token = (await mustLogin(server, ADMIN)).accessToken;
	});
	afterAll(async () => {
		await server?.stop();
		rmSync(dir, { recursive: true, force: true });
	});

	it("records terms, view, control, a file offer, a comment and STOP as exactly these events, in order", async () => {
		const { sessionId, joined, supporter, customer } = await openPair(server, token, {
			requireTerms: true,
		});
		await customer.consent("terms.accept", { sha256: joined.terms?.sha256 ?? "" });
		await supporter.state((s) => s.termsAccepted === true);
		supporter.send({ type: "view.request" });
		await customer.next("view.request");
		await customer.consent("view.grant");
		await supporter.state((s) => s.shower === "customer");
		supporter.send({ type: "control.request" });
		await customer.next("control.request");
		await customer.consent("control.grant");
		await supporter.state((s) => s.controller === "supporter");
		const sha256 = "ab".repeat(32);
		supporter.send({ type: "file.offer", id: 1, name: "driver.zip", size: 1234, sha256 });
		await customer.next("file.offer");
		supporter.send({ type: "comment", text: "updated the printer driver" });
		await customer.next("comment");
		await customer.consent("stop");
		await supporter.until(() => supporter.closeCode !== null);
		await endRecorded(sessionId);

		const text = await exportText(`?sessionId=${sessionId}`);
		const mine = events(text).filter((e) => e.sessionId === sessionId);
		// Session actors are `role:principal`; the issuing route records the user id itself.
		const me = await server.json<{ id: string }>("/api/v1/me", { headers: bearer(token) });
		expect(mine.map((e) => [e.type, e.actor?.split(":")[0]])).toEqual([
			["session.issued", me.body.id],
			["session.joined", "supporter"],
			["session.joined", "customer"],
			["session.hello", "supporter"],
			["session.hello", "customer"],
			["session.connected", "supporter"],
			["session.admitted", "supporter"],
			["terms.accepted", "customer"],
			["view.requested", "supporter"],
			["view.granted", "customer"],
			["control.requested", "supporter"],
			["control.granted", "customer"],
			["file.offered", "supporter"],
			["comment.added", "supporter"],
			["session.stopped", "customer"],
			["session.ended", "customer"],
		]);
		const byType = new Map(mine.map((e) => [e.type, e]));
		expect(byType.get("session.hello")?.data).toEqual({
			role: "customer",
			ed25519: customer.keys.ed25519,
		});
		expect(byType.get("terms.accepted")?.data).toMatchObject({
			termsSha256: joined.terms?.sha256,
			publicKey: customer.keys.ed25519,
			statement: { type: "terms.accept", sessionId },
		});
		expect(byType.get("file.offered")?.data).toEqual({
			id: 1,
			name: "driver.zip",
			size: 1234,
			sha256,
		});
		expect(byType.get("comment.added")?.data).toEqual({ text: "updated the printer driver" });
		expect(byType.get("session.stopped")?.data).toMatchObject({ by: "customer" });
		expect(byType.get("session.ended")?.data).toEqual({ reason: "stopped" });
		scripted = {
			sessionId,
			supporterKey: supporter.keys.ed25519,
			customerKey: customer.keys.ed25519,
		};

		// The session's own file verifies: all four consents are bound to the customer's key.
		const cli = verifyCli(text, "session.ndjson");
		expect(cli.code).toBe(0);
		expect(cli.out.trim().split("\n")).toHaveLength(1);
		expect(cli.out).toMatch(
			/intact: 16 events, \d+ redacted, .*4 consent signatures bound to session keys/,
		);
	});

	it("exports everything verifiably; one edited byte, a deleted, swapped or re-signed line fails, naming it", async () => {
		const text = await exportText("");
		const intact = verifyCli(text);
		expect(intact.code, intact.out).toBe(0);
		expect(intact.out).toMatch(/^\S+: intact: \d+ events, seq 1-\d+/);

		const comment = lineNumbers(text, "event", "comment.added")[0] as number;
		const edited = verifyCli(editByte(text, comment, "p", "P"), "edited.ndjson");
		expect(edited).toEqual({
			code: 1,
			out: `${join(dir, "edited.ndjson")}: line ${comment}: the event was changed: its hash does not match\n`,
		});

		const deleted = verifyCli(deleteLine(text, comment), "deleted.ndjson");
		expect(deleted.code).toBe(1);
		expect(deleted.out).toContain(`: line ${comment}: `);

		const evts = lineNumbers(text, "event");
		const pair = evts.find((n) => evts.includes(n + 1)) as number; // two adjacent event lines
		const swapped = verifyCli(swapLines(text, pair, pair + 1), "swapped.ndjson");
		expect(swapped.code).toBe(1);
		expect(swapped.out).toContain(`: line ${pair}: prevHash does not continue the chain`);

		const checkpoint = lineNumbers(text, "checkpoint").at(-1) as number;
		const resigned = verifyCli(
			await resignCheckpoint(text, checkpoint, await makeSigner()),
			"resigned.ndjson",
		);
		expect(resigned.code).toBe(1);
		expect(resigned.out).toContain(`: line ${checkpoint}: checkpoint: signature does not verify`);

		// The key that signed is the one the server publishes for its tokens.
		const jwks = await server.json<{ keys: { kid: string }[] }>("/.well-known/jwks.json");
		const header = JSON.parse(linesOf(text)[0] as string) as { keys: { kid: string }[] };
		expect(header.keys.map((k) => k.kid)).toEqual(jwks.body.keys.map((k) => k.kid));
	});

	it("reports the scripted session with its connected and controlled time, also as CSV", async () => {
		expect(scripted).toBeDefined();
		const { sessionId } = scripted as { sessionId: string };
		const mine = events(await exportText(`?sessionId=${sessionId}`)).filter(
			(e) => e.sessionId === sessionId,
		);
		const at = (type: string, nth = 0) => mine.filter((e) => e.type === type)[nth]?.ts as number;
		const ended = at("session.ended");
		const connectedMs = ended - at("session.joined", 1);
		const controlledMs = ended - at("control.granted");

		const report = await server.json<{
			rows: {
				group: string;
				label: string;
				sessions: number;
				connectedMs: number;
				controlledMs: number;
			}[];
		}>(`/api/v1/reports/sessions?from=${started}&groupBy=customer`, { headers: bearer(token) });
		expect(report.status).toBe(200);
		// Only the scripted session has a customer named Ann that was stopped by now; others in this
		// file are added later, so the "Ann" row is exactly it.
		expect(report.body.rows).toEqual([
			{ group: "Ann", label: "Ann", sessions: 1, connectedMs, controlledMs },
		]);
		expect(connectedMs).toBeGreaterThan(0);
		expect(controlledMs).toBeGreaterThan(0);

		const csv = await server.fetch(
			`/api/v1/reports/sessions?from=${new Date(started).toISOString()}&groupBy=customer&format=csv`,
			{ headers: bearer(token) },
		);
		expect(csv.headers.get("content-type")).toContain("text/csv");
		expect(await csv.text()).toBe(
			`customer,label,sessions,connected_seconds,controlled_seconds\r\nAnn,Ann,1,${Math.round(connectedMs / 1000)},${Math.round(controlledMs / 1000)}\r\n`,
		);
	});

	it("lets a supporter read and export only its own sessions, with the rest redacted", async () => {
		await createUserAs(server, token, {
			email: "sam@example.test",
			password: "a long enough password",
			role: "supporter",
		});
		const sam = (
			await mustLogin(server, { email: "sam@example.test", password: "a long enough password" })
		).accessToken;
		const own = await server.json<Created>("/api/v1/sessions", { body: {}, headers: bearer(sam) });
		expect(own.status).toBe(201);
		const { sessionId: other } = scripted as { sessionId: string };

		const list = await server.json<{ events: EventLine[] }>("/api/v1/audit?limit=1000", {
			headers: bearer(sam),
		});
		expect(list.status).toBe(200);
		expect(new Set(list.body.events.map((e) => e.sessionId))).toEqual(
			new Set([own.body.sessionId]),
		);
		const foreign = await server.fetch(`/api/v1/audit/export?sessionId=${other}`, {
			headers: bearer(sam),
		});
		expect(foreign.status).toBe(404);

		const text = await exportText("", sam);
		const lines = linesOf(text).map((l) => JSON.parse(l) as { kind: string; sessionId?: string });
		expect(
			lines.filter((l) => l.kind === "event").every((l) => l.sessionId === own.body.sessionId),
		).toBe(true);
		expect(lines.filter((l) => l.kind === "redacted").length).toBeGreaterThan(10);
		const cli = verifyCli(text, "sam.ndjson");
		expect(cli.code, cli.out).toBe(0);
		expect(cli.out).toMatch(/ redacted, /);
	});

	it("filters the list by session, type, user and time, newest first, with a cursor", async () => {
		const { sessionId } = scripted as { sessionId: string };
		const page = async (query: string) => {
			const res = await server.json<{ events: EventLine[]; nextCursor: string | null }>(
				`/api/v1/audit?${query}`,
				{ headers: bearer(token) },
			);
			expect(res.status).toBe(200);
			return res.body;
		};
		const first = await page(`sessionId=${sessionId}&limit=10`);
		expect(first.events).toHaveLength(10);
		expect(first.events[0]?.type).toBe("session.ended");
		const rest = await page(`sessionId=${sessionId}&limit=10&cursor=${first.nextCursor}`);
		expect(rest.events.map((e) => e.type).at(-1)).toBe("session.issued");
		expect(rest.nextCursor).toBeNull();
		const seqs = [...first.events, ...rest.events].map((e) => e.seq);
		expect(seqs).toEqual([...seqs].sort((a, b) => b - a));

		const control = await page(`sessionId=${sessionId}&type=control.*`);
		expect(control.events.map((e) => e.type)).toEqual(["control.granted", "control.requested"]);
		const logins = await page("type=user.login&from=2000-01-01T00:00:00Z");
		expect(logins.events.length).toBeGreaterThanOrEqual(2);
		const me = await server.json<{ id: string }>("/api/v1/me", { headers: bearer(token) });
		const byUser = await page(`userId=${me.body.id}&type=session.issued`);
		expect(byUser.events.map((e) => e.sessionId)).toContain(sessionId);
		// The user filter takes an e-mail address too; an unknown one matches nothing.
		const byEmail = await page(`userId=${encodeURIComponent(ADMIN.email)}&type=session.issued`);
		expect(byEmail.events.map((e) => e.seq)).toEqual(byUser.events.map((e) => e.seq));
		expect((await page("userId=nobody%40example.test")).events).toEqual([]);
		// People, hosts and customers come with readable names, not ids.
		const named = (
			await server.json<{ names: Record<string, string> }>(`/api/v1/audit?sessionId=${sessionId}`, {
				headers: bearer(token),
			})
		).body.names;
		expect(named[me.body.id]).toContain(ADMIN.email);
		expect(named[sessionId]).toBe("Ann");
		expect((await page(`from=${Date.now() + 60_000}`)).events).toEqual([]);
		const bad = await server.json("/api/v1/audit?from=yesterday", { headers: bearer(token) });
		expect(bad.status).toBe(400);
	});

	it("signs a checkpoint on its own after 100 events", async () => {
		const db = join(server.dataDir, "fernwart.db");
		const count = () =>
			Number(queryDb(db, "SELECT count(*) AS n FROM audit_checkpoints")[0]?.n ?? 0);
		const before = count();
		const { supporter, customer } = await openPair(server, token);
		for (let i = 0; i < 105; i++) supporter.send({ type: "comment", text: `note ${i}` });
		await customer.until(
			() =>
				customer.messages.filter((m) => (m as { type: string }).type === "comment").length === 105,
			20_000,
		);
		// Signed right after the append that made 100 answered; give it a moment.
		for (let i = 0; i < 50 && count() === before; i++) await new Promise((r) => setTimeout(r, 100));
		expect(count()).toBeGreaterThan(before);
		const [latest] = queryDb(
			db,
			"SELECT seq, kid, jws FROM audit_checkpoints ORDER BY seq DESC LIMIT 1",
		);
		expect(String(latest?.jws).split(".")).toHaveLength(3);
		supporter.close();
		customer.close();
	});

	it("cuts whole sessions at a signed checkpoint for retention, and later exports still verify", async () => {
		const db = join(server.dataDir, "fernwart.db");
		// A session that is over, then a checkpoint (an export signs the head)…
		const old = await openPair(server, token);
		await old.customer.consent("stop");
		await old.supporter.until(() => old.supporter.closeCode !== null);
		await endRecorded(old.sessionId);
		await exportText("");
		// …then a running session that a second checkpoint splits: it must survive whole.
		const running = await openPair(server, token);
		await exportText("");
		running.supporter.send({ type: "comment", text: "still working" });
		await running.customer.next("comment");

		const off = await server.json("/api/v1/audit/retention", { body: {}, headers: bearer(token) });
		expect(off.status).toBe(400); // the setting is 0: retention is off
		const cut = await server.json<{ cut: { seq: number; hash: string }; deletedEvents: number }>(
			"/api/v1/audit/retention",
			{ body: { olderThanDays: 0 }, headers: bearer(token) },
		);
		expect(cut.status).toBe(200);
		expect(cut.body.deletedEvents).toBeGreaterThan(0);
		const count = (sql: string, args: string[] = []) => Number(queryDb(db, sql, args)[0]?.n ?? 0);
		expect(
			count("SELECT count(*) AS n FROM audit_events WHERE session_id = ?", [old.sessionId]),
		).toBe(0);
		expect(count("SELECT count(*) AS n FROM consents WHERE session_id = ?", [old.sessionId])).toBe(
			0,
		);
		const kept = queryDb(db, "SELECT type FROM audit_events WHERE session_id = ? ORDER BY seq", [
			running.sessionId,
		]).map((r) => r.type);
		expect(kept.slice(0, 2)).toEqual(["session.issued", "session.joined"]);
		expect(kept.at(-1)).toBe("comment.added");
		expect(count("SELECT min(seq) AS n FROM audit_events")).toBe(cut.body.cut.seq + 1);

		const text = await exportText("");
		const header = JSON.parse(linesOf(text)[0] as string) as { start: { seq: number } };
		expect(header.start.seq).toBe(cut.body.cut.seq);
		const after = verifyCli(text, "after-cut.ndjson");
		expect(after.code, after.out).toBe(0);
		const retention = events(text).find((e) => e.type === "audit.retention_applied");
		expect(retention?.data).toMatchObject({ days: 0, cutSeq: cut.body.cut.seq });
		running.supporter.close();
		running.customer.close();
	});
});
