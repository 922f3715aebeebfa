import type { AuditInput } from "../schema/audit.ts";

/**
 * The AuditLog's RPC surface as plain types, so functions/ and the SessionActor can name it
 * without importing the class.
 */
export type AppendResult = { ok: true; hashes: string[] } | { ok: false; reason: "unavailable" };

/** What a stub of the AuditLog offers. */
export interface AuditLogApi {
	append(inputs: AuditInput[]): Promise<AppendResult>;
}

/** The binding's shape, as far as callers use it. */
export interface AuditLogNamespace {
	idFromName(name: string): unknown;
	get(id: unknown): AuditLogApi;
}

/** One protocol per server: every append goes to this one instance, which serialises them. */
export const AUDIT_LOG_NAME = "default";
