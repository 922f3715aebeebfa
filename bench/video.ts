/**
 * `npm run bench -- --video [--quick]`: the native module's screen on a 1920×1080 Xvfb desktop
 * with typical change (a terminal printing lines, a window moved by xdotool), sent through the
 * real server to a viewer in this process, once per path in the same run: VP8 video, H.264 video
 * and the JPEG pictures the module sent before. Method and figures: docs/performance.md.
 *
 * The sharing side is the customer module's own code (attachDesktop, as `join --capture x11`
 * runs it); the viewer is a supporter SessionClient whose chunks go into a long-running ffmpeg
 * decoder (IVF for VP8, Annex B for H.264, multipart JPEG for pictures) that prints one line per
 * decoded frame (`framecrc`), so "decoded" is when that line arrives. The browser page and the
 * console's WebCodecs decoder are measured in their own pages (bench/video-web.ts).
 *
 * Figures per path, over the measured window after a warm-up:
 * - delivered frames/s: frames decoded by the viewer per second;
 * - kbit/s and bytes per frame: payload bytes the viewer received (before decryption overhead);
 * - capture → decoded (video only): the chunk's timestamp is x11grab's wallclock capture time, so
 *   this covers capture, encode, sealing, the relay, opening and decoding, on one machine clock;
 * - sent → decoded (all paths): from the moment the sharing side handed the payload to
 *   `session.send` to the viewer's decoded line: the part the JPEG path can be compared on (a
 *   JPEG carries no capture time);
 * - encoder CPU per frame: user+system time of the sharing side's ffmpeg processes
 *   (/proc/PID/stat) over the frames they produced (capture and conversion included).
 *
 * Not a test: nothing here asserts on the numbers. Traffic only to 127.0.0.1.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { Agent, WebSocket as UndiciWebSocket, fetch as undiciFetch } from "undici";
import x11, { type XClient } from "x11";
import { Output } from "../modules/cli/common.ts";
import { attachDesktop, planInput } from "../modules/cli/desktop/control.ts";
import { findExecutable } from "../modules/cli/host-capture.ts";
import { createApiClient, type FetchLike } from "../modules/sdk/api.ts";
import { SessionClient, type WebSocketLike } from "../modules/sdk/session.ts";
import { encodeVideoFeedback, VIDEO_FEEDBACK_STREAM, type VideoChunk } from "../protocol/video.ts";
import type { TestServer } from "../test/helpers/server.ts";
import { startXvfb, type Xvfb } from "../test/helpers/xdisplay.ts";
import { percentile } from "./measure.ts";

export const VIDEO_BENCH_WIDTH = 1920;
export const VIDEO_BENCH_HEIGHT = 1080;
/** Frames per second asked of the JPEG capture, so both paths are compared at the same rate. */
const JPEG_FPS = 30;

export type VideoPathName = "vp8" | "h264" | "jpeg";

export interface VideoPathResult {
	path: VideoPathName;
	seconds: number;
	framesDecoded: number;
	framesPerSecond: number;
	kbitPerSecond: number;
	bytesPerFrame: number;
	/** Video only: x11grab capture → decoded at the viewer, ms. */
	captureToDecodedP50Ms: number | null;
	captureToDecodedP99Ms: number | null;
	/** Payload handed to session.send → decoded at the viewer, ms. */
	sentToDecodedP50Ms: number;
	sentToDecodedP99Ms: number;
	/** Of that: handed to send → opened by the viewer's SDK (seal, relay, open), ms. */
	sentToReceivedP50Ms: number;
	sentToReceivedP99Ms: number;
	/** Sharing side's ffmpeg CPU (user + system) per frame it produced, ms. */
	encoderCpuMsPerFrame: number;
	encoderFrames: number;
	keyFrames: number;
	/** Chunk index gaps seen by the viewer (dropped by the sender or the relay). */
	lost: number;
	decodeErrors: string | null;
}

export interface VideoBench {
	machineLoad: { before: number; after: number };
	scene: string;
	results: VideoPathResult[];
	errors: string[];
}

// ---------------------------------------------------------------------------------------------
// Decoders: what the viewer does with what it receives.

/**
 * Takes what the viewer received, in order, and calls `onDecoded` once per decoded frame, in the
 * same order; `push` says whether the frame went to the decoder (video before the first key frame
 * does not).
 */
export interface Decoder {
	push(payload: Uint8Array, chunk: VideoChunk | null): boolean;
	close(): Promise<string | null>;
}

