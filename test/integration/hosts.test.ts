import { mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { answerChallenge, derivePasswordKey } from "../../modules/cli/host-auth.ts";
import { createTrustedTransport } from "../../modules/cli/tls.ts";
import {
	generateSigningKeyPair,
	importSigningPrivateKey,
	signEphemeral,
} from "../../modules/sdk/crypto.ts";
import { createHostApi } from "../../modules/sdk/hosts.ts";
import { SessionClient, type SessionErrorEvent } from "../../modules/sdk/session.ts";
import { CLOSE } from "../../protocol/control.ts";
import { toBase64url } from "../../protocol/encoding.ts";
import { decodeAuthMessage, encodeAuthMessage, PRESENCE_TIMEOUT_MS } from "../../protocol/host.ts";
import { ADMIN, bearer, createUserAs, mustLogin } from "../helpers/auth.ts";
import {
	caFile,
	enrollHost,
	enrollmentToken,
	JsonProcess,
	runHostAgent,
} from "../helpers/hosts.ts";
import { RawParticipant } from "../helpers/raw-session.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { queryDb } from "../helpers/sql.ts";

const PASSWORD = "correct horse battery staple";
const HOST_PASSWORD = "Wartung-2026-blue-lamp";

interface HostRow {
	id: string;
	name: string;
	online: boolean;
	lastSeenAt: number | null;
	group: { id: string; name: string };
	publicKey: string;
}

let server: TestServer;
let admin: string;
let alice: string; // supporter in "alpha"
let bob: string; // supporter in "beta"
const agents: JsonProcess[] = [];

function transportFor() {
	const trustFile = join(mkdtempSync(join(tmpdir(), "fernwart-trust-")), "known.json");
	return createTrustedTransport({ url: server.url, ca: server.ca, trustFile });
}

async function hostList(token: string): Promise<HostRow[]> {
	const res = await server.json<{ hosts: HostRow[] }>("/api/v1/hosts", { headers: bearer(token) });
	expect(res.status).toBe(200);
	return res.body.hosts;
}

async function waitOnline(token: string, hostId: string, online: boolean, timeoutMs = 20_000) {
	const started = Date.now();
	for (;;) {
		const host = (await hostList(token)).find((h) => h.id === hostId);
		if (host?.online === online) return Date.now() - started;
		if (Date.now() - started > timeoutMs) throw new Error(`host never became online=${online}`);
		await new Promise((r) => setTimeout(r, 250));
	}
}

function auditRows(type: string) {
	return queryDb(
		join(server.dataDir, "fernwart.db"),
		"SELECT type, host_id, session_id, data FROM audit_events WHERE type = ? ORDER BY seq",
		[type],
	);
}

function presenceRows(hostId: string) {
	return queryDb(
		join(server.dataDir, "fernwart.db"),
		"SELECT type, actor, data FROM audit_events WHERE host_id = ? AND type IN (?, ?) ORDER BY seq",
		[hostId, "host.online", "host.offline"],
	).map((r) => ({ ...r, data: JSON.parse(r.data as string) as unknown }));
}

/** The presence rows once there are `count` of them (the offline row follows the close). */
async function waitPresenceRows(hostId: string, count: number) {
	const started = Date.now();
	for (;;) {
		const rows = presenceRows(hostId);
		if (rows.length >= count || Date.now() - started > 10_000) return rows;
		await new Promise((r) => setTimeout(r, 250));
	}
}

/** A supporter's SDK session to a host, answering the host's challenges with `password`. */
async function supporterSession(token: string, hostId: string, password: string) {
	const transport = transportFor();
	const hosts = createHostApi({
		baseUrl: server.url,
		fetch: transport.fetch,
		accessToken: () => token,
	});
	const started = await hosts.connectHost(hostId);
	const session = new SessionClient({
		role: "supporter",
		sessionId: started.sessionId,
		baseUrl: server.url,
		webSocket: transport.webSocket,
		ticket: started.ticket,
		renewTicket: async () => {
			throw Object.assign(new Error("no resume in this test"), { status: 404 });
		},
		expectedHost: { publicKey: started.hostPublicKey, pinnedKey: started.hostPublicKey },
	});
	const results: { ok: boolean; reason?: string }[] = [];
	session.on("frame", (frame) => {
		if (frame.channelName !== "auth") return;
		const msg = decodeAuthMessage(frame.payload);
		if (msg?.t === "challenge") {
			void answerChallenge(password, msg).then((proof) =>
				session.send("auth", 0, encodeAuthMessage(proof)),
			);
		} else if (msg?.t === "result") {
			results.push(msg.reason ? { ok: msg.ok, reason: msg.reason } : { ok: msg.ok });
		}
	});
	await session.connect();
	return { session, started, results, transport };
}

beforeAll(async () => {
	server = await startServer();
	admin = (await mustLogin(server, ADMIN)).accessToken;
	await createUserAs(server, admin, {
		email: "alice@example.test",
		password: PASSWORD,
		groups: ["alpha"],
	});
	await createUserAs(server, admin, {
		email: "bob@example.test",
		password: PASSWORD,
		groups: ["beta"],
	});
	alice = (await mustLogin(server, { email: "alice@example.test", password: PASSWORD }))
		.accessToken;
	bob = (await mustLogin(server, { email: "bob@example.test", password: PASSWORD })).accessToken;
});

afterAll(async () => {
	for (const a of agents) {
		a.kill("SIGCONT");
		a.kill("SIGKILL");
	}
	await server?.stop();
});

describe("unattended hosts", () => {
	let first: Awaited<ReturnType<typeof enrollHost>>;

	it("enrols a host with a one-time token, shows it online, and offline soon after its agent dies", async () => {
		first = await enrollHost(server, alice, {
			group: "alpha",
			name: "pc-one",
			password: HOST_PASSWORD,
		});
		// A token works once.
		const { token } = await enrollmentToken(server, alice, "alpha");
		const publicKey = { kty: "OKP", crv: "Ed25519", x: first.file.publicKey };
		const body = { token, name: "pc-x", platform: "linux", publicKey };
		expect((await server.json("/api/v1/hosts/register", { body })).status).toBe(201);
		const reused = await server.json<{ error: { code: string } }>("/api/v1/hosts/register", {
			body,
		});
		expect(reused.status).toBe(400);
		expect(reused.body.error.code).toBe("INVALID_ENROLLMENT_TOKEN");

		const agent = runHostAgent(first.config);
		agents.push(agent);
		await agent.waitFor((e) => e.event === "online");
		await waitOnline(alice, first.hostId, true);
		const row = (await hostList(alice)).find((h) => h.id === first.hostId);
		expect(row).toMatchObject({
			name: "pc-one",
			group: { name: "alpha" },
			publicKey: first.file.publicKey,
		});
		expect(row?.lastSeenAt).toBeGreaterThan(0);

		// A killed agent: the kernel closes its socket, so the close is seen at once.
		agent.kill("SIGKILL");
		const afterKill = await waitOnline(alice, first.hostId, false, 30_000);
		console.log(`[hosts] offline after SIGKILL: ${afterKill} ms`);
		expect(afterKill).toBeLessThan(30_000);

		// The run/kill cycle is in the protocol: online, then offline because the socket closed.
		const presence = await waitPresenceRows(first.hostId, 2);
		expect(presence).toEqual([
			{ type: "host.online", actor: `host:${first.hostId}`, data: { suppressed: 0 } },
			{
				type: "host.offline",
				actor: `host:${first.hostId}`,
				data: { cause: "closed", suppressed: 0 },
			},
		]);
	});

	it("marks a silently vanished host (frozen agent, socket left open) offline within 30 s", async () => {
		const agent = runHostAgent(first.config);
		agents.push(agent);
		await agent.waitFor((e) => e.event === "online");
		await waitOnline(alice, first.hostId, true);
		// SIGSTOP: no FIN, no heartbeats — what a pulled cable looks like to the server.
		agent.kill("SIGSTOP");
		const silent = await waitOnline(alice, first.hostId, false, 40_000);
		console.log(`[hosts] offline after a silent drop: ${silent} ms`);
		expect(silent).toBeLessThanOrEqual(30_000);
		// Within a minute of the first pair: this second cycle is counted, not written, so a
		// flapping host cannot flood the protocol. It ends offline, as the protocol shows.
		expect(presenceRows(first.hostId)).toHaveLength(2);
		agent.kill("SIGCONT");
		agent.kill("SIGKILL");
	}, 90_000);

	it("hides another group's host: 404 on get, connect, session tickets, enrolment and policy", async () => {
		expect((await hostList(bob)).map((h) => h.id)).not.toContain(first.hostId);
		expect((await hostList(alice)).map((h) => h.id)).toContain(first.hostId);
		expect((await hostList(admin)).map((h) => h.id)).toContain(first.hostId);
		const get = await server.json(`/api/v1/hosts/${first.hostId}`, { headers: bearer(bob) });
		expect(get.status).toBe(404);
		const connect = await server.json(`/api/v1/hosts/${first.hostId}/sessions`, {
			method: "POST",
			body: {},
			headers: bearer(bob),
		});
		expect(connect.status).toBe(404);
		expect((connect.body as { error: { code: string } }).error.code).toBe("HOST_NOT_FOUND");
		const enrol = await server.json("/api/v1/hosts/enrollments", {
			body: { group: "alpha" },
			headers: bearer(bob),
		});
		expect(enrol.status).toBe(404);
		const row = (await hostList(alice)).find((h) => h.id === first.hostId) as HostRow;
		const policy = await server.json(`/api/v1/groups/${row.group.id}/host-policy`, {
			headers: bearer(bob),
		});
		expect(policy.status).toBe(404);

		// Alice's host session: its ticket route answers Bob as if it did not exist.
		const agent = runHostAgent(first.config);
		agents.push(agent);
		await agent.waitFor((e) => e.event === "online");
		await waitOnline(alice, first.hostId, true);
		const started = await server.json<{ sessionId: string }>(
			`/api/v1/hosts/${first.hostId}/sessions`,
			{
				method: "POST",
				body: {},
				headers: bearer(alice),
			},
		);
		expect(started.status).toBe(201);
		const ticket = await server.json(`/api/v1/sessions/${started.body.sessionId}/tickets`, {
			method: "POST",
			body: {},
			headers: bearer(bob),
		});
		expect(ticket.status).toBe(404);
		await server.json(`/api/v1/sessions/${started.body.sessionId}`, {
			method: "DELETE",
			headers: bearer(alice),
		});
		agent.kill("SIGKILL");
	});

	it("refuses wrong passwords, audits each, locks after 5 — and then refuses even the right one", async () => {
		const agent = runHostAgent(first.config);
		agents.push(agent);
		await agent.waitFor((e) => e.event === "online");
		await waitOnline(alice, first.hostId, true);
		const wrong = await supporterSession(alice, first.hostId, "not the password at all");
		const errors: SessionErrorEvent[] = [];
		wrong.session.on("error", (e) => errors.push(e));
		await wrong.session.whenReady(20_000);
		const deadline = Date.now() + 40_000;
		while (wrong.results.length < 5 && Date.now() < deadline)
			await new Promise((r) => setTimeout(r, 100));
		expect(wrong.results.map((r) => r.reason)).toEqual([
			"wrong",
			"wrong",
			"wrong",
			"wrong",
			"locked",
		]);
		// Nothing else flows while the host has not accepted a proof. The relay handles one
		// socket's messages in order: once the refusal of the request is back, the chat frame
		// sent before it has been decided too.
		const refused = wrong.session.waitFor(
			"error",
			(e) => e.source === "server" && e.code === "NOT_ALLOWED",
			10_000,
		);
		await wrong.session.send("chat", 0, new TextEncoder().encode("let me in")).catch(() => {});
		await wrong.session.requestView().catch(() => {});
		await refused;
		expect(agent.events.some((e) => e.event === "frame" && e.channel === "chat")).toBe(false);
		await wrong.session.close();
		await wrong.transport.close();

		// Locked: the right password is refused as well, without being checked.
		const right = await supporterSession(alice, first.hostId, HOST_PASSWORD);
		await right.session.whenReady(20_000);
		const until = Date.now() + 20_000;
		while (right.results.length < 1 && Date.now() < until)
			await new Promise((r) => setTimeout(r, 100));
		expect(right.results[0]).toEqual({ ok: false, reason: "locked" });
		right.session.close();
		await right.transport.close();

		const failed = auditRows("host.auth_failed");
		expect(failed.map((r) => JSON.parse(String(r.data)).result)).toEqual([
			"refused",
			"refused",
			"refused",
			"refused",
			"locked",
			"locked",
		]);
		expect(failed.every((r) => r.host_id === first.hostId)).toBe(true);
		expect(auditRows("host.connected")).toHaveLength(0);
		agent.kill("SIGKILL");
	}, 90_000);

	let second: Awaited<ReturnType<typeof enrollHost>>;

	it("connects with the right password through the connect CLI: frames flow both ways", async () => {
		second = await enrollHost(server, admin, {
			group: "alpha",
			name: "pc-two",
			password: HOST_PASSWORD,
		});
		const agent = runHostAgent(second.config);
		agents.push(agent);
		await agent.waitFor((e) => e.event === "online");
		await waitOnline(alice, second.hostId, true);
		const knownHosts = join(mkdtempSync(join(tmpdir(), "fernwart-kh-")), "known-hosts.json");
		const connectArgs = [
			"connect",
			"pc-two",
			"--url",
			server.url.origin,
			"--ca",
			caFile(server),
			"--trust-file",
			join(mkdtempSync(join(tmpdir(), "fernwart-trust-")), "known.json"),
			"--known-hosts",
			knownHosts,
			"--email",
			"alice@example.test",
			"--request-view",
			"--chat",
			"hello host",
			"--json",
		];
		const env = { FERNWART_PASSWORD: PASSWORD, FERNWART_HOST_PASSWORD: HOST_PASSWORD };
		const supporter = new JsonProcess(connectArgs, env);
		agents.push(supporter);
		await supporter.waitFor((e) => e.event === "host.pinned");
		await supporter.waitFor((e) => e.event === "auth" && e.ok === true, 30_000);
		const screen = await supporter.waitFor((e) => e.event === "screen", 20_000);
		expect(String(screen.text)).toContain("pc-two");
		const chat = await agent.waitFor((e) => e.event === "frame" && e.channel === "chat");
		expect(chat.text).toBe("hello host");
		supporter.kill("SIGINT");
		expect(await supporter.exited).toBe(0);

		const connected = auditRows("host.connected");
		expect(connected).toHaveLength(1);
		expect(connected[0]?.host_id).toBe(second.hostId);
		expect(JSON.parse(String(connected[0]?.data))).toMatchObject({ result: "accepted" });

		// The next connect finds the pinned key and goes through again.
		const again = new JsonProcess(connectArgs, env);
		agents.push(again);
		await again.waitFor((e) => e.event === "auth" && e.ok === true, 30_000);
		expect(again.events.some((e) => e.event === "host.pinned")).toBe(false);
		again.kill("SIGINT");
		await again.exited;
		agent.kill("SIGKILL");
	}, 90_000);

	it("keeps no host password material on the server: not the password, k or its hash", async () => {
		const { salt, kdf, verifier } = second.file.password;
		const k = await derivePasswordKey(HOST_PASSWORD, salt, { name: "scrypt", keyLen: 32, ...kdf });
		const needles = [
			HOST_PASSWORD,
			toBase64url(k),
			Buffer.from(k).toString("hex"),
			Buffer.from(k).toString("base64"),
			verifier,
			Buffer.from(verifier, "base64url").toString("hex"),
			salt,
		].map((s) => Buffer.from(s));
		needles.push(Buffer.from(k));
		const files: string[] = [];
		const walk = (dir: string) => {
			for (const name of readdirSync(dir)) {
				const path = join(dir, name);
				const stat = statSync(path);
				if (stat.isDirectory()) walk(path);
				else if (stat.isFile()) files.push(path); // not the DB service's socket
			}
		};
		walk(server.dataDir);
		expect(files.some((f) => f.endsWith("fernwart.db"))).toBe(true);
		for (const file of files) {
			const bytes = readFileSync(file);
			for (const needle of needles) expect(bytes.includes(needle), `${file}`).toBe(false);
		}
		// The grep is able to find things: the host's public key is in the database.
		const db = readFileSync(join(server.dataDir, "fernwart.db"));
		const wal = (() => {
			try {
				return readFileSync(join(server.dataDir, "fernwart.db-wal"));
			} catch {
				return Buffer.alloc(0);
			}
		})();
		expect(Buffer.concat([db, wal]).includes(Buffer.from(second.file.publicKey))).toBe(true);
	});

	it("the supporter SDK rejects a forged host signature and a changed pinned key", async () => {
		// Stand in for the host: its presence socket with a real challenge ticket.
		const identity = await importSigningPrivateKey(second.file.identityKey);
		const transport = transportFor();
		const hostApi = createHostApi({ baseUrl: server.url, fetch: transport.fetch });
		const presenceTicket = await hostApi.hostTicket(second.hostId, identity);
		const presence = new WebSocket(
			`wss://${server.url.host}/ws/v1/hosts/${second.hostId}?ticket=${presenceTicket}`,
			{ ca: server.ca },
		);
		const notices: { type: string; sessionId?: string; ticket?: string }[] = [];
		presence.on("message", (d) => notices.push(JSON.parse(String(d))));
		/** The presence socket's notice of `sessionId`, once it arrived (not the previous one). */
		const noticeOf = async (sessionId: string) => {
			const deadline = Date.now() + 10_000;
			for (;;) {
				const found = notices.find((n) => n.type === "session" && n.sessionId === sessionId);
				if (found?.ticket) return { ticket: found.ticket };
				if (Date.now() > deadline) throw new Error(`no notice of ${sessionId}`);
				await new Promise((r) => setTimeout(r, 50));
			}
		};
		await new Promise((resolve) => presence.once("open", resolve));
		presence.send(JSON.stringify({ type: "heartbeat" }));
		await waitOnline(alice, second.hostId, true);

		// A replayed presence ticket is refused.
		const replayStatus = await new Promise<number>((resolve) => {
			const ws = new WebSocket(
				`wss://${server.url.host}/ws/v1/hosts/${second.hostId}?ticket=${presenceTicket}`,
				{ ca: server.ca },
			);
			ws.once("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
			ws.once("open", () => {
				ws.close();
				resolve(101);
			});
		});
		expect(replayStatus).toBe(401);

		const supporter = createHostApi({
			baseUrl: server.url,
			fetch: transport.fetch,
			accessToken: () => alice,
		});
		const started = await supporter.connectHost(second.hostId);
		const until = Date.now() + 5000;
		while (!notices.some((n) => n.type === "session") && Date.now() < until) {
			await new Promise((r) => setTimeout(r, 50));
		}
		const notice = notices.find((n) => n.type === "session") as {
			sessionId: string;
			ticket: string;
		};
		expect(notice.sessionId).toBe(started.sessionId);

		const client = new SessionClient({
			role: "supporter",
			sessionId: started.sessionId,
			baseUrl: server.url,
			webSocket: transport.webSocket,
			ticket: started.ticket,
			renewTicket: async () => {
				throw Object.assign(new Error("none"), { status: 404 });
			},
			expectedHost: { publicKey: started.hostPublicKey, pinnedKey: second.file.publicKey },
		});
		const errors: SessionErrorEvent[] = [];
		client.on("error", (e) => errors.push(e));
		const closed = client.waitFor("closed", () => true, 15_000);
		await client.connect();

		const host = await RawParticipant.connect(server, started.sessionId, notice.ticket, "host");
		await host.next("peer");
		// The registered key in the hello, but the ephemeral key signed by another key.
		const forger = await generateSigningKeyPair();
		host.send({
			type: "hello",
			role: "host",
			x25519: toBase64url(host.keys.x.publicKey),
			ed25519: second.file.publicKey,
			identitySignature: await signEphemeral(
				forger.privateKey,
				started.sessionId,
				host.keys.x.publicKey,
			),
		});
		await closed;
		expect(errors.find((e) => e.fatal)?.code).toBe("BAD_HOST_SIGNATURE");
		expect(client.sas).toBeNull();

		// The relay itself refuses a host hello with a key that is not the registered one.
		const other = await supporter.connectHost(second.hostId);
		const otherNotice = await noticeOf(other.sessionId);
		const sup2 = await RawParticipant.connect(server, other.sessionId, other.ticket, "supporter");
		await sup2.hello();
		const host2 = await RawParticipant.connect(server, other.sessionId, otherNotice.ticket, "host");
		await host2.next("peer");
		host2.send({
			type: "hello",
			role: "host",
			x25519: toBase64url(host2.keys.x.publicKey),
			ed25519: toBase64url(new Uint8Array(await crypto.subtle.exportKey("raw", forger.publicKey))),
			identitySignature: await signEphemeral(
				forger.privateKey,
				other.sessionId,
				host2.keys.x.publicKey,
			),
		});
		const refused = await host2.next("error");
		expect(refused.code).toBe("NOT_ALLOWED");

		// A pinned copy that differs from what the server returns: a loud error, no handshake.
		const third = await supporter.connectHost(second.hostId);
		const pinnedOther = new SessionClient({
			role: "supporter",
			sessionId: third.sessionId,
			baseUrl: server.url,
			webSocket: transport.webSocket,
			ticket: third.ticket,
			renewTicket: async () => {
				throw Object.assign(new Error("none"), { status: 404 });
			},
			expectedHost: { publicKey: third.hostPublicKey, pinnedKey: host.keys.ed25519 },
		});
		const errs: SessionErrorEvent[] = [];
		pinnedOther.on("error", (e) => errs.push(e));
		const closed3 = pinnedOther.waitFor("closed", () => true, 15_000);
		await pinnedOther.connect();
		const thirdNotice = await noticeOf(third.sessionId);
		const identitySession = new SessionClient({
			role: "host",
			identity: { privateKey: identity, publicKey: second.file.publicKey },
			sessionId: third.sessionId,
			baseUrl: server.url,
			webSocket: transport.webSocket,
			ticket: thirdNotice.ticket,
			renewTicket: async () => hostApi.hostTicket(second.hostId, identity, third.sessionId),
		});
		await identitySession.connect();
		await closed3;
		expect(errs.find((e) => e.fatal)?.code).toBe("HOST_KEY_CHANGED");
		identitySession.close();
		host.close();
		host2.close();
		sup2.close();
		// An oversized presence message closes the socket unread (4008), as a session frame does.
		const presenceClosed = new Promise<number>((resolve) => presence.once("close", resolve));
		presence.send(JSON.stringify({ type: "heartbeat", pad: "x".repeat(2000) }));
		expect(await presenceClosed).toBe(CLOSE.TOO_LARGE);
		await transport.close();
	}, 60_000);

	it("answers a keepalive ping on the presence socket and a close with the host's code", async () => {
		const identity = await importSigningPrivateKey(second.file.identityKey);
		const transport = transportFor();
		const hostApi = createHostApi({ baseUrl: server.url, fetch: transport.fetch });
		const ticket = await hostApi.hostTicket(second.hostId, identity);
		const presence = new WebSocket(
			`wss://${server.url.host}/ws/v1/hosts/${second.hostId}?ticket=${ticket}`,
			{ ca: server.ca },
		);
		await new Promise((resolve) => presence.once("open", resolve));
		const pong = new Promise<string>((resolve) =>
			presence.once("message", (d) => resolve(String(d))),
		);
		presence.send("ping");
		expect(await pong).toBe("pong");
		const started = Date.now();
		const closed = new Promise<number>((resolve) => presence.once("close", resolve));
		presence.close(1000, "bye");
		expect(await closed).toBe(1000);
		expect(Date.now() - started).toBeLessThan(2000);
		await transport.close();
	});

	it("keeps a pinging agent online past the presence timeout without waking its actor", async () => {
		const agent = runHostAgent(second.config);
		agents.push(agent);
		await agent.waitFor((e) => e.event === "online");
		await waitOnline(alice, second.hostId, true);
		// The agent only pings: workerd answers without the actor, whose alarm reads the time of
		// the last answer. Past PRESENCE_TIMEOUT_MS the host is still online, and no JSON
		// heartbeat woke the actor meanwhile.
		const heartbeats = async () =>
			Number(
				/^fernwart_presence_heartbeats_total (\d+)$/m.exec(
					await (await server.fetch("/metrics")).text(),
				)?.[1] ?? 0,
			);
		const before = await heartbeats();
		await new Promise((resolve) => setTimeout(resolve, PRESENCE_TIMEOUT_MS + 3_000));
		expect((await hostList(alice)).find((h) => h.id === second.hostId)?.online).toBe(true);
		expect(await heartbeats()).toBe(before);
		agent.kill("SIGKILL");
	}, 90_000);
});
