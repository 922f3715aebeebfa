import { importJWK, type JWK, jwtVerify, SignJWT } from "jose";
import { fromBase64Url } from "./encoding.ts";

/**
 * Access tokens: EdDSA (Ed25519) JWTs signed with the server's key. The Node launcher creates
 * the key pair in the data dir and hands the private JWK to the worker as a secret binding
 * (`JWT_PRIVATE_KEY`, base64url of the JSON); the public half is served at /.well-known/jwks.json.
 */
export const ISSUER = "fernwart";
export const ACCESS_TOKEN_SECONDS = 15 * 60;
/** Audiences: one per use, so a token for one purpose is refused everywhere else. */
export const AUDIENCES = {
	/** The HTTP API, for a logged-in user. */
	api: "api",
	/** A user who must enrol TOTP before anything else (admin requires it for everyone). */
	totpEnrol: "totp-enrol",
	/** The admin CLI on the server machine, minted with the key from the data dir. */
	adminCli: "admin-cli",
	/** A single-use WebSocket ticket (lib/tickets.ts); never accepted by the HTTP API. */
	wsTicket: "ws-ticket",
} as const;
export type Audience = (typeof AUDIENCES)[keyof typeof AUDIENCES];

interface KeySet {
	kid: string;
	privateKey: CryptoKey;
	publicKey: CryptoKey;
	publicJwk: JWK;
}

const cache = new Map<string, Promise<KeySet>>();

/** Parses the binding's JWK once per isolate. */
export function loadKeys(binding: string): Promise<KeySet> {
	let keys = cache.get(binding);
	if (!keys) {
		keys = (async () => {
			const jwk = JSON.parse(new TextDecoder().decode(fromBase64Url(binding))) as JWK;
			if (jwk.kty !== "OKP" || jwk.crv !== "Ed25519" || !jwk.d || !jwk.kid) {
				throw new Error("JWT_PRIVATE_KEY is not an Ed25519 private JWK with a kid");
			}
			const { d: _d, ...pub } = jwk;
			const publicJwk: JWK = { ...pub, alg: "EdDSA", use: "sig" };
			return {
				kid: jwk.kid,
				privateKey: (await importJWK({ ...jwk, alg: "EdDSA" }, "EdDSA")) as CryptoKey,
				publicKey: (await importJWK(publicJwk, "EdDSA")) as CryptoKey,
				publicJwk,
			};
		})();
		cache.set(binding, keys);
	}
	return keys;
}

export interface TokenClaims {
	sub: string;
	role?: string;
	/** The user's token version at issue (schema/users.ts `tokenVersion`); users' tokens only. */
	tv?: number;
}

/** Signs a token for one audience. */
export async function signToken(
	binding: string,
	claims: TokenClaims,
	audience: Audience,
	seconds = ACCESS_TOKEN_SECONDS,
): Promise<string> {
	const keys = await loadKeys(binding);
	return new SignJWT({
		...(claims.role ? { role: claims.role } : {}),
		...(claims.tv !== undefined ? { tv: claims.tv } : {}),
	})
		.setProtectedHeader({ alg: "EdDSA", kid: keys.kid, typ: "JWT" })
		.setIssuer(ISSUER)
		.setSubject(claims.sub)
		.setAudience(audience)
		.setIssuedAt()
		.setExpirationTime(Math.floor(Date.now() / 1000) + seconds)
		.setJti(crypto.randomUUID())
		.sign(keys.privateKey);
}

/** Verifies signature, issuer, audience and expiry; null for anything wrong. */
export async function verifyToken(
	binding: string,
	token: string,
	audiences: readonly Audience[],
): Promise<{ sub: string; aud: Audience; role?: string; tv: number } | null> {
	const keys = await loadKeys(binding);
	try {
		const { payload } = await jwtVerify(token, keys.publicKey, {
			issuer: ISSUER,
			audience: [...audiences],
			algorithms: ["EdDSA"],
			// Tokens are short-lived; a little skew between the CLI host and the server is fine.
			clockTolerance: 5,
		});
		const aud = Array.isArray(payload.aud) ? payload.aud[0] : payload.aud;
		if (!payload.sub || !audiences.includes(aud as Audience)) return null;
		return {
			sub: payload.sub,
			aud: aud as Audience,
			...(typeof payload.role === "string" ? { role: payload.role } : {}),
			// Tokens from before versions existed count as version 0, which every user starts at.
			tv: Number.isSafeInteger(payload.tv) ? (payload.tv as number) : 0,
		};
	} catch {
		// Expired, forged or malformed: all the same to the caller, who answers UNAUTHENTICATED.
		return null;
	}
}

/** The public JWKS. */
export async function publicJwks(binding: string): Promise<{ keys: JWK[] }> {
	return { keys: [(await loadKeys(binding)).publicJwk] };
}
