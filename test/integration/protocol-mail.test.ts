import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyExportFile } from "../../server/audit-verify.ts";
import {
	ADMIN,
	bearer,
	createUserAs,
	type ErrorBody,
	from,
	mustLogin,
	type Session,
} from "../helpers/auth.ts";
import { makeDataDir, startServer, type TestServer } from "../helpers/server.ts";
import { auditChain, auditTypes, openPair, waitForAuditTypes } from "../helpers/sessions.ts";
import { type MimePart, mimeParts, type ReceivedMail, startSmtp } from "../helpers/smtp.ts";

const PASSWORD = "a long enough password 1";
const CUSTOMER_EMAIL = "ann.customer@example.test";

interface GroupView {
	id: string;
	name: string;
	mailProtocol: boolean;
}

/** The mail's text part and its attachment (decoded), or a failed expectation. */
function partsOf(mail: ReceivedMail): { text: string; attachment: MimePart } {
	const parts = mimeParts(mail.raw);
	const text = parts.find((p) => (p.headers["content-type"] ?? "").startsWith("text/plain"));
	const attachment = parts.find((p) => /filename=/.test(p.headers["content-disposition"] ?? ""));
	if (!text || !attachment) throw new Error(`expected a text and an attachment:\n${mail.raw}`);
	return { text: text.body.toString("utf8"), attachment };
}

/** Mails that carry this session's protocol (the session id is in the attachment's name). */
function mailsFor(mails: ReceivedMail[], sessionId: string): ReceivedMail[] {
	return mails.filter((m) => m.raw.includes(`fernwart-session-${sessionId}.ndjson`));
}

