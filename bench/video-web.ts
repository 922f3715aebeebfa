/**
 * The browser half of `npm run bench -- --video`: the customer page (modules/web) shares a
 * 1920×1080 screen with typical change and the console decodes it, both in real Chromium (Debian's
 * /usr/bin/chromium through playwright-core) against the real server on 127.0.0.1. Two paths in
 * the same run, one after the other, each in a fresh session:
 *
 * - **web-vp8**: the console announces its codecs, the page encodes with WebCodecs VideoEncoder
 *   (VP8, its first choice) and the console decodes with VideoDecoder onto its canvas;
 * - **web-jpeg**: the page's fallback, forced by a console without VideoDecoder (as the e2e test
 *   does): the page sends JPEGs from `canvas.toBlob`, the console decodes with createImageBitmap.
 *
 * The screen: getDisplayMedia is replaced (as test/e2e/video.test.ts does) by a 1920×1080 canvas
 * captured at 30 frames/s that imitates the native bench's Xvfb scene: a terminal printing 20
 * lines a second and a 480×360 window moving across it. Chromium's own fake screen (a test card
 * with a small moving shape) changes too little of the picture to be typical, and sharing a tab
 * is not available headless without a picker.
 *
 * Measured in the pages, on one clock: each page stamps with `performance.timeOrigin +
 * performance.now()` (ms since the epoch on the machine's clock), which is also how the page's
 * sender stamps its chunks (µs). The skew between the two pages' stamps is measured from this
 * process and printed.
 * - decoded: VideoDecoder's output callback (video), createImageBitmap resolving (JPEG), in the
 *   console; decode time is from `decode()` / the call to that moment;
 * - capture → decoded: video from the chunk's timestamp (the sender reads the frame from the
 *   track and stamps it just before `encode()`); JPEG from the page's `toBlob` call (right after
 *   it draws the shared video into its canvas), matched to the console's picture by its byte
 *   size (sizes seen twice are left out);
 * - encoder CPU per frame: user + system time of the sharing browser's renderer process
 *   (/proc/PID/stat; its PID from the DevTools protocol's SystemInfo.getProcessInfo) over the
 *   frames it encoded, less what the scene alone costs (measured before sharing starts); the
 *   page's own encode time (`encode()` → output, `toBlob` → callback) is printed beside it.
 *
 * Not a test: nothing here asserts on the numbers.
 */
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import type { Browser, Page } from "playwright-core";
import {
	CHROMIUM_PATH,
	hasChromium,
	issueSupportId,
	joinAndAcceptTerms,
	launchChromium,
	logIn,
	watchErrors,
} from "../test/helpers/browser.ts";
import type { TestServer } from "../test/helpers/server.ts";
import { percentile } from "./measure.ts";
import { cpuMs, VIDEO_BENCH_HEIGHT, VIDEO_BENCH_WIDTH } from "./video.ts";

export type WebVideoPathName = "web-vp8" | "web-jpeg";

export interface WebVideoPathResult {
	path: WebVideoPathName;
	codec: string;
	seconds: number;
	framesDecoded: number;
	framesPerSecond: number;
	kbitPerSecond: number;
	bytesPerFrame: number;
	captureToDecodedP50Ms: number | null;
	captureToDecodedP99Ms: number | null;
	/** Frames the capture→decoded figures are over (JPEG: those matched by size). */
	captureToDecodedSamples: number;
	/** In the console: decode() (or createImageBitmap) → output, ms. */
	decodeP50Ms: number | null;
	decodeP99Ms: number | null;
	/** In the sharing page: encode() → output (or toBlob → callback), ms. */
	encodeP50Ms: number | null;
	/** The sharing renderer's CPU over the frames it encoded, the scene's own share taken out. */
	encoderCpuMsPerFrame: number;
	/** The same without taking the scene out. */
	rendererCpuMsPerFrame: number;
	encoderFrames: number;
	keyFrames: number;
	/** Chunk index gaps the console counted (`data-video-lost`). */
	lost: number;
}

