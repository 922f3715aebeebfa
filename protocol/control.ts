/**
 * Text control messages of the `fernwart.v1` WebSocket protocol (docs/protocol.md, "Control
 * messages"), validated with the same zod schemas by the relay and by the modules.
 *
 * Control messages are visible to the server and carry no secrets: public keys, requests, signed
 * consent statements, file metadata and comments. Every object is strict, so an unknown field is
 * a bad frame rather than something silently carried along (and, inside a statement, signed).
 */
import * as z from "zod";
import { fromBase64url } from "./encoding.ts";
import { MAX_STREAM } from "./frame.ts";

/** Control frames larger than this (UTF-8 bytes) are refused before JSON parsing. */
export const MAX_CONTROL_FRAME_BYTES = 16 * 1024;
/**
 * What a module accepts from its socket (UTF-8 bytes). Sized together with the largest message
 * the relay itself makes: a `state` with 1,024 file offers whose 255-character names take the
 * most JSON (every character escaped as `\uXXXX`) is about 1.7 MB, so 2 MiB holds every legal
 * state (test/unit/control.test.ts builds it). Relayed client messages stay under the 16 KiB the
 * relay enforces on the way in.
 */
export const MAX_INBOUND_FRAME_BYTES = 2 * 1024 * 1024;

/** The module roles. A host takes the customer's side in every rule that names two sides. */
export const ROLES = ["supporter", "customer", "host"] as const;
/** One of {@link ROLES}. */
export type Role = (typeof ROLES)[number];
/** Zod schema of a role. */
export const roleSchema = z.enum(ROLES);

/** Base64url (no padding, canonical) text that decodes to exactly `length` bytes. */
function base64urlBytes(length: number, what: string) {
	return z
		.string()
		.length(Math.ceil((length * 4) / 3))
		.refine((text) => fromBase64url(text)?.length === length, {
			message: `${what} must be ${length} bytes, base64url`,
		});
}

/** A raw 32-byte X25519 public key, base64url. */
export const x25519PublicKeySchema = base64urlBytes(32, "x25519 key");
/** A raw 32-byte Ed25519 public key (RFC 8032 encoding), base64url. */
export const ed25519PublicKeySchema = base64urlBytes(32, "ed25519 key");
/** A 64-byte Ed25519 signature, base64url. */
export const signatureSchema = base64urlBytes(64, "signature");
/** A 32-byte SHA-256 digest, base64url (key commitments). */
export const digestSchema = base64urlBytes(32, "digest");
/** A SHA-256 digest as 64 lowercase hex digits (file hashes, which people compare by eye). */
export const sha256HexSchema = z
	.string()
	.regex(/^[0-9a-f]{64}$/, "sha256 must be 64 lowercase hex");

/** Session IDs are chosen by the server; printable ASCII keeps them safe in logs and headers. */
export const sessionIdSchema = z
	.string()
	.min(1)
	.max(128)
	.regex(/^[\x21-\x7e]+$/, "session id must be printable ASCII");

/** A file transfer's ID is the `stream` of its binary frames on the file channel. */
export const fileIdSchema = z.int().min(1).max(MAX_STREAM);

/** A bare file name: no path, so a receiver never writes outside the folder it chose. */
export const fileNameSchema = z
	.string()
	.min(1)
	.max(255)
	.refine((name) => name !== "." && name !== "..", "file name must not be . or ..")
	// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
	.refine((name) => !/[/\\\u0000-\u001f\u007f]/.test(name), "file name must not hold a path");

// ---------------------------------------------------------------------------------------------
// Consent statements

/** Message types that record a consent decision and so carry a signed statement. */
export const CONSENT_TYPES = [
	"terms.accept",
	"view.grant",
	"view.deny",
	// The shower stops showing; any control grant ends with it (acts before it is written).
	"view.revoke",
	"control.grant",
	"control.deny",
	"control.revoke",
	"stop",
	"file.accept",
	"file.reject",
	// A host's signed verdict on the supporter's password proof (docs/protocol.md §10).
	"host.auth",
] as const;
/** One of {@link CONSENT_TYPES}. */
export type ConsentType = (typeof CONSENT_TYPES)[number];

