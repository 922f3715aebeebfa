/**
 * The install-free customer module (`/join`): ID → terms → screen sharing through the browser's
 * own picker → encrypted JPEG frames → consent dialogs, indicators, STOP,
 * chat, files both ways (files.ts), SAS.
 *
 * A page cannot move the operating system's pointer, so granted "control" means the
 * supporter's pointer and clicks are drawn as a marker over the preview of what is shared; the
 * page says so to the console (`input-unavailable`) and offers the native module, which can be
 * controlled. Clipboard text goes both ways with explicit buttons (clipboard.ts).
 */
import type { ConsentState } from "../../protocol/control.ts";
import { ApiError, createApiClient, type Terms } from "../sdk/api.ts";
import { SessionClient } from "../sdk/session.ts";
import { setupChat } from "./chat.ts";
import { setupClipboard } from "./clipboard.ts";
import { $, browserFetch, describeError, show, t, trackedWebSocket } from "./common.ts";
import { ask, closeConsent } from "./consent.ts";
import { setupFiles } from "./files.ts";
import { pickScreen, screenViewer, sendScreen } from "./screen.ts";
import { videoViewer, watchVideoFeedback } from "./video.ts";
import { type InputEvent, SCREEN_STREAM } from "./wire.ts";
import { workerClock } from "./worker-clock.ts";

/** Said to the console when control is granted here: what this page does with input instead. */
const INPUT_UNAVAILABLE_MESSAGE = "a browser page shows the pointer as a marker only";

const api = createApiClient({ baseUrl: location.origin, fetch: browserFetch });
const socket = trackedWebSocket();

let client: SessionClient | null = null;
let stream: MediaStream | null = null;
let stopping = false;
/** True after the customer declined the terms: the end then says so. */
let declined = false;
/** What the supporter did that the status line reports until the next change. */
const supporter = { seen: false, lost: false, back: false };
/** The latest refusal from the server, shown until the state changes. */
let refusal: string | null = null;

// ---------------------------------------------------------------------------------------------
// Step 1: the support ID

$<HTMLFormElement>("join-form").addEventListener("submit", (event) => {
	event.preventDefault();
	const error = $("join-error");
	show(error, false);
	const code = $<HTMLInputElement>("code").value.replace(/\D/g, "");
	const displayName = $<HTMLInputElement>("name").value.trim();
	// Checked here, without a round trip: only an ID of the right shape can be unknown.
	const problem = code.length !== 8 ? ("code" as const) : !displayName ? ("name" as const) : null;
	if (problem) {
		error.textContent = t(problem === "code" ? "join.codeDigits" : "join.nameMissing");
		show(error);
		$(problem).focus();
		return;
	}
	// The terms come in the page's language, so a German customer reads (and signs) German terms.
	const lang = document.documentElement.lang === "de" ? "de" : "en";
	api.joinSession({ code, displayName, lang }).then(
		(joined) => {
			showSupporter(joined.supporter ?? null);
			if (joined.protocolCopy) offerProtocolCopy(joined.sessionId, joined.resumeToken, lang);
			return start(joined.sessionId, joined.ticket, joined.resumeToken, joined.terms ?? null).catch(
				fail,
			);
		},
		(err: unknown) => {
			error.textContent =
				err instanceof ApiError && err.code === "SESSION_NOT_FOUND"
					? t("join.notFound")
					: err instanceof ApiError && err.code === "RATE_LIMITED"
						? t("login.rateLimited")
						: describeError(err);
			show(error);
		},
	);
});

// The ID may be in the link the supporter sent (`/join#12345678`): it never reaches the server.
const fromLink = location.hash.replace(/\D/g, "");
if (fromLink.length === 8) $<HTMLInputElement>("code").value = fromLink;

/**
 * The optional copy of the protocol by e-mail, offered only when the join answer says the
 * session's protocol is mailed. Nothing is sent without an address and the ticked agreement;
 * the server checks both again and keeps the address only until the mail is out.
 */
