/**
 * `fernwart update`: the module replaces itself with a newer build from its server, only after
 * checking (docs/modules.md §9):
 *
 * 1. the manifest's Ed25519 signature with the module-signing key this module PINNED — built into
 *    the executable, pinned per server in the module-key file at the first update (over the TLS
 *    connection the server pin verified), or given with `--module-key FINGERPRINT`;
 * 2. that the manifest's version is newer (no downgrade, ever);
 * 3. the downloaded file's size and SHA-256 against the signed manifest, before it is used.
 *
 * The new file is written next to the executable and renamed over it (atomic on one file
 * system); the previous one stays as `<name>.old`. Only a single executable application replaces
 * itself; run from source, the command says what it would do (or replaces `--target FILE`).
 */
import { createHash } from "node:crypto";
import {
	chmodSync,
	closeSync,
	existsSync,
	mkdirSync,
	openSync,
	readFileSync,
	renameSync,
	rmSync,
	writeSync,
} from "node:fs";
import { homedir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import * as z from "zod";
import {
	compareModuleVersions,
	type ModuleFile,
	moduleKeyFingerprint,
	type SignedModuleManifest,
	signedModuleManifestSchema,
	verifyModuleManifest,
} from "../../protocol/module-manifest.ts";
import { buildInfo } from "./build-info.ts";
import {
	CliError,
	CONNECTION_OPTIONS,
	CONNECTION_USAGE,
	explain,
	Output,
	openTransport,
	parseCommand,
} from "./common.ts";
import { normalizeFingerprint, TrustError, type TrustedTransport } from "./tls.ts";

/** Stable codes of the update's refusals (`error` events, and the start of each message). */
export const UPDATE_ERRORS = [
	"NO_MODULES",
	"BAD_MANIFEST",
	"MODULE_KEY_MISMATCH",
	"MODULE_KEY_CHANGED",
	"MANIFEST_SIGNATURE_INVALID",
	"NO_FILE_FOR_PLATFORM",
	"DOWNGRADE_REFUSED",
	"DOWNLOAD_FAILED",
	"DOWNLOAD_SIZE_MISMATCH",
	"DOWNLOAD_HASH_MISMATCH",
	"REPLACE_FAILED",
	"MODULE_KEY_FILE_DAMAGED",
] as const;
export type UpdateErrorCode = (typeof UPDATE_ERRORS)[number];

/** A refused update; `code` is one of {@link UPDATE_ERRORS}. Exit code 1. */
export class UpdateError extends CliError {
	override name = "UpdateError";
	readonly code: UpdateErrorCode;
	constructor(code: UpdateErrorCode, message: string) {
		super(`${code}: ${message}`, 1);
		this.code = code;
	}
}

const USAGE = `Usage: fernwart update [options]

Updates this module from its server: verifies the signed manifest with the pinned
module-signing key, refuses downgrades, checks the download's size and SHA-256, then replaces
the executable (the previous one is kept as <name>.old).

  --module-key SHA256  the module-signing key's fingerprint (from the server's /download page
                       or its admin); pins it, replacing an earlier pin
  --module-key-file F  where module keys are pinned (default
                       ~/.config/fernwart/module-keys.json, or $FERNWART_MODULE_KEY_FILE)
  --check              only say whether a newer version is available
  --target FILE        replace FILE instead of the running executable
${CONNECTION_USAGE}`;

/** The default module-key file: `$XDG_CONFIG_HOME/fernwart/module-keys.json` (or ~/.config/…). */
export function defaultModuleKeyFile(env: NodeJS.ProcessEnv = process.env): string {
	if (env.FERNWART_MODULE_KEY_FILE) return env.FERNWART_MODULE_KEY_FILE;
	const base = env.XDG_CONFIG_HOME || join(homedir(), ".config");
	return join(base, "fernwart", "module-keys.json");
}

const keyFileSchema = z.object({
	version: z.literal(1),
	servers: z.record(
		z.string(),
		z.object({
			publicKey: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
			fingerprint: z.string(),
			pinnedAt: z.string(),
		}),
	),
});
type KeyFile = z.infer<typeof keyFileSchema>;

/** Reads the module-key file; missing is empty, damaged is an error (never silently reset). */
export function readModuleKeyFile(path: string): KeyFile {
	let text: string;
	try {
		text = readFileSync(path, "utf8");
	} catch (err) {
		if ((err as NodeJS.ErrnoException).code === "ENOENT") return { version: 1, servers: {} };
		throw new UpdateError("MODULE_KEY_FILE_DAMAGED", `cannot read ${path}`);
	}
	let json: unknown = null;
	try {
		json = JSON.parse(text);
	} catch {
		// handled below like any other malformed content
	}
	const parsed = keyFileSchema.safeParse(json);
	// Starting over would forget the pin, which is exactly what an attacker would want.
	if (!parsed.success)
		throw new UpdateError("MODULE_KEY_FILE_DAMAGED", `${path} is damaged; fix or remove it`);
	return parsed.data;
}

/** Pins `publicKey` for `origin` (atomically, mode 0600 in a 0700 folder). */
export function pinModuleKey(
	path: string,
	origin: string,
	key: { publicKey: string; fingerprint: string },
): void {
	const file = readModuleKeyFile(path);
	file.servers[origin] = { ...key, pinnedAt: new Date().toISOString() };
	mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
	const tmp = `${path}.${process.pid}.tmp`;
	const fd = openSync(tmp, "w", 0o600);
	try {
		writeSync(fd, `${JSON.stringify(file, null, "\t")}\n`);
	} finally {
		closeSync(fd);
	}
	renameSync(tmp, path);
}

const serverKeySchema = z.object({
	publicKey: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
	fingerprint: z.string(),
});

/** What {@link runUpdate} did; the CLI prints it, tests check it. */
export type UpdateResult =
	| { status: "current"; version: string }
	| { status: "available"; version: string; file: ModuleFile }
	| { status: "dry-run"; version: string; file: ModuleFile; target: string }
	| { status: "replaced"; version: string; file: ModuleFile; target: string; previous: string };

/** Inputs of {@link runUpdate}; the CLI fills them from flags and the build info. */
export interface UpdateOptions {
	transport: Pick<TrustedTransport, "origin" | "fetchStream">;
	/** The running module's version and built-in key (modules/cli/build-info.ts). */
	current: { version: string; moduleKey: string | null };
	keyFile: string;
	/** `--module-key`: the fingerprint to pin (replaces an earlier pin). */
	moduleKeyFingerprint?: string | undefined;
	/** The file to replace, or null to only say what would happen. */
	target: string | null;
	checkOnly?: boolean;
	platform?: NodeJS.Platform;
	arch?: string;
	out: Output;
}

async function getJson(transport: UpdateOptions["transport"], path: string): Promise<unknown> {
	const res = await transport.fetchStream(new URL(path, transport.origin).href, {
		headers: { accept: "application/json" },
	});
	const text = await res.text();
	if (res.status === 404 && path.startsWith("/download/"))
		throw new UpdateError("NO_MODULES", `${transport.origin} has no module to download`);
	if (res.status !== 200)
		throw new UpdateError("DOWNLOAD_FAILED", `${path} answered ${res.status}`);
	try {
		return JSON.parse(text);
	} catch {
		throw new UpdateError("BAD_MANIFEST", `${path} is not JSON`);
	}
}

/** The server's key, checked against a fingerprint when one is given. */
async function serverKey(transport: UpdateOptions["transport"], expected?: string) {
	const parsed = serverKeySchema.safeParse(await getJson(transport, "/api/v1/modules/key"));
	if (!parsed.success)
		throw new UpdateError("BAD_MANIFEST", "the server's key answer is malformed");
	// Recomputed here: the fingerprint the server states is not evidence of anything.
	const fingerprint = await moduleKeyFingerprint(parsed.data.publicKey);
	if (expected !== undefined && fingerprint !== expected) {
		throw new UpdateError(
			"MODULE_KEY_MISMATCH",
			`${transport.origin} offers the module-signing key ${fingerprint}, not ${expected} given ` +
				"with --module-key. Refusing to pin it.",
		);
	}
	return { publicKey: parsed.data.publicKey, fingerprint };
}

/** The key the manifest must be signed with: flag, then pin, then built-in, then first contact. */
async function pinnedKey(opts: UpdateOptions): Promise<{ publicKey: string; fingerprint: string }> {
	const origin = opts.transport.origin;
	if (opts.moduleKeyFingerprint !== undefined) {
		let expected: string;
		try {
			expected = normalizeFingerprint(opts.moduleKeyFingerprint);
		} catch {
			throw new CliError("--module-key is a SHA-256 fingerprint, 64 hex digits (AB:CD:…)", 2);
		}
		const key = await serverKey(opts.transport, expected);
		pinModuleKey(opts.keyFile, origin, key);
		opts.out.event(
			"key.pinned",
			{ ...key, origin },
			`Pinned the module-signing key ${key.fingerprint} for ${origin}.`,
		);
		return key;
	}
	const pinned = readModuleKeyFile(opts.keyFile).servers[origin];
	if (pinned)
		return {
			publicKey: pinned.publicKey,
			fingerprint: await moduleKeyFingerprint(pinned.publicKey),
		};
	if (opts.current.moduleKey) {
		return {
			publicKey: opts.current.moduleKey,
			fingerprint: await moduleKeyFingerprint(opts.current.moduleKey),
		};
	}
	// First contact: the key comes over the connection the server pin verified (trust on first
	// use, like the certificate itself); from now on only this key is accepted.
	const key = await serverKey(opts.transport);
	pinModuleKey(opts.keyFile, origin, key);
	opts.out.event(
		"key.pinned",
		{ ...key, origin, firstContact: true },
		`Pinned the module-signing key ${key.fingerprint} for ${origin} (first contact; compare it with the /download page).`,
	);
	return key;
}

/** Fetches the manifest and accepts it only if the pinned key signed it. */
async function verifiedManifest(
	opts: UpdateOptions,
	key: { publicKey: string; fingerprint: string },
): Promise<SignedModuleManifest> {
	const parsed = signedModuleManifestSchema.safeParse(
		await getJson(opts.transport, "/download/manifest.json"),
	);
	if (!parsed.success) throw new UpdateError("BAD_MANIFEST", "the manifest is malformed");
	const signed = parsed.data;
	if (signed.signature.publicKey !== key.publicKey) {
		const other = await moduleKeyFingerprint(signed.signature.publicKey).catch(() => "?");
		throw new UpdateError(
			"MODULE_KEY_CHANGED",
			`the manifest of ${opts.transport.origin} is signed with the key ${other}, not the pinned ` +
				`${key.fingerprint}. Nothing was changed. If the admin replaced the module-signing key, ` +
				"check the new fingerprint with them (the /download page shows it) and run " +
				"`fernwart update --module-key <new fingerprint>`.",
		);
	}
	if (!(await verifyModuleManifest(key.publicKey, signed))) {
		throw new UpdateError(
			"MANIFEST_SIGNATURE_INVALID",
			`the manifest of ${opts.transport.origin} does not carry a valid signature of the pinned key ` +
				`${key.fingerprint}; it was changed after signing. Nothing was changed.`,
		);
	}
	return signed;
}

/**
 * Streams the file into `tmp`, hashing as it goes; stops at the first byte beyond the signed
 * size. Throws DOWNLOAD_SIZE_MISMATCH or DOWNLOAD_HASH_MISMATCH (and removes `tmp`).
 */
async function download(opts: UpdateOptions, file: ModuleFile, tmp: string): Promise<void> {
	const url = new URL(`/download/files/${encodeURIComponent(file.name)}`, opts.transport.origin);
	const res = await opts.transport.fetchStream(url.href);
	if (res.status !== 200 || !res.body) {
		await res.body?.cancel();
		throw new UpdateError("DOWNLOAD_FAILED", `${url.pathname} answered ${res.status}`);
	}
	const hash = createHash("sha256");
	let size = 0;
	const fd = openSync(tmp, "wx", 0o700);
	try {
		for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
			size += chunk.length;
			if (size > file.size) {
				await res.body.cancel().catch(() => {});
				throw new UpdateError(
					"DOWNLOAD_SIZE_MISMATCH",
					`${file.name} is larger than the ${file.size} bytes the manifest signs`,
				);
			}
			hash.update(chunk);
			writeSync(fd, chunk);
		}
		if (size !== file.size) {
			throw new UpdateError(
				"DOWNLOAD_SIZE_MISMATCH",
				`${file.name} has ${size} bytes, the manifest signs ${file.size}`,
			);
		}
		const sha256 = hash.digest("hex");
		// Public values: the signed hash and the hash of what arrived; no secret to time.
		if (sha256 !== file.sha256) {
			throw new UpdateError(
				"DOWNLOAD_HASH_MISMATCH",
				`${file.name} has the SHA-256 ${sha256}, the manifest signs ${file.sha256}; the download was changed`,
			);
		}
	} catch (err) {
		closeSync(fd);
		rmSync(tmp, { force: true });
		throw err;
	}
	closeSync(fd);
}

