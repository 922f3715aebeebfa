import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ACTORS } from "../../server/actors.ts";
import { workerdConfig } from "../../server/build.ts";
import { loadConfig } from "../../server/config.ts";
import { certificateFingerprint, ensureTls } from "../../server/tls.ts";
import { ROOT } from "../helpers/server.ts";

describe("self-signed certificate", () => {
	it("is ECDSA P-256 for localhost and 127.0.0.1, key mode 0600, and is made only once", async () => {
		const config = loadConfig({ DATA_DIR: mkdtempSync(join(tmpdir(), "fernwart-tls-")) });
		const first = await ensureTls(config);
		expect(first.created).toBe(true);
		const cert = new X509Certificate(first.cert);
		expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
		expect(cert.subjectAltName).toContain("DNS:localhost");
		expect(cert.subjectAltName).toContain("IP Address:127.0.0.1");
		expect(cert.fingerprint256).toBe(first.fingerprint);
		expect(certificateFingerprint(first.cert)).toBe(cert.fingerprint256);
		expect(statSync(config.tls.keyPath).mode & 0o777).toBe(0o600);
		const second = await ensureTls(config);
		expect(second.created).toBe(false);
		expect(second.fingerprint).toBe(first.fingerprint);
	});
});

describe("actor registry", () => {
	it("matches the durable object bindings and migrations in wrangler.toml", () => {
		const toml = readFileSync(join(ROOT, "wrangler.toml"), "utf8");
		const declared = [
			...toml.matchAll(
				/\[\[durable_objects\.bindings\]\]\s*name = "(\w+)"\s*class_name = "(\w+)"/g,
			),
		].map((m) => ({ binding: m[1], className: m[2] }));
		expect(declared).toEqual(ACTORS.map((a) => ({ binding: a.binding, className: a.className })));
		const migrated = [...toml.matchAll(/new_sqlite_classes = \[([^\]]*)\]/g)].flatMap((m) =>
			(m[1] ?? "")
				.split(",")
				.map((s) => s.trim().replace(/"/g, ""))
				.filter(Boolean),
		);
		for (const a of ACTORS) expect(migrated).toContain(a.className);
	});

	it("generates a workerd config that binds every actor and denies egress", () => {
		const capnp = workerdConfig("9.9.9");
		expect(capnp).toContain('globalOutbound = "fernwart-egress-guard"');
		expect(capnp).toContain('(name = "FERNWART_VERSION", text = "9.9.9")');
		for (const a of ACTORS) {
			expect(capnp).toContain(`(name = "${a.binding}", durableObjectNamespace = "${a.className}")`);
			expect(capnp).toContain(`className = "${a.className}"`);
		}
		// npm run build keeps actor storage in the data dir, beside the database and the keys.
		expect(workerdConfig("9.9.9", undefined, "/var/lib/fernwart/actors")).toContain(
			'disk = (path = "/var/lib/fernwart/actors", writable = true)',
		);
	});
});
