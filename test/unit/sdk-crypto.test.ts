import { describe, expect, it } from "vitest";
import {
	canonicalJson,
	createStatement,
	deriveSessionKeys,
	type EphemeralKeyPair,
	exportPublicKey,
	exportSigningPrivateKey,
	generateEphemeralKeyPair,
	generateSigningKeyPair,
	importSigningPrivateKey,
	importVerifyKey,
	keyCommitment,
	nonceFor,
	SessionCipher,
	type SessionKeys,
	signEphemeral,
	signStatement,
	transcriptBytes,
	verifyEphemeral,
	verifyKeyCommitment,
	verifyStatement,
} from "../../modules/sdk/index.ts";
import type { Role } from "../../protocol/control.ts";
import { fromBase64url, toBase64url } from "../../protocol/encoding.ts";
import { CHANNELS, HEADER_BYTES, MAX_SEQ, parseHeader } from "../../protocol/frame.ts";

interface Side {
	role: Role;
	x25519: EphemeralKeyPair;
	ed25519: Uint8Array;
}

async function makeSide(role: Role): Promise<Side> {
	const signing = await generateSigningKeyPair();
	const ed25519 = fromBase64url(await exportPublicKey(signing.publicKey));
	if (ed25519 === null) throw new Error("unreachable: exportPublicKey returns base64url");
	return { role, x25519: await generateEphemeralKeyPair(), ed25519 };
}

function keysFor(sessionId: string, own: Side, peer: Side): Promise<SessionKeys> {
	return deriveSessionKeys({
		sessionId,
		own: { role: own.role, keyPair: own.x25519, ed25519: own.ed25519 },
		peer: { role: peer.role, x25519: peer.x25519.publicKey, ed25519: peer.ed25519 },
	});
}

/** A supporter and a customer (or host) with ciphers built from their own key schedules. */
async function openPair(peerRole: Role = "customer", sessionId = "session-1") {
	const supporter = await makeSide("supporter");
	const peer = await makeSide(peerRole);
	const supporterKeys = await keysFor(sessionId, supporter, peer);
	const peerKeys = await keysFor(sessionId, peer, supporter);
	return {
		supporter,
		peer,
		supporterKeys,
		peerKeys,
		tech: new SessionCipher(supporterKeys),
		customer: new SessionCipher(peerKeys),
	};
}

const text = (value: string) => new TextEncoder().encode(value);