/**
 * Details are a flat map of scalars. Nesting is not needed for a consent decision, and a flat map
 * keeps validation and canonicalisation cheap on frames an attacker controls.
 */
export const statementDetailsSchema = z
	.record(
		z.string().min(1).max(64),
		z.union([z.string().max(1024), z.number(), z.boolean(), z.null()]),
	)
	.refine((details) => Object.keys(details).length <= 32, "at most 32 details");

/**
 * What a consenting module signs: Ed25519 over the canonical JSON (protocol/canonical.ts) of this
 * object. `timestamp` is the signer's clock in milliseconds since the Unix epoch.
 */
export const statementSchema = z.strictObject({
	type: z.enum(CONSENT_TYPES),
	sessionId: sessionIdSchema,
	details: statementDetailsSchema,
	timestamp: z.int().min(0),
});
/** A consent statement. */
export type Statement = z.infer<typeof statementSchema>;

/** A consent message of `type`; its statement must be about the same type. */
function consentMessage<T extends ConsentType>(type: T) {
	return z
		.strictObject({ type: z.literal(type), statement: statementSchema, signature: signatureSchema })
		.refine((m) => m.statement.type === type, {
			message: "statement.type must equal the message type",
			path: ["statement", "type"],
		});
}

/** File consent must name the file in the signed part, or a signature could be moved to another. */
function fileConsentMessage<T extends "file.accept" | "file.reject">(type: T) {
	return z
		.strictObject({
			type: z.literal(type),
			id: fileIdSchema,
			statement: statementSchema,
			signature: signatureSchema,
		})
		.refine((m) => m.statement.type === type, {
			message: "statement.type must equal the message type",
			path: ["statement", "type"],
		})
		.refine((m) => m.statement.details.fileId === m.id, {
			message: "statement.details.fileId must equal id",
			path: ["statement", "details", "fileId"],
		});
}

/**
 * The host's verdict on a password proof: `details.result` is `accepted`, `refused` or `locked`.
 * The relay opens a host session's other channels only after an `accepted` one, and audits each.
 */
function hostAuthMessage() {
	return consentMessage("host.auth").refine(
		(m) => ["accepted", "refused", "locked"].includes(String(m.statement.details.result)),
		{ message: "details.result must be accepted, refused or locked", path: ["statement"] },
	);
}

// ---------------------------------------------------------------------------------------------
// Client → server

/**
 * The supporter commits to its X25519 key instead of sending it, and reveals it in `key.reveal`
 * only after it has the other side's key. Without this, whoever relays the hellos could try
 * about a million keys of its own until both sides show the same 6-digit SAS (docs/protocol.md,
 * "Key commitment").
 */
const supporterHelloSchema = z.strictObject({
	type: z.literal("hello"),
	role: z.literal("supporter"),
	x25519Commitment: digestSchema,
	ed25519: ed25519PublicKeySchema,
});

const customerHelloSchema = z.strictObject({
	type: z.literal("hello"),
	role: z.literal("customer"),
	x25519: x25519PublicKeySchema,
	ed25519: ed25519PublicKeySchema,
});

/** A host's `ed25519` is its enrolled identity key, which also signs its ephemeral X25519 key. */
const hostHelloSchema = z.strictObject({
	type: z.literal("hello"),
	role: z.literal("host"),
	x25519: x25519PublicKeySchema,
	ed25519: ed25519PublicKeySchema,
	identitySignature: signatureSchema,
});

/** The first message on every socket: who this is and its public keys for this session. */
export const helloSchema = z.discriminatedUnion("role", [
	supporterHelloSchema,
	customerHelloSchema,
	hostHelloSchema,
]);
/** A `hello` message. */
export type Hello = z.infer<typeof helloSchema>;

/** The supporter's X25519 key, opening the commitment in its hello. */
export const keyRevealSchema = z.strictObject({
	type: z.literal("key.reveal"),
	x25519: x25519PublicKeySchema,
});

