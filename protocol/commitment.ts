/**
 * The supporter's key commitment (docs/protocol.md §4). In protocol/ because both the modules and
 * the relay compute it: the relay checks that `key.reveal` opens the commitment before it lets
 * the handshake complete, so a module that breaks the ordering rule is stopped by the server.
 */
import {
	bytesEqual,
	concatBytes,
	fromBase64url,
	lengthPrefixed,
	toBase64url,
	utf8,
} from "./encoding.ts";

/** Domain label of the key commitment. */
export const COMMITMENT_LABEL = "fernwart.v1/commitment";

/**
 * The supporter's commitment to its X25519 key, sent in its `hello` in place of the key:
 * base64url(SHA-256("fernwart.v1/commitment" ‖ lp(sessionId) ‖ lp(x25519))). It makes the relay
 * pick its own keys before it can compute any SAS, so it cannot search for a matching pair.
 */
export async function keyCommitment(
	sessionId: string,
	x25519PublicKey: Uint8Array,
): Promise<string> {
	const digest = await crypto.subtle.digest(
		"SHA-256",
		concatBytes(
			utf8(COMMITMENT_LABEL),
			lengthPrefixed(utf8(sessionId)),
			lengthPrefixed(x25519PublicKey),
		),
	);
	return toBase64url(new Uint8Array(digest));
}

/** True if `x25519PublicKey` (from `key.reveal`) opens `commitment` (from the supporter's hello). */
export async function verifyKeyCommitment(
	sessionId: string,
	x25519PublicKey: Uint8Array,
	commitment: string,
): Promise<boolean> {
	const expected = fromBase64url(commitment);
	if (expected === null) return false;
	const actual = fromBase64url(await keyCommitment(sessionId, x25519PublicKey));
	return actual !== null && bytesEqual(actual, expected);
}