describe("key schedule", () => {
	it("gives both sides the same transcript hash and the same 6-digit SAS", async () => {
		const { supporterKeys, peerKeys } = await openPair();
		expect(supporterKeys.sas).toMatch(/^\d{6}$/);
		expect(peerKeys.sas).toBe(supporterKeys.sas);
		expect(peerKeys.transcriptHash).toEqual(supporterKeys.transcriptHash);
		expect(supporterKeys.transcriptHash).toHaveLength(32);
	});

	it("lets each side open what the other sealed, in both directions, for customers and hosts", async () => {
		for (const role of ["customer", "host"] as const) {
			const { tech, customer } = await openPair(role);
			const down = await tech.seal(CHANNELS.input, 0, text("click 10,20"));
			const up = await customer.seal(CHANNELS.screen, 1, text("frame bytes"));
			const atCustomer = await customer.open(down);
			const atTech = await tech.open(up);
			expect(atCustomer.ok && new TextDecoder().decode(atCustomer.plaintext)).toBe("click 10,20");
			expect(atTech.ok && new TextDecoder().decode(atTech.plaintext)).toBe("frame bytes");
		}
	});

	it("uses a different key per direction, so a frame reflected to its sender does not open", async () => {
		const { tech } = await openPair();
		const frame = await tech.seal(CHANNELS.chat, 0, text("hi"));
		expect(await tech.open(frame)).toEqual({ ok: false, reason: "auth-failed" });
	});

	it("gives different SAS and keys for another session or another key", async () => {
		const supporter = await makeSide("supporter");
		const customer = await makeSide("customer");
		const base = await keysFor("s-1", supporter, customer);
		const otherSession = await keysFor("s-2", supporter, customer);
		const otherKey = await keysFor("s-1", supporter, await makeSide("customer"));
		expect(otherSession.transcriptHash).not.toEqual(base.transcriptHash);
		expect(otherKey.transcriptHash).not.toEqual(base.transcriptHash);
		// Two random 6-digit values collide with probability 10^-6; three sessions make it a test.
		const sas = new Set([base.sas, otherSession.sas, otherKey.sas]);
		expect(sas.size).toBe(3);
		const frame = await new SessionCipher(base).seal(CHANNELS.chat, 0, text("x"));
		const wrongSession = await keysFor("s-2", customer, supporter);
		expect(await new SessionCipher(wrongSession).open(frame)).toEqual({
			ok: false,
			reason: "auth-failed",
		});
	});

	it("binds the roles and the signing keys into the transcript", async () => {
		const supporter = await makeSide("supporter");
		const customer = await makeSide("customer");
		const asCustomer = await keysFor("s", supporter, customer);
		const asHost = await keysFor("s", supporter, { ...customer, role: "host" });
		expect(asHost.transcriptHash).not.toEqual(asCustomer.transcriptHash);
		// A supporter who believes it reached a host cannot talk to a customer with the same keys.
		const customerView = await keysFor("s", customer, supporter);
		const frame = await new SessionCipher(asHost).seal(CHANNELS.chat, 0, text("x"));
		expect(await new SessionCipher(customerView).open(frame)).toEqual({
			ok: false,
			reason: "auth-failed",
		});
		const swapped = await keysFor("s", supporter, {
			...customer,
			ed25519: (await makeSide("customer")).ed25519,
		});
		expect(swapped.transcriptHash).not.toEqual(asCustomer.transcriptHash);
	});

	it("orders the transcript by role, not by who computes it", async () => {
		const supporter = await makeSide("supporter");
		const host = await makeSide("host");
		const a = {
			role: supporter.role,
			x25519: supporter.x25519.publicKey,
			ed25519: supporter.ed25519,
		};
		const b = { role: host.role, x25519: host.x25519.publicKey, ed25519: host.ed25519 };
		const bytes = transcriptBytes("sid", a, b);
		expect(transcriptBytes("sid", b, a)).toEqual(bytes);
		const label = new TextEncoder().encode("fernwart.v1/transcript");
		expect(bytes.subarray(0, label.length)).toEqual(label);
		// label, then lp("sid"), then lp("supporter") and the supporter's keys come first
		expect(Array.from(bytes.subarray(label.length, label.length + 5))).toEqual([
			0, 3, 115, 105, 100,
		]);
		expect(bytes.subarray(label.length + 5 + 2 + 9 + 2, label.length + 5 + 2 + 9 + 2 + 32)).toEqual(
			supporter.x25519.publicKey,
		);
	});

	it("refuses two parties on the same side and malformed or small-order peer keys", async () => {
		const supporter = await makeSide("supporter");
		const other = await makeSide("supporter");
		await expect(keysFor("s", supporter, other)).rejects.toThrow(/supporter and a customer/);
		const customer = await makeSide("customer");
		const host = await makeSide("host");
		await expect(keysFor("s", customer, host)).rejects.toThrow(/supporter and a customer/);
		const base = { role: "customer" as const, ed25519: customer.ed25519 };
		const own = {
			role: "supporter" as const,
			keyPair: supporter.x25519,
			ed25519: supporter.ed25519,
		};
		await expect(
			deriveSessionKeys({ sessionId: "s", own, peer: { ...base, x25519: new Uint8Array(31) } }),
		).rejects.toThrow(/x25519/);
		// u = 0 and u = 1 are small-order points: they force the all-zero shared secret.
		for (const point of [
			new Uint8Array(32),
			Uint8Array.from({ length: 32 }, (_, i) => (i ? 0 : 1)),
		]) {
			await expect(
				deriveSessionKeys({ sessionId: "s", own, peer: { ...base, x25519: point } }),
			).rejects.toThrow(/rejected/);
		}
	});

	it("commits the supporter to its key before the customer sends one", async () => {
		const supporter = await makeSide("supporter");
		const commitment = await keyCommitment("s-1", supporter.x25519.publicKey);
		expect(fromBase64url(commitment)).toHaveLength(32);
		expect(await verifyKeyCommitment("s-1", supporter.x25519.publicKey, commitment)).toBe(true);
		const other = await generateEphemeralKeyPair();
		expect(await verifyKeyCommitment("s-1", other.publicKey, commitment)).toBe(false);
		expect(await verifyKeyCommitment("s-2", supporter.x25519.publicKey, commitment)).toBe(false);
		expect(await verifyKeyCommitment("s-1", supporter.x25519.publicKey, "not base64!")).toBe(false);
	});
});

