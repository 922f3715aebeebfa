/**
 * The host's remote-maintenance password (docs/protocol.md §10). The host keeps only
 * `verifier = SHA-256(scrypt(password, salt))`; inside the encrypted session it sends the salt,
 * the scrypt parameters and a nonce on the `auth` channel, and the supporter answers with
 * `k = scrypt(password, salt)`. The host accepts if SHA-256(k) equals its verifier.
 *
 * Why k and not HMAC(k, nonce): with an HMAC the host would have to store k itself, and a copy
 * of its config file would then let anyone answer any challenge without knowing the password.
 * Storing only SHA-256(k) means the file is worth an offline scrypt attack per guess and nothing
 * more. k never travels in the clear: it is inside the session's AES-GCM channel, whose keys the
 * relay does not have (and the host's identity signature plus the SAS rule out a relay in the
 * middle). k is specific to this host's salt, so a host that logs it learns nothing usable on
 * another host or service. The server sees neither the password, nor k, nor the verifier.
 */
import { createHash, randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import * as z from "zod";
import { fromBase64url, toBase64url } from "../../protocol/encoding.ts";
import type { AuthMessage, ScryptParams } from "../../protocol/host.ts";
import { scryptParamsSchema } from "../../protocol/host.ts";

/**
 * scrypt N = 2^17, r = 8, p = 1: 128 MiB and about half a second per guess on the project
 * machine, OWASP's first recommended setting. The supporter pays it once per connect.
 */
export const HOST_KDF: ScryptParams = { name: "scrypt", logN: 17, r: 8, p: 1, keyLen: 32 };

/** Failures before the host locks. */
export const MAX_FAILURES = 5;
/** The first lock; each further failure doubles it, up to {@link LOCK_MAX_MS}. */
export const LOCK_BASE_MS = 60_000;
export const LOCK_MAX_MS = 60 * 60_000;

export const storedPasswordSchema = z.strictObject({
	kdf: scryptParamsSchema,
	salt: z.string().min(22),
	verifier: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
});
/** What the host config file holds about its password. */
export type StoredPassword = z.infer<typeof storedPasswordSchema>;

/** k = scrypt(password, salt) with the given parameters. */
export function derivePasswordKey(
	password: string,
	salt: string,
	kdf: ScryptParams,
): Promise<Uint8Array> {
	const saltBytes = fromBase64url(salt);
	if (!saltBytes) return Promise.reject(new Error("salt is not base64url"));
	const N = 2 ** kdf.logN;
	return new Promise((resolve, reject) => {
		scrypt(
			password.normalize("NFC"),
			saltBytes,
			kdf.keyLen,
			// 128 * N * r bytes are needed; node's default cap (32 MiB) is below that.
			{ N, r: kdf.r, p: kdf.p, maxmem: 256 * N * kdf.r + 1024 * 1024 },
			(err, key) => (err ? reject(err) : resolve(new Uint8Array(key))),
		);
	});
}

function sha256(bytes: Uint8Array): Uint8Array {
	return new Uint8Array(createHash("sha256").update(bytes).digest());
}

/** Makes the stored form of a new password. */
export async function hashHostPassword(
	password: string,
	kdf: ScryptParams = HOST_KDF,
): Promise<StoredPassword> {
	const salt = toBase64url(randomBytes(16));
	const key = await derivePasswordKey(password, salt, kdf);
	return { kdf, salt, verifier: toBase64url(sha256(key)) };
}

/** True if `key` (base64url k from a proof) matches the stored verifier; constant time. */
export function proofMatches(stored: StoredPassword, key: string): boolean {
	const k = fromBase64url(key);
	const expected = fromBase64url(stored.verifier);
	if (!k || !expected || k.length !== 32) return false;
	return timingSafeEqual(sha256(k), expected);
}

/** A random password: 20 characters from an alphabet without look-alikes (about 100 bits). */
export function generateHostPassword(): string {
	const alphabet = "abcdefghijkmnpqrstuvwxyzACDEFGHJKLMNPQRSTUVWXYZ23456789";
	const out: string[] = [];
	while (out.length < 20) {
		for (const b of randomBytes(32)) {
			// Rejection sampling keeps every character equally likely.
			if (b < 256 - (256 % alphabet.length) && out.length < 20)
				out.push(alphabet[b % alphabet.length] as string);
		}
	}
	const s = out.join("");
	return `${s.slice(0, 5)}-${s.slice(5, 10)}-${s.slice(10, 15)}-${s.slice(15)}`;
}

/** The supporter's answer to a host's challenge. */
export async function answerChallenge(
	password: string,
	challenge: Extract<AuthMessage, { t: "challenge" }>,
): Promise<Extract<AuthMessage, { t: "proof" }>> {
	const key = await derivePasswordKey(password, challenge.salt, challenge.kdf);
	return { t: "proof", nonce: challenge.nonce, key: toBase64url(key) };
}

const lockoutSchema = z.object({
	failures: z.int().min(0),
	lockedUntil: z.number(),
});
type LockoutState = z.infer<typeof lockoutSchema>;

/**
 * Failed proofs, kept in a file so that restarting the agent does not reset them. After
 * {@link MAX_FAILURES} failures in a row the host refuses every proof, right or wrong, for
 * LOCK_BASE_MS, doubling with each further failure; a success resets the count.
 */
export class Lockout {
	readonly #file: string;
	#state: LockoutState;

	constructor(file: string) {
		this.#file = file;
		let state: LockoutState = { failures: 0, lockedUntil: 0 };
		try {
			const parsed = lockoutSchema.safeParse(JSON.parse(readFileSync(file, "utf8")));
			// A damaged file counts as locked at the maximum: deleting failures must not be easy.
			state = parsed.success ? parsed.data : { failures: MAX_FAILURES, lockedUntil: 0 };
		} catch (err) {
			if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
				state = { failures: MAX_FAILURES, lockedUntil: 0 };
			}
		}
		this.#state = state;
	}

	/** Consecutive failures so far. */
	get failures(): number {
		return this.#state.failures;
	}

	/** Milliseconds until proofs are checked again; 0 when not locked. */
	retryAfterMs(now = Date.now()): number {
		return Math.max(0, this.#state.lockedUntil - now);
	}

	/** Records a failure; returns the lock it caused (0 if none). */
	fail(now = Date.now()): number {
		const failures = this.#state.failures + 1;
		const lockMs =
			failures >= MAX_FAILURES
				? Math.min(LOCK_MAX_MS, LOCK_BASE_MS * 2 ** (failures - MAX_FAILURES))
				: 0;
		this.#state = { failures, lockedUntil: lockMs > 0 ? now + lockMs : 0 };
		this.#save();
		return lockMs;
	}

	/** Records a success. */
	succeed(): void {
		this.#state = { failures: 0, lockedUntil: 0 };
		this.#save();
	}

	#save(): void {
		const tmp = `${this.#file}.${process.pid}.tmp`;
		writeFileSync(tmp, JSON.stringify(this.#state), { mode: 0o600 });
		renameSync(tmp, this.#file);
	}
}
