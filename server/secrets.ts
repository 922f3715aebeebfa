import { randomBytes, timingSafeEqual } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "./config.ts";

/**
 * The shared secret between workerd and the Node DB service. Kept as a systemd-style
 * EnvironmentFile in the data dir (mode 0600) so that deploy/ can hand it to workerd unchanged.
 * Made on first start; a file that exists but holds no valid token stops the start.
 *
 * @returns 32 random bytes, base64url (43 characters).
 * @throws ConfigError naming the file when it is present but malformed.
 */
export function ensureDbToken(dataDir: string): string {
	const path = join(dataDir, "db-token.env");
	if (existsSync(path)) {
		const match = /^FERNWART_DB_TOKEN=([A-Za-z0-9_-]{43})$/m.exec(readFileSync(path, "utf8"));
		if (match?.[1]) return match[1];
		// A silently replaced token would leave a workerd started with the old one unable to
		// reach the database, with no word why.
		throw new ConfigError(
			"DATA_DIR",
			`${path} holds no valid FERNWART_DB_TOKEN; remove the file to make a new token`,
		);
	}
	const token = randomBytes(32).toString("base64url");
	writeFileSync(path, `FERNWART_DB_TOKEN=${token}\n`, { mode: 0o600 });
	return token;
}

/**
 * Whether an `Authorization` header carries `Bearer <token>`, compared in constant time (the
 * length check reveals only the length of a fixed-format header). Used by the DB and mail
 * services, which both demand the shared token.
 */
export function tokenMatches(header: string | undefined, token: string): boolean {
	const expected = Buffer.from(`Bearer ${token}`);
	const given = Buffer.from(header ?? "");
	// Constant-time compare; the length check leaks only the length of a fixed-format header.
	return given.length === expected.length && timingSafeEqual(given, expected);
}
