/**
 * The admin console (`/admin`): users and groups, hosts and enrolment, live sessions, the audit
 * protocol, evaluation and settings, all through the JSON API with the tab's Bearer token.
 */

import { loadAudit, setupAudit } from "./admin-audit.ts";
import { button, cell, fail, reloadGroups } from "./admin-common.ts";
import { loadHosts, setupHosts } from "./admin-hosts.ts";
import { loadUsers, setupPeople } from "./admin-people.ts";
import { loadReport, setupReport } from "./admin-report.ts";
import { $, apiJson, describeError, loadAuth, setupLogout, show, t } from "./common.ts";

interface LiveSession {
	sessionId: string;
	customerName: string | null;
	createdAt: number;
	supporterEmail: string | null;
	state: { phase: string; connected: string[] } | null;
}

interface Settings {
	termsText: string;
	termsTextDe: string;
	requireTerms: boolean;
	requireAdmission: boolean;
	defaultView: "customer" | "supporter";
	sessionCodeTtlMinutes: number;
	requireTotp: boolean;
	auditRetentionDays: number;
	linkAllowList: string[];
	mailEnabled: boolean;
	picturesEnabled: boolean;
}

/** The allow-list textarea: one host per line; blank lines and surrounding spaces dropped. */
function allowListLines(text: string): string[] {
	return text
		.split("\n")
		.map((line) => line.trim())
		.filter((line) => line !== "");
}

/** Live sessions and hosts' online state change on their own; a light poll keeps them current. */
const POLL_MS = 5000;

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
		const end = button(t("admin.sessionEnd"), () => {
			apiJson("DELETE", `/api/v1/sessions/${encodeURIComponent(session.sessionId)}`)
				.then(loadSessions)
				.catch(fail);
		});
		end.className = "danger";
		row.insertCell().append(end);
	}
}

function showSettings(s: Settings): void {
	$<HTMLTextAreaElement>("terms-text").value = s.termsText;
	$<HTMLTextAreaElement>("terms-text-de").value = s.termsTextDe;
	$<HTMLInputElement>("require-terms").checked = s.requireTerms;
	$<HTMLInputElement>("require-admission").checked = s.requireAdmission;
	$<HTMLSelectElement>("default-view").value = s.defaultView;
	$<HTMLInputElement>("code-ttl").value = String(s.sessionCodeTtlMinutes);
	$<HTMLInputElement>("require-totp").checked = s.requireTotp;
	$<HTMLInputElement>("retention-days").value = String(s.auditRetentionDays);
	$<HTMLTextAreaElement>("link-allow-list").value = s.linkAllowList.join("\n");
	$("mail-state").textContent = t(s.mailEnabled ? "admin.on" : "admin.off");
	$("mail-hint").textContent = t(s.mailEnabled ? "admin.mailOn" : "admin.mailOff");
	$("pictures-state").textContent = t(s.picturesEnabled ? "admin.on" : "admin.off");
	$("pictures-hint").textContent = t(s.picturesEnabled ? "admin.picturesOn" : "admin.picturesOff");
}

async function loadSettings(): Promise<void> {
	showSettings(await apiJson<Settings>("GET", "/api/v1/settings"));
}

$<HTMLFormElement>("settings-form").addEventListener("submit", (event) => {
	event.preventDefault();
	const view =
		$<HTMLSelectElement>("default-view").value === "supporter" ? "supporter" : "customer";
	apiJson<Settings>("PATCH", "/api/v1/settings", {
		termsText: $<HTMLTextAreaElement>("terms-text").value,
		termsTextDe: $<HTMLTextAreaElement>("terms-text-de").value,
		requireTerms: $<HTMLInputElement>("require-terms").checked,
		requireAdmission: $<HTMLInputElement>("require-admission").checked,
		defaultView: view,
		sessionCodeTtlMinutes: Number($<HTMLInputElement>("code-ttl").value),
		requireTotp: $<HTMLInputElement>("require-totp").checked,
		auditRetentionDays: Number($<HTMLInputElement>("retention-days").value),
		linkAllowList: allowListLines($<HTMLTextAreaElement>("link-allow-list").value),
	})
		.then((saved) => {
			showSettings(saved);
			$("settings-result").textContent = t("admin.saved");
		})
		.catch((err: unknown) => {
			$("settings-result").textContent = describeError(err);
		});
});

setupLogout();
setupPeople();
setupHosts();
setupAudit();
setupReport();

if (loadAuth() && loadAuth()?.user.role !== "admin") {
	const error = $("admin-error");
	error.textContent = t("admin.forbidden");
	show(error);
} else {
	await Promise.all([
		loadUsers(),
		reloadGroups(),
		loadSettings(),
		loadSessions(),
		loadHosts(),
		loadReport(),
	]).catch(fail);
	loadAudit(true);
	setInterval(() => {
		loadSessions().catch(() => undefined);
		loadHosts().catch(() => undefined);
	}, POLL_MS);
}
