import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { Db } from "../../schema/db.ts";
import { getUserGroupNames } from "../../schema/groups.ts";
import {
	claimPasswordReset,
	getPasswordReset,
	insertPasswordReset,
} from "../../schema/password-resets.ts";
import {
	claimRefreshToken,
	familyStart,
	getRefreshToken,
	insertRefreshToken,
	insertRotatedRefreshToken,
	revokeRefreshFamily,
	revokeUserRefreshTokens,
} from "../../schema/refresh-tokens.ts";
import { getSettings } from "../../schema/settings.ts";
import {
	claimTotpStep,
	endAccessTokens,
	getUserByEmail,
	getUserById,
	normaliseEmail,
	type User,
	updateUser,
} from "../../schema/users.ts";
import type { AppEnv, Env } from "../env.ts";
import { audit } from "../lib/audit.ts";
import { AppError } from "../lib/errors.ts";
import { ACCESS_TOKEN_SECONDS, AUDIENCES, publicJwks, signToken } from "../lib/jwt.ts";
import { createOpaqueToken, opaqueSecretMatches, parseOpaqueToken } from "../lib/opaque-token.ts";
import { burnPasswordCheck, hashPassword, verifyPassword } from "../lib/password.ts";
import { createRouter, errorResponse, jsonResponse } from "../lib/router.ts";
import { unseal } from "../lib/seal.ts";
import { verifyTotp } from "../lib/totp.ts";
import { withClientAddress } from "../middleware/client-address.ts";
import {
	forgetCounter,
	type LimitCounter,
	POLICIES,
	type Reserved,
	releaseAttempt,
	reserveAttempt,
} from "../middleware/rate-limit.ts";
import { dbFor, withDb } from "../middleware/with-db.ts";
import { emailSchema, passwordSchema, toUserView, userSchema } from "./user-view.ts";

const REFRESH_TOKEN_MS = 30 * 86_400_000;
/** A family ends this long after its login, however often it was rotated. */
export const REFRESH_FAMILY_MAX_MS = 30 * 86_400_000;
const RESET_TOKEN_MS = 30 * 60_000;

const sessionSchema = z
	.object({
		accessToken: z.string(),
		/** Absent when the user may only set up TOTP (the admin requires it, they have none). */
		refreshToken: z.string().optional(),
		tokenType: z.literal("Bearer"),
		expiresIn: z.number().int().openapi({ description: "Access token lifetime in seconds." }),
		totpEnrolmentRequired: z.boolean().optional(),
		user: userSchema,
	})
	.openapi("Session");

const loginBody = z
	.object({
		email: emailSchema,
		password: z.string().min(1).max(1024),
		totp: z
			.string()
			.regex(/^\d{6}$/)
			.optional(),
	})
	.openapi("LoginRequest");

const refreshBody = z
	.object({ refreshToken: z.string().min(1).max(200) })
	.openapi("RefreshRequest");

type Ctx = Context<AppEnv>;

/**
 * Issues an access token and a new refresh token: in a new family on login, or in the family
 * (and with the start) of the token being rotated. No token expires after its family's end.
 * A rotation whose family was revoked meanwhile (a concurrent reuse) issues nothing.
 */
async function issueSession(
	c: Ctx,
	user: User,
	family: { id: string; startedAt: Date; rotated: boolean } = {
		id: crypto.randomUUID(),
		startedAt: new Date(),
		rotated: false,
	},
) {
	const refresh = await createOpaqueToken();
	const now = Date.now();
	const familyEnd = family.startedAt.getTime() + REFRESH_FAMILY_MAX_MS;
	const row = {
		id: refresh.id,
		userId: user.id,
		familyId: family.id,
		familyStartedAt: family.startedAt,
		secretHash: refresh.secretHash,
		createdAt: new Date(now),
		expiresAt: new Date(Math.min(now + REFRESH_TOKEN_MS, familyEnd)),
	};
	if (!family.rotated) await insertRefreshToken(c.var.db, row);
	else if (!(await insertRotatedRefreshToken(c.var.db, row))) {
		throw new AppError("INVALID_REFRESH_TOKEN");
	}
	const accessToken = await signToken(
		c.env.JWT_PRIVATE_KEY,
		{ sub: user.id, role: user.role, tv: user.tokenVersion },
		AUDIENCES.api,
	);
	return {
		accessToken,
		refreshToken: refresh.token,
		tokenType: "Bearer" as const,
		expiresIn: ACCESS_TOKEN_SECONDS,
		user: toUserView(user, await getUserGroupNames(c.var.db, user.id)),
	};
}

/**
 * The counters every check of an account's secret reserves on (login, own password change, TOTP
 * removal): keyed by the address as typed, so unknown accounts lock exactly like real ones and
 * the 429 reveals nothing about which addresses exist.
 */