/** Offers a file to the other side; `id` becomes the file channel's stream. */
export const fileOfferSchema = z.strictObject({
	type: z.literal("file.offer"),
	id: fileIdSchema,
	name: fileNameSchema,
	size: z.int().min(0),
	sha256: sha256HexSchema,
});

/** Client messages that the relay passes to the other side after it has checked them. */
const relayedClientMessages = [
	keyRevealSchema,
	consentMessage("terms.accept"),
	z.strictObject({ type: z.literal("view.request") }),
	consentMessage("view.grant"),
	consentMessage("view.deny"),
	consentMessage("view.revoke"),
	z.strictObject({ type: z.literal("control.request") }),
	consentMessage("control.grant"),
	consentMessage("control.deny"),
	consentMessage("control.revoke"),
	consentMessage("stop"),
	fileOfferSchema,
	fileConsentMessage("file.accept"),
	fileConsentMessage("file.reject"),
	z.strictObject({ type: z.literal("file.done"), id: fileIdSchema }),
	z.strictObject({ type: z.literal("comment"), text: z.string().min(1).max(4000) }),
	hostAuthMessage(),
] as const;

/**
 * A sender that heard `backpressure` `active: true` holds bulk frames at most this long unless it
 * hears it again; the relay repeats it every {@link BACKPRESSURE_REPEAT_MS} while the reader stays
 * behind, so a lost `false` (an actor that hibernated forgets its counts) never stalls a sender.
 */
export const BACKPRESSURE_HOLD_MS = 5_000;
/** How often the relay repeats `backpressure` `active: true` while a reader stays behind. */
export const BACKPRESSURE_REPEAT_MS = 2_000;

/**
 * Flow control (docs/protocol.md §3.5): the relay puts a `mark` into what it sends to a module
 * once per this many bytes (binary frames in bytes, text messages in UTF-16 code units).
 */
export const MARK_EVERY_BYTES = 256 * 1024;
/** A mark's id: 16 lowercase hex digits (64 random bits), unguessable before it is read. */
export const markIdSchema = z.string().regex(/^[0-9a-f]{16}$/);
/**
 * The relay's mark (docs/protocol.md §3.5): everything sent before it has to be read before the
 * module can answer `{"type":"ack","mark":id}`, which it does at once.
 */
export const markSchema = z.strictObject({ type: z.literal("mark"), id: markIdSchema });
/**
 * The module's answer to a `mark`: it has read everything the relay sent up to that mark. The
 * relay counts what it sent after the newest mark echoed as waiting for this reader, so a module
 * cannot claim to have read what it has not: it learns a mark's id only by reading up to it.
 * Never relayed.
 */
const ackSchema = z.strictObject({
	type: z.literal("ack"),
	mark: markIdSchema.optional(),
	/**
	 * What modules sent before marks: a byte count. Accepted so that an agent not yet replaced is
	 * not closed for violations, and ignored, because a count can be claimed without reading.
	 */
	bytes: z
		.int()
		.min(1)
		.max(2 ** 40)
		.optional(),
});

/**
 * The supporter's answer to a customer waiting for admission (docs/protocol.md §3.8). Addressed
 * to the relay, never relayed: the customer learns the outcome from `state` (or `end`).
 */
const admissionMessages = [
	z.strictObject({ type: z.literal("admit") }),
	z.strictObject({ type: z.literal("refuse") }),
] as const;

/** Every message a module may send. */
export const clientMessageSchema = z.discriminatedUnion("type", [
	helloSchema,
	ackSchema,
	...relayedClientMessages,
	...admissionMessages,
]);
/** A message from a module to the server. */
export type ClientMessage = z.infer<typeof clientMessageSchema>;
/** A client message that carries a signed consent statement. */
export type ConsentMessage = Extract<ClientMessage, { type: ConsentType }>;

/** True for messages that carry a statement and signature. */
export function isConsentMessage(message: ClientMessage): message is ConsentMessage {
	return (CONSENT_TYPES as readonly string[]).includes(message.type);
}

// ---------------------------------------------------------------------------------------------
// Server → client

/** Where a file transfer stands. */
export const FILE_STATUSES = ["offered", "accepted", "rejected", "done"] as const;

