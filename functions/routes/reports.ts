import { createRoute, z } from "@hono/zod-openapi";
import { listReportInput } from "../../schema/audit.ts";
import { AppError } from "../lib/errors.ts";
import { timeParam } from "../lib/query.ts";
import { createRouter, errorResponse } from "../lib/router.ts";
import { buildReport, GROUP_BY, reportCsv } from "../lib/session-report.ts";
import { requireUser } from "../middleware/require-user.ts";

const security = [{ bearer: [] }];
/** Without `from`, a report covers this many days before `to`. */
const DEFAULT_RANGE_MS = 30 * 24 * 60 * 60_000;

const rowSchema = z.object({
	group: z.string(),
	label: z.string(),
	sessions: z.number(),
	connectedMs: z.number(),
	controlledMs: z.number(),
});

/** Evaluation for billing: sessions and their durations, grouped (docs/audit.md, "Reports"). */
export const reports = createRouter();

reports.openapi(
	createRoute({
		method: "get",
		path: "/api/v1/reports/sessions",
		tags: ["reports"],
		security,
		middleware: [requireUser] as const,
		description:
			"Sessions issued in [from, to) with connected and controlled time, grouped. Admins see all sessions, a supporter its own. `format=csv` gives CSV in whole seconds.",
		request: {
			query: z.object({
				from: timeParam.optional(),
				to: timeParam.optional(),
				groupBy: z.enum(GROUP_BY).default("supporter"),
				format: z.enum(["json", "csv"]).default("json"),
			}),
		},
		responses: {
			200: {
				content: {
					"application/json": {
						schema: z
							.object({
								from: z.number(),
								to: z.number(),
								groupBy: z.enum(GROUP_BY),
								rows: z.array(rowSchema),
								totals: rowSchema.omit({ group: true, label: true }),
							})
							.openapi("SessionReport"),
					},
					"text/csv": { schema: z.string() },
				},
				description: "The report.",
			},
			400: errorResponse("INVALID_REQUEST"),
			401: errorResponse("UNAUTHENTICATED"),
		},
	}),
	async (c) => {
		const q = c.req.valid("query");
		const now = Date.now();
		const to = q.to ?? now;
		const from = q.from ?? to - DEFAULT_RANGE_MS;
		if (from >= to) throw new AppError("INVALID_REQUEST", { reason: "from must be before to" });
		const principal = c.var.principal;
		const { sessions, events } = await listReportInput(c.var.db, {
			from,
			to,
			supporterId: principal.role === "admin" ? undefined : principal.id,
		});
		const bySession = new Map(
			sessions.map((s) => [
				s.id,
				{
					id: s.id,
					supporterId: s.supporterId,
					supporterEmail: s.supporterEmail,
					customerName: s.customerName,
					createdAt: s.createdAt.getTime(),
					hostId: s.hostId,
					hostName: s.hostName,
					events: [] as { type: string; ts: number; data: Record<string, unknown> | null }[],
				},
			]),
		);
		for (const e of events) {
			const s = e.sessionId ? bySession.get(e.sessionId) : undefined;
			if (!s) continue;
			s.events.push({ type: e.type, ts: e.ts.getTime(), data: e.data });
		}
		const report = buildReport([...bySession.values()], q.groupBy, now);
		if (q.format === "csv") {
			return c.body(reportCsv(q.groupBy, report.rows), 200, {
				"content-type": "text/csv; charset=utf-8",
				"content-disposition": `attachment; filename="fernwart-sessions-${q.groupBy}.csv"`,
			});
		}
		return c.json({ from, to, groupBy: q.groupBy, ...report }, 200);
	},
);
