import WebSocket from "ws";
import {
	createStatement,
	deriveSessionKeys,
	exportPublicKey,
	generateEphemeralKeyPair,
	generateSigningKeyPair,
	keyCommitment,
	SessionCipher,
	signStatement,
} from "../../modules/sdk/crypto.ts";
import { markSchema, type Role, type Statement } from "../../protocol/control.ts";
import { fromBase64url, toBase64url } from "../../protocol/encoding.ts";
import { CHANNELS, type Channel } from "../../protocol/frame.ts";
import type { TestServer } from "./server.ts";

/**
 * A low-level session participant for relay tests: real WebSocket, real keys and signatures,
 * but every step explicit, so a test can also misbehave (skip consent, forge, replay) and show
 * that the server, not the honest peer, stops it.
 */
export class RawParticipant {
	readonly messages: unknown[] = [];
	readonly frames: Uint8Array[] = [];
	closeCode: number | null = null;
	cipher: SessionCipher | undefined;
	sas: string | undefined;
	private waiters: (() => void)[] = [];
	private pinger: ReturnType<typeof setInterval>;
	readonly ws: WebSocket;
	readonly role: Role;
	readonly sessionId: string;
	readonly keys: {
		x: Awaited<ReturnType<typeof generateEphemeralKeyPair>>;
		sign: CryptoKeyPair;
		ed25519: string;
	};
	private constructor(ws: WebSocket, role: Role, sessionId: string, keys: RawParticipant["keys"]) {
		this.ws = ws;
		this.role = role;
		this.sessionId = sessionId;
		this.keys = keys;
		ws.on("message", (data, isBinary) => {
			if (isBinary) {
				this.frames.push(new Uint8Array(data as Buffer));
			} else if (String(data) !== "pong") {
				const message = JSON.parse(String(data));
				this.messages.push(message);
				this.acknowledge(message);
			}
			this.wake();
		});
		ws.on("close", (code) => {
			clearInterval(this.pinger);
			this.closeCode = code;
			this.wake();
		});
		// Keepalive as the modules send it: the relay closes a socket silent for 25 s.
		this.pinger = setInterval(() => {
			if (ws.readyState === WebSocket.OPEN) ws.send("ping");
		}, 10_000);
		this.pinger.unref();
	}

	static async connect(server: TestServer, sessionId: string, ticket: string, role: Role) {
		const url = new URL(`/ws/v1/sessions/${encodeURIComponent(sessionId)}`, server.url);
		url.protocol = "wss:";
		url.searchParams.set("ticket", ticket);
		const ws = new WebSocket(url, { ca: server.ca });
		ws.binaryType = "nodebuffer";
		await new Promise<void>((resolve, reject) => {
			ws.once("open", () => resolve());
			ws.once("error", reject);
			ws.once("unexpected-response", (_req, res) =>
				reject(new Error(`upgrade refused: ${res.statusCode}`)),
			);
		});
		const sign = await generateSigningKeyPair();
		const keys = {
			x: await generateEphemeralKeyPair(),
			sign,
			ed25519: await exportPublicKey(sign.publicKey),
		};
		return new RawParticipant(ws, role, sessionId, keys);
	}

	/** Flow control as the modules do it (docs/protocol.md §3.5): a relay mark is echoed at once. */
	private acknowledge(message: unknown) {
		const mark = markSchema.safeParse(message);
		if (!mark.success || this.ws.readyState !== WebSocket.OPEN) return;
		this.ws.send(JSON.stringify({ type: "ack", mark: mark.data.id }));
	}

	private wake() {
		for (const w of this.waiters.splice(0)) w();
	}

	/** Waits until `predicate` holds over what arrived (or times out). */
	async until<T>(predicate: () => T | undefined | false, timeoutMs = 5000): Promise<T> {
		const deadline = Date.now() + timeoutMs;
		for (;;) {
			const v = predicate();
			if (v) return v;
			const left = deadline - Date.now();
			if (left <= 0) throw new Error(`timed out; got ${JSON.stringify(this.messages.slice(-5))}`);
			await new Promise<void>((resolve) => {
				const t = setTimeout(resolve, left);
				this.waiters.push(() => {
					clearTimeout(t);
					resolve();
				});
			});
		}
	}

	/** The newest message of a type, waiting for it. */
	async next(type: string, after = 0): Promise<Record<string, unknown>> {
		return this.until(() =>
			this.messages.slice(after).find((m) => (m as { type: string }).type === type),
		) as Promise<Record<string, unknown>>;
	}

	latestState(): Record<string, unknown> | undefined {
		const states = this.messages.filter((m) => (m as { type: string }).type === "state");
		return (states.at(-1) as { state: Record<string, unknown> } | undefined)?.state;
	}

	/** Waits for a state message matching `check`. */
	async state(check: (s: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
		return this.until(() => {
			const s = this.latestState();
			return s && check(s) ? s : undefined;
		});
	}

	send(message: unknown) {
		this.ws.send(typeof message === "string" ? message : JSON.stringify(message));
	}

	async hello() {
		if (this.role === "supporter") {
			this.send({
				type: "hello",
				role: "supporter",
				x25519Commitment: await keyCommitment(this.sessionId, this.keys.x.publicKey),
				ed25519: this.keys.ed25519,
			});
		} else {
			this.send({
				type: "hello",
				role: this.role,
				x25519: toBase64url(this.keys.x.publicKey),
				ed25519: this.keys.ed25519,
			});
		}
	}

	reveal() {
		this.send({ type: "key.reveal", x25519: toBase64url(this.keys.x.publicKey) });
	}

	/** Derives keys once both sides' keys are known; returns the SAS. */
	async derive(peer: { x25519: string; ed25519: string }, peerRole: Role): Promise<string> {
		const keys = await deriveSessionKeys({
			sessionId: this.sessionId,
			own: {
				role: this.role,
				keyPair: this.keys.x,
				ed25519: fromBase64url(this.keys.ed25519) as Uint8Array,
			},
			peer: {
				role: peerRole,
				x25519: fromBase64url(peer.x25519) as Uint8Array,
				ed25519: fromBase64url(peer.ed25519) as Uint8Array,
			},
		});
		this.cipher = new SessionCipher(keys);
		this.sas = keys.sas;
		return keys.sas;
	}

	async consent(
		type: Statement["type"],
		details: Statement["details"] = {},
		extra: Record<string, unknown> = {},
	) {
		const statement = createStatement(type, this.sessionId, details);
		this.send({
			type,
			...extra,
			statement,
			signature: await signStatement(this.keys.sign.privateKey, statement),
		});
	}

	async seal(channel: Channel, payload: Uint8Array, stream = 0): Promise<Uint8Array> {
		if (!this.cipher) throw new Error("no keys yet");
		return this.cipher.seal(channel, stream, payload);
	}

	sendFrame(frame: Uint8Array) {
		this.ws.send(frame);
	}

	close() {
		this.ws.close();
	}

	/**
	 * Plays a peer that stops reading, so the relay's sends pile up behind a closed TCP window;
	 * without `keepalive` also one whose network vanished (no more pings either).
	 */
	stall(options: { keepalive?: boolean } = {}) {
		if (!options.keepalive) clearInterval(this.pinger);
		this.ws.pause();
	}
}

export { CHANNELS };