export function loginCounters(email: string, ip: string | null): LimitCounter[] {
	const account = { key: `login-account:${email}`, policy: POLICIES.loginAccount };
	return ip ? [account, { key: `login-ip:${ip}`, policy: POLICIES.loginAddress }] : [account];
}

/**
 * Settles a login attempt whose secret was right: the address gets its slot back and the
 * account's failures are forgotten.
 */
export async function settleLogin(env: Env, attempt: Reserved[], email: string): Promise<void> {
	await releaseAttempt(env, attempt);
	await forgetCounter(env, `login-account:${email}`);
}

/**
 * Writes the audit rows of a failed login and throws; the attempt stays counted on the counters
 * it was reserved on. Also used by the password change and the TOTP removal, whose wrong secret
 * counts like a wrong login.
 */
export async function failLogin(
	c: Ctx,
	attempt: Reserved[],
	email: string,
	user: User | null,
	reason: string,
	code: "INVALID_CREDENTIALS" | "INVALID_TOTP" | "USER_DISABLED",
): Promise<never> {
	const ip = c.var.ip;
	await audit(c.env, {
		type: "user.login_failed",
		subject: user?.id ?? null,
		ip,
		data: { email, reason },
	});
	const account = attempt.find((r) => r.key === `login-account:${email}`);
	if (account?.justLocked) {
		await audit(c.env, {
			type: "user.locked",
			subject: user?.id ?? null,
			ip,
			data: {
				email,
				failures: account.count,
				retryAfterSeconds: Math.ceil(POLICIES.loginAccount.lockMs / 1000),
			},
		});
	}
	throw new AppError(code);
}

/** Checks the second factor; returns false for a wrong, unreadable or replayed code. */
async function totpAccepted(env: Env, db: Db, user: User, code: string): Promise<boolean> {
	if (!user.totpSecret) return false;
	const secret = await unseal(env.SEAL_KEY, user.totpSecret, user.id);
	if (!secret) {
		console.error(`[auth] TOTP secret of user ${user.id} does not open with SEAL_KEY`);
		return false;
	}
	const step = verifyTotp(secret, code);
	return step !== null && (await claimTotpStep(db, user.id, step));
}

/** Sends the reset mail through the Node mail service; failures are logged, never shown. */
async function sendResetMail(env: Env, db: Db, user: User): Promise<void> {
	const token = await createOpaqueToken();
	const now = Date.now();
	await insertPasswordReset(db, {
		id: token.id,
		userId: user.id,
		secretHash: token.secretHash,
		createdAt: new Date(now),
		expiresAt: new Date(now + RESET_TOKEN_MS),
	});
	const link = env.PUBLIC_URL
		? `${env.PUBLIC_URL.replace(/\/$/, "")}/reset-password#token=${token.token}`
		: null;
	const text = [
		`Hello ${user.displayName},`,
		"",
		"someone asked to reset the password of your Fernwart account.",
		link ? `Open this link within 30 minutes: ${link}` : "Use this reset code within 30 minutes:",
		"",
		`Reset code: ${token.token}`,
		"",
		"If you did not ask for this, ignore this mail; your password stays as it is.",
	].join("\n");
	const res = await (env.MAIL as NonNullable<Env["MAIL"]>).fetch("http://mail/mail/send", {
		method: "POST",
		headers: { "content-type": "application/json", authorization: `Bearer ${env.DB_TOKEN}` },
		body: JSON.stringify({ to: user.email, subject: "Fernwart password reset", text }),
	});
	if (!res.ok) console.error(`[auth] reset mail for user ${user.id} failed: ${res.status}`);
}

/** Whether the admin configured SMTP; without it no mail is ever attempted. */
export function mailEnabled(env: Env): boolean {
	return env.MAIL_ENABLED === "true" && env.MAIL !== undefined;
}

/** Login, token refresh and logout, password reset, and the public key set. */
export const auth = createRouter();
auth.use("/api/v1/auth/*", withDb, withClientAddress);

auth.openapi(
	createRoute({
		method: "get",
		path: "/.well-known/jwks.json",
		tags: ["auth"],
		responses: {
			200: jsonResponse(
				z.object({ keys: z.array(z.record(z.string(), z.unknown())) }).openapi("Jwks"),
				"Public keys that verify access tokens.",
			),
		},
	}),
	async (c) =>
		c.json(await publicJwks(c.env.JWT_PRIVATE_KEY), 200, { "cache-control": "max-age=300" }),
);