/** Where a customer's admission stands: waiting for the supporter, admitted or refused. */
export const ADMISSION_STATUSES = ["waiting", "admitted", "refused"] as const;

/**
 * The customer as the supporter decides on it: the name typed at the join, the address the
 * join came from, and when. Null until a customer joined, and in sessions without admission.
 */
export const admissionSchema = z.strictObject({
	status: z.enum(ADMISSION_STATUSES),
	name: z.string().max(80).nullable(),
	address: z.string().max(64).nullable(),
	joinedAt: z.int().min(0),
});
/** A customer's admission entry. */
export type Admission = z.infer<typeof admissionSchema>;

/** The latest takeover of the supporter's seat by an admin: who (user id and name) and when. */
export const takeoverSchema = z.strictObject({
	by: z.string().min(1).max(128),
	name: z.string().max(200),
	at: z.int().min(0),
});
/** A takeover entry. */
export type Takeover = z.infer<typeof takeoverSchema>;

/** The whole consent state of a session, sent after every change so modules never diff. */
export const consentStateSchema = z.strictObject({
	sessionId: sessionIdSchema,
	/** Increases with every change; a module ignores a state older than one it has. */
	revision: z.int().min(0),
	phase: z.enum(["waiting", "active", "ended"]),
	/** Roles with an open socket. */
	connected: z.array(roleSchema).max(3),
	termsRequired: z.boolean(),
	termsAccepted: z.boolean(),
	/** The role whose screen may flow (it granted view), or null. */
	shower: roleSchema.nullable(),
	/** The role whose input and clipboard may flow to the shower (the shower granted it), or null. */
	controller: roleSchema.nullable(),
	files: z
		.array(
			z.strictObject({
				id: fileIdSchema,
				name: fileNameSchema,
				size: z.int().min(0),
				sha256: sha256HexSchema,
				from: roleSchema,
				status: z.enum(FILE_STATUSES),
			}),
		)
		.max(1024),
	/** The customer's admission (absent in states from before admission existed). */
	admission: admissionSchema.nullable().optional(),
	/** Set once an admin took over the seat; the customer sees who supports them now. */
	takeover: takeoverSchema.nullable().optional(),
});
/** The consent state carried by a `state` message. */
export type ConsentState = z.infer<typeof consentStateSchema>;

/** Error codes in `error` messages. Clients must treat unknown codes like `NOT_ALLOWED`. */
export const CONTROL_ERRORS = {
	/** The message failed validation or is not valid in this phase. */
	BAD_MESSAGE: "BAD_MESSAGE",
	/** The sender's role may not send this now (e.g. a viewer granting control). */
	NOT_ALLOWED: "NOT_ALLOWED",
	/** The statement's signature or session did not verify. */
	BAD_SIGNATURE: "BAD_SIGNATURE",
	/** The statement's timestamp is outside the relay's window: the signer's clock is off. */
	CLOCK_SKEW: "CLOCK_SKEW",
	/** The consent could not be recorded, so it was refused (fail closed). */
	CONSENT_UNAVAILABLE: "CONSENT_UNAVAILABLE",
	/** Too many requests that open a dialog on the other side (docs/protocol.md §3.4). */
	RATE_LIMITED: "RATE_LIMITED",
} as const;

/**
 * Why a session ended. `revoked`: the server ended it because the supporter (or host) lost the
 * right to it — account disabled, removed from the host's group, host disabled or deleted.
 * `refused`: the supporter refused the customer's admission. `taken-over` ends it only for the
 * previous supporter, whose seat an admin took; the session goes on with the admin.
 */
export const END_REASONS = [
	"stopped",
	"ended",
	"expired",
	"revoked",
	"refused",
	"taken-over",
] as const;

