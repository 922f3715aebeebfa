import { createRoute, z } from "@hono/zod-openapi";
import { getUserGroupNames } from "../../schema/groups.ts";
import { revokeUserRefreshTokens } from "../../schema/refresh-tokens.ts";
import { getSettings } from "../../schema/settings.ts";
import { claimTotpStep, normaliseEmail, type User, updateUser } from "../../schema/users.ts";
import type { Principal } from "../env.ts";
import { audit } from "../lib/audit.ts";
import { AppError } from "../lib/errors.ts";
import { hashPassword, verifyPassword } from "../lib/password.ts";
import { createRouter, errorResponse, jsonResponse } from "../lib/router.ts";
import { seal, unseal } from "../lib/seal.ts";
import { newTotpSecret, totpEnrolment, verifyTotp } from "../lib/totp.ts";
import { withClientAddress } from "../middleware/client-address.ts";
import { releaseAttempt, reserveAttempt } from "../middleware/rate-limit.ts";
import { requireUser, requireUserOrEnrolling } from "../middleware/require-user.ts";
import { failLogin, loginCounters, settleLogin } from "./auth.ts";
import { picturesEnabled } from "./pictures.ts";
import { passwordSchema, toUserView, userSchema } from "./user-view.ts";

/** The own account: the user view plus the optional features the admin configured. */
const meSchema = userSchema
	.extend({
		features: z.object({
			/** Profile pictures can be set (the admin configured an S3 store). */
			pictures: z.boolean(),
		}),
	})
	.openapi("Me");

const codeBody = z.object({ code: z.string().regex(/^\d{6}$/) }).openapi("TotpCode");
const security = [{ bearer: [] }];

const passwordChangeBody = z
	.object({ currentPassword: z.string().min(1).max(1024), newPassword: passwordSchema })
	.strict()
	.openapi("PasswordChange");

/** The logged-in user's own account, and setting up the second factor. */
export const me = createRouter();
// `/api/v1/me/*` also matches `/api/v1/me` itself in Hono.
me.use("/api/v1/me/*", withClientAddress);

/** The principal of these routes is always a user; the CLI's audience is not accepted here. */
function userOf(principal: Principal): User {
	if (principal.kind !== "user") throw new AppError("FORBIDDEN");
	return principal.user;
}

me.openapi(
	createRoute({
		method: "get",
		path: "/api/v1/me",
		tags: ["me"],
		security,
		middleware: [requireUserOrEnrolling] as const,
		responses: {
			200: jsonResponse(meSchema, "The logged-in user, and what this server offers them."),
			401: errorResponse("UNAUTHENTICATED"),
		},
	}),
	async (c) => {
		const user = userOf(c.var.principal);
		return c.json(
			{
				...toUserView(user, await getUserGroupNames(c.var.db, user.id)),
				features: { pictures: picturesEnabled(c.env) },
			},
			200,
		);
	},
);

me.openapi(
	createRoute({
		method: "post",
		path: "/api/v1/me/totp",
		tags: ["me"],
		security,
		middleware: [requireUserOrEnrolling] as const,
		responses: {
			200: jsonResponse(
				z.object({ secret: z.string(), uri: z.string() }).openapi("TotpEnrolment"),
				"A new secret; it takes effect after POST /api/v1/me/totp/confirm.",
			),
			409: errorResponse("TOTP_ALREADY_ENABLED"),
		},
	}),
	async (c) => {
		const user = userOf(c.var.principal);
		if (user.totpEnabled) throw new AppError("TOTP_ALREADY_ENABLED");
		const secret = newTotpSecret();
		await updateUser(c.var.db, user.id, {
			totpSecret: await seal(c.env.SEAL_KEY, secret, user.id),
			totpLastStep: null,
		});
		return c.json(totpEnrolment(secret, user.email), 200);
	},
);

