import { accessSync, constants, mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as z from "zod";
import { parseS3Url } from "./storage-service.ts";

/** Raised for a bad setting; the launcher prints its message as one line and exits with 2. */
export class ConfigError extends Error {
	override name = "ConfigError";
	readonly variable: string;
	constructor(variable: string, message: string) {
		super(`${variable}: ${message}`);
		this.variable = variable;
	}
}

const port = z.coerce
	.number({ error: "must be a number" })
	.int("must be a whole number")
	.min(0, "must be 0–65535")
	.max(65535, "must be 0–65535");

const envSchema = z.object({
	PORT: port.default(8443),
	HOST: z.string().min(1).default("0.0.0.0"),
	DATA_DIR: z.string().min(1).default("./data"),
	TLS_CERT: z.string().min(1).optional(),
	TLS_KEY: z.string().min(1).optional(),
	// The certificate that will replace TLS_CERT: announced to modules before the switch.
	TLS_NEXT_CERT: z.string().min(1).optional(),
	PUBLIC_URL: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }).optional(),
	LIBSQL_URL: z
		.string()
		.regex(/^(file:|libsql:|https?:)/, "must start with file:, libsql:, http: or https:")
		.optional(),
	LIBSQL_AUTH_TOKEN: z.string().min(1).optional(),
	FERNWART_ADMIN_EMAIL: z
		.email({ pattern: z.regexes.html5Email, error: "must be an e-mail address" })
		.optional(),
	FERNWART_ADMIN_PASSWORD: z.string().min(12, "must be at least 12 characters").optional(),
	SMTP_URL: z
		.string()
		.regex(/^smtps?:\/\/[^\s]+$/, "must be an smtp:// or smtps:// URL")
		.optional(),
	// The admin's S3-compatible store for profile pictures (server/storage-service.ts); off if unset.
	S3_URL: z
		.string()
		.regex(/^https?:\/\/[^\s]+$/, "must be an http:// or https:// URL")
		.optional(),
	// The module-signing key (PKCS#8 PEM or JWK, Ed25519); default DATA_DIR/keys/module-signing.pem.
	MODULE_SIGNING_KEY: z.string().min(1).optional(),
	// Where `npm run build:modules` writes the module files and the server serves them from.
	MODULES_DIR: z.string().min(1).optional(),
	// Authenticode for the Windows module (PEM certificate chain and PEM private key, together).
	CODE_SIGNING_CERT: z.string().min(1).optional(),
	CODE_SIGNING_KEY: z.string().min(1).optional(),
	LOG_LEVEL: z.enum(["error", "warn", "info", "debug"]).default("info"),
	// Reverse proxies whose client-address header is believed (docs/security.md).
	TRUSTED_PROXIES: z
		.string()
		.regex(/^[0-9a-fA-F:.]+(,\s*[0-9a-fA-F:.]+)*$/, "must be comma-separated IP addresses")
		.optional(),
	CLIENT_IP_HEADER: z
		.string()
		.regex(/^[A-Za-z0-9-]+$/, "must be a header name")
		.optional(),
});

export interface Config {
	port: number;
	host: string;
	dataDir: string;
	/**
	 * The certificate in use, and optionally the one announced to replace it (TLS_NEXT_CERT):
	 * modules that pinned the current certificate learn the next one's fingerprint over the
	 * pinned connection, so a switch on restart needs nobody at an unattended host.
	 */
	tls: { certPath: string; keyPath: string; own: boolean; nextCertPath?: string };
	publicUrl: string | undefined;
	libsqlUrl: string;
	libsqlAuthToken: string | undefined;
	adminEmail: string | undefined;
	adminPassword: string | undefined;
	smtpUrl: string | undefined;
	/** The admin's S3-compatible store (profile pictures); pictures are off without it. */
	s3Url: string | undefined;
	/** The admin's module-signing key file (MODULE_SIGNING_KEY); else one in the data dir. */
	moduleSigningKeyPath: string | undefined;
	/** The module downloads (MODULES_DIR, default dist/modules); need not exist. */
	modulesDir: string;
	/** Authenticode certificate chain and key (CODE_SIGNING_CERT/KEY), for build:modules only. */
	codeSigning: { certPath: string; keyPath: string } | undefined;
	logLevel: "error" | "warn" | "info" | "debug";
	trustedProxies: string | undefined;
	clientIpHeader: string | undefined;
}

/** Where `npm run build:modules` writes unless MODULES_DIR says otherwise: dist/modules. */
export const DEFAULT_MODULES_DIR = fileURLToPath(new URL("../dist/modules", import.meta.url));

/** Empty strings count as unset, as they do in most shells' `VAR= cmd`. */
function withoutEmpty(env: NodeJS.ProcessEnv): Record<string, string> {
	const out: Record<string, string> = {};
	for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== "") out[k] = v;
	return out;
}

