/**
 * The audit export (docs/audit.md, "Export format"): NDJSON, one canonical JSON object per line,
 * self-contained so that anyone holding the file can check it offline. Line 1 is a header signed
 * by the server; then, if the export does not start at the beginning of the protocol, the signed
 * checkpoint it starts from; then the events in chain order, with each checkpoint after the event
 * it signs; the last line is the checkpoint the header names as the end.
 *
 * {@link ExportVerifier} checks such a file line by line in constant memory (apart from the
 * session keys it collects), so a file of any length verifies in one pass.
 */
import * as z from "zod";
import {
	CHECKPOINT_TYP,
	type ChainedEvent,
	chainHash,
	checkpointPayloadSchema,
	EXPORT_HEADER_TYP,
	eventContent,
	GENESIS_HASH,
	importPublicJwk,
	jwkThumbprint,
	type PublicJwk,
	publicJwkSchema,
	verifyJws,
} from "./audit-chain.ts";
import { canonicalJson } from "./canonical.ts";
import { statementSchema } from "./control.ts";
import { verifyStatement } from "./signature.ts";

/** The format this file describes; a verifier refuses any other. */
export const EXPORT_FORMAT = "fernwart.audit-export/1";

const hashSchema = z.string().regex(/^[0-9a-f]{64}$/);
const seqSchema = z.int().min(0);
const chainPoint = z.strictObject({ seq: seqSchema, hash: hashSchema });

/** Line 1. `jws` signs every other field (the header without `jws`). */
export const headerLineSchema = z.strictObject({
	kind: z.literal("header"),
	format: z.literal(EXPORT_FORMAT),
	server: z.strictObject({ name: z.string(), version: z.string(), url: z.string().nullable() }),
	exportedAt: z.int(),
	/** What was asked for and what the caller may see (`all`, or one supporter's sessions). */
	scope: z.strictObject({
		from: z.int().nullable(),
		to: z.int().nullable(),
		sessionId: z.string().nullable(),
		visibility: z.string(),
	}),
	/** The checkpoint the file starts after (seq 0 and the genesis hash: the very beginning). */
	start: chainPoint,
	/** The checkpoint the file ends with. */
	end: chainPoint,
	/** Every key that signed a checkpoint or this header, retired ones included. */
	keys: z.array(publicJwkSchema).min(1).max(100),
	jws: z.string(),
});
export type HeaderLine = z.infer<typeof headerLineSchema>;

export const checkpointLineSchema = z.strictObject({
	kind: z.literal("checkpoint"),
	seq: z.int().min(1),
	hash: hashSchema,
	signedAt: z.int(),
	kid: z.string(),
	jws: z.string(),
});
export type CheckpointLine = z.infer<typeof checkpointLineSchema>;

export const eventLineSchema = z.strictObject({
	kind: z.literal("event"),
	seq: z.int().min(1),
	id: z.string(),
	ts: z.int(),
	type: z.string(),
	actor: z.string().nullable(),
	subject: z.string().nullable(),
	sessionId: z.string().nullable(),
	hostId: z.string().nullable(),
	ip: z.string().nullable(),
	data: z.record(z.string(), z.unknown()).nullable(),
	prevHash: hashSchema,
	hash: hashSchema,
});
export type EventLine = z.infer<typeof eventLineSchema>;

/**
 * An event the reader may not see (another supporter's session): only its place in the chain.
 * Its hash cannot be recomputed, but the next line's `prevHash` and the checkpoints still bind it.
 */
export const redactedLineSchema = z.strictObject({
	kind: z.literal("redacted"),
	seq: z.int().min(1),
	prevHash: hashSchema,
	hash: hashSchema,
});
export type RedactedLine = z.infer<typeof redactedLineSchema>;

const bodyLineSchema = z.discriminatedUnion("kind", [
	checkpointLineSchema,
	eventLineSchema,
	redactedLineSchema,
]);

/** One line of the file, newline included. */
export function exportLine(line: HeaderLine | CheckpointLine | EventLine | RedactedLine): string {
	return `${canonicalJson(line)}\n`;
}

/** An event line from a stored row (ts in ms). */
export function toEventLine(
	e: ChainedEvent & { seq: number; prevHash: string; hash: string },
): EventLine {
	return { kind: "event", seq: e.seq, ...eventContent(e), prevHash: e.prevHash, hash: e.hash };
}

/**
 * Which statement each consent event carries (the `type` the consenting module signed). An event
 * of these types without a valid statement is a forged consent.
 */
