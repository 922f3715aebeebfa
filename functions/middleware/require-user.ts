import { createMiddleware } from "hono/factory";
import { getUserById } from "../../schema/users.ts";
import type { AppEnv, Principal } from "../env.ts";
import { AppError } from "../lib/errors.ts";
import { AUDIENCES, type Audience, verifyToken } from "../lib/jwt.ts";
import { dbFor } from "./with-db.ts";

function bearer(header: string | undefined): string | null {
	const m = /^Bearer ([A-Za-z0-9_.-]{10,4096})$/.exec(header ?? "");
	return m?.[1] ?? null;
}

/**
 * Authenticates a bearer token for the given audiences and puts the principal on `c.var`. The
 * user row is read on every request, so disabling an account, deleting it, a new password or a
 * logout (each raises the user's token version past the token's `tv`) ends its access at once,
 * not when the access token expires.
 */
function authenticate(audiences: readonly Audience[], check: (p: Principal) => void) {
	return createMiddleware<AppEnv>(async (c, next) => {
		const token = bearer(c.req.header("authorization"));
		if (!token) throw new AppError("UNAUTHENTICATED", undefined, { "www-authenticate": "Bearer" });
		const claims = await verifyToken(c.env.JWT_PRIVATE_KEY, token, audiences);
		if (!claims) throw new AppError("UNAUTHENTICATED", undefined, { "www-authenticate": "Bearer" });
		const db = dbFor(c.env);
		c.set("db", db);
		let principal: Principal;
		if (claims.aud === AUDIENCES.adminCli) {
			// Only someone who can read the signing key in the data dir can mint this audience.
			principal = { kind: "cli", id: "cli", role: "admin", aud: claims.aud };
		} else {
			const user = await getUserById(db, claims.sub);
			if (!user || user.disabled || claims.tv !== user.tokenVersion)
				throw new AppError("UNAUTHENTICATED", undefined, { "www-authenticate": "Bearer" });
			principal = { kind: "user", id: user.id, role: user.role, aud: claims.aud, user };
		}
		check(principal);
		c.set("principal", principal);
		await next();
	});
}

/** A logged-in user with a full API token. */
export const requireUser = authenticate([AUDIENCES.api, AUDIENCES.totpEnrol], (p) => {
	if (p.aud === AUDIENCES.totpEnrol) throw new AppError("TOTP_ENROLMENT_REQUIRED");
});

/**
 * A logged-in user, or the admin CLI on the server machine (as an admin): for read routes the
 * CLI lists, such as GET /api/v1/hosts.
 */
export const requireUserOrAdminCli = authenticate(
	[AUDIENCES.api, AUDIENCES.totpEnrol, AUDIENCES.adminCli],
	(p) => {
		if (p.aud === AUDIENCES.totpEnrol) throw new AppError("TOTP_ENROLMENT_REQUIRED");
	},
);

/** A logged-in user, also one whose token only allows setting up TOTP (GET /me, /me/totp). */
export const requireUserOrEnrolling = authenticate([AUDIENCES.api, AUDIENCES.totpEnrol], () => {});

/** An admin user, or the admin CLI on the server machine. */
export const requireAdmin = authenticate(
	[AUDIENCES.api, AUDIENCES.totpEnrol, AUDIENCES.adminCli],
	(p) => {
		if (p.aud === AUDIENCES.totpEnrol) throw new AppError("TOTP_ENROLMENT_REQUIRED");
		if (p.role !== "admin") throw new AppError("FORBIDDEN");
	},
);
