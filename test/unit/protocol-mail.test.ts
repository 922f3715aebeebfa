import { describe, expect, it } from "vitest";
import {
	clip,
	excerptFileName,
	forCustomer,
	MAIL_LANGS,
	MAX_EXCERPT_CHARS,
	type ProtocolMailEnv,
	SUMMARY_MAX_EVENTS,
	sendProtocolMail,
	sessionEvents,
	subjectLine,
	summaryText,
} from "../../durable/protocol-mail.ts";
import { type EventLine, exportLine } from "../../protocol/audit-export.ts";
import { MAX_ATTACHMENT_CHARS, mailSchema } from "../../server/mail-service.ts";

const HASH = "0".repeat(64);
const T0 = Date.UTC(2026, 10, 30, 9, 0, 0);

function event(seq: number, type: string, data: Record<string, unknown> | null = null): EventLine {
	return {
		kind: "event",
		seq,
		id: `e${seq}`,
		ts: T0 + seq * 1000,
		type,
		actor: null,
		subject: null,
		sessionId: "sess-1",
		hostId: null,
		ip: null,
		data,
		prevHash: HASH,
		hash: HASH,
	};
}

const people = {
	sessionId: "sess-1",
	kind: "adhoc" as const,
	supporter: { name: "Mia Mailer", email: "mia@example.test" },
	peerName: "Ann",
};

const events = [
	event(1, "session.issued"),
	event(2, "session.joined", { role: "customer", kind: "adhoc" }),
	event(3, "session.hello", { role: "customer", ed25519: "k" }),
	event(4, "view.granted", { shower: "customer", signature: "sig" }),
	event(5, "file.completed", { name: "log.txt", size: 12, sha256: "ab".repeat(32), bytes: 12 }),
	event(6, "comment.added", { text: "Printer fixed" }),
	event(7, "policy.violation", { role: "supporter", count: 1 }),
	event(8, "policy.violation_summary", { role: "supporter", total: 3 }),
	event(65, "session.ended", { reason: "stopped" }),
];