function offerProtocolCopy(sessionId: string, resumeToken: string, lang: "en" | "de") {
	const form = $<HTMLFormElement>("copy-form");
	const error = $("copy-error");
	const done = $("copy-done");
	show($("protocol-copy"));
	form.addEventListener("submit", (event) => {
		event.preventDefault();
		show(error, false);
		const input = $<HTMLInputElement>("copy-email");
		const email = input.value.trim();
		const agree = $<HTMLInputElement>("copy-agree").checked;
		const say = (key: string) => {
			error.textContent = t(key);
			show(error);
		};
		if (!email || !input.checkValidity()) return say("join.copy.invalidEmail");
		if (!agree) return say("join.copy.agreeMissing");
		const submit = $<HTMLButtonElement>("copy-submit");
		submit.disabled = true;
		api.requestProtocolCopy(sessionId, { resumeToken, email, agree, lang }).then(
			() => {
				done.textContent = t("join.copy.requested", { email });
				show(done);
			},
			(err: unknown) => {
				submit.disabled = false;
				const code = err instanceof ApiError ? err.code : "";
				if (code === "INVALID_EMAIL") say("join.copy.invalidEmail");
				else if (code === "AGREEMENT_REQUIRED") say("join.copy.agreeMissing");
				else if (code === "SESSION_ENDED") say("join.copy.ended");
				else {
					error.textContent = describeError(err);
					show(error);
				}
			},
		);
	});
}

// ---------------------------------------------------------------------------------------------
// Step 2: connect, terms, share

/** Who the customer is letting in: the supporter's name and, where pictures are on, picture. */
function showSupporter(supporter: { name: string; pictureUrl: string | null } | null): void {
	if (!supporter) return;
	$("supporter-name").textContent = supporter.name;
	const img = $<HTMLImageElement>("supporter-picture");
	if (supporter.pictureUrl) {
		img.src = supporter.pictureUrl;
		show(img);
	}
	show($("supporter"));
}

async function start(sessionId: string, ticket: string, resumeToken: string, terms: Terms | null) {
	const session = new SessionClient({
		role: "customer",
		sessionId,
		baseUrl: location.origin,
		webSocket: socket.factory,
		ticket,
		renewTicket: () => api.ticket(sessionId, { resumeToken }),
		keepaliveClock: workerClock, // a background tab's own timers fire too rarely
		...(terms ? { termsSha256: terms.sha256 } : {}),
	});
	client = session;
	wire(session);
	show($("step-code"), false);
	show($("stop"));
	const ready = new Promise<void>((resolve) => session.on("ready", () => resolve()));
	await session.connect();
	if (terms) await askTerms(terms);
	show($("step-session"));
	await ready;
	if (terms) await session.acceptTerms(terms.sha256);
	// Sharing waits for the supporter's admission; updateIndicators enables it then.
	$<HTMLButtonElement>("share").disabled = session.state?.admission?.status === "waiting";
	$<HTMLButtonElement>("share").focus();
}

function askTerms(terms: Terms): Promise<void> {
	const step = $("step-terms");
	$("terms-text").textContent = terms.text;
	show(step);
	const box = $<HTMLInputElement>("terms-accept");
	const submit = $<HTMLButtonElement>("terms-submit");
	box.addEventListener("change", () => {
		submit.disabled = !box.checked;
	});
	box.focus();
	return new Promise((resolve) => {
		submit.addEventListener("click", () => {
			if (!box.checked) return;
			show(step, false);
			resolve();
		});
		// Declining is a STOP: the supporter learns at once that nothing will be shared (its
		// console reads a STOP before accepted terms as declined terms).
		$("terms-decline").addEventListener("click", () => {
			declined = true;
			stopSession();
		});
	});
}

