/**
 * What the browser modules put inside encrypted frames. The relay never sees these (they are
 * sealed by the SDK); both pages validate what they decrypt, because a peer is not trusted to
 * send well-formed data.
 *
 * - screen (1), stream 1: one JPEG or WebP image per frame, the whole picture; stream 2: JSON
 *   screen info (protocol/input.ts); stream 3: encoded video chunks, stream 4 (viewer → shower):
 *   video feedback (protocol/video.ts).
 * - input (2) and clipboard (5): JSON, protocol/input.ts; coordinates are fractions of the
 *   shared picture.
 * - chat (4): JSON `{ "text": … }`.
 */
import * as z from "zod";

export {
	decodeJson,
	encodeJson,
	INPUT_STREAM,
	type InputEvent,
	inputEventSchema,
	MAX_CLIPBOARD_TEXT,
	MAX_INPUT_TEXT,
	MODIFIERS,
	SCREEN_INFO_STREAM,
	SCREEN_STREAM,
	type ScreenInfo,
	SPECIAL_SEQUENCES,
	type SpecialSequence,
} from "../../protocol/input.ts";
export {
	decodeVideoFeedback,
	encodeVideoChunk,
	encodeVideoFeedback,
	KEYFRAME_REQUEST_MIN_MS,
	MAX_VIDEO_FEEDBACK_BYTES,
	nextVideoIndex,
	parseVideoChunk,
	pickVideoCodec,
	VIDEO_FEEDBACK_STREAM,
	VIDEO_STREAM,
	type VideoChunk,
	type VideoChunkHeader,
	type VideoFeedback,
} from "../../protocol/video.ts";

/** The chat channel's stream. */
export const CHAT_STREAM = 1;

export const chatMessageSchema = z.strictObject({ text: z.string().min(1).max(2000) });