describe("the protocol by e-mail, through the admin's own SMTP server", () => {
	let smtp: Awaited<ReturnType<typeof startSmtp>>;
	let server: TestServer;
	let admin: Session;
	let mailer: Session;
	let quiet: Session;
	let dir: string;

	/** Waits until `count` mails for the session arrived. */
	async function waitForMails(sessionId: string, count: number): Promise<ReceivedMail[]> {
		const deadline = Date.now() + 20_000;
		for (;;) {
			const found = mailsFor(smtp.mails, sessionId);
			if (found.length >= count) return found;
			if (Date.now() > deadline)
				throw new Error(`expected ${count} mails for ${sessionId}, got ${found.length}`);
			await new Promise((r) => setTimeout(r, 100));
		}
	}

	/** Verifies an attachment with the CLI's own code path (`fernwart audit verify FILE`). */
	async function verifyAttachment(attachment: MimePart, name: string) {
		const path = join(dir, name);
		writeFileSync(path, attachment.body);
		return verifyExportFile(path);
	}

	beforeAll(async () => {
		dir = mkdtempSync(join(tmpdir(), "fernwart-protocol-mail-"));
		smtp = await startSmtp();
		server = await startServer({
			env: { SMTP_URL: `smtp://127.0.0.1:${smtp.port}/?from=fernwart@example.test` },
		});
		admin = await mustLogin(server, ADMIN);
		for (const name of ["Mailers", "Quiet"]) {
			const made = await server.json<GroupView>("/api/v1/groups", {
				body: { name },
				headers: bearer(admin.accessToken),
			});
			expect(made.status).toBe(201);
			expect(made.body.mailProtocol).toBe(false); // off by default
			if (name === "Mailers") {
				const on = await server.json<GroupView>(`/api/v1/groups/${made.body.id}`, {
					method: "PATCH",
					body: { mailProtocol: true },
					headers: bearer(admin.accessToken),
				});
				expect(on.status).toBe(200);
				expect(on.body).toMatchObject({ name: "Mailers", mailProtocol: true });
			}
		}
		await createUserAs(server, admin.accessToken, {
			email: "mia.mailer@example.test",
			password: PASSWORD,
			displayName: "Mia Mailer",
			groups: ["Mailers"],
		});
		await createUserAs(server, admin.accessToken, {
			email: "quinn.quiet@example.test",
			password: PASSWORD,
			groups: ["Quiet"],
		});
		mailer = await mustLogin(server, { email: "mia.mailer@example.test", password: PASSWORD });
		quiet = await mustLogin(server, { email: "quinn.quiet@example.test", password: PASSWORD });
	});
	afterAll(async () => {
		await server?.stop();
		await smtp?.close();
		if (dir) rmSync(dir, { recursive: true, force: true });
	});

	it("changes the group setting through PATCH, audited, and refuses an empty change", async () => {
		const list = await server.json<{ groups: GroupView[] }>("/api/v1/groups", {
			headers: bearer(admin.accessToken),
		});
		const quietGroup = list.body.groups.find((g) => g.name === "Quiet") as GroupView;
		expect(quietGroup.mailProtocol).toBe(false);
		const empty = await server.json<ErrorBody>(`/api/v1/groups/${quietGroup.id}`, {
			method: "PATCH",
			body: {},
			headers: bearer(admin.accessToken),
		});
		expect(empty.status).toBe(400);
		expect(empty.body.error.code).toBe("INVALID_REQUEST");
		const wrongType = await server.json<ErrorBody>(`/api/v1/groups/${quietGroup.id}`, {
			method: "PATCH",
			body: { mailProtocol: "yes" },
			headers: bearer(admin.accessToken),
		});
		expect(wrongType.body.error.code).toBe("INVALID_REQUEST");
		const bySupporter = await server.json<ErrorBody>(`/api/v1/groups/${quietGroup.id}`, {
			method: "PATCH",
			body: { mailProtocol: true },
			headers: bearer(mailer.accessToken),
		});
		expect(bySupporter.status).toBe(403);
		const updates = auditChain(server).filter((e) => e.type === "group.policy_updated");
		expect(updates).toHaveLength(1); // the Mailers group's switch, from beforeAll
		expect(updates[0]?.data).toEqual({ mailProtocol: true });
	});

	it("mails the supporter a summary with a verifiable excerpt, once, and nothing when the group's setting is off", async () => {
		// A session of a group with the setting off: no copy offered, and no mail.
		const off = await openPair(server, quiet.accessToken);
		expect((off.joined as { protocolCopy?: boolean }).protocolCopy).toBe(false);
		const refused = await server.json<ErrorBody>(
			`/api/v1/sessions/${off.sessionId}/protocol-copy`,
			{ body: { resumeToken: off.joined.resumeToken, email: CUSTOMER_EMAIL, agree: true } },
		);
		expect(refused.status).toBe(409);
		expect(refused.body.error.code).toBe("PROTOCOL_MAIL_OFF");
		const offEnd = await server.fetch(`/api/v1/sessions/${off.sessionId}`, {
			method: "DELETE",
			headers: bearer(quiet.accessToken),
		});
		expect(offEnd.status).toBe(204);
		await waitForAuditTypes(server, off.sessionId, ["session.ended"]);

		const on = await openPair(server, mailer.accessToken);
		expect((on.joined as { protocolCopy?: boolean }).protocolCopy).toBe(true);
		on.supporter.send({ type: "view.request" });
		await on.customer.next("view.request");
		await on.customer.consent("view.grant");
		await on.supporter.state((s) => s.shower === "customer");
		on.supporter.send({ type: "comment", text: "Printer driver reinstalled" });
		await waitForAuditTypes(server, on.sessionId, ["comment.added"]);
		// Ending twice (the second finds it ended) still makes one mail.
		for (let i = 0; i < 2; i++) {
			const res = await server.fetch(`/api/v1/sessions/${on.sessionId}`, {
				method: "DELETE",
				headers: bearer(mailer.accessToken),
			});
			expect(res.status).toBe(204);
		}

		const [mail] = await waitForMails(on.sessionId, 1);
		expect(mail?.to).toEqual(["mia.mailer@example.test"]);
		expect(mail?.raw).toMatch(/^Subject: Fernwart: Session protocol \/ Sitzungsprotokoll/m);
		const { text, attachment } = partsOf(mail as ReceivedMail);
		expect(text).toContain(`Session: ${on.sessionId}`);
		expect(text).toContain("Supporter: Mia Mailer <mia.mailer@example.test>");
		expect(text).toContain("Customer: Ann");
		expect(text).toContain("Screen view granted (the customer shows) [signed]");
		expect(text).toContain("Comment: Printer driver reinstalled");
		expect(text).toContain("Session ended (by the supporter or an admin)");
		expect(text).toContain("Bildschirmansicht erlaubt (Kunde zeigt) [signiert]");
		expect(text).toContain("Kommentar: Printer driver reinstalled");
		expect(attachment.headers["content-type"]).toMatch(/^application\/x-ndjson/);

		const verdict = await verifyAttachment(attachment, "supporter.ndjson");
		expect(verdict).toMatchObject({ ok: true });
		if (!verdict.ok) return;
		expect(verdict.summary.scope.sessionId).toBe(on.sessionId);
		expect(verdict.summary.consents).toBeGreaterThan(0);
		const types = attachment.body
			.toString("utf8")
			.trim()
			.split("\n")
			.map((l) => JSON.parse(l) as { kind: string; type?: string; sessionId?: string })
			.filter((l) => l.kind === "event");
		// Only this session's events are in full; everything else is redacted.
		expect(types.every((e) => e.sessionId === on.sessionId)).toBe(true);
		expect(types.map((e) => e.type)).toEqual(
			expect.arrayContaining(["session.issued", "view.granted", "comment.added", "session.ended"]),
		);

		const after = await waitForAuditTypes(server, on.sessionId, ["session.protocol_mailed"]);
		expect(after.filter((t) => t === "session.protocol_mailed")).toHaveLength(1);
		// The off session ended first and its alarm has long run: it sent nothing, and nothing more
		// came for the other.
		expect(mailsFor(smtp.mails, off.sessionId)).toHaveLength(0);
		expect(mailsFor(smtp.mails, on.sessionId)).toHaveLength(1);
	});

	it("mails a copy to a customer who gave an address and agreed, and none to one who did not", async () => {
		// Session A: the customer asks for nothing.
		const a = await openPair(server, mailer.accessToken);
		// Session B: the customer asks for a copy in German, after some bad attempts.
		const b = await openPair(server, mailer.accessToken);
		const copy = `/api/v1/sessions/${b.sessionId}/protocol-copy`;
		const token = b.joined.resumeToken;
		const bad = async (body: unknown) =>
			(await server.json<ErrorBody>(copy, { body, headers: from("203.0.113.7") })).body.error.code;
		expect(await bad({ resumeToken: token, email: "not an address", agree: true })).toBe(
			"INVALID_EMAIL",
		);
		expect(await bad({ resumeToken: token, email: CUSTOMER_EMAIL, agree: false })).toBe(
			"AGREEMENT_REQUIRED",
		);
		expect(await bad({ resumeToken: token, email: CUSTOMER_EMAIL })).toBe("INVALID_REQUEST");
		expect(
			await bad({
				resumeToken: a.joined.resumeToken.replace(/.$/, "x"),
				email: CUSTOMER_EMAIL,
				agree: true,
			}),
		).toBe("SESSION_NOT_FOUND");
		expect(
			await bad({ resumeToken: a.joined.resumeToken, email: CUSTOMER_EMAIL, agree: true, x: 1 }),
		).toBe("INVALID_REQUEST");
		const ok = await server.fetch(copy, {
			method: "POST",
			headers: { "content-type": "application/json", ...from("203.0.113.7") },
			body: JSON.stringify({ resumeToken: token, email: CUSTOMER_EMAIL, agree: true, lang: "de" }),
		});
		expect(ok.status).toBe(204);
		await waitForAuditTypes(server, b.sessionId, ["session.protocol_requested"]);

		for (const s of [a.sessionId, b.sessionId]) {
			const res = await server.fetch(`/api/v1/sessions/${s}`, {
				method: "DELETE",
				headers: bearer(mailer.accessToken),
			});
			expect(res.status).toBe(204);
		}
		const forB = await waitForMails(b.sessionId, 2);
		const toCustomer = forB.filter((m) => m.to.includes(CUSTOMER_EMAIL));
		expect(toCustomer).toHaveLength(1);
		const { text, attachment } = partsOf(toCustomer[0] as ReceivedMail);
		expect(toCustomer[0]?.raw).toMatch(/^Subject: Fernwart: Sitzungsprotokoll /m);
		expect(text).toContain("Protokoll der Fernwartungssitzung");
		expect(text).toContain("Kunde bat um eine Kopie dieses Protokolls per E-Mail");
		expect(text).not.toContain("Session protocol");
		// Nobody confirmed the customer's address: the body names the supporter, not their address.
		expect(text).toMatch(/^Supporter: Mia Mailer\r?$/m);
		expect(text).not.toContain("mia.mailer@example.test");
		const verdict = await verifyAttachment(attachment, "customer.ndjson");
		expect(verdict).toMatchObject({ ok: true });

		// A's customer asked for nothing: its supporter alone got the protocol (A ended first).
		const forA = mailsFor(smtp.mails, a.sessionId);
		expect(forA.map((m) => m.to)).toEqual([["mia.mailer@example.test"]]);

		// The protocol says a copy was asked for and went out, to whom by role, never the address.
		await expect
			.poll(() =>
				auditChain(server)
					.filter((e) => e.sessionId === b.sessionId && e.type === "session.protocol_mailed")
					.map((e) => (e.data as { to: string }).to)
					.sort(),
			)
			.toEqual(["customer", "supporter"]);
		expect(auditTypes(server, b.sessionId)).toContain("session.protocol_requested");
		const chain = JSON.stringify(auditChain(server));
		expect(chain).not.toContain(CUSTOMER_EMAIL);
		expect(server.output()).not.toContain(CUSTOMER_EMAIL);

		// After the end a copy can no longer be asked for.
		const late = await server.json<ErrorBody>(copy, {
			body: { resumeToken: token, email: CUSTOMER_EMAIL, agree: true },
		});
		expect(late.body.error.code).toBe("SESSION_ENDED");
	});

	it("takes at most 5 copy requests per session and writes only the first and real changes", async () => {
		const ask = (s: { sessionId: string; joined: { resumeToken: string } }, body: object) =>
			server.json<ErrorBody>(`/api/v1/sessions/${s.sessionId}/protocol-copy`, {
				body: { resumeToken: s.joined.resumeToken, agree: true, ...body },
			});
		const requested = (sessionId: string) =>
			auditChain(server)
				.filter((e) => e.sessionId === sessionId && e.type === "session.protocol_requested")
				.map((e) => e.data);

		const same = await openPair(server, mailer.accessToken);
		for (let i = 0; i < 5; i++)
			expect((await ask(same, { email: CUSTOMER_EMAIL, lang: "de" })).status).toBe(204);
		const sixth = await ask(same, { email: "other@example.test", lang: "en" });
		expect(sixth.status).toBe(429);
		expect(sixth.body.error).toMatchObject({ code: "RATE_LIMITED", message: expect.any(String) });
		expect(requested(same.sessionId)).toEqual([{ lang: "de" }]);

		// A new language and a replaced address are written, the address itself never.
		const changing = await openPair(server, mailer.accessToken);
		for (const [email, lang] of [
			[CUSTOMER_EMAIL, "en"],
			[CUSTOMER_EMAIL, "en"],
			[CUSTOMER_EMAIL, "de"],
			["other@example.test", "de"],
		])
			expect((await ask(changing, { email, lang })).status).toBe(204);
		expect(requested(changing.sessionId)).toEqual([
			{ lang: "en" },
			{ lang: "de", addressChanged: false },
			{ lang: "de", addressChanged: true },
		]);
		const chain = JSON.stringify(auditChain(server));
		expect(chain).not.toContain("other@example.test");
		expect(chain).not.toContain(CUSTOMER_EMAIL);

		for (const s of [same.sessionId, changing.sessionId]) {
			const res = await server.fetch(`/api/v1/sessions/${s}`, {
				method: "DELETE",
				headers: bearer(mailer.accessToken),
			});
			expect(res.status).toBe(204);
		}
	});
});