/** A long-running ffmpeg that decodes its stdin and prints one `framecrc` line per frame. */
function ffmpegDecoder(
	inputArgs: string[],
	onDecoded: () => void,
): { child: ChildProcess; close(): Promise<string | null> } {
	const child = spawn(
		"ffmpeg",
		[
			"-hide_banner",
			"-loglevel",
			"error",
			"-nostdin",
			"-probesize",
			"32",
			"-analyzeduration",
			"0",
			// Frame threads hold frames back (one per extra thread): one thread decodes each frame
			// as it comes, as a browser's VideoDecoder does.
			"-threads",
			"1",
			...inputArgs,
			"-i",
			"-",
			"-fps_mode",
			"passthrough",
			"-f",
			"framecrc",
			"-flush_packets",
			"1",
			"-",
		],
		{ stdio: ["pipe", "pipe", "pipe"] },
	);
	let partial = "";
	let stderr = "";
	child.stdout?.on("data", (d: Buffer) => {
		const lines = (partial + d.toString("latin1")).split("\n");
		partial = lines.pop() ?? "";
		for (const line of lines) if (line && !line.startsWith("#")) onDecoded();
	});
	child.stderr?.on("data", (d: Buffer) => {
		stderr = (stderr + d.toString()).slice(-2000);
	});
	child.stdin?.on("error", () => {
		// The decoder ended; its stderr says why.
	});
	const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
	return {
		child,
		close: async () => {
			child.stdin?.end();
			const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
			await exited;
			clearTimeout(timer);
			return stderr.trim() || null;
		},
	};
}

function ivfDecoder(onDecoded: () => void): Decoder {
	const ffmpeg = ffmpegDecoder(["-f", "ivf"], onDecoded);
	let started = false;
	return {
		push(_payload, chunk) {
			if (!chunk) return false;
			if (!started) {
				if (!chunk.key) return false;
				started = true;
				const h = Buffer.alloc(32);
				h.write("DKIF", 0, "ascii");
				h.writeUInt16LE(32, 6);
				h.write("VP80", 8, "ascii");
				h.writeUInt16LE(chunk.width, 12);
				h.writeUInt16LE(chunk.height, 14);
				h.writeUInt32LE(1_000_000, 16);
				h.writeUInt32LE(1, 20);
				ffmpeg.child.stdin?.write(h);
			}
			const f = Buffer.alloc(12);
			f.writeUInt32LE(chunk.data.length, 0);
			f.writeBigUInt64LE(BigInt(chunk.timestampUs), 4);
			ffmpeg.child.stdin?.write(Buffer.concat([f, Buffer.from(chunk.data)]));
			return true;
		},
		close: () => ffmpeg.close(),
	};
}

function annexBDecoder(onDecoded: () => void): Decoder {
	const ffmpeg = ffmpegDecoder(["-f", "h264"], onDecoded);
	let started = false;
	return {
		push(_payload, chunk) {
			if (!chunk || (!started && !chunk.key)) return false;
			started = true;
			ffmpeg.child.stdin?.write(Buffer.from(chunk.data));
			return true;
		},
		close: () => ffmpeg.close(),
	};
}

/** JPEGs as multipart with lengths (`mpjpeg`), so the demuxer never waits for the next picture. */
function jpegDecoder(onDecoded: () => void): Decoder {
	const ffmpeg = ffmpegDecoder(["-f", "mpjpeg"], onDecoded);
	return {
		push(payload) {
			const head = `--ffmpeg\r\nContent-Type: image/jpeg\r\nContent-Length: ${payload.length}\r\n\r\n`;
			ffmpeg.child.stdin?.write(
				Buffer.concat([Buffer.from(head), Buffer.from(payload), Buffer.from("\r\n")]),
			);
			return true;
		},
		close: () => ffmpeg.close(),
	};
}

// ---------------------------------------------------------------------------------------------
// The scene

/** CPU time (user + system) of a process in ms, or null once it is gone. */
export function cpuMs(pid: number): number | null {
	try {
		const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
		const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
		// utime and stime are fields 14 and 15 of the whole line (11 and 12 here), in clock ticks
		// (100 per second on Linux).
		return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
	} catch {
		return null;
	}
}

interface Scene {
	description: string;
	stop(): Promise<void>;
}

/**
 * A terminal printing 20 lines a second (xterm, else the system's x-terminal-emulator) and a
 * 480×360 window that xdotool moves 20 times a second across the screen.
 */
