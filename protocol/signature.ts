/**
 * The signed byte strings of the protocol and their Ed25519 verification. This half lives in
 * protocol/ because the relay verifies consent statements before it acts on them; signing needs a
 * private key and lives in modules/sdk/crypto.ts.
 *
 * Everything one key signs must be unambiguous about what it is: statements are canonical JSON
 * objects and so start with `{`, while every other signed string starts with an ASCII label
 * such as `fernwart.v1/ephemeral`. A signature for one purpose therefore never verifies for
 * another.
 */
import { canonicalBytes } from "./canonical.ts";
import type { Statement } from "./control.ts";
import { type Bytes, concatBytes, fromBase64url, lengthPrefixed, utf8 } from "./encoding.ts";

/** The WebCrypto algorithm of every signature in the protocol. */
export const ED25519 = { name: "Ed25519" } as const;

/** Ed25519 public key length (raw, RFC 8032). */
export const ED25519_PUBLIC_KEY_BYTES = 32;
/** Ed25519 signature length. */
export const ED25519_SIGNATURE_BYTES = 64;
/** X25519 public key length (raw, RFC 7748). */
export const X25519_PUBLIC_KEY_BYTES = 32;

/** Label in front of a host's signature over its ephemeral X25519 key. */
export const EPHEMERAL_LABEL = "fernwart.v1/ephemeral";

/**
 * Imports a raw Ed25519 public key (32 bytes, or their base64url text) for verification. Returns
 * null for anything that is not such a key, because keys arrive from the network.
 */
export async function importVerifyKey(publicKey: string | Uint8Array): Promise<CryptoKey | null> {
	const raw = typeof publicKey === "string" ? fromBase64url(publicKey) : new Uint8Array(publicKey);
	if (raw === null || raw.length !== ED25519_PUBLIC_KEY_BYTES) return null;
	try {
		return await crypto.subtle.importKey("raw", raw, ED25519, true, ["verify"]);
	} catch {
		return null; // not a point on the curve: the same answer as a wrong key
	}
}

/** The bytes a consent statement's signature covers: its canonical JSON in UTF-8. */
export function statementBytes(statement: Statement): Bytes {
	return canonicalBytes(statement);
}

/**
 * The bytes a host's identity key signs to vouch for its per-session X25519 key:
 * `"fernwart.v1/ephemeral" ‖ lp(sessionId) ‖ lp(x25519)` (lp = u16 length prefix). The session
 * ID binds the signature to one session, so a leaked old ephemeral key cannot be replayed.
 */
export function ephemeralBytes(sessionId: string, x25519PublicKey: Uint8Array): Bytes {
	return concatBytes(
		utf8(EPHEMERAL_LABEL),
		lengthPrefixed(utf8(sessionId)),
		lengthPrefixed(x25519PublicKey),
	);
}

/**
 * Verifies a statement signature (base64url). False, never a throw, for a malformed key,
 * signature or statement: a consent that cannot be verified is simply not given.
 */
export async function verifyStatement(
	publicKey: CryptoKey | string | Uint8Array,
	statement: Statement,
	signature: string,
): Promise<boolean> {
	let data: Bytes;
	try {
		data = statementBytes(statement);
	} catch {
		return false; // no canonical form (e.g. NaN smuggled past a cast): nothing was signed
	}
	return verifyBytes(publicKey, data, signature);
}

/** Verifies a host's signature over its ephemeral X25519 key for `sessionId`. Never throws. */
export async function verifyEphemeral(
	identityKey: CryptoKey | string | Uint8Array,
	sessionId: string,
	x25519PublicKey: Uint8Array,
	signature: string,
): Promise<boolean> {
	if (x25519PublicKey.length !== X25519_PUBLIC_KEY_BYTES) return false;
	let data: Bytes;
	try {
		data = ephemeralBytes(sessionId, x25519PublicKey);
	} catch {
		return false; // session ID over 65535 bytes: no valid signature can exist
	}
	return verifyBytes(identityKey, data, signature);
}

async function verifyBytes(
	publicKey: CryptoKey | string | Uint8Array,
	data: Bytes,
	signature: string,
): Promise<boolean> {
	const sig = fromBase64url(signature);
	if (sig === null || sig.length !== ED25519_SIGNATURE_BYTES) return false;
	const key =
		typeof publicKey === "string" || publicKey instanceof Uint8Array
			? await importVerifyKey(publicKey)
			: publicKey;
	if (key === null) return false;
	try {
		return await crypto.subtle.verify(ED25519, key, sig, data);
	} catch {
		return false; // e.g. a key for another algorithm: treated like a wrong signature
	}
}
