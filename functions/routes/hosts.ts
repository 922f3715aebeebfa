import { createRoute, z } from "@hono/zod-openapi";
import { HOST_ACTOR_TICKET_PREFIX, hostActorStub } from "../../durable/host-actor-api.ts";
import { sessionActorStub } from "../../durable/session-actor-api.ts";
import {
	DEFAULT_UNATTENDED_POLICY,
	nonceSchema,
	unattendedPolicySchema,
	verifyHostChallenge,
} from "../../protocol/host.ts";
import { importVerifyKey } from "../../protocol/signature.ts";
import type { Db } from "../../schema/db.ts";
import { sessionMailsProtocol } from "../../schema/groups.ts";
import {
	consumeEnrollment,
	deleteHost,
	findGroup,
	getEnrollment,
	getHost,
	getHostPolicy,
	getUserGroupIds,
	type HostWithGroup,
	insertEnrollmentWithin,
	listHosts,
	setHostPolicy,
	updateHost,
} from "../../schema/hosts.ts";
import { getSession, insertSessionWithin, type SupportSession } from "../../schema/sessions.ts";
import { getSettings } from "../../schema/settings.ts";
import type { Env, Principal } from "../env.ts";
import { audit } from "../lib/audit.ts";
import { toBase64Url } from "../lib/encoding.ts";
import { endSessions } from "../lib/end-sessions.ts";
import { AppError } from "../lib/errors.ts";
import { createOpaqueToken, opaqueSecretMatches, parseOpaqueToken } from "../lib/opaque-token.ts";
import { createRouter, errorResponse, jsonResponse } from "../lib/router.ts";
import { signTicket } from "../lib/tickets.ts";
import { withClientAddress } from "../middleware/client-address.ts";
import { releaseAttempt, reserveAttempt } from "../middleware/rate-limit.ts";
import { requireAdmin, requireUser, requireUserOrAdminCli } from "../middleware/require-user.ts";
import { withDb } from "../middleware/with-db.ts";
import { endUnusedRelays, SESSION_MAX_MS } from "./sessions.ts";

const security = [{ bearer: [] }];

/** Failed registrations per address: 20 wrong tokens in 10 minutes lock the address for 10. */
const REGISTER_POLICY = { limit: 20, windowMs: 10 * 60_000, lockMs: 10 * 60_000 } as const;
/** Default and longest lifetime of an enrolment token. */
const ENROLLMENT_DEFAULT_MINUTES = 60;
const ENROLLMENT_MAX_MINUTES = 7 * 24 * 60;

const hostIdParam = z.object({ id: z.uuid() });
const groupIdParam = z.object({ id: z.uuid() });

const enrollmentBody = z
	.object({
		groupId: z.uuid().optional(),
		/** The group's name, as an alternative to its id. */
		group: z.string().trim().min(1).max(100).optional(),
		expiresInMinutes: z.int().min(1).max(ENROLLMENT_MAX_MINUTES).optional(),
	})
	.refine((b) => (b.groupId === undefined) !== (b.group === undefined), {
		message: "give groupId or group",
	})
	.openapi("CreateEnrollment");

const ed25519Jwk = z
	.object({
		kty: z.literal("OKP"),
		crv: z.literal("Ed25519"),
		x: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
	})
	.openapi("Ed25519PublicJwk");

const registerBody = z
	.object({
		token: z.string().min(20).max(200),
		name: z.string().trim().min(1).max(80),
		platform: z.string().trim().min(1).max(40),
		publicKey: ed25519Jwk,
	})
	.openapi("RegisterHost");

const ticketBody = z
	.object({
		nonce: nonceSchema,
		signature: z.string().regex(/^[A-Za-z0-9_-]{86}$/),
		/** For a host session's (re)connect; without it, a ticket for the presence socket. */
		sessionId: z.string().min(1).max(128).optional(),
	})
	.openapi("HostTicketRequest");

