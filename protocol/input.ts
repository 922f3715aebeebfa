/**
 * Remote control inside the encrypted frames (docs/protocol.md §2.2, "Input events"). The relay
 * never sees these payloads: it forwards the input channel only from the `controller` to the
 * `shower` and the clipboard channel both ways while a control grant stands (§3.4). Every module
 * validates what it decrypts with these schemas, because a peer is not trusted to send
 * well-formed data, and a module that injects input refuses it itself when no grant stands.
 *
 * - input (2), stream 1: JSON {@link InputEvent}, controller → shower.
 * - clipboard (5), stream 1: JSON {@link ClipboardMessage}, both ways while control stands.
 * - screen (1), stream 2: JSON {@link ScreenInfo}, shower → viewer: the displays, the pointer,
 *   and which input was injected (for the latency readout). Stream 1 carries the pictures.
 *
 * Coordinates are fractions (0..1) of the shared surface, so scaling on either side never breaks
 * them. Keys use `KeyboardEvent.code` (the physical key, W3C UI Events KeyboardEvent code values)
 * plus `key` (what it produced), so a module can choose layout-independent or layout-true
 * injection; typed text travels as `text`, which is how IME input and differing layouts arrive
 * correctly. Isomorphic (zod only).
 */
import * as z from "zod";

/** The input channel's stream for {@link InputEvent}s. */
export const INPUT_STREAM = 1;
/** The clipboard channel's stream. */
export const CLIPBOARD_STREAM = 1;
/** The screen channel's stream for pictures. */
export const SCREEN_STREAM = 1;
/** The screen channel's stream for {@link ScreenInfo} (displays, pointer, injected input). */
export const SCREEN_INFO_STREAM = 2;

/** Longest `text` event, in UTF-16 code units: one IME commit or one pasted line. */
export const MAX_INPUT_TEXT = 256;
/** Longest clipboard text, in UTF-16 code units: even as JSON escapes (6 bytes each) it fits the clipboard channel's 256 KiB cap. */
export const MAX_CLIPBOARD_TEXT = 40 * 1024;

const fraction = z.number().min(0).max(1);
/** Optional id the shower echoes in `injected`, so the controller can measure latency. */
const eventId = z.int().min(0).max(0xffff_ffff).optional();

/** Modifier keys held during an event (DOM `getModifierState` names). */
export const MODIFIERS = ["Shift", "Control", "Alt", "Meta"] as const;
export type Modifier = (typeof MODIFIERS)[number];

/**
 * Named key sequences a browser cannot send itself (the local OS would take them): injected by the
 * module as one press and release of all keys.
 */
export const SPECIAL_SEQUENCES = [
	"ctrl-alt-del",
	"os", // the Windows / Super / Command key alone
	"alt-tab",
	"alt-f4",
	"print-screen",
	"lock", // lock the screen (Win+L / Super+L / Ctrl+Cmd+Q)
] as const;
export type SpecialSequence = (typeof SPECIAL_SEQUENCES)[number];

export const inputEventSchema = z.discriminatedUnion("t", [
	z.strictObject({
		t: z.literal("pointer"),
		kind: z.enum(["move", "down", "up"]),
		x: fraction,
		y: fraction,
		/** DOM `MouseEvent.button`: 0 main, 1 middle, 2 secondary, 3 back, 4 forward. */
		button: z.int().min(0).max(4),
		id: eventId,
	}),
	z.strictObject({
		t: z.literal("wheel"),
		x: fraction,
		y: fraction,
		/** Scroll amounts, positive = right/down; `mode` as DOM `WheelEvent.deltaMode`. */
		dx: z.number().min(-10_000).max(10_000),
		dy: z.number().min(-10_000).max(10_000),
		mode: z.enum(["pixel", "line"]),
		id: eventId,
	}),
	z.strictObject({
		t: z.literal("key"),
		kind: z.enum(["down", "up"]),
		/** `KeyboardEvent.key`, e.g. "a", "A", "Enter", "ü". */
		key: z.string().min(1).max(32),
		/** `KeyboardEvent.code`, e.g. "KeyA", "Enter", "ShiftLeft"; may be empty (virtual keyboards). */
		code: z.string().max(32),
		mods: z.array(z.enum(MODIFIERS)).max(4).optional(),
		id: eventId,
	}),
	z.strictObject({
		t: z.literal("text"),
		text: z.string().min(1).max(MAX_INPUT_TEXT),
		id: eventId,
	}),
	z.strictObject({
		t: z.literal("special"),
		name: z.enum(SPECIAL_SEQUENCES),
		id: eventId,
	}),
	z.strictObject({
		/** Show (and control) only this display; null = all displays as one picture. */
		t: z.literal("display"),
		index: z.int().min(0).max(15).nullable(),
	}),
]);
/** One input event from the controller. */
export type InputEvent = z.infer<typeof inputEventSchema>;

export const clipboardMessageSchema = z.strictObject({
	text: z.string().max(MAX_CLIPBOARD_TEXT),
});
/** Clipboard text from one side to the other (the receiving module puts it on its clipboard). */
export type ClipboardMessage = z.infer<typeof clipboardMessageSchema>;

const displaySchema = z.strictObject({
	index: z.int().min(0).max(15),
	name: z.string().max(64),
	/** Pixels. */
	width: z.int().min(1).max(32_768),
	height: z.int().min(1).max(32_768),
	primary: z.boolean(),
});
export type DisplayInfo = z.infer<typeof displaySchema>;

export const screenInfoSchema = z.discriminatedUnion("t", [
	z.strictObject({
		/** The displays the shower has and which one is shared (null = all). */
		t: z.literal("displays"),
		displays: z.array(displaySchema).max(16),
		current: z.int().min(0).max(15).nullable(),
	}),
	z.strictObject({
		/** The shower's pointer, as a fraction of the shared picture (the picture may omit it). */
		t: z.literal("cursor"),
		x: fraction,
		y: fraction,
	}),
	z.strictObject({
		/** The input event `id` was injected on the shower's display. */
		t: z.literal("injected"),
		id: z.int().min(0).max(0xffff_ffff),
	}),
	z.strictObject({
		/**
		 * The shower's module cannot inject input, and why: `no-grant` (it saw no control grant),
		 * `unsupported` (e.g. Wayland, a browser page), `failed` (the injection backend failed).
		 */
		t: z.literal("input-unavailable"),
		reason: z.enum(["no-grant", "unsupported", "failed"]),
		message: z.string().max(200),
	}),
]);
/** What the shower tells the viewer about its screen, on the screen channel's stream 2. */
export type ScreenInfo = z.infer<typeof screenInfoSchema>;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/** JSON bytes of a value. */
export function encodeJson(value: unknown): Uint8Array {
	return encoder.encode(JSON.stringify(value));
}

/** Parses JSON bytes with `schema`; null for anything malformed (network input: never throws). */
export function decodeJson<T>(schema: z.ZodType<T>, bytes: Uint8Array): T | null {
	try {
		const parsed = schema.safeParse(JSON.parse(decoder.decode(bytes)));
		return parsed.success ? parsed.data : null;
	} catch {
		return null; // not UTF-8 or not JSON: dropped like any other malformed frame
	}
}
