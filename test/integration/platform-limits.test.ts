/**
 * workerd never raises its own limit of open files, and each online host costs it about five
 * descriptors: under the usual soft limit of 1,024 it would stop accepting at about 190 hosts
 * (`accept(): Too many open files`). Started by the launcher it inherits Node's limit, which Node
 * raised to the hard one; the launcher says at start how many hosts that allows, and warns when
 * the hard limit itself is low.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openFilesLimit } from "../../server/workerd.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

/** The launcher's children (workerd execs over prlimit and setpriv, so it is the child). */
function childPids(pid: number): number[] {
	return execFileSync("ps", ["-e", "-o", "pid=,ppid=,comm="], { encoding: "utf8" })
		.split("\n")
		.map((l) => l.trim().split(/\s+/))
		.filter((r) => Number(r[1]) === pid)
		.map((r) => Number(r[0]));
}

describe("workerd's limit of open files", () => {
	let server: TestServer;

	beforeAll(async () => {
		// A soft limit as systemd leaves it by default, below a higher hard limit.
		server = await startServer({ wrap: ["prlimit", "--nofile=1024:4096", "--"] });
	});

	afterAll(async () => {
		await server?.stop();
	});

	it("gives workerd the hard limit, not the soft one it was started with, and warns it is low", async () => {
		// Started with a soft limit of 1,024: Node raised it to the hard one.
		const launcher = openFilesLimit(readFileSync(`/proc/${server.launcherPid}/limits`, "utf8"));
		expect(launcher).toEqual({ soft: 4096, hard: 4096 });
		const workerd = childPids(server.launcherPid)
			.map((pid) => ({ pid, cmd: readFileSync(`/proc/${pid}/cmdline`, "utf8") }))
			.find((p) => p.cmd.includes("workerd"));
		expect(workerd).toBeDefined();
		const limits = openFilesLimit(readFileSync(`/proc/${workerd?.pid}/limits`, "utf8"));
		expect(limits).toEqual({ soft: 4096, hard: 4096 });
		// Logged right after the "listening" line the helper waits for.
		const line = "workerd may open 4096 files: about 819 online hosts; raise LimitNOFILE";
		for (let i = 0; i < 100 && !server.output().includes(line); i++)
			await new Promise((r) => setTimeout(r, 50));
		expect(server.output()).toContain(line);
	});

	it("reads the limits as /proc shows them, unlimited included", () => {
		const text = [
			"Limit                     Soft Limit           Hard Limit           Units",
			"Max open files            1024                 unlimited            files",
		].join("\n");
		expect(openFilesLimit(text)).toEqual({ soft: 1024, hard: Number.POSITIVE_INFINITY });
		expect(openFilesLimit("Max processes 10 10")).toBeNull();
	});
});
