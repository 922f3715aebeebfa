/**
 * The three measurements, identical for every relay: each relay only has to hand over pairs of
 * open sockets whose binary frames reach the other side.
 *
 * Frames are real 14-byte headers (chat channel, seq increasing per sender) followed by random
 * bytes. They are not AES-GCM ciphertext: the relay never decrypts, so sealing them would only
 * add client cost that is the same for both relays and hides the relay's own.
 */
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import type { WebSocket } from "ws";
import { markSchema } from "../protocol/control.ts";
import { CHANNELS, encodeHeader, HEADER_BYTES } from "../protocol/frame.ts";

/** One side of a pair. Handlers are swapped per phase; text frames go to `onText`. */
export interface Endpoint {
	ws: WebSocket;
	/** The next seq this side sends (docs/protocol.md §7: strictly increasing per sender). */
	seq: bigint;
	onBinary: (data: Buffer) => void;
	onText: (text: string) => void;
	/** Text frames that arrived while nobody waited for one (the last 100). */
	inbox: string[];
	/** Set once the socket closed; a closed socket fails the running phase. */
	closed: string | null;
}

export interface Pair {
	/** Sends the pings and the flood (the supporter on Fernwart). */
	a: Endpoint;
	/** Echoes and receives the flood (the customer on Fernwart). */
	b: Endpoint;
}

/** Keeps a text frame for a later reader. */
export function keepText(ep: Endpoint, text: string): void {
	ep.inbox.push(text);
	if (ep.inbox.length > 100) ep.inbox.shift();
}

/** Wraps a socket. Call before the first message can arrive (i.e. before "open"). */
export function toEndpoint(ws: WebSocket): Endpoint {
	const ep: Endpoint = {
		ws,
		seq: 0n,
		onBinary: () => {},
		onText: (text) => keepText(ep, text),
		inbox: [],
		closed: null,
	};
	// Flow control as the modules do it (docs/protocol.md §3.5): the SessionActor closes a reader
	// that leaves more than 8 MiB unproven, and proof is echoing the marks it puts into the stream
	// (one per 256 KiB). The baseline relay sends no marks, so it gets no acks.
	ws.on("message", (data, isBinary) => {
		const buf = data as Buffer; // binaryType "nodebuffer" (the default) gives one Buffer
		const text = isBinary ? null : buf.toString("utf8");
		if (text?.startsWith('{"type":"mark"') && ws.readyState === ws.OPEN) {
			const mark = markSchema.safeParse(JSON.parse(text));
			if (mark.success) ws.send(JSON.stringify({ type: "ack", mark: mark.data.id }));
			return;
		}
		if (text === null) ep.onBinary(buf);
		else ep.onText(text);
	});
	ws.on("close", (code, reason) => {
		ep.closed = `${code} ${reason.toString("utf8")}`.trim();
	});
	// Without a listener an "error" event would end the process; "close" follows it anyway.
	ws.on("error", (err) => {
		ep.closed ??= `error: ${err.message}`;
	});
	return ep;
}

/** Sends one chat frame of `size` bytes in total: the header, then the start of `body`. */
export function sendFrame(ep: Endpoint, size: number, body: Uint8Array): void {
	const frame = Buffer.allocUnsafe(size);
	frame.set(encodeHeader({ channel: CHANNELS.chat, stream: 0, seq: ep.seq }), 0);
	frame.set(body.subarray(0, size - HEADER_BYTES), HEADER_BYTES);
	ep.seq += 1n;
	ep.ws.send(frame, { binary: true });
}

/** Random bytes large enough for the largest frame. */
export function makeBody(maxFrameBytes: number): Uint8Array {
	return randomBytes(maxFrameBytes);
}

export interface PhaseLimits {
	/** Measured time, after the warm-up. */
	seconds: number;
	/** Unmeasured lead-in, so that JIT and socket buffers settle first. */
	warmupSeconds: number;
}

/**
 * Sequential ping-pong on every pair at once: `a` sends a frame, `b` answers with its own frame of
 * the same size and body, `a` notes the round trip and sends the next. At most `maxRoundTrips` per
 * pair. Returns the round-trip times of the measured time in milliseconds, unsorted.
 */
