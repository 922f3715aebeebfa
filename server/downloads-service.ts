import { createReadStream, statSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { Hono } from "hono";
import { moduleFileNameSchema, type SignedModuleManifest } from "../protocol/module-manifest.ts";
import { log } from "./log.ts";
import { readSignedManifest } from "./module-signing.ts";
import { tokenMatches } from "./secrets.ts";

/** What the downloads service needs: the folder build:modules wrote and the key's public half. */
export interface DownloadsTarget {
	/** MODULES_DIR: the files and their signed manifest.json. */
	dir: string;
	/** Raw Ed25519 public key (base64url) and its `AB:CD:…` fingerprint. */
	publicKey: string;
	fingerprint: string;
}

/**
 * The `DOWNLOADS` service: the worker's `/download` routes read the module files through it, so
 * files of ~100 MB never enter the worker bundle or its memory: they are streamed from
 * MODULES_DIR with their length. Only files the manifest lists are served (nothing else in the
 * folder, no paths). The manifest is read from disk on each request, so a new build is served
 * without a restart, and passed on as it is: the modules check its signature, so one changed
 * on disk is refused by them. Demands the DB service's token.
 *
 * - `GET /downloads/key` → `{ publicKey, fingerprint }` of the server's module-signing key;
 * - `GET /downloads/manifest` → the signed manifest, 404 `NO_MODULES`, or 503 `BAD_MANIFEST`
 *   (logged) when the file is there but is not a signed manifest;
 * - `GET /downloads/files/:name` → the file (`content-length`, `etag` = its SHA-256 from the
 *   manifest), or 404 `NOT_FOUND`.
 */
export function createDownloadsService(target: DownloadsTarget, token: string): Hono {
	const notFound = (code: string) =>
		new Response(JSON.stringify({ error: { code } }), {
			status: 404,
			headers: { "content-type": "application/json" },
		});
	const unusable = () =>
		new Response(JSON.stringify({ error: { code: "BAD_MANIFEST" } }), {
			status: 503,
			headers: { "content-type": "application/json" },
		});
	/** The manifest on disk; "bad" (logged) when it exists but cannot be used. */
	const current = (): SignedModuleManifest | null | "bad" => {
		try {
			return readSignedManifest(target.dir);
		} catch (err) {
			log.warn("downloads", `${target.dir}: ${(err as Error).message}`);
			return "bad";
		}
	};
	return new Hono()
		.use(async (c, next) => {
			if (!tokenMatches(c.req.header("authorization"), token)) {
				return c.json({ error: { code: "UNAUTHORIZED" } }, 401);
			}
			await next();
		})
		.get("/downloads/key", (c) =>
			c.json({ publicKey: target.publicKey, fingerprint: target.fingerprint }),
		)
		.get("/downloads/manifest", (c) => {
			const signed = current();
			if (signed === "bad") return unusable();
			return signed ? c.json(signed) : notFound("NO_MODULES");
		})
		.get("/downloads/files/:name", (c) => {
			const name = c.req.param("name");
			const signed = current();
			if (signed === "bad") return unusable();
			const file = signed?.manifest.files.find((f) => f.name === name);
			if (!moduleFileNameSchema.safeParse(name).success || !file) return notFound("NOT_FOUND");
			const path = join(target.dir, file.name);
			let size: number;
			try {
				const stat = statSync(path);
				if (!stat.isFile()) return notFound("NOT_FOUND");
				size = stat.size;
			} catch {
				return notFound("NOT_FOUND");
			}
			const stream = Readable.toWeb(createReadStream(path)) as ReadableStream<Uint8Array>;
			return c.body(stream, 200, {
				"content-type": "application/octet-stream",
				"content-length": String(size),
				etag: `"${file.sha256}"`,
			});
		})
		.all("*", () => notFound("NOT_FOUND"));
}
