import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, startServer, type TestServer } from "../helpers/server.ts";

const ADMIN_ENV = {
	FERNWART_EMAIL: "admin@example.test",
	FERNWART_PASSWORD: "correct horse battery staple",
};

type Event = { event: string } & Record<string, unknown>;

interface Run {
	child: ChildProcess;
	events: Event[];
	stderr: () => string;
	/** Resolves with the first event matching `predicate` (already seen ones count). */
	waitFor: (predicate: (e: Event) => boolean, timeoutMs?: number) => Promise<Event>;
	exited: Promise<number | null>;
}

/** Runs `npm run fernwart -- …` the way npm does (same Node, same entry file). */
function runCli(args: string[], home: string, env: Record<string, string> = {}): Run {
	const child = spawn(process.execPath, [join(ROOT, "server/cli.ts"), ...args], {
		cwd: ROOT,
		env: { PATH: process.env.PATH ?? "", HOME: home, ...env },
		stdio: ["ignore", "pipe", "pipe"],
	});
	const events: Event[] = [];
	const waiters: { predicate: (e: Event) => boolean; resolve: (e: Event) => void }[] = [];
	let buffer = "";
	let stderr = "";
	child.stdout?.setEncoding("utf8");
	child.stdout?.on("data", (chunk: string) => {
		buffer += chunk;
		for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
			const line = buffer.slice(0, nl);
			buffer = buffer.slice(nl + 1);
			const event = JSON.parse(line) as Event; // --json: every line must be one JSON object
			events.push(event);
			for (const w of [...waiters]) {
				if (w.predicate(event)) {
					waiters.splice(waiters.indexOf(w), 1);
					w.resolve(event);
				}
			}
		}
	});
	child.stderr?.setEncoding("utf8");
	child.stderr?.on("data", (chunk: string) => {
		stderr += chunk;
	});
	const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
	return {
		child,
		events,
		stderr: () => stderr,
		exited,
		waitFor(predicate, timeoutMs = 30_000) {
			const seen = events.find(predicate);
			if (seen) return Promise.resolve(seen);
			return new Promise((resolve, reject) => {
				const timer = setTimeout(() => {
					reject(new Error(`no matching event; got ${JSON.stringify(events)}\n${stderr}`));
				}, timeoutMs);
				waiters.push({
					predicate,
					resolve: (e) => {
						clearTimeout(timer);
						resolve(e);
					},
				});
			});
		},
	};
}

const stateOf = (e: Event) => e.state as { shower: string | null; controller: string | null };

