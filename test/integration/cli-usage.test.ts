import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { makeDataDir, ROOT } from "../helpers/server.ts";

/** `npm run fernwart -- …` as a process in `cwd`, with only the given environment. */
function cli(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) {
	const res = spawnSync(process.execPath, [join(ROOT, "server/cli.ts"), ...args], {
		cwd: opts.cwd ?? ROOT,
		env: { PATH: process.env.PATH ?? "", HOME: tmpdir(), ...opts.env },
		encoding: "utf8",
		timeout: 30_000,
	});
	return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

describe("admin CLI: usage", () => {
	it("lists every command with --help", () => {
		const help = cli(["--help"]);
		expect(help.code).toBe(0);
		for (const command of [
			"user add",
			"host list",
			"support",
			"join CODE",
			"host enroll",
			"host run",
			"connect HOST",
			"update",
			"audit verify",
		])
			expect(help.stdout).toContain(command);
	});

	it("says so for an unknown command, with exit 2", () => {
		const res = cli(["frobnicate"]);
		expect(res.code).toBe(2);
		expect(res.stderr).toContain("unknown command 'frobnicate'");
		expect(res.stderr).toContain("audit verify");
	});

	it("refuses a database command without DATA_DIR instead of creating ./data", () => {
		const cwd = mkdtempSync(join(tmpdir(), "fernwart-cwd-"));
		const res = cli(["user", "list"], { cwd });
		expect(res.code).toBe(1);
		expect(res.stderr).toContain(`no Fernwart data dir at ${join(cwd, "data")}`);
		expect(res.stderr).toContain("DATA_DIR");
		expect(readdirSync(cwd)).toEqual([]);
	});

	it("refuses a data dir without a database instead of making a new one", () => {
		const dataDir = makeDataDir();
		const res = cli(["user", "list"], { env: { DATA_DIR: dataDir } });
		expect(res.code).toBe(1);
		expect(res.stderr).toContain(`no Fernwart database at ${join(dataDir, "fernwart.db")}`);
		expect(existsSync(join(dataDir, "fernwart.db"))).toBe(false);
	});

	it("names the field when user add gets a malformed e-mail address", () => {
		const res = cli(["user", "add", "--email", "bad"], { env: { DATA_DIR: makeDataDir() } });
		expect(res.code).toBe(2);
		expect(res.stderr).toContain("--email: 'bad' is not an e-mail address");
	});
});
