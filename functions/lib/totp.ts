import { Secret, TOTP } from "otpauth";

/** RFC 6238 with the parameters every authenticator app supports: SHA-1, 6 digits, 30 s. */
const PERIOD = 30;
const ISSUER = "Fernwart";

function totpFor(secret: Uint8Array, label = "") {
	return new TOTP({
		issuer: ISSUER,
		label,
		algorithm: "SHA1",
		digits: 6,
		period: PERIOD,
		secret: new Secret({ buffer: secret.slice().buffer }),
	});
}

/** A fresh 160-bit secret (RFC 4226 recommends 160 bits). */
export function newTotpSecret(): Uint8Array {
	return crypto.getRandomValues(new Uint8Array(20));
}

/** What an authenticator app needs: the base32 secret and the `otpauth://` URI for a QR code. */
export function totpEnrolment(
	secret: Uint8Array,
	account: string,
): { secret: string; uri: string } {
	const totp = totpFor(secret, account);
	return { secret: totp.secret.base32, uri: totp.toString() };
}

/**
 * Checks a code, allowing one step of clock drift either way. Returns the time step the code
 * belongs to (so the caller can refuse replays of that step), or null.
 */
export function verifyTotp(secret: Uint8Array, code: string, now = Date.now()): number | null {
	if (!/^\d{6}$/.test(code)) return null;
	const delta = totpFor(secret).validate({ token: code, timestamp: now, window: 1 });
	if (delta === null) return null;
	return Math.floor(now / 1000 / PERIOD) + delta;
}

/** The current code, for tests and the CLI. */
export function currentTotp(secret: Uint8Array, now = Date.now()): string {
	return totpFor(secret).generate({ timestamp: now });
}
