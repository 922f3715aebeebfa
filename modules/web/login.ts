/** The login page: stores the tokens for this tab and goes where the user came from. */
import { ApiError, createApiClient } from "../sdk/api.ts";
import { $, browserFetch, describeError, saveAuth, show, t } from "./common.ts";

/** Only a path on this server: an open redirect would let a link send users elsewhere. */
function nextPath(): string {
	const next = new URLSearchParams(location.search).get("next") ?? "";
	return /^\/[a-z]*$/.test(next) && next !== "/login" ? next : "/console";
}

const form = $<HTMLFormElement>("login-form");
const error = $("login-error");

form.addEventListener("submit", (event) => {
	event.preventDefault();
	show(error, false);
	const api = createApiClient({ baseUrl: location.origin, fetch: browserFetch });
	const totp = $<HTMLInputElement>("totp").value.trim();
	api
		.login({
			email: $<HTMLInputElement>("email").value.trim(),
			password: $<HTMLInputElement>("password").value,
			...(totp ? { totp } : {}),
		})
		.then((result) => {
			saveAuth({
				accessToken: result.accessToken,
				refreshToken: result.refreshToken ?? null,
				user: result.user,
			});
			location.assign(nextPath());
		})
		.catch((err: unknown) => {
			const code = err instanceof ApiError ? err.code : "";
			error.textContent =
				code === "INVALID_CREDENTIALS" || code === "USER_DISABLED"
					? t("login.failed")
					: code === "TOTP_REQUIRED" || code === "INVALID_TOTP"
						? t("login.totpRequired")
						: code === "RATE_LIMITED"
							? t("login.rateLimited")
							: describeError(err);
			show(error);
			$<HTMLInputElement>(code.startsWith("TOTP") ? "totp" : "password").focus();
		});
});
