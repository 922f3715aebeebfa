import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { findChainBreak } from "../../schema/audit.ts";
import { ADMIN, bearer, mustLogin } from "../helpers/auth.ts";
import { CHANNELS, RawParticipant } from "../helpers/raw-session.ts";
import { makeDataDir, startServer, type TestServer } from "../helpers/server.ts";
import { auditChain, openPair } from "../helpers/sessions.ts";

const te = new TextEncoder();

/** Kills the launcher and its workerd with SIGKILL: a crash, with no chance to clean up. */
async function crash(server: TestServer): Promise<void> {
	const pid = server.process.pid as number;
	const children = execFileSync("ps", ["-o", "pid=", "--ppid", String(pid)], { encoding: "utf8" })
		.split("\n")
		.map((s) => Number(s.trim()))
		.filter(Boolean);
	const exited = new Promise((r) => server.process.once("exit", r));
	for (const p of [pid, ...children]) process.kill(p, "SIGKILL");
	await exited;
	await new Promise((r) => setTimeout(r, 200));
}

/** Reconnects a participant to a (restarted) server with a fresh ticket, keeping its keys. */
async function resume(
	old: RawParticipant,
	server: TestServer,
	ticket: string,
): Promise<RawParticipant> {
	const next = await RawParticipant.connect(server, old.sessionId, ticket, old.role);
	Object.assign(next, { keys: old.keys, cipher: old.cipher, sas: old.sas });
	return next;
}

describe("sessions survive a crash of the server", () => {
	it("resumes both sides with new tickets, consent intact, no committed audit row lost, chain intact", async () => {
		const dataDir = makeDataDir();
		const first = await startServer({ dataDir, keepData: true });
		const { accessToken } = await mustLogin(first, ADMIN);
		const { sessionId, joined, supporter, customer } = await openPair(first, accessToken);
		supporter.send({ type: "view.request" });
		await customer.next("view.request");
		await customer.consent("view.grant");
		// Control is asked for what is shown: wait until the relay applied the grant, or the
		// request can overtake it on the other socket and be refused.
		await supporter.state((s) => s.shower === "customer");
		supporter.send({ type: "control.request" });
		await customer.next("control.request");
		await customer.consent("control.grant");
		await supporter.state((s) => s.controller === "supporter" && s.shower === "customer");
		const before = auditChain(first);

		await crash(first);
		await supporter.until(() => supporter.closeCode !== null);
		await customer.until(() => customer.closeCode !== null);

		const second = await startServer({ dataDir });
		try {
			// The supporter's access token is still good (the signing key lives in the data dir);
			// the customer resumes with the token it got when it joined.
			const st = await second.json<{ ticket: string }>(`/api/v1/sessions/${sessionId}/tickets`, {
				method: "POST",
				headers: bearer(accessToken),
			});
			const ct = await second.json<{ ticket: string }>(`/api/v1/sessions/${sessionId}/tickets`, {
				body: { resumeToken: joined.resumeToken },
			});
			expect(st.status).toBe(200);
			expect(ct.status).toBe(200);
			const s2 = await resume(supporter, second, st.body.ticket);
			const c2 = await resume(customer, second, ct.body.ticket);
			const state = await s2.state((s) => (s.connected as string[]).length === 2);
			expect(state).toMatchObject({ phase: "active", shower: "customer", controller: "supporter" });

			// Frames flow on under the same keys and sequence numbers, under the same grants.
			const click = await s2.seal(CHANNELS.input, te.encode("click after restart"));
			s2.sendFrame(click);
			const got = await c2.until(() => c2.frames[0]);
			expect(got).toEqual(click);
			expect((await c2.cipher?.open(got))?.ok).toBe(true);

			// A wrong resume token gets nothing.
			const bad = await second.json(`/api/v1/sessions/${sessionId}/tickets`, {
				body: { resumeToken: "x".repeat(43) },
			});
			expect(bad.status).toBe(404);

			await c2.consent("stop");
			await s2.until(() => s2.closeCode !== null);
			// The stop's rows follow the close; wait for them rather than for a delay.
			let after = auditChain(second);
			for (let i = 0; i < 100 && !after.some((r) => r.type === "session.stopped"); i++) {
				await new Promise((r) => setTimeout(r, 100));
				after = auditChain(second);
			}
			// Every row committed before the crash is still there, unchanged, in order.
			expect(after.slice(0, before.length)).toEqual(before);
			expect(after.map((r) => r.type)).toEqual(
				expect.arrayContaining(["session.resumed", "session.stopped"]),
			);
			expect(await findChainBreak(after)).toBeNull();
		} finally {
			await second.stop();
		}
	});
});