async function startScene(display: string, seconds: number): Promise<Scene> {
	const env = { ...process.env, DISPLAY: display };
	const children: ChildProcess[] = [];
	const terminal =
		findExecutable("xterm", process.env.PATH) ??
		findExecutable("x-terminal-emulator", process.env.PATH);
	const loop =
		'i=0; while :; do i=$((i+1)); echo "$i $(date +%T.%N) the quick brown fox jumps over the lazy dog"; sleep 0.05; done';
	if (terminal) {
		const args = terminal.endsWith("xterm")
			? ["-geometry", "200x60+0+0", "-e", "sh", "-c", loop]
			: ["-e", "sh", "-c", loop];
		children.push(spawn(terminal, args, { env, stdio: "ignore" }));
	}
	const { X, root } = await new Promise<{ X: XClient; root: number }>((resolve, reject) => {
		x11.createClient({ display }, (err, d) => {
			if (err || !d) return reject(err);
			resolve({ X: d.client, root: d.screen[0]?.root ?? 0 });
		});
	});
	const wid = X.AllocID();
	X.CreateWindow(wid, root, 100, 100, 480, 360, 0, 0, 1, 0, {
		backgroundPixel: 0x3070c0,
		overrideRedirect: 1,
	});
	X.MapWindow(wid);
	await new Promise<void>((resolve) => X.GetInputFocus(() => resolve()));
	const moves: string[] = [];
	const steps = Math.ceil(seconds * 20);
	for (let i = 0; i < steps; i++) {
		const x = 100 + Math.round(600 * (0.5 - 0.5 * Math.cos((i / 40) * Math.PI)));
		const y = 100 + Math.round(400 * (0.5 - 0.5 * Math.cos((i / 70) * Math.PI)));
		moves.push("windowmove", String(wid), String(x), String(y), "sleep", "0.05");
	}
	if (findExecutable("xdotool", process.env.PATH)) {
		children.push(spawn("xdotool", moves, { env, stdio: "ignore" }));
	}
	return {
		description:
			`${terminal ? `${terminal.split("/").at(-1)} printing 20 lines/s` : "no terminal found"}, ` +
			`a 480×360 window moved by xdotool 20 times/s${findExecutable("xdotool", process.env.PATH) ? "" : " (xdotool missing: static)"}`,
		stop: async () => {
			for (const c of children) c.kill("SIGTERM");
			X.terminate();
		},
	};
}

// ---------------------------------------------------------------------------------------------
// One path

interface Pair {
	supporter: SessionClient;
	customer: SessionClient;
	close(): Promise<void>;
}

async function openPair(
	server: TestServer,
	admin: { email: string; password: string },
	agent: Agent,
): Promise<Pair & { socket: () => WebSocketLike | null }> {
	const fetch: FetchLike = (url, init) => undiciFetch(url, { ...init, dispatcher: agent });
	const origin = server.url.origin;
	const supporterApi = createApiClient({ baseUrl: origin, fetch });
	await supporterApi.login(admin);
	const created = await supporterApi.createSession({ view: "customer", requireTerms: false });
	const customerApi = createApiClient({ baseUrl: origin, fetch });
	const joined = await customerApi.joinSession({ code: created.code, displayName: "Bench" });
	let customerSocket: WebSocketLike | null = null;
	const supporter = new SessionClient({
		role: "supporter",
		sessionId: created.sessionId,
		baseUrl: origin,
		webSocket: (url) => new UndiciWebSocket(url, { dispatcher: agent }),
		renewTicket: () => supporterApi.ticket(created.sessionId),
	});
	const customer = new SessionClient({
		role: "customer",
		sessionId: joined.sessionId,
		baseUrl: origin,
		webSocket: (url) => {
			customerSocket = new UndiciWebSocket(url, { dispatcher: agent });
			return customerSocket;
		},
		ticket: joined.ticket,
		renewTicket: () => customerApi.ticket(joined.sessionId, { resumeToken: joined.resumeToken }),
	});
	return {
		supporter,
		customer,
		socket: () => customerSocket,
		close: async () => {
			supporter.close();
			customer.close();
		},
	};
}