const hostView = z
	.object({
		id: z.string(),
		name: z.string(),
		platform: z.string(),
		group: z.object({ id: z.string(), name: z.string() }),
		publicKey: z.string(),
		online: z.boolean(),
		onlineSince: z.number().nullable(),
		lastSeenAt: z.number().nullable(),
		createdAt: z.number(),
		disabled: z.boolean(),
	})
	.openapi("Host");

const patchBody = z
	.object({
		name: z.string().trim().min(1).max(80).optional(),
		groupId: z.uuid().optional(),
		disabled: z.boolean().optional(),
	})
	.openapi("UpdateHost");

const hostSessionSchema = z
	.object({
		sessionId: z.string(),
		ticket: z.string(),
		hostId: z.string(),
		hostPublicKey: z.string(),
		expiresAt: z.number(),
	})
	.openapi("HostSession");

function toHostView(h: HostWithGroup) {
	return {
		id: h.id,
		name: h.name,
		platform: h.platform,
		group: { id: h.groupId, name: h.groupName },
		publicKey: h.publicKey,
		online: h.onlineSince !== null && !h.disabled,
		onlineSince: h.onlineSince?.getTime() ?? null,
		lastSeenAt: h.lastSeenAt?.getTime() ?? null,
		createdAt: h.createdAt.getTime(),
		disabled: h.disabled,
	};
}

function hostActor(env: Env, hostId: string) {
	return hostActorStub(env.HOST_ACTOR, hostId);
}

/** True if the principal may see hosts of this group: admins all, supporters their own groups. */
async function maySeeGroup(db: Db, principal: Principal, groupId: string): Promise<boolean> {
	if (principal.role === "admin") return true;
	return (await getUserGroupIds(db, principal.id)).includes(groupId);
}

/** The host if the principal may see it; another group's host is reported as not found. */
async function requireVisibleHost(db: Db, principal: Principal, id: string) {
	const host = await getHost(db, id);
	if (!host || !(await maySeeGroup(db, principal, host.groupId))) {
		throw new AppError("HOST_NOT_FOUND");
	}
	return host;
}

/** Enrolment, host authentication, the host list, host sessions and the unattended policy. */
export const hostRoutes = createRouter();
hostRoutes.use("/api/v1/hosts/*", withDb, withClientAddress);
hostRoutes.use("/api/v1/hosts", withDb, withClientAddress);
hostRoutes.use("/api/v1/groups/*", withDb, withClientAddress);

hostRoutes.openapi(
	createRoute({
		method: "post",
		path: "/api/v1/hosts/enrollments",
		tags: ["hosts"],
		security,
		middleware: [requireUser] as const,
		request: {
			body: { content: { "application/json": { schema: enrollmentBody } }, required: true },
		},
		responses: {
			201: jsonResponse(
				z
					.object({
						token: z.string(),
						groupId: z.string(),
						expiresAt: z.number(),
						url: z.string().describe("The server URL the host agent enrols with."),
						fingerprint: z
							.string()
							.nullable()
							.describe(
								"SHA-256 fingerprint (AB:CD:…) of the certificate the agent must pin with --fingerprint; null behind PUBLIC_URL, where clients see another certificate.",
							),
					})
					.openapi("Enrollment"),
				"A one-time enrolment token; shown once, only its hash is kept.",
			),
			404: errorResponse("GROUP_NOT_FOUND: unknown group, or not one of the caller's"),
			409: errorResponse("TOO_MANY_ENROLLMENTS: setting maxOpenEnrollments reached"),
		},
	}),
	async (c) => {
		const body = c.req.valid("json");
		const { db, principal } = c.var;
		const group = await findGroup(db, { id: body.groupId, name: body.group });
		if (!group || !(await maySeeGroup(db, principal, group.id))) {
			throw new AppError("GROUP_NOT_FOUND");
		}
		const token = await createOpaqueToken();
		const now = new Date();
		const minutes = body.expiresInMinutes ?? ENROLLMENT_DEFAULT_MINUTES;
		const expiresAt = new Date(now.getTime() + minutes * 60_000);
		const { maxOpenEnrollments } = await getSettings(db);
		const stored = await insertEnrollmentWithin(
			db,
			{
				id: token.id,
				secretHash: token.secretHash,
				groupId: group.id,
				createdBy: principal.id,
				createdAt: now,
				expiresAt,
				usedAt: null,
				hostId: null,
			},
			maxOpenEnrollments,
		);
		if (!stored.ok) throw new AppError("TOO_MANY_ENROLLMENTS", { limit: maxOpenEnrollments });
		await audit(c.env, {
			type: "host.enrollment_created",
			actor: principal.id,
			subject: group.id,
			ip: c.var.ip,
			data: { enrollmentId: token.id, group: group.name, expiresAt: expiresAt.getTime() },
		});
		// The launcher's own certificate is what a host agent meets, unless clients come through
		// PUBLIC_URL (a proxy with a certificate of its own): then no pin is suggested.
		return c.json(
			{
				token: token.token,
				groupId: group.id,
				expiresAt: expiresAt.getTime(),
				url: c.env.PUBLIC_URL || new URL(c.req.url).origin,
				fingerprint: c.env.PUBLIC_URL ? null : c.env.TLS_FINGERPRINT || null,
			},
			201,
		);
	},
);