export interface WebVideoBench {
	machineLoad: { before: number; after: number };
	scene: string;
	/**
	 * Customer page's clock minus the console's, ms (stamps compared from this process); added to
	 * every console stamp minus customer stamp.
	 */
	clockSkewMs: number | null;
	/** The two asks' round trips together: the skew is known to within half of this. */
	clockSkewRttMs: number | null;
	/** The sharing renderer's CPU while it only paints the scene, ms per second. */
	sceneCpuMsPerSecond: number | null;
	results: WebVideoPathResult[];
	errors: string[];
}

const SCENE_DESCRIPTION =
	"a 1920×1080 canvas captured at 30 frames/s (captureStream) standing in for the screen: " +
	"a terminal printing 20 lines/s and a 480×360 window moving 20 times/s";

interface SentRecord {
	/** The encode() call (video) or the toBlob call (JPEG), page clock in ms. */
	start: number;
	/** The encoder's output, ms. */
	at: number;
	bytes: number;
}

interface DecodedRecord {
	/** Video: the chunk's timestamp (µs, sender's clock); JPEG: null. */
	ts: number | null;
	key: boolean;
	bytes: number;
	start: number;
	at: number;
}

/**
 * Runs in the customer page before its scripts: the shared "screen" (see the file's doc) and
 * stamps around the page's encoders. Passed to addInitScript, so it must be self-contained.
 */
function customerHooks(size: { width: number; height: number }): void {
	const clock = () => performance.timeOrigin + performance.now();
	const sent: { start: number; at: number; bytes: number }[] = [];
	(window as unknown as { benchSent: typeof sent }).benchSent = sent;

	// The scene: painted from page load on, so its own cost can be measured before sharing.
	const canvas = document.createElement("canvas");
	canvas.width = size.width;
	canvas.height = size.height;
	const context = canvas.getContext("2d", { alpha: false });
	const started = clock();
	const text = "the quick brown fox jumps over the lazy dog";
	const paint = () => {
		if (!context) return;
		const t = (clock() - started) / 1000;
		const lines = Math.floor(t * 20);
		const lineHeight = 18;
		const rows = Math.floor(size.height / lineHeight);
		context.fillStyle = "#101010";
		context.fillRect(0, 0, size.width, size.height);
		context.fillStyle = "#d0d0d0";
		context.font = "15px monospace";
		for (let r = 0; r < rows; r++) {
			const n = lines - rows + r + 1;
			if (n > 0)
				context.fillText(
					`${n} ${new Date(started + n * 50).toISOString()} ${text}`,
					4,
					(r + 1) * lineHeight,
				);
		}
		const step = Math.floor(t * 20);
		const x = 100 + Math.round(600 * (0.5 - 0.5 * Math.cos((step / 40) * Math.PI)));
		const y = 100 + Math.round(400 * (0.5 - 0.5 * Math.cos((step / 70) * Math.PI)));
		context.fillStyle = "#3070c0";
		context.fillRect(x, y, 480, 360);
	};
	paint();
	setInterval(paint, 1000 / 30); // timers, not animation frames: headless pages may throttle those
	navigator.mediaDevices.getDisplayMedia = async () => canvas.captureStream(30);

	// The page's video encoder: encode() → output per chunk.
	const Encoder = window.VideoEncoder;
	if (Encoder) {
		window.VideoEncoder = class extends Encoder {
			#started = new Map<number, number>();
			constructor(init: VideoEncoderInit) {
				const starts = new Map<number, number>();
				super({
					...init,
					output: (chunk, metadata) => {
						const start = starts.get(chunk.timestamp);
						starts.delete(chunk.timestamp);
						sent.push({ start: start ?? Number.NaN, at: clock(), bytes: chunk.byteLength });
						init.output(chunk, metadata);
					},
				});
				this.#started = starts;
			}
			override encode(frame: VideoFrame, options?: VideoEncoderEncodeOptions): void {
				this.#started.set(frame.timestamp, clock());
				if (this.#started.size > 256) this.#started.clear();
				super.encode(frame, options);
			}
		};
	}
	// The picture path: toBlob → callback per JPEG.
	const toBlob = HTMLCanvasElement.prototype.toBlob;
	HTMLCanvasElement.prototype.toBlob = function (callback, type, quality) {
		const start = clock();
		toBlob.call(
			this,
			(blob) => {
				if (blob && type === "image/jpeg") sent.push({ start, at: clock(), bytes: blob.size });
				callback(blob);
			},
			type,
			quality,
		);
	};
}

/**
 * Runs in the console page before its scripts: stamps around its decoders. `noVideo` takes
 * VideoDecoder away, as a browser without WebCodecs, so the customer page falls back to JPEG.
 */
function consoleHooks(noVideo: boolean): void {
	const clock = () => performance.timeOrigin + performance.now();
	const decoded: {
		ts: number | null;
		key: boolean;
		bytes: number;
		start: number;
		at: number;
	}[] = [];
	(window as unknown as { benchDecoded: typeof decoded }).benchDecoded = decoded;
	if (noVideo) delete (window as { VideoDecoder?: unknown }).VideoDecoder;
	const Decoder = (window as { VideoDecoder?: typeof VideoDecoder }).VideoDecoder;
	if (Decoder) {
		window.VideoDecoder = class extends Decoder {
			#started = new Map<number, { start: number; bytes: number; key: boolean }>();
			constructor(init: VideoDecoderInit) {
				const starts = new Map<number, { start: number; bytes: number; key: boolean }>();
				super({
					...init,
					output: (frame) => {
						const s = starts.get(frame.timestamp);
						starts.delete(frame.timestamp);
						decoded.push({
							ts: frame.timestamp,
							key: s?.key ?? false,
							bytes: s?.bytes ?? 0,
							start: s?.start ?? Number.NaN,
							at: clock(),
						});
						init.output(frame);
					},
				});
				this.#started = starts;
			}
			override decode(chunk: EncodedVideoChunk): void {
				this.#started.set(chunk.timestamp, {
					start: clock(),
					bytes: chunk.byteLength,
					key: chunk.type === "key",
				});
				if (this.#started.size > 256) this.#started.clear();
				super.decode(chunk);
			}
		};
	}
	const create = window.createImageBitmap.bind(window) as (
		source: ImageBitmapSource,
	) => Promise<ImageBitmap>;
	window.createImageBitmap = ((source: ImageBitmapSource, ...rest: unknown[]) => {
		const start = clock();
		const made = (create as (...args: unknown[]) => Promise<ImageBitmap>)(source, ...rest);
		if (source instanceof Blob && source.type === "image/jpeg") {
			made.then(
				() => decoded.push({ ts: null, key: true, bytes: source.size, start, at: clock() }),
				() => undefined,
			);
		}
		return made;
	}) as typeof window.createImageBitmap;
}