export async function measureRtt(
	pairs: Pair[],
	frameBytes: number,
	body: Uint8Array,
	limits: PhaseLimits,
	maxRoundTrips: number,
): Promise<number[]> {
	const samples: number[] = [];
	const measureFrom = performance.now() + limits.warmupSeconds * 1000;
	const deadline = measureFrom + limits.seconds * 1000;
	await runPhase(pairs, deadline, (pair, resolve, fail) => {
		let sentAt = 0;
		let count = 0;
		pair.b.onBinary = (data) => sendFrame(pair.b, data.length, data.subarray(HEADER_BYTES));
		pair.a.onBinary = (data) => {
			const now = performance.now();
			if (data.length !== frameBytes) return fail(new Error("the echo changed size"));
			if (sentAt >= measureFrom) samples.push(now - sentAt);
			count += 1;
			if (now >= deadline || count >= maxRoundTrips) return resolve();
			sentAt = performance.now();
			sendFrame(pair.a, frameBytes, body);
		};
		sentAt = performance.now();
		sendFrame(pair.a, frameBytes, body);
	});
	return samples;
}

export interface FloodResult {
	/** Frames received by the `b` sides during the measured time. */
	frames: number;
	/** Their bytes, headers included. */
	bytes: number;
	/** The measured time. */
	seconds: number;
}

/**
 * One-way flood `a` → `b` on every pair, with at most `window` frames in flight per pair (the
 * receiver's count is visible here directly, so no acknowledgement frames are needed). At most
 * `maxFrames` per pair. The phase ends when every sent frame has arrived, so none can be lost.
 */
export async function measureFlood(
	pairs: Pair[],
	frameBytes: number,
	body: Uint8Array,
	window: number,
	limits: PhaseLimits,
	maxFrames: number,
): Promise<FloodResult> {
	const start = performance.now();
	const measureFrom = start + limits.warmupSeconds * 1000;
	const deadline = measureFrom + limits.seconds * 1000;
	let measuredFrames = 0;
	let measuredBytes = 0;
	let stopped = false;
	const stopTimer = setTimeout(() => {
		stopped = true;
	}, deadline - start);
	try {
		await runPhase(pairs, deadline, (pair, resolve, fail) => {
			let sent = 0;
			let received = 0;
			const fill = () => {
				while (!stopped && sent < maxFrames && sent - received < window) {
					sendFrame(pair.a, frameBytes, body);
					sent += 1;
				}
				if ((stopped || sent >= maxFrames) && received === sent) resolve();
			};
			pair.b.onBinary = (data) => {
				if (data.length !== frameBytes) return fail(new Error("a frame changed size"));
				received += 1;
				const now = performance.now();
				if (now >= measureFrom && now < deadline) {
					measuredFrames += 1;
					measuredBytes += data.length;
				}
				fill();
			};
			fill();
		});
	} finally {
		clearTimeout(stopTimer);
	}
	// A pair that reached maxFrames early ends early; the others keep the full measured time.
	const seconds = Math.max(
		1e-3,
		Math.min(limits.seconds, (performance.now() - measureFrom) / 1000),
	);
	return { frames: measuredFrames, bytes: measuredBytes, seconds };
}

/**
 * Fails the phase if a socket closes, or if frames are still missing well after the deadline.
 * Returns the function that ends the watch.
 */
function watchPairs(pairs: Pair[], deadline: number, reject: (err: Error) => void): () => void {
	const timer = setInterval(() => {
		const closed = pairs.find((p) => p.a.closed || p.b.closed);
		if (closed) reject(closedError(closed));
		else if (performance.now() > deadline + DRAIN_TIMEOUT_MS)
			reject(new Error(`frames still missing ${DRAIN_TIMEOUT_MS} ms after the deadline`));
	}, 100);
	return () => clearInterval(timer);
}

const DRAIN_TIMEOUT_MS = 15_000;

/** Runs one phase: `run` per pair, all failing together if any socket closes or stalls. */
async function runPhase(
	pairs: Pair[],
	deadline: number,
	run: (pair: Pair, resolve: () => void, reject: (err: Error) => void) => void,
): Promise<void> {
	let fail: (err: Error) => void = () => {};
	const failed = new Promise<never>((_, reject) => {
		fail = reject;
	});
	const stopWatch = watchPairs(pairs, deadline, fail);
	try {
		await Promise.race([
			failed,
			Promise.all(pairs.map((pair) => new Promise<void>((resolve) => run(pair, resolve, fail)))),
		]);
	} finally {
		stopWatch();
		for (const { a, b } of pairs) {
			a.onBinary = () => {};
			b.onBinary = () => {};
		}
	}
}

function closedError(pair: Pair): Error {
	return new Error(`socket closed during the phase: a=${pair.a.closed} b=${pair.b.closed}`);
}

/** Nearest-rank percentile of sorted values; NaN for none. */
export function percentile(sorted: number[], q: number): number {
	if (sorted.length === 0) return Number.NaN;
	const rank = Math.ceil(q * sorted.length);
	return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? Number.NaN;
}
