/** The audit protocol: filtered, paged by cursor, and exported as a verifiable NDJSON file. */

import {
	button,
	cell,
	downloadWithToken,
	formatTime,
	type PartyNames,
	partyLabel,
} from "./admin-common.ts";
import { $, apiJson, describeError, show, t } from "./common.ts";

interface AuditEvent {
	seq: number;
	ts: number;
	type: string;
	actor: string | null;
	subject: string | null;
	sessionId: string | null;
	hostId: string | null;
	ip: string | null;
	data: Record<string, unknown> | null;
}

/** Longest details text shown in full; longer ones open on demand (the export has them all). */
const DATA_CHARS = 160;
const FIELDS = ["session", "host", "user", "type"] as const;
const QUERY_NAMES = { session: "sessionId", host: "hostId", user: "userId", type: "type" };

let nextCursor: string | null = null;
let shown = 0;

/** A datetime-local value as ms, or null when empty or not a date. */
function localTime(id: string): number | null {
	const value = $<HTMLInputElement>(id).value;
	if (!value) return null;
	const ms = new Date(value).getTime();
	return Number.isNaN(ms) ? null : ms;
}

/** The filters as query parameters; the export takes only time and session. */
function filters(forExport = false): URLSearchParams {
	const q = new URLSearchParams();
	for (const field of FIELDS) {
		if (forExport && field !== "session") continue;
		const value = $<HTMLInputElement>(`audit-${field}`).value.trim();
		if (value) q.set(QUERY_NAMES[field], value);
	}
	const from = localTime("audit-from");
	const to = localTime("audit-to");
	if (from !== null) q.set("from", String(from));
	if (to !== null) q.set("to", String(to));
	return q;
}

/** A detail value as text: an id of a known party by its name, other strings as they are. */
function valueText(value: unknown, names: PartyNames): string {
	if (typeof value === "string") return names[value] ?? value;
	return JSON.stringify(value);
}

/**
 * The details as `key: value` lines that wrap in the cell. Long ones show their start and open
 * into every line, so the table stays readable and nothing is cut off for good.
 */
function fillData(
	td: HTMLTableCellElement,
	data: Record<string, unknown> | null,
	names: PartyNames,
) {
	td.className = "data";
	const lines = Object.entries(data ?? {}).map(
		([key, value]) => `${key}: ${valueText(value, names)}`,
	);
	if (lines.length === 0) {
		td.textContent = "—";
		return;
	}
	const text = lines.join("\n");
	if (text.length <= DATA_CHARS) {
		td.textContent = text;
		return;
	}
	const details = document.createElement("details");
	const summary = document.createElement("summary");
	summary.textContent = `${text.slice(0, DATA_CHARS - 1).replaceAll("\n", " · ")}…`;
	const full = document.createElement("div");
	full.textContent = text;
	details.append(summary, full);
	td.append(details);
}

function filterBySession(sessionId: string): void {
	$<HTMLInputElement>("audit-session").value = sessionId;
	loadAudit(true);
}

function addRow(body: HTMLTableSectionElement, e: AuditEvent, names: PartyNames): void {
	const row = body.insertRow();
	row.dataset.seq = String(e.seq);
	cell(row, formatTime(e.ts));
	cell(row, e.type).className = "mono";
	cell(row, partyLabel(e.actor, names));
	const session = row.insertCell();
	if (e.sessionId) {
		const id = e.sessionId;
		const b = button(
			id.slice(0, 8),
			() => filterBySession(id),
			t("admin.auditFilterSession", { id }),
		);
		b.className = "link mono";
		session.append(b);
	} else {
		session.textContent = "—";
	}
	const host = cell(row, e.hostId ? (names[e.hostId] ?? e.hostId.slice(0, 8)) : "—");
	if (e.hostId) host.title = e.hostId;
	cell(row, e.ip ?? "—");
	fillData(row.insertCell(), e.data, names);
}

/** Loads the first page (fresh) or the next, older one. */
export function loadAudit(fresh: boolean): void {
	const status = $("audit-status");
	const q = filters();
	if (!fresh && nextCursor) q.set("cursor", nextCursor);
	// A new filter empties the table at once, so no row of the old one is read as a result.
	if (fresh) {
		$<HTMLTableElement>("audit").tBodies[0]?.replaceChildren();
		status.textContent = "";
		show($("audit-more"), false);
	}
	apiJson<{ events: AuditEvent[]; nextCursor: string | null; names?: PartyNames }>(
		"GET",
		`/api/v1/audit?${q}`,
	)
		.then((page) => {
			const body = $<HTMLTableElement>("audit").tBodies[0];
			if (!body) return;
			if (fresh) {
				body.replaceChildren();
				shown = 0;
			}
			for (const e of page.events) addRow(body, e, page.names ?? {});
			shown += page.events.length;
			nextCursor = page.nextCursor;
			show($("audit-more"), nextCursor !== null);
			status.textContent =
				shown === 0 ? t("admin.auditNone") : t("admin.auditCount", { count: shown });
		})
		.catch((err: unknown) => {
			status.textContent = describeError(err);
		});
}

export function setupAudit(): void {
	$<HTMLFormElement>("audit-form").addEventListener("submit", (event) => {
		event.preventDefault();
		loadAudit(true);
	});
	$("audit-reset").addEventListener("click", () => {
		$<HTMLFormElement>("audit-form").reset();
		loadAudit(true);
	});
	$("audit-more").addEventListener("click", () => loadAudit(false));
	$("audit-export").addEventListener("click", () => {
		const status = $("audit-status");
		downloadWithToken(`/api/v1/audit/export?${filters(true)}`, "fernwart-audit.ndjson")
			.then((name) => {
				status.textContent = t("admin.auditExported", { name });
			})
			.catch((err: unknown) => {
				status.textContent = describeError(err);
			});
	});
}
