import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HEADER_BYTES, MAX_FRAME_BYTES, TAG_BYTES } from "../../protocol/frame.ts";
import {
	clipboardMessageSchema,
	decodeJson,
	encodeJson,
	inputEventSchema,
	MAX_CLIPBOARD_TEXT,
	MAX_INPUT_TEXT,
	SPECIAL_SEQUENCES,
	screenInfoSchema,
} from "../../protocol/input.ts";

describe("input events", () => {
	it("accept every documented kind", () => {
		const events = [
			{ t: "pointer", kind: "down", x: 0.5, y: 1, button: 2, id: 7 },
			{ t: "wheel", x: 0, y: 0, dx: 0, dy: -3, mode: "line" },
			{ t: "key", kind: "down", key: "ü", code: "BracketLeft", mods: ["Shift", "Alt"] },
			{ t: "text", text: "Grüße 👋" },
			...SPECIAL_SEQUENCES.map((name) => ({ t: "special", name })),
			{ t: "display", index: 1 },
			{ t: "display", index: null },
		];
		for (const event of events) expect(inputEventSchema.parse(event)).toEqual(event);
	});

	it("refuse coordinates off the surface, unknown sequences, extra fields and long text", () => {
		const bad = [
			{ t: "pointer", kind: "move", x: 1.01, y: 0, button: 0 },
			{ t: "pointer", kind: "move", x: Number.NaN, y: 0, button: 0 },
			{ t: "pointer", kind: "click", x: 0, y: 0, button: 0 },
			{ t: "special", name: "format-c" },
			{ t: "key", kind: "down", key: "a", code: "KeyA", mods: ["Hyper"] },
			{ t: "key", kind: "down", key: "a", code: "KeyA", shell: "rm -rf /" },
			{ t: "text", text: "x".repeat(MAX_INPUT_TEXT + 1) },
			{ t: "text", text: "" },
			{ t: "display", index: 16 },
		];
		for (const event of bad) expect(inputEventSchema.safeParse(event).success).toBe(false);
	});

	it("never throw on arbitrary bytes", () => {
		fc.assert(
			fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
				expect(() => decodeJson(inputEventSchema, bytes)).not.toThrow();
			}),
		);
	});

	it("fit the input channel's frame cap at their largest", () => {
		const longest = encodeJson({
			t: "text",
			text: "\u0001".repeat(MAX_INPUT_TEXT),
			id: 0xffff_ffff,
		});
		expect(HEADER_BYTES + longest.length + TAG_BYTES).toBeLessThanOrEqual(MAX_FRAME_BYTES.input);
		const key = encodeJson({
			t: "key",
			kind: "down",
			key: "\u{10FFFF}".repeat(16),
			code: "x".repeat(32),
			mods: ["Shift", "Control", "Alt", "Meta"],
			id: 0xffff_ffff,
		});
		expect(HEADER_BYTES + key.length + TAG_BYTES).toBeLessThanOrEqual(MAX_FRAME_BYTES.input);
	});

	it("clipboard text and screen info fit their channels at their largest", () => {
		const clip = encodeJson(
			clipboardMessageSchema.parse({ text: "\u0001".repeat(MAX_CLIPBOARD_TEXT) }),
		);
		expect(HEADER_BYTES + clip.length + TAG_BYTES).toBeLessThanOrEqual(MAX_FRAME_BYTES.clipboard);
		const displays = Array.from({ length: 16 }, (_, index) => ({
			index,
			name: "\u{FFFF}".repeat(64),
			width: 32_768,
			height: 32_768,
			primary: index === 0,
		}));
		const info = encodeJson(screenInfoSchema.parse({ t: "displays", displays, current: 15 }));
		expect(HEADER_BYTES + info.length + TAG_BYTES).toBeLessThanOrEqual(MAX_FRAME_BYTES.screen);
	});
});