auth.openapi(
	createRoute({
		method: "post",
		path: "/api/v1/auth/login",
		tags: ["auth"],
		request: { body: { content: { "application/json": { schema: loginBody } }, required: true } },
		responses: {
			200: jsonResponse(sessionSchema, "Logged in."),
			400: errorResponse("INVALID_REQUEST"),
			401: errorResponse("INVALID_CREDENTIALS, TOTP_REQUIRED or INVALID_TOTP"),
			403: errorResponse("USER_DISABLED"),
			429: errorResponse("RATE_LIMITED, with Retry-After"),
		},
	}),
	async (c) => {
		const body = c.req.valid("json");
		const email = normaliseEmail(body.email);
		const ip = c.var.ip;
		// Reserved before the KDF runs: of a concurrent burst, at most the limit is evaluated.
		const attempt = await reserveAttempt(c.env, loginCounters(email, ip));

		const user = await getUserByEmail(c.var.db, email);
		// Hash either way: an unknown user costs the same KDF work as a wrong password.
		const passwordOk = user
			? await verifyPassword(body.password, user.passwordHash)
			: await burnPasswordCheck(body.password);
		if (!user || !passwordOk) {
			return failLogin(
				c,
				attempt,
				email,
				user,
				user ? "bad_password" : "unknown_user",
				"INVALID_CREDENTIALS",
			);
		}
		if (user.disabled) return failLogin(c, attempt, email, user, "disabled", "USER_DISABLED");

		if (user.totpEnabled) {
			if (!body.totp) {
				// The first step of a two-step login: the password was right, nothing counts.
				await releaseAttempt(c.env, attempt);
				throw new AppError("TOTP_REQUIRED");
			}
			if (!(await totpAccepted(c.env, c.var.db, user, body.totp))) {
				return failLogin(c, attempt, email, user, "bad_totp", "INVALID_TOTP");
			}
		}
		await settleLogin(c.env, attempt, email);

		if (!user.totpEnabled && (await getSettings(c.var.db)).requireTotp) {
			// The admin requires a second factor: this login may only set one up.
			await audit(c.env, {
				type: "user.login",
				actor: user.id,
				subject: user.id,
				ip,
				data: { totp: false, enrolOnly: true },
			});
			const accessToken = await signToken(
				c.env.JWT_PRIVATE_KEY,
				{ sub: user.id, role: user.role, tv: user.tokenVersion },
				AUDIENCES.totpEnrol,
			);
			return c.json(
				{
					accessToken,
					tokenType: "Bearer" as const,
					expiresIn: 15 * 60,
					totpEnrolmentRequired: true,
					user: toUserView(user, await getUserGroupNames(c.var.db, user.id)),
				},
				200,
			);
		}
		const session = await issueSession(c, user);
		await audit(c.env, {
			type: "user.login",
			actor: user.id,
			subject: user.id,
			ip,
			data: { totp: user.totpEnabled },
		});
		return c.json(session, 200);
	},
);

auth.openapi(
	createRoute({
		method: "post",
		path: "/api/v1/auth/refresh",
		tags: ["auth"],
		request: { body: { content: { "application/json": { schema: refreshBody } }, required: true } },
		responses: {
			200: jsonResponse(sessionSchema, "A new access token and the next refresh token."),
			401: errorResponse("INVALID_REFRESH_TOKEN"),
			403: errorResponse("USER_DISABLED or TOTP_ENROLMENT_REQUIRED"),
		},
	}),
	async (c) => {
		const db = c.var.db;
		const parsed = parseOpaqueToken(c.req.valid("json").refreshToken);
		const row = parsed ? await getRefreshToken(db, parsed.id) : null;
		if (!parsed || !row || !(await opaqueSecretMatches(parsed.secret, row.secretHash))) {
			throw new AppError("INVALID_REFRESH_TOKEN");
		}
		const now = Date.now();
		const started = familyStart(row);
		if (
			row.revokedAt ||
			row.expiresAt.getTime() <= now ||
			started.getTime() + REFRESH_FAMILY_MAX_MS <= now
		) {
			throw new AppError("INVALID_REFRESH_TOKEN");
		}
		// A rotated token presented again: one of two holders is not the user. Both lose the family.
		if (row.rotatedAt || !(await claimRefreshToken(db, row.id))) {
			await revokeRefreshFamily(db, row.familyId);
			await audit(c.env, {
				type: "user.refresh_reuse",
				subject: row.userId,
				ip: c.var.ip,
				data: { family: row.familyId },
			});
			throw new AppError("INVALID_REFRESH_TOKEN");
		}
		const user = await getUserById(db, row.userId);
		if (!user || user.disabled) {
			await revokeRefreshFamily(db, row.familyId);
			throw new AppError(user ? "USER_DISABLED" : "INVALID_REFRESH_TOKEN");
		}
		if (!user.totpEnabled && (await getSettings(db)).requireTotp) {
			await revokeRefreshFamily(db, row.familyId);
			throw new AppError("TOTP_ENROLMENT_REQUIRED");
		}
		const family = { id: row.familyId, startedAt: started, rotated: true };
		return c.json(await issueSession(c, user, family), 200);
	},
);

