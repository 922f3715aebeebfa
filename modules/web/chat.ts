/** The chat panel both pages share: text on the encrypted chat channel, shown with textContent. */

import type { ConsentState } from "../../protocol/control.ts";
import { linkPagePath, splitLinks } from "../../protocol/links.ts";
import type { SessionClient } from "../sdk/session.ts";
import { $, t } from "./common.ts";
import { CHAT_STREAM, chatMessageSchema, decodeJson, encodeJson } from "./wire.ts";

/**
 * The message as DOM nodes: text stays text, and each http(s) URL becomes a link to the server's
 * warning page (`/link?u=…`), which shows the destination before anyone goes there. A new tab,
 * because leaving the session page would end the session.
 */
function messageNodes(text: string): Node[] {
	return splitLinks(text).map((part) => {
		if (!("url" in part)) return document.createTextNode(part.text);
		const link = document.createElement("a");
		link.href = linkPagePath(part.url);
		link.target = "_blank";
		link.rel = "noopener noreferrer";
		link.textContent = part.text;
		return link;
	});
}

/**
 * Wires #chat-form and #chat-log to `client`. The form is enabled once keys exist and `allowed`
 * says the relay forwards chat in the current state (e.g. not before required terms are
 * accepted): a message typed earlier would be shown as sent and silently dropped by the relay.
 */
export function setupChat(
	client: SessionClient,
	peer: "supporter" | "customer" | "host",
	allowed: (state: ConsentState | null) => boolean = () => true,
): { refresh: () => void } {
	const log = $<HTMLOListElement>("chat-log");
	const input = $<HTMLInputElement>("chat-input");
	const send = $<HTMLButtonElement>("chat-send");
	const append = (who: string, text: string, own: boolean) => {
		const item = document.createElement("li");
		item.className = own ? "own" : "peer";
		const name = document.createElement("span");
		name.className = "who";
		name.textContent = `${who}: `;
		item.append(name, ...messageNodes(text));
		log.append(item);
		log.scrollTop = log.scrollHeight;
	};
	let ready = false;
	let closed = false;
	const update = () => {
		const open = ready && !closed && allowed(client.state);
		input.disabled = !open;
		send.disabled = !open;
	};
	client.on("ready", () => {
		ready = true;
		update();
	});
	client.on("state", update);
	client.on("frame", (frame) => {
		if (frame.channelName !== "chat") return;
		const message = decodeJson(chatMessageSchema, frame.payload);
		if (message) append(t(`chat.peer.${peer}`), message.text, false);
	});
	client.on("closed", () => {
		closed = true;
		update();
	});
	$<HTMLFormElement>("chat-form").addEventListener("submit", (event) => {
		event.preventDefault();
		const text = input.value.trim();
		if (!text) return;
		input.value = "";
		client.send("chat", CHAT_STREAM, encodeJson({ text })).then(
			() => append(t("chat.you"), text, true),
			() => append(t("chat.you"), `⚠ ${text}`, true),
		);
	});
	return { refresh: update };
}
