/**
 * "My account" on the console: the logged-in user changes their own password. The request goes
 * out with plain fetch, not apiJson: a wrong current password answers 401, which apiJson would
 * take for an expired login (refresh, retry, and so count the failure twice, then log out).
 */

import { $, apiJson, loadAuth, redirectToLogin, saveAuth, show, t } from "./common.ts";

function say(text: string, error: boolean): void {
	const out = $("account-result");
	out.textContent = text;
	out.classList.toggle("error", error);
	show(out);
}

async function changePassword(currentPassword: string, newPassword: string): Promise<void> {
	// Refreshes an expired access token first (or goes to the login page).
	await apiJson("GET", "/api/v1/me");
	const auth = loadAuth();
	if (!auth) redirectToLogin();
	const res = await fetch("/api/v1/me/password", {
		method: "POST",
		headers: {
			"content-type": "application/json",
			accept: "application/json",
			authorization: `Bearer ${auth.accessToken}`,
		},
		body: JSON.stringify({ currentPassword, newPassword }),
	});
	if (res.status === 204) {
		// Every session is revoked, this one too: log in again with the new password.
		saveAuth(null);
		say(t("account.passwordChanged"), false);
		setTimeout(() => location.assign("/login"), 2500);
		return;
	}
	const code = ((await res.json().catch(() => null)) as { error?: { code?: string } } | null)?.error
		?.code;
	if (code === "INVALID_CREDENTIALS") say(t("account.currentWrong"), true);
	else if (code === "RATE_LIMITED") say(t("login.rateLimited"), true);
	else if (code === "INVALID_REQUEST") say(t("account.passwordRules"), true);
	else say(t("error.generic", { message: code ?? String(res.status) }), true);
}

/** Wires the password form of the "My account" section. */
export function setupAccount(): void {
	const form = $<HTMLFormElement>("account-form");
	form.addEventListener("submit", (event) => {
		event.preventDefault();
		const current = $<HTMLInputElement>("account-current").value;
		const next = $<HTMLInputElement>("account-new").value;
		if (next !== $<HTMLInputElement>("account-repeat").value) {
			say(t("account.mismatch"), true);
			return;
		}
		changePassword(current, next)
			.then(() => form.reset())
			.catch(() => say(t("error.network"), true));
	});
}
