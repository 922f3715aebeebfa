/**
 * One side of a support session over the relay's WebSocket: the handshake with key commitment
 * (docs/protocol.md §4), the SAS, encrypted binary frames, the typed consent API and resume.
 *
 * Isomorphic: the caller passes a WebSocket factory (a browser's `WebSocket`, or undici's with a
 * pinned certificate in Node), so TLS policy stays outside. Keys live only in this object's
 * memory: they survive a reconnect of the socket, never a restart of the module, and the server
 * never sees them.
 */
import { verifyKeyCommitment } from "../../protocol/commitment.ts";
import {
	BACKPRESSURE_HOLD_MS,
	CLOSE,
	type ClientMessage,
	type ConsentState,
	type ConsentType,
	clientMessageSchema,
	type END_REASONS,
	type Hello,
	type InboundMessage,
	isConsentMessage,
	markSchema,
	mayResume,
	parseInboundFrame,
	type Role,
	type Statement,
} from "../../protocol/control.ts";
import { type Bytes, fromBase64url, toBase64url } from "../../protocol/encoding.ts";
import {
	CHANNELS,
	type Channel,
	type ChannelName,
	channelName,
	HEADER_BYTES,
	MAX_FRAME_BYTES,
	parseHeader,
	TAG_BYTES,
} from "../../protocol/frame.ts";
import {
	CLIPBOARD_STREAM,
	type ClipboardMessage,
	clipboardMessageSchema,
	decodeJson,
	encodeJson,
	INPUT_STREAM,
	type InputEvent,
	inputEventSchema,
	SCREEN_INFO_STREAM,
	type ScreenInfo,
	screenInfoSchema,
} from "../../protocol/input.ts";
import { importVerifyKey, verifyEphemeral, verifyStatement } from "../../protocol/signature.ts";
import {
	decodeVideoFeedback,
	parseVideoChunk,
	VIDEO_FEEDBACK_STREAM,
	VIDEO_STREAM,
	type VideoChunk,
	type VideoChunkError,
	type VideoFeedback,
} from "../../protocol/video.ts";
import {
	createStatement,
	deriveSessionKeys,
	type EphemeralKeyPair,
	exportPublicKey,
	generateEphemeralKeyPair,
	generateSigningKeyPair,
	keyCommitment,
	type OpenFailure,
	SessionCipher,
	signEphemeral,
	signStatement,
} from "./crypto.ts";

// ---------------------------------------------------------------------------------------------
// Transport

/** The fields of WebSocket events this client reads. */
export interface WebSocketEventLike {
	type?: string;
	data?: unknown;
	code?: number;
	reason?: string;
}

/** The part of the WHATWG `WebSocket` this client uses; browsers' and undici's both fit. */
export interface WebSocketLike {
	binaryType: string;
	readonly readyState: number;
	send(data: string | ArrayBuffer | ArrayBufferView<ArrayBuffer>): void;
	close(code?: number, reason?: string): void;
	addEventListener(
		type: "open" | "message" | "close" | "error",
		listener: (event: WebSocketEventLike) => void,
	): void;
}

/** Opens a WebSocket to `url` (wss://…/ws/v1/sessions/:id?ticket=…). */
export type WebSocketFactory = (url: string) => WebSocketLike;

const WS_OPEN = 1;
/**
 * Keepalive (docs/protocol.md §3.6): the relay's runtime answers the text `ping` with `pong`
 * without waking the session actor, and closes a socket silent for 25 s with TIMED_OUT.
 */
const PING_INTERVAL_MS = 10_000;
/**
 * A socket on which nothing arrived for this long, not even a `pong`, is given up as dead (a
 * network that vanished without a close) and the session resumes on a new one.
 */
const SILENCE_TIMEOUT_MS = 30_000;
const PING = "ping";
const PONG = "pong";
/** How every relay `mark` starts (JSON.stringify of `{type, id}`): cheap to test on each message. */
const MARK_PREFIX = '{"type":"mark"';

/** The id of a relay `mark` message, or null for anything else. */
function markIdOf(text: string): string | null {
	try {
		const parsed = markSchema.safeParse(JSON.parse(text));
		return parsed.success ? parsed.data.id : null;
	} catch {
		return null;
	}
}

// ---------------------------------------------------------------------------------------------
// Events

/** A decrypted frame from the other side. */
export interface ReceivedFrame {
	channel: Channel;
	channelName: ChannelName;
	stream: number;
	seq: bigint;
	payload: Bytes;
}

/** A message the other side sent through the relay (not `hello`, which arrives as `peer`). */
export interface PeerControl {
	message: Exclude<InboundMessage, { type: "state" | "error" | "end" | "peer" }>;
	/**
	 * For consent messages: true if the statement is signed by the peer's hello key, names this
	 * session and is recent. Null for messages that carry no signature.
	 */
	verified: boolean | null;
}

/**
 * Why a binary frame was not delivered: it did not open, there were no keys yet, or its
 * decrypted payload is not a valid input event, clipboard message, screen info, video chunk or
 * video feedback (`malformed`).
 */
export type RejectReason = OpenFailure | "no-keys" | "malformed";

/** An error from the server (`source: "server"`) or found by this client (`"client"`). */
export interface SessionErrorEvent {
	source: "server" | "client";
	code: string;
	message: string;
	/** True when the session cannot continue on this client. */
	fatal: boolean;
}