hostRoutes.openapi(
	createRoute({
		method: "post",
		path: "/api/v1/hosts/register",
		tags: ["hosts"],
		description: "The host agent registers its Ed25519 identity key with a one-time token.",
		request: {
			body: { content: { "application/json": { schema: registerBody } }, required: true },
		},
		responses: {
			201: jsonResponse(
				z.object({ hostId: z.string(), groupId: z.string() }).openapi("HostRegistered"),
				"The host exists; the token is used up.",
			),
			400: errorResponse("INVALID_ENROLLMENT_TOKEN"),
			429: errorResponse("RATE_LIMITED"),
		},
	}),
	async (c) => {
		const body = c.req.valid("json");
		const ip = c.var.ip;
		// Reserved before the token is looked at: of a concurrent burst, at most the limit is.
		const attempt = await reserveAttempt(c.env, [
			ip ? { key: `host-register-ip:${ip}`, policy: REGISTER_POLICY } : null,
		]);
		const refuse = async (reason: string): Promise<never> => {
			await audit(c.env, { type: "host.register_failed", ip, data: { reason } });
			throw new AppError("INVALID_ENROLLMENT_TOKEN");
		};
		const parsed = parseOpaqueToken(body.token);
		const enrollment = parsed ? await getEnrollment(c.var.db, parsed.id) : null;
		const matches =
			!!parsed && !!enrollment && (await opaqueSecretMatches(parsed.secret, enrollment.secretHash));
		if (!parsed || !enrollment || !matches) return refuse("unknown-token");
		// The secret is right, so this was no guess: it does not count, whatever follows.
		await releaseAttempt(c.env, attempt);
		if (!(await importVerifyKey(body.publicKey.x))) throw new AppError("INVALID_REQUEST");
		const now = new Date();
		const host = await consumeEnrollment(
			c.var.db,
			parsed.id,
			{
				id: crypto.randomUUID(),
				name: body.name,
				platform: body.platform,
				publicKey: body.publicKey.x,
				createdAt: now,
			},
			now,
		);
		if (!host) return refuse("used-or-expired");
		await audit(c.env, {
			type: "host.registered",
			actor: `host:${host.id}`,
			subject: enrollment.createdBy,
			hostId: host.id,
			ip,
			data: { name: host.name, platform: host.platform, groupId: host.groupId },
		});
		return c.json({ hostId: host.id, groupId: host.groupId }, 201);
	},
);

hostRoutes.openapi(
	createRoute({
		method: "post",
		path: "/api/v1/hosts/{id}/challenge",
		tags: ["hosts"],
		description: "A single-use nonce (60 s) for the host to sign with its identity key.",
		request: { params: hostIdParam },
		responses: {
			200: jsonResponse(
				z.object({ nonce: z.string(), expiresAt: z.number() }).openapi("HostChallenge"),
				"The nonce.",
			),
			403: errorResponse("HOST_DISABLED"),
			404: errorResponse("HOST_NOT_FOUND"),
		},
	}),
	async (c) => {
		const { id } = c.req.valid("param");
		const host = await getHost(c.var.db, id);
		if (!host) throw new AppError("HOST_NOT_FOUND");
		if (host.disabled) throw new AppError("HOST_DISABLED");
		return c.json(await hostActor(c.env, id).challenge(id), 200);
	},
);