const serverMessages = [
	z.strictObject({
		type: z.literal("state"),
		state: consentStateSchema,
		/**
		 * The relay's clock when it sent this message (ms since the Unix epoch). Modules stamp
		 * their consent statements with their own clock corrected by the difference, so a PC whose
		 * clock is wrong still signs a time the relay accepts (docs/protocol.md §3.2).
		 */
		serverTime: z.int().min(0).optional(),
	}),
	z.strictObject({
		type: z.literal("error"),
		code: z.string().regex(/^[A-Z][A-Z0-9_]{0,63}$/),
		message: z.string().max(500),
	}),
	z.strictObject({
		type: z.literal("end"),
		reason: z.enum(END_REASONS),
		by: roleSchema.optional(),
	}),
	/** The other side's hello, exactly as it sent it. */
	z.strictObject({ type: z.literal("peer"), hello: helloSchema }),
	/**
	 * Back-pressure (docs/protocol.md §3.5): the other side's reader is behind (`active: true`,
	 * repeated at most every {@link BACKPRESSURE_REPEAT_MS} while it stays behind) or has caught up
	 * (`false`). A sender skips screen frames and holds file chunks while it is active.
	 */
	z.strictObject({ type: z.literal("backpressure"), active: z.boolean() }),
	markSchema,
] as const;

/** Messages the server itself originates. */
export const serverMessageSchema = z.discriminatedUnion("type", serverMessages);
/** A message originated by the server. */
export type ServerMessage = z.infer<typeof serverMessageSchema>;

/**
 * What a module may read from its socket: server messages plus the other side's messages, which
 * carry statements the module verifies itself. A peer's `hello` only ever arrives wrapped in
 * `peer`, so it is not accepted bare.
 */
export const inboundMessageSchema = z.discriminatedUnion("type", [
	...serverMessages,
	...relayedClientMessages,
]);
/** A message a module reads from its socket. */
export type InboundMessage = z.infer<typeof inboundMessageSchema>;

// ---------------------------------------------------------------------------------------------
// Parsing

/** Why a control frame was refused. */
export type ControlFrameFailure = "not-text" | "too-large" | "not-json" | "invalid";

/** Result of the parse functions: never throws, because the frame comes from the network. */
export type ParseResult<T> =
	| { ok: true; value: T }
	| {
			ok: false;
			reason: ControlFrameFailure;
			/** Short ASCII explanation (≤ 100 chars), safe as a close reason or log field. */
			detail: string;
	  };

const utf8Length = (text: string) => new TextEncoder().encode(text).length;

function parseWith<T>(schema: z.ZodType<T>, text: unknown, maxBytes: number): ParseResult<T> {
	if (typeof text !== "string") return fail("not-text", "control frames are text");
	// UTF-8 is never shorter than UTF-16 code units, so the cheap check is safe to do first.
	if (text.length > maxBytes || utf8Length(text) > maxBytes) {
		return fail("too-large", `control frame over ${maxBytes} bytes`);
	}
	let json: unknown;
	try {
		json = JSON.parse(text);
	} catch {
		return fail("not-json", "control frame is not JSON");
	}
	const result = schema.safeParse(json);
	if (result.success) return { ok: true, value: result.data };
	const issue = result.error.issues[0];
	const where = issue?.path.length ? ` at ${issue.path.join(".")}` : "";
	return fail("invalid", `${issue?.message ?? "invalid message"}${where}`);
}

function fail(reason: ControlFrameFailure, detail: string): ParseResult<never> {
	// Paths can hold attacker-chosen keys: keep the detail short and ASCII for logs and close frames.
	const safe = detail.replace(/[^\x20-\x7e]/g, "?").slice(0, 100);
	return { ok: false, reason, detail: safe };
}

/** Parses a text frame a module sent (the relay's side). */
export function parseControlFrame(text: unknown): ParseResult<ClientMessage> {
	return parseWith(clientMessageSchema, text, MAX_CONTROL_FRAME_BYTES);
}

/** Parses a text frame a module received (the modules' side). */
export function parseInboundFrame(text: unknown): ParseResult<InboundMessage> {
	return parseWith(inboundMessageSchema, text, MAX_INBOUND_FRAME_BYTES);
}

// ---------------------------------------------------------------------------------------------
// Close codes

/**
 * WebSocket close codes of this protocol (RFC 6455 reserves 4000–4999 for applications). Stable
 * once shipped: modules decide on them whether to reconnect.
 */
