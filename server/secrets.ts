import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * The shared secret between workerd and the Node DB service. Kept as a systemd-style
 * EnvironmentFile in the data dir (mode 0600) so that deploy/ can hand it to workerd unchanged.
 */
export function ensureDbToken(dataDir: string): string {
	const path = join(dataDir, "db-token.env");
	if (existsSync(path)) {
		const match = /^FERNWART_DB_TOKEN=([A-Za-z0-9_-]{43})$/m.exec(readFileSync(path, "utf8"));
		if (match?.[1]) return match[1];
	}
	const token = randomBytes(32).toString("base64url");
	writeFileSync(path, `FERNWART_DB_TOKEN=${token}\n`, { mode: 0o600 });
	return token;
}