/** Everything a {@link SessionClient} reports, by event name. */
export interface SessionEvents {
	/** A socket opened; `resumed` for every socket after the first. */
	open: { resumed: boolean };
	/** The peer's hello (first time, and again after every resume). */
	peer: { hello: Hello };
	/** Keys are derived: both people compare `sas`. */
	ready: { sas: string };
	/** A newer consent state from the server. */
	state: ConsentState;
	/** A frame from the peer, decrypted and authentic. */
	frame: ReceivedFrame;
	/** A binary frame that failed to open: tampering, replay, reordering, or no keys yet. */
	rejected: {
		reason: RejectReason;
		channel?: number;
		stream?: number;
		seq?: bigint;
		/** For a malformed video chunk: what `parseVideoChunk` found. */
		detail?: VideoChunkError;
	};
	/**
	 * An input event from the controller (docs/protocol.md §2.2), decoded and valid. `granted` is
	 * whether this client's last state says the peer controls this side's screen; a module that
	 * injects input must drop events that arrive with `granted: false`.
	 */
	input: { event: InputEvent; granted: boolean };
	/** Clipboard text from the other side. */
	clipboard: ClipboardMessage;
	/** What the showing side says about its screen: displays, pointer, injected input. */
	screenInfo: ScreenInfo;
	/**
	 * One encoded video chunk from the showing side (docs/protocol.md §2.3), header checked;
	 * `data` is a view into the decrypted payload. `seq` lets a viewer spot frames the relay
	 * dropped even when their indexes would not show it.
	 */
	videoChunk: VideoChunk & { seq: bigint };
	/** What the viewer says about the video: its codecs, a key frame request, a report. */
	videoFeedback: VideoFeedback;
	/**
	 * The relay says the other side's reader is behind (`active`) or caught up: screen senders
	 * skip frames while `peerLagging`; file frames wait by themselves.
	 */
	backpressure: { active: boolean };
	/** A message from the peer. */
	control: PeerControl;
	/** The transport dropped; the client tries again after `delayMs` with a fresh ticket. */
	reconnecting: { attempt: number; delayMs: number; code: number };
	/** The session ended (`end` from the server, or a close with STOPPED, ENDED or EXPIRED). */
	end: { reason: (typeof END_REASONS)[number]; by?: Role };
	error: SessionErrorEvent;
	/** The last event: no socket is open and none will be. */
	closed: { code: number; reason: string };
}

type Listener<T> = (value: T) => void;

/** A repeating timer: calls `tick` every `ms` milliseconds until the returned `stop()`. */
export type KeepaliveClock = (tick: () => void, ms: number) => { stop(): void };

/** The default keepalive clock; it never keeps a Node process alive on its own. */
const intervalClock: KeepaliveClock = (tick, ms) => {
	const timer = setInterval(tick, ms);
	(timer as { unref?: () => void }).unref?.();
	return { stop: () => clearInterval(timer) };
};

// ---------------------------------------------------------------------------------------------
// Client

/** Back-off of the resume loop. */
export interface ResumeOptions {
	/** Attempts before giving up (default 20). */
	maxAttempts?: number;
	/** Delay before the first attempt (default 250 ms); doubled each time. */
	initialDelayMs?: number;
	/** Upper bound of the delay (default 5000 ms). */
	maxDelayMs?: number;
}

/** A host's enrolled identity key: it signs the host's hello and its consent statements. */
export interface HostIdentity {
	privateKey: CryptoKey;
	/** Raw Ed25519 public key, base64url, as registered with the server. */
	publicKey: string;
}

/**
 * What a supporter knows of the host it connects to: the key the server returned and the copy
 * the supporter module pinned. Both must be the key that signed the host's ephemeral key.
 */
export interface ExpectedHost {
	publicKey: string;
	pinnedKey?: string;
}

/** Options of {@link SessionClient}. */
export interface SessionClientOptions {
	role: "supporter" | "customer" | "host";
	/** The host's identity key; required for `role: "host"`. */
	identity?: HostIdentity;
	/** A supporter connecting to a host: the peer must be that host (protocol §6.2). */
	expectedHost?: ExpectedHost;
	sessionId: string;
	/** The server's origin (`https://…`); the WebSocket URL is derived from it. */
	baseUrl: string | URL;
	webSocket: WebSocketFactory;
	/** The first ticket (e.g. from joining); otherwise {@link renewTicket} is asked for it. */
	ticket?: string;
	/**
	 * A fresh single-use ticket for a (re)connect: the supporter asks with its access token, the
	 * customer with its resume token. A rejection with an `ApiError`-like `status` of 401, 403,
	 * 404 or 410 ends the resume loop (the session is gone).
	 */
	renewTicket: () => Promise<string>;
	/** The terms' SHA-256 the customer accepts by default in {@link SessionClient.acceptTerms}. */
	termsSha256?: string;
	/** False disables resume; the default back-off otherwise. */
	resume?: ResumeOptions | false;
	/**
	 * How far a peer statement's timestamp may be from the server's time as this module knows it
	 * (default 10 minutes, the relay's own window).
	 */
	maxStatementSkewMs?: number;
	/** This machine's clock (default `Date.now`); tests pass a wrong one. */
	now?: () => number;
	/**
	 * Runs the keepalive every `ms` milliseconds until `stop()` (default: `setInterval`). A browser
	 * page passes a clock that runs in a Web Worker, because Chromium throttles a background tab's
	 * main-thread timers to once a minute, far past the relay's 25 s silence limit.
	 */
	keepaliveClock?: KeepaliveClock;
}

interface OwnKeys {
	ephemeral: EphemeralKeyPair;
	signingKey: CryptoKey;
	ed25519: string;
	/** A host's identity signature over its ephemeral key (others have none). */
	identitySignature: string | null;
	/** The supporter's commitment to `ephemeral.publicKey` (customers have none). */
	commitment: string | null;
}

const DEFAULT_SKEW_MS = 10 * 60_000;
const FINAL_TICKET_STATUSES = new Set([401, 403, 404, 410]);
const CLOSE_TO_END: Record<number, (typeof END_REASONS)[number]> = {
	[CLOSE.STOPPED]: "stopped",
	[CLOSE.ENDED]: "ended",
	[CLOSE.EXPIRED]: "expired",
	[CLOSE.REFUSED]: "refused",
	[CLOSE.TAKEN_OVER]: "taken-over",
};

/**
 * A supporter's or customer's end of one session.
 *
 * Inbound messages are handled strictly one after the other, because key derivation is
 * asynchronous and a frame right behind `key.reveal` must meet the finished cipher. Outbound
 * messages and frames also leave in call order; while the socket is down (or before this side's
 * hello went out on a new socket) they wait in an outbox and follow the hello after a resume.
 */
