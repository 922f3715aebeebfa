import { type AuditLogNamespace, auditLogStub } from "../../durable/audit-log-api.ts";
import type { AuditInput } from "../../schema/audit.ts";
import { AppError } from "./errors.ts";

/** The AuditLog instance every append goes through. */
export function auditLog(env: { AUDIT_LOG: AuditLogNamespace }) {
	return auditLogStub(env.AUDIT_LOG);
}

/**
 * Appends one event to the hash-chained protocol. A failure is an error (503): an action whose
 * record cannot be written is not reported as done.
 */
export async function audit(
	env: { AUDIT_LOG: AuditLogNamespace },
	input: AuditInput,
): Promise<void> {
	const result = await auditLog(env).append([input]);
	if (!result.ok) throw new AppError("DB_UNAVAILABLE");
}
