import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env.ts";
import { AppError } from "../lib/errors.ts";
import { missingSecrets } from "../lib/secrets.ts";

/**
 * Answers 503 SERVER_MISCONFIGURED (without naming anything: /readyz does that for the admin)
 * when a required secret binding is missing, instead of a 500 from deep inside a login.
 */
export const requireSecrets = createMiddleware<AppEnv>(async (c, next) => {
	const missing = missingSecrets(c.env);
	if (missing.length > 0) {
		console.error(`[app] refusing requests: ${missing.join(", ")} not set (see /readyz)`);
		throw new AppError("SERVER_MISCONFIGURED");
	}
	await next();
});
