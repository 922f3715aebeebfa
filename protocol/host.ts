/**
 * What a host agent speaks besides the session protocol: the signed challenge that replaces a
 * bearer secret, the presence socket's messages, and the password proof it exchanges with the
 * supporter inside the encrypted `auth` channel (docs/protocol.md §10). Isomorphic (zod and
 * WebCrypto only): the server, the host agent and the supporter module all import it.
 */
import * as z from "zod";
import {
	type Bytes,
	concatBytes,
	fromBase64url,
	lengthPrefixed,
	toBase64url,
	utf8,
} from "./encoding.ts";
import { ED25519, ED25519_SIGNATURE_BYTES, importVerifyKey } from "./signature.ts";

/** Label of the bytes a host signs to prove it holds its identity key. */
export const HOST_CHALLENGE_LABEL = "fernwart.v1/host-challenge";

/** A challenge nonce: 32 random bytes, base64url. */
export const nonceSchema = z.string().regex(/^[A-Za-z0-9_-]{43}$/, "nonce must be 32 bytes");

/** Host ids are UUIDs the server assigns at registration. */
export const hostIdSchema = z.string().regex(/^[0-9a-f-]{36}$/, "host id must be a UUID");

/**
 * `"fernwart.v1/host-challenge" ‖ lp(hostId) ‖ lp(nonce)`: the label keeps a challenge signature
 * from ever verifying as a statement or an ephemeral-key signature, and the host id keeps one
 * host's answer from being replayed for another.
 */
export function hostChallengeBytes(hostId: string, nonce: string): Bytes {
	return concatBytes(
		utf8(HOST_CHALLENGE_LABEL),
		lengthPrefixed(utf8(hostId)),
		lengthPrefixed(utf8(nonce)),
	);
}

/** Signs a challenge with the host's identity key; base64url signature. */
export async function signHostChallenge(
	identityKey: CryptoKey,
	hostId: string,
	nonce: string,
): Promise<string> {
	const sig = await crypto.subtle.sign(ED25519, identityKey, hostChallengeBytes(hostId, nonce));
	return toBase64url(new Uint8Array(sig));
}

/** Verifies a challenge signature with the registered raw public key. Never throws. */
export async function verifyHostChallenge(
	publicKey: string,
	hostId: string,
	nonce: string,
	signature: string,
): Promise<boolean> {
	const sig = fromBase64url(signature);
	const key = await importVerifyKey(publicKey);
	if (!sig || sig.length !== ED25519_SIGNATURE_BYTES || !key) return false;
	try {
		return await crypto.subtle.verify(ED25519, key, sig, hostChallengeBytes(hostId, nonce));
	} catch {
		return false; // a malformed key or signature is a wrong one
	}
}

// ---------------------------------------------------------------------------------------------
// Unattended policy

/** What a capability needs on an unattended host: nothing more than the password, or a click. */
export const POLICY_DECISIONS = ["allow", "ask"] as const;

/** Per group (admin): which capabilities need someone at the PC to say yes. */
export const unattendedPolicySchema = z.strictObject({
	view: z.enum(POLICY_DECISIONS),
	control: z.enum(POLICY_DECISIONS),
	files: z.enum(POLICY_DECISIONS),
});
/** An unattended policy. */
export type UnattendedPolicy = z.infer<typeof unattendedPolicySchema>;

/** Without a group setting: view and control once the password proof succeeded; files asked. */
export const DEFAULT_UNATTENDED_POLICY: UnattendedPolicy = {
	view: "allow",
	control: "allow",
	files: "ask",
};

// ---------------------------------------------------------------------------------------------
// Presence socket `/ws/v1/hosts/:id`

/**
 * Host → server every {@link HEARTBEAT_INTERVAL_MS}: the text `ping`, which workerd answers with
 * `pong` without waking the host's actor (its alarm reads the time of the last answer). A JSON
 * `heartbeat` is still accepted (answered by the actor with `heartbeat.ack`, waking it each time).
 */
