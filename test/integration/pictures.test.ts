/**
 * Profile pictures live only in the admin's own S3-compatible store (S3_URL), reached by the Node
 * backend with signed requests; the worker itself has no outbound connection. The store here is a
 * real S3-compatible server on loopback (s3rver, files in a temp folder).
 */
import { AwsClient } from "aws4fetch";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN, bearer, mustLogin } from "../helpers/auth.ts";
import { startS3, type TestS3 } from "../helpers/s3.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

/** A 1×1 PNG (RFC 2083 signature, IHDR, IDAT, IEND). */
const PNG = Buffer.from(
	"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
	"base64",
);
const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(200, 1)]);

describe("profile pictures in the admin's S3 store", () => {
	let s3: TestS3;
	let store: string;
	let server: TestServer;
	let token: string;
	let userId: string;
	let direct: AwsClient;

	beforeAll(async () => {
		s3 = await startS3("fernwart");
		store = s3.bucketUrl;
		direct = new AwsClient({ ...s3.credentials, service: "s3", region: "us-east-1" });
		server = await startServer({ env: { S3_URL: s3.s3Url } });
		const login = await mustLogin(server, ADMIN);
		token = login.accessToken;
		userId = (await server.json<{ id: string }>("/api/v1/me", { headers: bearer(token) })).body.id;
	});
	afterAll(async () => {
		await server?.stop();
		await s3?.close();
	});

	const put = (body: Uint8Array, type: string) =>
		server.fetch("/api/v1/me/picture", {
			method: "PUT",
			body: body as unknown as BodyInit,
			headers: { ...bearer(token), "content-type": type },
		});

	it("stores an uploaded picture in the store and serves it from our own origin", async () => {
		expect(
			(await server.json<{ pictureUrl: unknown }>("/api/v1/me", { headers: bearer(token) })).body
				.pictureUrl,
		).toBeNull();
		expect((await put(PNG, "image/png")).status).toBe(204);
		const me = await server.json<{ pictureUrl: string }>("/api/v1/me", { headers: bearer(token) });
		expect(me.body.pictureUrl).toMatch(new RegExp(`^/api/v1/users/${userId}/picture\\?v=\\d+$`));
		// Without a login (a customer's page shows its supporter's picture).
		const served = await server.fetch(me.body.pictureUrl);
		expect(served.status).toBe(200);
		expect(served.headers.get("content-type")).toBe("image/png");
		expect(served.headers.get("x-content-type-options")).toBe("nosniff");
		expect(Buffer.from(await served.arrayBuffer())).toEqual(PNG);
		// It is really in the admin's store, under the user's id and nowhere else.
		const object = await direct.fetch(`${store}/pictures/${userId}`);
		expect(object.status).toBe(200);
		expect(Buffer.from(await object.arrayBuffer())).toEqual(PNG);
		// The user list shows it too.
		const list = await server.json<{ users: { id: string; pictureUrl: string | null }[] }>(
			"/api/v1/users",
			{ headers: bearer(token) },
		);
		expect(list.body.users.find((u) => u.id === userId)?.pictureUrl).toBe(me.body.pictureUrl);
		// The admin's settings say pictures are on.
		const settings = await server.json<{ picturesEnabled: boolean }>("/api/v1/settings", {
			headers: bearer(token),
		});
		expect(settings.body.picturesEnabled).toBe(true);
		// A customer who joins learns whom they let in: name and picture, no login needed.
		const created = await server.json<{ code: string }>("/api/v1/sessions", {
			body: {},
			headers: bearer(token),
		});
		const joined = await server.json<{ supporter: { name: string; pictureUrl: string | null } }>(
			"/api/v1/sessions/join",
			{ body: { code: created.body.code, displayName: "Ann" } },
		);
		expect(joined.status).toBe(200);
		expect(joined.body.supporter.pictureUrl).toBe(me.body.pictureUrl);
		expect(joined.body.supporter.name.length).toBeGreaterThan(0);
	});

	it("refuses what is not a picture, a mislabelled one and one over 256 KiB, and keeps the old one", async () => {
		const before = await server.json<{ pictureUrl: string }>("/api/v1/me", {
			headers: bearer(token),
		});
		const html = new TextEncoder().encode("<html><script>alert(1)</script></html>");
		for (const [body, type] of [
			[html, "image/png"],
			[PNG, "image/jpeg"],
			[PNG, "text/html"],
			[JPEG, "image/webp"],
		] as const) {
			const res = await put(body, type);
			expect(res.status).toBe(400);
			expect(((await res.json()) as { error: { code: string } }).error.code).toBe(
				"INVALID_PICTURE",
			);
		}
		const big = Buffer.concat([PNG, Buffer.alloc(256 * 1024)]);
		const tooBig = await put(big, "image/png");
		expect(tooBig.status).toBe(413);
		expect((await server.json("/api/v1/me", { headers: bearer(token) })).body).toMatchObject({
			pictureUrl: before.body.pictureUrl,
		});
		// A JPEG is a picture too, and replaces the PNG.
		expect((await put(JPEG, "image/jpeg")).status).toBe(204);
		const after = await server.json<{ pictureUrl: string }>("/api/v1/me", {
			headers: bearer(token),
		});
		const served = await server.fetch(after.body.pictureUrl);
		expect(served.headers.get("content-type")).toBe("image/jpeg");
		expect(Buffer.from(await served.arrayBuffer())).toEqual(JPEG);
	});

	it("needs a login to change a picture, and answers 404 for an unknown user", async () => {
		const anonymous = await server.fetch("/api/v1/me/picture", {
			method: "PUT",
			body: PNG,
			headers: { "content-type": "image/png" },
		});
		expect(anonymous.status).toBe(401);
		const unknown = await server.fetch(
			"/api/v1/users/00000000-0000-4000-8000-000000000000/picture",
		);
		expect(unknown.status).toBe(404);
	});

	it("removes the picture from the store and the account", async () => {
		const url = (
			await server.json<{ pictureUrl: string }>("/api/v1/me", { headers: bearer(token) })
		).body.pictureUrl;
		const removed = await server.fetch("/api/v1/me/picture", {
			method: "DELETE",
			headers: bearer(token),
		});
		expect(removed.status).toBe(204);
		expect((await server.json("/api/v1/me", { headers: bearer(token) })).body).toMatchObject({
			pictureUrl: null,
		});
		expect((await server.fetch(url)).status).toBe(404);
		expect((await direct.fetch(`${store}/pictures/${userId}`)).status).toBe(404);
	});

	it("says the store is unreachable instead of failing obscurely", async () => {
		await s3.close();
		const res = await put(PNG, "image/png");
		expect(res.status).toBe(503);
		expect(((await res.json()) as { error: { code: string } }).error.code).toBe(
			"STORAGE_UNAVAILABLE",
		);
		expect(server.output()).not.toContain("S3RVER:S3RVER");
	});
});
