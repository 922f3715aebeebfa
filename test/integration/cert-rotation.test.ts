/**
 * The admin replaces the server's certificate (docs/operations.md "Certificates"): announced in
 * advance with TLS_NEXT_CERT, an unattended host agent learns it over its pinned connection and
 * follows the switch on restart by itself; a module that pinned the old leaf without learning the
 * next one refuses with a message naming the re-pin step; a module that pinned the CA goes on.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createTrustedTransport, readTrustFile, TrustError } from "../../modules/cli/tls.ts";
import { certificateFingerprint } from "../../server/tls.ts";
import { ADMIN, bearer, mustLogin } from "../helpers/auth.ts";
import { enrollmentToken, fernwart, type JsonProcess, runHostAgent } from "../helpers/hosts.ts";
import { makeDataDir, startServer, type TestServer } from "../helpers/server.ts";

/** A test CA and two server certificates it issued (chains: leaf then CA), made with openssl. */
function makeCertificates(dir: string) {
	const ssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
	const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
	const caArgs = [
		"-days",
		"2",
		"-addext",
		"basicConstraints=critical,CA:TRUE",
		"-addext",
		"keyUsage=critical,keyCertSign",
	];
	ssl(
		"req",
		"-x509",
		...ec,
		"-keyout",
		"ca.key",
		"-out",
		"ca.pem",
		"-subj",
		"/CN=Fernwart test CA",
		...caArgs,
	);
	// A CA that issued nothing for this server: pinning it must not let the server's certificate in.
	ssl(
		"req",
		"-x509",
		...ec,
		"-keyout",
		"other.key",
		"-out",
		"other.pem",
		"-subj",
		"/CN=Other CA",
		...caArgs,
	);
	writeFileSync(
		join(dir, "ext"),
		"subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
	);
	for (const name of ["a", "b"]) {
		ssl("req", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", "/CN=localhost");
		ssl(
			"x509",
			"-req",
			"-in",
			`${name}.csr`,
			"-CA",
			"ca.pem",
			"-CAkey",
			"ca.key",
			"-CAcreateserial",
			"-out",
			`${name}.pem`,
			"-days",
			"2",
			"-extfile",
			"ext",
		);
		writeFileSync(
			join(dir, `${name}-chain.pem`),
			readFileSync(join(dir, `${name}.pem`), "utf8") + readFileSync(join(dir, "ca.pem"), "utf8"),
		);
	}
	const read = (name: string) => readFileSync(join(dir, name), "utf8");
	return {
		ca: join(dir, "ca.pem"),
		caPem: read("ca.pem"),
		otherCaPem: read("other.pem"),
		a: {
			cert: join(dir, "a-chain.pem"),
			key: join(dir, "a.key"),
			fp: certificateFingerprint(read("a.pem")),
		},
		b: {
			cert: join(dir, "b-chain.pem"),
			key: join(dir, "b.key"),
			fp: certificateFingerprint(read("b.pem")),
		},
	};
}

const GET = { method: "GET", headers: {} };

async function freePort(): Promise<number> {
	return new Promise((resolve) => {
		const probe = createServer().listen(0, "127.0.0.1", () => {
			const { port } = probe.address() as { port: number };
			probe.close(() => resolve(port));
		});
	});
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!(await check())) {
		if (Date.now() > deadline) throw new Error("timed out");
		await new Promise((r) => setTimeout(r, 100));
	}
}

