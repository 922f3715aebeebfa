/** The chat panel both pages share: text on the encrypted chat channel, shown with textContent. */
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

/** Wires #chat-form and #chat-log to `client`; the form is enabled once keys exist. */
export function setupChat(client: SessionClient, peer: "supporter" | "customer" | "host"): void {
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
	client.on("ready", () => {
		input.disabled = false;
		send.disabled = false;
	});
	client.on("frame", (frame) => {
		if (frame.channelName !== "chat") return;
		const message = decodeJson(chatMessageSchema, frame.payload);
		if (message) append(t(`chat.peer.${peer}`), message.text, false);
	});
	client.on("closed", () => {
		input.disabled = true;
		send.disabled = true;
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
}
