import type { AuditInput } from "../schema/audit.ts";

/**
 * The AuditLog's RPC surface as plain types, so functions/ and the SessionActor can name it
 * without importing the class.
 */
export type AppendResult = { ok: true; hashes: string[] } | { ok: false; reason: "unavailable" };

/** A signed checkpoint of the chain head, as the RPC returns it. */
export interface CheckpointInfo {
	seq: number;
	hash: string;
	signedAt: number;
	kid: string;
}

/** `checkpoint: null` means the protocol is empty. `no-key`: the server has no signing key. */
export type CheckpointResult =
	| { ok: true; checkpoint: CheckpointInfo | null }
	| { ok: false; reason: "unavailable" | "no-key" };

/** What a retention run did: the checkpoint it cut at, or null when nothing was old enough. */
export type RetentionResult =
	| { ok: true; cut: { seq: number; hash: string } | null; deletedEvents: number }
	| { ok: false; reason: "unavailable" };

/** What a stub of the AuditLog offers. */
export interface AuditLogApi {
	append(inputs: AuditInput[]): Promise<AppendResult>;
	/** Signs the chain head now if it is not signed yet; returns the newest checkpoint. */
	checkpoint(): Promise<CheckpointResult>;
	/** Deletes whole sessions' events older than `days` days (docs/audit.md, "Retention"). */
	applyRetention(
		days: number,
		by: { actor: string | null; ip: string | null },
	): Promise<RetentionResult>;
}

/** The binding's shape, as far as callers use it. */
export interface AuditLogNamespace {
	idFromName(name: string): unknown;
	get(id: unknown): AuditLogApi;
}

/** One protocol per server: every append goes to this one instance, which serialises them. */
export const AUDIT_LOG_NAME = "default";

/** The protocol's one AuditLog instance (AUDIT_LOG_NAME). */
export function auditLogStub(ns: AuditLogNamespace): AuditLogApi {
	return ns.get(ns.idFromName(AUDIT_LOG_NAME));
}
