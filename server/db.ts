import { fileURLToPath } from "node:url";
import { type Client, createClient, type InValue } from "@libsql/client";
import { migrate } from "drizzle-orm/sqlite-proxy/migrator";
import { createDb, type Db } from "../schema/db.ts";
import {
	decodeSqlValue,
	encodeSqlValue,
	type SqlExecutor,
	type SqlResult,
	type SqlStatement,
} from "../schema/sql-wire.ts";
import type { Config } from "./config.ts";

export const MIGRATIONS_DIR = fileURLToPath(new URL("../migrations", import.meta.url));

/** Opens the database: the embedded file by default, a libSQL server when LIBSQL_URL says so. */
export async function openClient(
	config: Pick<Config, "libsqlUrl" | "libsqlAuthToken">,
): Promise<Client> {
	const client = createClient({ url: config.libsqlUrl, authToken: config.libsqlAuthToken });
	if (config.libsqlUrl.startsWith("file:")) {
		// WAL lets the admin CLI read while the server writes; a busy timeout rides out short locks.
		await client.execute("PRAGMA journal_mode = WAL");
		await client.execute("PRAGMA busy_timeout = 5000");
		await client.execute("PRAGMA foreign_keys = ON");
	}
	return client;
}

function toLibsql(statement: SqlStatement) {
	return { sql: statement.sql, args: statement.params.map(decodeSqlValue) as InValue[] };
}

function toResult(statement: SqlStatement, rows: ArrayLike<unknown>[]): SqlResult {
	if (statement.method === "run") return { rows: [] };
	// libSQL rows are array-like objects that also carry column names; drizzle wants plain arrays.
	return { rows: rows.map((row) => Array.from(row, encodeSqlValue)) };
}

/** Executes wire statements on a libSQL client. Batches run in one write transaction. */
export function clientExecutor(client: Client): SqlExecutor {
	return {
		async query(statement) {
			const rs = await client.execute(toLibsql(statement));
			return toResult(statement, rs.rows);
		},
		async batch(statements) {
			const results = await client.batch(statements.map(toLibsql), "write");
			return results.map((rs, i) => toResult(statements[i] as SqlStatement, rs.rows));
		},
	};
}

/** A drizzle handle for Node code (launcher, admin CLI, tests) on the same executor. */
export function nodeDb(client: Client): Db {
	return createDb(clientExecutor(client));
}

/** Applies migrations/ (drizzle-kit output); already applied ones are skipped by their hash. */
export async function applyMigrations(client: Client): Promise<void> {
	const db = nodeDb(client);
	await migrate(
		db,
		async (queries) => {
			await client.batch(queries, "write");
		},
		{ migrationsFolder: MIGRATIONS_DIR },
	);
}
