import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../server/config.ts";

const dataDir = () => mkdtempSync(join(tmpdir(), "fernwart-config-"));

function errorOf(env: Record<string, string>): ConfigError {
	try {
		loadConfig({ DATA_DIR: dataDir(), ...env });
	} catch (err) {
		if (err instanceof ConfigError) return err;
		throw err;
	}
	throw new Error("expected a ConfigError");
}

describe("loadConfig", () => {
	it("has working defaults: port 8443, the embedded database in DATA_DIR, a self-signed cert", () => {
		const dir = dataDir();
		const c = loadConfig({ DATA_DIR: dir });
		expect(c.port).toBe(8443);
		expect(c.libsqlUrl).toBe(`file:${join(dir, "fernwart.db")}`);
		expect(c.tls).toEqual({
			certPath: join(dir, "tls", "cert.pem"),
			keyPath: join(dir, "tls", "key.pem"),
			own: false,
		});
		expect(c.smtpUrl).toBeUndefined();
	});

	it("treats an empty variable as unset", () => {
		expect(loadConfig({ DATA_DIR: dataDir(), PORT: "" }).port).toBe(8443);
	});

	it("names the variable in every error", () => {
		expect(errorOf({ PORT: "abc" }).variable).toBe("PORT");
		expect(errorOf({ PORT: "-1" }).variable).toBe("PORT");
		expect(errorOf({ PORT: "1.5" }).variable).toBe("PORT");
		expect(errorOf({ LIBSQL_URL: "postgres://x" }).variable).toBe("LIBSQL_URL");
		expect(errorOf({ SMTP_URL: "http://mail" }).variable).toBe("SMTP_URL");
		expect(errorOf({ LOG_LEVEL: "loud" }).variable).toBe("LOG_LEVEL");
		expect(errorOf({ TLS_KEY: "/nowhere.pem" }).variable).toBe("TLS_CERT");
		expect(errorOf({ TLS_NEXT_CERT: "/nowhere.pem" }).variable).toBe("TLS_NEXT_CERT");
		expect(errorOf({ S3_URL: "ftp://k:s@store/bucket" }).variable).toBe("S3_URL");
		// No credentials, no bucket: refused at start, and the message never echoes a secret.
		expect(errorOf({ S3_URL: "https://store.example.test/fernwart" }).variable).toBe("S3_URL");
		const noBucket = errorOf({ S3_URL: "https://key:very-secret@store.example.test/" });
		expect(noBucket.variable).toBe("S3_URL");
		expect(noBucket.message).not.toContain("very-secret");
		// Authenticode needs both halves; a missing file is named at start, not during a build.
		expect(errorOf({ CODE_SIGNING_CERT: "/nowhere.pem" }).variable).toBe("CODE_SIGNING_KEY");
		expect(
			errorOf({ CODE_SIGNING_CERT: "/nowhere.pem", CODE_SIGNING_KEY: "/nowhere.key" }).variable,
		).toBe("CODE_SIGNING_CERT");
	});

	it("accepts the admin's own certificate files and a libSQL server URL", () => {
		const dir = dataDir();
		writeFileSync(join(dir, "c.pem"), "-----BEGIN CERTIFICATE-----\n");
		writeFileSync(join(dir, "k.pem"), "-----BEGIN EC PRIVATE KEY-----\n");
		const c = loadConfig({
			DATA_DIR: dir,
			TLS_CERT: join(dir, "c.pem"),
			TLS_KEY: join(dir, "k.pem"),
			LIBSQL_URL: "http://127.0.0.1:8080",
			SMTP_URL: "smtp://mail.example.test:25",
		});
		expect(c.tls.own).toBe(true);
		expect(c.libsqlUrl).toBe("http://127.0.0.1:8080");
		expect(c.smtpUrl).toBe("smtp://mail.example.test:25");
	});
});
