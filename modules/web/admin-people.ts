/** Users, groups, group memberships and each group's unattended policy. */

import { DEFAULT_UNATTENDED_POLICY } from "../../protocol/host.ts";
import { ApiError } from "../sdk/api.ts";
import {
	button,
	cell,
	currentGroups,
	fail,
	type GroupRow,
	onGroups,
	reloadGroups,
} from "./admin-common.ts";
import { $, apiJson, describeError, show, t } from "./common.ts";

interface UserRow {
	id: string;
	email: string;
	displayName: string;
	role: string;
	disabled: boolean;
	groups: string[];
	/** Same-origin URL of the user's picture, or null (none, or pictures are off). */
	pictureUrl: string | null;
}

type Decision = "allow" | "ask";
interface Policy {
	view: Decision;
	control: Decision;
	files: Decision;
}

const POLICY_FIELDS = ["view", "control", "files"] as const;

export async function loadUsers(): Promise<void> {
	const { users } = await apiJson<{ users: UserRow[] }>("GET", "/api/v1/users");
	const body = $<HTMLTableElement>("users").tBodies[0];
	if (!body) return;
	body.replaceChildren();
	for (const user of users) {
		const row = body.insertRow();
		cell(row, user.email);
		const name = cell(row, user.displayName);
		if (user.pictureUrl) {
			const img = document.createElement("img");
			img.className = "avatar";
			img.src = user.pictureUrl;
			img.alt = "";
			img.loading = "lazy";
			name.prepend(img);
		}
		cell(row, user.disabled ? `${user.role} (${t("admin.userDisabled")})` : user.role);
		cell(row, user.groups.join(", ") || "—");
		row.insertCell().append(
			button(
				t("admin.userEdit"),
				() => editUser(user),
				t("admin.userEditOf", { email: user.email }),
			),
			" ",
			button(
				t("admin.userGroupsEdit"),
				() => editUserGroups(user),
				t("admin.userGroupsOf", { email: user.email }),
			),
		);
	}
}

/** The user dialog: name, role, disabled, a new password, a TOTP reset; sends what changed. */
function editUser(user: UserRow): void {
	const dialog = $<HTMLDialogElement>("user-edit-dialog");
	$("user-edit-title").textContent = t("admin.userEditOf", { email: user.email });
	const name = $<HTMLInputElement>("user-edit-name");
	const role = $<HTMLSelectElement>("user-edit-role");
	const disabled = $<HTMLInputElement>("user-edit-disabled");
	const password = $<HTMLInputElement>("user-edit-password");
	const totp = $<HTMLInputElement>("user-edit-totp");
	name.value = user.displayName;
	role.value = user.role;
	disabled.checked = user.disabled;
	password.value = "";
	totp.checked = false;
	show($("user-edit-error"), false);
	$<HTMLFormElement>("user-edit-form").onsubmit = (event) => {
		event.preventDefault();
		const changes: Record<string, unknown> = {};
		if (name.value.trim() !== user.displayName) changes.displayName = name.value.trim();
		if (role.value !== user.role) changes.role = role.value;
		if (disabled.checked !== user.disabled) changes.disabled = disabled.checked;
		if (password.value !== "") changes.password = password.value;
		if (totp.checked) changes.resetTotp = true;
		const done = () => {
			password.value = "";
			dialog.close();
			$("user-result").textContent = t("admin.userSaved", { email: user.email });
			return loadUsers();
		};
		if (Object.keys(changes).length === 0) {
			done().catch(fail);
			return;
		}
		apiJson("PATCH", `/api/v1/users/${encodeURIComponent(user.id)}`, changes)
			.then(done)
			.catch((err: unknown) => {
				const error = $("user-edit-error");
				error.textContent = describeError(err);
				show(error);
			});
	};
	dialog.showModal();
}

/** The group dialog: rename and policy, or delete (refused while hosts belong to it). */
function editGroup(group: GroupRow): void {
	const dialog = $<HTMLDialogElement>("group-dialog");
	$("group-dialog-title").textContent = t("admin.groupEditOf", { name: group.name });
	$("group-delete-hint").textContent = t("admin.groupDeleteHint");
	const input = $<HTMLInputElement>("group-edit-name");
	input.value = group.name;
	const mail = $<HTMLInputElement>("group-edit-mail");
	mail.checked = group.mailProtocol;
	const error = $("group-edit-error");
	show(error, false);
	const refused = (err: unknown) => {
		error.textContent =
			err instanceof ApiError && err.code === "GROUP_NOT_EMPTY"
				? t("admin.groupNotEmpty")
				: describeError(err);
		show(error);
	};
	const path = `/api/v1/groups/${encodeURIComponent(group.id)}`;
	$<HTMLFormElement>("group-edit-form").onsubmit = (event) => {
		event.preventDefault();
		const name = input.value.trim();
		// Only what changed, so each change is audited once.
		const changes: Record<string, unknown> = {};
		if (name !== group.name) changes.name = name;
		if (mail.checked !== group.mailProtocol) changes.mailProtocol = mail.checked;
		if (Object.keys(changes).length === 0) {
			dialog.close();
			return;
		}
		apiJson("PATCH", path, changes)
			.then(() => {
				dialog.close();
				$("group-result").textContent = t("admin.groupSaved", { name });
				return Promise.all([reloadGroups(), loadUsers()]);
			})
			.catch(refused);
	};
	$("group-delete").onclick = () => {
		apiJson("DELETE", path)
			.then(() => {
				dialog.close();
				$("group-result").textContent = t("admin.groupDeleted", { name: group.name });
				return Promise.all([reloadGroups(), loadUsers()]);
			})
			.catch(refused);
	};
	dialog.showModal();
}