export const CONSENT_EVENTS: Readonly<Record<string, string>> = {
	"terms.accepted": "terms.accept",
	"view.granted": "view.grant",
	"view.switched": "view.grant",
	"view.denied": "view.deny",
	"view.revoked": "view.revoke",
	"control.granted": "control.grant",
	"control.denied": "control.deny",
	"control.revoked": "control.revoke",
	"file.accepted": "file.accept",
	"file.rejected": "file.reject",
	"session.stopped": "stop",
	"host.connected": "host.auth",
	"host.auth_failed": "host.auth",
};

export interface VerifySummary {
	lines: number;
	events: number;
	redacted: number;
	checkpoints: number;
	/** First and last event seq in the file (0 when it holds none). */
	firstSeq: number;
	lastSeq: number;
	firstTs: number | null;
	lastTs: number | null;
	/** Consent signatures checked against the key of the session's `session.hello`. */
	consents: number;
	/** Consent signatures that verify but whose session hello lies before this file. */
	consentsWithoutHello: number;
	/** STOPs whose statement did not verify (STOP acts anyway; see docs/audit.md). */
	unsignedStops: number;
	/** Withdrawals (control or view revoked) whose statement did not verify; they acted anyway. */
	unsignedRevokes: number;
	/** Key ids that signed the header and checkpoints. */
	kids: string[];
	scope: HeaderLine["scope"];
}

export type VerifyResult =
	| { ok: true; summary: VerifySummary }
	| { ok: false; line: number; reason: string };

export interface VerifyOptions {
	/**
	 * Keys to trust instead of the ones the file carries: a file re-signed end to end with another
	 * key passes only the self-check, so whoever knows the server's key ids should pin them.
	 */
	trustedKeys?: PublicJwk[];
}

type Step = { ok: true } | { ok: false; reason: string };
const fail = (reason: string): Step => ({ ok: false, reason });
const OK: Step = { ok: true };

/**
 * Verifies an export line by line: feed every line with {@link line} (without its newline), then
 * call {@link finish}. The first failure sticks and names its line (1-based).
 */
export class ExportVerifier {
	private lineNo = 0;
	private failure: { line: number; reason: string } | null = null;
	private header: HeaderLine | null = null;
	private keys = new Map<string, CryptoKey>();
	private kidsUsed = new Set<string>();
	private prevHash: string | null = null;
	private lastSeq = 0;
	private done = false;
	private helloKeys = new Map<string, Map<string, string>>();
	private pendingBlank = false;
	private s: Omit<VerifySummary, "kids" | "scope"> = {
		lines: 0,
		events: 0,
		redacted: 0,
		checkpoints: 0,
		firstSeq: 0,
		lastSeq: 0,
		firstTs: null,
		lastTs: null,
		consents: 0,
		consentsWithoutHello: 0,
		unsignedStops: 0,
		unsignedRevokes: 0,
	};
	private readonly options: VerifyOptions;

	constructor(options: VerifyOptions = {}) {
		this.options = options;
	}

	/** Checks the next line; returns false once the file has failed. */
	async line(text: string): Promise<boolean> {
		if (this.failure) return false;
		this.lineNo++;
		// A final newline leaves one empty line behind; any other empty line is an insertion.
		if (this.pendingBlank) return this.stop(this.lineNo - 1, "an empty line");
		if (text === "") {
			this.pendingBlank = true;
			return true;
		}
		this.s.lines = this.lineNo;
		const step = await this.check(text);
		return step.ok ? true : this.stop(this.lineNo, step.reason);
	}

	/** Counts a line that could not even be read (e.g. not UTF-8) as the failing one. */
	unreadable(reason: string): false {
		if (this.failure) return false;
		this.lineNo++;
		return this.stop(this.lineNo, reason);
	}

	/** The verdict, after the last line. */
	async finish(): Promise<VerifyResult> {
		if (this.failure) return { ok: false, ...this.failure };
		const last = this.s.lines;
		if (!this.header) return { ok: false, line: 1, reason: "the file is empty" };
		if (!this.done) {
			return {
				ok: false,
				line: last + 1,
				reason: `the file ends before the checkpoint at seq ${this.header.end.seq} that the header names: lines were removed at the end`,
			};
		}
		return {
			ok: true,
			summary: { ...this.s, kids: [...this.kidsUsed].sort(), scope: this.header.scope },
		};
	}

	private stop(line: number, reason: string): false {
		this.failure = { line, reason };
		return false;
	}

