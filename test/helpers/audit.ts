import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
	type AuditSigner,
	type ChainedEvent,
	chainHash,
	EXPORT_HEADER_TYP,
	eventContent,
	GENESIS_HASH,
	jwkThumbprint,
	type PublicJwk,
	signCheckpoint,
	signJws,
} from "../../protocol/audit-chain.ts";
import {
	type CheckpointLine,
	EXPORT_FORMAT,
	exportLine,
	type HeaderLine,
	toEventLine,
} from "../../protocol/audit-export.ts";
import { canonicalJson } from "../../protocol/canonical.ts";
import { ROOT } from "./server.ts";

/** A fresh Ed25519 server key with its RFC 7638 kid, as server/keys.ts makes them. */
export async function makeSigner(): Promise<AuditSigner> {
	const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
		"sign",
		"verify",
	])) as CryptoKeyPair;
	const jwk = (await crypto.subtle.exportKey("jwk", pair.publicKey)) as { x: string };
	const base = { kty: "OKP" as const, crv: "Ed25519" as const, x: jwk.x };
	const kid = await jwkThumbprint(base);
	return {
		kid,
		privateKey: pair.privateKey,
		publicJwk: { ...base, kid, alg: "EdDSA", use: "sig" },
	};
}

/**
 * Builds an export the way the server does, from events in chain order: a checkpoint after every
 * `every` events and at the end. `startAfter` anchors it at an earlier signed checkpoint.
 */
export async function buildExport(
	signer: AuditSigner,
	events: Omit<ChainedEvent, "id">[],
	options: { every?: number; startAfter?: number; keys?: PublicJwk[] } = {},
): Promise<string> {
	const every = options.every ?? 3;
	const rows: string[] = [];
	let prev = GENESIS_HASH;
	const checkpoints: CheckpointLine[] = [];
	const chain: { seq: number; hash: string; line: string }[] = [];
	for (const [i, e] of events.entries()) {
		const seq = i + 1;
		const content = eventContent({ ...e, id: `evt-${seq}` });
		const hash = await chainHash(prev, content);
		chain.push({
			seq,
			hash,
			line: exportLine(toEventLine({ ...content, seq, prevHash: prev, hash })),
		});
		prev = hash;
		if (seq % every === 0 || seq === events.length) {
			const signedAt = 1_700_000_000_000 + seq;
			checkpoints.push({
				kind: "checkpoint",
				seq,
				hash,
				signedAt,
				kid: signer.kid,
				jws: await signCheckpoint(signer, { seq, hash }, signedAt),
			});
		}
	}
	const startAfter = options.startAfter ?? 0;
	const anchor = checkpoints.find((c) => c.seq === startAfter);
	if (startAfter && !anchor) throw new Error("startAfter must be a checkpoint");
	const end = checkpoints.at(-1);
	const fields: Omit<HeaderLine, "jws"> = {
		kind: "header",
		format: EXPORT_FORMAT,
		server: { name: "fernwart", version: "test", url: null },
		exportedAt: 1_700_000_000_000,
		scope: { from: null, to: null, sessionId: null, visibility: "all" },
		start: anchor ? { seq: anchor.seq, hash: anchor.hash } : { seq: 0, hash: GENESIS_HASH },
		end: end ? { seq: end.seq, hash: end.hash } : { seq: 0, hash: GENESIS_HASH },
		keys: options.keys ?? [signer.publicJwk],
	};
	rows.push(exportLine({ ...fields, jws: await signJws(signer, EXPORT_HEADER_TYP, fields) }));
	if (anchor) rows.push(exportLine(anchor));
	for (const c of chain) {
		if (c.seq <= startAfter) continue;
		rows.push(c.line);
		const cp = checkpoints.find((k) => k.seq === c.seq);
		if (cp) rows.push(exportLine(cp));
	}
	return rows.join("");
}

/** The lines of an export (1-based line n is `lines[n - 1]`), without the final empty one. */
export function linesOf(text: string): string[] {
	return text.replace(/\n$/, "").split("\n");
}

const joinLines = (lines: string[]) => `${lines.join("\n")}\n`;

/** Changes one byte (character) of line `n`. */
export function editByte(text: string, n: number, find: string, replace: string): string {
	const lines = linesOf(text);
	const line = lines[n - 1] ?? "";
	const at = line.indexOf(find);
	if (at < 0 || find.length !== 1 || replace.length !== 1) throw new Error("no such byte");
	lines[n - 1] = line.slice(0, at) + replace + line.slice(at + 1);
	return joinLines(lines);
}

export function deleteLine(text: string, n: number): string {
	const lines = linesOf(text);
	lines.splice(n - 1, 1);
	return joinLines(lines);
}

export function swapLines(text: string, a: number, b: number): string {
	const lines = linesOf(text);
	const la = lines[a - 1] as string;
	lines[a - 1] = lines[b - 1] as string;
	lines[b - 1] = la;
	return joinLines(lines);
}

export function insertLine(text: string, n: number, line: string): string {
	const lines = linesOf(text);
	lines.splice(n - 1, 0, line);
	return joinLines(lines);
}

/** Re-signs the checkpoint on line `n` with `key`, keeping its kid: a forger without the key. */
export async function resignCheckpoint(
	text: string,
	n: number,
	key: Pick<AuditSigner, "privateKey">,
): Promise<string> {
	const lines = linesOf(text);
	const cp = JSON.parse(lines[n - 1] as string) as CheckpointLine;
	if (cp.kind !== "checkpoint") throw new Error(`line ${n} is not a checkpoint`);
	const jws = await signCheckpoint(
		{ kid: cp.kid, privateKey: key.privateKey },
		{ seq: cp.seq, hash: cp.hash },
		cp.signedAt,
	);
	lines[n - 1] = canonicalJson({ ...cp, jws });
	return joinLines(lines);
}

/** The 1-based numbers of the lines of a kind (`event`, `checkpoint`, …). */
export function lineNumbers(text: string, kind: string, type?: string): number[] {
	return linesOf(text).flatMap((l, i) => {
		const v = JSON.parse(l) as { kind: string; type?: string };
		return v.kind === kind && (type === undefined || v.type === type) ? [i + 1] : [];
	});
}

/**
 * Writes `text` to `dir/name` and runs `npm run fernwart -- audit verify` on it (the same entry
 * file and Node); returns the exit code and everything it printed.
 */
export function verifyCli(
	dir: string,
	name: string,
	text: string,
	extra: string[] = [],
): { code: number; out: string } {
	const file = join(dir, name);
	writeFileSync(file, text);
	try {
		const argv = [join(ROOT, "server/cli.ts"), "audit", "verify", file, ...extra];
		const out = execFileSync(process.execPath, argv, {
			cwd: ROOT,
			encoding: "utf8",
			stdio: ["ignore", "pipe", "pipe"],
		});
		return { code: 0, out };
	} catch (err) {
		const e = err as { status: number; stdout: string; stderr: string };
		return { code: e.status, out: e.stdout + e.stderr };
	}
}
