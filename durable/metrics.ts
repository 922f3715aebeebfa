/**
 * Process-wide counters for /metrics. workerd runs a service's entry handler and its actors in
 * one isolate per process, so module state is shared by both and costs a map update per event.
 * Several workerd processes each report their own numbers; a scraper sums them.
 */
const requests = new Map<string, number>();
const counters = new Map<string, { help: string; value: number }>();
let openWebSockets = 0;

/** Counts one finished HTTP request under its route pattern (never the raw path). */
export function countRequest(method: string, route: string, status: number): void {
	const key = `method="${method}",route="${route.replace(/["\\\n]/g, "_")}",status="${status}"`;
	requests.set(key, (requests.get(key) ?? 0) + 1);
}

/** Adds to a named counter, e.g. dropped frames; creates it on first use. */
export function incrementCounter(name: string, help: string, by = 1): void {
	const c = counters.get(name) ?? { help, value: 0 };
	c.value += by;
	counters.set(name, c);
}

/** Actors call this when a socket opens (+1) or closes (-1). */
export function trackWebSocket(delta: 1 | -1): void {
	openWebSockets = Math.max(0, openWebSockets + delta);
}

/** Renders everything in the Prometheus text exposition format (version 0.0.4). */
export function renderMetrics(version: string): string {
	const lines = [
		"# HELP fernwart_build_info Build information.",
		"# TYPE fernwart_build_info gauge",
		`fernwart_build_info{version="${version}"} 1`,
		"# HELP fernwart_http_requests_total HTTP requests by method, route pattern and status.",
		"# TYPE fernwart_http_requests_total counter",
	];
	for (const [labels, n] of requests) lines.push(`fernwart_http_requests_total{${labels}} ${n}`);
	lines.push(
		"# HELP fernwart_websockets_open WebSockets currently open on this process.",
		"# TYPE fernwart_websockets_open gauge",
		`fernwart_websockets_open ${openWebSockets}`,
	);
	for (const [name, c] of counters) {
		lines.push(`# HELP ${name} ${c.help}`, `# TYPE ${name} counter`, `${name} ${c.value}`);
	}
	return `${lines.join("\n")}\n`;
}
