import { randomBytes } from "node:crypto";
import { hashPassword } from "../functions/lib/password.ts";
import type { Db } from "../schema/db.ts";
import { countUsers, createUser } from "../schema/users.ts";
import type { Config } from "./config.ts";

export interface FirstAdmin {
	email: string;
	/** Set only when the password was generated; the caller prints it once and forgets it. */
	generatedPassword: string | undefined;
}

/** A 24-character password from a 55-letter alphabet without look-alikes: about 138 bits. */
export function generatePassword(): string {
	const alphabet = "abcdefghjkmnpqrstuvwxyz23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
	// 256 % 55 != 0, so reject the top bytes to keep every letter equally likely.
	const limit = 256 - (256 % alphabet.length);
	let out = "";
	while (out.length < 24) {
		for (const b of randomBytes(32)) {
			if (b < limit && out.length < 24) out += alphabet[b % alphabet.length];
		}
	}
	return out;
}

/** Creates the first admin when no account exists yet; returns null when there already is one. */
export async function ensureFirstAdmin(db: Db, config: Config): Promise<FirstAdmin | null> {
	if ((await countUsers(db)) > 0) return null;
	const email = config.adminEmail ?? "admin@localhost";
	const generatedPassword = config.adminPassword ? undefined : generatePassword();
	const password = config.adminPassword ?? (generatedPassword as string);
	await createUser(db, {
		email,
		displayName: "Administrator",
		role: "admin",
		passwordHash: await hashPassword(password),
	});
	return { email, generatedPassword };
}
