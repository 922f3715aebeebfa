import { fromBase64url, toBase64url } from "../../protocol/encoding.ts";

/** base64url without padding (RFC 4648 §5), for tokens and keys in URLs, headers and env files. */
export const toBase64Url: (bytes: Uint8Array) => string = toBase64url;

/**
 * Decodes base64url in its one canonical form (protocol/encoding.ts); throws on anything else, for
 * callers where bad input is a bug or a refusal they turn into an error themselves.
 */
export function fromBase64Url(text: string): Uint8Array {
	const bytes = fromBase64url(text);
	if (!bytes) throw new Error("not base64url");
	return bytes;
}

/** Lower-case hex of bytes. */
export function toHex(bytes: Uint8Array): string {
	return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Hex SHA-256 of a UTF-8 string. */
export async function sha256Hex(text: string): Promise<string> {
	const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
	return toHex(new Uint8Array(digest));
}
