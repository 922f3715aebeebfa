import { createHash, generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * The login secrets, made on first start and kept in the data dir (mode 0600), never in the
 * database: the Ed25519 key that signs access tokens and the key that seals TOTP secrets at rest.
 * The worker has no file system, so the launcher hands both to it as secret bindings; for plain
 * workerd the same file is a systemd EnvironmentFile whose variables the capnp config reads.
 */
export interface AuthKeys {
	/** base64url of the private JWK's JSON (kty OKP, crv Ed25519, with kid). */
	jwtPrivateKey: string;
	/** 32 random bytes, base64url. */
	sealKey: string;
}

export const AUTH_KEYS_FILE = join("keys", "auth.env");
const JWT_VAR = "FERNWART_JWT_KEY";
const SEAL_VAR = "FERNWART_SEAL_KEY";

/** RFC 7638 thumbprint, so the `kid` names the key and changes when the key does. */
function thumbprint(jwk: { crv: string; kty: string; x: string }): string {
	const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x });
	return createHash("sha256").update(canonical).digest("base64url");
}

function newJwtKey(): string {
	const { privateKey } = generateKeyPairSync("ed25519");
	const jwk = privateKey.export({ format: "jwk" }) as { crv: string; kty: string; x: string };
	const full = { ...jwk, kid: thumbprint(jwk), alg: "EdDSA" };
	return Buffer.from(JSON.stringify(full)).toString("base64url");
}

function read(path: string): Partial<AuthKeys> {
	if (!existsSync(path)) return {};
	const text = readFileSync(path, "utf8");
	const jwt = new RegExp(`^${JWT_VAR}=([A-Za-z0-9_-]+)$`, "m").exec(text)?.[1];
	const seal = new RegExp(`^${SEAL_VAR}=([A-Za-z0-9_-]{43})$`, "m").exec(text)?.[1];
	return { jwtPrivateKey: jwt, sealKey: seal };
}

/**
 * Loads the keys, creating whichever is missing. Losing the seal key turns every TOTP off in
 * effect (no code verifies); losing the JWT key only ends current access tokens.
 */
export function ensureAuthKeys(dataDir: string): AuthKeys {
	const path = join(dataDir, AUTH_KEYS_FILE);
	const found = read(path);
	if (found.jwtPrivateKey && found.sealKey) {
		return { jwtPrivateKey: found.jwtPrivateKey, sealKey: found.sealKey };
	}
	const keys: AuthKeys = {
		jwtPrivateKey: found.jwtPrivateKey ?? newJwtKey(),
		sealKey: found.sealKey ?? randomBytes(32).toString("base64url"),
	};
	mkdirSync(join(dataDir, "keys"), { recursive: true, mode: 0o700 });
	writeFileSync(path, `${JWT_VAR}=${keys.jwtPrivateKey}\n${SEAL_VAR}=${keys.sealKey}\n`, {
		mode: 0o600,
	});
	return keys;
}
