/**
 * The evaluation of support sessions (docs/audit.md, "Reports"), as pure functions over the
 * audit events, so that every figure can be recomputed from an export.
 *
 * - connected: the time both sides were in the session at once, from `session.joined` /
 *   `session.resumed` to `session.left` / `session.ended` of either side;
 * - controlled: the time a control grant stood, from `control.granted` to `control.revoked`,
 *   `view.switched` (a switch ends every grant) or `session.ended`, while both sides were
 *   connected (a grant that outlives a disconnect does not count while a side is away).
 * A session that is still running counts up to `now`.
 */

export const GROUP_BY = ["supporter", "customer", "host", "day"] as const;
export type GroupBy = (typeof GROUP_BY)[number];

export interface ReportEvent {
	type: string;
	ts: number;
	data: Record<string, unknown> | null;
}

export interface SessionDurations {
	connectedMs: number;
	controlledMs: number;
	ended: boolean;
}

/**
 * Connected and controlled time of one session from its events (oldest first). Between two
 * events nothing changes, so each gap counts as connected when both sides were there, and as
 * controlled when a grant stood and both sides were there: controlled time is the intersection
 * of the grants with the connected intervals and can never exceed connected time.
 */
export function sessionDurations(events: ReportEvent[], now: number): SessionDurations {
	const present = new Set<string>();
	let granted = false;
	let last: number | null = null;
	let connectedMs = 0;
	let controlledMs = 0;
	let ended = false;
	const both = () => present.has("supporter") && (present.has("customer") || present.has("host"));
	const advance = (ts: number) => {
		if (last !== null && both()) {
			const gap = Math.max(0, ts - last);
			connectedMs += gap;
			if (granted) controlledMs += gap;
		}
		last = last === null ? ts : Math.max(last, ts);
	};
	for (const e of events) {
		if (ended) break;
		// Records written late (kept while the protocol was unreachable, or a side found lost after
		// a restart) carry the time they happened.
		const occurredAt = e.data?.occurredAt;
		advance(typeof occurredAt === "number" ? occurredAt : e.ts);
		const role = typeof e.data?.role === "string" ? e.data.role : null;
		switch (e.type) {
			case "session.joined":
			case "session.resumed":
				if (role) present.add(role);
				break;
			case "session.left":
				if (role) present.delete(role);
				break;
			case "session.ended":
				present.clear();
				granted = false;
				ended = true;
				break;
			case "control.granted":
				granted = true;
				break;
			case "control.revoked":
			case "view.switched":
				granted = false;
				break;
		}
	}
	if (!ended) advance(now);
	return { connectedMs, controlledMs, ended };
}

export interface ReportSessionInput {
	id: string;
	supporterId: string;
	supporterEmail: string | null;
	customerName: string | null;
	createdAt: number;
	hostId: string | null;
	hostName: string | null;
	events: ReportEvent[];
}

export interface ReportRow {
	group: string;
	label: string;
	sessions: number;
	connectedMs: number;
	controlledMs: number;
}

function groupOf(s: ReportSessionInput, by: GroupBy): { group: string; label: string } {
	switch (by) {
		case "supporter":
			return { group: s.supporterId, label: s.supporterEmail ?? s.supporterId };
		case "customer":
			return { group: s.customerName ?? "", label: s.customerName ?? "(not joined)" };
		case "host":
			return { group: s.hostId ?? "", label: s.hostName ?? s.hostId ?? "(ad-hoc)" };
		case "day": {
			const day = new Date(s.createdAt).toISOString().slice(0, 10);
			return { group: day, label: day };
		}
	}
}

/** One row per group, ordered by group, plus the totals. */
export function buildReport(
	sessions: ReportSessionInput[],
	by: GroupBy,
	now: number,
): { rows: ReportRow[]; totals: Omit<ReportRow, "group" | "label"> } {
	const rows = new Map<string, ReportRow>();
	const totals = { sessions: 0, connectedMs: 0, controlledMs: 0 };
	for (const s of sessions) {
		const d = sessionDurations(s.events, now);
		const { group, label } = groupOf(s, by);
		const row = rows.get(group) ?? { group, label, sessions: 0, connectedMs: 0, controlledMs: 0 };
		row.sessions++;
		row.connectedMs += d.connectedMs;
		row.controlledMs += d.controlledMs;
		rows.set(group, row);
		totals.sessions++;
		totals.connectedMs += d.connectedMs;
		totals.controlledMs += d.controlledMs;
	}
	return {
		rows: [...rows.values()].sort((a, b) => (a.group < b.group ? -1 : a.group > b.group ? 1 : 0)),
		totals,
	};
}

/**
 * One CSV cell (RFC 4180). A cell that a spreadsheet would run as a formula (customer names are
 * typed by customers) is prefixed with an apostrophe.
 */
export function csvCell(value: string | number): string {
	let text = String(value);
	if (typeof value === "string" && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
	return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The report as CSV, durations in whole seconds, for billing tools. */
export function reportCsv(by: GroupBy, rows: ReportRow[]): string {
	const lines = [[by, "label", "sessions", "connected_seconds", "controlled_seconds"].join(",")];
	for (const r of rows) {
		lines.push(
			[
				csvCell(r.group),
				csvCell(r.label),
				r.sessions,
				Math.round(r.connectedMs / 1000),
				Math.round(r.controlledMs / 1000),
			].join(","),
		);
	}
	return `${lines.join("\r\n")}\r\n`;
}