hostRoutes.openapi(
	createRoute({
		method: "post",
		path: "/api/v1/hosts/{id}/tickets",
		tags: ["hosts"],
		description:
			"A WebSocket ticket for the host: for its presence socket, or with `sessionId` for one of its sessions.",
		request: {
			params: hostIdParam,
			body: { content: { "application/json": { schema: ticketBody } }, required: true },
		},
		responses: {
			200: jsonResponse(z.object({ ticket: z.string() }).openapi("HostTicket"), "A ticket."),
			401: errorResponse("INVALID_CHALLENGE"),
			403: errorResponse("HOST_DISABLED"),
			404: errorResponse("HOST_NOT_FOUND, SESSION_NOT_FOUND"),
			410: errorResponse("SESSION_ENDED"),
		},
	}),
	async (c) => {
		const { id } = c.req.valid("param");
		const { nonce, signature, sessionId } = c.req.valid("json");
		const host = await getHost(c.var.db, id);
		if (!host) throw new AppError("HOST_NOT_FOUND");
		// Consumed before the signature is checked: a nonce is spent by any answer, right or wrong.
		const fresh = await hostActor(c.env, id).consumeChallenge(nonce);
		if (!fresh || !(await verifyHostChallenge(host.publicKey, id, nonce, signature))) {
			throw new AppError("INVALID_CHALLENGE");
		}
		if (host.disabled) throw new AppError("HOST_DISABLED");
		if (sessionId === undefined) {
			const ticket = await signTicket(c.env.JWT_PRIVATE_KEY, {
				sub: `host:${id}`,
				sid: `${HOST_ACTOR_TICKET_PREFIX}${id}`,
				role: "host",
			});
			return c.json({ ticket }, 200);
		}
		const session = await getSession(c.var.db, sessionId);
		if (session?.kind !== "host" || session.hostId !== id) {
			throw new AppError("SESSION_NOT_FOUND");
		}
		if (session.endedAt) throw new AppError("SESSION_ENDED");
		const ticket = await signTicket(c.env.JWT_PRIVATE_KEY, {
			sub: `host:${id}`,
			sid: session.id,
			role: "host",
		});
		return c.json({ ticket }, 200);
	},
);

hostRoutes.openapi(
	createRoute({
		method: "get",
		path: "/api/v1/hosts",
		tags: ["hosts"],
		security,
		middleware: [requireUserOrAdminCli] as const,
		responses: {
			200: jsonResponse(
				z.object({ hosts: z.array(hostView) }).openapi("HostList"),
				"Hosts of the caller's groups (all for admins), with online state.",
			),
		},
	}),
	async (c) => {
		const { db, principal } = c.var;
		const groupIds = principal.role === "admin" ? null : await getUserGroupIds(db, principal.id);
		const rows = await listHosts(db, groupIds);
		return c.json({ hosts: rows.map(toHostView) }, 200);
	},
);

hostRoutes.openapi(
	createRoute({
		method: "get",
		path: "/api/v1/hosts/{id}",
		tags: ["hosts"],
		security,
		middleware: [requireUser] as const,
		request: { params: hostIdParam },
		responses: {
			200: jsonResponse(hostView, "The host."),
			404: errorResponse("HOST_NOT_FOUND: unknown, or of another group"),
		},
	}),
	async (c) => {
		const { id } = c.req.valid("param");
		return c.json(toHostView(await requireVisibleHost(c.var.db, c.var.principal, id)), 200);
	},
);

