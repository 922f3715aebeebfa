import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { makeDataDir, startServer } from "../helpers/server.ts";
import { queryDb } from "../helpers/sql.ts";

describe("platform: restart", () => {
	it("keeps the database, the first admin and the certificate across a restart", async () => {
		const dataDir = makeDataDir();
		const first = await startServer({ dataDir });
		expect(first.output()).toContain("created the first admin admin@example.test");
		expect(first.output()).toContain("created a self-signed certificate");
		const cert = readFileSync(join(dataDir, "tls", "cert.pem"), "utf8");
		const fingerprint = /TLS certificate SHA-256 fingerprint: ([0-9A-F:]{95})/.exec(
			first.output(),
		)?.[1];
		expect(fingerprint).toBeDefined();
		expect(await first.stop()).toBe(0);

		const dbPath = join(dataDir, "fernwart.db");
		const before = queryDb(dbPath, "SELECT id, email, password_hash FROM users");
		expect(before).toHaveLength(1);
		// The password is stored only as a KDF string, never in clear.
		expect(String(before[0]?.password_hash)).toMatch(/^pbkdf2-sha256-chain\$6\$/);
		expect(String(before[0]?.password_hash)).not.toContain("correct horse");

		const second = await startServer({ dataDir });
		try {
			expect(second.output()).not.toContain("created the first admin");
			expect(second.output()).not.toContain("created a self-signed certificate");
			expect(second.output()).toContain(`fingerprint: ${fingerprint}`);
			expect(readFileSync(join(dataDir, "tls", "cert.pem"), "utf8")).toBe(cert);
			expect((await second.json("/readyz")).status).toBe(200);
		} finally {
			await second.stop();
		}
		expect(queryDb(dbPath, "SELECT id, email, password_hash FROM users")).toEqual(before);
	});
});
