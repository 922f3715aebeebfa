import { createHash, generateKeyPairSync } from "node:crypto";
import { mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
	compareModuleVersions,
	MODULE_MANIFEST_LABEL,
	type ModuleManifest,
	moduleKeyFingerprint,
	moduleManifestBytes,
	signedModuleManifestSchema,
	verifyModuleManifest,
} from "../../protocol/module-manifest.ts";
import { ConfigError } from "../../server/config.ts";
import {
	ensureModuleSigningKey,
	MODULE_SIGNING_KEY_FILE,
	signModuleManifest,
} from "../../server/module-signing.ts";

function newKey() {
	const { privateKey, publicKey } = generateKeyPairSync("ed25519");
	const raw = Buffer.from(String(publicKey.export({ format: "jwk" }).x), "base64url");
	return { privateKey, publicKey: raw.toString("base64url"), raw };
}

const manifest: ModuleManifest = {
	name: "fernwart",
	version: "1.2.3",
	createdAt: "2026-11-30T12:00:00.000Z",
	files: [
		{
			name: "fernwart-linux-x64",
			platform: "linux",
			arch: "x64",
			size: 10,
			sha256: "a".repeat(64),
		},
	],
};

describe("module manifest", () => {
	it("signs the label and the canonical JSON, so key order does not matter", async () => {
		const key = newKey();
		const signed = signModuleManifest(manifest, key);
		const text = new TextDecoder().decode(moduleManifestBytes(manifest));
		expect(text.startsWith(MODULE_MANIFEST_LABEL)).toBe(true);
		expect(text.slice(MODULE_MANIFEST_LABEL.length)).toBe(
			'{"createdAt":"2026-11-30T12:00:00.000Z","files":[{"arch":"x64","name":"fernwart-linux-x64","platform":"linux","sha256":"' +
				"a".repeat(64) +
				'","size":10}],"name":"fernwart","version":"1.2.3"}',
		);
		// The same document with its keys in another order, as a different JSON writer might send it.
		const reordered = signedModuleManifestSchema.parse(
			JSON.parse(
				JSON.stringify({
					signature: signed.signature,
					manifest: { ...manifest, version: "1.2.3" },
				}),
			),
		);
		expect(await verifyModuleManifest(key.publicKey, reordered)).toBe(true);
	});

	it("verifies only with the signer's key and only the signed content", async () => {
		const key = newKey();
		const signed = signModuleManifest(manifest, key);
		expect(await verifyModuleManifest(key.raw, signed)).toBe(true);
		expect(await verifyModuleManifest(newKey().publicKey, signed)).toBe(false);
		const changed = { ...signed, manifest: { ...signed.manifest, version: "1.2.4" } };
		expect(await verifyModuleManifest(key.publicKey, changed)).toBe(false);
		expect(await verifyModuleManifest("not a key", signed)).toBe(false);
	});

	it("refuses unknown fields, paths as file names and malformed versions", () => {
		const key = newKey();
		const signed = signModuleManifest(manifest, key);
		const parse = (m: unknown) =>
			signedModuleManifestSchema.safeParse({ ...signed, manifest: m }).success;
		expect(parse({ ...manifest, extra: 1 })).toBe(false);
		expect(parse({ ...manifest, files: [{ ...manifest.files[0], name: "../etc/passwd" }] })).toBe(
			false,
		);
		expect(parse({ ...manifest, files: [{ ...manifest.files[0], name: ".hidden" }] })).toBe(false);
		expect(parse({ ...manifest, version: "1.2" })).toBe(false);
	});

	it("fingerprints the raw public key as SHA-256 in AB:CD:… form", async () => {
		const key = newKey();
		const hex = createHash("sha256").update(key.raw).digest("hex").toUpperCase();
		expect(await moduleKeyFingerprint(key.publicKey)).toBe(hex.match(/../g)?.join(":"));
		await expect(moduleKeyFingerprint("AAAA")).rejects.toThrow(TypeError);
	});

	it("orders versions like SemVer 2.0.0 §11", () => {
		const ordered = [
			"0.9.9",
			"1.0.0-alpha",
			"1.0.0-alpha.1",
			"1.0.0-alpha.beta",
			"1.0.0-beta.2",
			"1.0.0-beta.11",
			"1.0.0-rc.1",
			"1.0.0",
			"1.0.1",
			"1.10.0",
			"10.0.0",
		];
		for (let i = 0; i < ordered.length - 1; i++) {
			const a = ordered[i] as string;
			const b = ordered[i + 1] as string;
			expect(compareModuleVersions(a, b), `${a} < ${b}`).toBeLessThan(0);
			expect(compareModuleVersions(b, a), `${b} > ${a}`).toBeGreaterThan(0);
		}
		expect(compareModuleVersions("1.2.3", "1.2.3")).toBe(0);
		expect(() => compareModuleVersions("1.2", "1.2.3")).toThrow(TypeError);
	});
});

describe("module-signing key", () => {
	it("is made once in the data dir with mode 0600 and loaded again unchanged", async () => {
		const dataDir = mkdtempSync(join(tmpdir(), "fernwart-modkey-"));
		const first = await ensureModuleSigningKey({ dataDir });
		expect(first.source).toBe("data-dir");
		expect(statSync(join(dataDir, MODULE_SIGNING_KEY_FILE)).mode & 0o777).toBe(0o600);
		const again = await ensureModuleSigningKey({ dataDir });
		expect(again.publicKey).toBe(first.publicKey);
		expect(again.fingerprint).toBe(await moduleKeyFingerprint(first.publicKey));
	});

	it("takes the admin's Ed25519 key as PEM or JWK and refuses any other kind", async () => {
		const dir = mkdtempSync(join(tmpdir(), "fernwart-modkey-"));
		const { privateKey, publicKey } = generateKeyPairSync("ed25519");
		const raw = Buffer.from(String(publicKey.export({ format: "jwk" }).x), "base64url");
		writeFileSync(join(dir, "key.pem"), privateKey.export({ format: "pem", type: "pkcs8" }));
		writeFileSync(join(dir, "key.jwk"), JSON.stringify(privateKey.export({ format: "jwk" })));
		for (const name of ["key.pem", "key.jwk"]) {
			const key = await ensureModuleSigningKey({
				dataDir: dir,
				moduleSigningKeyPath: join(dir, name),
			});
			expect(key.source).toBe("admin");
			expect(key.publicKey).toBe(raw.toString("base64url"));
		}
		const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey;
		writeFileSync(join(dir, "rsa.pem"), rsa.export({ format: "pem", type: "pkcs8" }));
		const refused = await ensureModuleSigningKey({
			dataDir: dir,
			moduleSigningKeyPath: join(dir, "rsa.pem"),
		}).catch((e: unknown) => e);
		expect(refused).toBeInstanceOf(ConfigError);
		expect((refused as ConfigError).variable).toBe("MODULE_SIGNING_KEY");
		const missing = await ensureModuleSigningKey({
			dataDir: dir,
			moduleSigningKeyPath: join(dir, "nowhere.pem"),
		}).catch((e: unknown) => e);
		expect((missing as ConfigError).variable).toBe("MODULE_SIGNING_KEY");
	});
});
