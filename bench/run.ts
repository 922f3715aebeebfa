/**
 * `npm run bench [-- --quick] [--build]`: relay cost of the SessionActor against a plain Node
 * `ws` relay, both over TLS on loopback, in one run. Prints a table and writes
 * bench/results/latest.json.
 * `npm run bench -- --video [--quick] [--build]`: the native module's screen as VP8, H.264 and
 * JPEG on a 1920×1080 Xvfb desktop (bench/video.ts), then the customer page's WebCodecs VP8 and
 * its JPEG fallback decoded by the console, both in Chromium (bench/video-web.ts); `--web` runs
 * only the browser part. Writes bench/results/video-latest.json.
 * Method and measured figures: docs/performance.md.
 *
 * Not a test: the numbers depend on the machine and its load, so nothing here asserts on them.
 * This process must not load @libsql/client (it breaks SIGTERM handling of spawned children).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { ROOT, startServer, type TestServer } from "../test/helpers/server.ts";
import { type InputLatency, measureInputLatency } from "./input-latency.ts";
import {
	type FloodResult,
	makeBody,
	measureFlood,
	measureRtt,
	type Pair,
	type PhaseLimits,
	percentile,
} from "./measure.ts";
import {
	type BaselineRelay,
	closePairs,
	fernwartRelay,
	type Relay,
	startBaseline,
} from "./relays.ts";
import { measureVideo, type VideoBench, type VideoPathResult } from "./video.ts";
import { measureWebVideo, type WebVideoBench, type WebVideoPathResult } from "./video-web.ts";

const ADMIN = { email: "admin@example.test", password: "correct horse battery staple" };
const SMALL_FRAME_BYTES = 1024;
/**
 * The largest chat frame the relay takes (docs/protocol.md §2.1 caps chat at 16 KiB whole; chat
 * is the channel that flows without a consent). Before the per-channel caps this phase used
 * 64 KiB frames; its figures in docs/performance.md are from then.
 */
const LARGE_FRAME_BYTES = 16 * 1024;
/** Frames in flight per pair during a flood: enough to keep the relay busy, bounded memory. */
const SMALL_WINDOW = 64;
const LARGE_WINDOW = 16;
/** Per-pair caps, so a phase is bounded by count as well as by time. */
const MAX_ROUND_TRIPS = 200_000;
const MAX_SMALL_FRAMES = 2_000_000;
const MAX_LARGE_FRAMES = 200_000;

interface Settings {
	quick: boolean;
	pairCounts: number[];
	/** Each phase runs this many times per relay, the relays taking turns. */
	rounds: number;
	limits: PhaseLimits;
}

interface Measurement {
	relay: string;
	pairs: number;
	setupMs: number;
	rounds: number;
	rtt: { samples: number; p50Ms: number; p99Ms: number };
	small: { frames: number; seconds: number; messagesPerSecond: number };
	large: { frames: number; bytes: number; seconds: number; megabytesPerSecond: number };
}

interface Figure {
	label: string;
	pick: (m: Measurement) => number;
	digits: number;
}

const FIGURES: Figure[] = [
	{ label: "RTT p50 (ms)", pick: (m) => m.rtt.p50Ms, digits: 3 },
	{ label: "RTT p99 (ms)", pick: (m) => m.rtt.p99Ms, digits: 3 },
	{ label: "1 KiB msg/s", pick: (m) => m.small.messagesPerSecond, digits: 0 },
	{ label: "16 KiB MB/s", pick: (m) => m.large.megabytesPerSecond, digits: 1 },
];

function parseSettings(argv: string[]): Settings {
	const quick = argv.includes("--quick");
	return quick
		? { quick, pairCounts: [1, 10], rounds: 1, limits: { seconds: 0.8, warmupSeconds: 0.2 } }
		: { quick, pairCounts: [1, 50], rounds: 3, limits: { seconds: 1, warmupSeconds: 0.3 } };
}

/** What one relay collected over the rounds of one pair count. */
interface Collected {
	relay: Relay;
	pairs: Pair[];
	setupMs: number;
	rtt: number[];
	small: FloodResult[];
	large: FloodResult[];
}

type Phase = (c: Collected, body: Uint8Array, limits: PhaseLimits) => Promise<void>;

