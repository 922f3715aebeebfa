import { describe, expect, it } from "vitest";
import {
	createStatement,
	exportPublicKey,
	generateSigningKeyPair,
	signStatement,
} from "../../modules/sdk/crypto.ts";
import type { ChainedEvent } from "../../protocol/audit-chain.ts";
import {
	describeSummary,
	type VerifySummary,
	verifyExportText,
} from "../../protocol/audit-export.ts";
import type { Statement } from "../../protocol/control.ts";
import {
	buildExport,
	deleteLine,
	editByte,
	insertLine,
	lineNumbers,
	linesOf,
	makeSigner,
	resignCheckpoint,
	swapLines,
} from "../helpers/audit.ts";

const SESSION = "sess-1";
let clock = 1_700_000_000_000;

function event(type: string, data: Record<string, unknown> | null, actor: string | null = null) {
	return {
		ts: clock++,
		type,
		actor,
		subject: "u1",
		sessionId: SESSION,
		hostId: null,
		ip: "192.0.2.1",
		data,
	} satisfies Omit<ChainedEvent, "id">;
}

/** A small session: hellos, a signed view grant and control grant, a comment and a signed STOP. */
async function sessionEvents(signWith?: CryptoKeyPair) {
	const customer = await generateSigningKeyPair();
	const supporter = await generateSigningKeyPair();
	const customerKey = await exportPublicKey(customer.publicKey);
	const signer = signWith ?? customer;
	const consent = async (type: Statement["type"]) => {
		const statement = createStatement(type, SESSION, {});
		return {
			statement,
			signature: await signStatement(signer.privateKey, statement),
			publicKey: await exportPublicKey(signer.publicKey),
		};
	};
	return [
		event("session.issued", { view: "customer" }, "u1"),
		event(
			"session.hello",
			{ role: "supporter", ed25519: await exportPublicKey(supporter.publicKey) },
			"supporter:u1",
		),
		event("session.hello", { role: "customer", ed25519: customerKey }, "customer:c1"),
		event("view.granted", { shower: "customer", ...(await consent("view.grant")) }, "customer:c1"),
		event(
			"control.granted",
			{ controller: "supporter", ...(await consent("control.grant")) },
			"customer:c1",
		),
		event("comment.added", { text: "printer driver updated" }, "supporter:u1"),
		event("session.stopped", { by: "customer", ...(await consent("stop")) }, "customer:c1"),
		event("session.ended", { reason: "stopped" }, "customer:c1"),
	];
}

