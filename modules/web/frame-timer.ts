/**
 * The frame clock, run as a dedicated Web Worker (served as /assets/frame-timer.js). Chromium
 * throttles the timers of a background tab's main thread (to once a second, later once a
 * minute), and a customer who shares a window and switches to it leaves /join in the
 * background; a worker's timers are not throttled that way. The page posts `{ interval }` to
 * start (or restart) the clock and `{ interval: 0 }` to stop it; the worker posts `"tick"` every
 * `interval` milliseconds. No imports: the bundle stays one small self-contained script.
 */

interface WorkerScope {
	onmessage: ((event: MessageEvent<{ interval?: unknown }>) => void) | null;
	postMessage(message: "tick"): void;
}

const scope = globalThis as unknown as WorkerScope;
let timer: ReturnType<typeof setInterval> | undefined;

scope.onmessage = (event) => {
	clearInterval(timer);
	timer = undefined;
	const interval = Number(event.data?.interval);
	if (Number.isFinite(interval) && interval > 0) {
		timer = setInterval(() => scope.postMessage("tick"), Math.max(10, interval));
	}
};
