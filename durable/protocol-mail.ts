/**
 * The protocol by e-mail (docs/audit.md §6, "Protocol by e-mail"): after a session of a group with
 * `mailProtocol` on, its supporter (and a customer who asked for a copy) gets a readable summary
 * in the body and the session's signed audit excerpt as an attachment, which
 * `npm run fernwart -- audit verify FILE` checks offline. The session actor decides when to send;
 * this file builds the excerpt and the text and hands the mail to the `MAIL` service (the Node
 * process, which speaks SMTP to the admin's own server; the worker itself has no egress).
 */
import * as z from "zod";
import { type EventLine, eventLineSchema } from "../protocol/audit-export.ts";
import type { Db, DbBinding } from "../schema/db.ts";
import { exportStream, planExport, signedHeader } from "./audit-export.ts";
import type { AuditLogNamespace } from "./audit-log-api.ts";

/** Languages a protocol mail is written in. */
export const MAIL_LANGS = ["en", "de"] as const;
export type MailLang = (typeof MAIL_LANGS)[number];

/** Bindings the protocol mail needs (the session actor has them all). */
export interface ProtocolMailEnv {
	AUDIT_LOG: AuditLogNamespace;
	DB_TOKEN: string;
	JWT_PRIVATE_KEY: string;
	FERNWART_VERSION: string;
	PUBLIC_URL?: string;
	/** The Node mail service; absent or unused when SMTP_URL is not set. */
	MAIL?: DbBinding;
	MAIL_ENABLED?: string;
}

/** Whether the admin configured SMTP; without it no protocol mail is ever attempted. */
export function isMailEnabled(env: Pick<ProtocolMailEnv, "MAIL" | "MAIL_ENABLED">): boolean {
	return env.MAIL_ENABLED === "true" && env.MAIL !== undefined;
}

/** A customer's request for a copy: where to and in which language. Personal data. */
export const protocolCopySchema = z.strictObject({
	// The HTML form's rule, as the route checks it.
	address: z.email({ pattern: z.regexes.html5Email }).max(254),
	lang: z.enum(MAIL_LANGS),
});
export type ProtocolCopy = z.infer<typeof protocolCopySchema>;

/**
 * The session's excerpt as the export route would give it for `?sessionId=`: a signed header, the
 * checkpoints around the session, its events in full and every other event of the span redacted
 * to its place in the chain (`visibility: "session:<id>"`), so it reveals nothing of other
 * sessions. NDJSON text. Throws ExportUnavailableError when the head cannot be signed.
 */
export async function buildExcerpt(env: ProtocolMailEnv, db: Db, sessionId: string) {
	const plan = await planExport(env, db, { sessionId });
	const header = await signedHeader(env, db, plan, {
		from: null,
		to: null,
		sessionId,
		visibility: `session:${sessionId}`,
		url: env.PUBLIC_URL ?? null,
	});
	return new Response(exportStream(db, header, plan, { sessionId })).text();
}

/** The session's own event lines in an excerpt, in chain order. */
export function sessionEvents(excerpt: string, sessionId: string): EventLine[] {
	const events: EventLine[] = [];
	for (const line of excerpt.split("\n")) {
		if (!line.includes('"kind":"event"')) continue;
		const parsed = eventLineSchema.safeParse(JSON.parse(line));
		if (parsed.success && parsed.data.sessionId === sessionId) events.push(parsed.data);
	}
	return events;
}

/** Who took part, as the summary names them. */
export interface SummaryPeople {
	sessionId: string;
	kind: "adhoc" | "host";
	/**
	 * The supporter's display name (may be empty) and account address; `email` is null in the
	 * customer's copy ({@link forCustomer}).
	 */
	supporter: { name: string; email: string | null } | null;
	/** The name the customer typed, or the host's name. */
	peerName: string | null;
}

/**
 * The people as the customer's copy names them: the supporter by name only. The customer's
 * address was never confirmed, so whoever typed it must not learn the supporter's address from
 * the body (the attached excerpt still holds the addresses the protocol recorded).
 */
