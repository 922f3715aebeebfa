/**
 * The signed manifest of the native module's downloads (docs/modules.md §9). The server serves it
 * at `/download/manifest.json`; `npm run build:modules` writes and signs it; the module verifies
 * it with the module-signing key it pinned before it replaces itself. Isomorphic (zod and
 * WebCrypto only), because the server, the build and the module all read it.
 *
 * What is signed: `"fernwart.v1/module-manifest\n" ‖ canonical JSON of the manifest` (RFC 8785
 * canonical form, protocol/canonical.ts), with Ed25519 (RFC 8032, pure, no pre-hash). The label
 * keeps a manifest signature from ever verifying as any other signed string of the protocol
 * (protocol/signature.ts).
 */
import * as z from "zod";
import { canonicalBytes } from "./canonical.ts";
import { concatBytes, fromBase64url, toBase64url, utf8 } from "./encoding.ts";
import { ED25519, ED25519_PUBLIC_KEY_BYTES, importVerifyKey } from "./signature.ts";

/** Label in front of the canonical manifest in the signed bytes. */
export const MODULE_MANIFEST_LABEL = "fernwart.v1/module-manifest\n";

/** Platforms and architectures a module file is built for (Node's `process.platform`/`arch`). */
export const MODULE_PLATFORMS = ["linux", "win32", "darwin"] as const;
export const MODULE_ARCHS = ["x64", "arm64"] as const;

/** A file name the server will serve: no path, no leading dot, at most 100 characters. */
export const moduleFileNameSchema = z
	.string()
	.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, "a plain file name")
	.refine((name) => !name.includes(".."), "a plain file name");

/** A version the module compares: `MAJOR.MINOR.PATCH` with an optional `-pre.release`. */
export const moduleVersionSchema = z
	.string()
	.max(64)
	.regex(/^\d{1,9}\.\d{1,9}\.\d{1,9}(-[0-9A-Za-z.-]+)?$/, "MAJOR.MINOR.PATCH[-pre]");

export const moduleFileSchema = z.strictObject({
	name: moduleFileNameSchema,
	platform: z.enum(MODULE_PLATFORMS),
	arch: z.enum(MODULE_ARCHS),
	/** Bytes. */
	size: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
	/** SHA-256 of the file, 64 lowercase hex digits. */
	sha256: z.string().regex(/^[0-9a-f]{64}$/),
});
export type ModuleFile = z.infer<typeof moduleFileSchema>;

/** The signed content. Strict: a field the signer did not know would not be covered by intent. */
export const moduleManifestSchema = z.strictObject({
	name: z.literal("fernwart"),
	version: moduleVersionSchema,
	/** ISO 8601 time of the build. */
	createdAt: z.iso.datetime(),
	files: z.array(moduleFileSchema).max(32),
});
export type ModuleManifest = z.infer<typeof moduleManifestSchema>;

/**
 * What `/download/manifest.json` serves: the manifest, the detached signature (base64url, 64
 * bytes) and the signer's public key (raw, base64url). The key is informative only: a verifier
 * uses the key it pinned, never this one.
 */
export const signedModuleManifestSchema = z.strictObject({
	manifest: moduleManifestSchema,
	signature: z.strictObject({
		alg: z.literal("Ed25519"),
		publicKey: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
		value: z.string().regex(/^[A-Za-z0-9_-]{86}$/),
	}),
});
export type SignedModuleManifest = z.infer<typeof signedModuleManifestSchema>;

/** The bytes the signature covers; throws for a value with no canonical form. */
export function moduleManifestBytes(manifest: ModuleManifest): Uint8Array<ArrayBuffer> {
	return concatBytes(utf8(MODULE_MANIFEST_LABEL), canonicalBytes(manifest));
}

/**
 * Verifies the signature with `publicKey` (raw 32 bytes or base64url), ignoring the key the
 * document names. False, never a throw, for a malformed key, signature or manifest.
 */
export async function verifyModuleManifest(
	publicKey: string | Uint8Array,
	signed: SignedModuleManifest,
): Promise<boolean> {
	const key = await importVerifyKey(publicKey);
	const sig = fromBase64url(signed.signature.value);
	if (key === null || sig === null) return false;
	try {
		return await crypto.subtle.verify(ED25519, key, sig, moduleManifestBytes(signed.manifest));
	} catch {
		return false; // no canonical form, or a key of another kind: not a valid signature
	}
}

/**
 * The fingerprint people compare and pin: SHA-256 of the raw 32-byte public key as `AB:CD:…`
 * (the form of the TLS fingerprints). Throws a TypeError for anything that is not such a key.
 */
export async function moduleKeyFingerprint(publicKey: string | Uint8Array): Promise<string> {
	const raw = typeof publicKey === "string" ? fromBase64url(publicKey) : publicKey;
	if (raw === null || raw.length !== ED25519_PUBLIC_KEY_BYTES) {
		throw new TypeError("not an Ed25519 public key");
	}
	const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array(raw)));
	return Array.from(digest, (b) => b.toString(16).padStart(2, "0").toUpperCase()).join(":");
}

/** Raw public key bytes as base64url (the manifest's and the API's form). */
export function encodeModuleKey(raw: Uint8Array): string {
	return toBase64url(raw);
}

/**
 * Orders two {@link moduleVersionSchema} versions like SemVer 2.0.0 §11: numeric parts first, a
 * pre-release sorts before its release, pre-release identifiers compare numerically when both
 * are numbers, else as ASCII. Returns <0, 0 or >0. Throws a TypeError for a malformed version.
 */
export function compareModuleVersions(a: string, b: string): number {
	const parse = (v: string) => {
		if (!moduleVersionSchema.safeParse(v).success) throw new TypeError(`bad version ${v}`);
		const [core = "", pre] = v.split(/-(.*)/s, 2);
		return { nums: core.split(".").map(Number), pre: pre ? pre.split(".") : [] };
	};
	const x = parse(a);
	const y = parse(b);
	for (let i = 0; i < 3; i++) {
		const d = (x.nums[i] ?? 0) - (y.nums[i] ?? 0);
		if (d !== 0) return d;
	}
	if (x.pre.length === 0 || y.pre.length === 0) return y.pre.length - x.pre.length;
	for (let i = 0; i < Math.min(x.pre.length, y.pre.length); i++) {
		const p = x.pre[i] ?? "";
		const q = y.pre[i] ?? "";
		if (p === q) continue;
		const pn = /^\d+$/.test(p);
		const qn = /^\d+$/.test(q);
		if (pn && qn) return Number(p) - Number(q);
		if (pn !== qn) return pn ? -1 : 1;
		return p < q ? -1 : 1;
	}
	return x.pre.length - y.pre.length;
}