function wire(session: SessionClient): void {
	const flows = (state: ConsentState | null) =>
		state?.phase === "active" &&
		state.admission?.status !== "waiting" &&
		(!state.termsRequired || state.termsAccepted);
	setupChat(session, "supporter", flows);
	setupFiles(session, {
		role: "customer",
		question: (name, size) => t("join.ask.file", { name, size }),
		allowed: flows,
		backlog: socket.bufferedAmount,
	});
	session.on("ready", ({ sas }) => {
		$("sas").textContent = `${sas.slice(0, 3)} ${sas.slice(3)}`;
		$("status").textContent = "";
	});
	session.on("state", updateIndicators);
	session.on("control", ({ message }) => {
		if (message.type === "control.request") {
			offerNativeModule();
			void ask(t("join.ask.control")).then((yes) =>
				yes ? session.grantControl() : session.denyControl(),
			);
		} else if (message.type === "view.request") {
			void ask(t("join.ask.view")).then((yes) => (yes ? share() : session.denyView()));
		}
	});
	setupClipboard(session, (state) => state?.controller === "supporter");
	// The viewer's codecs may arrive before the screen is shared: keep them from the start.
	watchVideoFeedback(session);
	const peerCanvas = $<HTMLCanvasElement>("peer-screen");
	const drawPeer = screenViewer(peerCanvas);
	session.on("frame", (frame) => {
		if (frame.channelName === "screen" && frame.stream === SCREEN_STREAM) drawPeer(frame.payload);
	});
	videoViewer(peerCanvas, session, () => undefined); // the supporter's screen after a switch
	// The SDK validates input events and says whether this side's grant stands.
	session.on("input", ({ event, granted }) => {
		if (granted) showPointer(event);
	});
	session.on("end", ({ by, reason }) =>
		ended(
			reason === "refused"
				? t("join.admissionRefused")
				: by === "customer"
					? ownStopText()
					: t("join.ended"),
		),
	);
	session.on("error", (error) => {
		if (error.fatal) {
			ended(t("error.generic", { message: error.message }));
			return;
		}
		if (error.source !== "server") return;
		// A refused consent (terms, view, …) is said here, naming the cause; a capture the relay
		// will not forward is ended rather than shown as if it were shared.
		refusal =
			error.code === "CLOCK_SKEW"
				? t("error.clockSkew", { message: error.message })
				: t("join.refused", { message: error.message });
		if (stream && client?.state?.shower !== "customer") stopSharing();
		$("status").textContent = refusal;
	});
	session.on("closed", () => ended(stopping ? ownStopText() : t("join.ended")));
}

function ownStopText(): string {
	return t(declined ? "join.declined" : "join.stopped");
}

let takeoverAt: number | null = null;

/** The admission (waiting, then let in) and a takeover: who supports the customer now. */
function showAdmission(state: ConsentState): void {
	const note = $("admission-note");
	const status = state.admission?.status;
	if (state.takeover && state.takeover.at !== takeoverAt) {
		takeoverAt = state.takeover.at;
		// The new supporter has no grant: what was shared stops until the customer shares again.
		stopSharing();
		$("sas").textContent = "——————";
		note.textContent = t("join.takenOver", { name: state.takeover.name });
		show(note);
	} else if (status === "waiting") {
		note.textContent = t("join.waiting");
		show(note);
	} else if (status === "admitted" && note.textContent === t("join.waiting")) {
		note.textContent = t("join.admitted");
	}
	const share = $<HTMLButtonElement>("share");
	if (status === "waiting") share.disabled = true;
	else if (client?.sas) share.disabled = false;
}

function updateIndicators(state: ConsentState): void {
	showAdmission(state);
	const supporterHere = state.connected.includes("supporter");
	if (supporterHere) {
		supporter.back = supporter.lost;
		supporter.lost = false;
		supporter.seen = true;
	} else if (supporter.seen && state.phase !== "ended") {
		supporter.lost = true;
	}
	const status = $("status");
	if (supporter.lost) status.textContent = t("join.peerLeft");
	else if (supporter.back) status.textContent = t("join.peerBack");
	// "Sharing" only once the relay forwards this screen: the state is the relay's word on it.
	else if (stream && state.shower === "customer") status.textContent = t("join.sharing");
	else if (stream && state.shower === null) status.textContent = refusal ?? t("join.shareWaiting");
	show($("ind-viewing"), state.shower === "customer" && supporterHere && stream !== null);
	show($("ind-control"), state.controller === "supporter");
	tellInputUnavailable(state);
	// After a view switch the supporter shows: their screen appears here instead.
	show($("peer-view"), state.shower === "supporter");
	if (state.controller !== "supporter") show($("pointer"), false);
}

// ---------------------------------------------------------------------------------------------
// Screen sharing

$("share").addEventListener("click", () => {
	void share();
});
$("share-stop").addEventListener("click", () => stopSharing());
$("revoke").addEventListener("click", () => {
	void client?.revokeControl();
});