me.openapi(
	createRoute({
		method: "post",
		path: "/api/v1/me/totp/confirm",
		tags: ["me"],
		security,
		middleware: [requireUserOrEnrolling] as const,
		request: { body: { content: { "application/json": { schema: codeBody } }, required: true } },
		responses: {
			200: jsonResponse(userSchema, "TOTP is on; log in again to get a full session."),
			401: errorResponse("INVALID_TOTP"),
			409: errorResponse("TOTP_ALREADY_ENABLED or TOTP_NOT_STARTED"),
		},
	}),
	async (c) => {
		const user = userOf(c.var.principal);
		if (user.totpEnabled) throw new AppError("TOTP_ALREADY_ENABLED");
		const secret = user.totpSecret ? await unseal(c.env.SEAL_KEY, user.totpSecret, user.id) : null;
		if (!secret) throw new AppError("TOTP_NOT_STARTED");
		const step = verifyTotp(secret, c.req.valid("json").code);
		if (step === null || !(await claimTotpStep(c.var.db, user.id, step))) {
			throw new AppError("INVALID_TOTP");
		}
		const updated = await updateUser(c.var.db, user.id, { totpEnabled: true });
		await audit(c.env, {
			type: "user.totp_enabled",
			actor: user.id,
			subject: user.id,
			ip: c.var.ip,
		});
		return c.json(toUserView(updated ?? user, await getUserGroupNames(c.var.db, user.id)), 200);
	},
);

me.openapi(
	createRoute({
		method: "delete",
		path: "/api/v1/me/totp",
		tags: ["me"],
		security,
		middleware: [requireUser] as const,
		request: { body: { content: { "application/json": { schema: codeBody } }, required: true } },
		responses: {
			204: { description: "TOTP is off." },
			401: errorResponse("INVALID_TOTP"),
			409: errorResponse("TOTP_MANDATORY"),
			429: errorResponse("RATE_LIMITED, with Retry-After"),
		},
	}),
	async (c) => {
		const user = userOf(c.var.principal);
		if ((await getSettings(c.var.db)).requireTotp) throw new AppError("TOTP_MANDATORY");
		if (user.totpEnabled) {
			// A current code proves the authenticator is at hand, not just a stolen access token.
			// Six digits are a million codes, so the check sits behind the login's counters.
			const email = normaliseEmail(user.email);
			const attempt = await reserveAttempt(c.env, loginCounters(email, c.var.ip));
			const secret = user.totpSecret
				? await unseal(c.env.SEAL_KEY, user.totpSecret, user.id)
				: null;
			const step = secret ? verifyTotp(secret, c.req.valid("json").code) : null;
			if (step === null || !(await claimTotpStep(c.var.db, user.id, step))) {
				return failLogin(c, attempt, email, user, "totp_disable_bad_code", "INVALID_TOTP");
			}
			// Right code: nothing counts, but the account's earlier failures are not forgotten.
			await releaseAttempt(c.env, attempt);
		}
		await updateUser(c.var.db, user.id, {
			totpEnabled: false,
			totpSecret: null,
			totpLastStep: null,
		});
		await audit(c.env, {
			type: "user.totp_disabled",
			actor: user.id,
			subject: user.id,
			ip: c.var.ip,
		});
		return c.body(null, 204);
	},
);

me.openapi(
	createRoute({
		method: "post",
		path: "/api/v1/me/password",
		tags: ["me"],
		security,
		middleware: [requireUser] as const,
		request: {
			body: { content: { "application/json": { schema: passwordChangeBody } }, required: true },
		},
		responses: {
			204: { description: "The password is changed; every refresh token of the user is revoked." },
			400: errorResponse("INVALID_REQUEST"),
			401: errorResponse("INVALID_CREDENTIALS: the current password is wrong"),
			429: errorResponse("RATE_LIMITED, with Retry-After"),
		},
	}),
	async (c) => {
		const user = userOf(c.var.principal);
		const body = c.req.valid("json");
		const email = normaliseEmail(user.email);
		const ip = c.var.ip;
		// The same counters as the login: a stolen access token must not become a password oracle.
		const attempt = await reserveAttempt(c.env, loginCounters(email, ip));
		if (!(await verifyPassword(body.currentPassword, user.passwordHash))) {
			return failLogin(
				c,
				attempt,
				email,
				user,
				"password_change_bad_password",
				"INVALID_CREDENTIALS",
			);
		}
		await updateUser(c.var.db, user.id, { passwordHash: await hashPassword(body.newPassword) });
		// Logged out everywhere, this browser included: whoever knew the old password is out.
		await revokeUserRefreshTokens(c.var.db, user.id);
		await settleLogin(c.env, attempt, email);
		await audit(c.env, {
			type: "user.password_changed",
			actor: user.id,
			subject: user.id,
			ip,
		});
		return c.body(null, 204);
	},
);
