import { describe, expect, it } from "vitest";
import {
	countRequest,
	incrementCounter,
	renderMetrics,
	trackWebSocket,
} from "../../durable/metrics.ts";

describe("metrics", () => {
	it("renders counters and the WebSocket gauge in Prometheus text format", () => {
		countRequest("GET", "/api/v1/users/:id", 200);
		countRequest("GET", "/api/v1/users/:id", 200);
		countRequest("POST", 'evil"\nroute', 500);
		trackWebSocket(1);
		trackWebSocket(1);
		trackWebSocket(-1);
		incrementCounter("fernwart_frames_dropped_total", "Frames dropped by the relay.", 3);
		const text = renderMetrics("1.2.3");
		expect(text).toContain('fernwart_build_info{version="1.2.3"} 1');
		expect(text).toContain(
			'fernwart_http_requests_total{method="GET",route="/api/v1/users/:id",status="200"} 2',
		);
		// A label value can never break out of its quotes or its line.
		expect(text).toContain('route="evil__route"');
		expect(text).toMatch(/^fernwart_websockets_open 1$/m);
		expect(text).toMatch(/^# TYPE fernwart_frames_dropped_total counter$/m);
		expect(text).toMatch(/^fernwart_frames_dropped_total 3$/m);
		expect(text.endsWith("\n")).toBe(true);
	});

	it("never lets the WebSocket gauge go negative", () => {
		for (let i = 0; i < 5; i++) trackWebSocket(-1);
		expect(renderMetrics("x")).toMatch(/^fernwart_websockets_open 0$/m);
	});
});