	private async check(text: string): Promise<Step> {
		let value: unknown;
		try {
			value = JSON.parse(text);
		} catch {
			return fail("not valid JSON");
		}
		let canonical: string;
		try {
			canonical = canonicalJson(value);
		} catch {
			return fail("not canonical JSON");
		}
		if (canonical !== text) return fail("not in canonical form: the line was edited");
		if (!this.header) return this.checkHeader(value);
		if (this.done) return fail("a line after the end checkpoint the header names");
		const parsed = bodyLineSchema.safeParse(value);
		if (!parsed.success) return fail(`not an export line (${parsed.error.issues[0]?.message})`);
		const line = parsed.data;
		if (this.prevHash === null) {
			// The anchor: the checkpoint the header says the file starts after.
			const start = this.header.start;
			if (line.kind !== "checkpoint" || line.seq !== start.seq || line.hash !== start.hash)
				return fail(`expected the start checkpoint at seq ${start.seq}`);
			return this.checkCheckpoint(line, true);
		}
		if (line.kind === "checkpoint") return this.checkCheckpoint(line, false);
		return this.checkChainLine(line);
	}

	private async checkHeader(value: unknown): Promise<Step> {
		const parsed = headerLineSchema.safeParse(value);
		if (!parsed.success) {
			const format = (value as { format?: unknown } | null)?.format;
			return fail(
				format !== EXPORT_FORMAT
					? `not a ${EXPORT_FORMAT} header`
					: `bad header (${parsed.error.issues[0]?.path.join(".")}: ${parsed.error.issues[0]?.message})`,
			);
		}
		const header = parsed.data;
		const offered = this.options.trustedKeys ?? header.keys;
		for (const jwk of offered) {
			// A kid must name exactly its key, so a summary's key ids can be compared with the JWKS.
			if ((await jwkThumbprint(jwk)) !== jwk.kid)
				return fail(`key ${jwk.kid} is not named by its RFC 7638 thumbprint`);
			const key = await importPublicJwk(jwk);
			if (!key) return fail(`key ${jwk.kid} is not an Ed25519 key`);
			this.keys.set(jwk.kid, key);
		}
		const { jws, ...signed } = header;
		const check = await verifyJws(jws, EXPORT_HEADER_TYP, this.keys);
		if (!check.ok) return fail(`header: ${check.reason}`);
		if (canonicalJson(check.payload) !== canonicalJson(signed))
			return fail("header: the fields differ from what the server signed");
		this.kidsUsed.add(check.kid);
		this.header = header;
		if (header.start.seq === 0) {
			if (header.start.hash !== GENESIS_HASH) return fail("header: seq 0 must be the genesis hash");
			this.prevHash = GENESIS_HASH;
		}
		if (header.end.seq < header.start.seq) return fail("header: the end lies before the start");
		this.done = header.end.seq === header.start.seq && header.start.seq === 0;
		return OK;
	}

	private async checkCheckpoint(line: CheckpointLine, anchor: boolean): Promise<Step> {
		if (!anchor && (line.seq !== this.lastSeq || line.hash !== this.prevHash))
			return fail("the checkpoint does not match the chain before it");
		const check = await verifyJws(line.jws, CHECKPOINT_TYP, this.keys);
		if (!check.ok) return fail(`checkpoint: ${check.reason}`);
		const payload = checkpointPayloadSchema.safeParse(check.payload);
		if (
			!payload.success ||
			payload.data.seq !== line.seq ||
			payload.data.hash !== line.hash ||
			payload.data.signedAt !== line.signedAt ||
			check.kid !== line.kid
		)
			return fail("checkpoint: the fields differ from what the server signed");
		this.kidsUsed.add(check.kid);
		this.s.checkpoints++;
		this.prevHash = line.hash;
		this.lastSeq = line.seq;
		const end = (this.header as HeaderLine).end;
		if (line.seq === end.seq) {
			if (line.hash !== end.hash) return fail("the end checkpoint differs from the header's");
			this.done = true;
		} else if (line.seq > end.seq) {
			return fail("a checkpoint beyond the end the header names");
		}
		return OK;
	}

