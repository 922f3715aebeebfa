import { html } from "hono/html";
import type { Messages } from "./i18n.ts";

/*
 * The admin console's static structure (`/admin`). As on the other pages, modules/web/admin*.ts
 * find elements by id, fill text with textContent and toggle `hidden`; all wording is here or in
 * the i18n block.
 */

/** One capability of the unattended policy: ask someone at the host first, or allow at once. */
function policySelect(t: Messages, id: string, label: string) {
	return html`<label for="${id}">${label}</label>
<select id="${id}"><option value="ask">${t["admin.policy.ask"]}</option><option value="allow">${t["admin.policy.allow"]}</option></select>`;
}

/** `/admin`: users, groups, hosts, live sessions, the audit protocol, evaluation and settings. */
export function adminBody(t: Messages) {
	return html`<nav class="admin-nav" aria-label="${t["admin.sections"]}"><ul>
<li><a href="#users-title">${t["admin.users"]}</a></li>
<li><a href="#groups-title">${t["admin.groups"]}</a></li>
<li><a href="#hosts-title">${t["admin.hosts"]}</a></li>
<li><a href="#sessions-title">${t["admin.sessions"]}</a></li>
<li><a href="#audit-title">${t["admin.audit"]}</a></li>
<li><a href="#report-title">${t["admin.report"]}</a></li>
<li><a href="#settings-title">${t["admin.settings"]}</a></li>
</ul></nav>
<p id="admin-error" class="error" role="alert" hidden></p>
<section class="card" aria-labelledby="users-title">
<h2 id="users-title" tabindex="-1">${t["admin.users"]}</h2>
<table id="users"><thead><tr><th scope="col">${t["admin.userEmail"]}</th><th scope="col">${t["admin.userName"]}</th><th scope="col">${t["admin.userRole"]}</th><th scope="col">${t["admin.userGroups"]}</th><th scope="col"><span class="visually-hidden">${t["admin.actions"]}</span></th></tr></thead><tbody></tbody></table>
<form id="user-form" class="inline-form">
<label for="user-email">${t["admin.userEmail"]}</label>
<input id="user-email" type="email" required autocomplete="off">
<label for="user-name">${t["admin.userName"]}</label>
<input id="user-name" required maxlength="80" autocomplete="off">
<label for="user-role">${t["admin.userRole"]}</label>
<select id="user-role"><option value="supporter">supporter</option><option value="admin">admin</option></select>
<label for="user-password">${t["admin.userPassword"]}</label>
<input id="user-password" type="password" minlength="12" required autocomplete="new-password">
<button type="submit" class="primary">${t["admin.userCreate"]}</button>
<p id="user-result" role="status" aria-live="polite"></p>
</form>
</section>
<dialog id="user-groups-dialog" aria-labelledby="user-groups-title">
<form id="user-groups-form" method="dialog">
<h2 id="user-groups-title"></h2>
<fieldset id="user-groups-boxes" class="checks"><legend>${t["admin.userGroups"]}</legend></fieldset>
<p id="user-groups-none" class="hint" hidden>${t["admin.groupsNone"]}</p>
<p id="user-groups-error" class="error" role="alert" hidden></p>
<div class="row">
<button type="submit" class="primary" value="save">${t["admin.save"]}</button>
<button type="button" id="user-groups-cancel">${t["admin.cancel"]}</button>
</div>
</form>
</dialog>
<dialog id="user-edit-dialog" aria-labelledby="user-edit-title">
<form id="user-edit-form" method="dialog">
<h2 id="user-edit-title"></h2>
<label for="user-edit-name">${t["admin.userName"]}</label>
<input id="user-edit-name" required maxlength="200" autocomplete="off">
<label for="user-edit-role">${t["admin.userRole"]}</label>
<select id="user-edit-role"><option value="supporter">supporter</option><option value="admin">admin</option></select>
<label class="check"><input type="checkbox" id="user-edit-disabled"> ${t["admin.userEditDisabled"]}</label>
<label for="user-edit-password">${t["admin.userEditPassword"]}</label>
<input id="user-edit-password" type="password" minlength="12" maxlength="1024" autocomplete="new-password" aria-describedby="user-edit-password-hint">
<p id="user-edit-password-hint" class="hint">${t["admin.userEditPasswordHint"]}</p>
<label class="check"><input type="checkbox" id="user-edit-totp"> ${t["admin.userEditResetTotp"]}</label>
<p id="user-edit-error" class="error" role="alert" hidden></p>
<div class="row">
<button type="submit" class="primary" value="save">${t["admin.save"]}</button>
<button type="button" id="user-edit-cancel">${t["admin.cancel"]}</button>
</div>
</form>
</dialog>
<section class="card" aria-labelledby="groups-title">
<h2 id="groups-title" tabindex="-1">${t["admin.groups"]}</h2>
<table id="groups"><thead><tr><th scope="col">${t["admin.groupName"]}</th><th scope="col">${t["admin.groupMembers"]}</th><th scope="col">${t["admin.groupHosts"]}</th><th scope="col">${t["admin.groupMailProtocol"]}</th><th scope="col"><span class="visually-hidden">${t["admin.actions"]}</span></th></tr></thead><tbody></tbody></table>
<p id="groups-none" class="hint" hidden>${t["admin.groupsNone"]}</p>
<div class="grid">
<form id="group-form">
<h3>${t["admin.groupCreate"]}</h3>
<label for="group-name">${t["admin.groupName"]}</label>
<input id="group-name" required maxlength="100" autocomplete="off">
<button type="submit" class="primary">${t["admin.groupCreate"]}</button>
<p id="group-result" role="status" aria-live="polite"></p>
</form>
<form id="policy-form">
<h3>${t["admin.policy"]}</h3>
<p class="hint">${t["admin.policyHint"]}</p>
<label for="policy-group">${t["admin.group"]}</label>
<select id="policy-group" class="group-select" required></select>
${policySelect(t, "policy-view", t["admin.policy.view"])}
${policySelect(t, "policy-control", t["admin.policy.control"])}
${policySelect(t, "policy-files", t["admin.policy.files"])}
<button type="submit" id="policy-save" class="primary">${t["admin.policySave"]}</button>
<p id="policy-result" role="status" aria-live="polite"></p>
</form>
</div>
</section>
<dialog id="group-dialog" aria-labelledby="group-dialog-title">
<form id="group-edit-form" method="dialog">
<h2 id="group-dialog-title"></h2>
<label for="group-edit-name">${t["admin.groupName"]}</label>
<input id="group-edit-name" required maxlength="100" autocomplete="off">
<label class="check"><input type="checkbox" id="group-edit-mail"> ${t["admin.groupMailProtocolEdit"]}</label>
<p class="hint">${t["admin.groupMailProtocolHint"]}</p>
<p id="group-delete-hint" class="hint"></p>
<p id="group-edit-error" class="error" role="alert" hidden></p>
<div class="row">
<button type="submit" class="primary" value="save">${t["admin.groupSave"]}</button>
<button type="button" id="group-delete" class="danger">${t["admin.groupDelete"]}</button>
<button type="button" id="group-edit-cancel">${t["admin.cancel"]}</button>
</div>
</form>
</dialog>
<section class="card" aria-labelledby="hosts-title">
<h2 id="hosts-title" tabindex="-1">${t["admin.hosts"]}</h2>
<table id="hosts"><thead><tr><th scope="col">${t["admin.hostName"]}</th><th scope="col">${t["admin.group"]}</th><th scope="col">${t["admin.hostPlatform"]}</th><th scope="col">${t["admin.hostState"]}</th><th scope="col">${t["admin.hostLastSeen"]}</th><th scope="col"><span class="visually-hidden">${t["admin.actions"]}</span></th></tr></thead><tbody></tbody></table>
<p id="hosts-none" class="hint" hidden>${t["admin.hostsNone"]}</p>
<form id="enroll-form" class="inline-form">
<h3>${t["admin.enroll"]}</h3>
<p class="hint">${t["admin.enrollHint"]}</p>
<label for="enroll-group">${t["admin.group"]}</label>
<select id="enroll-group" class="group-select" required></select>
<label for="enroll-minutes">${t["admin.enrollMinutes"]}</label>
<input id="enroll-minutes" type="number" min="1" max="10080" value="60" required>
<button type="submit" class="primary">${t["admin.enrollCreate"]}</button>
<p id="enroll-error" class="error" role="alert" hidden></p>
</form>
<div id="enroll-box" class="token-box" hidden>
<p><strong>${t["admin.enrollOnce"]}</strong></p>
<p class="code-row"><output id="enroll-token" class="token" aria-live="polite"></output>
<button type="button" id="enroll-copy">${t["console.copy"]}</button></p>
<p id="enroll-expiry" class="hint"></p>
<p class="hint">${t["admin.enrollUse"]}</p>
<pre id="enroll-command" class="token command"></pre>
</div>
</section>
<dialog id="host-dialog" aria-labelledby="host-dialog-title">
<form id="host-form" method="dialog">
<h2 id="host-dialog-title">${t["admin.hostEdit"]}</h2>
<label for="host-name">${t["admin.hostName"]}</label>
<input id="host-name" required maxlength="80" autocomplete="off">
<label for="host-group">${t["admin.group"]}</label>
<select id="host-group" class="group-select" required></select>
<label class="check"><input type="checkbox" id="host-disabled"> ${t["admin.hostDisabled"]}</label>
<p id="host-error" class="error" role="alert" hidden></p>
<div class="row">
<button type="submit" class="primary" value="save">${t["admin.save"]}</button>
<button type="button" id="host-cancel">${t["admin.cancel"]}</button>
</div>
</form>
</dialog>
<section class="card" aria-labelledby="sessions-title">
<h2 id="sessions-title" tabindex="-1">${t["admin.sessions"]}</h2>
<table id="sessions"><thead><tr><th scope="col">${t["admin.sessionCreated"]}</th><th scope="col">${t["admin.sessionCustomer"]}</th><th scope="col">${t["admin.sessionState"]}</th><th scope="col"><span class="visually-hidden">${t["admin.actions"]}</span></th></tr></thead><tbody></tbody></table>
<p id="sessions-none" hidden>${t["admin.sessionsNone"]}</p>
</section>
<section class="card" aria-labelledby="audit-title">
<h2 id="audit-title" tabindex="-1">${t["admin.audit"]}</h2>
<form id="audit-form" class="filters">
<div><label for="audit-session">${t["admin.auditSession"]}</label><input id="audit-session" maxlength="128" autocomplete="off"></div>
<div><label for="audit-host">${t["admin.auditHost"]}</label><input id="audit-host" maxlength="128" autocomplete="off"></div>
<div><label for="audit-user">${t["admin.auditUser"]}</label><input id="audit-user" maxlength="320" autocomplete="off"></div>
<div><label for="audit-type">${t["admin.auditType"]}</label><input id="audit-type" maxlength="64" autocomplete="off" placeholder="session.*" aria-describedby="audit-type-hint"><span id="audit-type-hint" class="hint">${t["admin.auditTypeHint"]}</span></div>
<div><label for="audit-from">${t["admin.from"]}</label><input id="audit-from" type="datetime-local"></div>
<div><label for="audit-to">${t["admin.to"]}</label><input id="audit-to" type="datetime-local"></div>
<div class="row filter-actions">
<button type="submit" class="primary">${t["admin.auditApply"]}</button>
<button type="button" id="audit-reset">${t["admin.auditReset"]}</button>
<button type="button" id="audit-export">${t["admin.auditExport"]}</button>
</div>
</form>
<p class="hint">${t["admin.auditExportHint"]}</p>
<p id="audit-status" class="status" role="status" aria-live="polite"></p>
<div class="table-scroll" tabindex="0" role="region" aria-labelledby="audit-title">
<table id="audit"><thead><tr><th scope="col">${t["admin.auditTime"]}</th><th scope="col">${t["admin.auditType"]}</th><th scope="col">${t["admin.auditActor"]}</th><th scope="col">${t["admin.auditSession"]}</th><th scope="col">${t["admin.auditHost"]}</th><th scope="col">${t["admin.auditIp"]}</th><th scope="col">${t["admin.auditData"]}</th></tr></thead><tbody></tbody></table>
</div>
<button type="button" id="audit-more" hidden>${t["admin.auditMore"]}</button>
</section>
<section class="card" aria-labelledby="report-title">
<h2 id="report-title" tabindex="-1">${t["admin.report"]}</h2>
<form id="report-form" class="filters">
<div><label for="report-from">${t["admin.from"]}</label><input id="report-from" type="date" required></div>
<div><label for="report-to">${t["admin.to"]}</label><input id="report-to" type="date" required></div>
<div class="row filter-actions"><button type="submit" class="primary">${t["admin.reportShow"]}</button></div>
</form>
<p id="report-status" class="status" role="status" aria-live="polite"></p>
<p id="report-totals"></p>
<p class="legend"><span class="swatch connected"></span> ${t["admin.reportConnected"]} <span class="swatch controlled"></span> ${t["admin.reportControlled"]}</p>
<figure class="report" aria-labelledby="report-day-title">
<figcaption><h3 id="report-day-title">${t["admin.reportByDay"]}</h3></figcaption>
<div id="chart-day" class="chart"></div>
<table id="report-day" class="report-table"><thead><tr><th scope="col">${t["admin.reportDay"]}</th><th scope="col">${t["admin.reportSessions"]}</th><th scope="col">${t["admin.reportConnected"]}</th><th scope="col">${t["admin.reportControlled"]}</th></tr></thead><tbody></tbody></table>
<button type="button" id="csv-day">${t["admin.reportCsv"]}</button>
</figure>
<figure class="report" aria-labelledby="report-supporter-title">
<figcaption><h3 id="report-supporter-title">${t["admin.reportBySupporter"]}</h3></figcaption>
<div id="chart-supporter" class="chart"></div>
<table id="report-supporter" class="report-table"><thead><tr><th scope="col">${t["admin.reportSupporter"]}</th><th scope="col">${t["admin.reportSessions"]}</th><th scope="col">${t["admin.reportConnected"]}</th><th scope="col">${t["admin.reportControlled"]}</th></tr></thead><tbody></tbody></table>
<button type="button" id="csv-supporter">${t["admin.reportCsv"]}</button>
</figure>
</section>
<section class="card" aria-labelledby="settings-title">
<h2 id="settings-title" tabindex="-1">${t["admin.settings"]}</h2>
<form id="settings-form">
<label for="terms-text">${t["admin.termsText"]}</label>
<textarea id="terms-text" rows="5" maxlength="20000" lang="en"></textarea>
<label for="terms-text-de">${t["admin.termsTextDe"]}</label>
<textarea id="terms-text-de" rows="5" maxlength="20000" lang="de"></textarea>
<label class="check"><input type="checkbox" id="require-terms"> ${t["admin.requireTerms"]}</label>
<label class="check"><input type="checkbox" id="require-admission" aria-describedby="admission-hint"> ${t["admin.requireAdmission"]}</label>
<p id="admission-hint" class="hint">${t["admin.admissionHint"]}</p>
<label for="default-view">${t["admin.defaultView"]}</label>
<select id="default-view"><option value="customer">${t["admin.viewCustomer"]}</option><option value="supporter">${t["admin.viewSupporter"]}</option></select>
<label for="code-ttl">${t["admin.codeTtl"]}</label>
<input id="code-ttl" type="number" min="1" max="60">
<label class="check"><input type="checkbox" id="require-totp"> ${t["admin.requireTotp"]}</label>
<label for="retention-days">${t["admin.retentionDays"]}</label>
<input id="retention-days" type="number" min="0" max="36500" aria-describedby="retention-hint">
<p id="retention-hint" class="hint">${t["admin.retentionHint"]}</p>
<label for="link-allow-list">${t["admin.linkAllowList"]}</label>
<textarea id="link-allow-list" rows="4" spellcheck="false" autocomplete="off" aria-describedby="link-allow-hint"></textarea>
<p id="link-allow-hint" class="hint">${t["admin.linkAllowListHint"]}</p>
<button type="submit" class="primary">${t["admin.save"]}</button>
<p id="settings-result" role="status" aria-live="polite"></p>
</form>
<h3>${t["admin.features"]}</h3>
<dl class="features">
<dt>${t["admin.mail"]}</dt><dd><strong id="mail-state"></strong> <span id="mail-hint" class="hint"></span></dd>
<dt>${t["admin.pictures"]}</dt><dd><strong id="pictures-state"></strong> <span id="pictures-hint" class="hint"></span></dd>
<dt>${t["admin.links"]}</dt><dd><strong>${t["admin.linksState"]}</strong> <span class="hint">${t["admin.linksHint"]}</span></dd>
</dl>
</section>`;
}