describe("replacing the server's certificate", () => {
	const dir = mkdtempSync(join(tmpdir(), "fernwart-certs-"));
	const certs = makeCertificates(dir);
	const dataDir = makeDataDir();
	let server: TestServer | null = null;
	let agent: JsonProcess | null = null;
	afterAll(async () => {
		agent?.kill("SIGKILL");
		await server?.stop();
	});

	it("is followed by a host that learned it in advance, refused with the re-pin step by a leaf pin, and accepted by a CA pin", async () => {
		const port = String(await freePort());
		const start = (cert: { cert: string; key: string }, next?: string) =>
			startServer({
				dataDir,
				keepData: true,
				env: {
					PORT: port,
					TLS_CERT: cert.cert,
					TLS_KEY: cert.key,
					...(next ? { TLS_NEXT_CERT: next } : {}),
				},
			});

		// 1. Certificate A. A host enrols through the CA (which pins A's leaf); two other modules
		//    pin A's leaf and the CA.
		server = await start(certs.a);
		const origin = server.url.origin;
		expect((await server.json("/api/v1/tls")).body).toEqual({
			fingerprint: certs.a.fp,
			next: null,
		});
		const admin = (await mustLogin(server, ADMIN)).accessToken;
		const group = await server.json("/api/v1/groups", {
			body: { name: "rotation" },
			headers: bearer(admin),
		});
		expect(group.status).toBe(201);
		const { token } = await enrollmentToken(server, admin, "rotation");
		const hostDir = mkdtempSync(join(tmpdir(), "fernwart-host-"));
		const enrolled = await fernwart([
			"host",
			"enroll",
			origin,
			token,
			"--name",
			"rotating",
			"--password",
			"rotation test password",
			"--ca",
			certs.ca,
			"--config",
			hostDir,
			"--json",
		]);
		expect(enrolled.code, enrolled.stderr).toBe(0);
		const hostId = (JSON.parse(enrolled.stdout.split("\n")[0] ?? "{}") as { hostId: string })
			.hostId;
		const hostTrust = join(hostDir, "known-servers.json");
		expect(readTrustFile(hostTrust).servers[origin]?.fingerprint).toBe(certs.a.fp);
		agent = runHostAgent(hostDir, ["--retry-max-ms", "1000", "--capture", "none"]);
		await agent.waitFor((e) => e.event === "online");

		const leafTrust = join(dir, "leaf.json");
		const caTrust = join(dir, "ca-pin.json");
		const first = createTrustedTransport({
			url: origin,
			fingerprint: certs.a.fp,
			trustFile: leafTrust,
		});
		expect((await first.fetch(`${origin}/healthz`, GET)).status).toBe(200);
		await first.close();
		const byCa = createTrustedTransport({
			url: origin,
			ca: certs.caPem,
			pinCa: true,
			trustFile: caTrust,
		});
		expect((await byCa.fetch(`${origin}/healthz`, GET)).status).toBe(200);
		await byCa.close();
		expect(readTrustFile(caTrust).servers[origin]).toMatchObject({ ca: certs.caPem });
		expect(readTrustFile(caTrust).servers[origin]?.fingerprint).toBeUndefined();

		// 2. The admin announces B and restarts: the host agent comes back and learns it.
		await server.stop();
		server = await start(certs.a, certs.b.cert);
		expect((await server.json("/api/v1/tls")).body).toEqual({
			fingerprint: certs.a.fp,
			next: certs.b.fp,
		});
		await until(() => readTrustFile(hostTrust).servers[origin]?.next === certs.b.fp);

		// 3. The switch to B. The host follows without anyone at it and pins B.
		await server.stop();
		server = await start(certs.b);
		await until(() => readTrustFile(hostTrust).servers[origin]?.fingerprint === certs.b.fp);
		expect(readTrustFile(hostTrust).servers[origin]?.next).toBeUndefined();
		const admin2 = (await mustLogin(server, ADMIN)).accessToken;
		await until(async () => {
			const hosts = await server?.json<{ hosts: { id: string; online: boolean }[] }>(
				"/api/v1/hosts",
				{ headers: bearer(admin2) },
			);
			return hosts?.body.hosts.find((h) => h.id === hostId)?.online === true;
		});

		// A module that pinned A's leaf and never heard of B refuses, naming both and the step.
		const stale = createTrustedTransport({ url: origin, trustFile: leafTrust });
		const refused = await stale.fetch(`${origin}/healthz`, GET).then(
			() => null,
			(err: unknown) => err,
		);
		expect(refused).not.toBeNull();
		expect(stale.lastError).toBeInstanceOf(TrustError);
		expect(stale.lastError?.message).toContain(certs.a.fp);
		expect(stale.lastError?.message).toContain(certs.b.fp);
		expect(stale.lastError?.message).toContain("--fingerprint");
		await stale.close();
		// The documented re-pin: the new fingerprint from the admin, once.
		const repinned = createTrustedTransport({
			url: origin,
			fingerprint: certs.b.fp,
			trustFile: leafTrust,
		});
		expect((await repinned.fetch(`${origin}/healthz`, GET)).status).toBe(200);
		await repinned.close();
		expect(readTrustFile(leafTrust).servers[origin]?.fingerprint).toBe(certs.b.fp);

		// The CA pin takes B as it is, and still refuses a certificate from anyone else.
		const caAgain = createTrustedTransport({ url: origin, trustFile: caTrust });
		expect((await caAgain.fetch(`${origin}/healthz`, GET)).status).toBe(200);
		await caAgain.close();
		const otherCa = createTrustedTransport({
			url: origin,
			ca: certs.otherCaPem,
			pinCa: true,
			trustFile: join(dir, "other.json"),
		});
		await expect(otherCa.fetch(`${origin}/healthz`, GET)).rejects.toThrow();
		await otherCa.close();
	}, 180_000);
});
