import type { PresenceServerMessage } from "../protocol/host.ts";

/** A session notice the HostActor pushes to its host. */
export type SessionNotice = Extract<PresenceServerMessage, { type: "session" }>;

/**
 * The HostActor's RPC surface as plain types for functions/. The presence upgrade goes through
 * `fetch` with the verified principal in {@link HOST_PRINCIPAL_HEADER}.
 */
export interface HostActorApi {
	/** A fresh single-use nonce for the host to sign (valid {@link CHALLENGE_TTL_MS}). */
	challenge(hostId: string): Promise<{ nonce: string; expiresAt: number }>;
	/** True exactly once for a nonce this actor issued and that has not expired. */
	consumeChallenge(nonce: string): Promise<boolean>;
	/** Whether the host's presence socket is open and beating. */
	status(): Promise<{ online: boolean; lastBeatAt: number | null }>;
	/** Pushes a session notice; false when the host is not connected. */
	notify(notice: SessionNotice): Promise<boolean>;
	/** Closes the presence socket (host disabled or deleted) and marks the host offline. */
	disconnect(): Promise<void>;
	fetch(request: Request): Promise<Response>;
}

export interface HostActorNamespace {
	idFromName(name: string): unknown;
	get(id: unknown): HostActorApi;
}

/** The HostActor of one enrolled host (named by the host id). */
export function hostActorStub(ns: HostActorNamespace, hostId: string): HostActorApi {
	return ns.get(ns.idFromName(hostId));
}

/** A challenge nonce is good for this long. */
export const CHALLENGE_TTL_MS = 60_000;

/** A presence ticket's `sid` is this prefix and the host id, so it never names a session. */
export const HOST_ACTOR_TICKET_PREFIX = "host:";

/** Header the presence upgrade route sets (after deleting any copy the client sent). */
export const HOST_PRINCIPAL_HEADER = "x-fernwart-host-principal";
