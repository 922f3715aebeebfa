/**
 * End-to-end crypto of a Fernwart session (docs/protocol.md, "Key schedule" onwards).
 *
 * Isomorphic on purpose: only `globalThis.crypto.subtle` and ECMAScript built-ins, no `node:`
 * imports, so the same file runs in Node 24, browsers and workerd. The server never holds any of
 * these keys; it sees public keys, signatures and the clear 14-byte frame headers only.
 */
import type { ConsentType, Role, Statement } from "../../protocol/control.ts";
import {
	type Bytes,
	concatBytes,
	fromBase64url,
	lengthPrefixed,
	toBase64url,
	utf8,
} from "../../protocol/encoding.ts";
import {
	type Channel,
	encodeHeader,
	type FrameHeader,
	HEADER_BYTES,
	MAX_SEQ,
	parseHeader,
} from "../../protocol/frame.ts";
import {
	ED25519,
	ED25519_PUBLIC_KEY_BYTES,
	ephemeralBytes,
	statementBytes,
	X25519_PUBLIC_KEY_BYTES,
} from "../../protocol/signature.ts";

const subtle = () => globalThis.crypto.subtle;

/** WebCrypto algorithm of the ephemeral key agreement. */
export const X25519 = { name: "X25519" } as const;
/** AES-GCM tag length in bytes (128 bits, the WebCrypto default, stated explicitly). */
export const GCM_TAG_BYTES = 16;
/** AES-GCM nonce length in bytes. */
export const NONCE_BYTES = 12;

/** Label at the start of the transcript whose SHA-256 salts HKDF. */
export const TRANSCRIPT_LABEL = "fernwart.v1/transcript";
/** HKDF `info` strings, one per derived secret. */
export const HKDF_INFO = {
	supporterToPeer: "fernwart.v1 key supporter->peer",
	peerToSupporter: "fernwart.v1 key peer->supporter",
	sas: "fernwart.v1 sas",
} as const;

/** Digits in the short authentication string. */
export const SAS_DIGITS = 6;

// ---------------------------------------------------------------------------------------------
// Ephemeral X25519 keys

/** A per-session X25519 key pair; the private key is not extractable. */
export interface EphemeralKeyPair {
	privateKey: CryptoKey;
	/** Raw 32-byte public key, as sent (base64url) in `hello` or `key.reveal`. */
	publicKey: Bytes;
}

/** Makes a fresh X25519 key pair for one session. Never reuse it for another session. */
export async function generateEphemeralKeyPair(): Promise<EphemeralKeyPair> {
	const pair = await subtle().generateKey(X25519, false, ["deriveBits"]);
	const publicKey = new Uint8Array(await subtle().exportKey("raw", pair.publicKey));
	return { privateKey: pair.privateKey, publicKey };
}

// ---------------------------------------------------------------------------------------------
// Key schedule

/** One side's public keys as they enter the transcript. */
export interface PartyKeys {
	role: Role;
	/** Raw 32-byte X25519 public key. */
	x25519: Uint8Array;
	/** Raw 32-byte Ed25519 public key from the same side's hello. */
	ed25519: Uint8Array;
}

/** Everything needed to derive the session keys on one side. */
export interface KeyAgreementInput {
	sessionId: string;
	/** This side's role, its ephemeral key pair and its Ed25519 public key. */
	own: { role: Role; keyPair: EphemeralKeyPair; ed25519: Uint8Array };
	/** The other side's role and public keys (after commitment and identity checks). */
	peer: PartyKeys;
}

/** The result of the key schedule. The AES keys are not extractable. */
export interface SessionKeys {
	/** AES-256-GCM key for frames this side sends (encrypt only). */
	sendKey: CryptoKey;
	/** AES-256-GCM key for frames the other side sends (decrypt only). */
	receiveKey: CryptoKey;
	/** Six decimal digits both people read aloud; equal on both sides only without a MITM. */
	sas: string;
	/** SHA-256 of the transcript (the HKDF salt); equal on both sides. */
	transcriptHash: Bytes;
}

/** "host" takes the customer's side; the supporter is always the other one. */
function isSupporterSide(role: Role): boolean {
	return role === "supporter";
}

/**
 * The transcript, in a fixed order so both sides build the same bytes: the supporter's side
 * first, whichever side computes it.
 *
 * `"fernwart.v1/transcript" ‖ lp(sessionId) ‖ lp("supporter") ‖ lp(supporter x25519) ‖
 * lp(supporter ed25519) ‖ lp(peer role) ‖ lp(peer x25519) ‖ lp(peer ed25519)`
 *
 * The Ed25519 keys are included so that a matching SAS also vouches for the keys that sign
 * consent statements, not only for the encryption keys.
 */
