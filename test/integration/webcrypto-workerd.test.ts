/**
 * Does the SDK's WebCrypto (X25519, Ed25519, HKDF, AES-GCM, SHA-256) work in workerd exactly as in
 * Node? A throw-away Miniflare runs modules/sdk/crypto.ts, bundled with esbuild, and plays the
 * host side of a session against the supporter side in Node. docs/protocol.md records the answer.
 */
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as z from "zod";
import {
	CHANNELS,
	createStatement,
	deriveSessionKeys,
	exportPublicKey,
	fromBase64url,
	generateEphemeralKeyPair,
	generateSigningKeyPair,
	keyCommitment,
	SessionCipher,
	signStatement,
	toBase64url,
	verifyEphemeral,
	verifyStatement,
} from "../../modules/sdk/index.ts";
import { COMPATIBILITY_DATE } from "../../server/build.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/**
 * Plain JavaScript run verbatim in both runtimes: in Node through the AsyncFunction constructor,
 * in workerd compiled into the worker (workerd forbids eval). Known answers come from RFC 7748
 * §6.1, RFC 8032 §7.1 test 1, RFC 5869 A.1 and the GCM spec's test case 14.
 */
const PROBE = String.raw`
const s = crypto.subtle;
const out = {};
const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");
const unhex = (h) => new Uint8Array(h.match(/../g).map((x) => parseInt(x, 16)));
const b64u = (h) => btoa(String.fromCharCode(...unhex(h))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const step = async (name, fn) => {
	try { out[name] = await fn(); } catch (e) { out[name] = "error: " + (e && e.name) + ": " + (e && e.message); }
};
await step("sha256", async () => hex(await s.digest("SHA-256", new TextEncoder().encode("abc"))));
await step("hkdf", async () => {
	const ikm = await s.importKey("raw", new Uint8Array(22).fill(11), "HKDF", false, ["deriveBits"]);
	const params = { name: "HKDF", hash: "SHA-256", salt: unhex("000102030405060708090a0b0c"), info: unhex("f0f1f2f3f4f5f6f7f8f9") };
	return hex(await s.deriveBits(params, ikm, 42 * 8));
});
await step("aesGcm256", async () => {
	const key = await s.importKey("raw", new Uint8Array(32), "AES-GCM", false, ["encrypt"]);
	return hex(await s.encrypt({ name: "AES-GCM", iv: new Uint8Array(12) }, key, new Uint8Array(16)));
});
await step("aesGcmAad", async () => {
	const key = await s.importKey("raw", new Uint8Array(32).fill(1), "AES-GCM", false, ["encrypt", "decrypt"]);
	const iv = new Uint8Array(12).fill(2);
	const aad = new Uint8Array(14).fill(3);
	const sealed = await s.encrypt({ name: "AES-GCM", iv, additionalData: aad, tagLength: 128 }, key, new Uint8Array([4, 5, 6]));
	const opened = await s.decrypt({ name: "AES-GCM", iv, additionalData: aad, tagLength: 128 }, key, sealed);
	let tamper = "accepted";
	try { await s.decrypt({ name: "AES-GCM", iv, additionalData: new Uint8Array(14), tagLength: 128 }, key, sealed); } catch (e) { tamper = "rejected"; }
	return hex(sealed) + "|" + hex(opened) + "|" + tamper;
});
await step("x25519Known", async () => {
	const alice = await s.importKey("jwk", { kty: "OKP", crv: "X25519", d: b64u("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"), x: b64u("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a") }, { name: "X25519" }, false, ["deriveBits"]);
	const bob = await s.importKey("raw", unhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"), { name: "X25519" }, true, []);
	return hex(await s.deriveBits({ name: "X25519", public: bob }, alice, 256));
});
await step("x25519Generated", async () => {
	const a = await s.generateKey({ name: "X25519" }, false, ["deriveBits"]);
	const b = await s.generateKey({ name: "X25519" }, false, ["deriveBits"]);
	const raw = new Uint8Array(await s.exportKey("raw", a.publicKey));
	const ab = hex(await s.deriveBits({ name: "X25519", public: b.publicKey }, a.privateKey, 256));
	const ba = hex(await s.deriveBits({ name: "X25519", public: a.publicKey }, b.privateKey, 256));
	return raw.length + ":" + (ab === ba ? "equal" : "different");
});
await step("x25519ZeroPoint", async () => {
	const a = await s.generateKey({ name: "X25519" }, false, ["deriveBits"]);
	try {
		const zero = await s.importKey("raw", new Uint8Array(32), { name: "X25519" }, true, []);
		const bits = new Uint8Array(await s.deriveBits({ name: "X25519", public: zero }, a.privateKey, 256));
		return bits.every((b) => b === 0) ? "all-zero secret" : "non-zero secret";
	} catch (e) {
		return "rejected";
	}
});
await step("ed25519Known", async () => {
	const key = await s.importKey("jwk", { kty: "OKP", crv: "Ed25519", d: b64u("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"), x: b64u("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a") }, { name: "Ed25519" }, false, ["sign"]);
	return hex(await s.sign({ name: "Ed25519" }, key, new Uint8Array(0)));
});
await step("ed25519RawVerify", async () => {
	const pub = await s.importKey("raw", unhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"), { name: "Ed25519" }, true, ["verify"]);
	const sig = unhex("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
	const good = await s.verify({ name: "Ed25519" }, pub, sig, new Uint8Array(0));
	const bad = await s.verify({ name: "Ed25519" }, pub, sig, new Uint8Array(1));
	return good + "/" + bad;
});
await step("ed25519Pkcs8", async () => {
	const pair = await s.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]);
	const pkcs8 = await s.exportKey("pkcs8", pair.privateKey);
	const again = await s.importKey("pkcs8", pkcs8, { name: "Ed25519" }, false, ["sign"]);
	const sig = await s.sign({ name: "Ed25519" }, again, new Uint8Array([1]));
	const raw = await s.exportKey("raw", pair.publicKey);
	return pkcs8.byteLength + ":" + raw.byteLength + ":" + (await s.verify({ name: "Ed25519" }, pair.publicKey, sig, new Uint8Array([1])));
});
return out;
`;

