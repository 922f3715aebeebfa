/**
 * "My account" on the console: the logged-in user changes their own password and, where the admin
 * configured an S3 store, their profile picture. The password request goes out with plain fetch,
 * not apiJson: a wrong current password answers 401, which apiJson would take for an expired login
 * (refresh, retry, and so count the failure twice, then log out).
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

// ---------------------------------------------------------------------------------------------
// Profile picture

interface Me {
	pictureUrl: string | null;
	features?: { pictures?: boolean };
}

function sayPicture(text: string, error: boolean): void {
	const out = $("picture-result");
	out.textContent = text;
	out.classList.toggle("error", error);
	show(out);
}

function showPicture(url: string | null): void {
	const img = $<HTMLImageElement>("picture-preview");
	if (url) img.src = url;
	show(img, url !== null);
	show($("picture-none"), url === null);
	show($("picture-remove"), url !== null);
}

/** Sends the picture as it is (the server checks its bytes and type); PUT or DELETE. */
async function pictureRequest(method: "PUT" | "DELETE", file?: File): Promise<void> {
	const me = await apiJson<Me>("GET", "/api/v1/me"); // refreshes an expired access token first
	const auth = loadAuth();
	if (!auth) redirectToLogin();
	const res = await fetch("/api/v1/me/picture", {
		method,
		headers: {
			accept: "application/json",
			authorization: `Bearer ${auth.accessToken}`,
			...(file ? { "content-type": file.type } : {}),
		},
		...(file ? { body: file } : {}),
	});
	if (res.status === 204) {
		const after = await apiJson<Me>("GET", "/api/v1/me");
		showPicture(after.pictureUrl);
		sayPicture(t(method === "PUT" ? "account.pictureSaved" : "account.pictureRemoved"), false);
		return;
	}
	showPicture(me.pictureUrl);
	const code = ((await res.json().catch(() => null)) as { error?: { code?: string } } | null)?.error
		?.code;
	if (code === "INVALID_PICTURE") sayPicture(t("account.pictureInvalid"), true);
	else if (code === "PAYLOAD_TOO_LARGE") sayPicture(t("account.pictureTooLarge"), true);
	else sayPicture(t("error.generic", { message: code ?? String(res.status) }), true);
}

function setupPicture(): void {
	apiJson<Me>("GET", "/api/v1/me").then(
		(me) => {
			// Without the admin's own S3 store there are no pictures at all: nothing to show.
			if (!me.features?.pictures) return;
			show($("picture-section"));
			showPicture(me.pictureUrl);
		},
		() => undefined, // the console shows login problems itself
	);
	const input = $<HTMLInputElement>("picture-file");
	input.addEventListener("change", () => {
		const file = input.files?.[0];
		if (!file) return;
		if (file.size > 256 * 1024) {
			sayPicture(t("account.pictureTooLarge"), true);
			input.value = "";
			return;
		}
		pictureRequest("PUT", file)
			.catch(() => sayPicture(t("error.network"), true))
			.finally(() => {
				input.value = "";
			});
	});
	$("picture-remove").addEventListener("click", () => {
		pictureRequest("DELETE").catch(() => sayPicture(t("error.network"), true));
	});
}

/** Wires the "My account" section: the profile picture and the password form. */
export function setupAccount(): void {
	setupPicture();
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
