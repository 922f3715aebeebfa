/**
 * The supporter console (`/console`): issue a support ID, watch the customer's screen, ask for
 * control and control it (remote-control.ts: pointer, wheel, keys, text, special keys, screen
 * choice; a browser customer only draws the pointer as a marker), clipboard text both ways,
 * chat, files both ways, comments for the protocol, end the session. Or pick an unattended host
 * from the list, prove its password and watch and control its screen the same way (hosts.ts).
 */
import type { ConsentState } from "../../protocol/control.ts";
import type { ApiClient, CreatedSession } from "../sdk/api.ts";
import type { HostInfo } from "../sdk/hosts.ts";
import { SessionClient } from "../sdk/session.ts";
import { setupAccount } from "./account.ts";
import { setupChat } from "./chat.ts";
import { setupClipboard } from "./clipboard.ts";
import {
	$,
	apiJson,
	authedClient,
	describeError,
	formatDuration,
	loadAuth,
	setupLogout,
	show,
	t,
	trackedWebSocket,
} from "./common.ts";
import { closeConsent } from "./consent.ts";
import { type FilesPanel, setupFiles } from "./files.ts";
import {
	hostApi,
	lockText,
	pinHostKey,
	pinnedHostKey,
	setupHostPassword,
	startHostList,
	withFreshToken,
} from "./hosts.ts";
import { setupRemoteControl } from "./remote-control.ts";
import { pickScreen, screenViewer, sendScreen } from "./screen.ts";
import { type VideoViewer, videoViewer, watchVideoFeedback } from "./video.ts";
import { SCREEN_STREAM } from "./wire.ts";
import { workerClock } from "./worker-clock.ts";

setupLogout();
const api = await authedClient();
setupAccount();

let client: SessionClient | null = null;
let countdown: ReturnType<typeof setInterval> | null = null;
let customerName: string | null = null;
let backlog: () => number = () => 0;
let ownStream: MediaStream | null = null;
/** The unattended host of this session, or null for a customer session. */
let host: HostInfo | null = null;
/** In a host session: true once the host accepted the password (its signed host.auth). */
let hostAuthorized = false;
let files: FilesPanel | null = null;
let chat: { refresh: () => void } | null = null;
/** What the customer did that the status line reports until the next change. */
const customer = { seen: false, lost: false, back: false, stoppedSharing: false };
/** The newest consent state, for reading what an `end` means. */
let lastState: ConsentState | null = null;
/**
 * The video of the shown screen (video.ts), or null where this browser cannot decode video.
 * `video.onChunk` hands out the encoded chunks with their timing, for a recorder that writes
 * WebM without re-encoding (docs/modules.md).
 */
let video: VideoViewer | null = null;
const hostList = startHostList((chosen) => {
	void connectHost(chosen);
});

$("issue-button").addEventListener("click", () => {
	void issue();
});
// Disabled in the page until now: a click before this script ran would have done nothing.
$<HTMLButtonElement>("issue-button").disabled = false;
// After an ended session the button issues the next ID: a fresh page (no state of the last
// session survives) that issues at once, the same as pressing "Issue a support ID" there.
$("again").addEventListener("click", () => location.assign("/console?issue"));

async function issue(): Promise<void> {
	const error = $("issue-error");
	show(error, false);
	let created: CreatedSession;
	try {
		created = await api.createSession();
	} catch (err) {
		error.textContent = describeError(err);
		show(error);
		return;
	}
	hostList.stop(); // one session at a time: the host list goes away with the first
	show($("hosts"), false);
	showCode(created);
	await connect(api, created.sessionId);
}

