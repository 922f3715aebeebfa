/**
 * The screen as video (docs/protocol.md §2.3) between two real Chromium pages through the real
 * relay: the customer page encodes with WebCodecs, the console decodes onto its canvas. The
 * customer shares a known pattern (four coloured quadrants and a moving square, drawn on a canvas
 * and captured with `captureStream`, standing in for the picker's screen), so the console's
 * pixels can be checked where the pattern is known.
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { Agent, WebSocket as UndiciWebSocket, fetch as undiciFetch } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiClient, type FetchLike } from "../../modules/sdk/api.ts";
import {
	encodeVideoChunk,
	SessionClient,
	VIDEO_FEEDBACK_STREAM,
	VIDEO_STREAM,
	type VideoChunk,
	type VideoFeedback,
	type WebSocketLike,
} from "../../modules/sdk/index.ts";
import { ADMIN, bearer, createUserAs, mustLogin } from "../helpers/auth.ts";
import {
	hasChromium,
	issueSupportId,
	joinAndAcceptTerms,
	launchChromium,
	logIn,
	screenshot,
	watchErrors,
} from "../helpers/browser.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

const SUPPORTER = { email: "video-supporter@example.test", password: "supporter password 1" };

/** The shared pattern: 1280×720, quadrants in these colours (row by row), a square moving on top. */
const PATTERN = { width: 1280, height: 720 };
const QUADRANTS: [fx: number, fy: number, rgb: number[]][] = [
	[0.1, 0.1, [220, 30, 30]],
	[0.9, 0.1, [30, 200, 40]],
	[0.1, 0.9, [30, 60, 220]],
	[0.9, 0.9, [240, 240, 240]],
];
/** Colour error allowed after encoding and decoding (4:2:0 chroma, lossy). */
const TOLERANCE = 28;

/**
 * Replaces the picker with the pattern (runs in the customer page before its scripts): a canvas
 * that is redrawn every animation frame, so the capture delivers new frames all the time.
 */
function sharePattern(size: { width: number; height: number }): void {
	navigator.mediaDevices.getDisplayMedia = async () => {
		const canvas = document.createElement("canvas");
		canvas.width = size.width;
		canvas.height = size.height;
		const context = canvas.getContext("2d");
		if (!context) throw new Error("no 2d context");
		const colours = ["rgb(220,30,30)", "rgb(30,200,40)", "rgb(30,60,220)", "rgb(240,240,240)"];
		let step = 0;
		const paint = () => {
			const w = size.width / 2;
			const h = size.height / 2;
			colours.forEach((colour, i) => {
				context.fillStyle = colour;
				context.fillRect((i % 2) * w, Math.floor(i / 2) * h, w, h);
			});
			context.fillStyle = "black";
			context.fillRect(w - 100 + ((step * 7) % 200), h - 50, 60, 60);
			step += 1;
		};
		paint();
		setInterval(paint, 33); // timers, not animation frames: the tab may be in the background
		return canvas.captureStream(30);
	};
}

/**
 * Notes the console's sockets, to close one as a network failure would end it (the SDK resumes
 * after any close code but the final ones).
 */
function keepSockets(): void {
	const sockets: WebSocket[] = [];
	(window as unknown as { sockets: WebSocket[] }).sockets = sockets;
	const Original = WebSocket;
	window.WebSocket = class extends Original {
		constructor(url: string | URL, protocols?: string | string[]) {
			super(url, protocols);
			sockets.push(this);
		}
	};
}

/** The colour at a point of the console's canvas, in fractions of its size. */
function canvasPixel(page: Page, fx: number, fy: number): Promise<number[]> {
	return page.evaluate(
		([x, y]) => {
			const canvas = document.getElementById("screen") as HTMLCanvasElement;
			const px = canvas
				.getContext("2d")
				?.getImageData(Math.floor(canvas.width * x), Math.floor(canvas.height * y), 1, 1).data;
			return px ? [px[0] ?? -1, px[1] ?? -1, px[2] ?? -1] : [];
		},
		[fx, fy] as const,
	);
}

