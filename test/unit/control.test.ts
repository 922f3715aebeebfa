import { describe, expect, it } from "vitest";
import { CanonicalJsonError, canonicalBytes, canonicalJson } from "../../protocol/canonical.ts";
import {
	CLOSE,
	type ClientMessage,
	closeReason,
	closeReply,
	isCloseCode,
	isConsentMessage,
	MAX_CONTROL_FRAME_BYTES,
	MAX_INBOUND_FRAME_BYTES,
	mayResume,
	parseControlFrame,
	parseInboundFrame,
} from "../../protocol/control.ts";
import { fromBase64url, toBase64url } from "../../protocol/encoding.ts";

const key32 = (fill: number) => toBase64url(new Uint8Array(32).fill(fill));
const sig64 = toBase64url(new Uint8Array(64).fill(7));
const SHA = "ab".repeat(32);

const statement = (type: string, details: Record<string, unknown> = {}) => ({
	type,
	sessionId: "s-1",
	details,
	timestamp: 1_700_000_000_000,
});

const parse = (value: unknown) => parseControlFrame(JSON.stringify(value));

describe("control messages", () => {
	it("accepts the hello of each role with its own key fields", () => {
		expect(
			parse({ type: "hello", role: "supporter", x25519Commitment: key32(1), ed25519: key32(2) }).ok,
		).toBe(true);
		expect(parse({ type: "hello", role: "customer", x25519: key32(1), ed25519: key32(2) }).ok).toBe(
			true,
		);
		expect(
			parse({
				type: "hello",
				role: "host",
				x25519: key32(1),
				ed25519: key32(2),
				identitySignature: sig64,
			}).ok,
		).toBe(true);
	});

	it("refuses a hello with the key fields of another role", () => {
		// The supporter must commit, not send its key: otherwise the SAS could be searched.
		expect(
			parse({ type: "hello", role: "supporter", x25519: key32(1), ed25519: key32(2) }).ok,
		).toBe(false);
		expect(parse({ type: "hello", role: "host", x25519: key32(1), ed25519: key32(2) }).ok).toBe(
			false,
		);
		expect(
			parse({
				type: "hello",
				role: "customer",
				x25519: key32(1),
				ed25519: key32(2),
				identitySignature: sig64,
			}).ok,
		).toBe(false);
		expect(parse({ type: "hello", role: "admin", x25519: key32(1), ed25519: key32(2) }).ok).toBe(
			false,
		);
	});

	it("refuses keys that are not exactly 32 canonical base64url bytes", () => {
		const good = key32(3);
		const variants = [
			`${good}=`, // padding
			good.slice(0, -1), // 31.x bytes
			`${good}A`, // too long
			`${good.slice(0, -1)}B`, // spare bits set: a second spelling of a key
			`${good.slice(0, -2)}+A`, // base64, not base64url
			toBase64url(new Uint8Array(31)),
		];
		for (const x25519 of variants) {
			const result = parse({ type: "hello", role: "customer", x25519, ed25519: good });
			expect(result.ok, x25519).toBe(false);
		}
	});

	it("accepts each consent message with a matching statement and signature", () => {
		for (const type of [
			"terms.accept",
			"view.grant",
			"view.deny",
			"control.grant",
			"control.deny",
			"control.revoke",
			"stop",
		]) {
			const result = parse({ type, statement: statement(type), signature: sig64 });
			expect(result.ok, type).toBe(true);
			if (result.ok) expect(isConsentMessage(result.value)).toBe(true);
		}
		const accept = parse({
			type: "file.accept",
			id: 9,
			statement: statement("file.accept", { fileId: 9, name: "a.txt" }),
			signature: sig64,
		});
		expect(accept.ok).toBe(true);
	});

	it("refuses consent whose statement is about something else or unsigned", () => {
		expect(
			parse({ type: "control.grant", statement: statement("view.grant"), signature: sig64 }).ok,
		).toBe(false);
		expect(parse({ type: "stop", statement: statement("stop") }).ok).toBe(false);
		expect(parse({ type: "stop", statement: statement("stop"), signature: "x" }).ok).toBe(false);
		expect(
			parse({ type: "stop", statement: { ...statement("stop"), extra: 1 }, signature: sig64 }).ok,
		).toBe(false);
		expect(
			parse({
				type: "stop",
				statement: { ...statement("stop"), timestamp: 1.5 },
				signature: sig64,
			}).ok,
		).toBe(false);
		expect(
			parse({
				type: "stop",
				statement: statement("stop", { nested: { a: 1 } }),
				signature: sig64,
			}).ok,
		).toBe(false);
	});

	it("refuses file consent whose signed statement names another file", () => {
		const result = parse({
			type: "file.reject",
			id: 9,
			statement: statement("file.reject", { fileId: 10 }),
			signature: sig64,
		});
		expect(result).toMatchObject({ ok: false, reason: "invalid" });
		expect(
			parse({ type: "file.accept", id: 9, statement: statement("file.accept"), signature: sig64 })
				.ok,
		).toBe(false);
	});

	it("does not treat requests as consent", () => {
		const result = parse({ type: "control.request" });
		expect(result.ok).toBe(true);
		if (result.ok) expect(isConsentMessage(result.value)).toBe(false);
	});

	it("accepts a file offer and refuses path names, bad sizes, ids and hashes", () => {
		const offer = { type: "file.offer", id: 1, name: "report.pdf", size: 1024, sha256: SHA };
		expect(parse(offer).ok).toBe(true);
		for (const bad of [
			{ name: "../etc/passwd" },
			{ name: "a/b" },
			{ name: "a\\b" },
			{ name: ".." },
			{ name: "" },
			{ name: "x\u0000y" },
			{ name: "n".repeat(256) },
			{ size: -1 },
			{ size: 1.5 },
			{ id: 0 },
			{ id: 2 ** 32 },
			{ sha256: SHA.toUpperCase() },
			{ sha256: SHA.slice(2) },
		]) {
			expect(parse({ ...offer, ...bad }).ok, JSON.stringify(bad)).toBe(false);
		}
	});

	it("refuses unknown types and unknown fields", () => {
		expect(parse({ type: "view.steal" })).toMatchObject({ ok: false, reason: "invalid" });
		expect(parse({ type: "view.request", extra: true }).ok).toBe(false);
		expect(parseControlFrame('{"type":"view.request","__proto__":{"admin":true}}').ok).toBe(false);
		expect(parse({ type: "comment", text: "" }).ok).toBe(false);
		expect(parse({ type: "comment", text: "done, printer works" }).ok).toBe(true);
	});

	it("refuses frames over the size limit before parsing them", () => {
		const padding = "x".repeat(MAX_CONTROL_FRAME_BYTES);
		expect(parseControlFrame(JSON.stringify({ type: "comment", text: padding }))).toMatchObject({
			ok: false,
			reason: "too-large",
		});
		// Under the limit in UTF-16 units, over it in UTF-8 bytes.
		const wide = "€".repeat(6000);
		expect(wide.length).toBeLessThan(MAX_CONTROL_FRAME_BYTES);
		expect(parseControlFrame(wide)).toMatchObject({ ok: false, reason: "too-large" });
		// Not JSON, but exactly at the limit: it gets as far as the JSON parser.
		expect(parseControlFrame("y".repeat(MAX_CONTROL_FRAME_BYTES))).toMatchObject({
			ok: false,
			reason: "not-json",
		});
	});

	it("never throws on malformed frames and keeps the detail short ASCII", () => {
		const inputs: unknown[] = [
			"",
			"{",
			"null",
			"[]",
			"42",
			'"hello"',
			'{"type":null}',
			'{"type":"hello","role":"customer","x25519":{"toString":1}}',
			"[".repeat(8000),
			'{"type":"stop","statement":{"type":"stop","sessionId":"s","details":{"ä€\\u0001":{}},"timestamp":1},"signature":"x"}',
			new ArrayBuffer(4),
			undefined,
			null,
			42,
		];
		let seed = 1;
		const random = () => {
			seed = (seed * 1103515245 + 12345) % 2 ** 31;
			return seed;
		};
		const valid = JSON.stringify({
			type: "file.offer",
			id: 1,
			name: "a",
			size: 1,
			sha256: SHA,
		});
		for (let i = 0; i < 500; i++) {
			const chars = valid.split("");
			const at = random() % chars.length;
			chars[at] = String.fromCharCode(random() % 0x3000);
			inputs.push(chars.join(""));
		}
		for (const input of inputs) {
			const result = parseControlFrame(input);
			const inbound = parseInboundFrame(input);
			for (const r of [result, inbound]) {
				if (!r.ok) {
					expect(r.detail).toMatch(/^[\x20-\x7e]{0,100}$/);
					expect(["not-text", "too-large", "not-json", "invalid"]).toContain(r.reason);
				}
			}
		}
		expect(parseControlFrame(new ArrayBuffer(4))).toMatchObject({ ok: false, reason: "not-text" });
	});

	it("parses what modules receive: server messages and the other side's messages", () => {
		const hello = { type: "hello", role: "customer", x25519: key32(1), ed25519: key32(2) };
		expect(parseInboundFrame(JSON.stringify({ type: "peer", hello })).ok).toBe(true);
		// A bare hello never reaches a module; it always arrives wrapped in `peer`.
		expect(parseInboundFrame(JSON.stringify(hello)).ok).toBe(false);
		expect(parseControlFrame(JSON.stringify({ type: "peer", hello })).ok).toBe(false);
		expect(parseInboundFrame(JSON.stringify({ type: "view.request" })).ok).toBe(true);
		expect(parseInboundFrame(JSON.stringify({ type: "key.reveal", x25519: key32(4) })).ok).toBe(
			true,
		);
		expect(
			parseInboundFrame(JSON.stringify({ type: "error", code: "NOT_ALLOWED", message: "no" })).ok,
		).toBe(true);
		expect(
			parseInboundFrame(JSON.stringify({ type: "error", code: "not allowed", message: "no" })).ok,
		).toBe(false);
		expect(
			parseInboundFrame(JSON.stringify({ type: "end", reason: "stopped", by: "customer" })).ok,
		).toBe(true);
		expect(parseInboundFrame(JSON.stringify({ type: "end", reason: "bored" })).ok).toBe(false);
	});

	it("parses the whole consent state", () => {
		const state = {
			sessionId: "s-1",
			revision: 3,
			phase: "active",
			connected: ["supporter", "customer"],
			termsRequired: true,
			termsAccepted: true,
			shower: "customer",
			controller: null,
			files: [{ id: 1, name: "a.txt", size: 3, sha256: SHA, from: "supporter", status: "offered" }],
		};
		const result = parseInboundFrame(JSON.stringify({ type: "state", state }));
		expect(result).toEqual({ ok: true, value: { type: "state", state } });
		expect(
			parseInboundFrame(JSON.stringify({ type: "state", state: { ...state, phase: "paused" } })).ok,
		).toBe(false);
		const { controller: _omitted, ...missing } = state;
		expect(parseInboundFrame(JSON.stringify({ type: "state", state: missing })).ok).toBe(false);
	});

	it("returns the parsed value with its type narrowed", () => {
		const result = parse({ type: "file.done", id: 5 });
		expect(result.ok).toBe(true);
		const value: ClientMessage | undefined = result.ok ? result.value : undefined;
		expect(value).toEqual({ type: "file.done", id: 5 });
	});
});

