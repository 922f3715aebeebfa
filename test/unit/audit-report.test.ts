import { describe, expect, it } from "vitest";
import {
	buildReport,
	csvCell,
	type ReportEvent,
	reportCsv,
	sessionDurations,
} from "../../functions/lib/session-report.ts";

const e = (type: string, ts: number, role?: string): ReportEvent => ({
	type,
	ts,
	data: role ? { role } : null,
});

describe("session report", () => {
	it("counts connected time only while both sides are there, and control while connected", () => {
		const events = [
			e("session.issued", 0),
			e("session.joined", 1_000, "supporter"),
			e("session.joined", 3_000, "customer"), // both: from 3 s
			e("control.granted", 5_000),
			e("session.left", 8_000, "customer"), // both until 8 s: 5 s
			e("session.resumed", 10_000, "customer"), // both again from 10 s
			e("control.revoked", 12_000), // control 5 → 8 s and 10 → 12 s: 5 s
			e("control.granted", 13_000),
			e("view.switched", 14_000), // a switch ends control: 1 s
			e("session.ended", 20_000), // both until 20 s: 10 s
		];
		expect(sessionDurations(events, 99_000)).toEqual({
			connectedMs: 15_000,
			controlledMs: 6_000,
			ended: true,
		});
	});

	it("never counts control beyond connected time when a grant outlives a disconnect", () => {
		const events = [
			e("session.joined", 0, "supporter"),
			e("session.joined", 1_000, "host"),
			e("control.granted", 2_000),
			e("session.left", 4_000, "host"), // the grant stands, but nobody is there to control
			e("session.ended", 60_000),
		];
		const d = sessionDurations(events, 99_000);
		expect(d).toEqual({ connectedMs: 3_000, controlledMs: 2_000, ended: true });

		// Still running, the supporter away since 6 s: neither grows while a side is missing.
		const running = [
			e("session.joined", 0, "supporter"),
			e("session.joined", 0, "customer"),
			e("control.granted", 1_000),
			e("session.left", 6_000, "supporter"),
		];
		expect(sessionDurations(running, 50_000)).toEqual({
			connectedMs: 6_000,
			controlledMs: 5_000,
			ended: false,
		});
		// And back again: control counts from the return, as the grant was never revoked.
		running.push(e("session.resumed", 40_000, "supporter"));
		expect(sessionDurations(running, 50_000)).toEqual({
			connectedMs: 16_000,
			controlledMs: 15_000,
			ended: false,
		});
	});

	it("counts a running session up to now", () => {
		const events = [
			e("session.joined", 0, "supporter"),
			e("session.joined", 1_000, "host"),
			e("control.granted", 2_000),
		];
		expect(sessionDurations(events, 5_000)).toEqual({
			connectedMs: 4_000,
			controlledMs: 3_000,
			ended: false,
		});
	});

	it("groups by supporter, customer, host and day, and writes CSV a spreadsheet cannot run", () => {
		const session = (id: string, supporterId: string, customerName: string, createdAt: number) => ({
			id,
			supporterId,
			supporterEmail: `${supporterId}@example.test`,
			customerName,
			createdAt,
			hostId: null,
			hostName: null,
			events: [
				e("session.joined", createdAt, "supporter"),
				e("session.joined", createdAt + 1_000, "customer"),
				e("session.ended", createdAt + 61_000),
			],
		});
		const day = Date.UTC(2026, 10, 2);
		const sessions = [
			session("a", "u1", "=cmd|' /C calc'!A0", day),
			session("b", "u1", "Bob", day + 86_400_000),
			session("c", "u2", "Bob", day + 86_400_000),
		];
		const bySupporter = buildReport(sessions, "supporter", 0);
		expect(bySupporter.rows.map((r) => [r.group, r.sessions, r.connectedMs])).toEqual([
			["u1", 2, 120_000],
			["u2", 1, 60_000],
		]);
		expect(bySupporter.totals).toEqual({ sessions: 3, connectedMs: 180_000, controlledMs: 0 });
		expect(buildReport(sessions, "day", 0).rows.map((r) => [r.group, r.sessions])).toEqual([
			["2026-11-02", 1],
			["2026-11-03", 2],
		]);
		expect(buildReport(sessions, "host", 0).rows).toEqual([
			{ group: "", label: "(ad-hoc)", sessions: 3, connectedMs: 180_000, controlledMs: 0 },
		]);
		const csv = reportCsv("customer", buildReport(sessions, "customer", 0).rows);
		expect(csv).toBe(
			[
				"customer,label,sessions,connected_seconds,controlled_seconds",
				`'=cmd|' /C calc'!A0,'=cmd|' /C calc'!A0,1,60,0`,
				"Bob,Bob,2,120,0",
				"",
			].join("\r\n"),
		);
		expect(csvCell('say "hi", ok')).toBe('"say ""hi"", ok"');
	});
});
