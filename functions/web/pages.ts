import { html } from "hono/html";
import type { MessageKey, Messages } from "./i18n.ts";

/*
 * The static structure of each page. Scripts (modules/web/) find their elements by id and only
 * toggle `hidden`, fill text with textContent and draw on canvases; all wording comes from here
 * and from the i18n block, so nothing user-supplied is ever parsed as HTML.
 */

/** `/`: where customers and staff split. */
export function homeBody(t: Messages) {
	return html`<ul class="choices">
<li><a class="button primary big" href="/join">${t["home.customer"]}</a></li>
<li><a class="button big" href="/login">${t["home.supporter"]}</a></li>
</ul>`;
}

/** `/login`. */
export function loginBody(t: Messages) {
	return html`<form id="login-form" class="card narrow" novalidate>
<label for="email">${t["login.email"]}</label>
<input id="email" name="email" type="email" autocomplete="username" required>
<label for="password">${t["login.password"]}</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<label for="totp">${t["login.totp"]}</label>
<input id="totp" name="totp" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}">
<p id="login-error" class="error" role="alert" hidden></p>
<button type="submit" class="primary">${t["login.submit"]}</button>
</form>`;
}

/** `/join`: the customer module, step by step; only one step is visible at a time. */
export function joinBody(t: Messages) {
	return html`<section id="step-code" class="card narrow">
<p>${t["join.intro"]}</p>
<form id="join-form" novalidate>
<label for="code">${t["join.code"]}</label>
<input id="code" name="code" class="code-input" inputmode="numeric" autocomplete="off" maxlength="11" required aria-describedby="join-error">
<label for="name">${t["join.name"]}</label>
<input id="name" name="name" autocomplete="name" maxlength="80" required>
<p id="join-error" class="error" role="alert" hidden></p>
<button type="submit" class="primary">${t["join.submit"]}</button>
</form>
</section>
<p id="supporter" class="supporter" hidden><img id="supporter-picture" class="avatar" alt="" hidden> ${t["join.supporter"]}: <strong id="supporter-name"></strong></p>
<section id="step-terms" class="card" hidden aria-labelledby="terms-title">
<h2 id="terms-title">${t["join.terms"]}</h2>
<div id="terms-text" class="terms" tabindex="0"></div>
<label class="check"><input type="checkbox" id="terms-accept"> ${t["join.termsAccept"]}</label>
<div class="row">
<button type="button" id="terms-submit" class="primary" disabled>${t["join.termsSubmit"]}</button>
<button type="button" id="terms-decline">${t["join.termsDecline"]}</button>
</div>
</section>
<section id="step-session" hidden>
<p id="status" class="status" role="status" aria-live="polite">${t["join.connecting"]}</p>
<p id="admission-note" class="status" role="status" aria-live="polite" hidden></p>
<div class="indicators">
<p id="ind-viewing" class="indicator viewing" hidden>${t["join.viewing"]}</p>
<p id="ind-control" class="indicator control" hidden>${t["join.controlling"]} <button type="button" id="revoke">${t["join.revoke"]}</button></p>
</div>
<section id="native-offer" class="card native-offer" hidden aria-labelledby="native-title">
<h2 id="native-title">${t["join.native.title"]}</h2>
<p>${t["join.native.text"]}</p>
<p class="code-row"><code id="native-command" class="command"></code>
<button type="button" id="native-copy">${t["console.copy"]}</button></p>
<p class="hint">${t["join.native.more"]}</p>
</section>
<div class="grid">
<div class="card">
<p class="sas-label">${t["join.sas"]}: <strong id="sas" class="sas">——————</strong></p>
<p class="hint">${t["join.sasHint"]}</p>
<div class="row">
<button type="button" id="share" class="primary" disabled>${t["join.share"]}</button>
<button type="button" id="share-stop" hidden>${t["join.shareStop"]}</button>
</div>
<p class="hint">${t["join.shareHint"]}</p>
<div id="preview-wrap" class="preview-wrap" hidden>
<video id="preview" muted playsinline aria-label="${t["join.sharing"]}"></video>
<div id="pointer" class="pointer" hidden></div>
</div>
${clipboardBody(t, "join")}
</div>
${chatBody(t)}
${filesBody(t)}
</div>
<section id="peer-view" class="card" hidden aria-labelledby="peer-title">
<h2 id="peer-title">${t["join.peerScreen"]}</h2>
<canvas id="peer-screen" class="screen" width="640" height="360" aria-label="${t["join.peerScreen"]}"></canvas>
</section>
<section id="protocol-copy" class="card narrow" hidden aria-labelledby="copy-title">
<h2 id="copy-title">${t["join.copy.title"]}</h2>
<p class="hint">${t["join.copy.text"]}</p>
<form id="copy-form" novalidate>
<label for="copy-email">${t["join.copy.email"]}</label>
<input id="copy-email" name="email" type="email" autocomplete="email" maxlength="254">
<label class="check"><input type="checkbox" id="copy-agree"> ${t["join.copy.agree"]}</label>
<p id="copy-error" class="error" role="alert" hidden></p>
<p id="copy-done" class="status" role="status" aria-live="polite" hidden></p>
<button type="submit" id="copy-submit">${t["join.copy.submit"]}</button>
</form>
</section>
</section>
<section id="step-ended" class="card narrow" hidden>
<p id="ended-text" role="alert"></p>
<a href="/join" class="button">${t["nav.join"]}</a>
</section>
<button type="button" id="stop" class="stop" hidden aria-keyshortcuts="Alt+Shift+S" title="${t["join.stopHint"]}">${t["join.stop"]}<span class="stop-hint">${t["join.stopHint"]}</span></button>
${consentDialog(t)}`;
}