const PHASES: Phase[] = [
	async (c, body, limits) => {
		const samples = await measureRtt(c.pairs, SMALL_FRAME_BYTES, body, limits, MAX_ROUND_TRIPS);
		for (const x of samples) c.rtt.push(x);
	},
	async (c, body, limits) => {
		c.small.push(
			await measureFlood(c.pairs, SMALL_FRAME_BYTES, body, SMALL_WINDOW, limits, MAX_SMALL_FRAMES),
		);
	},
	async (c, body, limits) => {
		c.large.push(
			await measureFlood(c.pairs, LARGE_FRAME_BYTES, body, LARGE_WINDOW, limits, MAX_LARGE_FRAMES),
		);
	},
];

function summarize(c: Collected, pairs: number, rounds: number): Measurement {
	const sorted = [...c.rtt].sort((x, y) => x - y);
	const total = (rs: FloodResult[]) =>
		rs.reduce(
			(t, r) => ({
				frames: t.frames + r.frames,
				bytes: t.bytes + r.bytes,
				seconds: t.seconds + r.seconds,
			}),
			{ frames: 0, bytes: 0, seconds: 0 },
		);
	const small = total(c.small);
	const large = total(c.large);
	return {
		relay: c.relay.name,
		pairs,
		setupMs: Math.round(c.setupMs),
		rounds,
		rtt: {
			samples: sorted.length,
			p50Ms: percentile(sorted, 0.5),
			p99Ms: percentile(sorted, 0.99),
		},
		small: {
			frames: small.frames,
			seconds: small.seconds,
			messagesPerSecond: small.frames / small.seconds,
		},
		large: { ...large, megabytesPerSecond: large.bytes / 1e6 / large.seconds },
	};
}

/**
 * Measures every relay at one pair count. All relays' pairs stay open throughout, and each phase
 * runs `rounds` times per relay with the relays taking turns (and swapping who goes first), so a
 * change in the shared machine's load hits both relays alike. Round-trip samples are pooled;
 * rates are total frames over total measured time.
 */
async function measurePairCount(
	relays: Relay[],
	pairCount: number,
	settings: Settings,
	body: Uint8Array,
	errors: string[],
): Promise<Measurement[]> {
	const collected: Collected[] = [];
	try {
		for (const relay of relays) {
			const t0 = performance.now();
			try {
				const pairs = await relay.openPairs(pairCount);
				collected.push({
					relay,
					pairs,
					setupMs: performance.now() - t0,
					rtt: [],
					small: [],
					large: [],
				});
			} catch (err) {
				errors.push(`${relay.name}, ${pairCount} pair(s), setup: ${(err as Error).message}`);
			}
		}
		let live = [...collected];
		for (const phase of PHASES) {
			for (let round = 0; round < settings.rounds; round++) {
				for (const c of round % 2 === 0 ? [...live] : [...live].reverse()) {
					try {
						await phase(c, body, settings.limits);
					} catch (err) {
						errors.push(`${c.relay.name}, ${pairCount} pair(s): ${(err as Error).message}`);
						live = live.filter((x) => x !== c);
					}
				}
			}
		}
		return live.map((c) => summarize(c, pairCount, settings.rounds));
	} finally {
		for (const c of collected) closePairs(c.pairs);
	}
}

function machineInfo() {
	const cpu = cpus();
	const workerd = JSON.parse(
		readFileSync(join(ROOT, "node_modules/workerd/package.json"), "utf8"),
	) as { version: string };
	let commit = "unknown";
	try {
		const git = (args: string[]) =>
			execFileSync("git", args, {
				cwd: ROOT,
				encoding: "utf8",
				stdio: ["ignore", "pipe", "ignore"],
			});
		const dirty = git(["status", "--porcelain", "--untracked-files=no"]).trim() !== "";
		commit = `${git(["rev-parse", "--short", "HEAD"]).trim()}${dirty ? "+dirty" : ""}`;
	} catch {
		// Not a git checkout (e.g. an unpacked release): the commit is only informative.
	}
	return {
		cores: cpu.length,
		cpuModel: cpu[0]?.model.trim() ?? "unknown",
		memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
		loadAverage1m: Math.round((loadavg()[0] ?? 0) * 100) / 100,
		node: process.version,
		workerd: workerd.version,
		commit,
	};
}

