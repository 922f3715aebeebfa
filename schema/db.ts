import { drizzle, type SqliteRemoteDatabase } from "drizzle-orm/sqlite-proxy";
import * as schema from "./index.ts";
import {
	decodeSqlValue,
	encodeSqlValue,
	type SqlExecutor,
	type SqlMethod,
	type SqlResult,
	type SqlStatement,
} from "./sql-wire.ts";

/** The database handle every query function in schema/ takes first. */
export type Db = SqliteRemoteDatabase<typeof schema>;

function toStatement(sql: string, params: unknown[], method: SqlMethod): SqlStatement {
	return { sql, params: params.map(encodeSqlValue) as SqlStatement["params"], method };
}

function decodeRows(result: SqlResult): { rows: unknown[] } {
	const decodeRow = (row: unknown) => (Array.isArray(row) ? row.map(decodeSqlValue) : row);
	return { rows: result.rows.map(decodeRow) };
}

/**
 * Builds the one drizzle handle type used everywhere. Inside workerd the executor talks to the
 * Node DB service over the `DB` binding; in Node it calls libSQL directly. drizzle's sqlite-proxy
 * wants `get` to return the single row itself, not a list.
 */
export function createDb(executor: SqlExecutor): Db {
	return drizzle(
		async (sql, params, method) => {
			const result = decodeRows(await executor.query(toStatement(sql, params, method)));
			return method === "get" ? { rows: (result.rows[0] as unknown[] | undefined) ?? [] } : result;
		},
		async (queries) => {
			const results = await executor.batch(
				queries.map((q) => toStatement(q.sql, q.params, q.method)),
			);
			return results.map((r, i) => {
				const decoded = decodeRows(r);
				return queries[i]?.method === "get"
					? { rows: (decoded.rows[0] as unknown[] | undefined) ?? [] }
					: decoded;
			});
		},
		{ schema },
	);
}

/** The worker side of the binding: a service (workerd `Fetcher`) that speaks the DB protocol. */
export interface DbBinding {
	fetch(input: string, init?: RequestInit): Promise<Response>;
}

/** Thrown when the DB service cannot be reached or refuses; callers fail closed. */
export class DbUnavailableError extends Error {
	override name = "DbUnavailableError";
}

async function post(binding: DbBinding, token: string, path: string, body: unknown) {
	const res = await binding.fetch(`http://db${path}`, {
		method: "POST",
		headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
		body: JSON.stringify(body),
	});
	if (!res.ok) {
		// The service answers with a code and a message only, never the SQL or its parameters.
		const text = await res.text().catch(() => "");
		throw new DbUnavailableError(`DB service answered ${res.status}: ${text.slice(0, 200)}`);
	}
	return res.json();
}

/** An executor over the `DB` service binding. */
export function bindingExecutor(binding: DbBinding, token: string): SqlExecutor {
	return {
		query: async (statement) => (await post(binding, token, "/query", statement)) as SqlResult,
		batch: async (statements) =>
			(await post(binding, token, "/batch", { statements })) as SqlResult[],
	};
}
