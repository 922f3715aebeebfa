import { describe, expect, it } from "vitest";
import { decodeSqlValue, encodeSqlValue, sqlStatementSchema } from "../../schema/sql-wire.ts";

describe("SQL wire format", () => {
	it("round-trips bytes through JSON as base64", () => {
		const bytes = new Uint8Array([0, 1, 2, 250, 255]);
		const wire = JSON.parse(JSON.stringify(encodeSqlValue(bytes)));
		expect(wire).toEqual({ $bytes: "AAEC+v8=" });
		expect(decodeSqlValue(wire)).toEqual(bytes);
	});

	it("passes plain values through and maps undefined and bigint", () => {
		expect(encodeSqlValue("x")).toBe("x");
		expect(encodeSqlValue(3)).toBe(3);
		expect(encodeSqlValue(null)).toBeNull();
		expect(encodeSqlValue(undefined)).toBeNull();
		expect(encodeSqlValue(5n)).toBe(5);
	});

	it("rejects statements with unknown methods, objects as values or extra keys", () => {
		const ok = { sql: "SELECT ?", params: [1], method: "all" };
		expect(sqlStatementSchema.safeParse(ok).success).toBe(true);
		expect(sqlStatementSchema.safeParse({ ...ok, method: "exec" }).success).toBe(false);
		expect(sqlStatementSchema.safeParse({ ...ok, params: [{ a: 1 }] }).success).toBe(false);
		expect(sqlStatementSchema.safeParse({ ...ok, extra: true }).success).toBe(false);
		expect(sqlStatementSchema.safeParse({ ...ok, sql: "" }).success).toBe(false);
	});
});