async function expectPattern(page: Page): Promise<void> {
	for (const [fx, fy, rgb] of QUADRANTS) {
		const pixel = await canvasPixel(page, fx, fy);
		const off = rgb.map((c, i) => Math.abs((pixel[i] ?? -999) - c));
		expect({ at: [fx, fy], pixel, ok: off.every((d) => d <= TOLERANCE) }).toEqual({
			at: [fx, fy],
			pixel,
			ok: true,
		});
	}
}

const dataset = (page: Page) =>
	page.evaluate(() => ({ ...(document.getElementById("screen") as HTMLCanvasElement).dataset }));

/**
 * Screen frames the console received, in order, as the streams of their clear headers: what the
 * relay forwarded, before the page opened anything.
 */
function screenStreams(page: Page): number[] {
	const streams: number[] = [];
	page.on("websocket", (ws) => {
		ws.on("framereceived", ({ payload }) => {
			if (typeof payload === "string" || payload.length < 14 || payload[1] !== 1) return;
			streams.push(payload.readUInt32BE(2));
		});
	});
	return streams;
}

describe.skipIf(!hasChromium)("the screen as video", () => {
	let server: TestServer;
	let browser: Browser;
	let staff: BrowserContext;
	let customerContext: BrowserContext;
	let agent: Agent;
	let fetch: FetchLike;
	const errors: string[][] = [];

	beforeAll(async () => {
		server = await startServer();
		const admin = await mustLogin(server, ADMIN);
		await createUserAs(server, admin.accessToken, { ...SUPPORTER, role: "supporter" });
		// Admission has its own test (admission.test.ts); here the customer is in once it joins.
		const off = await server.json("/api/v1/settings", {
			method: "PATCH",
			body: { requireAdmission: false },
			headers: bearer(admin.accessToken),
		});
		if (off.status !== 200) throw new Error(`settings: ${off.status}`);
		browser = await launchChromium();
		staff = await browser.newContext({
			ignoreHTTPSErrors: true,
			locale: "en-US",
			viewport: { width: 1280, height: 900 },
		});
		customerContext = await browser.newContext({
			ignoreHTTPSErrors: true,
			locale: "en-US",
			viewport: { width: 1280, height: 900 },
		});
		agent = new Agent({ connect: { ca: server.ca } });
		fetch = (url, init) => undiciFetch(url, { ...init, dispatcher: agent });
	});

	afterAll(async () => {
		const seen = errors.flat().filter((e) => !e.includes("camera is not allowed"));
		if (seen.length) console.log(`page errors:\n${seen.join("\n")}`);
		await browser?.close();
		await agent?.close();
		await server?.stop();
	});

	/** A console and a customer page that shares the pattern; resolves once the console views it. */
	async function openSharing(consoleScript?: () => void) {
		const supporter = await staff.newPage();
		errors.push(watchErrors(supporter));
		await supporter.addInitScript(keepSockets);
		if (consoleScript) await supporter.addInitScript(consoleScript);
		const streams = screenStreams(supporter);
		await logIn(supporter, server.url, SUPPORTER);
		const code = await issueSupportId(supporter);
		const customer = await customerContext.newPage();
		errors.push(watchErrors(customer));
		await customer.addInitScript(sharePattern, PATTERN);
		await joinAndAcceptTerms(customer, server.url, code);
		await customer.waitForSelector("#share:not([disabled])");
		await customer.click("#share");
		await customer.waitForSelector("#ind-viewing:not([hidden])");
		return { supporter, customer, streams };
	}

	it("streams the customer's screen as VP8 the console decodes, and a resumed console has a picture within a second", async () => {
		const { supporter, customer, streams } = await openSharing();
		await supporter.waitForFunction(
			() => Number(document.getElementById("screen")?.dataset.videoFrames ?? 0) >= 10,
		);
		const data = await dataset(supporter);
		expect(data.videoCodec).toBe("vp8");
		// Full resolution, and the picture's pixels where the pattern is known.
		expect(
			await supporter.$eval("#screen", (c) => [
				(c as HTMLCanvasElement).width,
				(c as HTMLCanvasElement).height,
			]),
		).toEqual([PATTERN.width, PATTERN.height]);
		await expectPattern(supporter);
		// Video, not pictures: once the first chunk came, no JPEG followed (one or two may precede
		// it, sent before the console's codecs reached the customer).
		const firstVideo = streams.indexOf(3);
		expect(firstVideo).toBeGreaterThanOrEqual(0);
		expect(streams.slice(firstVideo).filter((s) => s === 1)).toEqual([]);
		expect(streams.slice(0, firstVideo).every((s) => s === 1 || s === 2)).toBe(true);
		// The customer encodes from the track, and the console's recorder hook saw the chunks.
		expect(
			await customer.$eval("#preview", (v) => (v as HTMLVideoElement).dataset.videoSource),
		).toBe("track");
		expect(Number(data.videoChunks)).toBeGreaterThanOrEqual(10);
		expect(data.videoRejected).toBeUndefined();
		await screenshot(supporter, "70-console-video");

		// The console's socket closes (a network failure); the SDK resumes with a new ticket, the
		// console asks for a key chunk and draws a picture within a second of the new socket.
		await supporter.evaluate(() => {
			delete (document.getElementById("screen") as HTMLCanvasElement).dataset.videoResumeMs;
		});
		const sockets = await supporter.evaluate(
			() => (window as unknown as { sockets: WebSocket[] }).sockets.length,
		);
		await supporter.evaluate(() =>
			(window as unknown as { sockets: WebSocket[] }).sockets.at(-1)?.close(3000, "network"),
		);
		await supporter.waitForFunction(
			() => document.getElementById("screen")?.dataset.videoResumeMs !== undefined,
			undefined,
			{ timeout: 20_000 },
		);
		expect(
			await supporter.evaluate(
				() => (window as unknown as { sockets: WebSocket[] }).sockets.length,
			),
		).toBe(sockets + 1);
		const resumeMs = Number((await dataset(supporter)).videoResumeMs);
		console.log(`resumed console: first decoded picture ${resumeMs} ms after the new socket`);
		expect(resumeMs).toBeLessThan(1000);
		await expectPattern(supporter);
		expect((await dataset(supporter)).videoCodec).toBe("vp8");
		await customer.close();
		await supporter.close();
	});

	it("falls back to pictures for a console without WebCodecs", async () => {
		const { supporter, customer, streams } = await openSharing(() => {
			// A browser without WebCodecs' decoder.
			delete (window as { VideoDecoder?: unknown }).VideoDecoder;
		});
		await supporter.waitForFunction(
			() => Number(document.getElementById("screen")?.dataset.frames ?? 0) >= 3,
		);
		expect(streams).not.toContain(3);
		expect(streams).toContain(1);
		expect((await dataset(supporter)).videoFrames).toBeUndefined();
		await expectPattern(supporter);
		await customer.close();
		await supporter.close();
	});
	it("drops a dishonest shower's malformed and undecodable chunks, asks for key frames and stays alive", async () => {
		const supporter = await staff.newPage();
		errors.push(watchErrors(supporter));
		await logIn(supporter, server.url, SUPPORTER);
		const code = await issueSupportId(supporter);
		// The showing side: the SDK, sending what no honest module sends.
		const api = createApiClient({ baseUrl: server.url.origin, fetch });
		const joined = await api.joinSession({ code, displayName: "Mallory" });
		const customer = new SessionClient({
			role: "customer",
			sessionId: joined.sessionId,
			baseUrl: server.url.origin,
			webSocket: (url) => new UndiciWebSocket(url, { dispatcher: agent }) as WebSocketLike,
			ticket: joined.ticket,
			renewTicket: () => api.ticket(joined.sessionId, { resumeToken: joined.resumeToken }),
			...(joined.terms ? { termsSha256: joined.terms.sha256 } : {}),
		});
		const feedback: VideoFeedback[] = [];
		customer.on("videoFeedback", (f) => feedback.push(f));
		await customer.connect();
		await customer.whenReady(10_000);
		if (joined.terms) await customer.acceptTerms();
		const codecs = customer.waitFor("videoFeedback", (f) => f.t === "codecs", 15_000);
		await customer.grantView();
		// The console says what it decodes as soon as it views, and asks for a key chunk.
		expect(await codecs).toEqual({ t: "codecs", decode: expect.arrayContaining(["vp8"]) });

		const send = (payload: Uint8Array) => customer.send("screen", VIDEO_STREAM, payload);
		const keyframesBefore = feedback.filter((f) => f.t === "keyframe").length;
		await send(new Uint8Array([0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])); // unknown flag
		await send(new Uint8Array(5)); // shorter than a header
		// A well-formed key chunk whose bytes are no VP8 frame: the decoder fails on it.
		await send(
			encodeVideoChunk(
				{ key: true, index: 0, timestampUs: 1, codec: "vp8", width: 64, height: 48 },
				new Uint8Array(64).fill(0xab),
			),
		);
		await send(encodeVideoChunk({ key: false, index: 1, timestampUs: 2 }, new Uint8Array([1])));
		await supporter.waitForFunction(() => {
			const data = document.getElementById("screen")?.dataset;
			return Number(data?.videoRejected ?? 0) >= 2 && Number(data?.videoDecoderErrors ?? 0) >= 1;
		});
		// It asked for a key chunk again (at most every 500 ms), and a picture still shows.
		const deadline = Date.now() + 15_000;
		while (feedback.filter((f) => f.t === "keyframe").length <= keyframesBefore) {
			if (Date.now() > deadline) throw new Error("no key frame request after the bad chunks");
			await new Promise((r) => setTimeout(r, 50));
		}
		await customer.send("screen", 1, new TextEncoder().encode("still here"));
		await supporter.waitForFunction(
			() => document.getElementById("screen")?.dataset.snapshot === "still here",
		);
		expect((await dataset(supporter)).videoFrames).toBeUndefined();
		customer.close();
		await supporter.close();
		expect(errors.flat().filter((e) => !e.includes("camera is not allowed"))).toEqual([]);
	});

	it("a customer page ignores a dishonest viewer's malformed feedback and streams to an SDK viewer", async () => {
		const supporterApi = createApiClient({ baseUrl: server.url.origin, fetch });
		await supporterApi.login(SUPPORTER);
		const created = await supporterApi.createSession({ view: "customer" });
		const supporter = new SessionClient({
			role: "supporter",
			sessionId: created.sessionId,
			baseUrl: server.url.origin,
			webSocket: (url) => new UndiciWebSocket(url, { dispatcher: agent }) as WebSocketLike,
			renewTicket: () => supporterApi.ticket(created.sessionId),
		});
		const chunks: VideoChunk[] = [];
		supporter.on("videoChunk", (chunk) => chunks.push(chunk));
		await supporter.connect();
		const customer = await customerContext.newPage();
		errors.push(watchErrors(customer));
		await customer.addInitScript(sharePattern, PATTERN);
		await joinAndAcceptTerms(customer, server.url, created.code);
		await customer.waitForSelector("#share:not([disabled])");
		await customer.click("#share");
		if (supporter.state?.shower !== "customer")
			await supporter.waitFor("state", (s) => s.shower === "customer", 15_000);
		const raw = (text: string) =>
			supporter.send("screen", VIDEO_FEEDBACK_STREAM, new TextEncoder().encode(text));
		await raw("{");
		await raw('{"t":"codecs","decode":["vp 8"]}');
		await raw('{"t":"keyframe","now":true}');
		await raw(JSON.stringify({ t: "codecs", decode: ["x".repeat(64), "vp8"] }));
		if (!chunks.some((c) => c.key)) await supporter.waitFor("videoChunk", (c) => c.key, 30_000);
		const key = chunks.find((c) => c.key);
		expect(key).toMatchObject({ codec: "vp8", width: PATTERN.width, height: PATTERN.height });
		expect(
			await customer.$eval("#preview", (v) => (v as HTMLVideoElement).dataset.videoCodec),
		).toBe("vp8");
		// A viewer that decodes only VP9, then only H.264, gets those (H.264 as Annex B).
		for (const codec of ["vp09.00.10.08", "avc1.640028"]) {
			const next = supporter.waitFor("videoChunk", (c) => c.key && c.codec === codec, 30_000);
			await raw(JSON.stringify({ t: "codecs", decode: [codec] }));
			const first = await next;
			expect(first).toMatchObject({ width: PATTERN.width, height: PATTERN.height });
			if (codec.startsWith("avc1")) expect([...first.data.subarray(0, 3)]).toEqual([0, 0, 0]);
		}
		supporter.close();
		await customer.close();
		expect(errors.flat().filter((e) => !e.includes("camera is not allowed"))).toEqual([]);
	});
});
