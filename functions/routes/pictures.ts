import { createRoute, z } from "@hono/zod-openapi";
import { getUserById, type User, updateUser } from "../../schema/users.ts";
import type { Env } from "../env.ts";
import { AppError } from "../lib/errors.ts";
import { BODY_LIMIT_EXTENSION } from "../lib/http-limits.ts";
import { createRouter, errorResponse } from "../lib/router.ts";
import { requireUser } from "../middleware/require-user.ts";
import { withDb } from "../middleware/with-db.ts";

/** Largest profile picture, in bytes (the storage service holds the same cap). */
export const MAX_PICTURE_BYTES = 256 * 1024;

/** Media types a picture may have, with the bytes each file format starts with. */
const FORMATS: { type: string; matches: (b: Uint8Array) => boolean }[] = [
	// PNG signature (RFC 2083 §3.1).
	{
		type: "image/png",
		matches: (b) => startsWith(b, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
	},
	// JPEG: SOI marker followed by another marker (ITU T.81 B.1.1.3).
	{ type: "image/jpeg", matches: (b) => startsWith(b, [0xff, 0xd8, 0xff]) },
	// WebP: a RIFF container of form type "WEBP" (RFC 9649 §2.5).
	{
		type: "image/webp",
		matches: (b) =>
			startsWith(b, [0x52, 0x49, 0x46, 0x46]) &&
			startsWith(b.subarray(8), [0x57, 0x45, 0x42, 0x50]),
	},
];

function startsWith(bytes: Uint8Array, prefix: number[]): boolean {
	return bytes.length >= prefix.length && prefix.every((v, i) => bytes[i] === v);
}

/**
 * The media type the bytes really are, if it is one a picture may have and the one the client
 * declared; null otherwise (a mislabelled file is refused rather than served as something else).
 */
export function pictureType(bytes: Uint8Array, declared: string | undefined): string | null {
	const format = FORMATS.find((f) => f.matches(bytes));
	return format && declared?.split(";")[0]?.trim().toLowerCase() === format.type
		? format.type
		: null;
}

/** Profile pictures exist only with the admin's own S3 store (S3_URL); never an outside service. */
export function picturesEnabled(env: Env): boolean {
	return env.STORAGE_ENABLED === "true" && env.STORAGE !== undefined;
}

/** Where a user's picture is served (same origin, so the pages' CSP stays closed), or null. */
export function pictureUrl(
	user: Pick<User, "id" | "pictureType" | "pictureUpdatedAt">,
): string | null {
	if (!user.pictureType || !user.pictureUpdatedAt) return null;
	return `/api/v1/users/${user.id}/picture?v=${user.pictureUpdatedAt.getTime()}`;
}

async function storage(env: Env, method: string, userId: string, init: RequestInit = {}) {
	if (!picturesEnabled(env)) throw new AppError("PICTURES_DISABLED");
	let res: Response;
	try {
		res = await (env.STORAGE as NonNullable<Env["STORAGE"]>).fetch(
			`http://storage/storage/pictures/${userId}`,
			{
				...init,
				method,
				headers: {
					...(init.headers as Record<string, string>),
					authorization: `Bearer ${env.DB_TOKEN}`,
				},
			},
		);
	} catch {
		throw new AppError("STORAGE_UNAVAILABLE");
	}
	if (res.status >= 500) throw new AppError("STORAGE_UNAVAILABLE");
	return res;
}

const security = [{ bearer: [] }];
const imageBody = {
	content: Object.fromEntries(
		FORMATS.map((f) => [f.type, { schema: z.string().openapi({ format: "binary" }) }]),
	),
	required: true,
};

/** Profile pictures: set and remove one's own, and read anyone's by user id. */
export const pictures = createRouter()
	.openapi(
		createRoute({
			method: "put",
			path: "/api/v1/me/picture",
			tags: ["me"],
			security,
			middleware: [requireUser] as const,
			[BODY_LIMIT_EXTENSION]: MAX_PICTURE_BYTES,
			request: { body: imageBody },
			responses: {
				204: { description: "The picture is stored in the admin's S3 store." },
				400: errorResponse("INVALID_PICTURE: not a PNG, JPEG or WebP, or not the declared type."),
				413: errorResponse("PAYLOAD_TOO_LARGE (over 256 KiB)."),
				501: errorResponse("PICTURES_DISABLED: no S3 store is configured."),
				503: errorResponse("STORAGE_UNAVAILABLE"),
			},
		}),
		async (c) => {
			const principal = c.var.principal;
			if (principal.kind !== "user") throw new AppError("FORBIDDEN");
			if (!picturesEnabled(c.env)) throw new AppError("PICTURES_DISABLED");
			const bytes = new Uint8Array(await c.req.arrayBuffer());
			const type = pictureType(bytes, c.req.header("content-type"));
			if (!type) throw new AppError("INVALID_PICTURE");
			const stored = await storage(c.env, "PUT", principal.id, {
				body: bytes,
				headers: { "content-type": type },
			});
			if (!stored.ok) throw new AppError("INVALID_PICTURE");
			await updateUser(c.var.db, principal.id, { pictureType: type, pictureUpdatedAt: new Date() });
			return c.body(null, 204);
		},
	)
	.openapi(
		createRoute({
			method: "delete",
			path: "/api/v1/me/picture",
			tags: ["me"],
			security,
			middleware: [requireUser] as const,
			responses: {
				204: { description: "The picture is gone from the store and from the account." },
				501: errorResponse("PICTURES_DISABLED"),
				503: errorResponse("STORAGE_UNAVAILABLE"),
			},
		}),
		async (c) => {
			const principal = c.var.principal;
			if (principal.kind !== "user") throw new AppError("FORBIDDEN");
			await storage(c.env, "DELETE", principal.id);
			await updateUser(c.var.db, principal.id, { pictureType: null, pictureUpdatedAt: null });
			return c.body(null, 204);
		},
	)
	.openapi(
		createRoute({
			method: "get",
			path: "/api/v1/users/{id}/picture",
			tags: ["users"],
			middleware: [withDb] as const,
			request: { params: z.object({ id: z.string().regex(/^[0-9a-f-]{36}$/) }) },
			responses: {
				200: {
					content: Object.fromEntries(
						FORMATS.map((f) => [f.type, { schema: z.string().openapi({ format: "binary" }) }]),
					),
					description:
						"The picture. No login: a customer's page shows its supporter's. User ids are random UUIDs.",
				},
				404: errorResponse("NOT_FOUND: no such user, no picture, or the account is disabled."),
				501: errorResponse("PICTURES_DISABLED"),
			},
		}),
		async (c) => {
			if (!picturesEnabled(c.env)) throw new AppError("PICTURES_DISABLED");
			const { id } = c.req.valid("param");
			const user = await getUserById(c.var.db, id);
			if (!user || user.disabled || !user.pictureType) throw new AppError("NOT_FOUND");
			const res = await storage(c.env, "GET", id);
			if (!res.ok) throw new AppError("NOT_FOUND");
			const bytes = new Uint8Array(await res.arrayBuffer());
			// Served only as the type it was checked to be, never sniffed, never as a page.
			const type = pictureType(bytes, user.pictureType);
			if (!type) throw new AppError("NOT_FOUND");
			return c.body(bytes, 200, {
				"content-type": type,
				"content-disposition": "inline",
				"cache-control": "private, max-age=300",
			});
		},
	);