/** `/console`: issue an ID, watch the screen, ask for control, chat and comment. */
export function consoleBody(t: Messages) {
	return html`<section id="issue" class="card">
<button type="button" id="issue-button" class="primary big" disabled>${t["console.issue"]}</button>
<div id="code-box" hidden>
<p class="code-label">${t["console.code"]}</p>
<p class="code-row"><output id="code" class="code" aria-live="polite"></output>
<button type="button" id="copy">${t["console.copy"]}</button></p>
<p id="countdown" class="hint" aria-live="off"></p>
<p id="code-hint" class="hint"></p>
</div>
<p id="issue-error" class="error" role="alert" hidden></p>
</section>
${hostsBody(t)}
<section id="live" hidden>
<p id="status" class="status" role="status" aria-live="polite"></p>
<section id="admission" class="card" hidden aria-labelledby="admission-title">
<h2 id="admission-title">${t["console.admission"]}</h2>
<p id="admission-who" role="alert"></p>
<p class="hint">${t["console.admissionHint"]}</p>
<div class="row">
<button type="button" id="admit" class="primary">${t["console.admit"]}</button>
<button type="button" id="refuse" class="danger">${t["console.refuse"]}</button>
</div>
</section>
${stageBody(t)}
<div class="side-grid">
<div class="card">
<p class="sas-label">${t["console.sas"]}: <strong id="sas" class="sas">——————</strong></p>
<p id="sas-hint" class="hint">${t["console.sasHint"]}</p>
</div>
${chatBody(t)}
<form id="comment-form" class="card">
<label for="comment">${t["console.comment"]}</label>
<textarea id="comment" maxlength="4000" rows="2"></textarea>
<button type="submit">${t["console.commentSend"]}</button>
</form>
${filesBody(t)}
</div>
</section>
<section id="ended" class="card narrow" hidden>
<p id="ended-text" role="alert"></p>
<button type="button" id="again" class="primary">${t["console.issue"]}</button>
</section>
${accountBody(t)}
${consentDialog(t)}`;
}

/**
 * The remote screen and the tools to control it (modules/web/remote-control.ts): fit or 1:1,
 * full screen, keyboard capture with a visible state and a release, special keys, the screen
 * choice, the readout; the controlling tools show only while the grant stands.
 */