hostRoutes.openapi(
	createRoute({
		method: "patch",
		path: "/api/v1/hosts/{id}",
		tags: ["hosts"],
		security,
		middleware: [requireAdmin] as const,
		request: {
			params: hostIdParam,
			body: { content: { "application/json": { schema: patchBody } }, required: true },
		},
		responses: {
			200: jsonResponse(hostView, "The host after the change."),
			404: errorResponse("HOST_NOT_FOUND, GROUP_NOT_FOUND"),
		},
	}),
	async (c) => {
		const { id } = c.req.valid("param");
		const body = c.req.valid("json");
		const { db, principal } = c.var;
		if (!(await getHost(db, id))) throw new AppError("HOST_NOT_FOUND");
		if (body.groupId && !(await findGroup(db, { id: body.groupId }))) {
			throw new AppError("GROUP_NOT_FOUND");
		}
		const updated = await updateHost(db, id, body);
		if (!updated) throw new AppError("HOST_NOT_FOUND");
		// A disabled host loses its presence socket and its live sessions at once; its next
		// challenge is refused. A host moved to another group ends its sessions too: their
		// supporters were entitled through the old group.
		if (body.disabled) await hostActor(c.env, id).disconnect();
		if (body.disabled || body.groupId !== undefined)
			await endSessions(c.env, db, { hostId: id }, principal.id);
		await audit(c.env, {
			type: "host.updated",
			actor: principal.id,
			hostId: id,
			ip: c.var.ip,
			data: { fields: Object.keys(body) },
		});
		return c.json(toHostView(updated), 200);
	},
);

hostRoutes.openapi(
	createRoute({
		method: "delete",
		path: "/api/v1/hosts/{id}",
		tags: ["hosts"],
		security,
		middleware: [requireAdmin] as const,
		request: { params: hostIdParam },
		responses: { 204: { description: "Deleted." }, 404: errorResponse("HOST_NOT_FOUND") },
	}),
	async (c) => {
		const { id } = c.req.valid("param");
		const { db, principal } = c.var;
		const host = await getHost(db, id);
		if (!host) throw new AppError("HOST_NOT_FOUND");
		await hostActor(c.env, id).disconnect();
		await endSessions(c.env, db, { hostId: id }, principal.id);
		await deleteHost(db, id);
		await audit(c.env, {
			type: "host.deleted",
			actor: principal.id,
			hostId: id,
			ip: c.var.ip,
			data: { name: host.name },
		});
		return c.body(null, 204);
	},
);