describe("the protocol mail when the SMTP server is down", () => {
	it("is retried after a failure, across a restart of the server, and sent once per recipient", async () => {
		let smtp = await startSmtp();
		const port = smtp.port;
		const env = { SMTP_URL: `smtp://127.0.0.1:${port}/?from=fernwart@example.test` };
		const dataDir = makeDataDir();
		let first: TestServer | null = await startServer({ dataDir, keepData: true, env });
		let second: TestServer | null = null;
		try {
			const admin = await mustLogin(first, ADMIN);
			const group = await first.json<GroupView>("/api/v1/groups", {
				body: { name: "Mailers" },
				headers: bearer(admin.accessToken),
			});
			await first.json(`/api/v1/groups/${group.body.id}`, {
				method: "PATCH",
				body: { mailProtocol: true },
				headers: bearer(admin.accessToken),
			});
			await createUserAs(first, admin.accessToken, {
				email: "rita.retry@example.test",
				password: PASSWORD,
				groups: ["Mailers"],
			});
			const rita = await mustLogin(first, { email: "rita.retry@example.test", password: PASSWORD });
			const pair = await openPair(first, rita.accessToken);
			const asked = await first.fetch(`/api/v1/sessions/${pair.sessionId}/protocol-copy`, {
				method: "POST",
				headers: { "content-type": "application/json" },
				body: JSON.stringify({
					resumeToken: pair.joined.resumeToken,
					email: CUSTOMER_EMAIL,
					agree: true,
				}),
			});
			expect(asked.status).toBe(204);

			// The mail server is gone when the session ends: the first try fails, nothing is lost.
			await smtp.close();
			const ended = await first.fetch(`/api/v1/sessions/${pair.sessionId}`, {
				method: "DELETE",
				headers: bearer(rita.accessToken),
			});
			expect(ended.status).toBe(204);
			await expect
				.poll(() => first?.output() ?? "", { timeout: 20_000, interval: 200 })
				.toContain("protocol mail to the supporter failed");
			expect(auditTypes(first, pair.sessionId)).not.toContain("session.protocol_mailed");
			const firstOutput = first.output();
			await first.stop();
			first = null;

			// Back up, on the same port and the same data dir: the kept job's next try delivers.
			smtp = await startSmtp(port);
			second = await startServer({ dataDir, env });
			const server = second;
			await expect
				.poll(() => mailsFor(smtp.mails, pair.sessionId).length, {
					timeout: 90_000,
					interval: 500,
				})
				.toBe(2);
			await expect
				.poll(
					() =>
						auditTypes(server, pair.sessionId).filter((t) => t === "session.protocol_mailed")
							.length,
					{ timeout: 20_000 },
				)
				.toBe(2);
			const mails = mailsFor(smtp.mails, pair.sessionId);
			expect(mails.map((m) => m.to).sort()).toEqual([
				[CUSTOMER_EMAIL],
				["rita.retry@example.test"],
			]);
			expect(auditTypes(server, pair.sessionId)).not.toContain("session.protocol_mail_failed");
			// Neither address ever reaches a log line.
			for (const output of [firstOutput, server.output()]) {
				expect(output).not.toContain(CUSTOMER_EMAIL);
				expect(output).not.toContain("rita.retry@example.test");
			}
		} finally {
			await first?.stop();
			await second?.stop();
			await smtp.close();
		}
	}, 180_000);
});
