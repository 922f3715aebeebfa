/**
 * What the browser modules put inside encrypted frames. The relay never sees these (they are
 * sealed by the SDK); both pages validate what they decrypt, because a peer is not trusted to
 * send well-formed data.
 *
 * - screen (1), stream 1: one JPEG or WebP image per frame, the whole picture.
 * - input (2): JSON {@link InputEvent}; coordinates are fractions of the shared picture.
 * - chat (4): JSON `{ "text": … }`.
 */
import * as z from "zod";

/** The screen channel's stream for the shared picture. */
export const SCREEN_STREAM = 1;
/** The chat channel's stream. */
export const CHAT_STREAM = 1;
/** The input channel's stream. */
export const INPUT_STREAM = 1;

const fraction = z.number().min(0).max(1);

export const inputEventSchema = z.discriminatedUnion("t", [
	z.strictObject({
		t: z.literal("pointer"),
		kind: z.enum(["move", "down", "up"]),
		x: fraction,
		y: fraction,
		button: z.int().min(0).max(4),
	}),
	z.strictObject({
		t: z.literal("key"),
		kind: z.enum(["down", "up"]),
		key: z.string().min(1).max(32),
		code: z.string().max(32),
	}),
]);
export type InputEvent = z.infer<typeof inputEventSchema>;

export const chatMessageSchema = z.strictObject({ text: z.string().min(1).max(2000) });

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** JSON bytes of a value. */
export function encodeJson(value: unknown): Uint8Array {
	return encoder.encode(JSON.stringify(value));
}

/** Parses JSON bytes with `schema`; null for anything malformed. */
export function decodeJson<T>(schema: z.ZodType<T>, bytes: Uint8Array): T | null {
	try {
		const parsed = schema.safeParse(JSON.parse(decoder.decode(bytes)));
		return parsed.success ? parsed.data : null;
	} catch {
		return null; // not UTF-8 or not JSON: dropped like any other malformed frame
	}
}