	private async checkChainLine(line: EventLine | RedactedLine): Promise<Step> {
		if (line.seq <= this.lastSeq) return fail(`seq ${line.seq} does not follow ${this.lastSeq}`);
		if (line.prevHash !== this.prevHash)
			return fail(
				"prevHash does not continue the chain: a line before it was removed, added or moved",
			);
		if (line.kind === "event") {
			const hash = await chainHash(line.prevHash, eventContent(line));
			if (hash !== line.hash) return fail("the event was changed: its hash does not match");
			const consent = await this.checkConsent(line);
			if (!consent.ok) return consent;
			this.s.events++;
			this.s.firstTs ??= line.ts;
			this.s.lastTs = line.ts;
		} else {
			this.s.redacted++;
		}
		if (this.s.firstSeq === 0) this.s.firstSeq = line.seq;
		this.s.lastSeq = line.seq;
		this.prevHash = line.hash;
		this.lastSeq = line.seq;
		return OK;
	}

	/**
	 * A consent event must carry the statement the consenting module signed, and the key that
	 * verifies it must be the one that module announced in the session's `session.hello`.
	 */
	private async checkConsent(e: EventLine): Promise<Step> {
		const data = e.data ?? {};
		if (e.type === "session.hello" && e.sessionId && typeof data.ed25519 === "string") {
			const role = String(data.role);
			const roles = this.helloKeys.get(e.sessionId) ?? new Map<string, string>();
			this.helloKeys.set(e.sessionId, roles);
			if (!roles.has(role)) roles.set(role, data.ed25519);
			return OK;
		}
		const expected = CONSENT_EVENTS[e.type];
		if (data.statement === undefined) {
			if (expected === undefined) return OK;
			if (e.type === "session.stopped" && data.signatureValid === false) {
				this.s.unsignedStops++;
				return OK;
			}
			if (
				(e.type === "control.revoked" || e.type === "view.revoked") &&
				data.signatureValid === false
			) {
				this.s.unsignedRevokes++;
				return OK;
			}
			return fail(`${e.type} carries no signed consent statement`);
		}
		const statement = statementSchema.safeParse(data.statement);
		if (!statement.success) return fail(`${e.type}: the consent statement is malformed`);
		if (statement.data.sessionId !== e.sessionId)
			return fail(`${e.type}: the consent statement is about another session`);
		if (expected !== undefined && statement.data.type !== expected)
			return fail(`${e.type}: the consent statement is a ${statement.data.type}`);
		if (typeof data.publicKey !== "string" || typeof data.signature !== "string")
			return fail(`${e.type}: the consent has no key or signature`);
		if (!(await verifyStatement(data.publicKey, statement.data, data.signature)))
			return fail(`${e.type}: the consent signature does not verify`);
		const role = (e.actor ?? "").split(":")[0] ?? "";
		const sessionKey = this.helloKeys.get(e.sessionId ?? "")?.get(role);
		if (sessionKey === undefined) {
			this.s.consentsWithoutHello++;
		} else if (sessionKey !== data.publicKey) {
			return fail(
				`${e.type}: the consent was signed with a key other than the ${role}'s session key`,
			);
		} else {
			this.s.consents++;
		}
		return OK;
	}
}

/** Verifies a whole export held in memory (tests, small files). */
export async function verifyExportText(
	text: string,
	options: VerifyOptions = {},
): Promise<VerifyResult> {
	const verifier = new ExportVerifier(options);
	for (const line of text.split("\n")) if (!(await verifier.line(line))) break;
	return verifier.finish();
}

/** One line for people: what was verified. */
export function describeSummary(s: VerifySummary): string {
	const when = (ts: number | null) => (ts === null ? "-" : new Date(ts).toISOString());
	/** "1 event", "2 events": the count with the noun in the right number. */
	const n = (count: number, one: string, many = `${one}s`) =>
		`${count} ${count === 1 ? one : many}`;
	const parts = [
		n(s.events, "event"),
		...(s.redacted ? [`${s.redacted} redacted`] : []),
		s.lastSeq ? `seq ${s.firstSeq}-${s.lastSeq}` : "no events",
		`${when(s.firstTs)} to ${when(s.lastTs)}`,
		n(s.checkpoints, "signed checkpoint"),
		`${n(s.consents, "consent signature")} bound to session keys`,
		...(s.consentsWithoutHello
			? [`${n(s.consentsWithoutHello, "consent")} whose session key lies before this file`]
			: []),
		...(s.unsignedStops ? [n(s.unsignedStops, "unsigned STOP")] : []),
		...(s.unsignedRevokes ? [n(s.unsignedRevokes, "unsigned revoke")] : []),
		`${s.kids.length === 1 ? "key" : "keys"} ${s.kids.join(",")}`,
	];
	return `intact: ${parts.join(", ")}`;
}