function formatNumber(value: number, digits: number): string {
	if (!Number.isFinite(value)) return "–";
	return value.toLocaleString("en-US", {
		minimumFractionDigits: digits,
		maximumFractionDigits: digits,
	});
}

function ratio(fernwart: number, baseline: number): number {
	return baseline > 0 && Number.isFinite(fernwart) ? fernwart / baseline : Number.NaN;
}

function table(results: Measurement[], pairCounts: number[]): string {
	const rows: string[][] = [["pairs", "figure", "fernwart", "node-ws", "fernwart/node-ws"]];
	for (const pairs of pairCounts) {
		const f = results.find((m) => m.relay === "fernwart" && m.pairs === pairs);
		const b = results.find((m) => m.relay === "node-ws" && m.pairs === pairs);
		for (const fig of FIGURES) {
			const fv = f ? fig.pick(f) : Number.NaN;
			const bv = b ? fig.pick(b) : Number.NaN;
			rows.push([
				String(pairs),
				fig.label,
				formatNumber(fv, fig.digits),
				formatNumber(bv, fig.digits),
				formatNumber(ratio(fv, bv), 2),
			]);
		}
	}
	const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => r[i]?.length ?? 0))) ?? [];
	return rows
		.map((r) =>
			r
				.map((cell, i) => (i === 1 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
				.join("  "),
		)
		.join("\n");
}

function ratios(results: Measurement[], pairCounts: number[]) {
	return pairCounts.flatMap((pairs) => {
		const f = results.find((m) => m.relay === "fernwart" && m.pairs === pairs);
		const b = results.find((m) => m.relay === "node-ws" && m.pairs === pairs);
		if (!f || !b) return [];
		return FIGURES.map((fig) => ({
			pairs,
			figure: fig.label,
			fernwartOverBaseline: ratio(fig.pick(f), fig.pick(b)),
		}));
	});
}

/** The input latency beside the relay's own round trip (1 pair), as one block of text. */
function inputLine(
	input: InputLatency | { skipped: string } | null,
	results: Measurement[],
): string {
	if (!input) return "Input latency: not measured (see errors).";
	if ("skipped" in input) return `Input latency: skipped (${input.skipped}).`;
	const relay = results.find((m) => m.relay === "fernwart" && m.pairs === 1);
	const f = (v: number) => formatNumber(v, 3);
	return [
		`Input latency (${input.samples} button presses, 1 session, loopback): SDK sendInput → seen by an X client on Xvfb`,
		`  p50 ${f(input.seenP50Ms)} ms, p99 ${f(input.seenP99Ms)} ms; with the "injected" echo back at the supporter p50 ${f(input.echoP50Ms)} ms, p99 ${f(input.echoP99Ms)} ms`,
		relay
			? `  beside the relay's 1 KiB round trip p50 ${f(relay.rtt.p50Ms)} ms, p99 ${f(relay.rtt.p99Ms)} ms (1 pair)`
			: "  (no relay round trip measured in this run)",
	].join("\n");
}

/** Folders whose code ends up in the worker bundle. */
const BUNDLED_DIRS = ["functions", "durable", "protocol", "schema"];

/**
 * Builds dist/ when it is missing or `--build` is given. A bundle older than the sources is only
 * reported: the benchmark measures what dist/ holds.
 */
function ensureBuilt(force: boolean): void {
	const bundle = join(ROOT, "dist/worker/index.js");
	if (!force && existsSync(bundle)) {
		const builtAt = statSync(bundle).mtimeMs;
		const newer = BUNDLED_DIRS.flatMap((dir) =>
			readdirSync(join(ROOT, dir), { recursive: true, encoding: "utf8" })
				.map((f) => join(dir, f))
				.filter((f) => statSync(join(ROOT, f)).mtimeMs > builtAt),
		);
		if (newer.length > 0) {
			console.warn(
				`warning: dist/ is older than ${newer.length} source file(s), e.g. ${newer[0]}; ` +
					"run with --build to measure the current code",
			);
		}
		return;
	}
	console.log("npm run build");
	const res = spawnSync("npm", ["run", "build"], { cwd: ROOT, stdio: "inherit" });
	if (res.status !== 0) throw new Error(`npm run build failed (${res.status})`);
}

function videoTable(results: VideoPathResult[]): string {
	const jpeg = results.find((r) => r.path === "jpeg");
	const f = (v: number | null, digits: number) => (v === null ? "–" : formatNumber(v, digits));
	const rows: string[][] = [
		[
			"path",
			"frames/s",
			"kbit/s",
			"bytes/frame",
			"÷ JPEG",
			"capture→decoded p50/p99 ms",
			"sent→decoded p50/p99 ms",
			"sent→received p50/p99 ms",
			"encoder CPU ms/frame",
			"key",
			"lost",
		],
	];
	for (const r of results) {
		rows.push([
			r.path,
			f(r.framesPerSecond, 1),
			f(r.kbitPerSecond, 0),
			f(r.bytesPerFrame, 0),
			jpeg && r.path !== "jpeg" ? f(r.bytesPerFrame / jpeg.bytesPerFrame, 3) : "",
			r.captureToDecodedP50Ms === null
				? "–"
				: `${f(r.captureToDecodedP50Ms, 1)} / ${f(r.captureToDecodedP99Ms, 1)}`,
			`${f(r.sentToDecodedP50Ms, 1)} / ${f(r.sentToDecodedP99Ms, 1)}`,
			`${f(r.sentToReceivedP50Ms, 1)} / ${f(r.sentToReceivedP99Ms, 1)}`,
			f(r.encoderCpuMsPerFrame, 1),
			String(r.keyFrames),
			String(r.lost),
		]);
	}
	const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => r[i]?.length ?? 0))) ?? [];
	return rows.map((r) => r.map((c, i) => c.padStart(widths[i] ?? 0)).join("  ")).join("\n");
}