describe("audit export verification", () => {
	it("passes an intact export and summarises it", async () => {
		const signer = await makeSigner();
		const text = await buildExport(signer, await sessionEvents());
		const result = await verifyExportText(text);
		expect(result).toMatchObject({
			ok: true,
			summary: {
				events: 8,
				checkpoints: 3,
				consents: 3,
				firstSeq: 1,
				lastSeq: 8,
				kids: [signer.kid],
			},
		});
	});

	it("names the line when one byte of an event is edited", async () => {
		const text = await buildExport(await makeSigner(), await sessionEvents());
		const comment = lineNumbers(text, "event", "comment.added")[0] as number;
		const edited = editByte(text, comment, "p", "q"); // "printer" becomes "qrinter"
		expect(await verifyExportText(edited)).toEqual({
			ok: false,
			line: comment,
			reason: "the event was changed: its hash does not match",
		});
	});

	it("names the line when a line is deleted, inserted or two are swapped", async () => {
		const text = await buildExport(await makeSigner(), await sessionEvents());
		const [first, second] = lineNumbers(text, "event") as [number, number];
		const deleted = await verifyExportText(deleteLine(text, second));
		expect(deleted).toMatchObject({ ok: false, line: second });
		expect(deleted.ok || deleted.reason).toMatch(/prevHash does not continue the chain/);

		const swapped = await verifyExportText(swapLines(text, first, second));
		expect(swapped).toMatchObject({ ok: false, line: first });

		const inserted = await verifyExportText(
			insertLine(text, second, linesOf(text)[first - 1] as string),
		);
		expect(inserted).toMatchObject({ ok: false, line: second });
	});

	it("names the line when the end is cut off or the header edited", async () => {
		const text = await buildExport(await makeSigner(), await sessionEvents());
		const lines = linesOf(text);
		const truncated = `${lines.slice(0, -2).join("\n")}\n`;
		expect(await verifyExportText(truncated)).toMatchObject({ ok: false, line: lines.length - 1 });
		const header = editByte(text, 1, "t", "T"); // "test" version
		expect(await verifyExportText(header)).toMatchObject({ ok: false, line: 1 });
	});

	it("refuses a checkpoint re-signed with another key, naming its line", async () => {
		const text = await buildExport(await makeSigner(), await sessionEvents());
		const checkpoint = lineNumbers(text, "checkpoint")[1] as number;
		const forged = await resignCheckpoint(text, checkpoint, await makeSigner());
		const result = await verifyExportText(forged);
		expect(result).toMatchObject({ ok: false, line: checkpoint });
		expect(result.ok || result.reason).toMatch(/^checkpoint: signature does not verify/);
	});

	it("refuses a consent signed by a key other than the session's, even on an honest chain", async () => {
		// The server re-hashes and re-signs everything: only the customer's key can show the forgery.
		const forger = await generateSigningKeyPair();
		const text = await buildExport(await makeSigner(), await sessionEvents(forger));
		const grant = lineNumbers(text, "event", "view.granted")[0];
		const result = await verifyExportText(text);
		expect(result).toMatchObject({ ok: false, line: grant });
		expect(result.ok || result.reason).toMatch(
			/signed with a key other than the customer's session key/,
		);
	});

	it("refuses a consent event without a statement", async () => {
		const events = await sessionEvents();
		events[4] = event("control.granted", { controller: "supporter" }, "customer:c1");
		const text = await buildExport(await makeSigner(), events);
		const result = await verifyExportText(text);
		expect(result).toMatchObject({
			ok: false,
			line: lineNumbers(text, "event", "control.granted")[0],
		});
	});

	it("verifies an export that starts at a signed checkpoint", async () => {
		const text = await buildExport(await makeSigner(), await sessionEvents(), { startAfter: 3 });
		expect(await verifyExportText(text)).toMatchObject({
			ok: true,
			summary: { events: 5, firstSeq: 4, consents: 0, consentsWithoutHello: 3 },
		});
		// Without its anchor the first event hangs in the air.
		expect(await verifyExportText(deleteLine(text, 2))).toMatchObject({ ok: false, line: 2 });
	});

	it("passes a file re-signed end to end with another key only until the keys are pinned", async () => {
		const server = await makeSigner();
		const forger = await makeSigner();
		const events = await sessionEvents();
		const forged = await buildExport(forger, events);
		expect((await verifyExportText(forged)).ok).toBe(true);
		expect(await verifyExportText(forged, { trustedKeys: [server.publicJwk] })).toMatchObject({
			ok: false,
			line: 1,
			reason: `header: signed with unknown key ${forger.kid}`,
		});
	});

	it("refuses a key whose kid is not its thumbprint", async () => {
		const signer = await makeSigner();
		const text = await buildExport(signer, await sessionEvents(), {
			keys: [{ ...signer.publicJwk, kid: "chosen-by-hand" }],
		});
		expect(await verifyExportText(text)).toMatchObject({ ok: false, line: 1 });
	});
});

describe("the verification summary", () => {
	const summary: VerifySummary = {
		lines: 4,
		events: 1,
		redacted: 0,
		checkpoints: 1,
		firstSeq: 1,
		lastSeq: 1,
		firstTs: 0,
		lastTs: 0,
		consents: 1,
		consentsWithoutHello: 1,
		unsignedStops: 1,
		unsignedRevokes: 2,
		kids: ["k1"],
		scope: { from: null, to: null, sessionId: null, visibility: "all" },
	};

	it("counts in the right number: one event, two revokes", () => {
		const text = describeSummary(summary);
		expect(text).toContain("1 event,");
		expect(text).toContain("1 signed checkpoint,");
		expect(text).toContain("1 consent signature bound");
		expect(text).toContain("1 consent whose");
		expect(text).toContain("1 unsigned STOP,");
		expect(text).toContain("2 unsigned revokes");
		expect(text).toContain("key k1");
		expect(describeSummary({ ...summary, events: 2, kids: ["a", "b"] })).toMatch(
			/2 events,.*keys a,b/,
		);
	});
});
