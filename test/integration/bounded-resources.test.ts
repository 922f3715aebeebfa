import { readdirSync, readFileSync } from "node:fs";
import { Readable } from "node:stream";
import { Agent, request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
	ADMIN,
	bearer,
	createUserAs,
	type ErrorBody,
	mustLogin,
	openServerDb,
} from "../helpers/auth.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

const PASSWORD = "a long enough password 1";
const MiB = 1024 * 1024;

/** Resident memory of the workerd below `pid` in KiB, or null if there is none to be found. */
function workerdRssKiB(pid: number): number | null {
	const children = (p: number) =>
		readdirSync("/proc")
			.filter((d) => /^\d+$/.test(d))
			.map(Number)
			.filter((d) => {
				try {
					return (
						readFileSync(`/proc/${d}/stat`, "utf8").split(") ")[1]?.split(" ")[1] === String(p)
					);
				} catch {
					return false; // the process went away while we looked
				}
			});
	const queue = [pid];
	while (queue.length > 0) {
		const p = queue.shift() as number;
		try {
			if (readFileSync(`/proc/${p}/cmdline`, "utf8").includes("workerd")) {
				const status = readFileSync(`/proc/${p}/status`, "utf8");
				return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
			}
		} catch {
			continue;
		}
		queue.push(...children(p));
	}
	return null;
}

