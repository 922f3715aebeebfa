/**
 * `fernwart support --protocol-dir DIR`: the supporter keeps its own verifiable copy of each
 * session's protocol. After the session ends, the module fetches the session's audit export
 * (events of other sessions are redacted to their place in the chain), checks it with the same
 * verifier `fernwart audit verify` uses, and writes it into DIR. The copy stays checkable
 * offline for good, whatever later happens to the server's database.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describeSummary, type EventLine, verifyExportText } from "../../protocol/audit-export.ts";
import type { FetchLike } from "../sdk/api.ts";

/** How long to wait for the session's last events to reach the protocol (STOP writes after acting). */
const SETTLE_TRIES = 10;
const SETTLE_MS = 300;

export interface ProtocolCopy {
	path: string;
	summary: string;
}

function endsSession(text: string, sessionId: string): boolean {
	return text.split("\n").some((line) => {
		if (!line.includes('"session.ended"')) return false;
		const e = JSON.parse(line) as EventLine;
		return e.kind === "event" && e.type === "session.ended" && e.sessionId === sessionId;
	});
}

/**
 * Fetches, verifies and writes the session's protocol; throws with a reason when the server's
 * answer does not verify (the file is then not written: a copy that cannot prove anything is
 * worse than none, because it looks like proof).
 */
export async function saveSessionProtocol(input: {
	fetch: FetchLike;
	origin: string;
	sessionId: string;
	dir: string;
	/** The current access token; called again after a 401 to refresh it once. */
	token: (refresh: boolean) => Promise<string>;
}): Promise<ProtocolCopy> {
	const url = new URL(
		`/api/v1/audit/export?sessionId=${encodeURIComponent(input.sessionId)}`,
		input.origin,
	).toString();
	const get = async (refresh: boolean) =>
		input.fetch(url, {
			method: "GET",
			headers: { authorization: `Bearer ${await input.token(refresh)}` },
		});
	let text = "";
	for (let attempt = 0; attempt < SETTLE_TRIES; attempt++) {
		let res = await get(false);
		if (res.status === 401) res = await get(true);
		if (res.status !== 200) throw new Error(`the server answered ${res.status} to the export`);
		text = await res.text();
		if (endsSession(text, input.sessionId)) break;
		await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
	}
	const result = await verifyExportText(text);
	if (!result.ok)
		throw new Error(`the export does not verify: line ${result.line}: ${result.reason}`);
	mkdirSync(input.dir, { recursive: true, mode: 0o700 });
	const safeId = input.sessionId.replace(/[^A-Za-z0-9_-]/g, "_");
	const stamp = new Date().toISOString().replace(/[:.]/g, "-");
	const path = join(input.dir, `fernwart-session-${safeId}-${stamp}.ndjson`);
	writeFileSync(path, text, { mode: 0o600, flag: "wx" });
	return { path, summary: describeSummary(result.summary) };
}
