import "reflect-metadata"; // @peculiar/x509 (through tsyringe) needs it loaded first
import { createHash, webcrypto, X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import * as x509 from "@peculiar/x509";
import type { Config } from "./config.ts";

export interface TlsMaterial {
	cert: string;
	key: string;
	/** SHA-256 of the DER certificate, upper-case hex with colons, as browsers and openssl show it. */
	fingerprint: string;
	created: boolean;
}

const CERT_VALIDITY_DAYS = 825; // the longest lifetime current browsers accept for a leaf

/** SHA-256 fingerprint of a PEM certificate, formatted as `AB:CD:…`. */
export function certificateFingerprint(pem: string): string {
	const der = new X509Certificate(pem).raw;
	return createHash("sha256")
		.update(der)
		.digest("hex")
		.toUpperCase()
		.replace(/(..)(?!$)/g, "$1:");
}

async function createSelfSigned(): Promise<{ cert: string; key: string }> {
	x509.cryptoProvider.set(webcrypto as unknown as Crypto);
	const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
	const keys = await webcrypto.subtle.generateKey(alg, true, ["sign", "verify"]);
	const notBefore = new Date(Date.now() - 60_000);
	const notAfter = new Date(notBefore.getTime() + CERT_VALIDITY_DAYS * 86_400_000);
	const cert = await x509.X509CertificateGenerator.createSelfSigned({
		serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(16)))
			.toString("hex")
			.replace(/^[89a-f]/, "1"),
		name: "CN=Fernwart self-signed",
		notBefore,
		notAfter,
		signingAlgorithm: alg,
		keys: keys as unknown as CryptoKeyPair,
		extensions: [
			new x509.BasicConstraintsExtension(false, undefined, true),
			new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
			new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
			new x509.SubjectAlternativeNameExtension([
				{ type: "dns", value: "localhost" },
				{ type: "ip", value: "127.0.0.1" },
				{ type: "ip", value: "::1" },
			]),
		],
	});
	const pkcs8 = await webcrypto.subtle.exportKey("pkcs8", keys.privateKey);
	const key = x509.PemConverter.encode(pkcs8, "PRIVATE KEY");
	return { cert: cert.toString("pem"), key };
}

/**
 * Loads the admin's certificate, or the self-signed one in the data dir, making that on first
 * start. The private key is written with mode 0600 and never printed.
 */
export async function ensureTls(config: Config): Promise<TlsMaterial> {
	const { certPath, keyPath, own } = config.tls;
	let created = false;
	if (!own && !(existsSync(certPath) && existsSync(keyPath))) {
		const { cert, key } = await createSelfSigned();
		mkdirSync(dirname(certPath), { recursive: true, mode: 0o700 });
		writeFileSync(keyPath, key, { mode: 0o600 });
		writeFileSync(certPath, cert, { mode: 0o644 });
		created = true;
	}
	const cert = readFileSync(certPath, "utf8");
	const key = readFileSync(keyPath, "utf8");
	return { cert, key, fingerprint: certificateFingerprint(cert), created };
}