describe("SessionCipher", () => {
	it("writes header ‖ ciphertext ‖ tag with a seq that counts every frame", async () => {
		const { tech } = await openPair();
		const first = await tech.seal(CHANNELS.screen, 3, text("abc"));
		const second = await tech.seal(CHANNELS.chat, 0, new Uint8Array(0));
		expect(first).toHaveLength(HEADER_BYTES + 3 + 16);
		expect(second).toHaveLength(HEADER_BYTES + 16);
		expect(parseHeader(first)).toEqual({
			ok: true,
			header: { version: 1, channel: CHANNELS.screen, stream: 3, seq: 0n },
		});
		expect(parseHeader(second)).toMatchObject({ ok: true, header: { seq: 1n } });
		expect(tech.nextSendSeq).toBe(2n);
		// The plaintext does not appear in the frame.
		expect(Buffer.from(first).includes(Buffer.from("abc"))).toBe(false);
	});

	it("derives the nonce from the seq: four zero bytes and the seq big-endian", () => {
		expect(Array.from(nonceFor(0x0102030405060708n))).toEqual([0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
	});

	it("rejects a frame with any single ciphertext or tag bit flipped", async () => {
		const { tech, customer } = await openPair();
		const frame = await tech.seal(CHANNELS.file, 9, text("payload"));
		for (let i = HEADER_BYTES; i < frame.length; i++) {
			const bad = frame.slice();
			bad[i] = (bad[i] ?? 0) ^ (1 << (i % 8));
			expect(await customer.open(bad)).toEqual({ ok: false, reason: "auth-failed" });
		}
		// The untouched frame still opens: failures do not move the replay window.
		expect((await customer.open(frame)).ok).toBe(true);
	});

	it("rejects a frame whose clear header was edited (the header is the AAD)", async () => {
		const { tech, customer } = await openPair();
		const frame = await tech.seal(CHANNELS.screen, 1, text("pixels"));
		// channel screen→input (a relay trying to turn a frame into control), stream, and seq
		for (const [index, value] of [
			[1, CHANNELS.input],
			[5, 2],
			[13, 5],
		] as const) {
			const bad = frame.slice();
			bad[index] = value;
			expect(parseHeader(bad).ok).toBe(true);
			expect(await customer.open(bad)).toEqual({ ok: false, reason: "auth-failed" });
		}
		const badVersion = frame.slice();
		badVersion[0] = 2;
		expect(await customer.open(badVersion)).toEqual({ ok: false, reason: "unknown-version" });
		expect((await customer.open(frame)).ok).toBe(true);
	});

	it("rejects a replayed frame", async () => {
		const { tech, customer } = await openPair();
		const frame = await tech.seal(CHANNELS.input, 0, text("key a"));
		expect((await customer.open(frame)).ok).toBe(true);
		expect(await customer.open(frame)).toEqual({ ok: false, reason: "stale-seq" });
		expect(customer.lastReceivedSeq).toBe(0n);
	});

	it("rejects a reordered frame but accepts gaps left by dropped frames", async () => {
		const { tech, customer } = await openPair();
		const f0 = await tech.seal(CHANNELS.chat, 0, text("0"));
		const f1 = await tech.seal(CHANNELS.chat, 0, text("1"));
		const f2 = await tech.seal(CHANNELS.chat, 0, text("2"));
		const f3 = await tech.seal(CHANNELS.chat, 0, text("3"));
		expect((await customer.open(f0)).ok).toBe(true);
		expect((await customer.open(f2)).ok).toBe(true); // f1 was dropped by the relay: a gap is fine
		expect(await customer.open(f1)).toEqual({ ok: false, reason: "stale-seq" });
		expect((await customer.open(f3)).ok).toBe(true);
		expect(customer.lastReceivedSeq).toBe(3n);
	});

	it("does not let a forged high seq block later authentic frames", async () => {
		const { tech, customer } = await openPair();
		const frame = await tech.seal(CHANNELS.chat, 0, text("x"));
		const forged = frame.slice();
		forged.fill(0xff, 6, 14); // seq = 2^64 - 1, tag now wrong
		expect(await customer.open(forged)).toEqual({ ok: false, reason: "auth-failed" });
		expect((await customer.open(frame)).ok).toBe(true);
	});

	it("keeps call order when seals and opens overlap", async () => {
		const { tech, customer } = await openPair();
		const payloads = Array.from({ length: 50 }, (_, i) => text(`m${i}`.repeat(1 + (i % 7) * 500)));
		const frames = await Promise.all(payloads.map((p) => tech.seal(CHANNELS.screen, 0, p)));
		frames.forEach((frame, i) => {
			expect(parseHeader(frame)).toMatchObject({ ok: true, header: { seq: BigInt(i) } });
		});
		const results = await Promise.all(frames.map((frame) => customer.open(frame)));
		results.forEach((result, i) => {
			expect(result.ok && result.plaintext).toEqual(payloads[i]);
		});
	});

	it("is not affected by the caller reusing its buffers", async () => {
		const { tech, customer } = await openPair();
		const plaintext = text("original");
		const sealing = tech.seal(CHANNELS.chat, 0, plaintext);
		plaintext.fill(0);
		const frame = await sealing;
		const opening = customer.open(frame);
		frame.fill(0);
		const result = await opening;
		expect(result.ok && new TextDecoder().decode(result.plaintext)).toBe("original");
	});

	it("never throws from open on malformed input", async () => {
		const { customer } = await openPair();
		for (const junk of [
			new Uint8Array(0),
			new Uint8Array(HEADER_BYTES + 15).fill(1),
			new Uint8Array(100).fill(1), // version 1, channel 1, random body
			new Uint8Array(100),
			new ArrayBuffer(50),
			"frame",
			null,
			{ length: 30 },
		]) {
			// @ts-expect-error: frames come from the network; the type does not hold at run time
			const result = await customer.open(junk);
			expect(result.ok).toBe(false);
		}
	});

	it("refuses to seal once the 64-bit sequence is used up", async () => {
		const supporter = await makeSide("supporter");
		const peer = await makeSide("customer");
		const tech = new SessionCipher(await keysFor("s", supporter, peer), { firstSendSeq: MAX_SEQ });
		const customer = new SessionCipher(await keysFor("s", peer, supporter));
		const last = await tech.seal(CHANNELS.chat, 0, text("last"));
		expect(parseHeader(last)).toMatchObject({ ok: true, header: { seq: MAX_SEQ } });
		expect((await customer.open(last)).ok).toBe(true);
		await expect(tech.seal(CHANNELS.chat, 0, text("one too many"))).rejects.toThrow(/exhausted/);
		await expect(tech.seal(CHANNELS.chat, 0, text("still"))).rejects.toThrow(/exhausted/);
		// Nothing can follow the last seq on the receiving side either.
		expect(await customer.open(last)).toEqual({ ok: false, reason: "stale-seq" });
	});

	it("refuses a second cipher over the same send key, which would reuse nonces", async () => {
		const { supporterKeys } = await openPair();
		expect(() => new SessionCipher(supporterKeys)).toThrow(/already belongs/);
	});

	it("refuses bad channels and streams without consuming a seq", async () => {
		const { tech } = await openPair();
		// @ts-expect-error: channel 0 does not exist
		await expect(tech.seal(0, 0, text("x"))).rejects.toThrow(RangeError);
		await expect(tech.seal(CHANNELS.file, -1, text("x"))).rejects.toThrow(RangeError);
		expect(tech.nextSendSeq).toBe(0n);
	});
});

describe("Ed25519 statements and identity signatures", () => {
	it("verifies a signed statement with the exported public key", async () => {
		const keys = await generateSigningKeyPair();
		const publicKey = await exportPublicKey(keys.publicKey);
		const statement = createStatement("control.grant", "s-1", { scope: "full" }, 1_700_000_000_000);
		const signature = await signStatement(keys.privateKey, statement);
		expect(fromBase64url(signature)).toHaveLength(64);
		expect(await verifyStatement(publicKey, statement, signature)).toBe(true);
		expect(await verifyStatement(keys.publicKey, statement, signature)).toBe(true);
		// Key order in the caller's object does not matter: the signature covers canonical JSON.
		const reordered = {
			timestamp: statement.timestamp,
			details: { scope: "full" },
			sessionId: "s-1",
			type: "control.grant" as const,
		};
		expect(await verifyStatement(publicKey, reordered, signature)).toBe(true);
	});

	it("fails for a changed statement, another key or a damaged signature", async () => {
		const keys = await generateSigningKeyPair();
		const publicKey = await exportPublicKey(keys.publicKey);
		const statement = createStatement("file.accept", "s-1", { fileId: 4 }, 1_700_000_000_000);
		const signature = await signStatement(keys.privateKey, statement);
		for (const changed of [
			{ ...statement, type: "file.reject" as const },
			{ ...statement, sessionId: "s-2" },
			{ ...statement, details: { fileId: 5 } },
			{ ...statement, details: { fileId: 4, extra: true } },
			{ ...statement, timestamp: statement.timestamp + 1 },
		]) {
			expect(await verifyStatement(publicKey, changed, signature)).toBe(false);
		}
		const other = await exportPublicKey((await generateSigningKeyPair()).publicKey);
		expect(await verifyStatement(other, statement, signature)).toBe(false);
		const sig = fromBase64url(signature) ?? new Uint8Array();
		sig[10] = (sig[10] ?? 0) ^ 1;
		expect(await verifyStatement(publicKey, statement, toBase64url(sig))).toBe(false);
	});

	it("returns false, never throws, for malformed keys, signatures and statements", async () => {
		const keys = await generateSigningKeyPair();
		const publicKey = await exportPublicKey(keys.publicKey);
		const statement = createStatement("stop", "s", {}, 1);
		const signature = await signStatement(keys.privateKey, statement);
		expect(await verifyStatement("short", statement, signature)).toBe(false);
		expect(await verifyStatement(new Uint8Array(31), statement, signature)).toBe(false);
		expect(await verifyStatement(publicKey, statement, "AAAA")).toBe(false);
		expect(await verifyStatement(publicKey, statement, `${signature}=`)).toBe(false);
		const nan = { ...statement, timestamp: Number.NaN };
		expect(await verifyStatement(publicKey, nan, signature)).toBe(false);
		const x25519 = await generateEphemeralKeyPair();
		expect(await verifyStatement(toBase64url(x25519.publicKey), statement, signature)).toBe(false);
		expect(await importVerifyKey("not-a-key")).toBeNull();
		await expect(signStatement(keys.privateKey, nan)).rejects.toThrow();
	});

	it("lets a host vouch for its ephemeral key with its identity key, bound to the session", async () => {
		const identity = await generateSigningKeyPair({ extractable: true });
		const stored = await exportSigningPrivateKey(identity.privateKey);
		const reloaded = await importSigningPrivateKey(stored);
		const identityPublic = await exportPublicKey(identity.publicKey);
		const ephemeral = await generateEphemeralKeyPair();
		const signature = await signEphemeral(reloaded, "s-1", ephemeral.publicKey);
		expect(await verifyEphemeral(identityPublic, "s-1", ephemeral.publicKey, signature)).toBe(true);
		expect(await verifyEphemeral(identityPublic, "s-2", ephemeral.publicKey, signature)).toBe(
			false,
		);
		const other = await generateEphemeralKeyPair();
		expect(await verifyEphemeral(identityPublic, "s-1", other.publicKey, signature)).toBe(false);
		const stranger = await exportPublicKey((await generateSigningKeyPair()).publicKey);
		expect(await verifyEphemeral(stranger, "s-1", ephemeral.publicKey, signature)).toBe(false);
		expect(await verifyEphemeral(identityPublic, "s-1", new Uint8Array(5), signature)).toBe(false);
	});

	it("keeps statement and ephemeral signatures apart", async () => {
		const identity = await generateSigningKeyPair();
		const publicKey = await exportPublicKey(identity.publicKey);
		const ephemeral = await generateEphemeralKeyPair();
		const ephemeralSignature = await signEphemeral(identity.privateKey, "s-1", ephemeral.publicKey);
		const statement = createStatement(
			"stop",
			"s-1",
			{ x25519: toBase64url(ephemeral.publicKey) },
			0,
		);
		expect(await verifyStatement(publicKey, statement, ephemeralSignature)).toBe(false);
		const statementSignature = await signStatement(identity.privateKey, statement);
		expect(await verifyEphemeral(publicKey, "s-1", ephemeral.publicKey, statementSignature)).toBe(
			false,
		);
	});

	it("does not export private keys that were made non-extractable", async () => {
		const keys = await generateSigningKeyPair();
		await expect(exportSigningPrivateKey(keys.privateKey)).rejects.toThrow();
		const x = await generateEphemeralKeyPair();
		expect(x.privateKey.extractable).toBe(false);
	});
});

describe("worked example of docs/protocol.md", () => {
	// RFC 7748 §6.1 (X25519) and RFC 8032 §7.1 tests 1 and 2 (Ed25519).
	const ALICE = {
		d: "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
		x: "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
	};
	const BOB = {
		d: "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
		x: "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
	};
	const ED_1 = {
		d: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
		x: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
	};
	const ED_2_PUBLIC = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";
	const SESSION = "fernwart-example";
	const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
	const unhex = (value: string) => new Uint8Array(Buffer.from(value, "hex"));
	const jwk = (crv: string, key: { d: string; x: string }) => ({
		kty: "OKP",
		crv,
		d: toBase64url(unhex(key.d)),
		x: toBase64url(unhex(key.x)),
	});
	const x25519Pair = async (key: { d: string; x: string }): Promise<EphemeralKeyPair> => ({
		privateKey: await crypto.subtle.importKey(
			"jwk",
			jwk("X25519", key),
			{ name: "X25519" },
			false,
			["deriveBits"],
		),
		publicKey: unhex(key.x),
	});

	it("reproduces the commitment, transcript hash, SAS, frames and signature", async () => {
		expect(await keyCommitment(SESSION, unhex(ALICE.x))).toBe(
			"DMaTNXs4SazLJ1B8kLSMEJNI1XEs9pkonD4lfM9j-Uc",
		);
		const supporterKeys = await deriveSessionKeys({
			sessionId: SESSION,
			own: { role: "supporter", keyPair: await x25519Pair(ALICE), ed25519: unhex(ED_1.x) },
			peer: { role: "customer", x25519: unhex(BOB.x), ed25519: unhex(ED_2_PUBLIC) },
		});
		const customerKeys = await deriveSessionKeys({
			sessionId: SESSION,
			own: { role: "customer", keyPair: await x25519Pair(BOB), ed25519: unhex(ED_2_PUBLIC) },
			peer: { role: "supporter", x25519: unhex(ALICE.x), ed25519: unhex(ED_1.x) },
		});
		for (const keys of [supporterKeys, customerKeys]) {
			expect(hex(keys.transcriptHash)).toBe(
				"72f1c7565d27ce03cc3dff2a07cea464489721b6a272530d8358e0daa7f40e4b",
			);
			expect(keys.sas).toBe("271236");
		}
		const tech = new SessionCipher(supporterKeys);
		const customer = new SessionCipher(customerKeys);
		const down = await tech.seal(CHANNELS.chat, 0, text("hello"));
		const up = await customer.seal(CHANNELS.screen, 1, text("hi"));
		expect(hex(down)).toBe(
			"01040000000000000000000000005b650084ed467d8f6ed6f393f90a5ee2c9b5adc892",
		);
		expect(hex(up)).toBe("0101000000010000000000000000cef66c812543846058677a8fdd847fc9f7d9");
		expect((await customer.open(down)).ok).toBe(true);
		expect((await tech.open(up)).ok).toBe(true);

		const signer = await crypto.subtle.importKey(
			"jwk",
			jwk("Ed25519", ED_1),
			{ name: "Ed25519" },
			false,
			["sign"],
		);
		const statement = createStatement("stop", SESSION, {}, 1_700_000_000_000);
		expect(canonicalJson(statement)).toBe(
			'{"details":{},"sessionId":"fernwart-example","timestamp":1700000000000,"type":"stop"}',
		);
		const signature = await signStatement(signer, statement);
		expect(signature).toBe(
			"OQ725sHD5yrls2qeAkgsEy_c-gLDALLw6oONClJi9Vyzu4Mhc4jqqZMZrfN__IGhvOdp_Nor4ycANBSodM7NCQ",
		);
		expect(await verifyStatement(toBase64url(unhex(ED_1.x)), statement, signature)).toBe(true);
	});
});
