/**
 * Byte helpers shared by the server and the modules. Only ECMAScript built-ins and `atob`/`btoa`
 * are used, so this file runs unchanged in Node, browsers and workerd.
 */

/** Bytes backed by a plain ArrayBuffer: what WebCrypto accepts as a `BufferSource`. */
export type Bytes = Uint8Array<ArrayBuffer>;

const BASE64URL_RE = /^[A-Za-z0-9_-]*$/;

/** RFC 4648 §5 base64url without padding, the one text encoding for keys and signatures. */
export function toBase64url(bytes: Uint8Array): string {
	let binary = "";
	for (const byte of bytes) binary += String.fromCharCode(byte);
	return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * Strict base64url decoding: no padding, no whitespace, no other alphabet, and no spare bits set,
 * so every byte string has exactly one accepted text form. Signatures and keys are compared and
 * logged as text, and two spellings of one key would let a client dodge a pinned-key check.
 * Returns null instead of throwing because the input comes from the network.
 */
export function fromBase64url(text: string): Bytes | null {
	if (typeof text !== "string" || !BASE64URL_RE.test(text) || text.length % 4 === 1) return null;
	const padded = text.replace(/-/g, "+").replace(/_/g, "/");
	let binary: string;
	try {
		binary = atob(padded + "=".repeat((4 - (padded.length % 4)) % 4));
	} catch {
		return null; // atob rejects what the regex let through only for bad lengths, handled above
	}
	const bytes = new Uint8Array(binary.length);
	for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
	return toBase64url(bytes) === text ? bytes : null;
}

/** Concatenates byte strings into one fresh buffer. */
export function concatBytes(...parts: Uint8Array[]): Bytes {
	let length = 0;
	for (const part of parts) length += part.length;
	const out = new Uint8Array(length);
	let offset = 0;
	for (const part of parts) {
		out.set(part, offset);
		offset += part.length;
	}
	return out;
}

/**
 * `u16 big-endian length ‖ bytes`. Every variable-length field inside a signed or hashed byte
 * string is framed like this, so no two field lists encode to the same bytes.
 */
export function lengthPrefixed(bytes: Uint8Array): Bytes {
	if (bytes.length > 0xffff) throw new RangeError("field longer than 65535 bytes");
	const out = new Uint8Array(2 + bytes.length);
	out[0] = bytes.length >>> 8;
	out[1] = bytes.length & 0xff;
	out.set(bytes, 2);
	return out;
}

const encoder = new TextEncoder();

/** UTF-8 bytes of a string. */
export function utf8(text: string): Bytes {
	return encoder.encode(text) as Bytes;
}

/** Constant-time equality for short secrets and digests (the length itself is not secret). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
	if (a.length !== b.length) return false;
	let diff = 0;
	for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
	return diff === 0;
}
