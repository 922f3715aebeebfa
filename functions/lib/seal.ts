import { fromBase64Url, toBase64Url } from "./encoding.ts";

/**
 * Encrypts small secrets at rest (TOTP seeds) with AES-256-GCM under a key that lives in the data
 * dir, not in the database: a stolen database file alone does not reveal them. The row id is the
 * associated data, so a sealed value copied onto another row does not open.
 */
const VERSION = "v1";
const keys = new Map<string, Promise<CryptoKey>>();

function importKey(keyText: string): Promise<CryptoKey> {
	let key = keys.get(keyText);
	if (!key) {
		const raw = fromBase64Url(keyText);
		if (raw.length !== 32) throw new Error("seal key must be 32 bytes");
		key = crypto.subtle.importKey("raw", raw as BufferSource, "AES-GCM", false, [
			"encrypt",
			"decrypt",
		]);
		keys.set(keyText, key);
	}
	return key;
}

/** Seals bytes for one row: `v1.<iv>.<ciphertext+tag>`. */
export async function seal(keyText: string, plain: Uint8Array, rowId: string): Promise<string> {
	const iv = crypto.getRandomValues(new Uint8Array(12));
	const ct = await crypto.subtle.encrypt(
		{ name: "AES-GCM", iv, additionalData: new TextEncoder().encode(rowId) },
		await importKey(keyText),
		plain as BufferSource,
	);
	return `${VERSION}.${toBase64Url(iv)}.${toBase64Url(new Uint8Array(ct))}`;
}

/** Opens a sealed value; null when it was tampered with, moved, or sealed under another key. */
export async function unseal(
	keyText: string,
	sealed: string,
	rowId: string,
): Promise<Uint8Array | null> {
	const [version, ivText, ctText] = sealed.split(".");
	if (version !== VERSION || !ivText || !ctText) return null;
	try {
		const plain = await crypto.subtle.decrypt(
			{
				name: "AES-GCM",
				iv: fromBase64Url(ivText) as BufferSource,
				additionalData: new TextEncoder().encode(rowId),
			},
			await importKey(keyText),
			fromBase64Url(ctText) as BufferSource,
		);
		return new Uint8Array(plain);
	} catch {
		// A wrong key or tag is an expected outcome here; the caller refuses the code.
		return null;
	}
}