export const CLOSE = {
	/** A frame or message failed to parse or validate. */
	BAD_FRAME: 4000,
	/** The ticket was missing, used or expired, or the role does not belong to this session. */
	UNAUTHORIZED: 4001,
	/** Repeated frames that consent did not allow. */
	POLICY_VIOLATION: 4002,
	/** The customer or host pressed STOP. */
	STOPPED: 4003,
	/** The session was ended normally. */
	ENDED: 4004,
	/** The session outlived its deadline. */
	EXPIRED: 4005,
	/** A newer socket for the same role took this one's place. */
	REPLACED: 4006,
	/** The binary header version or the subprotocol is not one the server speaks. */
	UNSUPPORTED_VERSION: 4007,
	/** A frame or message over its channel's size cap (docs/protocol.md §2.1); it was not relayed. */
	TOO_LARGE: 4008,
	/**
	 * The reader fell too far behind: more was waiting for it in the relay than the bound allows
	 * (docs/protocol.md §3.5). Nothing it missed can be replayed, so it resumes with a new socket.
	 */
	SLOW_READER: 4009,
	/** Nothing arrived on the socket, not even a keepalive, for longer than the timeout (§3.6). */
	TIMED_OUT: 4010,
	/** The supporter refused the customer's admission; the session and its ID are dead. */
	REFUSED: 4011,
	/** An admin took over the supporter's seat; this supporter's socket is done. */
	TAKEN_OVER: 4012,
} as const;
/** A name in {@link CLOSE}. */
export type CloseName = keyof typeof CLOSE;
/** A code in {@link CLOSE}. */
export type CloseCode = (typeof CLOSE)[CloseName];

const CLOSE_REASONS: Record<CloseCode, string> = {
	[CLOSE.BAD_FRAME]: "bad frame",
	[CLOSE.UNAUTHORIZED]: "unauthorized",
	[CLOSE.POLICY_VIOLATION]: "policy violation",
	[CLOSE.STOPPED]: "stopped",
	[CLOSE.ENDED]: "session ended",
	[CLOSE.EXPIRED]: "session expired",
	[CLOSE.REPLACED]: "replaced by a newer connection",
	[CLOSE.UNSUPPORTED_VERSION]: "unsupported protocol version",
	[CLOSE.TOO_LARGE]: "frame too large",
	[CLOSE.SLOW_READER]: "reader too slow",
	[CLOSE.TIMED_OUT]: "keepalive timed out",
	[CLOSE.REFUSED]: "admission refused",
	[CLOSE.TAKEN_OVER]: "taken over by an admin",
};

/** Protocol codes after which the module reconnects: the session goes on, only the socket ended. */
const RESUMABLE_CODES: ReadonlySet<number> = new Set([CLOSE.SLOW_READER, CLOSE.TIMED_OUT]);

/** True if `code` is one of {@link CLOSE}. */
export function isCloseCode(code: number): code is CloseCode {
	return Object.hasOwn(CLOSE_REASONS, code);
}

/** The short reason text sent with a close code (ASCII, well under the 123-byte limit). */
export function closeReason(code: number): string {
	return isCloseCode(code) ? CLOSE_REASONS[code] : "closed";
}

/**
 * Whether a module may reconnect and resume after this close code. Every protocol code except
 * SLOW_READER and TIMED_OUT, a normal close (1000) and a policy close (1008) are final; anything
 * else (1001 going away, 1006 dropped, 1011 server error) is a transport failure that the session
 * survives (DESIGN §2 11).
 */
export function mayResume(code: number): boolean {
	if (RESUMABLE_CODES.has(code)) return true;
	return !isCloseCode(code) && code !== 1000 && code !== 1008;
}

/**
 * The code to send back when the peer closed with `code` (RFC 6455 §5.5.1: an endpoint answers a
 * Close frame with a Close frame, usually echoing the code). 1005 (the peer sent no code) is
 * answered with 1000; null for codes that never travel on the wire (1006, 1015) or are invalid.
 */
export function closeReply(code: number): number | null {
	if (code === 1005) return 1000;
	const sendable =
		(code >= 1000 && code <= 1003) ||
		(code >= 1007 && code <= 1014) ||
		(code >= 3000 && code <= 4999);
	return sendable ? code : null;
}