async function share(): Promise<void> {
	const session = client;
	if (!session) return;
	if (stream) {
		await session.grantView(); // already sharing: a switch back needs only the grant
		return;
	}
	try {
		// The browser's own picker: the customer chooses a window, a screen or a tab.
		stream = await pickScreen();
	} catch {
		$("status").textContent = t("join.shareFailed");
		await session.denyView();
		return;
	}
	const video = $<HTMLVideoElement>("preview");
	video.srcObject = stream;
	await video.play();
	show($("preview-wrap"));
	show($("share"), false);
	show($("share-stop"));
	refusal = null;
	$("status").textContent = t("join.shareWaiting");
	for (const track of stream.getVideoTracks()) {
		track.addEventListener("ended", () => stopSharing());
	}
	await session.grantView();
	const own = stream;
	void sendScreen(session, "customer", video, socket.bufferedAmount, () => stream === own);
}

function stopSharing(): void {
	const wasSharing = stream !== null;
	for (const track of stream?.getTracks() ?? []) track.stop();
	stream = null;
	// The relay stops forwarding and the supporter is told; not while STOP ends everything.
	if (wasSharing && !stopping && client?.state?.shower === "customer") {
		void client.revokeView().catch(() => undefined);
	}
	show($("preview-wrap"), false);
	show($("share-stop"), false);
	show($("share"));
	$("status").textContent = "";
	if (client?.state) updateIndicators(client.state);
}

/**
 * The supporter's pointer as a marker over the preview; a click briefly rings. A wheel turn
 * moves it too; keys, text, special keys and the screen choice have nothing to show here.
 */
function showPointer(input: InputEvent): void {
	if (input.t !== "pointer" && input.t !== "wheel") return;
	if (client?.state?.controller !== "supporter") return;
	const marker = $("pointer");
	marker.style.left = `${input.x * 100}%`;
	marker.style.top = `${input.y * 100}%`;
	marker.classList.toggle("down", input.t === "pointer" && input.kind === "down");
	show(marker);
}

/** True while the console has been told about the grant in force (reset when it ends). */
let toldUnavailable = false;

/**
 * Once per grant, the console learns that this page cannot carry out input (screen info
 * `input-unavailable`, on the screen channel this page shows on).
 */
function tellInputUnavailable(state: ConsentState): void {
	const granted = state.controller === "supporter" && state.shower === "customer";
	if (!granted) {
		toldUnavailable = false;
		return;
	}
	if (toldUnavailable || !client) return;
	toldUnavailable = true;
	client
		.sendScreenInfo({
			t: "input-unavailable",
			reason: "unsupported",
			message: INPUT_UNAVAILABLE_MESSAGE,
		})
		.catch(() => undefined); // the session ended meanwhile
}

/**
 * The supporter asked for control: the page explains that a browser cannot give it and how to
 * run the native module instead (for now with a new support ID: this one is used up).
 */
function offerNativeModule(): void {
	const command = t("join.native.command", { url: location.origin });
	$("native-command").textContent = command;
	show($("native-offer"));
}

$("native-copy").addEventListener("click", () => {
	navigator.clipboard?.writeText($("native-command").textContent ?? "").then(
		() => {
			$("native-copy").textContent = t("clipboard.copied");
		},
		() => undefined, // no permission: the command stays readable and selectable
	);
});

// ---------------------------------------------------------------------------------------------
// STOP and the end

function stopSession(): void {
	stopping = true;
	stopSharing();
	const session = client;
	if (!session || session.finished) {
		ended(t("join.stopped"));
		return;
	}
	// STOP takes effect at the relay first; the page shows the end when the relay confirms.
	session.stop().catch(() => ended(t("join.stopped")));
	setTimeout(() => session.close(), 3000);
}

$("stop").addEventListener("click", stopSession);
document.addEventListener("keydown", (event) => {
	if (event.altKey && event.shiftKey && event.code === "KeyS" && !$("stop").hidden) {
		event.preventDefault();
		stopSession();
	}
});

function ended(text: string): void {
	if (!$("step-ended").hidden) return;
	stopSharing();
	for (const id of ["step-code", "step-terms", "step-session", "stop", "ind-viewing"]) {
		show($(id), false);
	}
	closeConsent();
	$("ended-text").textContent = text;
	show($("step-ended"));
	$("main").focus();
}

function fail(err: unknown): void {
	ended(describeError(err));
}