/** The worker: the probe above plus a host-side session endpoint built from the real SDK. */
const WORKER_ENTRY = `
import * as sdk from "./modules/sdk/crypto.ts";
import { fromBase64url, toBase64url } from "./protocol/encoding.ts";
import { CHANNELS } from "./protocol/frame.ts";

const sessions = new Map();
const bytes = (text) => { const b = fromBase64url(text); if (!b) throw new Error("bad base64url"); return b; };

async function probe() {
${PROBE}
}

async function hello(body) {
	const keyPair = await sdk.generateEphemeralKeyPair();
	const identity = await sdk.generateSigningKeyPair();
	const ed25519 = await sdk.exportPublicKey(identity.publicKey);
	const identitySignature = await sdk.signEphemeral(identity.privateKey, body.sessionId, keyPair.publicKey);
	sessions.set(body.sessionId, { keyPair, identity, ed25519, supporter: body });
	return { x25519: toBase64url(keyPair.publicKey), ed25519, identitySignature };
}

async function reveal(body) {
	const state = sessions.get(body.sessionId);
	if (!state) throw new Error("no hello for this session (isolate state lost)");
	const supporterX = bytes(body.x25519);
	const commitmentOk = await sdk.verifyKeyCommitment(body.sessionId, supporterX, state.supporter.commitment);
	const keys = await sdk.deriveSessionKeys({
		sessionId: body.sessionId,
		own: { role: "host", keyPair: state.keyPair, ed25519: bytes(state.ed25519) },
		peer: { role: "supporter", x25519: supporterX, ed25519: bytes(state.supporter.ed25519) },
	});
	const cipher = new sdk.SessionCipher(keys);
	const opened = [];
	for (const frame of body.frames) {
		const result = await cipher.open(bytes(frame));
		opened.push(result.ok ? { channel: result.header.channel, text: new TextDecoder().decode(result.plaintext) } : { error: result.reason });
	}
	const statementOk = await sdk.verifyStatement(state.supporter.ed25519, body.statement, body.signature);
	const reply = await cipher.seal(CHANNELS.screen, 7, new TextEncoder().encode("pixels from workerd"));
	const hostStatement = sdk.createStatement("control.grant", body.sessionId, { scope: "input" }, 1700000000000);
	const hostSignature = await sdk.signStatement(state.identity.privateKey, hostStatement);
	return { commitmentOk, sas: keys.sas, transcriptHash: toBase64url(keys.transcriptHash), opened, statementOk, reply: toBase64url(reply), hostStatement, hostSignature };
}

export default {
	async fetch(request) {
		const path = new URL(request.url).pathname;
		try {
			if (path === "/probe") return Response.json(await probe());
			const body = await request.json();
			if (path === "/hello") return Response.json(await hello(body));
			if (path === "/reveal") return Response.json(await reveal(body));
			return new Response("not found", { status: 404 });
		} catch (err) {
			return Response.json({ error: String((err && err.stack) || err) }, { status: 500 });
		}
	},
};
`;

const KNOWN_ANSWERS = {
	sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
	hkdf: "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
	aesGcm256: "cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919",
	x25519Known: "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742",
	x25519Generated: "32:equal",
	ed25519Known:
		"e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
	ed25519RawVerify: "true/false",
	ed25519Pkcs8: "48:32:true",
};

const probeResultSchema = z.record(z.string(), z.string());
const helloReplySchema = z.object({
	x25519: z.string(),
	ed25519: z.string(),
	identitySignature: z.string(),
});
const revealReplySchema = z.object({
	commitmentOk: z.boolean(),
	sas: z.string(),
	transcriptHash: z.string(),
	opened: z.array(
		z.union([z.object({ channel: z.number(), text: z.string() }), z.object({ error: z.string() })]),
	),
	statementOk: z.boolean(),
	reply: z.string(),
	hostStatement: z.object({
		type: z.literal("control.grant"),
		sessionId: z.string(),
		details: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
		timestamp: z.number(),
	}),
	hostSignature: z.string(),
});