describe("the protocol mail's summary", () => {
	it("names who, when, how it ended and every event a reader needs, in English", () => {
		const text = summaryText(people, events, "en", "f.ndjson");
		expect(text).toContain("Session: sess-1 (ad-hoc support)");
		expect(text).toContain("Supporter: Mia Mailer <mia@example.test>");
		expect(text).toContain("Customer: Ann");
		expect(text).toContain("Start: 2026-11-30 09:00:01 UTC");
		expect(text).toContain("End: 2026-11-30 09:01:05 UTC");
		expect(text).toContain("Duration: 1 min 4 s");
		expect(text).toContain("09:00:04  Screen view granted (the customer shows) [signed]");
		expect(text).toContain("File transferred: log.txt (12 B, SHA-256 abababababababab…)");
		expect(text).toContain("Comment: Printer fixed");
		expect(text).toContain("3 disallowed messages of the supporter dropped");
		expect(text).toContain("Session ended (STOP)");
		expect(text).toContain("09:00:02  Customer joined");
		expect(text).toContain("audit verify f.ndjson");
		// The key exchange and the single violation rows are left to the attachment.
		expect(text).not.toContain("hello");
		expect(text).not.toContain("policy.violation");
	});

	it("speaks German, and a host session names the host", () => {
		const text = summaryText(
			{ ...people, kind: "host", peerName: "Reception PC" },
			events,
			"de",
			"f.ndjson",
		);
		expect(text).toContain("Protokoll der Fernwartungssitzung");
		expect(text).toContain("Rechner: Reception PC");
		expect(text).toContain("Bildschirmansicht erlaubt (Kunde zeigt) [signiert]");
		expect(text).toContain("Kommentar: Printer fixed");
		expect(text).toContain("Dauer: 1 min 4 s");
	});

	it("spells out at most SUMMARY_MAX_EVENTS events and points to the attachment for the rest", () => {
		const many = Array.from({ length: SUMMARY_MAX_EVENTS + 7 }, (_, i) =>
			event(i + 1, "comment.added", { text: `note ${i}` }),
		);
		const text = summaryText(people, many, "en", "f.ndjson");
		expect(text.match(/Comment: note/g)).toHaveLength(SUMMARY_MAX_EVENTS);
		expect(text).toContain("… and 7 more events, see the attachment.");
	});

	it("says how to export an excerpt too large for the mail service to attach", () => {
		expect(MAX_EXCERPT_CHARS).toBe(MAX_ATTACHMENT_CHARS);
		const text = summaryText(people, events, "en", null);
		expect(text).toContain("too large to attach");
		expect(text).toContain("GET /api/v1/audit/export?sessionId=sess-1");
	});

	it("reads only the session's own event lines from an excerpt", () => {
		const other = { ...event(2, "session.issued"), sessionId: "sess-2" };
		const excerpt = [
			exportLine(event(1, "session.issued")),
			exportLine(other),
			exportLine({ kind: "redacted", seq: 3, prevHash: HASH, hash: HASH }),
			exportLine(event(4, "session.ended", { reason: "ended" })),
		].join("");
		expect(sessionEvents(excerpt, "sess-1").map((e) => e.seq)).toEqual([1, 4]);
	});

	it("stays within the mail service's text limit in both languages, however large the fields", () => {
		// The largest fields the server takes: 1,024 offers with 255-character file names (each
		// offered, accepted and completed), 4,000-character comments and long names.
		const long = "x".repeat(255);
		const big: EventLine[] = [];
		for (let i = 0; i < 1024; i++)
			for (const type of ["file.offered", "file.accepted", "file.completed"])
				big.push(
					event(big.length + 1, type, {
						name: `${long}${i}`,
						size: 4_294_967_296,
						sha256: "ab".repeat(32),
					}),
				);
		for (let i = 0; i < 200; i++)
			big.push(event(big.length + 1, "comment.added", { text: `${"ü".repeat(3990)}${i}` }));
		const wide = {
			...people,
			supporter: { name: "S".repeat(200), email: "mia@example.test" },
			peerName: "C".repeat(200),
		};
		const text = MAIL_LANGS.map((l) => summaryText(wide, big, l, "f.ndjson")).join(
			"\n\n----------------------------------------\n\n",
		);
		const mail = { to: "mia@example.test", subject: subjectLine(MAIL_LANGS, "sess-1"), text };
		expect(mailSchema.safeParse(mail).success).toBe(true);
		const en = summaryText(wide, big, "en", "f.ndjson");
		expect(en).toMatch(/… and \d+ more events, see the attachment\.$/m);
		expect(en).toContain("audit verify f.ndjson");
		// Long fields are cut with an ellipsis; the attachment has them in full.
		expect(en).toContain(`File offered: ${"x".repeat(79)}… (4294967296 B`);
		expect(en).toContain(`Supporter: ${"S".repeat(79)}… <mia@example.test>`);
		expect(en).toContain(`Customer: ${"C".repeat(79)}…\n`);
		const comments = summaryText(people, big.slice(-5), "de", "f.ndjson");
		expect(comments).toContain(`Kommentar: ${"ü".repeat(299)}…\n`);
	});

	it("cuts text to a length with an ellipsis, never half a character", () => {
		expect(clip("abc", 3)).toBe("abc");
		expect(clip("abcd", 3)).toBe("ab…");
		expect(clip("a😀b", 3)).toBe("a…");
	});

	it("names the supporter without an address in the customer's copy", () => {
		for (const lang of MAIL_LANGS) {
			const text = summaryText(forCustomer(people), events, lang, "f.ndjson");
			expect(text).not.toContain("mia@example.test");
			expect(text).toContain("Supporter: Mia Mailer\n");
		}
		const nameless = { ...people, supporter: { name: "", email: "mia@example.test" } };
		expect(summaryText(forCustomer(nameless), events, "en", null)).not.toContain("mia@");
		expect(summaryText(nameless, events, "en", null)).toContain("Supporter: mia@example.test");
	});

	it("tells a refused mail (final) from a failure worth another try", async () => {
		const envAnswering = (status: number): ProtocolMailEnv => ({
			AUDIT_LOG: {} as ProtocolMailEnv["AUDIT_LOG"],
			DB_TOKEN: "t",
			JWT_PRIVATE_KEY: "k",
			FERNWART_VERSION: "0",
			MAIL_ENABLED: "true",
			MAIL: { fetch: async () => new Response("{}", { status }) },
		});
		const mail = { to: "a@example.test", subject: "s", text: "t", file: null, excerpt: "" };
		expect(await sendProtocolMail(envAnswering(400), mail)).toEqual({
			ok: false,
			reason: "mail service answered 400",
			final: true,
		});
		expect(await sendProtocolMail(envAnswering(502), mail)).toMatchObject({ final: false });
		expect(await sendProtocolMail(envAnswering(202), mail)).toEqual({ ok: true });
	});

	it("names files and subjects safely", () => {
		expect(excerptFileName("a/b c")).toBe("fernwart-session-a_b_c.ndjson");
		expect(subjectLine(["en", "de"], "abcdefghijk")).toBe(
			"Fernwart: Session protocol / Sitzungsprotokoll abcdefgh",
		);
		expect(subjectLine(["de"], "abcdefghijk")).toBe("Fernwart: Sitzungsprotokoll abcdefgh");
	});
});