/** The membership dialog: one checkbox per group; saving replaces the user's groups. */
function editUserGroups(user: UserRow): void {
	const dialog = $<HTMLDialogElement>("user-groups-dialog");
	$("user-groups-title").textContent = t("admin.userGroupsOf", { email: user.email });
	const boxes = $("user-groups-boxes");
	const legend = boxes.querySelector("legend");
	boxes.replaceChildren(...(legend ? [legend] : []));
	for (const group of currentGroups()) {
		const label = document.createElement("label");
		label.className = "check";
		const box = document.createElement("input");
		box.type = "checkbox";
		box.value = group.name;
		box.checked = user.groups.includes(group.name);
		label.append(box, ` ${group.name}`);
		boxes.append(label);
	}
	show($("user-groups-none"), currentGroups().length === 0);
	show($("user-groups-error"), false);
	const form = $<HTMLFormElement>("user-groups-form");
	form.onsubmit = (event) => {
		event.preventDefault();
		const names = [...boxes.querySelectorAll<HTMLInputElement>("input:checked")].map(
			(b) => b.value,
		);
		apiJson("PATCH", `/api/v1/users/${encodeURIComponent(user.id)}`, { groups: names })
			.then(() => {
				dialog.close();
				$("user-result").textContent = t("admin.userGroupsSaved", { email: user.email });
				return Promise.all([loadUsers(), reloadGroups()]);
			})
			.catch((err: unknown) => {
				const error = $("user-groups-error");
				error.textContent = describeError(err);
				show(error);
			});
	};
	dialog.showModal();
}

function renderGroups(): void {
	const body = $<HTMLTableElement>("groups").tBodies[0];
	if (!body) return;
	body.replaceChildren();
	const groups = currentGroups();
	show($("groups-none"), groups.length === 0);
	for (const group of groups) {
		const row = body.insertRow();
		cell(row, group.name);
		cell(row, String(group.members));
		cell(row, String(group.hosts));
		cell(row, group.mailProtocol ? t("admin.on") : t("admin.off"));
		row
			.insertCell()
			.append(
				button(
					t("admin.groupEdit"),
					() => editGroup(group),
					t("admin.groupEditOf", { name: group.name }),
				),
			);
	}
}

/** Shows `policy` in the form; without a group to save it for, read-only. */
function showPolicy(policy: Policy, editable: boolean): void {
	for (const field of POLICY_FIELDS) {
		const select = $<HTMLSelectElement>(`policy-${field}`);
		select.value = policy[field];
		select.disabled = !editable;
	}
	$<HTMLButtonElement>("policy-save").disabled = !editable;
}

async function loadPolicy(): Promise<void> {
	const select = $<HTMLSelectElement>("policy-group");
	const group = currentGroups().find((g) => g.id === select.value);
	if (!group) {
		// Before any group exists the form shows what a new group gets: the server's default (the
		// same constant its policy route falls back to), not the first option of each list.
		showPolicy(DEFAULT_UNATTENDED_POLICY, false);
		$("policy-result").textContent = t("admin.policyNoGroup");
		return;
	}
	const { policy, isDefault } = await apiJson<{ policy: Policy; isDefault: boolean }>(
		"GET",
		`/api/v1/groups/${encodeURIComponent(group.id)}/host-policy`,
	);
	showPolicy(policy, true);
	$("policy-result").textContent = isDefault ? t("admin.policyDefault", { name: group.name }) : "";
}

function decision(field: (typeof POLICY_FIELDS)[number]): Decision {
	return $<HTMLSelectElement>(`policy-${field}`).value === "allow" ? "allow" : "ask";
}

export function setupPeople(): void {
	$("user-groups-cancel").addEventListener("click", () => {
		$<HTMLDialogElement>("user-groups-dialog").close();
	});
	$("user-edit-cancel").addEventListener("click", () => {
		$<HTMLDialogElement>("user-edit-dialog").close();
	});
	$("group-edit-cancel").addEventListener("click", () => {
		$<HTMLDialogElement>("group-dialog").close();
	});

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

	$<HTMLFormElement>("group-form").addEventListener("submit", (event) => {
		event.preventDefault();
		const input = $<HTMLInputElement>("group-name");
		const name = input.value.trim();
		apiJson("POST", "/api/v1/groups", { name })
			.then(() => {
				input.value = "";
				$("group-result").textContent = t("admin.groupCreated", { name });
				return reloadGroups();
			})
			.catch((err: unknown) => {
				$("group-result").textContent = describeError(err);
			});
	});

	let policyGroup = "";
	$("policy-group").addEventListener("change", () => {
		policyGroup = $<HTMLSelectElement>("policy-group").value;
		loadPolicy().catch(fail);
	});
	$<HTMLFormElement>("policy-form").addEventListener("submit", (event) => {
		event.preventDefault();
		const group = currentGroups().find((g) => g.id === $<HTMLSelectElement>("policy-group").value);
		if (!group) return;
		const policy: Policy = {
			view: decision("view"),
			control: decision("control"),
			files: decision("files"),
		};
		apiJson("PUT", `/api/v1/groups/${encodeURIComponent(group.id)}/host-policy`, policy)
			.then(() => {
				$("policy-result").textContent = t("admin.policySaved", { name: group.name });
			})
			.catch((err: unknown) => {
				$("policy-result").textContent = describeError(err);
			});
	});

	onGroups(() => {
		renderGroups();
		// A newly listed first group (or a changed choice) shows its policy.
		const current = $<HTMLSelectElement>("policy-group").value;
		if (current !== policyGroup || current === "") {
			policyGroup = current;
			loadPolicy().catch(fail);
		}
	});
}
