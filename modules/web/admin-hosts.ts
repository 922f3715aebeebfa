/** Enrolled hosts (rename, move, disable, delete) and one-time enrolment tokens. */

import { button, cell, fail, formatTime, reloadGroups } from "./admin-common.ts";
import { $, apiJson, describeError, show, t } from "./common.ts";

interface HostRow {
	id: string;
	name: string;
	platform: string;
	group: { id: string; name: string };
	online: boolean;
	lastSeenAt: number | null;
	disabled: boolean;
}

export async function loadHosts(): Promise<void> {
	const { hosts } = await apiJson<{ hosts: HostRow[] }>("GET", "/api/v1/hosts");
	const body = $<HTMLTableElement>("hosts").tBodies[0];
	if (!body) return;
	body.replaceChildren();
	show($("hosts-none"), hosts.length === 0);
	for (const host of hosts) {
		const row = body.insertRow();
		cell(row, host.name);
		cell(row, host.group.name);
		cell(row, host.platform);
		const state = cell(
			row,
			host.disabled
				? t("admin.hostDisabledState")
				: t(host.online ? "admin.hostOnline" : "admin.hostOffline"),
		);
		state.className = host.disabled ? "state off" : host.online ? "state on" : "state";
		cell(row, formatTime(host.lastSeenAt));
		const actions = row.insertCell();
		actions.className = "actions";
		const remove = button(
			t("admin.hostDelete"),
			() => deleteHost(host),
			t("admin.hostDeleteLabel", { name: host.name }),
		);
		remove.className = "danger";
		actions.append(
			button(
				t("admin.hostEditButton"),
				() => editHost(host),
				t("admin.hostEditLabel", { name: host.name }),
			),
			remove,
		);
	}
}

function deleteHost(host: HostRow): void {
	// The browser's own confirm dialog: modal, keyboard-operable, and nothing to build.
	if (!confirm(t("admin.hostDeleteConfirm", { name: host.name }))) return;
	apiJson("DELETE", `/api/v1/hosts/${encodeURIComponent(host.id)}`)
		.then(() => Promise.all([loadHosts(), reloadGroups()]))
		.catch(fail);
}

/** Rename, move to another group, disable: one PATCH with only what changed. */
function editHost(host: HostRow): void {
	const dialog = $<HTMLDialogElement>("host-dialog");
	const name = $<HTMLInputElement>("host-name");
	const group = $<HTMLSelectElement>("host-group");
	const disabled = $<HTMLInputElement>("host-disabled");
	name.value = host.name;
	group.value = host.group.id;
	disabled.checked = host.disabled;
	show($("host-error"), false);
	$<HTMLFormElement>("host-form").onsubmit = (event) => {
		event.preventDefault();
		const changes: Record<string, unknown> = {};
		if (name.value.trim() !== host.name) changes.name = name.value.trim();
		if (group.value !== host.group.id) changes.groupId = group.value;
		if (disabled.checked !== host.disabled) changes.disabled = disabled.checked;
		apiJson("PATCH", `/api/v1/hosts/${encodeURIComponent(host.id)}`, changes)
			.then(() => {
				dialog.close();
				return Promise.all([loadHosts(), reloadGroups()]);
			})
			.catch((err: unknown) => {
				const error = $("host-error");
				error.textContent = describeError(err);
				show(error);
			});
	};
	dialog.showModal();
	name.focus();
}

export function setupHosts(): void {
	$("host-cancel").addEventListener("click", () => $<HTMLDialogElement>("host-dialog").close());

	$<HTMLFormElement>("enroll-form").addEventListener("submit", (event) => {
		event.preventDefault();
		const error = $("enroll-error");
		show(error, false);
		apiJson<{ token: string; expiresAt: number; url?: string; fingerprint?: string | null }>(
			"POST",
			"/api/v1/hosts/enrollments",
			{
				groupId: $<HTMLSelectElement>("enroll-group").value,
				expiresInMinutes: Number($<HTMLInputElement>("enroll-minutes").value),
			},
		)
			.then(({ token, expiresAt, url, fingerprint }) => {
				// Shown once: the server keeps only the hash, and this page does not store it.
				$("enroll-token").textContent = token;
				// The whole command, with the pin the agent checks the server's certificate against.
				$("enroll-command").textContent = [
					"npm run fernwart -- host enroll",
					url ?? location.origin,
					token,
					`--name ${t("admin.enrollName")}`,
					...(fingerprint ? [`--fingerprint ${fingerprint}`] : []),
				].join(" ");
				$("enroll-expiry").textContent = t("admin.enrollExpires", { time: formatTime(expiresAt) });
				$("enroll-copy").textContent = t("console.copy");
				show($("enroll-box"));
				$("enroll-copy").focus();
			})
			.catch((err: unknown) => {
				error.textContent = describeError(err);
				show(error);
			});
	});

	$("enroll-copy").addEventListener("click", () => {
		navigator.clipboard
			.writeText($("enroll-token").textContent ?? "")
			.then(() => {
				$("enroll-copy").textContent = t("console.copied");
			})
			.catch(fail);
	});
}