export function transcriptBytes(sessionId: string, a: PartyKeys, b: PartyKeys): Bytes {
	if (isSupporterSide(a.role) === isSupporterSide(b.role)) {
		throw new Error("a session needs a supporter and a customer or host");
	}
	const [supporter, peer] = isSupporterSide(a.role) ? [a, b] : [b, a];
	for (const party of [supporter, peer]) {
		if (party.x25519.length !== X25519_PUBLIC_KEY_BYTES) throw new Error("bad x25519 key length");
		if (party.ed25519.length !== ED25519_PUBLIC_KEY_BYTES)
			throw new Error("bad ed25519 key length");
	}
	return concatBytes(
		utf8(TRANSCRIPT_LABEL),
		lengthPrefixed(utf8(sessionId)),
		lengthPrefixed(utf8(supporter.role)),
		lengthPrefixed(supporter.x25519),
		lengthPrefixed(supporter.ed25519),
		lengthPrefixed(utf8(peer.role)),
		lengthPrefixed(peer.x25519),
		lengthPrefixed(peer.ed25519),
	);
}

/**
 * Runs X25519 and HKDF-SHA256 (salt = SHA-256(transcript)) to get one AES-256-GCM key per
 * direction and the SAS. Throws on malformed keys, two parties on the same side, or a peer key
 * that yields the all-zero shared secret (a small-order point: such a "key" would let the relay
 * predict the session keys).
 */
export async function deriveSessionKeys(input: KeyAgreementInput): Promise<SessionKeys> {
	const own: PartyKeys = {
		role: input.own.role,
		x25519: input.own.keyPair.publicKey,
		ed25519: input.own.ed25519,
	};
	const transcript = transcriptBytes(input.sessionId, own, input.peer);
	const transcriptHash = new Uint8Array(await subtle().digest("SHA-256", transcript));

	let peerKey: CryptoKey;
	let shared: Bytes;
	try {
		peerKey = await subtle().importKey("raw", new Uint8Array(input.peer.x25519), X25519, true, []);
		shared = new Uint8Array(
			await subtle().deriveBits(
				{ name: "X25519", public: peerKey },
				input.own.keyPair.privateKey,
				256,
			),
		);
	} catch {
		// Node and BoringSSL refuse small-order points themselves; the check below covers the rest.
		throw new Error("peer x25519 key rejected");
	}
	if (shared.every((byte) => byte === 0)) throw new Error("peer x25519 key rejected");

	const ikm = await subtle().importKey("raw", shared, "HKDF", false, ["deriveBits"]);
	shared.fill(0);
	const expand = async (info: string, bytes: number) =>
		new Uint8Array(
			await subtle().deriveBits(
				{ name: "HKDF", hash: "SHA-256", salt: transcriptHash, info: utf8(info) },
				ikm,
				bytes * 8,
			),
		);

	const supporterToPeer = await expand(HKDF_INFO.supporterToPeer, 32);
	const peerToSupporter = await expand(HKDF_INFO.peerToSupporter, 32);
	const sasBytes = await expand(HKDF_INFO.sas, 8);

	const ownIsSupporter = isSupporterSide(input.own.role);
	const sendKey = await importAesKey(ownIsSupporter ? supporterToPeer : peerToSupporter, "encrypt");
	const receiveKey = await importAesKey(
		ownIsSupporter ? peerToSupporter : supporterToPeer,
		"decrypt",
	);
	supporterToPeer.fill(0);
	peerToSupporter.fill(0);

	return { sendKey, receiveKey, sas: formatSas(sasBytes), transcriptHash };
}

function importAesKey(raw: Bytes, usage: "encrypt" | "decrypt"): Promise<CryptoKey> {
	// One usage per key: the send key cannot decrypt, so a reflected frame can never be opened.
	return subtle().importKey("raw", raw, { name: "AES-GCM" }, false, [usage]);
}

/** u64 big-endian mod 10^6, zero-padded: the bias of 2^64 mod 10^6 is below 10^-13. */
function formatSas(bytes: Bytes): string {
	const value = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, false);
	return (value % 10n ** BigInt(SAS_DIGITS)).toString().padStart(SAS_DIGITS, "0");
}

// ---------------------------------------------------------------------------------------------
// Frames

/** The 12-byte AES-GCM nonce for a sequence number: four zero bytes, then seq as u64 big-endian. */
export function nonceFor(seq: bigint): Bytes {
	const nonce = new Uint8Array(NONCE_BYTES);
	new DataView(nonce.buffer).setBigUint64(4, seq, false);
	return nonce;
}