describe("close codes", () => {
	it("are distinct application codes with short ASCII reasons", () => {
		const codes = Object.values(CLOSE);
		expect(new Set(codes).size).toBe(codes.length);
		for (const code of codes) {
			expect(code).toBeGreaterThanOrEqual(4000);
			expect(code).toBeLessThanOrEqual(4999);
			expect(isCloseCode(code)).toBe(true);
			const reason = closeReason(code);
			expect(reason).toMatch(/^[\x20-\x7e]{1,123}$/);
			expect(reason).not.toBe("closed");
		}
		expect(closeReason(CLOSE.STOPPED)).toBe("stopped");
	});

	it("keep the numbers that shipped", () => {
		expect(CLOSE).toEqual({
			BAD_FRAME: 4000,
			UNAUTHORIZED: 4001,
			POLICY_VIOLATION: 4002,
			STOPPED: 4003,
			ENDED: 4004,
			EXPIRED: 4005,
			REPLACED: 4006,
			UNSUPPORTED_VERSION: 4007,
			TOO_LARGE: 4008,
			SLOW_READER: 4009,
			TIMED_OUT: 4010,
			REFUSED: 4011,
			TAKEN_OVER: 4012,
		});
	});

	it("let a module resume after the relay dropped a slow or silent socket", () => {
		expect(mayResume(CLOSE.SLOW_READER)).toBe(true);
		expect(mayResume(CLOSE.TIMED_OUT)).toBe(true);
	});

	it("answer a peer's close with its own code, 1000 for none, nothing for the reserved ones", () => {
		expect(closeReply(1000)).toBe(1000);
		expect(closeReply(1001)).toBe(1001);
		expect(closeReply(4321)).toBe(4321);
		expect(closeReply(1005)).toBe(1000);
		expect(closeReply(1006)).toBeNull();
		expect(closeReply(1015)).toBeNull();
		expect(closeReply(1004)).toBeNull();
		expect(closeReply(5000)).toBeNull();
	});

	it("map unknown codes to a generic reason and let only transport failures resume", () => {
		expect(isCloseCode(4999)).toBe(false);
		expect(closeReason(4999)).toBe("closed");
		expect(closeReason(1006)).toBe("closed");
		expect(mayResume(1006)).toBe(true);
		expect(mayResume(1001)).toBe(true);
		expect(mayResume(1000)).toBe(false);
		expect(mayResume(CLOSE.STOPPED)).toBe(false);
		expect(mayResume(CLOSE.REPLACED)).toBe(false);
	});
});

