/**
 * The host half of the HTTP API: enrolment and challenge-signed tickets for the host agent, and
 * the host list and host sessions for supporters. Kept apart from api.ts so the host agent needs
 * no account; it shares ApiError and the injected `fetch`.
 */
import * as z from "zod";
import { sessionIdSchema } from "../../protocol/control.ts";
import { signHostChallenge, unattendedPolicySchema } from "../../protocol/host.ts";
import { ApiError, type FetchLike, requestJson } from "./api.ts";

const hostSchema = z.looseObject({
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
});
/** A host as the list shows it. */
export type HostInfo = z.infer<typeof hostSchema>;

const hostSessionSchema = z.object({
	sessionId: sessionIdSchema,
	ticket: z.string().min(1),
	hostId: z.string(),
	hostPublicKey: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
	expiresAt: z.number(),
});
/** A started host session: the supporter's first ticket and the host's registered key. */
export type HostSession = z.infer<typeof hostSessionSchema>;

const enrollmentSchema = z.object({
	token: z.string(),
	groupId: z.string(),
	expiresAt: z.number(),
});
const registeredSchema = z.object({ hostId: z.string(), groupId: z.string() });
const challengeSchema = z.object({ nonce: z.string(), expiresAt: z.number() });
const ticketSchema = z.object({ ticket: z.string().min(1) });
const policySchema = z.object({ policy: unattendedPolicySchema, isDefault: z.boolean() });

/** Options of {@link createHostApi}. */
export interface HostApiOptions {
	baseUrl: string | URL;
	fetch: FetchLike;
	/** The supporter's access token, for the supporter calls. */
	accessToken?: () => string | null;
}

/** Builds the host API client. */
export function createHostApi(options: HostApiOptions) {
	const base = new URL(options.baseUrl);
	const call = async <T>(
		method: string,
		path: string,
		schema: z.ZodType<T>,
		body?: unknown,
		auth = false,
	): Promise<T> => {
		let token: string | null = null;
		if (auth) {
			token = options.accessToken?.() ?? null;
			if (!token) throw new ApiError(401, "UNAUTHENTICATED", "log in first");
		}
		const { status, json } = await requestJson(options.fetch, base, method, path, body, token);
		const parsed = schema.safeParse(json);
		if (!parsed.success) throw new ApiError(status, "BAD_RESPONSE", "unexpected answer");
		return parsed.data;
	};
	const hostPath = (id: string) => `/api/v1/hosts/${encodeURIComponent(id)}`;

	return {
		/** Supporter/admin: a one-time enrolment token for a group (by id or name). */
		createEnrollment(input: { groupId?: string; group?: string; expiresInMinutes?: number }) {
			return call("POST", "/api/v1/hosts/enrollments", enrollmentSchema, input, true);
		},
		/** Host agent: registers its identity key (an Ed25519 public JWK) with the token. */
		register(input: {
			token: string;
			name: string;
			platform: string;
			publicKey: { kty: "OKP"; crv: "Ed25519"; x: string };
		}) {
			return call("POST", "/api/v1/hosts/register", registeredSchema, input);
		},
		/**
		 * Host agent: a single-use ticket, proven by signing a fresh challenge with the identity
		 * key; for the presence socket, or with `sessionId` for (re)joining a session.
		 */
		async hostTicket(hostId: string, identityKey: CryptoKey, sessionId?: string): Promise<string> {
			const { nonce } = await call("POST", `${hostPath(hostId)}/challenge`, challengeSchema, {});
			const signature = await signHostChallenge(identityKey, hostId, nonce);
			const body = { nonce, signature, ...(sessionId ? { sessionId } : {}) };
			return (await call("POST", `${hostPath(hostId)}/tickets`, ticketSchema, body)).ticket;
		},
		/** Supporter: the hosts of the caller's groups. */
		async listHosts(): Promise<HostInfo[]> {
			const list = await call(
				"GET",
				"/api/v1/hosts",
				z.object({ hosts: z.array(hostSchema) }),
				undefined,
				true,
			);
			return list.hosts;
		},
		/** Supporter: starts a session with a host; the host is told and joins on its own. */
		connectHost(hostId: string): Promise<HostSession> {
			return call("POST", `${hostPath(hostId)}/sessions`, hostSessionSchema, {}, true);
		},
		/** The unattended policy of a group. */
		getPolicy(groupId: string) {
			return call(
				"GET",
				`/api/v1/groups/${encodeURIComponent(groupId)}/host-policy`,
				policySchema,
				undefined,
				true,
			);
		},
	};
}

/** The host API client. */
export type HostApi = ReturnType<typeof createHostApi>;
