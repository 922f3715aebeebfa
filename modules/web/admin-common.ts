/**
 * What the admin console's parts share: table cells, the group list every group picker shows,
 * the names of audit parties, and downloads made with the Bearer token.
 */
import { ApiError } from "../sdk/api.ts";
import { $, apiJson, describeError, loadAuth, show, t } from "./common.ts";

export interface GroupRow {
	id: string;
	name: string;
	createdAt: number;
	/** The group's sessions' protocols are mailed when they end. */
	mailProtocol: boolean;
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

/** Appends a text cell; an empty one shows the one dash every admin table uses for "nothing". */
export function cell(row: HTMLTableRowElement, text: string): HTMLTableCellElement {
	const td = row.insertCell();
	td.textContent = text || "—";
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
// Parties of audit events by name

/** The ids of a page of events mapped to readable names (GET /api/v1/audit `names`). */
export type PartyNames = Record<string, string>;

/**
 * An actor or subject as people read it. The relay writes `role:principal` (a customer's principal
 * is `customer:<session id>`), the routes a bare user id. Customers are named by the name they
 * joined with, hosts by their host name, users by name and e-mail; an id without a name shows as
 * it is, so nothing is hidden.
 */
export function partyLabel(party: string | null, names: PartyNames): string {
	if (!party) return "—";
	const role = /^(supporter|admin|customer|host):/.exec(party)?.[1];
	const id = party.slice(party.lastIndexOf(":") + 1);
	const name = names[id];
	if (role === "customer")
		return name ? t("admin.auditCustomerNamed", { name }) : t("admin.auditCustomer");
	if (role === "host") return t("admin.auditHostNamed", { name: name ?? id.slice(0, 8) });
	return name ?? party;
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
