import type { WebSocketEventLike, WebSocketLike } from "../../modules/sdk/session.ts";

/**
 * A socket wrapper on the sending path: a test can rewrite what the SDK sends (as a modified
 * module would) or make the transport drop as a network failure does (1006).
 */
export class Tap implements WebSocketLike {
	readonly inner: WebSocketLike;
	mutate:
		| ((
				data: string | ArrayBuffer | ArrayBufferView<ArrayBuffer>,
		  ) => (string | ArrayBuffer | ArrayBufferView<ArrayBuffer>)[])
		| null = null;
	#dropped = false;
	readonly #listeners = new Map<string, ((event: WebSocketEventLike) => void)[]>();

	constructor(inner: WebSocketLike) {
		this.inner = inner;
		for (const type of ["open", "message", "close", "error"] as const) {
			inner.addEventListener(type, (event) => {
				if (this.#dropped) return;
				for (const l of this.#listeners.get(type) ?? []) l(event);
			});
		}
	}

	get binaryType() {
		return this.inner.binaryType;
	}
	set binaryType(value: string) {
		this.inner.binaryType = value;
	}
	get readyState() {
		return this.#dropped ? 3 : this.inner.readyState;
	}

	addEventListener(type: string, listener: (event: WebSocketEventLike) => void): void {
		this.#listeners.set(type, [...(this.#listeners.get(type) ?? []), listener]);
	}

	send(data: string | ArrayBuffer | ArrayBufferView<ArrayBuffer>): void {
		const out = this.mutate ? this.mutate(data) : [data];
		for (const item of out) this.inner.send(item);
	}

	close(code?: number, reason?: string): void {
		this.inner.close(code, reason);
	}

	/** The SDK sees 1006; the server sees an ordinary close. */
	drop(): void {
		const listeners = this.#listeners.get("close") ?? [];
		this.#dropped = true;
		this.inner.close(1000, "test drop");
		for (const l of listeners) l({ type: "close", code: 1006, reason: "" });
	}
}