export const HEARTBEAT_INTERVAL_MS = 10_000;
/** The presence keepalive and the runtime's answer to it. */
export const PRESENCE_PING = "ping";
export const PRESENCE_PONG = "pong";
/**
 * Without a heartbeat for this long the server marks the host offline. 25 s, not 30: the alarm
 * fires this long after the last heartbeat, so a drop right after one is noticed within 30 s.
 */
export const PRESENCE_TIMEOUT_MS = 25_000;

/**
 * Largest presence message: a heartbeat is 20 bytes. Anything larger closes the socket with
 * `CLOSE.TOO_LARGE` unread, as an oversized session frame does.
 */
export const MAX_PRESENCE_MESSAGE_BYTES = 1024;

/** What a host sends on its presence socket. */
export const hostPresenceMessageSchema = z.discriminatedUnion("type", [
	z.strictObject({ type: z.literal("heartbeat") }),
]);

/** What the server sends on a presence socket. */
export const presenceServerMessageSchema = z.discriminatedUnion("type", [
	z.strictObject({ type: z.literal("heartbeat.ack"), at: z.int() }),
	/** A supporter opened a session: the host joins it with this single-use ticket. */
	z.strictObject({
		type: z.literal("session"),
		sessionId: z.string().min(1).max(128),
		ticket: z.string().min(20).max(4096),
		supporter: z.string().max(200),
		policy: unattendedPolicySchema,
	}),
]);
/** A message on the presence socket from the server. */
export type PresenceServerMessage = z.infer<typeof presenceServerMessageSchema>;

// ---------------------------------------------------------------------------------------------
// Password proof on the `auth` channel (plaintext of encrypted frames, never seen by the relay)

/** scrypt parameters the host announces; bounded so a host cannot make a supporter burn memory. */
export const scryptParamsSchema = z.strictObject({
	name: z.literal("scrypt"),
	logN: z.int().min(14).max(20),
	r: z.int().min(1).max(16),
	p: z.int().min(1).max(4),
	keyLen: z.literal(32),
});
/** Parameters of the host password KDF. */
export type ScryptParams = z.infer<typeof scryptParamsSchema>;

/** Why the host refused a proof. */
export const AUTH_REFUSALS = ["wrong", "locked"] as const;

/** Messages inside `auth` frames, both ways. */
export const authMessageSchema = z.discriminatedUnion("t", [
	/** Host → supporter: derive with these, answer for this nonce. */
	z.strictObject({
		t: z.literal("challenge"),
		nonce: nonceSchema,
		salt: z.string().regex(/^[A-Za-z0-9_-]{22,86}$/),
		kdf: scryptParamsSchema,
	}),
	/** Supporter → host: the derived key (see docs/protocol.md §10 for why not an HMAC). */
	z.strictObject({
		t: z.literal("proof"),
		nonce: nonceSchema,
		key: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
	}),
	/** Host → supporter. */
	z.strictObject({
		t: z.literal("result"),
		ok: z.boolean(),
		reason: z.enum(AUTH_REFUSALS).optional(),
		retryAfterMs: z.int().min(0).optional(),
	}),
]);
/** A password-proof message. */
export type AuthMessage = z.infer<typeof authMessageSchema>;

/** Encodes an auth message as frame plaintext. */
export function encodeAuthMessage(message: AuthMessage): Bytes {
	return utf8(JSON.stringify(message));
}

/** Decodes frame plaintext; null for anything that is not a valid auth message. */
export function decodeAuthMessage(bytes: Uint8Array): AuthMessage | null {
	if (bytes.length > 4096) return null;
	try {
		const parsed = authMessageSchema.safeParse(JSON.parse(new TextDecoder().decode(bytes)));
		return parsed.success ? parsed.data : null;
	} catch {
		return null; // not JSON: not an auth message
	}
}
