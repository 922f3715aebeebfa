/**
 * The catalogue of audit event types: every `type` the server writes to the hash-chained protocol
 * (docs/audit.md §2 describes each, with who writes it and its data). Appends are typed with it,
 * so a misspelt or undocumented type does not compile, and test/unit/audit-catalogue.test.ts
 * holds the catalogue and docs/audit.md to the same list. Types are stable once shipped: exports
 * and verifiers read them.
 */
export const AUDIT_EVENT_TYPES = [
	// Accounts and login
	"user.created",
	"user.updated",
	"user.disabled",
	"user.deleted",
	"user.login",
	"user.login_failed",
	"user.locked",
	"user.logout",
	"user.refresh_reuse",
	"user.password_changed",
	"user.password_reset",
	"user.password_reset_requested",
	"user.totp_enabled",
	"user.totp_disabled",
	"settings.updated",
	// Groups and hosts
	"group.created",
	"group.renamed",
	"group.deleted",
	"group.policy_updated",
	"host.enrollment_created",
	"host.registered",
	"host.register_failed",
	"host.updated",
	"host.deleted",
	"host.policy_updated",
	"host.online",
	"host.offline",
	"host.connected",
	"host.auth_failed",
	// Sessions, consent and content
	"session.issued",
	"session.join_failed",
	"session.joined",
	"session.resumed",
	"session.hello",
	"session.connected",
	"session.admitted",
	"session.refused",
	"session.taken_over",
	"session.left",
	"session.stopped",
	"session.ended",
	"session.protocol_requested",
	"session.protocol_mailed",
	"session.protocol_mail_failed",
	"terms.accepted",
	"view.requested",
	"view.granted",
	"view.switched",
	"view.denied",
	"view.revoked",
	"control.requested",
	"control.granted",
	"control.denied",
	"control.revoked",
	"file.offered",
	"file.accepted",
	"file.rejected",
	"file.completed",
	"comment.added",
	"policy.violation",
	"policy.violation_summary",
	// The protocol itself
	"audit.retention_applied",
] as const;

/** One audit event type, e.g. `"control.granted"`. */
export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];
