import { sha256Hex, toBase64Url } from "./encoding.ts";
import { constantTimeEqual } from "./password.ts";

/**
 * Opaque bearer secrets of the form `<id>.<secret>` (refresh tokens, password resets). The id
 * finds the row; the secret is 32 random bytes of which only the SHA-256 is stored, so a copy of
 * the database cannot be replayed. Comparison is constant-time over the hex digests.
 */
export interface OpaqueToken {
	id: string;
	token: string;
	secretHash: string;
}

const TOKEN_PATTERN = /^([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/;

/** Makes a new token; hand `token` to the client and store `id` and `secretHash`. */
export async function createOpaqueToken(): Promise<OpaqueToken> {
	const id = toBase64Url(crypto.getRandomValues(new Uint8Array(16)));
	const secret = toBase64Url(crypto.getRandomValues(new Uint8Array(32)));
	return { id, token: `${id}.${secret}`, secretHash: await sha256Hex(secret) };
}

/** Splits a presented token; null when it does not have the shape of one of ours. */
export function parseOpaqueToken(token: string): { id: string; secret: string } | null {
	const m = TOKEN_PATTERN.exec(token);
	return m?.[1] && m[2] ? { id: m[1], secret: m[2] } : null;
}

/** Checks a presented secret against the stored hash in constant time. */
export async function opaqueSecretMatches(secret: string, storedHash: string): Promise<boolean> {
	const enc = new TextEncoder();
	return constantTimeEqual(enc.encode(await sha256Hex(secret)), enc.encode(storedHash));
}