function requireWritableDir(variable: string, dir: string): void {
	try {
		mkdirSync(dir, { recursive: true, mode: 0o700 });
		accessSync(dir, constants.W_OK | constants.R_OK);
	} catch {
		throw new ConfigError(variable, `directory ${dir} cannot be created or written`);
	}
}

function requireReadableFile(variable: string, path: string, marker: RegExp): void {
	let text: string;
	try {
		text = readFileSync(path, "utf8");
	} catch {
		throw new ConfigError(variable, `file ${path} cannot be read`);
	}
	if (!marker.test(text))
		throw new ConfigError(variable, `file ${path} is not a PEM ${marker.source}`);
}

/**
 * Reads and checks every setting. Files and folders are checked here, at start, so that a bad
 * value ends the process with one clear line instead of a failure deep inside workerd.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
	const parsed = envSchema.safeParse(withoutEmpty(env));
	if (!parsed.success) {
		const issue = parsed.error.issues[0];
		throw new ConfigError(String(issue?.path[0] ?? "environment"), issue?.message ?? "invalid");
	}
	const e = parsed.data;
	const dataDir = resolve(e.DATA_DIR);
	requireWritableDir("DATA_DIR", dataDir);

	if (Boolean(e.TLS_CERT) !== Boolean(e.TLS_KEY)) {
		throw new ConfigError(e.TLS_CERT ? "TLS_KEY" : "TLS_CERT", "TLS_CERT and TLS_KEY go together");
	}
	let tls: Config["tls"];
	if (e.TLS_CERT && e.TLS_KEY) {
		requireReadableFile("TLS_CERT", e.TLS_CERT, /CERTIFICATE/);
		requireReadableFile("TLS_KEY", e.TLS_KEY, /PRIVATE KEY/);
		tls = { certPath: resolve(e.TLS_CERT), keyPath: resolve(e.TLS_KEY), own: true };
	} else {
		tls = {
			certPath: join(dataDir, "tls", "cert.pem"),
			keyPath: join(dataDir, "tls", "key.pem"),
			own: false,
		};
	}
	if (e.S3_URL) {
		try {
			parseS3Url(e.S3_URL);
		} catch (err) {
			throw new ConfigError("S3_URL", (err as Error).message);
		}
	}
	if (e.TLS_NEXT_CERT) {
		requireReadableFile("TLS_NEXT_CERT", e.TLS_NEXT_CERT, /CERTIFICATE/);
		tls.nextCertPath = resolve(e.TLS_NEXT_CERT);
	}

	if (Boolean(e.CODE_SIGNING_CERT) !== Boolean(e.CODE_SIGNING_KEY)) {
		throw new ConfigError(
			e.CODE_SIGNING_CERT ? "CODE_SIGNING_KEY" : "CODE_SIGNING_CERT",
			"CODE_SIGNING_CERT and CODE_SIGNING_KEY go together",
		);
	}
	if (e.CODE_SIGNING_CERT && e.CODE_SIGNING_KEY) {
		requireReadableFile("CODE_SIGNING_CERT", e.CODE_SIGNING_CERT, /CERTIFICATE/);
		requireReadableFile("CODE_SIGNING_KEY", e.CODE_SIGNING_KEY, /PRIVATE KEY/);
	}
	// MODULE_SIGNING_KEY is parsed (and refused with its own message) by ensureModuleSigningKey,
	// which prepareData runs before any port opens.

	return {
		port: e.PORT,
		host: e.HOST,
		dataDir,
		tls,
		publicUrl: e.PUBLIC_URL,
		libsqlUrl: e.LIBSQL_URL ?? `file:${join(dataDir, "fernwart.db")}`,
		libsqlAuthToken: e.LIBSQL_AUTH_TOKEN,
		adminEmail: e.FERNWART_ADMIN_EMAIL,
		adminPassword: e.FERNWART_ADMIN_PASSWORD,
		smtpUrl: e.SMTP_URL,
		s3Url: e.S3_URL,
		moduleSigningKeyPath: e.MODULE_SIGNING_KEY ? resolve(e.MODULE_SIGNING_KEY) : undefined,
		modulesDir: e.MODULES_DIR ? resolve(e.MODULES_DIR) : DEFAULT_MODULES_DIR,
		codeSigning:
			e.CODE_SIGNING_CERT && e.CODE_SIGNING_KEY
				? { certPath: resolve(e.CODE_SIGNING_CERT), keyPath: resolve(e.CODE_SIGNING_KEY) }
				: undefined,
		logLevel: e.LOG_LEVEL,
		trustedProxies: e.TRUSTED_PROXIES,
		clientIpHeader: e.CLIENT_IP_HEADER,
	};
}
