import { join } from "node:path";
import { Agent, WebSocket as UndiciWebSocket, fetch as undiciFetch } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiClient, type FetchLike } from "../../modules/sdk/api.ts";
import { SessionClient } from "../../modules/sdk/session.ts";
import { ADMIN, bearer, mustLogin } from "../helpers/auth.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { waitForAuditTypes } from "../helpers/sessions.ts";
import { queryDb } from "../helpers/sql.ts";

let server: TestServer;
let agent: Agent;
let fetch: FetchLike;

const sha256 = async (text: string) =>
	Buffer.from(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text))).toString(
		"hex",
	);

beforeAll(async () => {
	server = await startServer();
	agent = new Agent({ connect: { ca: server.ca } });
	fetch = (url, init) => undiciFetch(url, { ...init, dispatcher: agent });
});

afterAll(async () => {
	await agent?.close();
	await server?.stop();
});

/** Issues a session with terms and joins it in `lang`; connects both sides. */
async function joinIn(lang: "en" | "de" | undefined) {
	const origin = server.url.origin;
	const supporterApi = createApiClient({ baseUrl: origin, fetch });
	await supporterApi.login(ADMIN);
	const created = await supporterApi.createSession({ requireTerms: true });
	const customerApi = createApiClient({ baseUrl: origin, fetch });
	const joined = await customerApi.joinSession({
		code: created.code,
		displayName: "Kim",
		...(lang ? { lang } : {}),
	});
	const socket = (url: string) => new UndiciWebSocket(url, { dispatcher: agent });
	const supporter = new SessionClient({
		role: "supporter",
		sessionId: created.sessionId,
		baseUrl: origin,
		webSocket: socket,
		renewTicket: () => supporterApi.ticket(created.sessionId),
	});
	const customer = new SessionClient({
		role: "customer",
		sessionId: joined.sessionId,
		baseUrl: origin,
		webSocket: socket,
		ticket: joined.ticket,
		renewTicket: () => customerApi.ticket(joined.sessionId, { resumeToken: joined.resumeToken }),
	});
	const ready = Promise.all([supporter.whenReady(10_000), customer.whenReady(10_000)]);
	await supporter.connect();
	await customer.connect();
	await ready;
	return { joined, supporter, customer, sessionId: created.sessionId };
}

describe("support terms per language", () => {
	it("gives a German customer the German terms (naming STOPP), and the relay takes their hash", async () => {
		const p = await joinIn("de");
		const terms = p.joined.terms;
		expect(terms?.lang).toBe("de");
		expect(terms?.text).toContain("STOPP");
		expect(terms?.text).toContain("Bedingungen für die Fernwartung");
		expect(terms?.sha256).toBe(await sha256(terms?.text ?? ""));

		const accepted = p.supporter.waitFor("state", (s) => s.termsAccepted, 10_000);
		await p.customer.acceptTerms(terms?.sha256);
		await accepted;
		// The protocol names the version the customer read and signed.
		await waitForAuditTypes(server, p.sessionId, ["terms.accepted"]);
		const row = queryDb(
			join(server.dataDir, "fernwart.db"),
			"SELECT data FROM audit_events WHERE session_id = ? AND type = 'terms.accepted'",
			[p.sessionId],
		)[0];
		expect(JSON.parse(String(row?.data)).termsSha256).toBe(terms?.sha256);
		p.supporter.close();
		p.customer.close();
	});

	it("gives English (the default) to every other page, and refuses terms of no version", async () => {
		const p = await joinIn(undefined);
		expect(p.joined.terms?.lang).toBe("en");
		expect(p.joined.terms?.text).toContain("Remote support terms");
		const refused = p.customer.waitFor("error", (e) => e.source === "server", 10_000);
		await p.customer.acceptTerms(await sha256("terms nobody was shown"));
		expect((await refused).code).toBe("NOT_ALLOWED");
		const accepted = p.customer.waitFor("state", (s) => s.termsAccepted, 10_000);
		await p.customer.acceptTerms(p.joined.terms?.sha256);
		await accepted;
		p.supporter.close();
		p.customer.close();
	});

	it("keeps the German text an admin set, for sessions issued after the change", async () => {
		const { accessToken } = await mustLogin(server, ADMIN);
		const text = "Eigene Bedingungen. Mit STOPP beenden Sie alles sofort.";
		const res = await server.json<{ termsTextDe: string }>("/api/v1/settings", {
			method: "PATCH",
			body: { termsTextDe: text },
			headers: bearer(accessToken),
		});
		expect(res.status).toBe(200);
		expect(res.body.termsTextDe).toBe(text);
		const p = await joinIn("de");
		expect(p.joined.terms?.text).toBe(text);
		p.supporter.close();
		p.customer.close();
	});
});
