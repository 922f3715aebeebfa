import { AwsClient } from "aws4fetch";
import { Hono } from "hono";
import { log } from "./log.ts";
import { tokenMatches } from "./secrets.ts";

/** The admin's S3-compatible store, from `S3_URL`. */
export interface S3Target {
	/** `https://host:port` (or http on a trusted network), no credentials. */
	endpoint: string;
	bucket: string;
	region: string;
	accessKeyId: string;
	secretAccessKey: string;
}

/**
 * Reads `S3_URL`: `https://ACCESS_KEY:SECRET@host[:port]/bucket[?region=eu-central-1]` (path-style,
 * which every S3-compatible server speaks; the key and secret percent-encoded). Throws a
 * `TypeError` naming what is missing; the message never contains the secret.
 */
export function parseS3Url(s3Url: string): S3Target {
	let url: URL;
	try {
		url = new URL(s3Url);
	} catch {
		throw new TypeError("S3_URL is not a URL");
	}
	if (url.protocol !== "https:" && url.protocol !== "http:") {
		throw new TypeError("S3_URL must be an http:// or https:// URL");
	}
	const bucket = url.pathname.replace(/^\/+|\/+$/g, "");
	if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
		throw new TypeError("S3_URL must name the bucket as its path, e.g. https://…/fernwart");
	}
	if (!url.username || !url.password) {
		throw new TypeError(
			"S3_URL must carry the access key and secret: https://KEY:SECRET@host/bucket",
		);
	}
	return {
		endpoint: url.origin,
		bucket,
		region: url.searchParams.get("region") ?? "us-east-1",
		accessKeyId: decodeURIComponent(url.username),
		secretAccessKey: decodeURIComponent(url.password),
	};
}

/** Largest profile picture, in bytes. */
export const MAX_PICTURE_BYTES = 256 * 1024;
/** The only object types the worker may store. */
const PICTURE_TYPES = new Set(["image/png", "image/jpeg", "image/webp"]);
const USER_ID = /^[0-9a-f-]{36}$/;

/**
 * The `STORAGE` service: the worker stores and reads profile pictures, and this Node process
 * speaks S3 (AWS Signature V4, aws4fetch) to the admin's own store. The worker itself never opens
 * a socket. Least privilege: only `pictures/<user id>` objects exist for it, whatever path it asks
 * for, and only images of at most {@link MAX_PICTURE_BYTES}. It demands the DB service's token.
 *
 * - `PUT /storage/pictures/:userId` with the image as body and its `content-type` → 204;
 * - `GET /storage/pictures/:userId` → 200 with the image, or 404;
 * - `DELETE /storage/pictures/:userId` → 204.
 *
 * The store's answers are not passed on: 502 `STORAGE_FAILED` when it fails (logged by status only).
 */
export function createStorageService(s3Url: string, token: string): Hono {
	const target = parseS3Url(s3Url);
	const s3 = new AwsClient({
		accessKeyId: target.accessKeyId,
		secretAccessKey: target.secretAccessKey,
		region: target.region,
		service: "s3",
	});
	const objectUrl = (userId: string) =>
		`${target.endpoint}/${target.bucket}/pictures/${encodeURIComponent(userId)}`;
	const failed = (what: string, status: number) => {
		log.warn("storage", `${what} failed: the store answered ${status}`);
		return new Response(JSON.stringify({ error: { code: "STORAGE_FAILED" } }), {
			status: 502,
			headers: { "content-type": "application/json" },
		});
	};
	const unreachable = (what: string, err: unknown) => {
		log.warn("storage", `${what} failed: ${(err as Error).name}`);
		return new Response(JSON.stringify({ error: { code: "STORAGE_FAILED" } }), {
			status: 502,
			headers: { "content-type": "application/json" },
		});
	};
	return new Hono()
		.use(async (c, next) => {
			if (!tokenMatches(c.req.header("authorization"), token)) {
				return c.json({ error: { code: "UNAUTHORIZED" } }, 401);
			}
			await next();
		})
		.use("/storage/pictures/:userId", async (c, next) => {
			if (!USER_ID.test(c.req.param("userId")))
				return c.json({ error: { code: "NOT_FOUND" } }, 404);
			await next();
		})
		.put("/storage/pictures/:userId", async (c) => {
			const type = c.req.header("content-type") ?? "";
			const body = new Uint8Array(await c.req.arrayBuffer());
			if (!PICTURE_TYPES.has(type) || body.length === 0 || body.length > MAX_PICTURE_BYTES) {
				return c.json({ error: { code: "INVALID_PICTURE" } }, 400);
			}
			try {
				const res = await s3.fetch(objectUrl(c.req.param("userId")), {
					method: "PUT",
					body,
					headers: { "content-type": type },
				});
				if (!res.ok) return failed("storing a picture", res.status);
			} catch (err) {
				return unreachable("storing a picture", err);
			}
			return c.body(null, 204);
		})
		.get("/storage/pictures/:userId", async (c) => {
			let res: Response;
			try {
				res = await s3.fetch(objectUrl(c.req.param("userId")), { method: "GET" });
			} catch (err) {
				return unreachable("reading a picture", err);
			}
			if (res.status === 404) return c.json({ error: { code: "NOT_FOUND" } }, 404);
			if (!res.ok) return failed("reading a picture", res.status);
			const type = res.headers.get("content-type") ?? "";
			const bytes = new Uint8Array(await res.arrayBuffer());
			// What the store holds is checked like what the worker sent: nothing else is served.
			if (!PICTURE_TYPES.has(type) || bytes.length > MAX_PICTURE_BYTES) {
				return failed("reading a picture", 415);
			}
			return c.body(bytes, 200, { "content-type": type });
		})
		.delete("/storage/pictures/:userId", async (c) => {
			try {
				const res = await s3.fetch(objectUrl(c.req.param("userId")), { method: "DELETE" });
				if (!res.ok && res.status !== 404) return failed("deleting a picture", res.status);
			} catch (err) {
				return unreachable("deleting a picture", err);
			}
			return c.body(null, 204);
		})
		.all("*", (c) => c.json({ error: { code: "NOT_FOUND" } }, 404));
}
