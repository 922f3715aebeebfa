/**
 * The proof half of the audit protocol (docs/audit.md), shared by the server, which writes it,
 * and by every verifier, which needs nothing but this file and an export: the hash chain over
 * events, and the JWS (RFC 7515, compact, EdDSA) that signs checkpoints of it and export headers.
 * WebCrypto only, so the same code runs in workerd, Node and browsers.
 *
 * The server's Ed25519 key also signs access tokens. A JWS made here can never pass as a token
 * or the other way round: tokens carry `typ: "JWT"` and `aud`/`sub`/`exp`, which these payloads
 * lack, and the verifiers here accept only their own `typ` values.
 */
import * as z from "zod";
import { canonicalBytes, canonicalJson } from "./canonical.ts";
import { type Bytes, fromBase64url, toBase64url, utf8 } from "./encoding.ts";
import { ED25519, ED25519_PUBLIC_KEY_BYTES } from "./signature.ts";

/** The chain's starting value: the `prevHash` of the very first event. */
export const GENESIS_HASH = "0".repeat(64);

/** `typ` of a checkpoint JWS. */
export const CHECKPOINT_TYP = "fernwart-audit-checkpoint";
/** `typ` of an export header JWS. */
export const EXPORT_HEADER_TYP = "fernwart-audit-export";

/** An event as it is hashed: every column except seq, prevHash and hash; `ts` in ms. */
export interface ChainedEvent {
	id: string;
	ts: number;
	type: string;
	actor: string | null;
	subject: string | null;
	sessionId: string | null;
	hostId: string | null;
	ip: string | null;
	data: Record<string, unknown> | null;
}

/** The hashed part of an event, with exactly these keys, in the form verifiers recompute. */
export function eventContent(e: ChainedEvent): ChainedEvent {
	return {
		id: e.id,
		ts: e.ts,
		type: e.type,
		actor: e.actor,
		subject: e.subject,
		sessionId: e.sessionId,
		hostId: e.hostId,
		ip: e.ip,
		data: e.data,
	};
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** Lower-case hex of bytes. */
export function toHex(bytes: Uint8Array): string {
	let out = "";
	for (const b of bytes) out += HEX[b];
	return out;
}

/** SHA-256(prevHash ‖ canonical JSON of the event), lower-case hex. */
export async function chainHash(prevHash: string, content: unknown): Promise<string> {
	const bytes = utf8(prevHash + canonicalJson(content));
	return toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)));
}

// ---------------------------------------------------------------------------------------------
// Keys

/** A public Ed25519 JWK as the server publishes it. */
export const publicJwkSchema = z.object({
	kty: z.literal("OKP"),
	crv: z.literal("Ed25519"),
	x: z.string().refine((x) => fromBase64url(x)?.length === ED25519_PUBLIC_KEY_BYTES, {
		message: "x must be a 32-byte Ed25519 key, base64url",
	}),
	kid: z.string().min(1).max(128),
	alg: z.literal("EdDSA").optional(),
	use: z.literal("sig").optional(),
});
/** A public Ed25519 JWK with its key id. */
export type PublicJwk = z.infer<typeof publicJwkSchema>;

/**
 * RFC 7638 thumbprint of an Ed25519 JWK: the server's `kid` (server/keys.ts). A verifier that
 * checks `kid === thumbprint(key)` knows that a key id it was told names exactly one key.
 */
export async function jwkThumbprint(jwk: { crv: string; kty: string; x: string }): Promise<string> {
	const json = canonicalJson({ crv: jwk.crv, kty: jwk.kty, x: jwk.x });
	return toBase64url(new Uint8Array(await crypto.subtle.digest("SHA-256", utf8(json))));
}

/** Imports a public JWK for verification; null for anything that is not an Ed25519 key. */
export async function importPublicJwk(jwk: PublicJwk): Promise<CryptoKey | null> {
	try {
		return await crypto.subtle.importKey(
			"jwk",
			{ kty: jwk.kty, crv: jwk.crv, x: jwk.x },
			ED25519,
			true,
			["verify"],
		);
	} catch {
		return null; // not a point on the curve: the same answer as an unknown key
	}
}

/** The server's signing key: its id, the private key and the public JWK. */
export interface AuditSigner {
	kid: string;
	privateKey: CryptoKey;
	publicJwk: PublicJwk;
}

const signers = new Map<string, Promise<AuditSigner>>();