/** The browser paths in the native table's format; ÷ JPEG against the page's own JPEG path. */
function webVideoTable(results: WebVideoPathResult[]): string {
	const jpeg = results.find((r) => r.path === "web-jpeg");
	const f = (v: number | null, digits: number) => (v === null ? "–" : formatNumber(v, digits));
	const rows: string[][] = [
		[
			"path",
			"frames/s",
			"kbit/s",
			"bytes/frame",
			"÷ JPEG",
			"capture→decoded p50/p99 ms",
			"decode p50/p99 ms",
			"encode p50 ms",
			"encoder CPU ms/frame",
			"(with scene)",
			"key",
			"lost",
		],
	];
	for (const r of results) {
		rows.push([
			`${r.path} (${r.codec})`,
			f(r.framesPerSecond, 1),
			f(r.kbitPerSecond, 0),
			f(r.bytesPerFrame, 0),
			jpeg && r.path !== "web-jpeg" ? f(r.bytesPerFrame / jpeg.bytesPerFrame, 3) : "",
			r.captureToDecodedP50Ms === null
				? "–"
				: `${f(r.captureToDecodedP50Ms, 1)} / ${f(r.captureToDecodedP99Ms, 1)}`,
			r.decodeP50Ms === null ? "–" : `${f(r.decodeP50Ms, 1)} / ${f(r.decodeP99Ms, 1)}`,
			f(r.encodeP50Ms, 1),
			f(r.encoderCpuMsPerFrame, 1),
			f(r.rendererCpuMsPerFrame, 1),
			r.path === "web-jpeg" ? "" : String(r.keyFrames),
			r.path === "web-jpeg" ? "" : String(r.lost),
		]);
	}
	const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => r[i]?.length ?? 0))) ?? [];
	return rows.map((r) => r.map((c, i) => c.padStart(widths[i] ?? 0)).join("  ")).join("\n");
}

