/**
 * Signed module downloads against the real server (docs/modules.md §9): the key made at first
 * start, `/download` and its manifest, the file streamed from MODULES_DIR, and the module's
 * `update` refusing a tampered manifest, a tampered download, another key and a downgrade, and
 * replacing a (fixture) executable when everything checks out.
 */
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import {
	existsSync,
	mkdtempSync,
	readdirSync,
	readFileSync,
	rmSync,
	statSync,
	writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { PAGE_CSP } from "../../functions/web/layout.ts";
import { Output } from "../../modules/cli/common.ts";
import { createTrustedTransport, type TrustedTransport } from "../../modules/cli/tls.ts";
import { runUpdate, UpdateError, type UpdateOptions } from "../../modules/cli/update.ts";
import {
	moduleKeyFingerprint,
	signedModuleManifestSchema,
	verifyModuleManifest,
} from "../../protocol/module-manifest.ts";
import {
	ensureModuleSigningKey,
	MODULE_SIGNING_KEY_FILE,
	type ModuleSigningKey,
	writeSignedManifest,
} from "../../server/module-signing.ts";
import { makeDataDir, ROOT, startServer, type TestServer } from "../helpers/server.ts";

const LINUX = { name: "fernwart-linux-x64", platform: "linux", arch: "x64" } as const;
const WINDOWS = { name: "fernwart-win-x64.exe", platform: "win32", arch: "x64" } as const;

let server: TestServer;
let key: ModuleSigningKey;
let modulesDir: string;
let work: string;
/** The bytes of the "new" Linux module the server offers. */
let newModule: Buffer;
const transports: TrustedTransport[] = [];

/** Writes the two module files and a manifest signed with `signer` (default: the server's key). */
async function publish(version: string, signer: ModuleSigningKey = key): Promise<void> {
	writeFileSync(join(modulesDir, LINUX.name), newModule);
	writeFileSync(join(modulesDir, WINDOWS.name), randomBytes(4096));
	await writeSignedManifest(modulesDir, { version, files: [LINUX, WINDOWS] }, signer);
}

/** A module's view of the server: pinned TLS, its own key file, an old executable to replace. */
function moduleSide(overrides: Partial<UpdateOptions> = {}) {
	const dir = mkdtempSync(join(work, "module-"));
	const target = join(dir, "fernwart");
	writeFileSync(target, "old executable", { mode: 0o755 });
	const transport = createTrustedTransport({
		url: server.url,
		ca: server.ca,
		trustFile: join(dir, "known-servers.json"),
	});
	transports.push(transport);
	const lines: string[] = [];
	const options: UpdateOptions = {
		transport,
		current: { version: "0.1.0", moduleKey: null },
		keyFile: join(dir, "module-keys.json"),
		target,
		platform: "linux",
		arch: "x64",
		out: new Output(true, (text) => lines.push(text)),
		...overrides,
	};
	return { dir, target, options, lines };
}

async function refusal(options: UpdateOptions): Promise<UpdateError> {
	const err = await runUpdate(options).then(
		() => null,
		(e: unknown) => e,
	);
	expect(err).toBeInstanceOf(UpdateError);
	return err as UpdateError;
}

beforeAll(async () => {
	work = mkdtempSync(join(tmpdir(), "fernwart-modules-"));
	modulesDir = join(work, "modules");
	const dataDir = makeDataDir();
	server = await startServer({ dataDir, env: { MODULES_DIR: modulesDir } });
	// The key the server made at its first start, read the way build:modules reads it.
	key = await ensureModuleSigningKey({ dataDir });
	newModule = Buffer.concat([Buffer.from("#!/bin/sh\necho new module\n"), randomBytes(200_000)]);
	await import("node:fs").then((fs) => fs.mkdirSync(modulesDir, { recursive: true }));
	await publish("9.9.9");
});

afterAll(async () => {
	for (const t of transports) await t.close();
	await server?.stop();
	rmSync(server.dataDir, { recursive: true, force: true });
	rmSync(work, { recursive: true, force: true });
});

describe("module-signing key", () => {
	it("is made at first start in the data dir, private, and offered with its fingerprint", async () => {
		const path = join(server.dataDir, MODULE_SIGNING_KEY_FILE);
		expect(statSync(path).mode & 0o777).toBe(0o600);
		expect(server.output()).toContain(`module-signing key fingerprint: ${key.fingerprint}`);
		const res = await server.json<{ publicKey: string; fingerprint: string }>(
			"/api/v1/modules/key",
		);
		expect(res.status).toBe(200);
		expect(res.body).toEqual({ publicKey: key.publicKey, fingerprint: key.fingerprint });
		expect(await moduleKeyFingerprint(res.body.publicKey)).toBe(key.fingerprint);
	});
});

describe("/download", () => {
	it("serves the manifest, and its signature verifies with the server's key", async () => {
		await publish("9.9.9");
		const res = await server.json("/download/manifest.json");
		expect(res.status).toBe(200);
		const signed = signedModuleManifestSchema.parse(res.body);
		expect(signed.manifest.version).toBe("9.9.9");
		expect(await verifyModuleManifest(key.publicKey, signed)).toBe(true);
		expect(signed.manifest.files.map((f) => f.name)).toEqual([LINUX.name, WINDOWS.name]);
	});

	it("streams a listed file with its length and SHA-256 ETag, and 304 when unchanged", async () => {
		await publish("9.9.9");
		const res = await server.fetch(`/download/files/${LINUX.name}`);
		expect(res.status).toBe(200);
		expect(res.headers.get("content-length")).toBe(String(newModule.length));
		const sha256 = createHash("sha256").update(newModule).digest("hex");
		expect(res.headers.get("etag")).toBe(`"${sha256}"`);
		const body = Buffer.from(await res.arrayBuffer());
		expect(body.equals(newModule)).toBe(true);
		const again = await server.fetch(`/download/files/${LINUX.name}`, {
			headers: { "if-none-match": `"${sha256}"` },
		});
		expect(again.status).toBe(304);
		expect((await server.json("/download/files/manifest.json")).status).toBe(404);
		expect((await server.json("/download/files/..%2Fmanifest.json")).status).toBe(400);
	});

	it("is a page in English and German with the files, their hashes and the key's fingerprint", async () => {
		await publish("9.9.9");
		const en = await server.fetch("/download?lang=en");
		expect(en.status).toBe(200);
		expect(en.headers.get("content-security-policy")).toBe(PAGE_CSP);
		const enText = await en.text();
		expect(enText).toContain("Download the module");
		expect(enText).toContain(key.fingerprint);
		expect(enText).toContain(LINUX.name);
		expect(enText).toContain(createHash("sha256").update(newModule).digest("hex"));
		const de = await server.fetch("/download?lang=de");
		const deText = await de.text();
		expect(de.headers.get("content-language")).toBe("de");
		expect(deText).toContain("Modul herunterladen");
		expect(deText).toContain("Modul-Signaturschlüssel");
		expect(deText).toContain(key.fingerprint);
	});
});

describe("/download without usable modules", () => {
	it("says so on the page and the manifest, and logs a manifest that is not one", async () => {
		rmSync(join(modulesDir, "manifest.json"));
		const none = await server.json<{ error: { code: string } }>("/download/manifest.json");
		expect(none.status).toBe(404);
		expect(none.body.error.code).toBe("NO_MODULES");
		expect(await (await server.fetch("/download?lang=en")).text()).toContain('id="download-none"');
		expect((await server.json(`/download/files/${LINUX.name}`)).status).toBe(404);

		writeFileSync(join(modulesDir, "manifest.json"), "{ not json");
		const bad = await server.json<{ error: { code: string } }>("/download/manifest.json");
		expect(bad.status).toBe(503);
		expect(bad.body.error.code).toBe("MODULES_UNAVAILABLE");
		// The launcher's log line reaches this process through a pipe, maybe after the answer.
		await vi.waitFor(
			() => expect(server.output()).toContain("manifest.json is not a signed module manifest"),
			{ timeout: 10_000, interval: 50 },
		);
		await publish("9.9.9");
	});
});

describe("fernwart update", () => {
	it("replaces the executable after checking signature, version, size and hash", async () => {
		await publish("9.9.9");
		const side = moduleSide();
		const result = await runUpdate(side.options);
		expect(result.status).toBe("replaced");
		expect(readFileSync(side.target).equals(newModule)).toBe(true);
		expect(statSync(side.target).mode & 0o777).toBe(0o755);
		expect(readFileSync(`${side.target}.old`, "utf8")).toBe("old executable");
		// The key was pinned on this first contact.
		const pins = JSON.parse(readFileSync(side.options.keyFile, "utf8"));
		expect(pins.servers[server.url.origin].publicKey).toBe(key.publicKey);
		expect(side.lines.some((l) => l.includes('"event":"key.pinned"'))).toBe(true);
	});

	it("refuses a manifest changed after signing, and leaves the executable alone", async () => {
		await publish("9.9.9");
		const side = moduleSide();
		const path = join(modulesDir, "manifest.json");
		const doc = JSON.parse(readFileSync(path, "utf8"));
		doc.manifest.files[0].sha256 = "0".repeat(64); // e.g. to slip in another file
		writeFileSync(path, JSON.stringify(doc));
		const err = await refusal(side.options);
		expect(err.code).toBe("MANIFEST_SIGNATURE_INVALID");
		expect(readFileSync(side.target, "utf8")).toBe("old executable");
		expect(existsSync(`${side.target}.old`)).toBe(false);
	});

	it("refuses a download whose bytes differ from the signed hash, leaving no file behind", async () => {
		await publish("9.9.9");
		const side = moduleSide();
		const tampered = Buffer.from(newModule);
		tampered[100] = (tampered[100] ?? 0) ^ 0xff;
		writeFileSync(join(modulesDir, LINUX.name), tampered);
		const err = await refusal(side.options);
		expect(err.code).toBe("DOWNLOAD_HASH_MISMATCH");
		expect(readFileSync(side.target, "utf8")).toBe("old executable");
		expect(readdirSync(side.dir).filter((n) => n.includes("update"))).toEqual([]);
	});

	it("refuses a download longer than the signed size", async () => {
		await publish("9.9.9");
		const side = moduleSide();
		writeFileSync(join(modulesDir, LINUX.name), Buffer.concat([newModule, Buffer.from("x")]));
		const err = await refusal(side.options);
		expect(err.code).toBe("DOWNLOAD_SIZE_MISMATCH");
		expect(readFileSync(side.target, "utf8")).toBe("old executable");
	});

	it("refuses a manifest signed by another key than the pinned one, naming the re-pin step", async () => {
		const other = await ensureModuleSigningKey({ dataDir: mkdtempSync(join(work, "other-")) });
		await publish("9.9.9", other);
		// Pinned as built into a packaged module.
		const side = moduleSide({ current: { version: "0.1.0", moduleKey: key.publicKey } });
		const err = await refusal(side.options);
		expect(err.code).toBe("MODULE_KEY_CHANGED");
		expect(err.message).toContain(other.fingerprint);
		expect(err.message).toContain("--module-key");
		expect(readFileSync(side.target, "utf8")).toBe("old executable");
	});

	it("refuses a downgrade, even when everything is signed", async () => {
		await publish("0.0.9");
		const side = moduleSide();
		const err = await refusal(side.options);
		expect(err.code).toBe("DOWNGRADE_REFUSED");
		expect(readFileSync(side.target, "utf8")).toBe("old executable");
	});

	it("pins with --module-key only the key whose fingerprint was given", async () => {
		await publish("9.9.9");
		const wrong = moduleSide({ moduleKeyFingerprint: "AB".repeat(32) });
		expect((await refusal(wrong.options)).code).toBe("MODULE_KEY_MISMATCH");
		expect(existsSync(wrong.options.keyFile)).toBe(false);
		const right = moduleSide({
			moduleKeyFingerprint: key.fingerprint.toLowerCase(),
			checkOnly: true,
		});
		const result = await runUpdate(right.options);
		expect(result.status).toBe("available");
		const pins = JSON.parse(readFileSync(right.options.keyFile, "utf8"));
		expect(pins.servers[server.url.origin].fingerprint).toBe(key.fingerprint);
	});

	it("as a command: exit 1 and the error code for a tampered manifest", async () => {
		await publish("9.9.9");
		const path = join(modulesDir, "manifest.json");
		const doc = JSON.parse(readFileSync(path, "utf8"));
		doc.manifest.version = "9.9.10";
		writeFileSync(path, JSON.stringify(doc));
		const dir = mkdtempSync(join(work, "cli-"));
		writeFileSync(join(dir, "ca.pem"), server.ca);
		writeFileSync(join(dir, "fernwart"), "old executable");
		const child = spawn(
			process.execPath,
			[
				// The entry the packaged executable runs (build:modules bundles it).
				join(ROOT, "modules/cli/main.ts"),
				"update",
				"--url",
				server.url.origin,
				"--ca",
				join(dir, "ca.pem"),
				"--trust-file",
				join(dir, "known-servers.json"),
				"--module-key-file",
				join(dir, "module-keys.json"),
				"--target",
				join(dir, "fernwart"),
				"--json",
			],
			{ cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
		);
		let stdout = "";
		let stderr = "";
		child.stdout.on("data", (d) => {
			stdout += d;
		});
		child.stderr.on("data", (d) => {
			stderr += d;
		});
		const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
		expect(code).toBe(1);
		expect(stdout).toContain('"code":"MANIFEST_SIGNATURE_INVALID"');
		expect(stderr).toContain("MANIFEST_SIGNATURE_INVALID");
		expect(readFileSync(join(dir, "fernwart"), "utf8")).toBe("old executable");
	});
});