describe("the largest message the relay makes", () => {
	it("fits what a module accepts: a state with 1,024 offers of 255 characters that escape widest", () => {
		// A lone surrogate is the widest character in JSON: JSON.stringify writes it as \udxxx.
		const widest = "\ud800".repeat(255);
		const state = {
			sessionId: "x".repeat(128),
			revision: Number.MAX_SAFE_INTEGER,
			phase: "active",
			connected: ["customer", "supporter"],
			termsRequired: true,
			termsAccepted: true,
			shower: "customer",
			controller: "supporter",
			files: Array.from({ length: 1024 }, (_, i) => ({
				id: 4_294_967_295 - i,
				name: widest,
				size: Number.MAX_SAFE_INTEGER,
				sha256: SHA,
				from: "supporter",
				status: "accepted",
			})),
		};
		const text = JSON.stringify({ type: "state", state });
		const bytes = new TextEncoder().encode(text).length;
		expect(bytes).toBeGreaterThan(MAX_CONTROL_FRAME_BYTES);
		expect(bytes).toBeLessThanOrEqual(MAX_INBOUND_FRAME_BYTES);
		const parsed = parseInboundFrame(text);
		expect(parsed.ok).toBe(true);
		// A client message of that size is still refused on the relay's side.
		expect(parseControlFrame(text)).toMatchObject({ ok: false, reason: "too-large" });
	});
});

