import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyExportText } from "../../protocol/audit-export.ts";
import { ROOT, startServer, type TestServer } from "../helpers/server.ts";

type Event = { event: string } & Record<string, unknown>;
const children: ChildProcess[] = [];

/** `npm run fernwart -- …` with --json: every stdout line is one event. */
function run(args: string[], env: Record<string, string> = {}) {
	const child: ChildProcess = spawn(process.execPath, [join(ROOT, "server/cli.ts"), ...args], {
		cwd: ROOT,
		env: { PATH: process.env.PATH ?? "", HOME: tmpdir(), ...env },
		stdio: ["ignore", "pipe", "pipe"],
	});
	const events: Event[] = [];
	let out = "";
	let err = "";
	child.stdout?.setEncoding("utf8");
	child.stdout?.on("data", (chunk: string) => {
		out += chunk;
		const lines = out.split("\n");
		out = lines.pop() ?? "";
		for (const line of lines) events.push(JSON.parse(line) as Event);
	});
	child.stderr?.on("data", (chunk) => {
		err += chunk;
	});
	const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
	children.push(child);
	const waitFor = async (predicate: (e: Event) => boolean) => {
		for (let i = 0; i < 300; i++) {
			const found = events.find(predicate);
			if (found) return found;
			await new Promise((r) => setTimeout(r, 100));
		}
		throw new Error(`no such event in ${JSON.stringify(events)}\n${err}`);
	};
	return { child, events, exited, waitFor, stderr: () => err };
}

describe("fernwart support --protocol-dir", () => {
	let server: TestServer;
	let home: string;
	beforeAll(async () => {
		server = await startServer();
		home = mkdtempSync(join(tmpdir(), "fernwart-protocol-"));
	});
	afterAll(async () => {
		for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
		await server?.stop();
		if (home) rmSync(home, { recursive: true, force: true });
	});

	it("keeps a verifiable copy of the session's protocol in the supporter's folder", async () => {
		const fingerprint =
			/TLS certificate SHA-256 fingerprint: ([0-9A-F:]{95})/.exec(server.output())?.[1] ?? "";
		const trust = ["--url", server.url.origin, "--trust-file", join(home, "known.json")];
		const dir = join(home, "protocols");
		const supporter = run(
			[
				"support",
				...trust,
				"--fingerprint",
				fingerprint,
				"--json",
				"--admit",
				"--protocol-dir",
				dir,
			],
			{ FERNWART_EMAIL: "admin@example.test", FERNWART_PASSWORD: "correct horse battery staple" },
		);
		const session = await supporter.waitFor((e) => e.event === "session");
		const customer = run([
			"join",
			String(session.code),
			...trust,
			"--json",
			"--name",
			"Carla",
			"--accept-terms",
			"--grant-view",
		]);
		await customer.waitFor((e) => e.event === "sas");
		customer.child.kill("SIGINT"); // STOP
		expect(await supporter.exited).toBe(0);
		await customer.exited;

		const saved = await supporter.waitFor((e) => e.event === "protocol");
		const files = readdirSync(dir);
		expect(files).toHaveLength(1);
		expect(saved.path).toBe(join(dir, files[0] as string));
		expect(saved.summary).toMatch(/^intact: /);
		const text = readFileSync(saved.path as string, "utf8");
		const result = await verifyExportText(text);
		expect(result.ok).toBe(true);
		const types = text
			.split("\n")
			.filter(Boolean)
			.map((l) => JSON.parse(l) as { kind: string; type?: string; sessionId?: string })
			.filter((l) => l.kind === "event" && l.sessionId === session.sessionId)
			.map((l) => l.type);
		expect(types[0]).toBe("session.issued");
		expect(types.slice(-2)).toEqual(["session.stopped", "session.ended"]);
		expect(supporter.stderr()).toBe("");
	});
});