describe("CLI modules: support and join", () => {
	let server: TestServer;
	let fingerprint: string;
	let home: string;
	let trustFile: string;
	beforeAll(async () => {
		server = await startServer();
		const m = /TLS certificate SHA-256 fingerprint: ([0-9A-F:]{95})/.exec(server.output());
		if (!m?.[1]) throw new Error(`no fingerprint in the launcher's output:\n${server.output()}`);
		fingerprint = m[1];
		home = mkdtempSync(join(tmpdir(), "fernwart-cli-"));
		trustFile = join(home, "known-servers.json");
	});
	afterAll(async () => {
		await server?.stop();
		if (home) rmSync(home, { recursive: true, force: true });
	});

	it("connects a supporter and a customer non-interactively; both print the same SAS", async () => {
		const origin = server.url.origin;
		const supporter = runCli(
			[
				"support",
				"--url",
				origin,
				"--fingerprint",
				fingerprint,
				"--trust-file",
				trustFile,
				"--json",
				"--require-terms",
				"--admit",
				"--request-view",
				"--request-control",
				"--comment",
				"printer queue cleared",
				"--chat",
				"hello from support",
				"--exit-after-ms",
				"30000",
			],
			home,
			ADMIN_ENV,
		);
		const session = await supporter.waitFor((e) => e.event === "session");
		expect(session.code).toMatch(/^\d{8}$/);
		// The supporter's first contact pinned the certificate; the customer relies on that pin.
		const pins = JSON.parse(readFileSync(trustFile, "utf8"));
		expect(pins.servers[origin].fingerprint).toBe(fingerprint);

		const customer = runCli(
			[
				"join",
				String(session.code),
				"--url",
				origin,
				"--trust-file",
				trustFile,
				"--json",
				"--name",
				"Carla",
				"--accept-terms",
				"--grant-view",
				"--grant-control",
				"--chat",
				"hello from the customer",
			],
			home,
		);
		const [a, b] = await Promise.all([
			supporter.waitFor((e) => e.event === "sas"),
			customer.waitFor((e) => e.event === "sas"),
		]);
		expect(a.sas).toMatch(/^\d{6}$/);
		expect(a.sas).toBe(b.sas);

		await customer.waitFor((e) => e.event === "terms" && typeof e.sha256 === "string");
		await supporter.waitFor((e) => e.event === "state" && stateOf(e).controller === "supporter");
		const grant = await supporter.waitFor(
			(e) => e.event === "control" && (e.message as { type: string }).type === "control.grant",
		);
		expect(grant.verified).toBe(true);
		expect((await customer.waitFor((e) => e.event === "frame" && e.channel === "chat")).text).toBe(
			"hello from support",
		);
		expect((await supporter.waitFor((e) => e.event === "frame" && e.channel === "chat")).text).toBe(
			"hello from the customer",
		);
		await supporter.waitFor((e) => e.event === "action" && e.action === "comment");

		// STOP from the customer's side (a signal means STOP too) ends it for both.
		customer.child.kill("SIGINT");
		const [endA, endB] = await Promise.all([
			supporter.waitFor((e) => e.event === "end"),
			customer.waitFor((e) => e.event === "end"),
		]);
		expect(endA).toMatchObject({ reason: "stopped", by: "customer" });
		expect(endB).toMatchObject({ reason: "stopped" });
		expect(await customer.exited).toBe(0);
		expect(await supporter.exited).toBe(0);
		expect(supporter.stderr() + customer.stderr()).toBe("");
	});

	it("refuses a changed certificate with a clear error", async () => {
		const origin = server.url.origin;
		const file = join(home, "changed.json");
		const other = fingerprint.replace(/^../, fingerprint.startsWith("00") ? "11" : "00");
		writeFileSync(
			file,
			JSON.stringify({ version: 1, servers: { [origin]: { fingerprint: other, pinnedAt: "x" } } }),
		);
		const run = runCli(["join", "12345678", "--url", origin, "--trust-file", file], home);
		expect(await run.exited).toBe(3);
		expect(run.stderr()).toContain("different certificate than the one pinned");
		expect(run.stderr()).toContain(fingerprint);
	});

	it("refuses an untrusted self-signed certificate without a pin or fingerprint", async () => {
		const run = runCli(
			["join", "12345678", "--url", server.url.origin, "--trust-file", join(home, "empty.json")],
			home,
		);
		expect(await run.exited).toBe(3);
		expect(run.stderr()).toContain("is not trusted");
		expect(run.stderr()).toContain("--fingerprint");
		expect(run.stderr()).toContain("the enrolment command on the admin page includes it");
	});

	it("accepts the server's own certificate as --ca and pins it", async () => {
		const file = join(home, "ca.json");
		const ca = join(server.dataDir, "tls", "cert.pem");
		const run = runCli(
			["join", "00000000", "--url", server.url.origin, "--ca", ca, "--trust-file", file],
			home,
		);
		expect(await run.exited).toBe(1);
		expect(run.stderr()).toContain("SESSION_NOT_FOUND");
		expect(JSON.parse(readFileSync(file, "utf8")).servers[server.url.origin].fingerprint).toBe(
			fingerprint,
		);
	});

	it("does not connect when the customer does not accept the terms", async () => {
		const origin = server.url.origin;
		const supporter = runCli(
			[
				"support",
				"--url",
				origin,
				"--trust-file",
				trustFile,
				"--json",
				"--require-terms",
				"--exit-after-ms",
				"20000",
			],
			home,
			ADMIN_ENV,
		);
		const session = await supporter.waitFor((e) => e.event === "session");
		const customer = runCli(
			[
				"join",
				String(session.code),
				"--url",
				origin,
				"--trust-file",
				trustFile,
				"--json",
				"--lang",
				"de",
			],
			home,
		);
		expect(await customer.exited).toBe(4);
		expect(customer.events.map((e) => e.event)).toEqual(["joined", "terms", "terms.decision"]);
		// --lang de: the German terms, which name the STOPP key of the German pages.
		expect(String(customer.events[1]?.text)).toContain("STOPP");
		// A signal makes the supporter end the session over HTTP before it exits.
		supporter.child.kill("SIGTERM");
		expect(await supporter.exited).toBe(0);
		expect(supporter.events.at(-2)).toMatchObject({ event: "end", reason: "ended" });
	});
});