export function forCustomer(people: SummaryPeople): SummaryPeople {
	return {
		...people,
		supporter: people.supporter ? { name: people.supporter.name, email: null } : null,
	};
}

/**
 * The largest excerpt that is attached, in characters (the mail service's own limit). A larger one
 * (tens of thousands of events) is left out and the body says how to export it instead, so a
 * mail that could never be accepted is not retried.
 */
export const MAX_EXCERPT_CHARS = 8 * 1024 * 1024;

/** At most this many events are spelt out in the body; the attachment always has them all. */
export const SUMMARY_MAX_EVENTS = 500;

/**
 * The most characters one language's summary has (UTF-16 code units, as the mail service counts
 * them). Two languages plus the separator stay well under the mail service's 100,000-character
 * `text` limit, which a mail would otherwise fail on every try.
 */
export const SUMMARY_MAX_CHARS = 40_000;

/** Names (files, customer, host, supporter) are cut to this many characters in the summary. */
export const SUMMARY_NAME_CHARS = 80;

/** Comments are cut to this many characters in the summary; the excerpt has them in full. */
export const SUMMARY_COMMENT_CHARS = 300;

const TEXT = {
	en: {
		title: "Protocol of the remote support session",
		session: "Session",
		adhoc: "ad-hoc support",
		host: "unattended host",
		supporter: "Supporter",
		customer: "Customer",
		hostName: "Host",
		start: "Start",
		end: "End",
		duration: "Duration",
		running: "(not recorded)",
		events: "Events (times in UTC)",
		more: (n: number) => `… and ${n} more events, see the attachment.`,
		copyChanged: (address: boolean) =>
			`Customer changed the request for a copy (${address ? "new address" : "new language"})`,
		signed: "signed",
		tooLarge: (id: string) =>
			`The signed excerpt is too large to attach. Export it on the server with GET /api/v1/audit/export?sessionId=${id} and check it with \`npm run fernwart -- audit verify FILE\`.`,
		attachment: (file: string) =>
			`The attachment ${file} is the signed excerpt of the server's audit protocol for this session. Anyone can check it offline, e.g. with \`npm run fernwart -- audit verify ${file}\` on a Fernwart installation; a changed byte makes the check fail.`,
		roles: { supporter: "supporter", customer: "customer", host: "host" } as Record<string, string>,
		reasons: {
			stopped: "STOP",
			ended: "by the supporter or an admin",
			expired: "time limit reached or nobody connected",
			revoked: "access revoked",
			refused: "customer refused",
		} as Record<string, string>,
	},
	de: {
		title: "Protokoll der Fernwartungssitzung",
		session: "Sitzung",
		adhoc: "Ad-hoc-Support",
		host: "unbeaufsichtigter Rechner",
		supporter: "Supporter",
		customer: "Kunde",
		hostName: "Rechner",
		start: "Beginn",
		end: "Ende",
		duration: "Dauer",
		running: "(nicht erfasst)",
		events: "Ereignisse (Zeiten in UTC)",
		more: (n: number) => `… und ${n} weitere Ereignisse, siehe Anhang.`,
		copyChanged: (address: boolean) =>
			`Kunde änderte die Bitte um eine Kopie (${address ? "neue Adresse" : "neue Sprache"})`,
		signed: "signiert",
		tooLarge: (id: string) =>
			`Der signierte Auszug ist zu groß für einen Anhang. Exportieren Sie ihn auf dem Server mit GET /api/v1/audit/export?sessionId=${id} und prüfen Sie ihn mit \`npm run fernwart -- audit verify DATEI\`.`,
		attachment: (file: string) =>
			`Der Anhang ${file} ist der signierte Auszug aus dem Audit-Protokoll des Servers für diese Sitzung. Jeder kann ihn offline prüfen, z. B. mit \`npm run fernwart -- audit verify ${file}\` auf einer Fernwart-Installation; ein geändertes Byte lässt die Prüfung fehlschlagen.`,
		roles: { supporter: "Supporter", customer: "Kunde", host: "Rechner" } as Record<string, string>,
		reasons: {
			stopped: "STOP",
			ended: "durch den Supporter oder einen Admin",
			expired: "Zeitlimit erreicht oder niemand verbunden",
			revoked: "Zugriff entzogen",
			refused: "Kunde abgewiesen",
		} as Record<string, string>,
	},
} as const;

