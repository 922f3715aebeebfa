import type { ConsentState } from "../protocol/control.ts";
import type { ProtocolCopy } from "./protocol-mail.ts";
import type { SessionRecord } from "./session-rules.ts";

/**
 * The SessionActor's RPC surface as plain types for functions/. The upgrade itself goes through
 * `fetch` with the verified principal in {@link PRINCIPAL_HEADER}.
 */
export interface SessionActorApi {
	open(record: SessionRecord): Promise<void>;
	end(reason: "ended" | "expired" | "revoked", by: string | null): Promise<boolean>;
	snapshot(): Promise<ConsentState | null>;
	customerJoined(customer: {
		name: string | null;
		address: string | null;
		joinedAt: number;
	}): Promise<void>;
	takeOver(input: { by: string; name: string; ip: string | null }): Promise<boolean>;
	protocolCopyOffered(): Promise<boolean>;
	requestProtocolCopy(input: {
		copy: ProtocolCopy;
		ip: string | null;
	}): Promise<ProtocolCopyResult>;
	fetch(request: Request): Promise<Response>;
}

export interface SessionActorNamespace {
	idFromName(name: string): unknown;
	get(id: unknown): SessionActorApi;
}

/**
 * The outcome of a customer's request for a protocol copy (SessionActor.requestProtocolCopy);
 * `rate_limited` once the session has had PROTOCOL_COPY_MAX_REQUESTS of them.
 */
export type ProtocolCopyResult =
	| "ok"
	| "off"
	| "ended"
	| "unavailable"
	| "not_found"
	| "rate_limited";

/** The SessionActor of one session (named by the session id). */
export function sessionActorStub(ns: SessionActorNamespace, sessionId: string): SessionActorApi {
	return ns.get(ns.idFromName(sessionId));
}

/** Header the upgrade route sets (after deleting any copy the client sent). */
export const PRINCIPAL_HEADER = "x-fernwart-principal";

export type { SessionRecord };