/**
 * The page's clock minus this process's (ms since the epoch), from the quickest of 20 asks; the
 * error is at most half that ask's round trip (`rtt`), which a busy renderer makes long.
 */
async function pageClockOffset(page: Page): Promise<{ offset: number; rtt: number }> {
	let best = { rtt: Number.POSITIVE_INFINITY, offset: 0 };
	for (let i = 0; i < 20; i++) {
		const before = performance.timeOrigin + performance.now();
		const stamp = await page.evaluate(() => performance.timeOrigin + performance.now());
		const after = performance.timeOrigin + performance.now();
		if (after - before < best.rtt)
			best = { rtt: after - before, offset: stamp - (before + after) / 2 };
	}
	return best;
}

/** PIDs of the renderer processes of `browser` (DevTools protocol, SystemInfo domain). */
async function rendererPids(browser: Browser): Promise<number[]> {
	const cdp = await browser.newBrowserCDPSession();
	try {
		const info = (await cdp.send("SystemInfo.getProcessInfo")) as {
			processInfo: { type: string; id: number }[];
		};
		return info.processInfo.filter((p) => p.type === "renderer").map((p) => p.id);
	} finally {
		await cdp.detach();
	}
}

function cpuOf(pids: number[]): number {
	return pids.reduce((n, pid) => n + (cpuMs(pid) ?? 0), 0);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function measureWebPath(
	path: WebVideoPathName,
	server: TestServer,
	admin: { email: string; password: string },
	browsers: { customer: Browser; console: Browser },
	timing: { warmupSeconds: number; seconds: number },
	notes: { skew: number | null; skewRttMs: number | null; sceneCpuMsPerSecond: number | null },
): Promise<WebVideoPathResult> {
	const staff = await browsers.console.newContext({
		ignoreHTTPSErrors: true,
		viewport: { width: 1280, height: 900 },
	});
	const customerContext = await browsers.customer.newContext({
		ignoreHTTPSErrors: true,
		viewport: { width: 1280, height: 900 },
	});
	const pageErrors: string[][] = [];
	try {
		const supporter = await staff.newPage();
		pageErrors.push(watchErrors(supporter));
		await supporter.addInitScript(consoleHooks, path === "web-jpeg");
		await logIn(supporter, server.url, admin);
		const code = await issueSupportId(supporter);
		const customer = await customerContext.newPage();
		pageErrors.push(watchErrors(customer));
		await customer.addInitScript(customerHooks, {
			width: VIDEO_BENCH_WIDTH,
			height: VIDEO_BENCH_HEIGHT,
		});
		await joinAndAcceptTerms(customer, server.url, code);
		await customer.waitForSelector("#share:not([disabled])");
		const pids = await rendererPids(browsers.customer);
		if (notes.sceneCpuMsPerSecond === null) {
			// The scene alone (painting and nothing shared yet), to take it out of the encoder's CPU.
			const cpu0 = cpuOf(pids);
			const t0 = performance.now();
			await sleep(2000);
			notes.sceneCpuMsPerSecond = ((cpuOf(pids) - cpu0) * 1000) / (performance.now() - t0);
		}
		await customer.click("#share");
		await customer.waitForSelector("#ind-viewing:not([hidden])", { timeout: 20_000 });
		if (notes.skew === null) {
			const sharing = await pageClockOffset(customer);
			const viewing = await pageClockOffset(supporter);
			notes.skew = sharing.offset - viewing.offset;
			notes.skewRttMs = sharing.rtt + viewing.rtt;
		}
		await sleep(timing.warmupSeconds * 1000);
		const now = (page: Page) => page.evaluate(() => performance.timeOrigin + performance.now());
		const from = { cpu: cpuOf(pids), at: await now(supporter), sentAt: await now(customer) };
		await sleep(timing.seconds * 1000);
		const to = { cpu: cpuOf(pids), at: await now(supporter), sentAt: await now(customer) };
		const decoded = (
			await supporter.evaluate(
				() => (window as unknown as { benchDecoded: DecodedRecord[] }).benchDecoded,
			)
		).filter((d) => d.at >= from.at && d.at < to.at);
		const sent = (
			await customer.evaluate(() => (window as unknown as { benchSent: SentRecord[] }).benchSent)
		).filter((s) => s.at >= from.sentAt && s.at < to.sentAt);
		const data = await supporter.evaluate(() => ({
			...(document.getElementById("screen") as HTMLCanvasElement).dataset,
		}));
		const codec = path === "web-jpeg" ? "jpeg" : (data.videoCodec ?? "?");
		const seconds = (to.at - from.at) / 1000;
		const bytes = decoded.reduce((n, d) => n + d.bytes, 0);
		const sorted = (xs: number[]) => xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
		let captureToDecoded: number[];
		if (path === "web-jpeg") {
			// A JPEG carries no capture time: its toBlob call is found by its size.
			const all = await customer.evaluate(
				() => (window as unknown as { benchSent: SentRecord[] }).benchSent,
			);
			const bySize = new Map<number, SentRecord | null>();
			for (const s of all) bySize.set(s.bytes, bySize.has(s.bytes) ? null : s);
			captureToDecoded = decoded.flatMap((d) => {
				const s = bySize.get(d.bytes);
				return s ? [d.at - s.start + (notes.skew ?? 0)] : [];
			});
		} else {
			captureToDecoded = decoded.flatMap((d) =>
				d.ts === null ? [] : [d.at - d.ts / 1000 + (notes.skew ?? 0)],
			);
		}
		const c2d = sorted(captureToDecoded);
		const decodeMs = sorted(decoded.map((d) => d.at - d.start));
		const encodeMs = sorted(sent.map((s) => s.at - s.start));
		const windowSeconds = (to.sentAt - from.sentAt) / 1000;
		const cpu = to.cpu - from.cpu;
		const sceneCpu = (notes.sceneCpuMsPerSecond ?? 0) * windowSeconds;
		return {
			path,
			codec,
			seconds: Math.round(seconds * 10) / 10,
			framesDecoded: decoded.length,
			framesPerSecond: decoded.length / seconds,
			kbitPerSecond: (bytes * 8) / 1000 / seconds,
			bytesPerFrame: decoded.length ? bytes / decoded.length : 0,
			captureToDecodedP50Ms: c2d.length ? percentile(c2d, 0.5) : null,
			captureToDecodedP99Ms: c2d.length ? percentile(c2d, 0.99) : null,
			captureToDecodedSamples: c2d.length,
			decodeP50Ms: decodeMs.length ? percentile(decodeMs, 0.5) : null,
			decodeP99Ms: decodeMs.length ? percentile(decodeMs, 0.99) : null,
			encodeP50Ms: encodeMs.length ? percentile(encodeMs, 0.5) : null,
			encoderCpuMsPerFrame: sent.length ? Math.max(0, cpu - sceneCpu) / sent.length : Number.NaN,
			rendererCpuMsPerFrame: sent.length ? cpu / sent.length : Number.NaN,
			encoderFrames: sent.length,
			keyFrames: decoded.filter((d) => d.key && d.ts !== null).length,
			lost: Number(data.videoLost ?? 0),
		};
	} catch (err) {
		const seen = pageErrors.flat().slice(0, 5);
		throw seen.length ? new Error(`${(err as Error).message}; pages: ${seen.join("; ")}`) : err;
	} finally {
		await customerContext.close();
		await staff.close();
	}
}

/**
 * Both browser paths, one after the other, each with a fresh session. The customer page and the
 * console run in two Chromium instances, so the sharing renderer's CPU is its own.
 */
export async function measureWebVideo(
	server: TestServer,
	admin: { email: string; password: string },
	options: { quick: boolean; paths: WebVideoPathName[] },
): Promise<WebVideoBench | { skipped: string }> {
	if (!hasChromium) return { skipped: `Chromium not found at ${CHROMIUM_PATH}` };
	const timing = options.quick
		? { warmupSeconds: 3, seconds: 8 }
		: { warmupSeconds: 5, seconds: 25 };
	const load = () => Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]);
	const before = load();
	// The console issues sessions as the admin; the customer joins without waiting to be admitted.
	const login = await server.json<{ accessToken: string }>("/api/v1/auth/login", { body: admin });
	if (login.status !== 200) throw new Error(`login failed: ${login.status}`);
	const settings = await server.json("/api/v1/settings", {
		method: "PATCH",
		body: { requireAdmission: false },
		headers: { authorization: `Bearer ${login.body.accessToken}` },
	});
	if (settings.status !== 200) throw new Error(`settings: ${settings.status}`);
	const errors: string[] = [];
	const results: WebVideoPathResult[] = [];
	const notes = {
		skew: null as number | null,
		skewRttMs: null as number | null,
		sceneCpuMsPerSecond: null as number | null,
	};
	const customer = await launchChromium();
	const console_ = await launchChromium();
	try {
		for (const path of options.paths) {
			process.stdout.write(`video ${path} … `);
			const limit = (timing.warmupSeconds + timing.seconds + 30) * 1000;
			let timer: ReturnType<typeof setTimeout> | undefined;
			try {
				const r = await Promise.race([
					measureWebPath(path, server, admin, { customer, console: console_ }, timing, notes),
					new Promise<never>((_, reject) => {
						timer = setTimeout(
							() => reject(new Error(`no result within ${limit / 1000} s`)),
							limit,
						);
					}),
				]);
				results.push(r);
				console.log(`${r.framesPerSecond.toFixed(1)} frames/s`);
			} catch (err) {
				errors.push(`${path}: ${(err as Error).message}`);
				console.log("failed");
			} finally {
				clearTimeout(timer);
			}
		}
	} finally {
		await customer.close();
		await console_.close();
	}
	return {
		machineLoad: { before, after: load() },
		scene: SCENE_DESCRIPTION,
		clockSkewMs: notes.skew,
		clockSkewRttMs: notes.skewRttMs,
		sceneCpuMsPerSecond: notes.sceneCpuMsPerSecond,
		results,
		errors,
	};
}
