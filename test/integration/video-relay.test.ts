/**
 * The relay's rule for video (docs/protocol.md §2.3, §3.4): chunks flow from the shower on the
 * screen channel like pictures, and the viewer may send small feedback frames back on stream 4
 * only. Real workerd, raw participants.
 */

import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
	encodeVideoChunk,
	encodeVideoFeedback,
	MAX_VIDEO_FEEDBACK_FRAME_BYTES,
	VIDEO_FEEDBACK_STREAM,
	VIDEO_STREAM,
} from "../../protocol/video.ts";
import { ADMIN, mustLogin } from "../helpers/auth.ts";
import { CHANNELS, type RawParticipant } from "../helpers/raw-session.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { openPair, waitForAuditTypes } from "../helpers/sessions.ts";
import { queryDb } from "../helpers/sql.ts";

/** Streams of the screen frames a participant received, in order. */
const screenStreams = (p: RawParticipant) =>
	p.frames.filter((f) => f[1] === CHANNELS.screen).map((f) => Buffer.from(f).readUInt32BE(2));

describe("video through the relay", () => {
	let server: TestServer;
	let token: string;
	beforeAll(async () => {
		server = await startServer();
		token = (await mustLogin(server, ADMIN)).accessToken;
	});
	afterAll(async () => {
		await server?.stop();
	});

	it("forwards chunks from the shower and small feedback on stream 4 from the viewer, nothing else backwards", async () => {
		const pair = await openPair(server, token);
		const { supporter, customer, sessionId } = pair;
		const chats = (p: RawParticipant) => p.frames.filter((f) => f[1] === CHANNELS.chat).length;

		// Before anyone shows, feedback has nowhere to go.
		supporter.sendFrame(
			await supporter.seal(CHANNELS.screen, encodeVideoFeedback({ t: "keyframe" }), 4),
		);
		supporter.sendFrame(await supporter.seal(CHANNELS.chat, new Uint8Array([1])));
		await customer.until(() => chats(customer) === 1);
		expect(screenStreams(customer)).toEqual([]);

		supporter.send({ type: "view.request" });
		await customer.next("view.request");
		await customer.consent("view.grant");
		await supporter.state((s) => s.shower === "customer");

		const chunk = encodeVideoChunk(
			{ key: true, index: 0, timestampUs: 1, codec: "vp8", width: 64, height: 48 },
			new Uint8Array(5000),
		);
		customer.sendFrame(await customer.seal(CHANNELS.screen, chunk, VIDEO_STREAM));
		await supporter.until(() => screenStreams(supporter).length === 1);
		expect(screenStreams(supporter)).toEqual([VIDEO_STREAM]);

		const feedback = encodeVideoFeedback({ t: "codecs", decode: ["vp8"] });
		supporter.sendFrame(await supporter.seal(CHANNELS.screen, feedback, VIDEO_FEEDBACK_STREAM));
		// Refused: a picture, a chunk and an oversized feedback frame from the viewer.
		supporter.sendFrame(await supporter.seal(CHANNELS.screen, new Uint8Array(100), 1));
		supporter.sendFrame(await supporter.seal(CHANNELS.screen, chunk, VIDEO_STREAM));
		const over = new Uint8Array(MAX_VIDEO_FEEDBACK_FRAME_BYTES - 30 + 1);
		supporter.sendFrame(await supporter.seal(CHANNELS.screen, over, VIDEO_FEEDBACK_STREAM));
		// The largest allowed one still flows.
		const most = new Uint8Array(MAX_VIDEO_FEEDBACK_FRAME_BYTES - 30);
		supporter.sendFrame(await supporter.seal(CHANNELS.screen, most, VIDEO_FEEDBACK_STREAM));
		supporter.sendFrame(await supporter.seal(CHANNELS.chat, new Uint8Array([2])));
		await customer.until(() => chats(customer) === 2);
		expect(screenStreams(customer)).toEqual([VIDEO_FEEDBACK_STREAM, VIDEO_FEEDBACK_STREAM]);
		expect(
			customer.frames.filter((f) => f[1] === CHANNELS.screen).map((f) => f.byteLength),
		).toEqual([feedback.byteLength + 30, MAX_VIDEO_FEEDBACK_FRAME_BYTES]);

		// Every refusal is a violation with its reason.
		supporter.close();
		await waitForAuditTypes(server, sessionId, ["policy.violation_summary"]);
		const [summary] = queryDb(
			join(server.dataDir, "fernwart.db"),
			"SELECT data FROM audit_events WHERE session_id = ? AND type = 'policy.violation_summary'",
			[sessionId],
		);
		expect(JSON.parse(String(summary?.data))).toMatchObject({
			reasons: { "screen:no-view-grant": 3, "screen:feedback-too-large": 1 },
		});
		customer.close();
	});
});