/**
 * Parses the `JWT_PRIVATE_KEY` binding (base64url of an Ed25519 private JWK with `kid`), once per
 * isolate. The same key signs access tokens (functions/lib/jwt.ts); the key file stays in the
 * data dir and reaches the worker only as this binding.
 */
export function loadAuditSigner(binding: string): Promise<AuditSigner> {
	let signer = signers.get(binding);
	if (!signer) {
		signer = (async () => {
			const bytes = fromBase64url(binding);
			const jwk = bytes
				? (JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>)
				: {};
			const { d, kid, crv, kty, x } = jwk;
			if (kty !== "OKP" || crv !== "Ed25519" || typeof d !== "string" || typeof x !== "string")
				throw new Error("JWT_PRIVATE_KEY is not an Ed25519 private JWK");
			if (typeof kid !== "string" || !kid) throw new Error("JWT_PRIVATE_KEY has no kid");
			const privateKey = await crypto.subtle.importKey("jwk", { kty, crv, x, d }, ED25519, false, [
				"sign",
			]);
			return { kid, privateKey, publicJwk: { kty, crv, x, kid, alg: "EdDSA", use: "sig" } };
		})();
		signers.set(binding, signer);
		// A bad binding must not stay cached as a rejected promise for the isolate's life.
		signer.catch(() => signers.delete(binding));
	}
	return signer;
}

// ---------------------------------------------------------------------------------------------
// JWS

/** Signs `payload` as a compact JWS with EdDSA; header and payload are canonical JSON. */
export async function signJws(
	signer: Pick<AuditSigner, "kid" | "privateKey">,
	typ: string,
	payload: unknown,
): Promise<string> {
	const header = toBase64url(canonicalBytes({ alg: "EdDSA", kid: signer.kid, typ }));
	const body = toBase64url(canonicalBytes(payload));
	const input = utf8(`${header}.${body}`);
	const signature = await crypto.subtle.sign(ED25519, signer.privateKey, input);
	return `${header}.${body}.${toBase64url(new Uint8Array(signature))}`;
}

export type JwsCheck = { ok: true; kid: string; payload: unknown } | { ok: false; reason: string };

function decodeJson(part: string): unknown {
	const bytes = fromBase64url(part);
	if (!bytes) return undefined;
	try {
		return JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes));
	} catch {
		return undefined;
	}
}

/**
 * Verifies a compact JWS of type `typ` against the keys by id. Only EdDSA and only the expected
 * `typ` are accepted, so neither an access token nor a JWS of the other kind ever passes.
 */
export async function verifyJws(
	jws: string,
	typ: string,
	keys: ReadonlyMap<string, CryptoKey>,
): Promise<JwsCheck> {
	const parts = jws.split(".");
	if (parts.length !== 3) return { ok: false, reason: "not a compact JWS" };
	const [h = "", p = "", s = ""] = parts;
	const header = decodeJson(h) as { alg?: unknown; kid?: unknown; typ?: unknown } | undefined;
	if (header?.alg !== "EdDSA" || header.typ !== typ || typeof header.kid !== "string")
		return { ok: false, reason: `not an EdDSA JWS of type ${typ}` };
	const key = keys.get(header.kid);
	if (!key) return { ok: false, reason: `signed with unknown key ${header.kid}` };
	const signature = fromBase64url(s);
	const payload = decodeJson(p);
	if (!signature || payload === undefined) return { ok: false, reason: "malformed JWS" };
	let valid = false;
	try {
		valid = await crypto.subtle.verify(ED25519, key, signature, utf8(`${h}.${p}`) as Bytes);
	} catch {
		valid = false; // e.g. a signature of the wrong length: the same as a wrong one
	}
	return valid
		? { ok: true, kid: header.kid, payload }
		: { ok: false, reason: `signature does not verify with key ${header.kid}` };
}

/** What a checkpoint signs: the chain head (seq and hash of the newest event) and the time. */
export const checkpointPayloadSchema = z.strictObject({
	v: z.literal(1),
	seq: z.int().min(1),
	hash: z.string().regex(/^[0-9a-f]{64}$/),
	signedAt: z.int().min(0),
});
export type CheckpointPayload = z.infer<typeof checkpointPayloadSchema>;

/** Signs a checkpoint of the chain head. */
export function signCheckpoint(
	signer: Pick<AuditSigner, "kid" | "privateKey">,
	head: { seq: number; hash: string },
	signedAt: number,
): Promise<string> {
	const payload: CheckpointPayload = { v: 1, seq: head.seq, hash: head.hash, signedAt };
	return signJws(signer, CHECKPOINT_TYP, payload);
}
