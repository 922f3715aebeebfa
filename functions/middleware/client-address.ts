import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env.ts";
import { clientAddress } from "../lib/client-address.ts";

/** Puts the client address on `c.var.ip` (see lib/client-address.ts for what it can be). */
export const withClientAddress = createMiddleware<AppEnv>(async (c, next) => {
	const req = c.req.raw;
	// `cf` exists only in workerd's Request; Node's type (used by the Node type check) lacks it.
	c.set("ip", clientAddress(req.headers, "cf" in req ? req.cf : undefined, c.env));
	await next();
});
