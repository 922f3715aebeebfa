import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { createTrustedTransport } from "../../modules/cli/tls.ts";
import { importSigningPrivateKey } from "../../modules/sdk/crypto.ts";
import { createHostApi } from "../../modules/sdk/hosts.ts";
import { CLOSE } from "../../protocol/control.ts";
import { ADMIN, bearer, createUserAs, mustLogin, type Session } from "../helpers/auth.ts";
import { enrollHost } from "../helpers/hosts.ts";
import { RawParticipant } from "../helpers/raw-session.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { auditChain, openPair } from "../helpers/sessions.ts";

const PASSWORD = "correct horse battery staple";

/**
 * Taking a privilege away acts on live connections at once: sockets of sessions the person or
 * host is no longer entitled to end (reason `revoked`), tickets issued before are refused when
 * used, and access tokens issued before a logout or a new password stop working.
 */
describe("privilege changes act at once", () => {
	let server: TestServer;
	let admin: string;
	let host: Awaited<ReturnType<typeof enrollHost>>;
	let presence: WebSocket | undefined;

	beforeAll(async () => {
		server = await startServer();
		admin = (await mustLogin(server, ADMIN)).accessToken;
		const group = await server.json("/api/v1/groups", {
			body: { name: "desk" },
			headers: bearer(admin),
		});
		expect(group.status).toBe(201);
		host = await enrollHost(server, admin, { group: "desk", name: "pc-1", password: PASSWORD });
	});
	afterAll(async () => {
		presence?.close();
		await server?.stop();
	});

	/** Stands in for the host agent: a presence socket with a real challenge ticket. */
	async function hostPresenceTicket(): Promise<string> {
		const trustFile = join(mkdtempSync(join(tmpdir(), "fernwart-trust-")), "known.json");
		const transport = createTrustedTransport({ url: server.url, ca: server.ca, trustFile });
		const api = createHostApi({ baseUrl: server.url, fetch: transport.fetch });
		return api.hostTicket(host.hostId, await importSigningPrivateKey(host.file.identityKey));
	}

	function openPresence(ticket: string): Promise<{ ws: WebSocket; status: number }> {
		return new Promise((resolve) => {
			const ws = new WebSocket(
				`wss://${server.url.host}/ws/v1/hosts/${host.hostId}?ticket=${ticket}`,
				{
					ca: server.ca,
				},
			);
			ws.on("error", () => {}); // a refused upgrade also emits an error; the status says it
			ws.once("unexpected-response", (_req, res) => resolve({ ws, status: res.statusCode ?? 0 }));
			ws.once("open", () => resolve({ ws, status: 101 }));
		});
	}

	async function hostOnline(): Promise<void> {
		presence?.close();
		const opened = await openPresence(await hostPresenceTicket());
		expect(opened.status).toBe(101);
		presence = opened.ws;
		presence.send(JSON.stringify({ type: "heartbeat" }));
		for (let i = 0; i < 100; i++) {
			const res = await server.json<{ online: boolean }>(`/api/v1/hosts/${host.hostId}`, {
				headers: bearer(admin),
			});
			if (res.body.online) return;
			await new Promise((r) => setTimeout(r, 100));
		}
		throw new Error("host never came online");
	}

	/** A supporter of group `desk` with a live host session and its open supporter socket. */
	async function hostSessionOf(email: string) {
		const user = await createUserAs(server, admin, { email, password: PASSWORD, groups: ["desk"] });
		const token = (await mustLogin(server, { email, password: PASSWORD })).accessToken;
		await hostOnline();
		const started = await server.json<{ sessionId: string; ticket: string }>(
			`/api/v1/hosts/${host.hostId}/sessions`,
			{ method: "POST", headers: bearer(token) },
		);
		expect(started.status).toBe(201);
		const socket = await RawParticipant.connect(
			server,
			started.body.sessionId,
			started.body.ticket,
			"supporter",
		);
		return { user, token, sessionId: started.body.sessionId, socket };
	}

	async function expectRevoked(p: RawParticipant): Promise<void> {
		expect(await p.next("end")).toMatchObject({ type: "end", reason: "revoked" });
		// The relay has sent its Close (the client is closing or closed); when the close
		// handshake has completed, the code is ENDED.
		for (let i = 0; i < 40 && p.ws.readyState === WebSocket.OPEN; i++)
			await new Promise((r) => setTimeout(r, 50));
		expect(p.ws.readyState).toBeGreaterThanOrEqual(WebSocket.CLOSING);
		if (p.closeCode !== null) expect(p.closeCode).toBe(CLOSE.ENDED);
	}

	function endedRow(sessionId: string) {
		return auditChain(server).find((e) => e.sessionId === sessionId && e.type === "session.ended");
	}

	it("disabling a supporter ends their live session: no chat reaches the customer after", async () => {
		await createUserAs(server, admin, { email: "bob@example.test", password: PASSWORD });
		const bob = (await mustLogin(server, { email: "bob@example.test", password: PASSWORD }))
			.accessToken;
		const pair = await openPair(server, bob);
		const bobId = (await server.json<{ id: string }>("/api/v1/me", { headers: bearer(bob) })).body
			.id;

		const res = await server.json(`/api/v1/users/${bobId}`, {
			method: "PATCH",
			body: { disabled: true },
			headers: bearer(admin),
		});
		expect(res.status).toBe(200);
		await expectRevoked(pair.supporter);
		await expectRevoked(pair.customer);
		const before = pair.customer.frames.length;
		// The supporter's socket is closed; nothing it still tries to send arrives.
		if (pair.supporter.ws.readyState === WebSocket.OPEN) pair.supporter.ws.send("{}");
		await new Promise((r) => setTimeout(r, 300));
		expect(pair.customer.frames.length).toBe(before);
		expect(endedRow(pair.sessionId)?.data).toMatchObject({ reason: "revoked" });
		const adminId = (await server.json<{ id: string }>("/api/v1/me", { headers: bearer(admin) }))
			.body.id;
		expect(endedRow(pair.sessionId)?.data).toMatchObject({ by: adminId });
	});

	it("removing a supporter from the host's group ends the host session and refuses new tickets", async () => {
		const { user, sessionId, socket, token } = await hostSessionOf("carol@example.test");
		const res = await server.json(`/api/v1/users/${user.id}`, {
			method: "PATCH",
			body: { groups: [] },
			headers: bearer(admin),
		});
		expect(res.status).toBe(200);
		await expectRevoked(socket);
		const again = await server.json(`/api/v1/sessions/${sessionId}/tickets`, {
			method: "POST",
			headers: bearer(token),
		});
		expect([404, 410]).toContain(again.status);
		const connect = await server.json(`/api/v1/hosts/${host.hostId}/sessions`, {
			method: "POST",
			headers: bearer(token),
		});
		expect(connect.status).toBe(404);
	});

	it("disabling a host ends its live sessions and refuses a presence ticket issued before", async () => {
		const { sessionId, socket } = await hostSessionOf("dave@example.test");
		const ticket = await hostPresenceTicket();
		const res = await server.json(`/api/v1/hosts/${host.hostId}`, {
			method: "PATCH",
			body: { disabled: true },
			headers: bearer(admin),
		});
		expect(res.status).toBe(200);
		await expectRevoked(socket);
		expect(endedRow(sessionId)?.data).toMatchObject({ reason: "revoked" });
		// Issued while the host was enabled, used after: refused like any invalid ticket.
		const late = await openPresence(ticket);
		expect(late.status).toBe(401);
		late.ws.terminate();
		await server.json(`/api/v1/hosts/${host.hostId}`, {
			method: "PATCH",
			body: { disabled: false },
			headers: bearer(admin),
		});
	});

	it("logout ends the access tokens already issued, on every device; a device refreshes once", async () => {
		await createUserAs(server, admin, { email: "erin@example.test", password: PASSWORD });
		const laptop = await mustLogin(server, { email: "erin@example.test", password: PASSWORD });
		const phone = await mustLogin(server, { email: "erin@example.test", password: PASSWORD });
		const me = (s: Session) => server.json("/api/v1/me", { headers: bearer(s.accessToken) });
		expect((await me(laptop)).status).toBe(200);

		const out = await server.json("/api/v1/auth/logout", {
			body: { refreshToken: laptop.refreshToken },
		});
		expect(out.status).toBe(204);
		expect((await me(laptop)).status).toBe(401);
		expect((await me(phone)).status).toBe(401);
		// The other device's login is not ended: its refresh token gets a working access token.
		const refreshed = await server.json<Session>("/api/v1/auth/refresh", {
			body: { refreshToken: phone.refreshToken },
		});
		expect(refreshed.status).toBe(200);
		expect((await me(refreshed.body)).status).toBe(200);
		// The logged-out one is ended for good.
		const dead = await server.json("/api/v1/auth/refresh", {
			body: { refreshToken: laptop.refreshToken },
		});
		expect(dead.status).toBe(401);
	});

	it("one's own new password, and one set by an admin, end the access tokens issued before", async () => {
		const frank = await createUserAs(server, admin, {
			email: "frank@example.test",
			password: PASSWORD,
		});
		const first = await mustLogin(server, { email: "frank@example.test", password: PASSWORD });
		const changed = await server.json("/api/v1/me/password", {
			body: { currentPassword: PASSWORD, newPassword: "another long passphrase" },
			headers: bearer(first.accessToken),
		});
		expect(changed.status).toBe(204);
		expect((await server.json("/api/v1/me", { headers: bearer(first.accessToken) })).status).toBe(
			401,
		);

		const second = await mustLogin(server, {
			email: "frank@example.test",
			password: "another long passphrase",
		});
		const set = await server.json(`/api/v1/users/${frank.id}`, {
			method: "PATCH",
			body: { password: "a third long passphrase" },
			headers: bearer(admin),
		});
		expect(set.status).toBe(200);
		expect((await server.json("/api/v1/me", { headers: bearer(second.accessToken) })).status).toBe(
			401,
		);
	});
});
