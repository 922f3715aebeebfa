/**
 * `node bench/audit-export.ts [--sizes 10000,50000,100000]` (through npm's Node 24, e.g.
 * `npx node bench/audit-export.ts`): how export and offline verification of the audit protocol
 * scale with its length. For each size it fills a fresh data dir with that many events (the
 * AuditLog's own code path: chained appends, a signed checkpoint every 100 events, one session in
 * 25 with signed consents), starts the real server, downloads GET /api/v1/audit/export to a file
 * and runs `npm run fernwart -- audit verify` on it as a user would. Figures: docs/audit.md.
 *
 * Not a test: the numbers depend on the machine. The filling runs in a child process because
 * this process must not load @libsql/client (it breaks SIGTERM handling of spawned children).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createWriteStream, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { parseArgs } from "node:util";
import type { AuditInput } from "../schema/audit.ts";

const ADMIN = { email: "admin@example.test", password: "correct horse battery staple" };
const CHECKPOINT_EVERY = 100;
/** Events per simulated session (issued, joins, hellos, connected, consents, comments, end). */
const SESSION_EVENTS = 20;

/** Child mode: `fill DIR N` appends N events to the database in DIR. */
async function fill(dataDir: string, total: number): Promise<void> {
	const { loadConfig } = await import("../server/config.ts");
	const { applyMigrations, nodeDb, openClient } = await import("../server/db.ts");
	const { ensureAuthKeys } = await import("../server/keys.ts");
	const { loadAuditSigner } = await import("../protocol/audit-chain.ts");
	const { appendChained, getChainHead } = await import("../schema/audit.ts");
	const { writeCheckpoint } = await import("../schema/checkpoints.ts");
	const sdk = await import("../modules/sdk/crypto.ts");

	const config = loadConfig({ ...process.env, DATA_DIR: dataDir });
	const client = await openClient(config);
	await applyMigrations(client);
	const db = nodeDb(client);
	const signer = await loadAuditSigner(ensureAuthKeys(dataDir).jwtPrivateKey);
	const customer = await sdk.generateSigningKeyPair();
	const customerKey = await sdk.exportPublicKey(customer.publicKey);
	const consent = async (sessionId: string, type: "view.grant" | "control.grant" | "stop") => {
		const statement = sdk.createStatement(type, sessionId, {});
		return {
			statement,
			signature: await sdk.signStatement(customer.privateKey, statement),
			publicKey: customerKey,
		};
	};
	/** The i-th event of a simulated session; one session in 25 carries signed consents. */
	const eventOf = async (n: number): Promise<AuditInput> => {
		const sessionId = `bench-${Math.floor(n / SESSION_EVENTS)}`;
		const signed = Math.floor(n / SESSION_EVENTS) % 25 === 0;
		const base = { sessionId, subject: "bench-user", ip: "192.0.2.10" };
		switch (n % SESSION_EVENTS) {
			case 0:
				return { ...base, type: "session.issued", actor: "bench-user", data: { view: "customer" } };
			case 1:
				return {
					...base,
					type: "session.hello",
					actor: "customer:c",
					data: { role: "customer", ed25519: customerKey },
				};
			case 2:
				return signed
					? {
							...base,
							type: "view.granted",
							actor: "customer:c",
							data: { shower: "customer", ...(await consent(sessionId, "view.grant")) },
						}
					: {
							...base,
							type: "view.requested",
							actor: "supporter:bench-user",
							data: { shower: "customer" },
						};
			case 3:
				return signed
					? {
							...base,
							type: "control.granted",
							actor: "customer:c",
							data: { controller: "supporter", ...(await consent(sessionId, "control.grant")) },
						}
					: { ...base, type: "control.requested", actor: "supporter:bench-user", data: null };
			case SESSION_EVENTS - 1:
				return {
					...base,
					type: "session.ended",
					actor: null,
					data: { reason: "ended", by: "bench-user" },
				};
			default:
				return {
					...base,
					type: "comment.added",
					actor: "supporter:bench-user",
					data: { text: `step ${n}: restarted the print spooler and checked the queue` },
				};
		}
	};
	let head = await getChainHead(db);
	for (let done = 0; done < total; done += CHECKPOINT_EVERY) {
		const batch = [];
		for (let i = done; i < Math.min(total, done + CHECKPOINT_EVERY); i++)
			batch.push(await eventOf(i));
		head = (await appendChained(db, head, batch)).head;
		await writeCheckpoint(db, signer);
	}
	client.close();
}

async function measure(size: number) {
	const { mkdtempSync } = await import("node:fs");
	const { tmpdir } = await import("node:os");
	const { startServer } = await import("../test/helpers/server.ts");
	const dataDir = mkdtempSync(join(tmpdir(), "fernwart-bench-audit-"));
	try {
		let t = performance.now();
		const filled = spawnSync(
			process.execPath,
			[import.meta.filename, "fill", dataDir, String(size)],
			{
				stdio: "inherit",
			},
		);
		if (filled.status !== 0) throw new Error("filling the database failed");
		const fillS = (performance.now() - t) / 1000;

		const server = await startServer({ dataDir, keepData: true });
		try {
			const login = await server.json<{ accessToken: string }>("/api/v1/auth/login", {
				body: ADMIN,
			});
			const file = join(dataDir, "export.ndjson");
			t = performance.now();
			const res = await server.fetch("/api/v1/audit/export", {
				headers: { authorization: `Bearer ${login.body.accessToken}` },
			});
			if (res.status !== 200 || !res.body) throw new Error(`export answered ${res.status}`);
			await pipeline(Readable.fromWeb(res.body as never), createWriteStream(file));
			const exportS = (performance.now() - t) / 1000;

			t = performance.now();
			const out = execFileSync(
				process.execPath,
				[join(import.meta.dirname, "../server/cli.ts"), "audit", "verify", file],
				{
					encoding: "utf8",
				},
			);
			const verifyS = (performance.now() - t) / 1000;
			if (!out.includes("intact:")) throw new Error(`verify: ${out}`);
			return { size, fillS, exportS, verifyS, mb: statSync(file).size / 1e6, summary: out.trim() };
		} finally {
			await server.stop();
		}
	} finally {
		rmSync(dataDir, { recursive: true, force: true });
	}
}

async function main() {
	const { values } = parseArgs({
		options: {
			sizes: { type: "string", default: "10000,50000,100000" },
			build: { type: "boolean" },
		},
	});
	const { build } = await import("../server/build.ts");
	const { existsSync } = await import("node:fs");
	if (values.build || !existsSync(join(import.meta.dirname, "../dist/worker/index.js")))
		await build();
	const sizes = (values.sizes ?? "")
		.split(",")
		.map(Number)
		.filter((n) => n > 0);
	const rows = [];
	for (const size of sizes) {
		const r = await measure(size);
		rows.push(r);
		process.stdout.write(`${r.summary}\n`);
	}
	process.stdout.write(
		"\n events   fill s  export s  verify s  export µs/event  verify µs/event   MB\n",
	);
	for (const r of rows) {
		process.stdout.write(
			`${String(r.size).padStart(7)}  ${r.fillS.toFixed(1).padStart(7)}  ${r.exportS.toFixed(2).padStart(8)}  ${r.verifyS.toFixed(2).padStart(8)}  ${((r.exportS * 1e6) / r.size).toFixed(1).padStart(15)}  ${((r.verifyS * 1e6) / r.size).toFixed(1).padStart(15)}  ${r.mb.toFixed(1).padStart(5)}\n`,
		);
	}
}

if (process.argv[2] === "fill") {
	await fill(process.argv[3] as string, Number(process.argv[4]));
} else {
	await main();
}
