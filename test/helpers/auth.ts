import { join } from "node:path";
import type { TestServer } from "./server.ts";
import { queryDb } from "./sql.ts";

export const ADMIN = { email: "admin@example.test", password: "correct horse battery staple" };

export interface Session {
	accessToken: string;
	refreshToken?: string;
	expiresIn: number;
	totpEnrolmentRequired?: boolean;
	user: { id: string; email: string; role: string; totpEnabled: boolean; groups: string[] };
}

export interface ErrorBody {
	error: { code: string; message: string; details?: unknown };
}

/**
 * A header set that makes the request come from `ip`: test servers trust loopback as a reverse
 * proxy that names the client in X-Forwarded-For (test/helpers/server.ts), as a real proxy would.
 */
export function from(ip: string): Record<string, string> {
	return { "x-forwarded-for": ip };
}

/** Logs in; returns the raw answer so tests can check refusals too. */
export async function login(
	server: TestServer,
	body: { email: string; password: string; totp?: string },
	headers: Record<string, string> = {},
) {
	return server.json<Session & ErrorBody>("/api/v1/auth/login", { body, headers });
}

/** Logs in and fails the test unless it worked. */
export async function mustLogin(
	server: TestServer,
	body: { email: string; password: string; totp?: string },
	headers: Record<string, string> = {},
): Promise<Session> {
	const res = await login(server, body, headers);
	if (res.status !== 200)
		throw new Error(`login failed: ${res.status} ${JSON.stringify(res.body)}`);
	return res.body;
}

export function bearer(token: string): Record<string, string> {
	return { authorization: `Bearer ${token}` };
}

/** Creates a user through the admin API. */
export async function createUserAs(
	server: TestServer,
	adminToken: string,
	user: { email: string; password: string; displayName?: string; role?: string; groups?: string[] },
) {
	const res = await server.json<Session["user"]>("/api/v1/users", {
		body: { displayName: user.email.split("@")[0], ...user },
		headers: bearer(adminToken),
	});
	if (res.status !== 201) throw new Error(`create user: ${res.status} ${JSON.stringify(res.body)}`);
	return res.body;
}

/**
 * The server's database file, as an admin on the same machine could open it. Queries run in a
 * child process (see sql.ts for why libSQL stays out of the test runner).
 */
export function openServerDb(server: TestServer) {
	const path = join(server.dataDir, "fernwart.db");
	return {
		async execute(statement: string | { sql: string; args?: (string | number | null)[] }) {
			const { sql, args } =
				typeof statement === "string" ? { sql: statement, args: [] } : statement;
			return { rows: queryDb(path, sql, args ?? []) };
		},
		close() {},
	};
}