export class SessionClient {
	readonly role: "supporter" | "customer" | "host";
	readonly sessionId: string;
	readonly #options: SessionClientOptions;
	readonly #listeners = new Map<keyof SessionEvents, Set<Listener<never>>>();

	#own: OwnKeys | null = null;
	#peerHello: Hello | null = null;
	#peerVerifyKey: CryptoKey | null = null;
	#revealedKey: Bytes | null = null;
	#cipher: SessionCipher | null = null;
	#sas: string | null = null;
	#state: ConsentState | null = null;
	/** Set while the relay reports back-pressure: file frames wait for `resumed`. */
	#backpressure: {
		resumed: Promise<void>;
		release: () => void;
		timer: ReturnType<typeof setTimeout>;
	} | null = null;
	#clockOffsetMs = 0;
	/** When the seat was last taken over, as the relay said; a change means a new supporter. */
	#takeoverAt: number | null = null;

	#ws: WebSocketLike | null = null;
	#sockets = 0;
	#helloSent = false;
	#revealSent = false;
	#outbox: (string | Bytes)[] = [];
	#inbox: Promise<void> = Promise.resolve();
	#outChain: Promise<void> = Promise.resolve();
	#ended = false;
	#finished = false;
	#closing = false;
	#reconnectTimer: ReturnType<typeof setTimeout> | null = null;
	#wakeReconnect: (() => void) | null = null;
	#pinger: { stop(): void } | null = null;
	/** When the current socket last delivered anything (a message or a pong). */
	#lastInboundAt = 0;

	constructor(options: SessionClientOptions) {
		this.role = options.role;
		this.sessionId = options.sessionId;
		this.#options = options;
	}

	/** The 6-digit short authentication string, once keys are derived. */
	get sas(): string | null {
		return this.#sas;
	}

	/**
	 * The server's clock minus this machine's, from the relay's latest `state` (0 before the
	 * first). Consent statements are stamped with this machine's clock plus the offset, so a PC
	 * whose clock is wrong still signs a time inside the relay's window.
	 */
	get clockOffsetMs(): number {
		return this.#clockOffsetMs;
	}

	/** The server's time as this module knows it: the local clock corrected by the offset. */
	serverNow(): number {
		return (this.#options.now ?? Date.now)() + this.#clockOffsetMs;
	}

	/** The newest consent state the server sent, or null before the first. */
	get state(): ConsentState | null {
		return this.#state;
	}

	/** The other side's hello, or null before it arrived. */
	get peerHello(): Hello | null {
		return this.#peerHello;
	}

	/** True while a socket is open. */
	get connected(): boolean {
		return this.#ws !== null && this.#ws.readyState === WS_OPEN;
	}

	/** True once the session ended or the client gave up; nothing more will happen. */
	get finished(): boolean {
		return this.#finished;
	}

	/** This side's Ed25519 public key (base64url), as sent in its hello. */
	get signingPublicKey(): string | null {
		return this.#own?.ed25519 ?? null;
	}

	/** Subscribes to an event; returns the function that unsubscribes. */
	on<K extends keyof SessionEvents>(event: K, listener: Listener<SessionEvents[K]>): () => void {
		let set = this.#listeners.get(event);
		if (!set) {
			set = new Set();
			this.#listeners.set(event, set);
		}
		set.add(listener as Listener<never>);
		return () => set.delete(listener as Listener<never>);
	}

	/**
	 * Resolves with the next `event` for which `predicate` holds. Rejects after `timeoutMs`, or
	 * when the client closes first (unless `closed` is what is awaited).
	 */
	waitFor<K extends keyof SessionEvents>(
		event: K,
		predicate: (value: SessionEvents[K]) => boolean = () => true,
		timeoutMs = 10_000,
	): Promise<SessionEvents[K]> {
		return new Promise((resolve, reject) => {
			const offs: (() => void)[] = [];
			const done = () => {
				clearTimeout(timer);
				for (const off of offs) off();
			};
			const timer = setTimeout(() => {
				done();
				reject(new Error(`timed out waiting for ${event}`));
			}, timeoutMs);
			offs.push(
				this.on(event, (value) => {
					if (!predicate(value)) return;
					done();
					resolve(value);
				}),
			);
			if (event !== "closed") {
				offs.push(
					this.on("closed", ({ code, reason }) => {
						done();
						reject(new Error(`session closed (${code} ${reason}) before ${event}`));
					}),
				);
			}
		});
	}

	/** Resolves with the SAS once keys are derived (at once if they already are). */
	async whenReady(timeoutMs = 10_000): Promise<string> {
		if (this.#sas !== null) return this.#sas;
		return (await this.waitFor("ready", () => true, timeoutMs)).sas;
	}

	/**
	 * Makes this session's keys and opens the first socket. Resolves when it is open; rejects if
	 * it closes before opening (a wrong or used ticket, an unreachable server).
	 */
	async connect(): Promise<void> {
		if (this.#own || this.#finished) throw new Error("connect() may be called once");
		const ephemeral = await generateEphemeralKeyPair();
		const identity = this.#options.identity;
		if (this.role === "host" && !identity) throw new Error("a host needs its identity key");
		// A host signs with its enrolled identity key; the others with a fresh key per session.
		const signing = identity ? null : await generateSigningKeyPair();
		this.#own = {
			ephemeral,
			signingKey: identity?.privateKey ?? (signing as CryptoKeyPair).privateKey,
			ed25519: identity?.publicKey ?? (await exportPublicKey((signing as CryptoKeyPair).publicKey)),
			identitySignature:
				this.role === "host" && identity
					? await signEphemeral(identity.privateKey, this.sessionId, ephemeral.publicKey)
					: null,
			commitment:
				this.role === "supporter" ? await keyCommitment(this.sessionId, ephemeral.publicKey) : null,
		};
		const ticket = this.#options.ticket ?? (await this.#options.renewTicket());
		try {
			await this.#openSocket(ticket);
		} catch (err) {
			this.#finish(0, "could not connect");
			throw err;
		}
	}

	/** Closes the socket for good (no resume). The session itself ends only by end/STOP. */
	close(): void {
		if (this.#finished) return;
		this.#closing = true;
		if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
		this.#wakeReconnect?.();
		const ws = this.#ws;
		if (ws) {
			ws.close(1000, "closed");
			// The close event finishes the client; a socket that never reports back is not waited for.
			setTimeout(() => this.#finish(1000, "closed"), 1000);
		} else {
			this.#finish(1000, "closed");
		}
	}

	// -------------------------------------------------------------------------------------------
	// Consent API

	/** Accepts the support terms (customer); the signed statement names their SHA-256. */
	acceptTerms(sha256: string | undefined = this.#options.termsSha256): Promise<void> {
		if (!sha256) return Promise.reject(new Error("acceptTerms needs the terms' sha256"));
		return this.#sendConsent("terms.accept", { sha256 });
	}

	/** Asks the other side to show its screen. */
	requestView(): Promise<void> {
		return this.#sendControl({ type: "view.request" });
	}

	/** Lets the other side see this side's screen (sent by the side that will show). */
	grantView(): Promise<void> {
		return this.#sendConsent("view.grant");
	}

	/** Refuses to show this side's screen. */
	denyView(): Promise<void> {
		return this.#sendConsent("view.deny");
	}

	/** Stops showing this side's screen; control ends with it. The relay acts before it writes. */
	revokeView(): Promise<void> {
		return this.#sendConsent("view.revoke");
	}

	/** Asks the showing side for remote control. */
	requestControl(): Promise<void> {
		return this.#sendControl({ type: "control.request" });
	}

	/** Gives the other side control of this side's input (sent by the showing side). */
	grantControl(): Promise<void> {
		return this.#sendConsent("control.grant");
	}

	/** Refuses a control request. */
	denyControl(): Promise<void> {
		return this.#sendConsent("control.deny");
	}

	/** Takes back a control grant. */
	revokeControl(): Promise<void> {
		return this.#sendConsent("control.revoke");
	}

	/**
	 * Emergency STOP: the relay revokes view and control at once and ends the session. It goes out
	 * as soon as it is signed, ahead of frames and messages still waiting in this client's queue
	 * (a screen frame being sealed must not hold it back).
	 */
	async stop(): Promise<void> {
		const own = this.#requireOwn();
		const statement = createStatement("stop", this.sessionId, {}, this.serverNow());
		const signature = await signStatement(own.signingKey, statement);
		if (this.#finished) throw new Error("the session is over");
		this.#transmit(this.#encode({ type: "stop", statement, signature }));
	}

	/**
	 * A host's signed verdict on the supporter's password proof (`result`: accepted, refused or
	 * locked). The relay audits it and opens the other channels only after `accepted`.
	 */
	reportHostAuth(details: {
		result: "accepted" | "refused" | "locked";
		failures: number;
	}): Promise<void> {
		if (this.role !== "host") return Promise.reject(new Error("only a host reports host.auth"));
		return this.#sendConsent("host.auth", details);
	}

	/** Offers a file; after acceptance its bytes go on the file channel with `stream = id`. */
	offerFile(file: { id: number; name: string; size: number; sha256: string }): Promise<void> {
		return this.#sendControl({ type: "file.offer", ...file });
	}

	/** Accepts a file offer; the signature names the file. */
	acceptFile(id: number): Promise<void> {
		return this.#sendConsent("file.accept", { fileId: id }, { id });
	}

	/** Refuses a file offer. */
	rejectFile(id: number): Promise<void> {
		return this.#sendConsent("file.reject", { fileId: id }, { id });
	}

	/** Says that all bytes of file `id` were sent. */
	fileDone(id: number): Promise<void> {
		return this.#sendControl({ type: "file.done", id });
	}

	/** Admits the customer waiting for admission (supporter; docs/protocol.md §3.8). */
	admit(): Promise<void> {
		return this.#sendControl({ type: "admit" });
	}

	/** Refuses the waiting customer: the session ends for both sides, the support ID is dead. */
	refuse(): Promise<void> {
		return this.#sendControl({ type: "refuse" });
	}

	/** A comment for the protocol (and the peer). */
	comment(text: string): Promise<void> {
		return this.#sendControl({ type: "comment", text });
	}

	/**
	 * Encrypts `bytes` and sends them as one frame; resolves with the frame's seq. Needs the
	 * handshake to be complete. Whether the frame reaches the peer is the relay's decision.
	 */
	send(channel: Channel | ChannelName, stream: number, bytes: Uint8Array): Promise<bigint> {
		const cipher = this.#cipher;
		if (!cipher) return Promise.reject(new Error("the handshake is not complete"));
		const number = typeof channel === "string" ? CHANNELS[channel] : channel;
		// The relay closes a socket that sends a frame over its channel's cap: refuse it here.
		const name = channelName(number);
		const frameBytes = HEADER_BYTES + bytes.length + TAG_BYTES;
		if (name && frameBytes > MAX_FRAME_BYTES[name]) {
			return Promise.reject(
				new RangeError(`a ${name} frame is at most ${MAX_FRAME_BYTES[name]} bytes`),
			);
		}
		// Bulk (file) frames wait while the relay says the other side's reader is behind; they
		// are sealed after the wait, in call order, so the seq still follows the sending order.
		if (number === CHANNELS.file && this.#backpressure) {
			const resume = this.#backpressure.resumed;
			return resume.then(() => this.send(channel, stream, bytes));
		}
		// Sealing now fixes the seq in call order; the outbound chain keeps the sending order.
		const sealed = cipher.seal(number, stream, bytes);
		let seq = -1n;
		return this.#enqueue(async () => {
			const frame = await sealed;
			const header = parseHeader(frame);
			if (header.ok) seq = header.header.seq;
			return frame;
		}).then(() => seq);
	}

	/**
	 * Sends one input event to the showing side (docs/protocol.md §2.2). Only the controller may:
	 * without a control grant in the last state this rejects, and the relay would drop the frame
	 * anyway. Throws a `RangeError` for an event the schema refuses.
	 */
	sendInput(event: InputEvent): Promise<bigint> {
		const parsed = inputEventSchema.safeParse(event);
		if (!parsed.success) return Promise.reject(new RangeError("not a valid input event"));
		if (this.state?.controller !== this.role) {
			return Promise.reject(new Error("no control grant: input is not sent"));
		}
		return this.send("input", INPUT_STREAM, encodeJson(parsed.data));
	}

	/** Sends clipboard text to the other side (both ways while a control grant stands). */
	sendClipboard(text: string): Promise<bigint> {
		const parsed = clipboardMessageSchema.safeParse({ text });
		if (!parsed.success) return Promise.reject(new RangeError("clipboard text is too long"));
		return this.send("clipboard", CLIPBOARD_STREAM, encodeJson(parsed.data));
	}

	/** Tells the viewer about this side's screen (sent by the showing side). */
	sendScreenInfo(info: ScreenInfo): Promise<bigint> {
		const parsed = screenInfoSchema.safeParse(info);
		if (!parsed.success) return Promise.reject(new RangeError("not valid screen info"));
		return this.send("screen", SCREEN_INFO_STREAM, encodeJson(parsed.data));
	}

	// -------------------------------------------------------------------------------------------
	// Outbound

	async #sendConsent(
		type: ConsentType,
		details: Statement["details"] = {},
		extra: Record<string, unknown> = {},
	): Promise<void> {
		const own = this.#requireOwn();
		return this.#enqueue(async () => {
			const statement = createStatement(type, this.sessionId, details, this.serverNow());
			const signature = await signStatement(own.signingKey, statement);
			return this.#encode({ type, ...extra, statement, signature });
		});
	}

	#sendControl(message: Record<string, unknown>): Promise<void> {
		this.#requireOwn();
		const text = this.#encode(message);
		return this.#enqueue(() => text);
	}

	/** Validates an outbound message with the relay's own schema: a bad one is a bug here. */
	#encode(message: Record<string, unknown>): string {
		const parsed = clientMessageSchema.safeParse(message);
		if (!parsed.success) {
			const issue = parsed.error.issues[0];
			throw new Error(`invalid ${String(message.type)}: ${issue?.message ?? "invalid"}`);
		}
		return JSON.stringify(parsed.data satisfies ClientMessage);
	}

	#requireOwn(): OwnKeys {
		if (!this.#own) throw new Error("call connect() first");
		if (this.#finished) throw new Error("the session is over");
		return this.#own;
	}

	#enqueue(produce: () => string | Bytes | Promise<string | Bytes>): Promise<void> {
		const step = this.#outChain.then(async () => {
			const data = await produce();
			if (this.#finished) throw new Error("the session is over");
			this.#transmit(data);
		});
		this.#outChain = step.catch(() => undefined); // one failed message must not block the rest
		return step;
	}

	#transmit(data: string | Bytes): void {
		const ws = this.#ws;
		if (ws && ws.readyState === WS_OPEN && this.#helloSent) ws.send(data);
		else this.#outbox.push(data);
	}

	#sendRaw(ws: WebSocketLike, message: Record<string, unknown>): void {
		ws.send(this.#encode(message));
	}

	#sendHello(ws: WebSocketLike): void {
		const own = this.#requireOwn();
		if (this.role === "supporter") {
			this.#sendRaw(ws, {
				type: "hello",
				role: "supporter",
				x25519Commitment: own.commitment,
				ed25519: own.ed25519,
			});
		} else if (this.role === "host") {
			this.#sendRaw(ws, {
				type: "hello",
				role: "host",
				x25519: toBase64url(own.ephemeral.publicKey),
				ed25519: own.ed25519,
				identitySignature: own.identitySignature,
			});
		} else {
			this.#sendRaw(ws, {
				type: "hello",
				role: "customer",
				x25519: toBase64url(own.ephemeral.publicKey),
				ed25519: own.ed25519,
			});
		}
		this.#helloSent = true;
		// What waited for this socket follows the hello, in the order it was produced.
		const queued = this.#outbox;
		this.#outbox = [];
		for (const data of queued) ws.send(data);
	}

	// -------------------------------------------------------------------------------------------
	// Socket lifecycle

	#socketUrl(ticket: string): string {
		const url = new URL(
			`/ws/v1/sessions/${encodeURIComponent(this.sessionId)}`,
			this.#options.baseUrl,
		);
		url.protocol = url.protocol === "http:" ? "ws:" : "wss:";
		url.searchParams.set("ticket", ticket);
		return url.href;
	}

	#openSocket(ticket: string): Promise<void> {
		return new Promise((resolve, reject) => {
			let ws: WebSocketLike;
			try {
				ws = this.#options.webSocket(this.#socketUrl(ticket));
			} catch (err) {
				reject(err);
				return;
			}
			ws.binaryType = "arraybuffer";
			let opened = false;
			ws.addEventListener("open", () => {
				if (this.#closing) {
					ws.close(1000, "closed");
					reject(new Error("closed while connecting"));
					return;
				}
				opened = true;
				this.#ws = ws;
				this.#startPings(ws);
				this.#helloSent = false;
				this.#revealSent = false;
				const resumed = this.#sockets > 0;
				this.#sockets += 1;
				// The supporter speaks first; the customer waits for the supporter's commitment.
				if (this.role === "supporter") this.#sendHello(ws);
				this.#emit("open", { resumed });
				resolve();
			});
			ws.addEventListener("message", (event) => {
				if (ws !== this.#ws) return; // a replaced socket's late messages are not this session's
				const data = event.data;
				this.#lastInboundAt = Date.now();
				this.#acknowledge(ws, data);
				this.#inbox = this.#inbox
					.then(() => this.#handleMessage(data))
					.catch((err: unknown) => {
						this.#emitError("client", "INTERNAL", errorMessage(err), false);
					});
			});
			ws.addEventListener("close", (event) => {
				const code = event.code ?? 1006;
				const reason = event.reason ?? "";
				if (!opened) {
					reject(
						new Error(`connection closed before it opened (${code}${reason ? ` ${reason}` : ""})`),
					);
					return;
				}
				// Messages that arrived before the close are handled first (the END reason among them).
				this.#inbox = this.#inbox.then(() => this.#onClose(ws, code, reason));
			});
		});
	}

	/**
	 * Flow control (docs/protocol.md §3.5): the relay queues at most a bounded amount for a reader
	 * and drops screen frames or closes the socket past it. It counts what this module has read by
	 * the `mark`s it puts into the stream, so a mark is echoed as it arrives, before anything
	 * queued ahead of it is decrypted: what is read off the socket no longer waits in the relay.
	 */
	#acknowledge(ws: WebSocketLike, data: unknown): void {
		if (typeof data !== "string" || !data.startsWith(MARK_PREFIX)) return;
		const id = markIdOf(data);
		if (id !== null && ws.readyState === WS_OPEN)
			ws.send(JSON.stringify({ type: "ack", mark: id }));
	}

	#startPings(ws: WebSocketLike): void {
		this.#pinger?.stop();
		this.#lastInboundAt = Date.now();
		let lastTickAt = Date.now();
		const clock = this.#options.keepaliveClock ?? intervalClock;
		const pinger = clock(() => {
			if (ws !== this.#ws || ws.readyState !== WS_OPEN) {
				pinger.stop();
				return;
			}
			const now = Date.now();
			// A late tick (a throttled background tab, a suspended laptop) sent no pings meanwhile,
			// so the silence says nothing about the connection: judge it from the next ping on.
			if (now - lastTickAt > 2 * PING_INTERVAL_MS) this.#lastInboundAt = now;
			lastTickAt = now;
			if (now - this.#lastInboundAt >= SILENCE_TIMEOUT_MS) {
				// A dead connection may never report its close: stop using it and resume now.
				pinger.stop();
				try {
					ws.close(1000, "keepalive timed out");
				} catch {
					// Closing a dead socket may fail; it is abandoned either way.
				}
				this.#inbox = this.#inbox.then(() => this.#onClose(ws, 1006, "keepalive timed out"));
				return;
			}
			ws.send(PING);
		}, PING_INTERVAL_MS);
		this.#pinger = pinger;
	}

	#onClose(ws: WebSocketLike, code: number, reason: string): void {
		if (ws !== this.#ws) return;
		this.#ws = null;
		this.#pinger?.stop();
		this.#pinger = null;
		this.#helloSent = false;
		if (this.#finished) return;
		if (this.#closing || this.#ended) {
			this.#finish(code, reason);
			return;
		}
		const endReason = CLOSE_TO_END[code];
		if (endReason) {
			this.#ended = true;
			this.#emit("end", { reason: endReason });
			this.#finish(code, reason);
			return;
		}
		if (this.#options.resume !== false && mayResume(code)) {
			void this.#reconnect(code);
			return;
		}
		this.#emitError(
			"client",
			"CLOSED",
			`the server closed the connection (${code} ${reason})`,
			true,
		);
		this.#finish(code, reason);
	}

	async #reconnect(code: number): Promise<void> {
		const options = this.#options.resume || {};
		const maxAttempts = options.maxAttempts ?? 20;
		const initial = options.initialDelayMs ?? 250;
		const max = options.maxDelayMs ?? 5000;
		let lastCode = code;
		for (let attempt = 1; attempt <= maxAttempts; attempt++) {
			// Jitter spreads the reconnects of many clients after a server restart.
			const base = Math.min(max, initial * 2 ** (attempt - 1));
			const delayMs = Math.round(base * (0.75 + Math.random() * 0.5));
			this.#emit("reconnecting", { attempt, delayMs, code: lastCode });
			await new Promise<void>((resolve) => {
				this.#wakeReconnect = resolve;
				this.#reconnectTimer = setTimeout(resolve, delayMs);
			});
			this.#wakeReconnect = null;
			this.#reconnectTimer = null;
			if (this.#closing || this.#finished) {
				this.#finish(1000, "closed");
				return;
			}
			let ticket: string;
			try {
				ticket = await this.#options.renewTicket();
			} catch (err) {
				const status = (err as { status?: unknown } | null)?.status;
				if (typeof status === "number" && FINAL_TICKET_STATUSES.has(status)) {
					this.#emitError("client", "RESUME_REFUSED", errorMessage(err), true);
					this.#finish(lastCode, "resume refused");
					return;
				}
				continue; // the server may still be starting: try again after the next delay
			}
			try {
				await this.#openSocket(ticket);
				return;
			} catch {
				lastCode = 1006;
			}
		}
		this.#emitError("client", "RESUME_FAILED", `gave up after ${maxAttempts} attempts`, true);
		this.#finish(lastCode, "resume failed");
	}

	#finish(code: number, reason: string): void {
		if (this.#finished) return;
		this.#finished = true;
		this.#pinger?.stop();
		this.#pinger = null;
		this.#outbox = [];
		if (this.#backpressure) this.#onBackpressure(false); // held file frames fail now, not later
		this.#emit("closed", { code, reason });
	}

	// -------------------------------------------------------------------------------------------
	// Inbound

	async #handleMessage(data: unknown): Promise<void> {
		if (typeof data === "string") return this.#handleText(data);
		let bytes: Uint8Array | null = null;
		if (data instanceof ArrayBuffer) bytes = new Uint8Array(data);
		else if (ArrayBuffer.isView(data))
			bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
		else if (typeof Blob !== "undefined" && data instanceof Blob)
			bytes = new Uint8Array(await data.arrayBuffer());
		if (bytes === null) return;
		await this.#handleFrame(bytes);
	}

	async #handleFrame(bytes: Uint8Array): Promise<void> {
		const header = parseHeader(bytes);
		const where = header.ok
			? { channel: header.header.channel, stream: header.header.stream, seq: header.header.seq }
			: {};
		if (!this.#cipher) {
			this.#emit("rejected", { reason: "no-keys", ...where });
			return;
		}
		const opened = await this.#cipher.open(bytes);
		if (!opened.ok) {
			this.#emit("rejected", { reason: opened.reason, ...where });
			return;
		}
		const { channel, stream, seq } = opened.header;
		const name = channelName(channel) ?? "chat";
		this.#emit("frame", { channel, channelName: name, stream, seq, payload: opened.plaintext });
		this.#emitTyped(name, stream, opened.plaintext, seq);
	}

	/**
	 * The relay says the other side's reader is behind (docs/protocol.md §3.5): file frames wait
	 * until it says otherwise or BACKPRESSURE_HOLD_MS pass without it repeating so; screen senders
	 * read `peerLagging` and skip frames.
	 */
	#onBackpressure(active: boolean): void {
		const held = this.#backpressure;
		if (held) clearTimeout(held.timer);
		if (!active) {
			this.#backpressure = null;
			held?.release();
			if (held) this.#emit("backpressure", { active: false });
			return;
		}
		const timer = setTimeout(() => this.#onBackpressure(false), BACKPRESSURE_HOLD_MS);
		if (held) {
			held.timer = timer;
			return;
		}
		let release = () => {};
		const resumed = new Promise<void>((resolve) => {
			release = resolve;
		});
		this.#backpressure = { resumed, release, timer };
		this.#emit("backpressure", { active: true });
	}

	/** True while the relay says the other side's reader is behind: skip screen frames. */
	get peerLagging(): boolean {
		return this.#backpressure !== null;
	}

	/**
	 * The typed events for input, clipboard, screen info and video; malformed payloads are
	 * `rejected`.
	 */
	#emitTyped(name: ChannelName, stream: number, payload: Uint8Array, seq: bigint): void {
		if (name === "input" && stream === INPUT_STREAM) {
			const event = decodeJson(inputEventSchema, payload);
			// A module that injects input also checks the grant itself (defence in depth).
			const state = this.state;
			const granted =
				state?.shower === this.role && state.controller !== null && state.controller !== this.role;
			if (event) this.#emit("input", { event, granted });
			else this.#emit("rejected", { reason: "malformed", channel: CHANNELS.input, stream });
		} else if (name === "clipboard" && stream === CLIPBOARD_STREAM) {
			const message = decodeJson(clipboardMessageSchema, payload);
			if (message) this.#emit("clipboard", message);
			else this.#emit("rejected", { reason: "malformed", channel: CHANNELS.clipboard, stream });
		} else if (name === "screen" && stream === SCREEN_INFO_STREAM) {
			const info = decodeJson(screenInfoSchema, payload);
			if (info) this.#emit("screenInfo", info);
			else this.#emit("rejected", { reason: "malformed", channel: CHANNELS.screen, stream });
		} else if (name === "screen" && stream === VIDEO_STREAM) {
			const parsed = parseVideoChunk(payload);
			if (parsed.ok) this.#emit("videoChunk", { ...parsed.chunk, seq });
			else {
				const detail = parsed.reason;
				this.#emit("rejected", { reason: "malformed", channel: CHANNELS.screen, stream, detail });
			}
		} else if (name === "screen" && stream === VIDEO_FEEDBACK_STREAM) {
			const feedback = decodeVideoFeedback(payload);
			if (feedback) this.#emit("videoFeedback", feedback);
			else this.#emit("rejected", { reason: "malformed", channel: CHANNELS.screen, stream });
		}
	}

	async #handleText(text: string): Promise<void> {
		if (text === PONG) return; // the runtime's answer to a keepalive
		const parsed = parseInboundFrame(text);
		if (!parsed.ok) {
			this.#emitError("client", "BAD_MESSAGE", parsed.detail, false);
			return;
		}
		const message = parsed.value;
		switch (message.type) {
			case "state":
				if (message.state.sessionId !== this.sessionId) {
					this.#emitError("client", "BAD_MESSAGE", "state for another session", false);
					return;
				}
				// The relay's clock rides on every state, repeated ones included; the message's own
				// travel time (well under the relay's 10-minute window) is ignored.
				if (message.serverTime !== undefined) {
					this.#clockOffsetMs = message.serverTime - (this.#options.now ?? Date.now)();
				}
				// Older or repeated states (a resume sends the current one again) change nothing.
				if (this.#state && message.state.revision <= this.#state.revision) return;
				await this.#onTakeover(message.state.takeover?.at ?? null);
				this.#state = message.state;
				this.#emit("state", message.state);
				return;
			case "error":
				this.#emitError("server", message.code, message.message, false);
				return;
			case "backpressure":
				this.#onBackpressure(message.active);
				return;
			case "mark":
				return; // answered as it arrived (#acknowledge)
			case "end":
				if (!this.#ended) {
					this.#ended = true;
					this.#emit(
						"end",
						message.by ? { reason: message.reason, by: message.by } : { reason: message.reason },
					);
				}
				return;
			case "peer":
				await this.#onPeerHello(message.hello);
				return;
			case "key.reveal":
				await this.#onKeyReveal(message.x25519);
				return;
			default: {
				const verified = isConsentMessage(message) ? await this.#verifyPeer(message) : null;
				if (verified === false) {
					this.#emitError("client", "BAD_SIGNATURE", `peer ${message.type} did not verify`, false);
				}
				this.#emit("control", { message, verified });
			}
		}
	}

	/**
	 * An admin took over the supporter's seat: the relay started the handshake over, so the
	 * customer forgets the previous supporter's keys, makes a new ephemeral key and answers the
	 * new supporter's commitment with a new hello; `ready` then fires again with a new SAS.
	 * Frames sealed for the previous supporter are dropped unsent.
	 */
	async #onTakeover(at: number | null): Promise<void> {
		if (this.role === "supporter" || at === null || at === this.#takeoverAt) return;
		this.#takeoverAt = at;
		const own = this.#own;
		if (!own) return;
		this.#own = { ...own, ephemeral: await generateEphemeralKeyPair() };
		this.#peerHello = null;
		this.#peerVerifyKey = null;
		this.#revealedKey = null;
		this.#cipher = null;
		this.#sas = null;
		this.#helloSent = false;
		this.#outbox = this.#outbox.filter((data) => typeof data === "string");
	}

	async #onPeerHello(hello: Hello): Promise<void> {
		const expected =
			this.role !== "supporter" ? "supporter" : this.#options.expectedHost ? "host" : "customer";
		if (hello.role !== expected) {
			this.#fail("BAD_PEER", `expected a ${expected}, got a ${hello.role}`);
			return;
		}
		if (hello.role === "host" && !(await this.#checkHost(hello))) return;
		if (this.#peerHello) {
			// After a resume the server repeats the hello; new keys mid-session would be a new party.
			if (JSON.stringify(this.#peerHello) !== JSON.stringify(hello)) {
				this.#fail("PEER_CHANGED", "the peer's keys changed during the session");
				return;
			}
		} else {
			this.#peerHello = hello;
			this.#peerVerifyKey = await importVerifyKey(hello.ed25519);
			if (!this.#peerVerifyKey) {
				this.#fail("BAD_PEER", "the peer's signing key is invalid");
				return;
			}
		}
		this.#emit("peer", { hello });
		const ws = this.#ws;
		if (!ws) return;
		if (this.role !== "supporter") {
			// Only now, with the supporter's commitment in hand, may the customer show its key.
			if (!this.#helloSent) this.#sendHello(ws);
			return;
		}
		if (hello.role === "supporter") return; // unreachable: narrowed by the role check above
		// The supporter reveals only after it has the customer's key (protocol §4, rule 3).
		if (!this.#revealSent) {
			this.#sendRaw(ws, {
				type: "key.reveal",
				x25519: toBase64url(this.#requireOwn().ephemeral.publicKey),
			});
			this.#revealSent = true;
		}
		const x25519 = fromBase64url(hello.x25519);
		if (x25519) await this.#derive(x25519);
	}

	async #onKeyReveal(x25519Text: string): Promise<void> {
		if (this.role === "supporter") return; // the relay never sends one to a supporter
		const hello = this.#peerHello;
		if (hello?.role !== "supporter") {
			this.#fail("BAD_HANDSHAKE", "key.reveal before the supporter's hello");
			return;
		}
		const x25519 = fromBase64url(x25519Text);
		if (!x25519) return;
		if (this.#revealedKey) {
			if (toBase64url(this.#revealedKey) !== x25519Text) {
				this.#fail("PEER_CHANGED", "the supporter revealed a different key");
			}
			return; // repeated after a resume: the keys stand
		}
		if (!(await verifyKeyCommitment(this.sessionId, x25519, hello.x25519Commitment))) {
			this.#fail("BAD_COMMITMENT", "the supporter's key does not open its commitment");
			return;
		}
		this.#revealedKey = x25519;
		await this.#derive(x25519);
	}

	async #derive(peerX25519: Bytes): Promise<void> {
		if (this.#cipher) return;
		const own = this.#requireOwn();
		const hello = this.#peerHello;
		const ed = hello ? fromBase64url(hello.ed25519) : null;
		const ownEd = fromBase64url(own.ed25519);
		if (!hello || !ed || !ownEd) return;
		let keys: Awaited<ReturnType<typeof deriveSessionKeys>>;
		try {
			keys = await deriveSessionKeys({
				sessionId: this.sessionId,
				own: { role: this.role, keyPair: own.ephemeral, ed25519: ownEd },
				peer: { role: hello.role, x25519: peerX25519, ed25519: ed },
			});
		} catch (err) {
			this.#fail("BAD_HANDSHAKE", errorMessage(err));
			return;
		}
		this.#cipher = new SessionCipher(keys);
		this.#sas = keys.sas;
		this.#emit("ready", { sas: keys.sas });
	}

	/**
	 * A host must be the one the server registered and this module pinned, and its identity key
	 * must vouch for the ephemeral key it uses in this session. Any mismatch ends the client: a
	 * changed host key is an attack until an admin says otherwise, never a prompt to click.
	 */
	async #checkHost(hello: Extract<Hello, { role: "host" }>): Promise<boolean> {
		const expected = this.#options.expectedHost;
		if (!expected) return true;
		if (expected.pinnedKey !== undefined && expected.pinnedKey !== expected.publicKey) {
			this.#fail(
				"HOST_KEY_CHANGED",
				"the server returned a host key that differs from the pinned one",
			);
			return false;
		}
		if (hello.ed25519 !== expected.publicKey) {
			this.#fail("HOST_KEY_CHANGED", "the host presented a different identity key");
			return false;
		}
		const x25519 = fromBase64url(hello.x25519);
		const valid =
			x25519 !== null &&
			(await verifyEphemeral(expected.publicKey, this.sessionId, x25519, hello.identitySignature));
		if (!valid) {
			this.#fail("BAD_HOST_SIGNATURE", "the host's identity signature does not verify");
			return false;
		}
		return true;
	}

	async #verifyPeer(message: Extract<ClientMessage, { statement: Statement }>): Promise<boolean> {
		const key = this.#peerVerifyKey;
		if (!key) return false;
		const { statement } = message;
		if (statement.sessionId !== this.sessionId) return false;
		const now = this.serverNow();
		const skew = this.#options.maxStatementSkewMs ?? DEFAULT_SKEW_MS;
		if (Math.abs(now - statement.timestamp) > skew) return false;
		return verifyStatement(key, statement, message.signature);
	}

	/** A handshake violation: nothing from this socket can be trusted, so the client stops. */
	#fail(code: string, message: string): void {
		this.#emitError("client", code, message, true);
		this.#closing = true;
		const ws = this.#ws;
		if (ws) ws.close(1000, "protocol error");
		this.#finish(1000, code);
	}

	#emitError(source: "server" | "client", code: string, message: string, fatal: boolean): void {
		this.#emit("error", { source, code, message, fatal });
	}

	#emit<K extends keyof SessionEvents>(event: K, value: SessionEvents[K]): void {
		const set = this.#listeners.get(event);
		if (!set) return;
		for (const listener of [...set]) {
			try {
				(listener as Listener<SessionEvents[K]>)(value);
			} catch (err) {
				// A listener's bug must not stop the protocol; report it the way EventTarget does.
				queueMicrotask(() => {
					throw err;
				});
			}
		}
	}
}

function errorMessage(err: unknown): string {
	return err instanceof Error ? err.message : String(err);
}