/** Why {@link SessionCipher.open} refused a frame. */
export type OpenFailure =
	| "too-short"
	| "unknown-version"
	| "unknown-channel"
	| "stale-seq"
	| "auth-failed";

/** Result of {@link SessionCipher.open}. */
export type OpenResult =
	| { ok: true; header: FrameHeader; plaintext: Bytes }
	| { ok: false; reason: OpenFailure };

/** Send keys already owned by a cipher (weak: keys of ended sessions are collected). */
const boundSendKeys = new WeakSet<CryptoKey>();

/**
 * Seals and opens the binary frames of one session in one direction each.
 *
 * Sequence numbers count every frame this side sends, across all channels, starting at 0; the
 * nonce is derived from them, and one key per direction means a (key, nonce) pair never repeats.
 * The receiver accepts only a seq strictly greater than the last one it accepted: gaps are fine
 * (the relay drops frames that consent does not allow), replays and reordering are not.
 *
 * Calls may overlap: `seal` results resolve in call order and `open` handles frames in call
 * order, so a caller that sends and delivers as promises resolve keeps the sequence intact.
 */
export class SessionCipher {
	readonly #sendKey: CryptoKey;
	readonly #receiveKey: CryptoKey;
	#nextSendSeq = 0n;
	#lastReceivedSeq: bigint | null = null;
	#sealTail: Promise<unknown> = Promise.resolve();
	#openTail: Promise<unknown> = Promise.resolve();

	/**
	 * Takes ownership of `keys`. A send key can belong to one cipher only: two ciphers with the same
	 * key would both start at seq 0 and reuse nonces, which breaks AES-GCM completely.
	 *
	 * `firstSendSeq` exists so tests can reach the end of the sequence space; real sessions start
	 * at 0 with fresh keys.
	 */
	constructor(
		keys: Pick<SessionKeys, "sendKey" | "receiveKey">,
		options: { firstSendSeq?: bigint } = {},
	) {
		if (boundSendKeys.has(keys.sendKey)) throw new Error("send key already belongs to a cipher");
		const first = options.firstSendSeq ?? 0n;
		if (first < 0n || first > MAX_SEQ) throw new RangeError("firstSendSeq must be a u64");
		boundSendKeys.add(keys.sendKey);
		this.#sendKey = keys.sendKey;
		this.#receiveKey = keys.receiveKey;
		this.#nextSendSeq = first;
	}

	/** The seq the next sealed frame will carry. */
	get nextSendSeq(): bigint {
		return this.#nextSendSeq;
	}

	/** The seq of the last frame accepted by {@link open}, or null before the first. */
	get lastReceivedSeq(): bigint | null {
		return this.#lastReceivedSeq;
	}

