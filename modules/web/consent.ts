/**
 * The consent dialog of the session pages (#consent): one question at a time, the safe answer
 * ("Deny") has the focus, Escape means no. The caller turns the answer into a signed statement.
 */
import { $ } from "./common.ts";

let queue: Promise<unknown> = Promise.resolve();

/** Asks `question`; resolves true for "allow". `labels` rename the two buttons for this one. */
export function ask(question: string, labels?: { allow: string; deny: string }): Promise<boolean> {
	const next = queue.then(
		() =>
			new Promise<boolean>((resolve) => {
				const dialog = $<HTMLDialogElement>("consent");
				const allow = $<HTMLButtonElement>("consent-allow");
				const deny = $<HTMLButtonElement>("consent-deny");
				const defaults = { allow: allow.textContent ?? "", deny: deny.textContent ?? "" };
				$("consent-text").textContent = question;
				if (labels) {
					allow.textContent = labels.allow;
					deny.textContent = labels.deny;
				}
				const finish = (answer: boolean) => {
					allow.removeEventListener("click", onAllow);
					deny.removeEventListener("click", onDeny);
					dialog.removeEventListener("cancel", onDeny);
					allow.textContent = defaults.allow;
					deny.textContent = defaults.deny;
					if (dialog.open) dialog.close();
					resolve(answer);
				};
				const onAllow = () => finish(true);
				const onDeny = () => finish(false);
				allow.addEventListener("click", onAllow);
				deny.addEventListener("click", onDeny);
				dialog.addEventListener("cancel", onDeny);
				keepStopReachable(dialog);
				dialog.showModal();
				deny.focus(); // the safe answer has the focus
			}),
	);
	queue = next;
	return next;
}

/**
 * A modal dialog makes the rest of the page inert, but the customer's STOP must work while a
 * question is open: it moves into the dialog (still fixed to the viewport's bottom, above the
 * backdrop) and back to its place when the dialog closes. The console has no #stop.
 */
function keepStopReachable(dialog: HTMLDialogElement): void {
	const stop = document.getElementById("stop");
	const home = stop?.parentElement;
	if (!stop || !home || home === dialog) return;
	const next = stop.nextSibling;
	dialog.append(stop);
	dialog.addEventListener("close", () => home.insertBefore(stop, next), { once: true });
}

/**
 * Closes an open dialog because the session ended. Its question stays unanswered: there is no
 * session left to sign an answer for.
 */
export function closeConsent(): void {
	const dialog = $<HTMLDialogElement>("consent");
	if (dialog.open) dialog.close();
}
