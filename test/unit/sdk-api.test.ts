import { describe, expect, it } from "vitest";
import { ApiError, createApiClient, type FetchLike } from "../../modules/sdk/api.ts";

interface Call {
	url: string;
	method: string;
	headers: Record<string, string>;
	body: unknown;
}

function fakeServer(
	answer: (call: Call) => { status: number; body?: unknown; retryAfter?: string },
) {
	const calls: Call[] = [];
	const fetch: FetchLike = async (url, init) => {
		const call = {
			url,
			method: init.method,
			headers: init.headers,
			body: init.body === undefined ? undefined : JSON.parse(init.body),
		};
		calls.push(call);
		const { status, body, retryAfter } = answer(call);
		return {
			status,
			headers: { get: (name: string) => (name === "retry-after" ? (retryAfter ?? null) : null) },
			text: async () => (body === undefined ? "" : JSON.stringify(body)),
		};
	};
	return { calls, api: createApiClient({ baseUrl: "https://fw.test:8443", fetch }) };
}

const LOGIN = {
	accessToken: "at",
	refreshToken: "rt",
	tokenType: "Bearer",
	expiresIn: 900,
	user: { id: "u1", email: "s@example.test", role: "supporter", totpEnabled: false, groups: [] },
};

describe("SDK API client", () => {
	it("logs in and sends the access token on supporter calls", async () => {
		const { api, calls } = fakeServer((c) => {
			if (c.url.endsWith("/auth/login")) return { status: 200, body: LOGIN };
			return { status: 201, body: { sessionId: "s1", code: "01234567", expiresAt: 1 } };
		});
		const user = await api.login({ email: "s@example.test", password: "pw" });
		expect(user.user.role).toBe("supporter");
		const session = await api.createSession({ view: "customer", requireTerms: true });
		expect(session.code).toBe("01234567");
		expect(calls[1]).toMatchObject({
			url: "https://fw.test:8443/api/v1/sessions",
			method: "POST",
			headers: { authorization: "Bearer at" },
			body: { view: "customer", requireTerms: true },
		});
	});

	it("asks for tickets with the access token or, without one, with the resume token", async () => {
		const { api, calls } = fakeServer(() => ({ status: 200, body: { ticket: "t" } }));
		api.setAccessToken("at");
		expect(await api.ticket("s/1")).toBe("t");
		expect(await api.ticket("s/1", { resumeToken: "rz" })).toBe("t");
		expect(calls[0]?.url).toBe("https://fw.test:8443/api/v1/sessions/s%2F1/tickets");
		expect(calls[0]?.headers.authorization).toBe("Bearer at");
		expect(calls[1]?.headers.authorization).toBeUndefined();
		expect(calls[1]?.body).toEqual({ resumeToken: "rz" });
	});

	it("throws a typed ApiError with the server's code and Retry-After", async () => {
		const { api } = fakeServer(() => ({
			status: 429,
			body: { error: { code: "RATE_LIMITED", message: "slow down" } },
			retryAfter: "30",
		}));
		const err = await api.joinSession({ code: "12345678", displayName: "C" }).catch((e) => e);
		expect(err).toBeInstanceOf(ApiError);
		expect(err).toMatchObject({ status: 429, code: "RATE_LIMITED", retryAfterSeconds: 30 });
	});

	it("refuses answers that do not match the contract", async () => {
		const { api } = fakeServer(() => ({
			status: 200,
			body: { sessionId: "s1", ticket: "t", resumeToken: "r", terms: { text: "x", sha256: "no" } },
		}));
		await expect(api.joinSession({ code: "12345678", displayName: "C" })).rejects.toMatchObject({
			code: "BAD_RESPONSE",
		});
	});

	it("reports a transport failure as NETWORK with status 0", async () => {
		const api = createApiClient({
			baseUrl: "https://fw.test",
			fetch: async () => {
				throw new TypeError("fetch failed", { cause: new Error("certificate changed") });
			},
		});
		await expect(api.joinSession({ code: "1", displayName: "C" })).rejects.toMatchObject({
			status: 0,
			code: "NETWORK",
			message: expect.stringContaining("certificate changed"),
		});
	});

	it("needs a login before supporter calls", async () => {
		const { api, calls } = fakeServer(() => ({ status: 204 }));
		await expect(api.endSession("s1")).rejects.toMatchObject({ code: "UNAUTHENTICATED" });
		api.setAccessToken("at");
		await api.endSession("s1");
		expect(calls[0]?.method).toBe("DELETE");
	});

	it("refreshes an expired access token once and retries, with one refresh for parallel calls", async () => {
		let valid = "at";
		let refreshes = 0;
		const { api, calls } = fakeServer((c) => {
			if (c.url.endsWith("/auth/login")) return { status: 200, body: LOGIN };
			if (c.url.endsWith("/auth/refresh")) {
				refreshes++;
				expect(c.body).toEqual({ refreshToken: refreshes === 1 ? "rt" : "rt2" });
				valid = `at${refreshes + 1}`;
				return {
					status: 200,
					body: { ...LOGIN, accessToken: valid, refreshToken: `rt${refreshes + 1}` },
				};
			}
			if (c.headers.authorization !== `Bearer ${valid}`) {
				return { status: 401, body: { error: { code: "UNAUTHENTICATED", message: "expired" } } };
			}
			return { status: 200, body: { ticket: "t" } };
		});
		await api.login({ email: "s@example.test", password: "pw" });
		valid = "expired";
		expect(await Promise.all([api.ticket("s1"), api.ticket("s1")])).toEqual(["t", "t"]);
		expect(refreshes).toBe(1);
		expect(api.accessToken).toBe("at2");
		expect(calls.filter((c) => c.url.endsWith("/tickets")).length).toBe(4);
	});
});
