/**
 * Evaluation: sessions with connected and controlled time per day and per supporter, drawn as
 * SVG bar charts built here (no chart library), each with a table holding the same figures for
 * screen readers and a CSV download of the server's report.
 */

import { cell, downloadWithToken, formatHms } from "./admin-common.ts";
import { $, apiJson, describeError, t } from "./common.ts";

interface ReportRow {
	group: string;
	label: string;
	sessions: number;
	connectedMs: number;
	controlledMs: number;
}

interface Report {
	rows: ReportRow[];
	totals: { sessions: number; connectedMs: number; controlledMs: number };
}

type GroupBy = "day" | "supporter";

const SVG = "http://www.w3.org/2000/svg";
/** Chart geometry in SVG user units; the element scales to the card's width. */
const WIDTH = 720;
const LABEL_W = 220;
const VALUE_W = 80;
const BAR_H = 16;
const ROW_H = 2 * BAR_H + 14;
const DAY_MS = 86_400_000;

function svg<K extends keyof SVGElementTagNameMap>(
	name: K,
	attrs: Record<string, string | number>,
): SVGElementTagNameMap[K] {
	const el = document.createElementNS(SVG, name);
	for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
	return el;
}

function text(x: number, y: number, content: string, className: string): SVGTextElement {
	const el = svg("text", { x, y, class: className });
	el.textContent = content;
	return el;
}

/** Two bars per row (connected, controlled), scaled to the longest connected time. */
function drawChart(container: HTMLElement, rows: ReportRow[], title: string): void {
	const max = Math.max(1, ...rows.map((r) => Math.max(r.connectedMs, r.controlledMs)));
	const height = Math.max(1, rows.length) * ROW_H + 8;
	const chart = svg("svg", {
		viewBox: `0 0 ${WIDTH} ${height}`,
		role: "img",
		"aria-label": t("admin.reportChart", { title }),
	});
	const scale = (WIDTH - LABEL_W - VALUE_W) / max;
	rows.forEach((row, i) => {
		const y = i * ROW_H + 4;
		// The label, and under it the number of sessions in words ("1 session"), level with the bars.
		chart.append(
			text(LABEL_W - 8, y + BAR_H - 4, row.label, "label"),
			text(
				LABEL_W - 8,
				y + 2 * BAR_H - 4,
				t("admin.reportSessionCount", { count: row.sessions }),
				"label count",
			),
		);
		for (const [j, kind] of (["connected", "controlled"] as const).entries()) {
			const ms = kind === "connected" ? row.connectedMs : row.controlledMs;
			const by = y + j * BAR_H;
			const w = Math.max(ms > 0 ? 2 : 0, ms * scale);
			chart.append(
				svg("rect", { x: LABEL_W, y: by, width: w, height: BAR_H - 2, class: `bar ${kind}` }),
				text(LABEL_W + w + 4, by + BAR_H - 3, formatHms(ms), "value"),
			);
		}
	});
	container.replaceChildren(chart);
}

function fillTable(id: string, rows: ReportRow[]): void {
	const body = $<HTMLTableElement>(id).tBodies[0];
	if (!body) return;
	body.replaceChildren();
	for (const r of rows) {
		const row = body.insertRow();
		cell(row, r.label);
		cell(row, String(r.sessions));
		cell(row, formatHms(r.connectedMs));
		cell(row, formatHms(r.controlledMs));
	}
}

/** The range of the date inputs: from the first day's local midnight to the end of the last. */
function range(): URLSearchParams {
	const from = new Date(`${$<HTMLInputElement>("report-from").value}T00:00`).getTime();
	const to = new Date(`${$<HTMLInputElement>("report-to").value}T00:00`).getTime() + DAY_MS;
	return new URLSearchParams({ from: String(from), to: String(to) });
}

function isoDay(ms: number): string {
	const d = new Date(ms);
	const pad = (n: number) => String(n).padStart(2, "0");
	return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

export async function loadReport(): Promise<void> {
	const status = $("report-status");
	status.textContent = "";
	const q = range();
	const [byDay, bySupporter] = await Promise.all(
		(["day", "supporter"] as GroupBy[]).map((groupBy) =>
			apiJson<Report>("GET", `/api/v1/reports/sessions?${q}&groupBy=${groupBy}`),
		),
	);
	if (!byDay || !bySupporter) return;
	const totals = byDay.totals;
	$("report-totals").textContent =
		totals.sessions === 0
			? t("admin.reportNone")
			: t("admin.reportTotals", {
					sessions: totals.sessions,
					connected: formatHms(totals.connectedMs),
					controlled: formatHms(totals.controlledMs),
				});
	drawChart($("chart-day"), byDay.rows, t("admin.reportByDay"));
	fillTable("report-day", byDay.rows);
	drawChart($("chart-supporter"), bySupporter.rows, t("admin.reportBySupporter"));
	fillTable("report-supporter", bySupporter.rows);
}

function csv(groupBy: GroupBy): void {
	downloadWithToken(
		`/api/v1/reports/sessions?${range()}&groupBy=${groupBy}&format=csv`,
		`fernwart-sessions-${groupBy}.csv`,
	).catch((err: unknown) => {
		$("report-status").textContent = describeError(err);
	});
}

export function setupReport(): void {
	const now = Date.now();
	$<HTMLInputElement>("report-to").value = isoDay(now);
	$<HTMLInputElement>("report-from").value = isoDay(now - 29 * DAY_MS);
	$<HTMLFormElement>("report-form").addEventListener("submit", (event) => {
		event.preventDefault();
		loadReport().catch((err: unknown) => {
			$("report-status").textContent = describeError(err);
		});
	});
	$("csv-day").addEventListener("click", () => csv("day"));
	$("csv-supporter").addEventListener("click", () => csv("supporter"));
}
