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
	PAYLOAD_TOO_LARGE: { status: 413, message: "The request body is too large." },
	UNSUPPORTED_MEDIA_TYPE: { status: 415, message: "The body must be JSON." },
	RATE_LIMITED: { status: 429, message: "Too many requests. Try again later." },
	INTERNAL: { status: 500, message: "Internal error." },
	DB_UNAVAILABLE: { status: 503, message: "The database is not reachable." },
	EGRESS_DENIED: { status: 403, message: "Outbound connections are not configured." },
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
