import * as z from "zod";

/**
 * The JSON form of SQL statements and results on the `DB` service binding. JSON has no bytes, so
 * BLOB values travel as `{ "$bytes": base64 }` in both directions; everything else is plain JSON.
 */
export const SQL_METHODS = ["run", "all", "values", "get"] as const;
export type SqlMethod = (typeof SQL_METHODS)[number];

const sqlValue = z.union([
	z.string(),
	z.number(),
	z.boolean(),
	z.null(),
	z.object({ $bytes: z.string() }).strict(),
]);

export const sqlStatementSchema = z
	.object({
		sql: z.string().min(1).max(100_000),
		params: z.array(sqlValue).max(10_000),
		method: z.enum(SQL_METHODS),
	})
	.strict();
export type SqlStatement = z.infer<typeof sqlStatementSchema>;

export const sqlBatchSchema = z.object({
	statements: z.array(sqlStatementSchema).min(1).max(1_000),
});

/** Rows: arrays of column values, in the positional shape drizzle's sqlite-proxy expects. */
export interface SqlResult {
	rows: unknown[];
}

/** Runs statements. The worker's executor goes over the binding; Node's calls libSQL directly. */
export interface SqlExecutor {
	query(statement: SqlStatement): Promise<SqlResult>;
	batch(statements: SqlStatement[]): Promise<SqlResult[]>;
}

function toBase64(bytes: Uint8Array): string {
	let s = "";
	for (const b of bytes) s += String.fromCharCode(b);
	return btoa(s);
}

function fromBase64(b64: string): Uint8Array {
	const s = atob(b64);
	const out = new Uint8Array(s.length);
	for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
	return out;
}

/** Turns a value from drizzle or libSQL into its wire form. */
export function encodeSqlValue(value: unknown): unknown {
	if (value instanceof Uint8Array) return { $bytes: toBase64(value) };
	if (value instanceof ArrayBuffer) return { $bytes: toBase64(new Uint8Array(value)) };
	if (typeof value === "bigint") return Number(value);
	if (value === undefined) return null;
	return value;
}

/** Turns a wire value back into what drizzle or libSQL takes. */
export function decodeSqlValue(value: unknown): unknown {
	if (value !== null && typeof value === "object" && "$bytes" in value) {
		return fromBase64(String((value as { $bytes: unknown }).$bytes));
	}
	return value;
}
