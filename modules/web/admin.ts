/** The admin console (`/admin`): users, live sessions and settings through the JSON API. */
import { $, apiJson, describeError, loadAuth, setupLogout, show, t } from "./common.ts";

interface UserRow {
	id: string;
	email: string;
	displayName: string;
	role: string;
	disabled: boolean;
}

interface LiveSession {
	sessionId: string;
	customerName: string | null;
	createdAt: number;
	supporterEmail: string | null;
	state: { phase: string; connected: string[] } | null;
}

interface Settings {
	termsText: string;
	requireTerms: boolean;
	defaultView: "customer" | "supporter";
	sessionCodeTtlMinutes: number;
	requireTotp: boolean;
}

setupLogout();
const error = $("admin-error");

function fail(err: unknown): void {
	error.textContent = describeError(err);
	show(error);
}

function cell(row: HTMLTableRowElement, text: string): HTMLTableCellElement {
	const td = row.insertCell();
	td.textContent = text;
	return td;
}

async function loadUsers(): Promise<void> {
	const { users } = await apiJson<{ users: UserRow[] }>("GET", "/api/v1/users");
	const body = $<HTMLTableElement>("users").tBodies[0];
	if (!body) return;
	body.replaceChildren();
	for (const user of users) {
		const row = body.insertRow();
		cell(row, user.email);
		cell(row, user.displayName);
		cell(row, user.disabled ? `${user.role} (${t("admin.userDisabled")})` : user.role);
	}
}

async function loadSessions(): Promise<void> {
	const { sessions } = await apiJson<{ sessions: LiveSession[] }>("GET", "/api/v1/sessions");
	const body = $<HTMLTableElement>("sessions").tBodies[0];
	if (!body) return;
	body.replaceChildren();
	show($("sessions-none"), sessions.length === 0);
	for (const session of sessions) {
		const row = body.insertRow();
		cell(row, new Date(session.createdAt).toLocaleString(document.documentElement.lang));
		cell(row, session.customerName ?? "—");
		const state = session.state;
		cell(row, state ? `${state.phase} (${state.connected.join(", ") || "—"})` : "—");
		const button = document.createElement("button");
		button.type = "button";
		button.className = "danger";
		button.textContent = t("admin.sessionEnd");
		button.addEventListener("click", () => {
			apiJson("DELETE", `/api/v1/sessions/${encodeURIComponent(session.sessionId)}`)
				.then(loadSessions)
				.catch(fail);
		});
		row.insertCell().append(button);
	}
}

async function loadSettings(): Promise<void> {
	const s = await apiJson<Settings>("GET", "/api/v1/settings");
	$<HTMLTextAreaElement>("terms-text").value = s.termsText;
	$<HTMLInputElement>("require-terms").checked = s.requireTerms;
	$<HTMLSelectElement>("default-view").value = s.defaultView;
	$<HTMLInputElement>("code-ttl").value = String(s.sessionCodeTtlMinutes);
	$<HTMLInputElement>("require-totp").checked = s.requireTotp;
}

$<HTMLFormElement>("user-form").addEventListener("submit", (event) => {
	event.preventDefault();
	apiJson("POST", "/api/v1/users", {
		email: $<HTMLInputElement>("user-email").value.trim(),
		displayName: $<HTMLInputElement>("user-name").value.trim(),
		role: $<HTMLSelectElement>("user-role").value,
		password: $<HTMLInputElement>("user-password").value,
	})
		.then(() => {
			$<HTMLFormElement>("user-form").reset();
			$("user-result").textContent = t("admin.userCreated");
			return loadUsers();
		})
		.catch((err: unknown) => {
			$("user-result").textContent = describeError(err);
		});
});

$<HTMLFormElement>("settings-form").addEventListener("submit", (event) => {
	event.preventDefault();
	const view =
		$<HTMLSelectElement>("default-view").value === "supporter" ? "supporter" : "customer";
	apiJson("PATCH", "/api/v1/settings", {
		termsText: $<HTMLTextAreaElement>("terms-text").value,
		requireTerms: $<HTMLInputElement>("require-terms").checked,
		defaultView: view,
		sessionCodeTtlMinutes: Number($<HTMLInputElement>("code-ttl").value),
		requireTotp: $<HTMLInputElement>("require-totp").checked,
	})
		.then(() => {
			$("settings-result").textContent = t("admin.saved");
		})
		.catch((err: unknown) => {
			$("settings-result").textContent = describeError(err);
		});
});

if (loadAuth() && loadAuth()?.user.role !== "admin") {
	error.textContent = t("admin.forbidden");
	show(error);
} else {
	await Promise.all([loadUsers(), loadSettings(), loadSessions()]).catch(fail);
	// Live sessions change on their own; a light poll keeps the table current.
	setInterval(() => {
		loadSessions().catch(() => undefined);
	}, 5000);
}
