/**
 * Clipboard text both ways (the same panel on both session pages, #clipboard): while the control
 * grant stands, the relay forwards the clipboard channel in both directions (docs/protocol.md
 * §2.2). Nothing is read or written without a button press: "Send my clipboard" reads the
 * clipboard (the browser may ask), the paste box is the way when it does not allow that, and
 * text from the other side is shown and copied only on "Copy".
 */
import type { ConsentState } from "../../protocol/control.ts";
import type { SessionClient } from "../sdk/session.ts";
import { $, show, t } from "./common.ts";
import { MAX_CLIPBOARD_TEXT } from "./wire.ts";

/**
 * Wires the panel to `session`; `allowed(state)` says whether the grant stands (the panel is
 * hidden otherwise, and text that arrives anyway is not shown).
 */
export function setupClipboard(
	session: SessionClient,
	allowed: (state: ConsentState | null) => boolean,
): void {
	const panel = $("clipboard");
	const status = $("clipboard-status");
	const paste = $<HTMLTextAreaElement>("clipboard-text");
	const remote = $<HTMLTextAreaElement>("clipboard-remote");
	const copy = $<HTMLButtonElement>("clipboard-copy");

	const update = (state: ConsentState | null) => {
		const on = allowed(state);
		if (!on && !panel.hidden) {
			// The grant ended: what came from the other side is not kept on screen.
			remote.value = "";
			copy.disabled = true;
			status.textContent = "";
		}
		show(panel, on);
	};
	session.on("state", update);
	update(session.state);

	function sendText(text: string, done?: () => void): void {
		if (!allowed(session.state)) return;
		if (!text) {
			status.textContent = t("clipboard.empty");
			return;
		}
		if (text.length > MAX_CLIPBOARD_TEXT) {
			status.textContent = t("clipboard.tooLong", { max: MAX_CLIPBOARD_TEXT });
			return;
		}
		session.sendClipboard(text).then(
			() => {
				status.textContent = t("clipboard.sent", { count: text.length });
				done?.();
			},
			() => {
				status.textContent = t("clipboard.failed");
			},
		);
	}

	$("clipboard-send").addEventListener("click", () => {
		const readText = navigator.clipboard?.readText?.bind(navigator.clipboard);
		const fallback = () => {
			status.textContent = t("clipboard.readFailed");
			paste.focus();
		};
		if (!readText) return fallback();
		readText().then((text) => sendText(text), fallback);
	});
	$("clipboard-send-text").addEventListener("click", () => {
		sendText(paste.value, () => {
			paste.value = "";
		});
	});
	session.on("clipboard", ({ text }) => {
		if (!allowed(session.state)) return;
		remote.value = text;
		copy.disabled = text.length === 0;
		status.textContent = t("clipboard.received", { count: text.length });
	});
	copy.addEventListener("click", () => {
		const done = () => {
			status.textContent = t("clipboard.copied");
		};
		const manual = () => {
			remote.select(); // no permission: selected, so Ctrl+C copies it
			status.textContent = t("clipboard.copyManually");
		};
		if (!navigator.clipboard?.writeText) return manual();
		navigator.clipboard.writeText(remote.value).then(done, manual);
	});
}