type Data = Record<string, unknown>;
const str = (d: Data | null, key: string): string => {
	const v = d?.[key];
	return typeof v === "string" || typeof v === "number" ? String(v) : "";
};

/** `s` cut to at most `max` characters, the last one an ellipsis when anything was cut. */
export function clip(s: string, max: number): string {
	if (s.length <= max) return s;
	// Cut before a lone high surrogate, so no half character is left before the ellipsis.
	const end = /[\uD800-\uDBFF]/.test(s.charAt(max - 2)) ? max - 2 : max - 1;
	return `${s.slice(0, end)}…`;
}

/** A name field of an event, cut for the summary. */
const name = (d: Data | null, key: string): string => clip(str(d, key), SUMMARY_NAME_CHARS);

/** One event as a line of text, or null for events a reader does not need (key exchange). */
function describe(e: EventLine, lang: MailLang): string | null {
	const t = TEXT[lang];
	const de = lang === "de";
	const d = e.data;
	const role = (r: string) => t.roles[r] ?? r;
	const file = () =>
		`${name(d, "name")} (${str(d, "size")} B, SHA-256 ${str(d, "sha256").slice(0, 16)}…)`;
	switch (e.type) {
		case "session.issued":
			return de ? "Sitzung angelegt" : "Session issued";
		case "session.joined":
			return de ? `${role(str(d, "role"))} beigetreten` : `${role(str(d, "role"))} joined`;
		case "session.resumed":
			return de
				? `${role(str(d, "role"))} wieder verbunden`
				: `${role(str(d, "role"))} reconnected`;
		case "session.left":
			return de ? `${role(str(d, "role"))} getrennt` : `${role(str(d, "role"))} left`;
		case "session.hello":
			return null;
		case "session.connected":
			return de ? "Ende-zu-Ende-Verschlüsselung hergestellt" : "End-to-end encryption established";
		case "session.admitted":
			return de
				? `Kunde „${name(d, "name")}“ eingelassen`
				: `Customer "${name(d, "name")}" admitted`;
		case "session.refused":
			return de ? `Kunde „${name(d, "name")}“ abgewiesen` : `Customer "${name(d, "name")}" refused`;
		case "session.taken_over":
			return de
				? `Platz übernommen von ${name(d, "name")} (Admin)`
				: `Seat taken over by ${name(d, "name")} (admin)`;
		case "session.stopped":
			return de ? `STOP durch ${role(str(d, "by"))}` : `STOP by the ${role(str(d, "by"))}`;
		case "session.ended": {
			const reason = t.reasons[str(d, "reason")] ?? str(d, "reason");
			return de ? `Sitzung beendet (${reason})` : `Session ended (${reason})`;
		}
		case "session.protocol_requested":
			if (d && typeof d.addressChanged === "boolean") return t.copyChanged(d.addressChanged);
			return de
				? "Kunde bat um eine Kopie dieses Protokolls per E-Mail"
				: "Customer asked for a copy of this protocol by e-mail";
		case "session.protocol_mailed":
			return de
				? `Protokoll gemailt an ${role(str(d, "to"))}`
				: `Protocol mailed to the ${role(str(d, "to"))}`;
		case "terms.accepted":
			return de ? "Nutzungsbedingungen angenommen" : "Support terms accepted";
		case "view.requested":
			return de
				? `Bildschirmansicht erbeten (${role(str(d, "shower"))} soll zeigen)`
				: `Screen view requested (the ${role(str(d, "shower"))} to show)`;
		case "view.granted":
			return de
				? `Bildschirmansicht erlaubt (${role(str(d, "shower"))} zeigt)`
				: `Screen view granted (the ${role(str(d, "shower"))} shows)`;
		case "view.switched":
			return de
				? `Ansicht gewechselt (${role(str(d, "shower"))} zeigt)`
				: `View switched (the ${role(str(d, "shower"))} shows)`;
		case "view.denied":
			return de ? "Bildschirmansicht abgelehnt" : "Screen view denied";
		case "view.revoked":
			return de ? "Bildschirmansicht beendet" : "Screen view ended";
		case "control.requested":
			return de ? "Fernsteuerung erbeten" : "Remote control requested";
		case "control.granted":
			return de ? "Fernsteuerung erlaubt" : "Remote control granted";
		case "control.denied":
			return de ? "Fernsteuerung abgelehnt" : "Remote control denied";
		case "control.revoked":
			return de ? "Fernsteuerung entzogen" : "Remote control revoked";
		case "file.offered":
			return de ? `Datei angeboten: ${file()}` : `File offered: ${file()}`;
		case "file.accepted":
			return de ? `Datei angenommen: ${file()}` : `File accepted: ${file()}`;
		case "file.rejected":
			return de ? `Datei abgelehnt: ${file()}` : `File rejected: ${file()}`;
		case "file.completed":
			return de ? `Datei übertragen: ${file()}` : `File transferred: ${file()}`;
		case "comment.added": {
			const text = clip(str(d, "text"), SUMMARY_COMMENT_CHARS);
			return de ? `Kommentar: ${text}` : `Comment: ${text}`;
		}
		case "host.connected":
			return de ? "Rechner hat das Passwort bestätigt" : "Host accepted the password";
		case "host.auth_failed":
			return de ? "Rechner hat das Passwort abgelehnt" : "Host refused the password";
		case "policy.violation":
			return null; // the summary row that follows counts them all
		case "policy.violation_summary":
			return de
				? `${str(d, "total")} unzulässige Nachrichten von ${role(str(d, "role"))} verworfen`
				: `${str(d, "total")} disallowed messages of the ${role(str(d, "role"))} dropped`;
		default:
			return e.type;
	}
}