function webVideoLines(web: WebVideoBench | { skipped: string } | null): string[] {
	if (!web) return ["Browser: not measured (see errors)."];
	if ("skipped" in web) return [`Browser: skipped (${web.skipped}).`];
	const skew =
		web.clockSkewMs === null
			? "not measured"
			: `${formatNumber(web.clockSkewMs, 2)} ms ± ${formatNumber((web.clockSkewRttMs ?? 0) / 2, 2)}`;
	const scene = web.sceneCpuMsPerSecond === null ? "–" : formatNumber(web.sceneCpuMsPerSecond, 0);
	return [
		`Browser: load average (1 min) ${web.machineLoad.before} before, ${web.machineLoad.after} after. Screen: ${web.scene}.`,
		"Customer page (Chromium, WebCodecs VP8 or its JPEG fallback) → real server → console page (Chromium, " +
			"VideoDecoder or createImageBitmap); the JPEG path is forced by a console without VideoDecoder.",
		`Both pages stamp with performance.timeOrigin + now(); customer minus console clock ${skew} (corrected). ` +
			`Encoder CPU: the sharing renderer (/proc) per frame encoded, less the scene's ${scene} ms/s.`,
		"",
		webVideoTable(web.results),
	];
}

/** `--video`: the native module's screen paths on one Xvfb desktop, then the browser's. */
async function mainVideo(quick: boolean): Promise<number> {
	const started = performance.now();
	ensureBuilt(process.argv.includes("--build"));
	const machine = machineInfo();
	let server: TestServer | undefined;
	let bench: VideoBench | { skipped: string } | null = null;
	let web: WebVideoBench | { skipped: string } | null = null;
	const webOnly = process.argv.includes("--web");
	const errors: string[] = [];
	const onSignal = (signal: NodeJS.Signals) => {
		console.error(`${signal}: stopping`);
		void (server?.stop() ?? Promise.resolve()).then(() => process.exit(130));
	};
	process.on("SIGINT", onSignal);
	process.on("SIGTERM", onSignal);
	try {
		server = await startServer();
		if (!webOnly) {
			bench = await measureVideo(server, ADMIN, { quick, paths: ["vp8", "jpeg", "h264"] });
		}
		try {
			web = await measureWebVideo(server, ADMIN, { quick, paths: ["web-vp8", "web-jpeg"] });
		} catch (err) {
			errors.push(`browser: ${(err as Error).message}`);
		}
	} catch (err) {
		errors.push((err as Error).message);
	} finally {
		await server?.stop();
	}
	if (bench && "results" in bench) errors.push(...bench.errors);
	if (web && "results" in web) errors.push(...web.errors);
	const elapsedSeconds = Math.round((performance.now() - started) / 100) / 10;
	console.log(
		[
			"",
			`Video benchmark${quick ? " (quick)" : ""}: ${machine.cores} cores (${machine.cpuModel}), ` +
				`Node ${machine.node}, commit ${machine.commit}`,
			...(webOnly
				? []
				: [
						bench && "results" in bench
							? `Load average (1 min) ${bench.machineLoad.before} before, ${bench.machineLoad.after} after. ` +
								`Scene on Xvfb 1920×1080: ${bench.scene}.`
							: bench && "skipped" in bench
								? `Skipped: ${bench.skipped}.`
								: "Not measured (see errors).",
						"Customer module (join --capture x11 code) → real server (wss on 127.0.0.1) → viewer in this " +
							"process decoding with ffmpeg; JPEG asked at 30 frames/s like the video.",
						"",
						bench && "results" in bench ? videoTable(bench.results) : "",
					]),
			"",
			...webVideoLines(web),
			"",
			`Total ${elapsedSeconds} s.`,
		].join("\n"),
	);
	for (const e of errors) console.error(`error: ${e}`);
	const dir = join(ROOT, "bench/results");
	mkdirSync(dir, { recursive: true });
	writeFileSync(
		join(dir, "video-latest.json"),
		`${JSON.stringify({ date: new Date().toISOString(), quick, machine, bench, web, errors, elapsedSeconds }, null, "\t")}\n`,
	);
	console.log(`Wrote ${join("bench/results", "video-latest.json")}.`);
	return errors.length === 0 ? 0 : 1;
}