describe("canonical JSON", () => {
	it("sorts keys at every level and drops whitespace", () => {
		expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } })).toBe(
			'{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}',
		);
	});

	it("gives the same text whatever the key insertion order", () => {
		const a = { type: "stop", sessionId: "s", details: { x: 1, y: "2" }, timestamp: 5 };
		const b = { timestamp: 5, details: { y: "2", x: 1 }, sessionId: "s", type: "stop" };
		expect(canonicalJson(a)).toBe(canonicalJson(b));
	});

	it("sorts by UTF-16 code units and escapes like JSON.stringify", () => {
		expect(canonicalJson({ "€": 1, "\u{1f600}": 2, Z: 3, a: 4 })).toBe(
			'{"Z":3,"a":4,"€":1,"\u{1f600}":2}',
		);
		expect(canonicalJson('a"b\\c\n\u0001')).toBe('"a\\"b\\\\c\\n\\u0001"');
		expect(new TextDecoder().decode(canonicalBytes({ k: "ü" }))).toBe('{"k":"ü"}');
	});

	it("writes numbers in the shortest round-trip form", () => {
		expect(canonicalJson([1, 1.5, -0, 1e21, 1e-7, 2 ** 53])).toBe(
			"[1,1.5,0,1e+21,1e-7,9007199254740992]",
		);
	});

	it("refuses values without a single JSON form", () => {
		const bad: unknown[] = [
			Number.NaN,
			Number.POSITIVE_INFINITY,
			undefined,
			{ a: undefined },
			[undefined],
			10n,
			() => 1,
			Symbol("s"),
			new Date(0),
			new Map(),
			new Uint8Array(2),
			new Array(3), // holes, not undefined values
			{ [Symbol("k")]: 1 },
		];
		for (const value of bad) {
			expect(() => canonicalJson(value), String(typeof value)).toThrow(CanonicalJsonError);
		}
		const cyclic: Record<string, unknown> = {};
		cyclic.self = cyclic;
		expect(() => canonicalJson(cyclic)).toThrow(CanonicalJsonError);
		let deep: unknown = 1;
		for (let i = 0; i < 100; i++) deep = [deep];
		expect(() => canonicalJson(deep)).toThrow(CanonicalJsonError);
	});

	it("allows a shared, non-cyclic reference and null-prototype objects", () => {
		const shared = { x: 1 };
		expect(canonicalJson({ a: shared, b: shared })).toBe('{"a":{"x":1},"b":{"x":1}}');
		const bare = Object.assign(Object.create(null), { k: true });
		expect(canonicalJson(bare)).toBe('{"k":true}');
	});
});

describe("base64url", () => {
	it("round-trips every length and refuses non-canonical spellings", () => {
		for (let n = 0; n < 70; n++) {
			const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff);
			const text = toBase64url(bytes);
			expect(text).toMatch(/^[A-Za-z0-9_-]*$/);
			expect(fromBase64url(text)).toEqual(bytes);
		}
		for (const bad of ["A", "AA==", "AB", "A A", "+/8", "____=", "é"]) {
			expect(fromBase64url(bad), bad).toBeNull();
		}
		expect(fromBase64url("_-8")).toEqual(new Uint8Array([0xff, 0xef]));
	});
});