/** Moves `target` to `target.old` and `tmp` to `target`; puts the old one back on failure. */
function replace(tmp: string, target: string): string {
	const previous = `${target}.old`;
	chmodSync(tmp, 0o755);
	rmSync(previous, { force: true });
	const had = existsSync(target);
	try {
		if (had) renameSync(target, previous);
		renameSync(tmp, target);
	} catch (err) {
		if (had && !existsSync(target) && existsSync(previous)) renameSync(previous, target);
		rmSync(tmp, { force: true });
		throw new UpdateError("REPLACE_FAILED", `cannot replace ${target}: ${(err as Error).message}`);
	}
	return previous;
}

/** The whole update; see the file comment for the order of the checks. */
export async function runUpdate(opts: UpdateOptions): Promise<UpdateResult> {
	const key = await pinnedKey(opts);
	const signed = await verifiedManifest(opts, key);
	const { version } = signed.manifest;
	const platform = opts.platform ?? process.platform;
	const arch = opts.arch ?? process.arch;
	const file = signed.manifest.files.find((f) => f.platform === platform && f.arch === arch);
	if (!file) {
		throw new UpdateError(
			"NO_FILE_FOR_PLATFORM",
			`version ${version} has no file for ${platform}-${arch}`,
		);
	}
	const order = compareModuleVersions(version, opts.current.version);
	if (order < 0) {
		throw new UpdateError(
			"DOWNGRADE_REFUSED",
			`the server offers ${version}, older than this module's ${opts.current.version}; not installed`,
		);
	}
	if (order === 0) {
		opts.out.event("update.current", { version }, `This module is up to date (${version}).`);
		return { status: "current", version };
	}
	if (opts.checkOnly) {
		opts.out.event(
			"update.available",
			{ version, file },
			`Version ${version} is available (${file.name}).`,
		);
		return { status: "available", version, file };
	}
	if (opts.target === null) {
		const self = process.execPath;
		opts.out.event(
			"update.dry-run",
			{ version, file, target: self },
			`Not running as the packaged executable: would download ${file.name} (${version}, ` +
				`${file.size} bytes, SHA-256 ${file.sha256}), check it and replace the executable. ` +
				"Pass --target FILE to replace a file.",
		);
		return { status: "dry-run", version, file, target: self };
	}
	const target = resolve(opts.target);
	const tmp = join(dirname(target), `.${basename(target)}.update-${process.pid}`);
	rmSync(tmp, { force: true });
	await download(opts, file, tmp);
	opts.out.event(
		"update.verified",
		{ version, file },
		`Downloaded ${file.name}: size and SHA-256 match the signed manifest.`,
	);
	const previous = replace(tmp, target);
	opts.out.event(
		"update.replaced",
		{ version, target, previous },
		`Updated ${target} to ${version}; the previous version is ${previous}.`,
	);
	return { status: "replaced", version, file, target, previous };
}

