import type { ContentfulStatusCode } from "hono/utils/http-status";

/**
 * The one table of API error codes. Codes are stable once shipped: clients branch on them.
 * docs/api.md lists them for people.
 */
export const ERRORS = {
	INVALID_REQUEST: { status: 400, message: "The request is not valid." },
	UNAUTHENTICATED: { status: 401, message: "Authentication is required." },
	FORBIDDEN: { status: 403, message: "Not allowed." },
	NOT_FOUND: { status: 404, message: "Not found." },
	METHOD_NOT_ALLOWED: { status: 405, message: "Method not allowed." },
	CONFLICT: { status: 409, message: "The request conflicts with the current state." },
	/** `details.limit` is the route's cap in bytes. */
	PAYLOAD_TOO_LARGE: { status: 413, message: "The request body is too large." },
	URI_TOO_LONG: { status: 414, message: "The request URL is too long." },
	UNSUPPORTED_MEDIA_TYPE: { status: 415, message: "The body must be JSON." },
	RATE_LIMITED: { status: 429, message: "Too many requests. Try again later." },
	INTERNAL: { status: 500, message: "Internal error." },
	DB_UNAVAILABLE: { status: 503, message: "The database is not reachable." },
	/** A required secret binding is missing; /readyz names which (lib/secrets.ts). */
	SERVER_MISCONFIGURED: {
		status: 503,
		message: "The server is missing part of its configuration.",
	},
	EGRESS_DENIED: { status: 403, message: "Outbound connections are not configured." },
	// Accounts and login. An unknown user and a wrong password get the same answer on purpose.
	INVALID_CREDENTIALS: { status: 401, message: "E-mail address or password is wrong." },
	TOTP_REQUIRED: { status: 401, message: "A code from the authenticator app is required." },
	INVALID_TOTP: { status: 401, message: "The authenticator code is wrong or was already used." },
	INVALID_REFRESH_TOKEN: { status: 401, message: "The refresh token is not valid. Log in again." },
	USER_DISABLED: { status: 403, message: "This account is disabled." },
	TOTP_ENROLMENT_REQUIRED: {
		status: 403,
		message: "Two-factor authentication must be set up first.",
	},
	TOTP_ALREADY_ENABLED: { status: 409, message: "Two-factor authentication is already on." },
	TOTP_NOT_STARTED: { status: 409, message: "Start the authenticator set-up first." },
	TOTP_MANDATORY: { status: 409, message: "Two-factor authentication is required here." },
	USER_NOT_FOUND: { status: 404, message: "No such user." },
	EMAIL_TAKEN: { status: 409, message: "A user with this e-mail address exists." },
	LAST_ADMIN: { status: 409, message: "This would leave no enabled admin." },
	/** Deleting would orphan support sessions; the account is disabled instead. */
	USER_HAS_HISTORY: {
		status: 409,
		message: "This user has support sessions on record; disable the account instead.",
	},
	SELF_LOCKOUT: {
		status: 409,
		message: "You cannot disable, delete or demote your own account.",
	},
	INVALID_RESET_TOKEN: { status: 400, message: "The reset link is invalid, used or expired." },
	MAIL_DISABLED: { status: 501, message: "E-mail is not configured on this server." },
	PICTURES_DISABLED: {
		status: 501,
		message: "Profile pictures are off: this server has no S3 store configured.",
	},
	INVALID_PICTURE: { status: 400, message: "The picture must be a PNG, JPEG or WebP image." },
	STORAGE_UNAVAILABLE: { status: 503, message: "The picture store is not reachable." },
	/** Unknown, expired and used support IDs all get this one answer. */
	// Module downloads (routes/downloads.ts).
	NO_MODULES: { status: 404, message: "No module has been built on this server." },
	MODULES_UNAVAILABLE: { status: 503, message: "The module downloads are not reachable." },
	SESSION_NOT_FOUND: { status: 404, message: "No session with this ID." },
	SESSION_ENDED: { status: 410, message: "The session has ended." },
	/** A protocol copy was asked for with something that is not an e-mail address. */
	INVALID_EMAIL: { status: 400, message: "This is not a valid e-mail address." },
	/** A protocol copy needs the customer's explicit agreement (`agree: true`). */
	AGREEMENT_REQUIRED: {
		status: 400,
		message: "Agree to receive the protocol by e-mail, or leave the address out.",
	},
	/** The session's group does not mail protocols, or the server has no SMTP configured. */
	PROTOCOL_MAIL_OFF: { status: 409, message: "This session's protocol is not sent by e-mail." },
	/** The supporter's live sessions reached the setting `maxLiveSessionsPerSupporter`. */
	TOO_MANY_SESSIONS: {
		status: 409,
		message: "You have too many live sessions; end one or let an unused support ID expire.",
	},
	/**
	 * An admin asked for the supporter's seat of another supporter's session without saying so;
	 * taking it over needs `{"takeover": true}` and is audited and shown to the customer.
	 */
	TAKEOVER_REQUIRED: {
		status: 409,
		message: "This is another supporter's session; taking it over must be requested explicitly.",
	},
	/** A second, different participant for a side that is already connected. */
	SESSION_OCCUPIED: { status: 409, message: "Someone else is already connected on this side." },
	INVALID_TICKET: { status: 401, message: "The connection ticket is invalid, used or expired." },
	UPGRADE_REQUIRED: { status: 426, message: "This endpoint takes WebSocket connections only." },
	/** Unknown hosts and hosts of another group alike. */
	HOST_NOT_FOUND: { status: 404, message: "No such host." },
	HOST_OFFLINE: { status: 409, message: "The host is not connected." },
	HOST_DISABLED: { status: 403, message: "This host is disabled." },
	INVALID_ENROLLMENT_TOKEN: {
		status: 400,
		message: "The enrolment token is invalid, used or expired.",
	},
	/** The group's or the caller's open tokens reached the setting `maxOpenEnrollments`. */
	TOO_MANY_ENROLLMENTS: {
		status: 409,
		message: "Too many open enrolment tokens; use some or let them expire first.",
	},
	INVALID_CHALLENGE: { status: 401, message: "The challenge is unknown, used or not signed." },
	GROUP_NOT_FOUND: { status: 404, message: "No such group." },
	GROUP_NAME_TAKEN: { status: 409, message: "A group with this name exists already." },
	GROUP_NOT_EMPTY: { status: 409, message: "Hosts still belong to this group; move them first." },
} as const satisfies Record<string, { status: ContentfulStatusCode; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

export interface ErrorBody {
	error: { code: ErrorCode; message: string; details?: unknown };
}

/** An expected failure; app.onError renders it with the table's status and message. */
export class AppError extends Error {
	override name = "AppError";
	readonly code: ErrorCode;
	readonly details: unknown;
	readonly headers: Record<string, string>;
	constructor(code: ErrorCode, details?: unknown, headers: Record<string, string> = {}) {
		super(ERRORS[code].message);
		this.code = code;
		this.details = details;
		this.headers = headers;
	}
}

/** The JSON body for a code; `details` is only included when there is something to say. */
export function errorBody(code: ErrorCode, details?: unknown): ErrorBody {
	const body: ErrorBody = { error: { code, message: ERRORS[code].message } };
	if (details !== undefined) body.error.details = details;
	return body;
}