/** `2026-11-30 12:34:56` (UTC). */
function utc(ms: number): string {
	return new Date(ms).toISOString().slice(0, 19).replace("T", " ");
}

function duration(ms: number): string {
	const s = Math.max(0, Math.round(ms / 1000));
	const h = Math.floor(s / 3600);
	const m = Math.floor((s % 3600) / 60);
	return `${h > 0 ? `${h} h ` : ""}${m} min ${s % 60} s`;
}

/** How the summary names the supporter: `name <email>`, or the name alone without an address. */
function supporterLine(supporter: SummaryPeople["supporter"]): string {
	if (!supporter) return "—";
	const who = clip(supporter.name, SUMMARY_NAME_CHARS);
	if (supporter.email === null) return who || "—";
	return who ? `${who} <${supporter.email}>` : supporter.email;
}

/**
 * The readable summary of one session in one language: who, when, how it ended, then every
 * event with its time (consents marked as signed), at most {@link SUMMARY_MAX_EVENTS} of them
 * and at most {@link SUMMARY_MAX_CHARS} characters in all; the events left out are counted in a
 * line that points to the attachment. Names are cut to {@link SUMMARY_NAME_CHARS} characters,
 * comments to {@link SUMMARY_COMMENT_CHARS}. Pure; `events` are the session's own lines of the
 * excerpt, `file` the attachment's name, or null when the excerpt was too large to attach.
 */
