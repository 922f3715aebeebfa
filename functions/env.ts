import type { Db, DbBinding } from "../schema/db.ts";

/** Bindings the worker is started with (wrangler.toml, the launcher and deploy/ agree on these). */
export interface Env {
	/** The Node DB service: runs SQL on libSQL. */
	DB: DbBinding;
	/** Shared secret the DB service demands; made by the launcher, kept in the data dir. */
	DB_TOKEN: string;
	FERNWART_VERSION: string;
	PUBLIC_URL?: string;
}

/** Hono's environment: the bindings plus what middleware puts on the request. */
export interface AppEnv {
	Bindings: Env;
	Variables: { db: Db };
}
