import { z } from "@hono/zod-openapi";
import { USER_ROLES, type User } from "../../schema/users.ts";
import { pictureUrl } from "./pictures.ts";

/** A user as the API shows it: never the password hash or the TOTP secret. */
export const userSchema = z
	.object({
		id: z.string(),
		email: z.string(),
		displayName: z.string(),
		role: z.enum(USER_ROLES),
		disabled: z.boolean(),
		totpEnabled: z.boolean(),
		groups: z.array(z.string()),
		createdAt: z.string().openapi({ format: "date-time" }),
		/** Same-origin URL of the profile picture, or null (none, or pictures are off). */
		pictureUrl: z.string().nullable(),
	})
	.openapi("User");

export type UserView = z.infer<typeof userSchema>;

/** Builds the API view of a user row. */
export function toUserView(user: User, groups: string[]): UserView {
	return {
		id: user.id,
		email: user.email,
		displayName: user.displayName,
		role: user.role,
		disabled: user.disabled,
		totpEnabled: user.totpEnabled,
		groups,
		createdAt: user.createdAt.toISOString(),
		pictureUrl: pictureUrl(user),
	};
}

/** Passwords: at least 12 characters (OWASP ASVS 2.1.1), at most 1024 to bound hashing work. */
export const passwordSchema = z.string().min(12).max(1024);

// The HTML5 rule (what a browser's type=email accepts): intranet addresses such as admin@localhost
// are valid here, which a stricter public-Internet rule would refuse.
export const emailSchema = z.email({ pattern: z.regexes.html5Email }).max(254);