function showCode(created: CreatedSession): void {
	const code = `${created.code.slice(0, 4)} ${created.code.slice(4)}`;
	$("code").textContent = code;
	$("code-hint").textContent = t("console.waiting", { url: `${location.origin}/join` });
	show($("issue-button"), false);
	show($("code-box"));
	$("copy").addEventListener("click", () => {
		navigator.clipboard.writeText(created.code).then(
			() => {
				$("copy").textContent = t("console.copied");
			},
			() => undefined, // no clipboard permission: the ID stays readable on screen
		);
	});
	const tick = () => {
		const left = created.expiresAt - Date.now();
		$("countdown").textContent =
			left > 0 ? t("console.expires", { time: formatDuration(left) }) : t("console.expired");
		if (left <= 0 && countdown) clearInterval(countdown);
	};
	tick();
	countdown = setInterval(tick, 1000);
}

async function connect(apiClient: ApiClient, sessionId: string): Promise<void> {
	const session = supporterSession(apiClient, sessionId);
	show($("live"));
	await session.connect();
}

/**
 * The supporter's end of a session, wired to the live view; for a host session `started`
 * carries the first ticket and the host key the server returned (checked against the pin).
 */
function supporterSession(
	apiClient: ApiClient,
	sessionId: string,
	started?: { ticket: string; hostPublicKey: string; pinnedKey: string | undefined },
): SessionClient {
	const socket = trackedWebSocket();
	const session = new SessionClient({
		role: "supporter",
		sessionId,
		baseUrl: location.origin,
		webSocket: socket.factory,
		keepaliveClock: workerClock, // a background tab's own timers fire too rarely
		// A resume may come after the access token expired: refresh it first through the API helper.
		renewTicket: async () => {
			await apiJson("GET", "/api/v1/me");
			apiClient.setAccessToken(loadAuth()?.accessToken ?? null);
			return apiClient.ticket(sessionId);
		},
		...(started
			? {
					ticket: started.ticket,
					expectedHost: {
						publicKey: started.hostPublicKey,
						...(started.pinnedKey ? { pinnedKey: started.pinnedKey } : {}),
					},
				}
			: {}),
	});
	client = session;
	backlog = socket.bufferedAmount;
	// Chat and files flow once the relay forwards them: handshake done, terms accepted (or the
	// host accepted the password).
	// Chat and files flow once the relay forwards them: active, admitted (where the session asks
	// for admission), and the terms accepted (or, for a host, its password proven).
	const flows = (state: ConsentState | null) =>
		state?.phase === "active" &&
		state.admission?.status !== "waiting" &&
		(host ? hostAuthorized : !state.termsRequired || state.termsAccepted);
	chat = setupChat(session, host ? "host" : "customer", flows);
	files = setupFiles(session, {
		role: "supporter",
		question: (name, size) => t(host ? "hosts.askFile" : "console.ask.file", { name, size }),
		allowed: flows,
		backlog: socket.bufferedAmount,
	});
	session.on("ready", ({ sas }) => {
		$("sas").textContent = `${sas.slice(0, 3)} ${sas.slice(3)}`;
	});
	session.on("state", (state) => {
		void onState(apiClient, state);
	});
	setupClipboard(session, (state) => state?.controller === "supporter");
	session.on("frame", (frame) => {
		// Stream 2 is screen info (the screenInfo event below), stream 3 video (below).
		if (frame.channelName !== "screen" || frame.stream !== SCREEN_STREAM) return;
		drawFrame(frame.payload);
		remoteControl.frame();
	});
	video = videoViewer(canvas, session, () => remoteControl.frame());
	video?.onChunk(() => {
		canvas.dataset.videoChunks = String(Number(canvas.dataset.videoChunks ?? 0) + 1);
	});
	watchVideoFeedback(session); // the supporter may show their own screen later
	session.on("screenInfo", (info) => remoteControl.info(info));
	session.on("control", ({ message }) => {
		if (message.type === "control.deny") {
			setStatus(t(host ? "hosts.controlDenied" : "console.controlDenied"));
		}
	});
	session.on("end", ({ reason, by }) => {
		// A customer who stops before accepting required terms declined them (the page's Decline
		// button and STOP on the terms step both end there).
		const declined =
			!host &&
			reason === "stopped" &&
			by === "customer" &&
			lastState?.termsRequired === true &&
			!lastState.termsAccepted;
		const key = declined
			? "console.endedBy.declined"
			: host && reason === "stopped"
				? "hosts.stopped"
				: `console.endedBy.${reason}`;
		ended(t(key));
	});
	session.on("error", (error) => {
		// A refusal (consent outside the clock window, a request not allowed now, …) is said
		// where the supporter looks, naming the server's reason.
		if (error.fatal || error.source !== "server") return;
		setStatus(
			error.code === "CLOCK_SKEW"
				? t("error.clockSkew", { message: error.message })
				: t("console.refused", { message: error.message }),
		);
	});
	session.on("closed", () => ended(t("console.endedBy.ended")));
	return session;
}