auth.openapi(
	createRoute({
		method: "post",
		path: "/api/v1/auth/logout",
		tags: ["auth"],
		request: { body: { content: { "application/json": { schema: refreshBody } }, required: true } },
		responses: {
			204: {
				description:
					"The refresh token's family is revoked (if it was one) and every access token of the user issued so far ends.",
			},
		},
	}),
	async (c) => {
		const db = c.var.db;
		const parsed = parseOpaqueToken(c.req.valid("json").refreshToken);
		const row = parsed ? await getRefreshToken(db, parsed.id) : null;
		// The same answer for unknown tokens: logout must not be an oracle for token ids.
		if (parsed && row && (await opaqueSecretMatches(parsed.secret, row.secretHash))) {
			await revokeRefreshFamily(db, row.familyId);
			// Access tokens already issued die too (on the user's other devices as well, which
			// then refresh once with their own refresh tokens).
			await endAccessTokens(db, row.userId);
			await audit(c.env, {
				type: "user.logout",
				actor: row.userId,
				subject: row.userId,
				ip: c.var.ip,
			});
		}
		return c.body(null, 204);
	},
);

auth.openapi(
	createRoute({
		method: "post",
		path: "/api/v1/auth/password-reset",
		tags: ["auth"],
		request: {
			body: {
				content: {
					"application/json": {
						schema: z.object({ email: emailSchema }).openapi("PasswordResetRequest"),
					},
				},
				required: true,
			},
		},
		responses: {
			202: jsonResponse(
				z.object({ status: z.literal("accepted") }),
				"If the address belongs to an account, a mail is on its way. Same answer either way.",
			),
			429: errorResponse("RATE_LIMITED"),
			501: errorResponse("MAIL_DISABLED: no SMTP server is configured."),
		},
	}),
	async (c) => {
		if (!mailEnabled(c.env)) throw new AppError("MAIL_DISABLED");
		const email = normaliseEmail(c.req.valid("json").email);
		const ip = c.var.ip;
		// Every request counts, answered or not: nothing is ever released here.
		await reserveAttempt(c.env, [
			ip ? { key: `reset-ip:${ip}`, policy: POLICIES.resetAddress } : null,
		]);
		const env = c.env;
		const db = dbFor(env);
		// Everything that depends on whether the account exists runs after the answer, so the
		// answer and its timing are the same for every address.
		c.executionCtx.waitUntil(
			(async () => {
				const user = await getUserByEmail(db, email);
				const allowed = await reserveAttempt(env, [
					{ key: `reset-account:${email}`, policy: POLICIES.resetAccount },
				]).then(
					() => true,
					(err: unknown) => {
						if (err instanceof AppError && err.code === "RATE_LIMITED") return false;
						throw err;
					},
				);
				// The request that reaches the limit still sends; the ones after it do not.
				const send = user !== null && !user.disabled && allowed;
				await audit(c.env, {
					type: "user.password_reset_requested",
					subject: user?.id ?? null,
					ip,
					data: { email, sent: send },
				});
				if (send) await sendResetMail(env, db, user);
			})().catch((err: Error) => console.error(`[auth] password reset failed: ${err.name}`)),
		);
		return c.json({ status: "accepted" as const }, 202);
	},
);

auth.openapi(
	createRoute({
		method: "post",
		path: "/api/v1/auth/password-reset/confirm",
		tags: ["auth"],
		request: {
			body: {
				content: {
					"application/json": {
						schema: z
							.object({ token: z.string().min(1).max(200), password: passwordSchema })
							.openapi("PasswordResetConfirm"),
					},
				},
				required: true,
			},
		},
		responses: {
			204: { description: "The password is changed; every session of the user is ended." },
			400: errorResponse("INVALID_RESET_TOKEN or INVALID_REQUEST"),
		},
	}),
	async (c) => {
		const db = c.var.db;
		const body = c.req.valid("json");
		const parsed = parseOpaqueToken(body.token);
		const row = parsed ? await getPasswordReset(db, parsed.id) : null;
		if (!parsed || !row || !(await opaqueSecretMatches(parsed.secret, row.secretHash))) {
			throw new AppError("INVALID_RESET_TOKEN");
		}
		const user = await getUserById(db, row.userId);
		if (!user || user.disabled || !(await claimPasswordReset(db, row.id))) {
			throw new AppError("INVALID_RESET_TOKEN");
		}
		await updateUser(db, user.id, { passwordHash: await hashPassword(body.password) });
		await revokeUserRefreshTokens(db, user.id);
		await forgetCounter(c.env, `login-account:${user.email}`);
		await audit(c.env, {
			type: "user.password_reset",
			actor: user.id,
			subject: user.id,
			ip: c.var.ip,
		});
		return c.body(null, 204);
	},
);