hostRoutes.openapi(
	createRoute({
		method: "post",
		path: "/api/v1/hosts/{id}/sessions",
		tags: ["hosts"],
		security,
		middleware: [requireUser] as const,
		request: { params: hostIdParam },
		responses: {
			201: jsonResponse(
				hostSessionSchema,
				"A host session: the supporter's ticket and the host's registered identity key.",
			),
			403: errorResponse("HOST_DISABLED"),
			404: errorResponse("HOST_NOT_FOUND: unknown, or of another group"),
			409: errorResponse("HOST_OFFLINE, TOO_MANY_SESSIONS"),
		},
	}),
	async (c) => {
		const { id } = c.req.valid("param");
		const { db, principal } = c.var;
		if (principal.kind !== "user") throw new AppError("FORBIDDEN");
		const host = await requireVisibleHost(db, principal, id);
		if (host.disabled) throw new AppError("HOST_DISABLED");
		const actor = hostActor(c.env, id);
		if (!(await actor.status()).online) throw new AppError("HOST_OFFLINE");
		const now = new Date();
		const row: SupportSession = {
			id: toBase64Url(crypto.getRandomValues(new Uint8Array(16))),
			kind: "host",
			supporterId: principal.id,
			codeHash: null,
			codeExpiresAt: now,
			joinedAt: now,
			// The host shows; nobody sits at it to accept terms, its password stands in for that.
			view: "customer",
			termsRequired: false,
			termsText: null,
			termsSha256: null,
			termsTranslations: null,
			customerName: host.name,
			resumeHash: null,
			createdAt: now,
			expiresAt: new Date(now.getTime() + SESSION_MAX_MS),
			endedAt: null,
			endReason: null,
			hostId: id,
		};
		const { maxLiveSessionsPerSupporter: limit } = await getSettings(db);
		const stored = await insertSessionWithin(db, row, limit);
		endUnusedRelays(c, stored.ended);
		if (!stored.ok) throw new AppError("TOO_MANY_SESSIONS", { limit });
		const session = sessionActorStub(c.env.SESSION_ACTOR, row.id);
		const mailProtocol = await sessionMailsProtocol(db, {
			supporterId: principal.id,
			hostGroupId: host.groupId,
		});
		await session.open({
			id: row.id,
			kind: "host",
			supporterId: principal.id,
			view: row.view,
			termsRequired: false,
			termsSha256: null,
			expiresAt: row.expiresAt.getTime(),
			hostId: id,
			hostKey: host.publicKey,
			mailProtocol,
		});
		await audit(c.env, {
			type: "session.issued",
			actor: principal.id,
			subject: principal.id,
			sessionId: row.id,
			hostId: id,
			ip: c.var.ip,
			data: { kind: "host", host: host.name },
		});
		const [supporterTicket, hostTicket, policy] = await Promise.all([
			signTicket(c.env.JWT_PRIVATE_KEY, { sub: principal.id, sid: row.id, role: "supporter" }),
			signTicket(c.env.JWT_PRIVATE_KEY, { sub: `host:${id}`, sid: row.id, role: "host" }),
			getHostPolicy(db, host.groupId),
		]);
		const delivered = await actor.notify({
			type: "session",
			sessionId: row.id,
			ticket: hostTicket,
			supporter: principal.user.displayName,
			policy: policy ?? DEFAULT_UNATTENDED_POLICY,
		});
		if (!delivered) {
			await session.end("ended", principal.id);
			throw new AppError("HOST_OFFLINE");
		}
		return c.json(
			{
				sessionId: row.id,
				ticket: supporterTicket,
				hostId: id,
				hostPublicKey: host.publicKey,
				expiresAt: row.expiresAt.getTime(),
			},
			201,
		);
	},
);

const policyView = unattendedPolicySchema.openapi("UnattendedPolicy");

hostRoutes.openapi(
	createRoute({
		method: "get",
		path: "/api/v1/groups/{id}/host-policy",
		tags: ["hosts"],
		security,
		middleware: [requireUser] as const,
		request: { params: groupIdParam },
		responses: {
			200: jsonResponse(
				z.object({ policy: policyView, isDefault: z.boolean() }).openapi("GroupHostPolicy"),
				"Which capabilities need someone at an unattended host of this group to say yes.",
			),
			404: errorResponse("GROUP_NOT_FOUND"),
		},
	}),
	async (c) => {
		const { id } = c.req.valid("param");
		const { db, principal } = c.var;
		const group = await findGroup(db, { id });
		if (!group || !(await maySeeGroup(db, principal, id))) throw new AppError("GROUP_NOT_FOUND");
		const policy = await getHostPolicy(db, id);
		return c.json({ policy: policy ?? DEFAULT_UNATTENDED_POLICY, isDefault: policy === null }, 200);
	},
);

hostRoutes.openapi(
	createRoute({
		method: "put",
		path: "/api/v1/groups/{id}/host-policy",
		tags: ["hosts"],
		security,
		middleware: [requireAdmin] as const,
		request: {
			params: groupIdParam,
			body: { content: { "application/json": { schema: policyView } }, required: true },
		},
		responses: {
			200: jsonResponse(
				z.object({ policy: policyView, isDefault: z.boolean() }),
				"The policy now in force.",
			),
			404: errorResponse("GROUP_NOT_FOUND"),
		},
	}),
	async (c) => {
		const { id } = c.req.valid("param");
		const policy = c.req.valid("json");
		const { db, principal } = c.var;
		if (!(await findGroup(db, { id }))) throw new AppError("GROUP_NOT_FOUND");
		await setHostPolicy(db, id, policy);
		await audit(c.env, {
			type: "host.policy_updated",
			actor: principal.id,
			subject: id,
			ip: c.var.ip,
			data: policy,
		});
		return c.json({ policy, isDefault: false }, 200);
	},
);
