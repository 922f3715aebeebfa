/**
 * What the admin console's parts share: table cells, the group list every group picker shows,
 * user e-mails for the audit table, and downloads made with the Bearer token.
 */
import { ApiError } from "../sdk/api.ts";
import { $, apiJson, describeError, loadAuth, show, t } from "./common.ts";

export interface GroupRow {
	id: string;
	name: string;
	createdAt: number;
	members: number;
	hosts: number;
}

/** The page's language, for dates and numbers. */
export const lang = (): string => document.documentElement.lang || "en";

/** Shows a failure in the page's alert line. */
export function fail(err: unknown): void {
	const error = $("admin-error");
	error.textContent = describeError(err);
	show(error);
}

/** Appends a text cell. */
export function cell(row: HTMLTableRowElement, text: string): HTMLTableCellElement {
	const td = row.insertCell();
	td.textContent = text;
	return td;
}

/** A button of type "button" with a text and, when the text alone is ambiguous, a label. */
export function button(text: string, onClick: () => void, label?: string): HTMLButtonElement {
	const b = document.createElement("button");
	b.type = "button";
	b.textContent = text;
	if (label) b.setAttribute("aria-label", label);
	b.addEventListener("click", onClick);
	return b;
}

export function formatTime(ms: number | null): string {
	return ms === null ? t("admin.never") : new Date(ms).toLocaleString(lang());
}

/** Durations as h:mm:ss; reports run to hours, which m:ss would make hard to read. */
export function formatHms(ms: number): string {
	const total = Math.max(0, Math.round(ms / 1000));
	const h = Math.floor(total / 3600);
	const m = Math.floor((total % 3600) / 60);
	return `${h}:${String(m).padStart(2, "0")}:${String(total % 60).padStart(2, "0")}`;
}

// ---------------------------------------------------------------------------------------------
// Groups, shared by the user dialog, the policy form, enrolment and the host dialog

let groups: GroupRow[] = [];
const groupListeners: (() => void)[] = [];

export function currentGroups(): GroupRow[] {
	return groups;
}

/** Calls `listener` after every reload of the group list. */
export function onGroups(listener: () => void): void {
	groupListeners.push(listener);
}

/** Reloads the groups and refills every `select.group-select`, keeping each one's choice. */
export async function reloadGroups(): Promise<void> {
	groups = (await apiJson<{ groups: GroupRow[] }>("GET", "/api/v1/groups")).groups;
	for (const select of document.querySelectorAll<HTMLSelectElement>("select.group-select")) {
		const keep = select.value;
		select.replaceChildren(
			...groups.map((g) => {
				const option = document.createElement("option");
				option.value = g.id;
				option.textContent = g.name;
				return option;
			}),
		);
		if (groups.some((g) => g.id === keep)) select.value = keep;
	}
	for (const listener of groupListeners) listener();
}

// ---------------------------------------------------------------------------------------------
// Users by id, so that the audit table can show an e-mail address next to an actor's id

const emails = new Map<string, string>();

export function rememberUsers(users: { id: string; email: string }[]): void {
	for (const u of users) emails.set(u.id, u.email);
}

/** An actor or subject: a user id, or `role:id` as the session relay writes it. */
export function userLabel(id: string | null): string {
	if (!id) return "—";
	const [, role, userId = id] = /^(supporter|admin):(.+)$/.exec(id) ?? [];
	const email = emails.get(userId);
	if (!email) return id;
	return `${role ? `${role}: ` : ""}${email}`;
}

// ---------------------------------------------------------------------------------------------
// Downloads

/**
 * GETs `path` with the Bearer token and saves the answer as a file. The token travels in the
 * header only; a download link with the token in its URL would leave it in history and logs.
 */
export async function downloadWithToken(path: string, fallbackName: string): Promise<string> {
	// Refreshes an expired access token first (or goes to the login page).
	await apiJson("GET", "/api/v1/me");
	const auth = loadAuth();
	const res = await fetch(path, {
		headers: { authorization: `Bearer ${auth?.accessToken ?? ""}` },
	});
	if (!res.ok) {
		const body = (await res.json().catch(() => null)) as {
			error?: { code?: string; message?: string };
		} | null;
		throw new ApiError(
			res.status,
			body?.error?.code ?? `HTTP_${res.status}`,
			body?.error?.message ?? "",
		);
	}
	const disposition = res.headers.get("content-disposition") ?? "";
	const name = /filename="([^"]+)"/.exec(disposition)?.[1] ?? fallbackName;
	const url = URL.createObjectURL(await res.blob());
	const link = document.createElement("a");
	link.href = url;
	link.download = name;
	document.body.append(link);
	link.click();
	link.remove();
	// The click has handed the blob to the download; it is released a little later.
	setTimeout(() => URL.revokeObjectURL(url), 30_000);
	return name;
}
