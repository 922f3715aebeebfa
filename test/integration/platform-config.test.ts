import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { makeDataDir, ROOT, startServer } from "../helpers/server.ts";

/** Runs the launcher to its end with the given environment; it must fail before starting workerd. */
function launch(env: Record<string, string>) {
	const res = spawnSync(process.execPath, [join(ROOT, "server/main.ts"), "--no-build"], {
		cwd: ROOT,
		env: { PATH: process.env.PATH ?? "", DATA_DIR: makeDataDir(), PORT: "0", ...env },
		encoding: "utf8",
		timeout: 30_000,
	});
	return { code: res.status, stderr: res.stderr, stdout: res.stdout };
}

function expectOneLineError(result: ReturnType<typeof launch>, variable: string) {
	expect(result.code).toBe(2);
	const lines = result.stderr.trim().split("\n");
	expect(lines).toHaveLength(1);
	expect(lines[0]).toContain(variable);
	expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
}

describe("platform: configuration is checked at start", () => {
	it("rejects PORT=abc with one line naming PORT and exit code 2", () => {
		expectOneLineError(launch({ PORT: "abc" }), "PORT");
	});

	it("rejects a port out of range", () => {
		expectOneLineError(launch({ PORT: "70000" }), "PORT");
	});

	it("rejects an unreadable certificate", () => {
		const dir = makeDataDir();
		expectOneLineError(
			launch({ TLS_CERT: join(dir, "missing.pem"), TLS_KEY: join(dir, "missing-key.pem") }),
			"TLS_CERT",
		);
	});

	it("rejects a certificate file that is not PEM", () => {
		const dir = makeDataDir();
		writeFileSync(join(dir, "cert.pem"), "not a certificate");
		writeFileSync(join(dir, "key.pem"), "-----BEGIN PRIVATE KEY-----\n");
		expectOneLineError(
			launch({ TLS_CERT: join(dir, "cert.pem"), TLS_KEY: join(dir, "key.pem") }),
			"TLS_CERT",
		);
	});

	it("rejects TLS_CERT without TLS_KEY", () => {
		const dir = makeDataDir();
		writeFileSync(join(dir, "cert.pem"), "-----BEGIN CERTIFICATE-----\n");
		expectOneLineError(launch({ TLS_CERT: join(dir, "cert.pem") }), "TLS_KEY");
	});

	it("rejects a data dir that cannot be created", () => {
		const dir = makeDataDir();
		writeFileSync(join(dir, "a-file"), "x");
		// A path below a regular file cannot be a directory, even for root.
		expectOneLineError(launch({ DATA_DIR: join(dir, "a-file", "data") }), "DATA_DIR");
	});

	it("rejects a malformed e-mail for the first admin and a short admin password", () => {
		expectOneLineError(launch({ FERNWART_ADMIN_EMAIL: "not-an-address" }), "FERNWART_ADMIN_EMAIL");
		expectOneLineError(launch({ FERNWART_ADMIN_PASSWORD: "short" }), "FERNWART_ADMIN_PASSWORD");
	});

	it("rejects SMTP_URL and PUBLIC_URL that are not URLs of the right kind", () => {
		expectOneLineError(launch({ SMTP_URL: "mail.example.test" }), "SMTP_URL");
		expectOneLineError(launch({ PUBLIC_URL: "ftp://x" }), "PUBLIC_URL");
	});

	it("names PORT when the address is already in use", async () => {
		const first = await startServer();
		try {
			const res = launch({ PORT: first.url.port, HOST: "127.0.0.1" });
			expectOneLineError(res, "PORT");
			expect(res.stderr).toContain(`127.0.0.1:${first.url.port} is already in use`);
		} finally {
			await first.stop();
		}
	});

	it("serves the admin's own certificate when TLS_CERT and TLS_KEY are set", async () => {
		// Use a certificate made by a first server as "the admin's own" for a second one.
		const first = await startServer({ keepData: true });
		const ownDir = first.dataDir;
		await first.stop();
		const second = await startServer({
			env: { TLS_CERT: join(ownDir, "tls", "cert.pem"), TLS_KEY: join(ownDir, "tls", "key.pem") },
		});
		try {
			expect(second.output()).toContain("fingerprint");
			expect(second.output()).not.toContain("created a self-signed certificate");
			const res = await second.json("/healthz");
			expect(res.status).toBe(200);
		} finally {
			await second.stop();
		}
	});
});
