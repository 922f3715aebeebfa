import { timingSafeEqual } from "node:crypto";
import type { Client } from "@libsql/client";
import { Hono } from "hono";
import { sqlBatchSchema, sqlStatementSchema } from "../schema/sql-wire.ts";
import { clientExecutor } from "./db.ts";
import { log } from "./log.ts";

function tokenMatches(header: string | undefined, token: string): boolean {
	const expected = Buffer.from(`Bearer ${token}`);
	const given = Buffer.from(header ?? "");
	// Constant-time compare; the length check leaks only the length of a fixed-format header.
	return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * The `DB` service: runs SQL from the worker on libSQL. Under Miniflare it is a binding that
 * never touches the network; under plain workerd it listens on loopback, so it still demands
 * the shared token that only the launcher and the workerd config hold.
 */
export function createDbService(client: Client, token: string): Hono {
	const exec = clientExecutor(client);
	const fail = (code: string, status: 400 | 401 | 503) =>
		new Response(JSON.stringify({ error: { code } }), {
			status,
			headers: { "content-type": "application/json" },
		});

	return new Hono()
		.use(async (c, next) => {
			if (!tokenMatches(c.req.header("authorization"), token)) return fail("UNAUTHORIZED", 401);
			await next();
		})
		.post("/query", async (c) => {
			const parsed = sqlStatementSchema.safeParse(await c.req.json().catch(() => null));
			if (!parsed.success) return fail("INVALID_STATEMENT", 400);
			return c.json(await exec.query(parsed.data));
		})
		.post("/batch", async (c) => {
			const parsed = sqlBatchSchema.safeParse(await c.req.json().catch(() => null));
			if (!parsed.success) return fail("INVALID_STATEMENT", 400);
			return c.json(await exec.batch(parsed.data.statements));
		})
		.post("/ping", async (c) => {
			await client.execute("SELECT 1");
			return c.json({ ok: true });
		})
		.onError((err) => {
			// SQLite errors (constraint violations and the like) go back to the worker as a code;
			// the statement and its values are never logged, they may hold personal data.
			const code = /constraint/i.test(err.message) ? "CONSTRAINT" : "DB_ERROR";
			if (code === "DB_ERROR") log.warn("db-service", `query failed: ${err.name}`);
			return new Response(JSON.stringify({ error: { code, message: err.message.slice(0, 200) } }), {
				status: code === "CONSTRAINT" ? 409 : 503,
				headers: { "content-type": "application/json" },
			});
		});
}