// ---------------------------------------------------------------------------------------------
// Unattended hosts: pinned key, password, then the live view as for a customer

async function connectHost(chosen: HostInfo): Promise<void> {
	if (client) return;
	host = chosen;
	hostList.stop();
	show($("issue"), false);
	show($("hosts"), false);
	show($("host-auth"));
	$("host-auth-title").textContent = t("hosts.connecting", { name: chosen.name });
	const status = $("host-auth-status");
	let pinned: string | undefined;
	try {
		pinned = pinnedHostKey(chosen.id);
	} catch (err) {
		return hostFailed(describeError(err));
	}
	if (pinned && pinned !== chosen.publicKey) return keyChanged(pinned, chosen.publicKey);
	let started: Awaited<ReturnType<typeof hostApi.connectHost>>;
	try {
		started = await withFreshToken(() => hostApi.connectHost(chosen.id));
	} catch (err) {
		return hostFailed(describeError(err));
	}
	if (pinned && pinned !== started.hostPublicKey) {
		void api.endSession(started.sessionId).catch(() => undefined);
		return keyChanged(pinned, started.hostPublicKey);
	}
	if (!pinned) {
		pinHostKey(chosen.id, started.hostPublicKey, chosen.name);
		status.textContent = t("hosts.pinned", { name: chosen.name });
	}
	$("screen-title").textContent = t("console.hostTitle", { name: chosen.name });
	$("screen").setAttribute("aria-label", t("console.hostTitle", { name: chosen.name }));
	// The page's texts speak of a customer; a host session has an agent, maybe nobody at the PC.
	$("sas-hint").textContent = t("hosts.sasHint");
	$("control-note").textContent = t("hosts.controlNote");
	const session = supporterSession(api, started.sessionId, {
		ticket: started.ticket,
		hostPublicKey: started.hostPublicKey,
		pinnedKey: pinned,
	});
	setupHostPassword(session, chosen.name, {
		locked: (retryAfterMs) => {
			lockedText = lockText(retryAfterMs);
			void api.endSession(session.sessionId).catch(() => session.close());
		},
	});
	session.on("error", (error) => {
		// The host's hello carried another key than the server returned: the SDK says which.
		if (error.code === "HOST_KEY_CHANGED") keyChanged(started.hostPublicKey, error.message);
		else if (error.code === "BAD_HOST_SIGNATURE") {
			hostFailed(t("hosts.badSignature", { name: chosen.name }), true);
		}
	});
	// The relay forwards the host's signed verdict only after it recorded it and opened the
	// channels: this, not the auth frame, is the moment to go on.
	session.on("control", ({ message, verified }) => {
		if (message.type !== "host.auth" || verified !== true) return;
		if (message.statement.details.result !== "accepted" || hostAuthorized) return;
		hostAuthorized = true;
		show($("host-auth"), false);
		show($("live"));
		files?.refresh();
		chat?.refresh();
		if (session.state) void onState(api, session.state);
		if (session.state?.shower !== "host") void session.requestView().catch(() => undefined);
	});
	try {
		await session.connect();
	} catch (err) {
		hostFailed(describeError(err));
	}
}

/** Why a host session ended early (a lock), shown instead of the generic end text. */
let lockedText: string | null = null;
/** True once a host connection failed for good: its reason stays on screen, not the end text. */
let hostFailure = false;