function stageBody(t: Messages) {
	const special = (name: string, key: MessageKey) =>
		html`<li><button type="button" data-special="${name}">${t[key]}</button></li>`;
	return html`<section id="stage" class="card stage" aria-labelledby="screen-title">
<div class="stage-bar">
<h2 id="screen-title">${t["console.screen"]}</h2>
<div class="tools">
<button type="button" id="request-view">${t["console.requestView"]}</button>
<button type="button" id="request-control">${t["console.requestControl"]}</button>
<button type="button" id="share-own">${t["console.shareOwn"]}</button>
<button type="button" id="end" class="danger">${t["console.end"]}</button>
</div>
<div class="tools" role="group" aria-label="${t["control.view"]}">
<button type="button" id="fit-toggle" aria-pressed="false" title="${t["control.actualSizeHint"]}">${t["control.actualSize"]}</button>
<button type="button" id="fullscreen" aria-pressed="false">${t["control.fullscreen"]}</button>
<output id="readout" class="readout" aria-live="off" aria-label="${t["control.readoutLabel"]}"></output>
</div>
</div>
<div id="control-tools" class="tools" role="group" aria-label="${t["control.tools"]}" hidden>
<button type="button" id="keyboard-toggle" aria-pressed="false" aria-keyshortcuts="Control+Alt+Shift" title="${t["control.keyboardHelp"]}" disabled>${t["control.keyboardCapture"]}</button>
<details id="special-keys" class="menu">
<summary>${t["control.special"]}</summary>
<ul class="menu-list">
${special("ctrl-alt-del", "control.special.ctrl-alt-del")}
${special("os", "control.special.os")}
${special("alt-tab", "control.special.alt-tab")}
${special("alt-f4", "control.special.alt-f4")}
${special("print-screen", "control.special.print-screen")}
${special("lock", "control.special.lock")}
${special("tab", "control.special.tab")}
</ul>
</details>
<span id="display-field" class="field" hidden>
<label for="display-select">${t["control.display"]}</label>
<select id="display-select" disabled><option value="all">${t["control.displayAll"]}</option></select>
</span>
</div>
<p id="keyboard-state" class="keyboard-state" role="status" aria-live="polite" hidden></p>
<p id="input-unavailable" class="error" role="alert" hidden></p>
<div id="viewport" class="viewport">
<div id="picture" class="picture">
<canvas id="screen" class="screen" width="640" height="360" aria-label="${t["console.screen"]}" aria-describedby="keyboard-help"></canvas>
<div id="remote-cursor" class="remote-cursor" hidden></div>
</div>
<textarea id="keyboard-sink" class="keyboard-sink" tabindex="-1" aria-label="${t["control.keyboardSink"]}" aria-describedby="keyboard-help" autocomplete="off" autocapitalize="off" spellcheck="false"></textarea>
</div>
<p id="keyboard-help" class="hint">${t["control.keyboardHelp"]}</p>
<p id="control-note" class="hint">${t["console.controlNote"]}</p>
${clipboardBody(t, "console")}
</section>`;
}

/**
 * Clipboard text both ways while control stands (modules/web/clipboard.ts); `side` picks the
 * wording of the page.
 */
function clipboardBody(t: Messages, side: "console" | "join") {
	return html`<section id="clipboard" class="clipboard" aria-labelledby="clipboard-title" hidden>
<h3 id="clipboard-title">${t["clipboard.title"]}</h3>
<button type="button" id="clipboard-send">${t[side === "console" ? "clipboard.console.send" : "clipboard.join.send"]}</button>
<label for="clipboard-text">${t["clipboard.paste"]}</label>
<textarea id="clipboard-text" rows="2" maxlength="40960"></textarea>
<button type="button" id="clipboard-send-text">${t["clipboard.sendText"]}</button>
<label for="clipboard-remote">${t[side === "console" ? "clipboard.console.remote" : "clipboard.join.remote"]}</label>
<textarea id="clipboard-remote" rows="2" readonly></textarea>
<button type="button" id="clipboard-copy" disabled>${t["clipboard.copy"]}</button>
<p id="clipboard-status" class="hint" role="status" aria-live="polite"></p>
</section>`;
}

