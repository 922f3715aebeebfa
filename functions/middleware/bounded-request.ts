import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { matchedRoutes } from "hono/route";
import type { AppEnv } from "../env.ts";
import { AppError } from "../lib/errors.ts";
import { BODY_NONE_MAX_BYTES, type RouteLimits, URL_MAX_BYTES } from "../lib/http-limits.ts";

/** The route Hono will run for this request: the last matched entry that is not middleware. */
function targetRoute(c: Context<AppEnv>) {
	return matchedRoutes(c).findLast((r) => r.method !== "ALL");
}

/**
 * Refuses over-long URLs and reads the body, counting, before any route sees it: the
 * Content-Length is only used to refuse early, never believed, so a chunked body or a lying
 * header stops at the route's cap plus one chunk. The bytes read are handed to Hono's body cache
 * (the request object itself stays, with its `cf` and headers), so validators parse from memory
 * that is at most the cap.
 */
export function boundedRequest(limits: () => ReadonlyMap<string, RouteLimits>) {
	return createMiddleware<AppEnv>(async (c, next) => {
		const url = new URL(c.req.url);
		if (url.pathname.length + url.search.length > URL_MAX_BYTES) {
			throw new AppError("URI_TOO_LONG", { limit: URL_MAX_BYTES });
		}
		const body = c.req.raw.body;
		if (body === null) return next();
		const route = targetRoute(c);
		const limit = route
			? (limits().get(`${route.method} ${route.path}`)?.maxBodyBytes ?? BODY_NONE_MAX_BYTES)
			: BODY_NONE_MAX_BYTES;
		const tooLarge = () => new AppError("PAYLOAD_TOO_LARGE", { limit });
		const declared = Number(c.req.header("content-length") ?? "0");
		if (declared > limit) {
			await body.cancel().catch(() => {}); // nothing to keep; the refusal is the answer
			throw tooLarge();
		}
		const reader = body.getReader();
		const chunks: Uint8Array[] = [];
		let size = 0;
		for (;;) {
			const { done, value } = await reader.read();
			if (done) break;
			size += value.byteLength;
			if (size > limit) {
				await reader.cancel().catch(() => {}); // the rest is never read into memory
				throw tooLarge();
			}
			chunks.push(value);
		}
		const bytes = new Uint8Array(size);
		let offset = 0;
		for (const chunk of chunks) {
			bytes.set(chunk, offset);
			offset += chunk.byteLength;
		}
		// Hono keeps promises in this cache (its type says values); json() and text() derive from it.
		const cache = c.req.bodyCache as { arrayBuffer?: Promise<ArrayBuffer> };
		cache.arrayBuffer = Promise.resolve(bytes.buffer);
		await next();
	});
}
