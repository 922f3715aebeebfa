import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
	createTrustedTransport,
	defaultTrustFile,
	normalizeFingerprint,
	pinServer,
	readTrustFile,
	TrustError,
} from "../../modules/cli/tls.ts";

const FP =
	"59:70:BA:42:44:B4:72:33:86:A2:65:3F:BF:B2:AA:F3:87:41:F4:1F:7C:33:7E:56:AF:C3:02:AD:8C:27:C1:5D";

const dirs: string[] = [];
function tempDir(): string {
	const dir = mkdtempSync(join(tmpdir(), "fernwart-trust-"));
	dirs.push(dir);
	return dir;
}
afterEach(() => {
	for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("CLI trust handling", () => {
	it("normalises fingerprints to upper-case hex pairs with colons", () => {
		expect(normalizeFingerprint(FP.toLowerCase())).toBe(FP);
		expect(normalizeFingerprint(FP.replace(/:/g, ""))).toBe(FP);
		expect(normalizeFingerprint(` ${FP} `)).toBe(FP);
		expect(() => normalizeFingerprint("AB:CD")).toThrow(TrustError);
		expect(() => normalizeFingerprint(`${FP.slice(0, -1)}G`)).toThrow(TrustError);
	});

	it("puts the trust file under XDG_CONFIG_HOME, or where FERNWART_TRUST_FILE says", () => {
		expect(defaultTrustFile({ XDG_CONFIG_HOME: "/x" })).toBe("/x/fernwart/known-servers.json");
		expect(defaultTrustFile({ FERNWART_TRUST_FILE: "/y/t.json" })).toBe("/y/t.json");
	});

	it("pins per origin in a private file and keeps other servers' pins", () => {
		const file = join(tempDir(), "sub", "known-servers.json");
		expect(readTrustFile(file).servers).toEqual({});
		pinServer(file, "https://a.test", FP);
		pinServer(file, "https://b.test:8443", FP.replace(/^59/, "60"));
		const read = readTrustFile(file);
		expect(read.servers["https://a.test"]?.fingerprint).toBe(FP);
		expect(Object.keys(read.servers)).toEqual(["https://a.test", "https://b.test:8443"]);
		expect(statSync(file).mode & 0o777).toBe(0o600);
	});

	it("refuses a damaged trust file instead of forgetting its pins", () => {
		const file = join(tempDir(), "known-servers.json");
		writeFileSync(file, "{ not json");
		expect(() => readTrustFile(file)).toThrow(/damaged/);
		expect(() => createTrustedTransport({ url: "https://a.test", trustFile: file })).toThrow(
			TrustError,
		);
		expect(readFileSync(file, "utf8")).toBe("{ not json");
	});

	it("talks https only", () => {
		const file = join(tempDir(), "t.json");
		expect(() => createTrustedTransport({ url: "http://a.test", trustFile: file })).toThrow(
			/https/,
		);
	});
});

describe("a pin made at first contact", () => {
	it("holds for the rest of the process: a reconnect to another CA-valid certificate is refused", async () => {
		const dir = tempDir();
		const cert = (name: string) => {
			execFileSync(
				"openssl",
				[
					"req",
					"-x509",
					"-newkey",
					"ec",
					"-pkeyopt",
					"ec_paramgen_curve:P-256",
					"-nodes",
					"-keyout",
					`${name}.key`,
					"-out",
					`${name}.pem`,
					"-days",
					"2",
					"-subj",
					"/CN=127.0.0.1",
					"-addext",
					"subjectAltName=IP:127.0.0.1",
				],
				{ cwd: dir, stdio: "ignore" },
			);
			return {
				key: readFileSync(join(dir, `${name}.key`)),
				cert: readFileSync(join(dir, `${name}.pem`)),
			};
		};
		const a = cert("a");
		const b = cert("b");
		// The module trusts both through --ca (think: a corporate CA that also signs a proxy's).
		const server = createServer(a, (_req, res) => res.end("ok"));
		await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
		const { port } = server.address() as { port: number };
		const url = `https://127.0.0.1:${port}`;
		const transport = createTrustedTransport({
			url,
			ca: `${a.cert}${b.cert}`,
			trustFile: join(dir, "known.json"),
		});
		try {
			expect((await transport.fetch(`${url}/`, { method: "GET", headers: {} })).status).toBe(200);
			// The connection drops and the other certificate answers the reconnect.
			server.setSecureContext(b);
			server.closeAllConnections();
			await expect(transport.fetch(`${url}/`, { method: "GET", headers: {} })).rejects.toThrow();
			expect(transport.lastError).toBeInstanceOf(TrustError);
		} finally {
			await transport.close();
			server.close();
		}
	});
});