/** "My account": the own password; collapsed, so it stays out of the way of support work. */
function accountBody(t: Messages) {
	return html`<details id="account" class="card narrow">
<summary><h2 id="account-title">${t["account.title"]}</h2></summary>
<section id="picture-section" aria-labelledby="picture-title" hidden>
<h3 id="picture-title">${t["account.picture"]}</h3>
<img id="picture-preview" class="picture" alt="${t["account.picture"]}" width="96" height="96" hidden>
<p id="picture-none" class="hint">${t["account.pictureNone"]}</p>
<label for="picture-file">${t["account.pictureChoose"]}</label>
<input id="picture-file" type="file" accept="image/png,image/jpeg,image/webp">
<p class="hint">${t["account.pictureHint"]}</p>
<button type="button" id="picture-remove" hidden>${t["account.pictureRemove"]}</button>
<p id="picture-result" role="status" aria-live="polite" hidden></p>
</section>
<form id="account-form">
<h3>${t["account.changePassword"]}</h3>
<label for="account-current">${t["account.current"]}</label>
<input id="account-current" type="password" required autocomplete="current-password">
<label for="account-new">${t["account.new"]}</label>
<input id="account-new" type="password" minlength="12" maxlength="1024" required autocomplete="new-password">
<label for="account-repeat">${t["account.repeat"]}</label>
<input id="account-repeat" type="password" minlength="12" maxlength="1024" required autocomplete="new-password">
<p class="hint">${t["account.hint"]}</p>
<button type="submit" class="primary">${t["account.submit"]}</button>
<p id="account-result" role="status" aria-live="polite" hidden></p>
</form>
</details>`;
}

function chatBody(t: Messages) {
	return html`<section class="card chat" aria-labelledby="chat-title">
<h2 id="chat-title">${t["chat.title"]}</h2>
<ol id="chat-log" class="chat-log" aria-live="polite"></ol>
<form id="chat-form" class="row">
<label for="chat-input" class="visually-hidden">${t["chat.message"]}</label>
<input id="chat-input" maxlength="2000" autocomplete="off" disabled>
<button type="submit" id="chat-send" disabled>${t["chat.send"]}</button>
</form>
</section>`;
}

/** The consent dialog of both session pages: one question at a time, "Deny" has the focus. */
function consentDialog(t: Messages) {
	return html`<dialog id="consent" aria-labelledby="consent-text">
<p id="consent-text"></p>
<div class="row">
<button type="button" id="consent-allow" class="primary">${t["join.allow"]}</button>
<button type="button" id="consent-deny">${t["join.deny"]}</button>
</div>
</dialog>`;
}

/** Sending and receiving files (modules/web/files.ts): a file input that is also a drop zone. */
function filesBody(t: Messages) {
	return html`<section id="files" class="card files" aria-labelledby="files-title">
<h2 id="files-title">${t["files.title"]}</h2>
<div id="files-drop" class="drop-zone">
<label for="files-input">${t["files.pick"]}</label>
<input id="files-input" type="file" multiple disabled aria-describedby="files-hint">
<p class="hint">${t["files.drop"]}</p>
</div>
<p id="files-hint" class="hint">${t["files.hint"]}</p>
<p id="files-error" class="error" role="alert" hidden></p>
<ul id="files-list" class="files-list"></ul>
</section>`;
}

/** The supporter's unattended hosts (modules/web/hosts.ts) and the host password prompt. */
function hostsBody(t: Messages) {
	return html`<section id="hosts" class="card" aria-labelledby="hosts-title">
<h2 id="hosts-title">${t["console.hosts"]}</h2>
<table id="hosts-table" hidden><thead><tr><th scope="col">${t["hosts.name"]}</th><th scope="col">${t["hosts.group"]}</th><th scope="col">${t["hosts.platform"]}</th><th scope="col">${t["hosts.state"]}</th><th scope="col">${t["hosts.lastSeen"]}</th><th scope="col"><span class="visually-hidden">${t["hosts.connect"]}</span></th></tr></thead><tbody></tbody></table>
<p id="hosts-none" hidden>${t["console.hostsNone"]}</p>
<p id="hosts-error" class="error" role="alert" hidden></p>
</section>
<section id="host-auth" class="card narrow" hidden aria-labelledby="host-auth-title">
<h2 id="host-auth-title"></h2>
<p id="host-auth-status" class="status" role="status" aria-live="polite"></p>
<p id="host-auth-error" class="error" role="alert" hidden></p>
<form id="host-auth-form" hidden>
<label for="host-password" id="host-password-label"></label>
<input id="host-password" type="password" autocomplete="off" required aria-describedby="host-password-hint">
<p id="host-password-hint" class="hint">${t["hosts.passwordHint"]}</p>
<progress id="host-auth-progress" max="100" value="0" hidden></progress>
<button type="submit" id="host-unlock" class="primary">${t["hosts.unlock"]}</button>
</form>
<button type="button" id="host-cancel">${t["hosts.cancel"]}</button>
</section>`;
}