/** `fernwart update …`; resolves with the exit code (0 updated or current, 1 refused, 2 usage, 3 unreachable). */
export async function runUpdateCommand(argv: string[]): Promise<number> {
	const parsed = parseCommand(
		() =>
			parseArgs({
				args: argv,
				options: {
					...CONNECTION_OPTIONS,
					"module-key": { type: "string" },
					"module-key-file": { type: "string" },
					check: { type: "boolean", default: false },
					target: { type: "string" },
				},
				strict: true,
			}),
		USAGE,
	);
	if (!parsed) return 0;
	const { values } = parsed;
	const out = new Output(values.json);
	const info = buildInfo();
	const transport = openTransport(values);
	try {
		await runUpdate({
			transport,
			current: { version: info.version, moduleKey: info.moduleKey },
			keyFile: values["module-key-file"] ?? defaultModuleKeyFile(),
			moduleKeyFingerprint: values["module-key"],
			target: values.target ?? (info.sea ? process.execPath : null),
			checkOnly: values.check,
			out,
		});
		return 0;
	} catch (err) {
		if (err instanceof UpdateError) {
			out.event("error", { code: err.code, message: err.message }, null);
			throw err;
		}
		if (err instanceof TrustError) throw new CliError(err.message, 3);
		const raw = err as Error;
		// undici reports a refused certificate or a dead server as a TypeError "fetch failed".
		if (raw instanceof TypeError && /fetch failed/.test(raw.message)) {
			throw explainFetch(raw, transport);
		}
		throw explain(err, transport);
	} finally {
		await transport.close();
	}
}

function explainFetch(err: TypeError, transport: TrustedTransport): CliError {
	if (transport.lastError instanceof TrustError)
		return new CliError(transport.lastError.message, 3);
	const cause = (err.cause as Error | undefined)?.message ?? err.message;
	return new CliError(`${transport.origin} could not be reached: ${cause}`, 3);
}
