import { createRoute, z } from "@hono/zod-openapi";
import {
	moduleFileNameSchema,
	type SignedModuleManifest,
	signedModuleManifestSchema,
} from "../../protocol/module-manifest.ts";
import type { Env } from "../env.ts";
import { AppError } from "../lib/errors.ts";
import { createRouter, errorResponse } from "../lib/router.ts";
import { downloadBody } from "../web/download-page.ts";
import { page } from "./pages.ts";

/*
 * The native module's downloads (docs/modules.md §9). The files and their signed manifest live
 * in MODULES_DIR on the Node side and are streamed through the `DOWNLOADS` service binding, so a
 * ~100 MB executable never passes through the worker's memory or bundle. The server does not
 * vouch for the files by serving them: the modules verify the manifest's signature with the key
 * they pinned and each file's SHA-256 before they use it.
 */

const keySchema = z.object({
	publicKey: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
	fingerprint: z.string().regex(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/),
});

/** A GET on the Node downloads service; 503 MODULES_UNAVAILABLE when it cannot be reached. */
async function downloads(env: Env, path: string, init: RequestInit = {}): Promise<Response> {
	if (!env.DOWNLOADS) throw new AppError("MODULES_UNAVAILABLE");
	let res: Response;
	try {
		res = await env.DOWNLOADS.fetch(`http://downloads/downloads/${path}`, {
			...init,
			headers: {
				...(init.headers as Record<string, string>),
				authorization: `Bearer ${env.DB_TOKEN}`,
			},
		});
	} catch {
		throw new AppError("MODULES_UNAVAILABLE");
	}
	if (res.status >= 500 || res.status === 401) throw new AppError("MODULES_UNAVAILABLE");
	return res;
}

async function signingKey(env: Env): Promise<z.infer<typeof keySchema>> {
	const parsed = keySchema.safeParse(await (await downloads(env, "key")).json().catch(() => null));
	if (!parsed.success) throw new AppError("MODULES_UNAVAILABLE");
	return parsed.data;
}

/** The manifest as the Node side read it from disk, or null when none was built. */
async function manifest(env: Env): Promise<SignedModuleManifest | null> {
	const res = await downloads(env, "manifest");
	if (res.status === 404) return null;
	const parsed = signedModuleManifestSchema.safeParse(await res.json().catch(() => null));
	if (!parsed.success) throw new AppError("MODULES_UNAVAILABLE");
	return parsed.data;
}

const keyResponse = keySchema.openapi("ModuleSigningKey");

/** `/download`, its manifest and files, and the signing key for the API. */
export const downloadRoutes = createRouter()
	.openapi(
		createRoute({
			method: "get",
			path: "/download",
			tags: ["pages"],
			description:
				"Download page: the native module's files with size and SHA-256, and the module-signing key's fingerprint.",
			request: { query: z.object({ lang: z.string().max(8).optional() }) },
			responses: {
				200: {
					content: { "text/html": { schema: z.string() } },
					description: "The page, in German or English.",
				},
				503: errorResponse("MODULES_UNAVAILABLE"),
			},
		}),
		async (c) => {
			const [key, signed] = await Promise.all([signingKey(c.env), manifest(c.env)]);
			const origin = c.env.PUBLIC_URL ?? new URL(c.req.url).origin;
			return page(c, "/download", "download.title", null, (t) =>
				downloadBody(t, { ...key, origin }, signed),
			);
		},
	)
	.openapi(
		createRoute({
			method: "get",
			path: "/download/manifest.json",
			tags: ["modules"],
			description:
				"The signed manifest (name, version, createdAt, files with platform, arch, size, sha256) and its detached Ed25519 signature over `fernwart.v1/module-manifest\\n` ‖ the manifest's RFC 8785 canonical JSON.",
			responses: {
				200: {
					content: { "application/json": { schema: signedModuleManifestSchema } },
					description: "The manifest as build:modules signed it.",
				},
				404: errorResponse("NO_MODULES: nothing was built on this server."),
				503: errorResponse("MODULES_UNAVAILABLE"),
			},
		}),
		async (c) => {
			const signed = await manifest(c.env);
			if (!signed) throw new AppError("NO_MODULES");
			c.header("cache-control", "no-cache");
			return c.json(signed, 200);
		},
	)
	.openapi(
		createRoute({
			method: "get",
			path: "/download/files/{name}",
			tags: ["modules"],
			description:
				"One file the manifest lists, streamed with its length; `ETag` is its SHA-256 from the manifest.",
			request: { params: z.object({ name: moduleFileNameSchema }) },
			responses: {
				200: {
					content: {
						"application/octet-stream": { schema: z.string().openapi({ format: "binary" }) },
					},
					description: "The file.",
				},
				304: { description: "Not modified (If-None-Match matched the ETag)." },
				404: errorResponse("NOT_FOUND: the manifest lists no such file."),
				503: errorResponse("MODULES_UNAVAILABLE"),
			},
		}),
		async (c) => {
			const name = c.req.valid("param").name;
			const res = await downloads(c.env, `files/${encodeURIComponent(name)}`);
			if (res.status !== 200 || !res.body) throw new AppError("NOT_FOUND");
			const etag = res.headers.get("etag") ?? "";
			// Revalidated each time: a rebuild of the same version changes the file and its hash.
			const headers: Record<string, string> = { "cache-control": "no-cache", etag };
			if (etag && c.req.header("if-none-match") === etag) {
				await res.body.cancel();
				return c.body(null, 304, headers);
			}
			// The service's stream, passed on untouched: workerd keeps its known length.
			const length = res.headers.get("content-length");
			return new Response(res.body, {
				status: 200,
				headers: {
					...headers,
					"content-type": "application/octet-stream",
					...(length ? { "content-length": length } : {}),
					"content-disposition": `attachment; filename="${name}"`,
				},
			});
		},
	)
	.openapi(
		createRoute({
			method: "get",
			path: "/api/v1/modules/key",
			tags: ["modules"],
			description:
				"The module-signing key: raw Ed25519 public key (base64url) and its SHA-256 fingerprint, for admins and modules to pin.",
			responses: {
				200: { content: { "application/json": { schema: keyResponse } }, description: "The key." },
				503: errorResponse("MODULES_UNAVAILABLE"),
			},
		}),
		async (c) => c.json(await signingKey(c.env), 200),
	);