function decode(text: string): Uint8Array<ArrayBuffer> {
	const bytes = fromBase64url(text);
	if (bytes === null) throw new Error(`not base64url: ${text.slice(0, 20)}`);
	return bytes;
}

describe("WebCrypto in workerd", () => {
	let mf: Miniflare;

	/** POSTs JSON to the worker and validates the answer; a 500 carries the worker's stack. */
	async function call<T>(path: string, schema: z.ZodType<T>, body?: unknown): Promise<T> {
		const res = await mf.dispatchFetch(`http://probe.local${path}`, {
			method: "POST",
			body: JSON.stringify(body ?? {}),
		});
		const json: unknown = await res.json();
		if (res.status !== 200) throw new Error(`worker ${path} failed: ${JSON.stringify(json)}`);
		return schema.parse(json);
	}

	beforeAll(async () => {
		const bundle = await build({
			stdin: { contents: WORKER_ENTRY, resolveDir: ROOT, loader: "ts", sourcefile: "probe.ts" },
			bundle: true,
			write: false,
			format: "esm",
			platform: "neutral",
			logLevel: "silent",
		});
		const script = bundle.outputFiles[0]?.text;
		if (!script) throw new Error("esbuild produced no output");
		mf = new Miniflare(
			convertV4MiniflareOptions({
				modules: true,
				script,
				compatibilityDate: COMPATIBILITY_DATE,
				cf: false,
				enableDevRegistry: false,
				telemetry: { enabled: false },
				port: 0,
			}),
		);
		await mf.ready;
	});

	afterAll(async () => {
		await mf?.dispose();
	});

	it("computes the RFC known answers for every algorithm the SDK uses, like Node", async () => {
		const inWorkerd = await call("/probe", probeResultSchema);
		const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
		const inNode = probeResultSchema.parse(await new AsyncFunction(PROBE)());
		expect(inNode).toMatchObject(KNOWN_ANSWERS);
		expect(inWorkerd).toMatchObject(KNOWN_ANSWERS);
		// Everything else (AES-GCM with AAD, the zero-point behaviour) must agree between runtimes.
		expect(inWorkerd).toEqual(inNode);
		expect(inWorkerd.aesGcmAad).toMatch(/\|040506\|rejected$/);
	});

	it("runs a session across runtimes: commitment, host identity, same SAS, frames both ways", async () => {
		const sessionId = "cross-runtime-1";
		const x25519 = await generateEphemeralKeyPair();
		const signing = await generateSigningKeyPair();
		const ed25519 = await exportPublicKey(signing.publicKey);
		const commitment = await keyCommitment(sessionId, x25519.publicKey);

		const host = await call("/hello", helloReplySchema, { sessionId, commitment, ed25519 });
		const hostX25519 = decode(host.x25519);
		expect(await verifyEphemeral(host.ed25519, sessionId, hostX25519, host.identitySignature)).toBe(
			true,
		);

		const keys = await deriveSessionKeys({
			sessionId,
			own: { role: "supporter", keyPair: x25519, ed25519: decode(ed25519) },
			peer: { role: "host", x25519: hostX25519, ed25519: decode(host.ed25519) },
		});
		const cipher = new SessionCipher(keys);
		const text = (value: string) => new TextEncoder().encode(value);
		const f0 = await cipher.seal(CHANNELS.auth, 0, text("password proof"));
		const f1 = await cipher.seal(CHANNELS.input, 0, text("click"));
		const tampered = f1.slice();
		tampered[20] = (tampered[20] ?? 0) ^ 0x80;
		const statement = createStatement("view.grant", sessionId, {}, 1_700_000_000_000);
		const signature = await signStatement(signing.privateKey, statement);

		const answer = await call("/reveal", revealReplySchema, {
			sessionId,
			x25519: toBase64url(x25519.publicKey),
			frames: [f0, tampered, f1, f0].map((frame) => toBase64url(frame)),
			statement,
			signature,
		});
		expect(answer.commitmentOk).toBe(true);
		expect(answer.sas).toBe(keys.sas);
		expect(answer.transcriptHash).toBe(toBase64url(keys.transcriptHash));
		expect(answer.opened).toEqual([
			{ channel: CHANNELS.auth, text: "password proof" },
			{ error: "auth-failed" },
			{ channel: CHANNELS.input, text: "click" },
			{ error: "stale-seq" },
		]);
		expect(answer.statementOk).toBe(true);

		const reply = await cipher.open(decode(answer.reply));
		expect(reply.ok && new TextDecoder().decode(reply.plaintext)).toBe("pixels from workerd");
		expect(reply.ok && reply.header).toMatchObject({
			channel: CHANNELS.screen,
			stream: 7,
			seq: 0n,
		});
		expect(await verifyStatement(host.ed25519, answer.hostStatement, answer.hostSignature)).toBe(
			true,
		);
		const forged = { ...answer.hostStatement, details: { scope: "everything" } };
		expect(await verifyStatement(host.ed25519, forged, answer.hostSignature)).toBe(false);
	});
});