describe("bounded HTTP resources", () => {
	let server: TestServer;
	let adminToken: string;
	let agent: Agent;
	beforeAll(async () => {
		server = await startServer();
		adminToken = (await mustLogin(server, ADMIN)).accessToken;
		agent = new Agent({ connect: { ca: server.ca } });
		for (const name of ["Cap A", "Cap B", "Cleanup"]) {
			const res = await server.json("/api/v1/groups", {
				headers: bearer(adminToken),
				body: { name },
			});
			expect(res.status).toBe(201);
		}
	});
	afterAll(async () => {
		await agent?.close();
		await server?.stop();
	});

	async function settings(changes: Record<string, unknown>) {
		const res = await server.json("/api/v1/settings", {
			method: "PATCH",
			headers: bearer(adminToken),
			body: changes,
		});
		expect(res.status).toBe(200);
	}

	/** Sends a 50 MiB JSON body; the server may answer 413 or cut the upload off. */
	async function hugeBody(path: string, chunked: boolean): Promise<string> {
		const chunk = new Uint8Array(64 * 1024).fill(0x61);
		async function* body() {
			yield new TextEncoder().encode('{"displayName":"');
			for (let sent = 0; sent < 50 * MiB; sent += chunk.length) yield chunk;
			yield new TextEncoder().encode('"}');
		}
		try {
			const res = await request(new URL(path, server.url), {
				method: "POST",
				dispatcher: agent,
				headers: {
					"content-type": "application/json",
					...(chunked ? {} : { "content-length": String(50 * MiB + 18) }),
				},
				body: Readable.from(body()),
			});
			const text = await res.body.text();
			return `${res.statusCode} ${JSON.parse(text).error.code}`;
		} catch {
			return "cut off"; // the server answered 413 and closed before the upload ended
		}
	}

	it("refuses eight concurrent 50 MiB bodies without growing workerd", async () => {
		const before = workerdRssKiB(server.process.pid as number);
		const answers = await Promise.all(
			Array.from({ length: 8 }, (_, i) => hugeBody("/api/v1/sessions/join", i % 2 === 0)),
		);
		for (const a of answers) expect(["413 PAYLOAD_TOO_LARGE", "cut off"]).toContain(a);
		const after = workerdRssKiB(server.process.pid as number);
		// Measured: about +5 MB (it was about +850 MB when bodies were parsed whole).
		if (before !== null && after !== null) expect(after - before).toBeLessThan(64 * 1024);
		expect((await server.json("/healthz")).status).toBe(200);
	});

	it("caps open enrolment tokens per group and per maker, atomically", async () => {
		await settings({ maxOpenEnrollments: 3 });
		const admin = bearer(adminToken);
		const burst = await Promise.all(
			Array.from({ length: 10 }, () =>
				server.json<ErrorBody>("/api/v1/hosts/enrollments", {
					headers: admin,
					body: { group: "Cap A" },
				}),
			),
		);
		expect(burst.filter((r) => r.status === 201)).toHaveLength(3);
		const refused = burst.filter((r) => r.status !== 201);
		expect(refused).toHaveLength(7);
		for (const r of refused) {
			expect(r.status).toBe(409);
			expect(r.body.error).toMatchObject({ code: "TOO_MANY_ENROLLMENTS", details: { limit: 3 } });
		}
		// The admin made three: another group does not help them, it is per maker too.
		const other = await server.json<ErrorBody>("/api/v1/hosts/enrollments", {
			headers: admin,
			body: { group: "Cap B" },
		});
		expect(other.body.error?.code).toBe("TOO_MANY_ENROLLMENTS");
		// A member of that group has their own three.
		const member = await createUserAs(server, adminToken, {
			email: "enrol@example.test",
			password: PASSWORD,
			groups: ["Cap B"],
		});
		const own = bearer(
			(await mustLogin(server, { email: member.email, password: PASSWORD })).accessToken,
		);
		const statuses = [];
		for (let i = 0; i < 4; i++) {
			const r = await server.json("/api/v1/hosts/enrollments", {
				headers: own,
				body: { group: "Cap B" },
			});
			statuses.push(r.status);
		}
		expect(statuses).toEqual([201, 201, 201, 409]);
	});

	it("cleans expired enrolment tokens up when the next one is made, and keeps used ones", async () => {
		await settings({ maxOpenEnrollments: 2 });
		const admin = bearer(adminToken);
		const make = () =>
			server.json<{ token: string }>("/api/v1/hosts/enrollments", {
				headers: admin,
				body: { group: "Cleanup" },
			});
		const db = openServerDb(server);
		const creator = (await mustLogin(server, ADMIN)).user.id;
		// Start from nothing open for this admin (earlier tests left tokens in other groups).
		await db.execute({
			sql: "UPDATE host_enrollments SET expires_at = 1 WHERE created_by = ?",
			args: [creator],
		});
		const first = await make();
		const second = await make();
		expect([first.status, second.status]).toEqual([201, 201]);
		expect((await make()).status).toBe(409);
		// One is used (as a registration would), one expires: both free their slot.
		const [usedId, expiredId] = [first.body.token.split(".")[0], second.body.token.split(".")[0]];
		await db.execute({
			sql: "UPDATE host_enrollments SET used_at = ? WHERE id = ?",
			args: [Date.now(), usedId ?? ""],
		});
		await db.execute({
			sql: "UPDATE host_enrollments SET expires_at = ? WHERE id = ?",
			args: [Date.now() - 1000, expiredId ?? ""],
		});
		expect((await make()).status).toBe(201);
		const rows = await db.execute({
			sql: "SELECT id FROM host_enrollments WHERE created_by = ? AND used_at IS NULL AND expires_at <= ?",
			args: [creator, Date.now()],
		});
		expect(rows.rows).toEqual([]);
		const used = await db.execute({
			sql: "SELECT id FROM host_enrollments WHERE id = ?",
			args: [usedId ?? ""],
		});
		expect(used.rows).toHaveLength(1);
	});

	it("caps live sessions per supporter, atomically, and ends unused ones on issuance", async () => {
		await settings({ maxLiveSessionsPerSupporter: 2 });
		const user = await createUserAs(server, adminToken, {
			email: "sessions@example.test",
			password: PASSWORD,
		});
		const own = bearer(
			(await mustLogin(server, { email: user.email, password: PASSWORD })).accessToken,
		);
		const issue = () =>
			server.json<{ sessionId: string; code: string } & ErrorBody>("/api/v1/sessions", {
				method: "POST",
				headers: own,
			});
		const burst = await Promise.all(Array.from({ length: 8 }, issue));
		const issued = burst.filter((r) => r.status === 201);
		expect(issued).toHaveLength(2);
		for (const r of burst.filter((r) => r.status !== 201)) {
			expect(r.status).toBe(409);
			expect(r.body.error).toMatchObject({ code: "TOO_MANY_SESSIONS", details: { limit: 2 } });
		}
		// Another supporter is not affected.
		const other = await createUserAs(server, adminToken, {
			email: "other@example.test",
			password: PASSWORD,
		});
		const otherAuth = bearer(
			(await mustLogin(server, { email: other.email, password: PASSWORD })).accessToken,
		);
		const otherIssued = await server.json("/api/v1/sessions", {
			method: "POST",
			headers: otherAuth,
		});
		expect(otherIssued.status).toBe(201);

		// The customer joins the first; the second's ID then expires unused.
		const [joined, unused] = issued.map((r) => r.body);
		if (!joined || !unused) throw new Error("two sessions expected");
		const join = await server.json("/api/v1/sessions/join", {
			body: { code: joined.code, displayName: "Customer" },
		});
		expect(join.status).toBe(200);
		const db = openServerDb(server);
		await db.execute({
			sql: "UPDATE support_sessions SET code_expires_at = ? WHERE id IN (?, ?)",
			args: [Date.now() - 1000, joined.sessionId, unused.sessionId],
		});
		// The unused one no longer counts or shows; the joined one does.
		const list = await server.json<{ sessions: { sessionId: string }[] }>("/api/v1/sessions", {
			headers: own,
		});
		expect(list.body.sessions.map((s) => s.sessionId)).toEqual([joined.sessionId]);
		const third = await issue();
		expect(third.status).toBe(201);
		expect((await issue()).body.error?.code).toBe("TOO_MANY_SESSIONS");

		// The issuance ended the unused session: its row, and its relay right after.
		const row = await db.execute({
			sql: "SELECT ended_at, end_reason FROM support_sessions WHERE id = ?",
			args: [unused.sessionId],
		});
		expect(row.rows[0]).toMatchObject({ end_reason: "expired" });
		expect(row.rows[0]?.ended_at).not.toBeNull();
		let phase: string | undefined;
		for (let i = 0; i < 50 && phase !== "ended"; i++) {
			const s = await server.json<{ state: { phase: string } }>(
				`/api/v1/sessions/${unused.sessionId}`,
				{ headers: own },
			);
			phase = s.body.state?.phase;
			if (phase !== "ended") await new Promise((r) => setTimeout(r, 100));
		}
		expect(phase).toBe("ended");

		// Ending a session frees its slot.
		const ended = await server.json(`/api/v1/sessions/${joined.sessionId}`, {
			method: "DELETE",
			headers: own,
		});
		expect(ended.status).toBe(204);
		expect((await issue()).status).toBe(201);
	});

	it("refuses caps outside their range", async () => {
		for (const body of [{ maxOpenEnrollments: 0 }, { maxLiveSessionsPerSupporter: 1001 }]) {
			const res = await server.json<ErrorBody>("/api/v1/settings", {
				method: "PATCH",
				headers: bearer(adminToken),
				body,
			});
			expect(res.status).toBe(400);
			expect(res.body.error.code).toBe("INVALID_REQUEST");
		}
	});
});