async function measurePath(
	path: VideoPathName,
	server: TestServer,
	admin: { email: string; password: string },
	xvfb: Xvfb,
	timing: { warmupSeconds: number; seconds: number },
): Promise<VideoPathResult> {
	const agent = new Agent({ connect: { ca: server.ca } });
	const pair = await openPair(server, admin, agent);
	const { supporter, customer } = pair;
	const ffmpeg = findExecutable("ffmpeg", process.env.PATH) ?? "ffmpeg";
	// The sharing side's events: its ffmpeg pids and, when it stops, the frames they produced.
	const events: { event?: string; pid?: number; frames?: number }[] = [];
	const output = new Output(true, (line) => {
		try {
			events.push(JSON.parse(line) as (typeof events)[number]);
		} catch {
			// not an event line
		}
	});
	// When each screen payload was handed to session.send, by its sequence number.
	const sentAt = new Map<bigint, number>();
	const send = customer.send.bind(customer);
	customer.send = (channel, stream, payload) => {
		const at = performance.now();
		return send(channel, stream, payload).then((seq) => {
			if (channel === "screen") sentAt.set(seq, at);
			return seq;
		});
	};
	const desktop = await attachDesktop({
		session: customer,
		input: planInput({ DISPLAY: xvfb.display }, "linux"),
		capture: { mode: "x11", display: xvfb.display, ffmpeg, fps: JPEG_FPS },
		out: output,
		name: "Bench",
		supporterName: () => "Bench",
		socket: pair.socket as () => (WebSocketLike & { readonly bufferedAmount?: number }) | null,
	});
	let closing: Promise<void> | null = null;
	const closeDesktop = () => {
		closing ??= desktop.close();
		return closing;
	};
	// Frames that went into the decoder, in order; decodedAt[i] belongs to pushed[i].
	const pushed: { seq: bigint; captureMs: number | null; at: number }[] = [];
	const decodedAt: number[] = [];
	const received: { bytes: number; at: number }[] = [];
	let measuring = false;
	let lost = 0;
	let keyFrames = 0;
	let lastIndex: number | null = null;
	const decoder =
		path === "vp8"
			? ivfDecoder(() => decodedAt.push(performance.now()))
			: path === "h264"
				? annexBDecoder(() => decodedAt.push(performance.now()))
				: jpegDecoder(() => decodedAt.push(performance.now()));
	// performance.now() and the chunks' wallclock timestamps are compared through one offset.
	const epochOffsetMs = Date.now() - performance.now();
	supporter.on("frame", (frame) => {
		if (frame.channelName !== "screen" || frame.stream !== 1 || path !== "jpeg") return;
		received.push({ bytes: frame.payload.length, at: performance.now() });
		if (decoder.push(frame.payload, null)) {
			pushed.push({ seq: frame.seq, captureMs: null, at: performance.now() });
		}
	});
	supporter.on("videoChunk", (chunk) => {
		if (path === "jpeg") return;
		if (lastIndex !== null && chunk.index !== lastIndex + 1 && measuring) {
			lost += (chunk.index - lastIndex - 1 + 2 ** 32) % 2 ** 32;
		}
		lastIndex = chunk.index;
		if (chunk.key && measuring) keyFrames += 1;
		received.push({ bytes: chunk.data.length, at: performance.now() });
		if (decoder.push(chunk.data, chunk)) {
			pushed.push({
				seq: chunk.seq,
				captureMs: chunk.timestampUs / 1000 - epochOffsetMs,
				at: performance.now(),
			});
		}
	});
	const pids = () =>
		new Set(
			events
				.filter((e) => e.event === "capture.started" || e.event === "video.started")
				.map((e) => Number(e.pid))
				.filter((pid) => pid > 0),
		);
	// CPU per ffmpeg, sampled while it runs: a process that ended (a restart) keeps its last value.
	const cpuSeen = new Map<number, number>();
	const sampleCpu = () => {
		for (const pid of pids()) {
			const ms = cpuMs(pid);
			if (ms !== null) cpuSeen.set(pid, ms);
		}
	};
	const sampler = setInterval(sampleCpu, 200);
	try {
		await Promise.all([supporter.connect(), customer.connect()]);
		await Promise.all([supporter.whenReady(20_000), customer.whenReady(20_000)]);
		if (customer.state?.phase !== "active") {
			await customer.waitFor("state", (s) => s.phase === "active");
		}
		if (customer.state?.admission?.status === "waiting") {
			await supporter.admit();
			await customer.waitFor("state", (s) => s.admission?.status === "admitted");
		}
		const shown = supporter.waitFor("state", (s) => s.shower === "customer");
		await customer.grantView();
		await shown;
		if (path !== "jpeg") {
			// As a console does once it views: the relay forwards stream 4 only while a view stands.
			const codec = path === "vp8" ? "vp8" : "avc1.42E01F";
			await supporter.send(
				"screen",
				VIDEO_FEEDBACK_STREAM,
				encodeVideoFeedback({ t: "codecs", decode: [codec] }),
			);
		}
		await new Promise((r) => setTimeout(r, timing.warmupSeconds * 1000));
		const from = { received: received.length, decoded: decodedAt.length, at: performance.now() };
		measuring = true;
		await new Promise((r) => setTimeout(r, timing.seconds * 1000));
		measuring = false;
		const seconds = (performance.now() - from.at) / 1000;
		const to = { received: received.length, decoded: decodedAt.length };
		// CPU of every ffmpeg the module ran, read just before it stops; frames from its report.
		sampleCpu();
		clearInterval(sampler);
		const cpu = [...cpuSeen.values()].reduce((n, ms) => n + ms, 0);
		await closeDesktop();
		const frames = events
			.filter((e) => e.event === "capture.stopped")
			.reduce((n, e) => n + (e.frames ?? 0), 0);
		const toDecoded: number[] = [];
		const toReceived: number[] = [];
		const captureToDecoded: number[] = [];
		for (let i = from.decoded; i < to.decoded; i++) {
			const p = pushed[i];
			const done = decodedAt[i] as number;
			if (!p) continue;
			const sent = sentAt.get(p.seq);
			if (sent !== undefined) {
				toDecoded.push(done - sent);
				toReceived.push(p.at - sent);
			}
			if (p.captureMs !== null) captureToDecoded.push(done - p.captureMs);
		}
		toDecoded.sort((a, b) => a - b);
		toReceived.sort((a, b) => a - b);
		captureToDecoded.sort((a, b) => a - b);
		const inWindow = received.slice(from.received, to.received);
		const bytes = inWindow.reduce((n, r) => n + r.bytes, 0);
		const decoded = to.decoded - from.decoded;
		return {
			path,
			seconds: Math.round(seconds * 10) / 10,
			framesDecoded: decoded,
			framesPerSecond: decoded / seconds,
			kbitPerSecond: (bytes * 8) / 1000 / seconds,
			bytesPerFrame: inWindow.length > 0 ? bytes / inWindow.length : 0,
			captureToDecodedP50Ms: captureToDecoded.length ? percentile(captureToDecoded, 0.5) : null,
			captureToDecodedP99Ms: captureToDecoded.length ? percentile(captureToDecoded, 0.99) : null,
			sentToDecodedP50Ms: percentile(toDecoded, 0.5),
			sentToDecodedP99Ms: percentile(toDecoded, 0.99),
			sentToReceivedP50Ms: percentile(toReceived, 0.5),
			sentToReceivedP99Ms: percentile(toReceived, 0.99),
			encoderCpuMsPerFrame: frames > 0 ? cpu / frames : Number.NaN,
			encoderFrames: frames,
			keyFrames,
			lost,
			decodeErrors: null,
		};
	} finally {
		clearInterval(sampler);
		await closeDesktop();
		const errors = await decoder.close();
		await pair.close();
		await agent.close();
		if (errors) console.error(`${path} decoder: ${errors}`);
	}
}