	/**
	 * Encrypts `plaintext` into a frame: 14-byte header ‖ ciphertext ‖ 16-byte tag, with the header
	 * as additional data. Throws once all 2^64 sequence numbers are used, or for a bad channel or
	 * stream; a sequence number is consumed only by a frame that is actually sealed.
	 */
	seal(channel: Channel, stream: number, plaintext: Uint8Array): Promise<Bytes> {
		if (this.#nextSendSeq > MAX_SEQ) {
			return Promise.reject(new Error("send sequence exhausted: start a new session"));
		}
		let header: Bytes;
		try {
			header = encodeHeader({ channel, stream, seq: this.#nextSendSeq });
		} catch (err) {
			return Promise.reject(err);
		}
		const seq = this.#nextSendSeq;
		this.#nextSendSeq += 1n;
		// Encryption starts now (WebCrypto copies the input at call time); only completion is ordered.
		const ciphertext = subtle().encrypt(
			{ name: "AES-GCM", iv: nonceFor(seq), additionalData: header, tagLength: GCM_TAG_BYTES * 8 },
			this.#sendKey,
			new Uint8Array(plaintext),
		);
		const previous = this.#sealTail;
		const frame = (async () => {
			await previous;
			return concatBytes(header, new Uint8Array(await ciphertext));
		})();
		this.#sealTail = frame.catch(() => undefined); // a failed seal must not block later ones
		return frame;
	}

	/**
	 * Checks and decrypts a frame from the other side. Never throws: tampering (header or body),
	 * a wrong key, a replayed or reordered seq and malformed bytes all come back as `ok: false`,
	 * and none of them moves the replay window.
	 */
	open(frame: ArrayBuffer | ArrayBufferView): Promise<OpenResult> {
		const bytes = copyBytes(frame);
		const previous = this.#openTail;
		const result = (async () => {
			await previous;
			return this.#openNow(bytes);
		})();
		this.#openTail = result.catch(() => undefined);
		return result;
	}

	async #openNow(bytes: Bytes | null): Promise<OpenResult> {
		if (bytes === null) return { ok: false, reason: "too-short" };
		const parsed = parseHeader(bytes);
		if (!parsed.ok) return { ok: false, reason: parsed.reason };
		if (bytes.length < HEADER_BYTES + GCM_TAG_BYTES) return { ok: false, reason: "too-short" };
		const { header } = parsed;
		if (this.#lastReceivedSeq !== null && header.seq <= this.#lastReceivedSeq) {
			return { ok: false, reason: "stale-seq" };
		}
		let plaintext: Bytes;
		try {
			plaintext = new Uint8Array(
				await subtle().decrypt(
					{
						name: "AES-GCM",
						iv: nonceFor(header.seq),
						additionalData: bytes.subarray(0, HEADER_BYTES),
						tagLength: GCM_TAG_BYTES * 8,
					},
					this.#receiveKey,
					bytes.subarray(HEADER_BYTES),
				),
			);
		} catch {
			return { ok: false, reason: "auth-failed" };
		}
		// Only an authentic frame moves the window, so forged high seqs cannot block the session.
		this.#lastReceivedSeq = header.seq;
		return { ok: true, header, plaintext };
	}
}

/** A private copy, so a caller reusing its buffer cannot change a frame while it is queued. */
function copyBytes(frame: unknown): Bytes | null {
	if (frame instanceof ArrayBuffer) return new Uint8Array(frame.slice(0));
	if (ArrayBuffer.isView(frame)) {
		return new Uint8Array(new Uint8Array(frame.buffer, frame.byteOffset, frame.byteLength));
	}
	return null;
}

// ---------------------------------------------------------------------------------------------
// Ed25519 signing keys

/** Makes an Ed25519 key pair. Hosts keep theirs (extractable, stored as PKCS#8); others don't. */
export async function generateSigningKeyPair(
	options: { extractable?: boolean } = {},
): Promise<CryptoKeyPair> {
	return subtle().generateKey(ED25519, options.extractable ?? false, ["sign", "verify"]);
}

/** The raw 32-byte public key of an Ed25519 or X25519 key, base64url (the wire encoding). */
export async function exportPublicKey(publicKey: CryptoKey): Promise<string> {
	return toBase64url(new Uint8Array(await subtle().exportKey("raw", publicKey)));
}

/** An extractable Ed25519 private key as PKCS#8, base64url, for the host agent's key file. */
export async function exportSigningPrivateKey(privateKey: CryptoKey): Promise<string> {
	return toBase64url(new Uint8Array(await subtle().exportKey("pkcs8", privateKey)));
}

/** Imports a PKCS#8 Ed25519 private key (base64url) as a non-extractable signing key. */
export async function importSigningPrivateKey(pkcs8: string): Promise<CryptoKey> {
	const bytes = fromBase64url(pkcs8);
	if (bytes === null) throw new Error("private key is not base64url");
	return subtle().importKey("pkcs8", bytes, ED25519, false, ["sign"]);
}

/** Builds a statement stamped with the signer's clock (ms since the Unix epoch). */
export function createStatement(
	type: ConsentType,
	sessionId: string,
	details: Statement["details"] = {},
	now: number = Date.now(),
): Statement {
	return { type, sessionId, details, timestamp: now };
}

/**
 * Signs the canonical JSON of `statement` with Ed25519; returns the 64-byte signature as
 * base64url. Throws if the statement has no canonical form (it would not verify anywhere).
 */
export async function signStatement(privateKey: CryptoKey, statement: Statement): Promise<string> {
	return sign(privateKey, statementBytes(statement));
}

/** A host's identity-key signature over its ephemeral X25519 key for one session (base64url). */
export async function signEphemeral(
	identityKey: CryptoKey,
	sessionId: string,
	x25519PublicKey: Uint8Array,
): Promise<string> {
	if (x25519PublicKey.length !== X25519_PUBLIC_KEY_BYTES) throw new Error("bad x25519 key length");
	return sign(identityKey, ephemeralBytes(sessionId, x25519PublicKey));
}

async function sign(privateKey: CryptoKey, data: Bytes): Promise<string> {
	return toBase64url(new Uint8Array(await subtle().sign(ED25519, privateKey, data)));
}

export { COMMITMENT_LABEL, keyCommitment, verifyKeyCommitment } from "../../protocol/commitment.ts";
export {
	importVerifyKey,
	verifyEphemeral,
	verifyStatement,
} from "../../protocol/signature.ts";