export function summaryText(
	people: SummaryPeople,
	events: EventLine[],
	lang: MailLang,
	file: string | null,
): string {
	const t = TEXT[lang];
	const first = events[0];
	const ended = events.findLast((e) => e.type === "session.ended");
	const lines = [
		t.title,
		"",
		`${t.session}: ${people.sessionId} (${people.kind === "host" ? t.host : t.adhoc})`,
		`${t.supporter}: ${supporterLine(people.supporter)}`,
		`${people.kind === "host" ? t.hostName : t.customer}: ${people.peerName === null ? "—" : clip(people.peerName, SUMMARY_NAME_CHARS)}`,
		`${t.start}: ${first ? `${utc(first.ts)} UTC` : t.running}`,
		`${t.end}: ${ended ? `${utc(ended.ts)} UTC` : t.running}`,
	];
	if (first && ended) lines.push(`${t.duration}: ${duration(ended.ts - first.ts)}`);
	lines.push("", `${t.events}:`);
	const described = events.flatMap((e) => {
		const text = describe(e, lang);
		if (text === null) return [];
		const signed = e.data && typeof e.data.signature === "string" ? ` [${t.signed}]` : "";
		const line = `${text.charAt(0).toUpperCase()}${text.slice(1)}`;
		return [`${utc(e.ts).slice(11)}  ${line}${signed}`];
	});
	const footer = ["", file ? t.attachment(file) : t.tooLarge(people.sessionId)];
	// Room for the events: the limit less the head, the footer and the longest "more" line.
	let room =
		SUMMARY_MAX_CHARS -
		[...lines, ...footer, t.more(described.length)].reduce((n, l) => n + l.length + 1, 0);
	let shown = 0;
	for (const line of described) {
		if (shown === SUMMARY_MAX_EVENTS || line.length + 1 > room) break;
		lines.push(line);
		room -= line.length + 1;
		shown++;
	}
	if (described.length > shown) lines.push(t.more(described.length - shown));
	lines.push(...footer);
	return lines.join("\n");
}

/** The attachment's file name for a session. */
export function excerptFileName(sessionId: string): string {
	return `fernwart-session-${sessionId.replace(/[^A-Za-z0-9_-]/g, "_")}.ndjson`;
}

/** Subject line: both languages, or one. */
export function subjectLine(langs: readonly MailLang[], sessionId: string): string {
	const parts = langs.map((l) => (l === "de" ? "Sitzungsprotokoll" : "Session protocol"));
	return `Fernwart: ${parts.join(" / ")} ${sessionId.slice(0, 8)}`;
}

/**
 * Hands one mail to the `MAIL` service. Returns the outcome, never the address or the service's
 * answer (which may quote the address): `ok`, or the HTTP status / error class for the log.
 * `final` is true when trying again cannot help: the service refused the mail itself (a 4xx,
 * e.g. 400 INVALID_MAIL) or mail is not configured; a 5xx (the SMTP server failed) or an
 * unreachable service is worth another try.
 */
export async function sendProtocolMail(
	env: ProtocolMailEnv,
	mail: { to: string; subject: string; text: string; file: string | null; excerpt: string },
): Promise<{ ok: true } | { ok: false; reason: string; final: boolean }> {
	if (!isMailEnabled(env)) return { ok: false, reason: "mail not configured", final: true };
	try {
		const res = await (env.MAIL as DbBinding).fetch("http://mail/mail/send", {
			method: "POST",
			headers: { "content-type": "application/json", authorization: `Bearer ${env.DB_TOKEN}` },
			body: JSON.stringify({
				to: mail.to,
				subject: mail.subject,
				text: mail.text,
				...(mail.file
					? {
							attachments: [
								{ filename: mail.file, contentType: "application/x-ndjson", content: mail.excerpt },
							],
						}
					: {}),
			}),
		});
		// The body is drained so the connection can be reused; it is not read further.
		await res.arrayBuffer();
		if (res.ok) return { ok: true };
		const final = res.status >= 400 && res.status < 500;
		return { ok: false, reason: `mail service answered ${res.status}`, final };
	} catch (err) {
		return { ok: false, reason: `mail service unreachable: ${(err as Error).name}`, final: false };
	}
}
