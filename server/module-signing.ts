import {
	createHash,
	createPrivateKey,
	createPublicKey,
	generateKeyPairSync,
	type KeyObject,
	sign,
} from "node:crypto";
import {
	createReadStream,
	existsSync,
	mkdirSync,
	readFileSync,
	renameSync,
	statSync,
	writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { toBase64url } from "../protocol/encoding.ts";
import {
	encodeModuleKey,
	type ModuleFile,
	type ModuleManifest,
	moduleKeyFingerprint,
	moduleManifestBytes,
	moduleManifestSchema,
	type SignedModuleManifest,
	signedModuleManifestSchema,
} from "../protocol/module-manifest.ts";
import { ConfigError } from "./config.ts";

/** The key made at first start when the admin supplies none (PKCS#8 PEM, mode 0600). */
export const MODULE_SIGNING_KEY_FILE = join("keys", "module-signing.pem");
/** The signed manifest `npm run build:modules` writes next to the files it lists. */
export const MANIFEST_FILE = "manifest.json";

/** The module-signing key: Ed25519 (RFC 8032). The private half never leaves the Node side. */
export interface ModuleSigningKey {
	privateKey: KeyObject;
	/** Raw 32-byte public key, base64url: what modules pin and the manifest names. */
	publicKey: string;
	/** SHA-256 of the raw public key, `AB:CD:…` (protocol/module-manifest.ts). */
	fingerprint: string;
	/** Where it came from: the admin's file, or the one made in the data dir. */
	source: "admin" | "data-dir";
}

function fromPrivateKey(privateKey: KeyObject, source: ModuleSigningKey["source"]) {
	const jwk = createPublicKey(privateKey).export({ format: "jwk" });
	const raw = Buffer.from(String(jwk.x), "base64url");
	return { privateKey, publicKey: encodeModuleKey(raw), raw, source };
}

/**
 * Loads the module-signing key: the admin's file from `MODULE_SIGNING_KEY` (a PKCS#8 PEM or a
 * private JWK, Ed25519 only), or DATA_DIR/keys/module-signing.pem, made on first start with mode
 * 0600. Throws a {@link ConfigError} naming `MODULE_SIGNING_KEY` for an unreadable file or a key
 * of another kind; the message never contains key material.
 */
export async function ensureModuleSigningKey(config: {
	dataDir: string;
	moduleSigningKeyPath?: string | undefined;
}): Promise<ModuleSigningKey> {
	let loaded: ReturnType<typeof fromPrivateKey>;
	if (config.moduleSigningKeyPath) {
		let privateKey: KeyObject;
		try {
			const text = readFileSync(config.moduleSigningKeyPath, "utf8");
			privateKey = text.trimStart().startsWith("{")
				? createPrivateKey({ key: JSON.parse(text), format: "jwk" })
				: createPrivateKey(text);
		} catch {
			throw new ConfigError(
				"MODULE_SIGNING_KEY",
				`${config.moduleSigningKeyPath} is not a readable PEM or JWK private key`,
			);
		}
		if (privateKey.asymmetricKeyType !== "ed25519") {
			throw new ConfigError("MODULE_SIGNING_KEY", "the module-signing key must be Ed25519");
		}
		loaded = fromPrivateKey(privateKey, "admin");
	} else {
		const path = join(config.dataDir, MODULE_SIGNING_KEY_FILE);
		if (!existsSync(path)) {
			const { privateKey } = generateKeyPairSync("ed25519");
			mkdirSync(join(config.dataDir, "keys"), { recursive: true, mode: 0o700 });
			const tmp = `${path}.${process.pid}.tmp`;
			writeFileSync(tmp, privateKey.export({ format: "pem", type: "pkcs8" }), { mode: 0o600 });
			// A rename, so that a crash never leaves half a key that a later start would refuse.
			renameSync(tmp, path);
		}
		let privateKey: KeyObject;
		try {
			privateKey = createPrivateKey(readFileSync(path, "utf8"));
		} catch {
			throw new ConfigError("MODULE_SIGNING_KEY", `${path} is damaged; restore it from a backup`);
		}
		if (privateKey.asymmetricKeyType !== "ed25519") {
			throw new ConfigError("MODULE_SIGNING_KEY", `${path} is not an Ed25519 key`);
		}
		loaded = fromPrivateKey(privateKey, "data-dir");
	}
	return {
		privateKey: loaded.privateKey,
		publicKey: loaded.publicKey,
		fingerprint: await moduleKeyFingerprint(loaded.raw),
		source: loaded.source,
	};
}

/** Signs a manifest (Ed25519 over {@link moduleManifestBytes}); the result is what is served. */
export function signModuleManifest(
	manifest: ModuleManifest,
	key: Pick<ModuleSigningKey, "privateKey" | "publicKey">,
): SignedModuleManifest {
	const checked = moduleManifestSchema.parse(manifest);
	const value = sign(null, moduleManifestBytes(checked), key.privateKey);
	return {
		manifest: checked,
		signature: { alg: "Ed25519", publicKey: key.publicKey, value: toBase64url(value) },
	};
}

/** SHA-256 (lowercase hex) and size in bytes of a file, read as a stream. */
export async function hashFile(path: string): Promise<{ sha256: string; size: number }> {
	const hash = createHash("sha256");
	await pipeline(createReadStream(path), hash);
	return { sha256: hash.digest("hex"), size: statSync(path).size };
}

/**
 * Hashes the files in `dir`, signs the manifest and writes it as `dir/manifest.json` (through a
 * rename, so the server never serves half a file). Every file must already be final: an
 * Authenticode signature added later would change its hash.
 */
export async function writeSignedManifest(
	dir: string,
	input: {
		version: string;
		files: Pick<ModuleFile, "name" | "platform" | "arch">[];
		createdAt?: Date;
	},
	key: Pick<ModuleSigningKey, "privateKey" | "publicKey">,
): Promise<SignedModuleManifest> {
	const files: ModuleFile[] = [];
	for (const f of input.files) files.push({ ...f, ...(await hashFile(join(dir, f.name))) });
	const signed = signModuleManifest(
		{
			name: "fernwart",
			version: input.version,
			createdAt: (input.createdAt ?? new Date()).toISOString(),
			files,
		},
		key,
	);
	const path = join(dir, MANIFEST_FILE);
	const tmp = `${path}.${process.pid}.tmp`;
	writeFileSync(tmp, `${JSON.stringify(signed, null, "\t")}\n`, { mode: 0o644 });
	renameSync(tmp, path);
	return signed;
}

/**
 * Reads `dir/manifest.json` as it is on disk: null when there is none, the document when it has
 * the shape of one. The signature is not checked here; the modules check it with the key they
 * pinned, so a manifest changed on disk is refused where it matters.
 *
 * @throws TypeError when the file exists but is not a signed manifest (not JSON, wrong shape).
 */
export function readSignedManifest(dir: string): SignedModuleManifest | null {
	let text: string;
	try {
		text = readFileSync(join(dir, MANIFEST_FILE), "utf8");
	} catch (err) {
		if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
		throw new TypeError(`${MANIFEST_FILE} cannot be read (${(err as NodeJS.ErrnoException).code})`);
	}
	let json: unknown = null;
	try {
		json = JSON.parse(text);
	} catch {
		// refused below like any other shape
	}
	const parsed = signedModuleManifestSchema.safeParse(json);
	if (!parsed.success) throw new TypeError(`${MANIFEST_FILE} is not a signed module manifest`);
	return parsed.data;
}
