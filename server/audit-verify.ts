import { createReadStream, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { type PublicJwk, publicJwkSchema } from "../protocol/audit-chain.ts";
import { describeSummary, ExportVerifier, type VerifyResult } from "../protocol/audit-export.ts";

const USAGE = `Usage: npm run fernwart -- audit verify FILE [--keys JWKS]

Checks an audit export (GET /api/v1/audit/export) offline: the hash chain, the signed
checkpoints and header, and every consent signature against its session key. Exit 0 and one
line when the file is intact; exit 1 naming the first bad line. --keys pins the server's keys
(a saved /api/v1/audit/keys or /.well-known/jwks.json) instead of trusting the file's own.`;

/** Feeds `path` to a verifier line by line, in constant memory for any file size. */
export async function verifyExportFile(
	path: string,
	trustedKeys?: PublicJwk[],
): Promise<VerifyResult> {
	const verifier = new ExportVerifier(trustedKeys ? { trustedKeys } : {});
	// Fatal: bytes that are not UTF-8 are an edit, not something to paper over with U+FFFD.
	const decoder = new TextDecoder("utf-8", { fatal: true });
	const feed = (bytes: Buffer) => {
		let text: string;
		try {
			text = decoder.decode(bytes);
		} catch {
			return verifier.unreadable("not valid UTF-8");
		}
		return verifier.line(text);
	};
	let rest: Buffer = Buffer.alloc(0);
	for await (const chunk of createReadStream(path)) {
		let data = Buffer.concat([rest, chunk as Buffer]);
		for (let nl = data.indexOf(10); nl !== -1; nl = data.indexOf(10)) {
			if (!(await feed(data.subarray(0, nl)))) return verifier.finish();
			data = data.subarray(nl + 1);
		}
		rest = Buffer.from(data);
	}
	await feed(rest);
	return verifier.finish();
}

function readKeys(path: string): PublicJwk[] {
	const parsed = JSON.parse(readFileSync(path, "utf8")) as { keys?: unknown };
	const keys = Array.isArray(parsed.keys) ? parsed.keys : [];
	return keys.flatMap((k) => {
		const jwk = publicJwkSchema.safeParse(k);
		return jwk.success ? [jwk.data] : [];
	});
}

/** `fernwart audit …`; returns the exit code. */
export async function runAuditCommand(argv: string[]): Promise<number> {
	let values: { keys?: string; help?: boolean };
	let positionals: string[];
	try {
		({ values, positionals } = parseArgs({
			args: argv,
			allowPositionals: true,
			options: { keys: { type: "string" }, help: { type: "boolean", short: "h" } },
		}));
	} catch (err) {
		process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
		return 2;
	}
	const [area, command, file] = positionals;
	if (values.help || area !== "audit" || command !== "verify" || !file) {
		(values.help ? process.stdout : process.stderr).write(`${USAGE}\n`);
		return values.help ? 0 : 2;
	}
	let result: VerifyResult;
	try {
		const keys = values.keys ? readKeys(values.keys) : undefined;
		if (keys && keys.length === 0) {
			process.stderr.write(`${values.keys}: no Ed25519 keys in it\n`);
			return 2;
		}
		result = await verifyExportFile(file, keys);
	} catch (err) {
		process.stderr.write(`fernwart: cannot read ${file}: ${(err as Error).message}\n`);
		return 2;
	}
	if (!result.ok) {
		process.stdout.write(`${file}: line ${result.line}: ${result.reason}\n`);
		return 1;
	}
	process.stdout.write(`${file}: ${describeSummary(result.summary)}\n`);
	return 0;
}
