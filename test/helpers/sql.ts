import { execFileSync } from "node:child_process";
import { ROOT } from "./server.ts";

/**
 * Runs a read-only query on a libSQL file in a separate Node process and returns the rows.
 *
 * Why not in-process: once the libSQL native module is loaded into the test runner, processes the
 * runner spawns afterwards no longer react to SIGTERM (measured: the launcher hangs or dies by
 * the signal's default action). Keeping libSQL out of the runner keeps the stop tests honest.
 */
export function queryDb(
	dbPath: string,
	sql: string,
	args: (string | number | null)[] = [],
): Record<string, unknown>[] {
	const script = `
		import { createClient } from "@libsql/client";
		const db = createClient({ url: "file:" + process.argv[1] });
		const rs = await db.execute({ sql: process.argv[2], args: JSON.parse(process.argv[3]) });
		db.close();
		process.stdout.write(JSON.stringify(rs.rows.map((r) => ({ ...r }))));
	`;
	const argv = ["--input-type=module", "-e", script, dbPath, sql, JSON.stringify(args)];
	const out = execFileSync(process.execPath, argv, {
		cwd: ROOT,
		encoding: "utf8",
	});
	return JSON.parse(out) as Record<string, unknown>[];
}
