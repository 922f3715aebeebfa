import { createMiddleware } from "hono/factory";
import { bindingExecutor, createDb, type Db } from "../../schema/db.ts";
import type { AppEnv, Env } from "../env.ts";

// One handle per binding object: building drizzle's query builder per request is wasted work.
const handles = new WeakMap<object, Db>();

/** Returns the drizzle handle over the `DB` binding. */
export function dbFor(env: Env): Db {
	let db = handles.get(env.DB);
	if (!db) {
		db = createDb(bindingExecutor(env.DB, env.DB_TOKEN));
		handles.set(env.DB, db);
	}
	return db;
}

/** Puts the database handle on `c.var.db`. */
export const withDb = createMiddleware<AppEnv>(async (c, next) => {
	c.set("db", dbFor(c.env));
	await next();
});