async function main(): Promise<number> {
	if (process.argv.includes("--video")) return mainVideo(process.argv.includes("--quick"));
	const settings = parseSettings(process.argv.slice(2));
	const started = performance.now();
	ensureBuilt(process.argv.includes("--build"));

	let server: TestServer | undefined;
	let baseline: BaselineRelay | undefined;
	let stopping: Promise<void> | undefined;
	const stopAll = () => {
		stopping ??= (async () => {
			await Promise.allSettled([baseline?.stop(), server?.stop()]);
		})();
		return stopping;
	};
	const onSignal = (signal: NodeJS.Signals) => {
		console.error(`${signal}: stopping the relays`);
		void stopAll().then(() => process.exit(130));
	};
	process.on("SIGINT", onSignal);
	process.on("SIGTERM", onSignal);

	const results: Measurement[] = [];
	const errors: string[] = [];
	const machine = machineInfo();
	let input: InputLatency | { skipped: string } | null = null;
	try {
		server = await startServer();
		const tlsDir = join(server.dataDir, "tls");
		baseline = await startBaseline({
			certPath: join(tlsDir, "cert.pem"),
			keyPath: join(tlsDir, "key.pem"),
			ca: server.ca,
		});
		const relays: Relay[] = [await fernwartRelay(server, ADMIN), baseline];
		const body = makeBody(LARGE_FRAME_BYTES);
		for (const pairs of settings.pairCounts) {
			process.stdout.write(`${pairs} pair(s) … `);
			const measured = await measurePairCount(relays, pairs, settings, body, errors);
			results.push(...measured);
			console.log(measured.map((m) => `${m.relay} setup ${m.setupMs} ms`).join(", ") || "failed");
		}
		process.stdout.write("input latency … ");
		try {
			input = await measureInputLatency(server, ADMIN, settings.quick ? 100 : 500);
			console.log("skipped" in input ? `skipped: ${input.skipped}` : `${input.samples} presses`);
		} catch (err) {
			errors.push(`input latency: ${(err as Error).message}`);
			console.log("failed");
		}
	} catch (err) {
		errors.push((err as Error).message);
	} finally {
		await stopAll();
	}

	const elapsedSeconds = Math.round((performance.now() - started) / 100) / 10;
	console.log(
		[
			"",
			`Relay benchmark${settings.quick ? " (quick)" : ""}: ` +
				`${machine.cores} cores (${machine.cpuModel}), Node ${machine.node}, ` +
				`workerd ${machine.workerd}, commit ${machine.commit}, load ${machine.loadAverage1m}`,
			`TLS on loopback for both relays; each phase ${settings.rounds} × ` +
				`(${settings.limits.warmupSeconds} s warm-up + ${settings.limits.seconds} s) per relay, ` +
				"relays taking turns; all clients in this one Node process.",
			"Frames: 14-byte chat header + random bytes, not real ciphertext (the relay never decrypts).",
			"RTT: sequential 1 KiB ping-pong per pair. " +
				`msg/s: 1 KiB one-way, ≤ ${SMALL_WINDOW} in flight per pair. ` +
				`MB/s (10^6 B): 16 KiB one-way, ≤ ${LARGE_WINDOW} in flight per pair.`,
			"",
			table(results, settings.pairCounts),
			"",
			inputLine(input, results),
			"",
			`Total ${elapsedSeconds} s.`,
		].join("\n"),
	);
	for (const e of errors) console.error(`error: ${e}`);

	const dir = join(ROOT, "bench/results");
	mkdirSync(dir, { recursive: true });
	const report = {
		date: new Date().toISOString(),
		quick: settings.quick,
		machine: { ...machine, loadAverage1mAfter: Math.round((loadavg()[0] ?? 0) * 100) / 100 },
		method: {
			transport: "wss on 127.0.0.1, same certificate for both relays, no compression",
			payload: "14-byte chat header + random bytes; not real ciphertext (the relay never decrypts)",
			frameBytes: { small: SMALL_FRAME_BYTES, large: LARGE_FRAME_BYTES },
			windows: { small: SMALL_WINDOW, large: LARGE_WINDOW },
			rounds: settings.rounds,
			roundSeconds: settings.limits.seconds,
			warmupSeconds: settings.limits.warmupSeconds,
			megabyte: 1e6,
		},
		results,
		ratios: ratios(results, settings.pairCounts),
		inputLatency: input,
		errors,
		elapsedSeconds,
	};
	writeFileSync(join(dir, "latest.json"), `${JSON.stringify(report, null, "\t")}\n`);
	console.log(`Wrote ${join("bench/results", "latest.json")}.`);
	return errors.length === 0 ? 0 : 1;
}

process.exitCode = await main();
