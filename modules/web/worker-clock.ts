/**
 * A repeating clock that runs in a Web Worker (modules/web/frame-timer.ts), for the session's
 * keepalive. Chromium throttles a background tab's main-thread timers to once a second, and after
 * five hidden minutes to once a minute; a customer who shares a window and works in it, or a
 * supporter with the console behind another window, would then ping too rarely and be taken for
 * a dead peer (the relay's limit is 25 s of silence). A worker's timers are not throttled that
 * way. If the worker cannot start, the main thread's `setInterval` takes over.
 */
import type { KeepaliveClock } from "../sdk/session.ts";
import { FRAME_TIMER_URL } from "./screen.ts";

/** Calls `tick` every `ms` milliseconds from a worker until `stop()`; see the file comment. */
export const workerClock: KeepaliveClock = (tick, ms) => {
	let fallback: ReturnType<typeof setInterval> | null = null;
	const useTimer = () => {
		fallback ??= setInterval(tick, ms);
	};
	let worker: Worker | null = null;
	try {
		worker = new Worker(FRAME_TIMER_URL);
		worker.onmessage = () => tick();
		worker.onerror = () => {
			worker?.terminate();
			worker = null;
			useTimer();
		};
		worker.postMessage({ interval: ms });
	} catch {
		useTimer();
	}
	return {
		stop() {
			worker?.terminate();
			worker = null;
			if (fallback) clearInterval(fallback);
		},
	};
};
