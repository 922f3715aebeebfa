import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN, bearer, mustLogin } from "../helpers/auth.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { openPair } from "../helpers/sessions.ts";
import { queryDb } from "../helpers/sql.ts";

describe("a session nobody comes back to", () => {
	let server: TestServer;
	let token: string;
	beforeAll(async () => {
		server = await startServer();
		token = (await mustLogin(server, ADMIN)).accessToken;
	});
	afterAll(async () => {
		await server?.stop();
	});

	it("ends by the actor's alarm once the idle time has passed with both sides gone", async () => {
		const set = await server.json("/api/v1/settings", {
			method: "PATCH",
			body: { sessionIdleSeconds: 10 },
			headers: bearer(token),
		});
		expect(set.status).toBe(200);
		const { sessionId, supporter, customer } = await openPair(server, token);
		supporter.close();
		customer.close();
		const started = Date.now();
		let endReason: string | null = null;
		while (Date.now() - started < 25_000) {
			const res = await server.json<{ endReason: string | null; state: { phase: string } }>(
				`/api/v1/sessions/${sessionId}`,
				{ headers: bearer(token) },
			);
			endReason = res.body.endReason;
			if (endReason) break;
			// Still open within the grace time: a participant could resume.
			expect(res.body.state.phase).toBe("active");
			await new Promise((r) => setTimeout(r, 1000));
		}
		const waited = Date.now() - started;
		expect(endReason).toBe("expired");
		expect(waited).toBeGreaterThanOrEqual(9_000);
		const ended = queryDb(
			join(server.dataDir, "fernwart.db"),
			"SELECT data FROM audit_events WHERE session_id = ? AND type = 'session.ended'",
			[sessionId],
		);
		expect(JSON.parse(String(ended[0]?.data))).toMatchObject({ reason: "expired" });
		// An expired session takes no new participants.
		const t = await server.json(`/api/v1/sessions/${sessionId}/tickets`, {
			method: "POST",
			headers: bearer(token),
		});
		expect(t.status).toBe(410);
	});
});