function keyChanged(pinned: string, presented: string): void {
	hostFailed(t("hosts.keyChanged", { name: host?.name ?? "", pinned, presented }), true);
}

/** A host connection that cannot go on: the reason stays on screen, loud if `alarm`. */
function hostFailed(text: string, alarm = false): void {
	hostFailure = true;
	const error = $("host-auth-error");
	error.textContent = text;
	error.classList.toggle("alarm", alarm);
	show(error);
	show($("host-auth-form"), false);
	show($("host-auth"));
	$("host-auth-status").textContent = "";
	// Also after the SDK gave up on a forged host: the relay should not keep the session waiting.
	const session = client;
	if (session) void api.endSession(session.sessionId).catch(() => session.close());
	$("host-cancel").textContent = t("nav.console"); // back to a fresh console
	error.focus();
}

$("host-cancel").addEventListener("click", () => {
	const session = client;
	if (session && !session.finished) void api.endSession(session.sessionId).catch(() => undefined);
	location.reload();
});

async function onState(apiClient: ApiClient, state: ConsentState): Promise<void> {
	const previous = lastState;
	lastState = state;
	if (host) return onHostState(state);
	const customerHere = state.connected.includes("customer");
	noteCustomer(previous, state);
	// A picture that no longer flows is shown faded, not as if it were live.
	canvas.style.opacity = customerHere && state.shower === "customer" ? "" : "0.35";
	showAdmission(state);
	if (customerHere || state.phase === "active") {
		if (countdown) clearInterval(countdown);
		show($("issue"), false); // the ID is used up: it has nothing more to say
		if (customerName === null && client) {
			customerName =
				(await apiClient.getSession(client.sessionId).catch(() => null))?.customerName ?? "";
		}
	}
	const control = state.controller === "supporter";
	$("screen").classList.toggle("controlled", control);
	remoteControl.update(control);
	$<HTMLButtonElement>("request-control").disabled = control || state.shower !== "customer";
	// Asking for a screen that is shown, or of nobody, does nothing: the buttons say so.
	$<HTMLButtonElement>("request-view").disabled = !customerHere || state.shower === "customer";
	$<HTMLButtonElement>("share-own").disabled = !customerHere || state.phase !== "active";
	if (!customerHere && state.phase === "waiting" && !customer.seen) {
		return setStatus(t("console.waitingCustomer"));
	}
	if (state.admission?.status === "waiting") return setStatus("");
	if (customer.lost) return setStatus(t("console.peerLeft"));
	const back = customer.back ? `${t("console.peerBack")} ` : "";
	if (state.termsRequired && !state.termsAccepted) return setStatus(`${back}${t("console.terms")}`);
	show($("share-own"), state.shower !== "supporter");
	if (state.shower === "supporter") return setStatus(`${back}${t("console.showing")}`);
	if (ownStream) stopOwnScreen(); // the customer shows again: this side's capture ends
	if (state.shower !== "customer") {
		return setStatus(
			`${back}${t(customer.stoppedSharing ? "console.stoppedSharing" : "console.noScreen")}`,
		);
	}
	const joined = customerName ? `${t("console.joined", { name: customerName })}. ` : "";
	setStatus(`${back}${control ? `${joined}${t("console.controlGranted")}` : joined}`);
}

/**
 * Follows the customer between states: gone (reload, lost network, closed page), back again,
 * stopped sharing. The relay's `connected` and `shower` are the facts; this only remembers
 * what changed, so the status line can say it.
 */
function noteCustomer(previous: ConsentState | null, state: ConsentState): void {
	const here = state.connected.includes("customer");
	if (here) {
		customer.back = customer.lost;
		customer.lost = false;
		customer.seen = true;
	} else if (customer.seen && state.phase !== "ended") {
		customer.lost = true;
		customer.back = false;
	}
	if (state.shower === "customer") customer.stoppedSharing = false;
	else if (previous?.shower === "customer" && state.shower === null && here) {
		customer.stoppedSharing = true;
	}
}

