import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { linesOf, verifyCli } from "../helpers/audit.ts";
import { ADMIN, bearer, mustLogin } from "../helpers/auth.ts";
import { makeDataDir, startServer, type TestServer } from "../helpers/server.ts";

const dir = mkdtempSync(join(tmpdir(), "fernwart-audit-keys-"));
const dataDir = makeDataDir();
let server: TestServer | undefined;

/** Issues a session (one audit event) and returns the full export. */
async function issueAndExport(s: TestServer): Promise<string> {
	const { accessToken } = await mustLogin(s, ADMIN);
	const created = await s.json("/api/v1/sessions", { body: {}, headers: bearer(accessToken) });
	expect(created.status).toBe(201);
	const res = await s.fetch("/api/v1/audit/export", { headers: bearer(accessToken) });
	expect(res.status).toBe(200);
	return res.text();
}

const kids = (text: string) =>
	linesOf(text)
		.map((l) => JSON.parse(l) as { kind: string; kid?: string })
		.filter((l) => l.kind === "checkpoint")
		.map((l) => l.kid);

describe("audit signing key rotation", () => {
	afterAll(async () => {
		await server?.stop();
		rmSync(dir, { recursive: true, force: true });
		rmSync(dataDir, { recursive: true, force: true });
	});

	it("keeps checkpoints of a retired key verifiable: the export carries the old public key", async () => {
		server = await startServer({ dataDir, keepData: true });
		const before = await issueAndExport(server);
		const [oldKid] = kids(before);
		await server.stop();

		// Rotation as docs/audit.md describes it: drop the key line, restart, a new key is made.
		const envFile = join(dataDir, "keys", "auth.env");
		const lines = readFileSync(envFile, "utf8").split("\n");
		writeFileSync(envFile, lines.filter((l) => !l.startsWith("FERNWART_JWT_KEY=")).join("\n"));
		server = await startServer({ dataDir, keepData: true });

		const after = await issueAndExport(server);
		const checkpointKids = kids(after);
		const newKid = checkpointKids.at(-1);
		expect(newKid).not.toBe(oldKid);
		expect(checkpointKids[0]).toBe(oldKid);
		const header = JSON.parse(linesOf(after)[0] as string) as {
			keys: { kid: string }[];
			jws: string;
		};
		expect(header.keys.map((k) => k.kid)).toEqual([oldKid, newKid]);

		const ok = verifyCli(dir, "rotated.ndjson", after);
		expect(ok.code, ok.out).toBe(0);
		expect(ok.out).toContain(`keys ${[oldKid, newKid].sort().join(",")}`);

		// The token JWKS names only the current key; the audit key set keeps both, so pinning the
		// audit keys verifies and pinning the JWKS alone cannot.
		const jwks = await server.json<{ keys: { kid: string }[] }>("/.well-known/jwks.json");
		expect(jwks.body.keys.map((k) => k.kid)).toEqual([newKid]);
		const auditKeys = await server.json<{ keys: { kid: string }[] }>("/api/v1/audit/keys");
		expect(auditKeys.body.keys.map((k) => k.kid)).toEqual([oldKid, newKid]);
		writeFileSync(join(dir, "audit-keys.json"), JSON.stringify(auditKeys.body));
		writeFileSync(join(dir, "jwks.json"), JSON.stringify(jwks.body));
		const pinned = verifyCli(dir, "pinned.ndjson", after, ["--keys", join(dir, "audit-keys.json")]);
		expect(pinned.code, pinned.out).toBe(0);
		const current = verifyCli(dir, "current.ndjson", after, ["--keys", join(dir, "jwks.json")]);
		expect(current.code).toBe(1);
		expect(current.out).toContain(`checkpoint: signed with unknown key ${oldKid}`);
	});
});
