import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
	COMPATIBILITY_DATE,
	EGRESS_GUARD_NAME,
	EGRESS_GUARD_PATH,
	workerdConfig,
} from "../../server/build.ts";

/**
 * A probe worker given exactly the outbound rule the generated workerd config gives the app
 * worker tries to reach a server on loopback and a name that would need DNS. Neither may leave
 * workerd. (Miniflare runs the probe: the app has no route that fetches a URL of our choosing.)
 */
const PROBE = `export default {
	async fetch(request) {
		const target = new URL(request.url).searchParams.get("target");
		try {
			const res = await fetch(target);
			return Response.json({ status: res.status, body: await res.text() });
		} catch (err) {
			return Response.json({ error: String(err) });
		}
	},
};`;

describe("egress: the worker cannot reach any outside address", () => {
	let mf: Miniflare;
	let listener: Server;
	let hits = 0;
	let target: string;

	beforeAll(async () => {
		listener = createServer((_req, res) => {
			hits++;
			res.end("reached");
		});
		await new Promise<void>((r) => listener.listen(0, "127.0.0.1", r));
		target = `http://127.0.0.1:${(listener.address() as AddressInfo).port}/`;
		// The app worker's outbound rule in the one config the launcher and deploy/ run.
		const outbound = /globalOutbound = "([^"]+)"/.exec(workerdConfig("test"))?.[1];
		expect(outbound).toBe(EGRESS_GUARD_NAME);
		mf = new Miniflare(
			convertV4MiniflareOptions({
				cf: false,
				enableDevRegistry: false,
				workers: [
					{
						name: "probe",
						modules: true,
						script: PROBE,
						compatibilityDate: COMPATIBILITY_DATE,
						outboundService: outbound,
					},
					{
						name: EGRESS_GUARD_NAME,
						modules: true,
						script: readFileSync(EGRESS_GUARD_PATH, "utf8"),
						compatibilityDate: COMPATIBILITY_DATE,
					},
				],
			}),
		);
		await mf.ready;
	});

	afterAll(async () => {
		await mf?.dispose();
		await new Promise((r) => listener?.close(r));
	});

	it("refuses a fetch to a loopback server, which never sees the request", async () => {
		const res = await mf.dispatchFetch(`http://probe/?target=${encodeURIComponent(target)}`);
		const body = (await res.json()) as { status?: number; body?: string };
		expect(body.status).toBe(403);
		expect(body.body).toContain("EGRESS_DENIED");
		expect(hits).toBe(0);
	});

	it("refuses a fetch to a public name", async () => {
		const res = await mf.dispatchFetch(
			`http://probe/?target=${encodeURIComponent("https://fernwart-egress-probe.invalid/")}`,
		);
		const body = (await res.json()) as { status?: number; body?: string };
		expect(body.status).toBe(403);
		expect(body.body).toContain("EGRESS_DENIED");
	});

	it("still reaches the loopback server without the rule (the probe itself works)", async () => {
		const open = new Miniflare(
			convertV4MiniflareOptions({
				cf: false,
				enableDevRegistry: false,
				modules: true,
				script: PROBE,
				compatibilityDate: COMPATIBILITY_DATE,
			}),
		);
		try {
			const res = await open.dispatchFetch(`http://probe/?target=${encodeURIComponent(target)}`);
			expect(await res.json()).toEqual({ status: 200, body: "reached" });
			expect(hits).toBe(1);
		} finally {
			await open.dispose();
		}
	});
});