/**
 * Who typed the support ID, for the admit-or-refuse decision: the name they gave, the address
 * the server saw and the time. Nothing of the session flows before the supporter admits them.
 */
function showAdmission(state: ConsentState): void {
	const entry = state.admission;
	const waiting = entry?.status === "waiting" && state.phase !== "ended";
	show($("admission"), waiting);
	if (!entry || !waiting) return;
	$("admission-who").textContent = t("console.admissionWho", {
		name: entry.name ?? "?",
		address: entry.address ?? t("console.unknownAddress"),
		time: new Date(entry.joinedAt).toLocaleTimeString(),
	});
}

$("admit").addEventListener("click", () => {
	client?.admit().catch((err: unknown) => setStatus(describeError(err)));
});
$("refuse").addEventListener("click", () => {
	client?.refuse().catch((err: unknown) => setStatus(describeError(err)));
});

function onHostState(state: ConsentState): void {
	if (!host || !hostAuthorized) return;
	const control = state.controller === "supporter";
	$("screen").classList.toggle("controlled", control);
	remoteControl.update(control);
	$<HTMLButtonElement>("request-control").disabled = control || state.shower !== "host";
	$<HTMLButtonElement>("request-view").disabled = state.shower === "host";
	show($("share-own"), false); // a host agent has nobody at it to watch the supporter's screen
	const connected = t("hosts.accepted", { name: host.name });
	if (state.shower !== "host") setStatus(`${connected} ${t("hosts.noScreen")}`);
	else setStatus(control ? `${connected} ${t("hosts.controlGranted")}` : connected);
}

function setStatus(text: string): void {
	$("status").textContent = text;
}

const canvas = $<HTMLCanvasElement>("screen");
const drawFrame = screenViewer(canvas);
/** Control of the shown screen while the grant stands: input, screen info, readout. */
const remoteControl = setupRemoteControl(() => client);

$("request-control").addEventListener("click", () => {
	void client?.requestControl();
});
$("request-view").addEventListener("click", () => {
	void client?.requestView();
});
// View switch: the supporter shows their own screen. Granting it is the supporter's own consent;
// the relay switches the direction and ends any control grant.
$("share-own").addEventListener("click", () => {
	const session = client;
	if (!session || ownStream) return;
	pickScreen().then(
		async (stream) => {
			ownStream = stream;
			const video = document.createElement("video");
			video.muted = true;
			video.srcObject = stream;
			await video.play();
			for (const track of stream.getVideoTracks()) {
				track.addEventListener("ended", () => stopOwnScreen());
			}
			await session.grantView();
			void sendScreen(session, "supporter", video, backlog, () => ownStream === stream);
		},
		() => undefined, // the picker was cancelled: nothing changes
	);
});

function stopOwnScreen(): void {
	for (const track of ownStream?.getTracks() ?? []) track.stop();
	ownStream = null;
}

$("end").addEventListener("click", () => {
	if (client) void api.endSession(client.sessionId).catch(() => undefined);
});
$<HTMLFormElement>("comment-form").addEventListener("submit", (event) => {
	event.preventDefault();
	const field = $<HTMLTextAreaElement>("comment");
	const text = field.value.trim();
	if (!text || !client) return;
	client.comment(text).then(
		() => {
			field.value = "";
		},
		(err: unknown) => setStatus(describeError(err)),
	);
});

function ended(text: string): void {
	if (!$("ended").hidden) return;
	if (hostFailure) return; // the reason the host connection failed stays on screen
	closeConsent();
	stopOwnScreen();
	show($("host-auth"), false);
	if (lockedText) text = lockedText;
	if (countdown) clearInterval(countdown);
	show($("live"), false);
	show($("issue"), false);
	$("ended-text").textContent = text;
	show($("ended"));
	$("again").focus();
}

// Last, once everything above exists: "Issue a support ID" after an ended session lands here.
if (new URLSearchParams(location.search).has("issue")) {
	history.replaceState(null, "", "/console"); // a reload does not issue yet another ID
	void issue();
}