/** Runs every path once on one Xvfb desktop with one scene. */
export async function measureVideo(
	server: TestServer,
	admin: { email: string; password: string },
	options: { quick: boolean; paths: VideoPathName[] },
): Promise<VideoBench | { skipped: string }> {
	for (const tool of ["Xvfb", "ffmpeg"]) {
		if (!findExecutable(tool, process.env.PATH)) return { skipped: `${tool} not found` };
	}
	const timing = options.quick
		? { warmupSeconds: 3, seconds: 8 }
		: { warmupSeconds: 5, seconds: 25 };
	const total = options.paths.length * (timing.warmupSeconds + timing.seconds + 10);
	const load = () => Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]);
	const before = load();
	const xvfb = await startXvfb(VIDEO_BENCH_WIDTH, VIDEO_BENCH_HEIGHT);
	const errors: string[] = [];
	const results: VideoPathResult[] = [];
	let scene: Scene | null = null;
	try {
		scene = await startScene(xvfb.display, total + 30);
		for (const path of options.paths) {
			process.stdout.write(`video ${path} … `);
			try {
				const r = await measurePath(path, server, admin, xvfb, timing);
				results.push(r);
				console.log(`${r.framesPerSecond.toFixed(1)} frames/s`);
			} catch (err) {
				errors.push(`${path}: ${(err as Error).message}`);
				console.log("failed");
			}
		}
	} finally {
		await scene?.stop();
		xvfb.stop();
	}
	return {
		machineLoad: { before, after: load() },
		scene: scene?.description ?? "",
		results,
		errors,
	};
}
