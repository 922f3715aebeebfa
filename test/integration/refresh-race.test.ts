import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN, type ErrorBody, mustLogin, type Session } from "../helpers/auth.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { queryDb } from "../helpers/sql.ts";

/**
 * A refresh token is single use. Presented twice at once, or at the same instant as its logout,
 * no token of the family may stay valid afterwards: the rotation's winner must not keep a
 * successor that the loser's revocation missed.
 */
describe("refresh-token rotation under concurrency", () => {
	let server: TestServer;
	const audit = (type: string) =>
		queryDb(join(server.dataDir, "fernwart.db"), "SELECT data FROM audit_events WHERE type = ?", [
			type,
		]);
	beforeAll(async () => {
		server = await startServer();
	});
	afterAll(async () => {
		await server?.stop();
	});

	it("revokes the family when one refresh token is presented twice at once: no new token stays valid", async () => {
		for (let round = 0; round < 10; round++) {
			const s = await mustLogin(server, ADMIN);
			const both = await Promise.all(
				[0, 1].map(() =>
					server.json<Session & ErrorBody>("/api/v1/auth/refresh", {
						body: { refreshToken: s.refreshToken },
					}),
				),
			);
			// At most one presentation wins the rotation; the other is reuse.
			expect(both.filter((r) => r.status === 200).length).toBeLessThanOrEqual(1);
			for (const r of both.filter((r) => r.status === 200)) {
				const next = await server.json<ErrorBody>("/api/v1/auth/refresh", {
					body: { refreshToken: r.body.refreshToken },
				});
				expect(next.status, `round ${round}: the winner's token still works`).toBe(401);
			}
		}
		expect(audit("user.refresh_reuse").length).toBeGreaterThanOrEqual(10);
	});

	it("lets no rotation outlive a logout that arrives at the same instant", async () => {
		for (let round = 0; round < 10; round++) {
			const s = await mustLogin(server, ADMIN);
			const [rotated] = await Promise.all([
				server.json<Session & ErrorBody>("/api/v1/auth/refresh", {
					body: { refreshToken: s.refreshToken },
				}),
				server.json("/api/v1/auth/logout", { body: { refreshToken: s.refreshToken } }),
			]);
			if (rotated.status !== 200) continue;
			const next = await server.json("/api/v1/auth/refresh", {
				body: { refreshToken: rotated.body.refreshToken },
			});
			expect(next.status, `round ${round}: a token survived the logout`).toBe(401);
		}
	});
});
