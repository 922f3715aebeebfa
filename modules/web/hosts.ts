/**
 * The supporter console's unattended hosts (docs/protocol.md §10): the host list with online
 * state, the host keys pinned in this browser, and the remote-maintenance password proof.
 *
 * Pinning: the first connection stores the host's identity key per server and host id in
 * localStorage (not sessionStorage: a pin must outlive the tab to be worth anything). A key
 * that differs later is a loud error and no session; there is deliberately no button to accept
 * it, because a changed host key is an attack until an administrator says otherwise.
 *
 * The password proof is `k = scrypt(NFC(password), salt)` with the host's parameters. Browsers
 * have no scrypt in WebCrypto, so @noble/hashes (pure JS, audited, pinned) computes it. Neither
 * the password nor k is stored or logged; both live only until the proof is sent.
 */
import { scryptAsync } from "@noble/hashes/scrypt.js";
import * as z from "zod";
import { fromBase64url, toBase64url } from "../../protocol/encoding.ts";
import { type AuthMessage, decodeAuthMessage, encodeAuthMessage } from "../../protocol/host.ts";
import { ApiError } from "../sdk/api.ts";
import { createHostApi, type HostInfo } from "../sdk/hosts.ts";
import type { SessionClient } from "../sdk/session.ts";
import {
	$,
	apiJson,
	browserFetch,
	describeError,
	formatDuration,
	loadAuth,
	show,
	t,
} from "./common.ts";

/** How often the list asks the server who is online. */
const REFRESH_MS = 10_000;
const PINS_KEY = "fernwart.hostKeys";

export const hostApi = createHostApi({
	baseUrl: location.origin,
	fetch: browserFetch,
	accessToken: () => loadAuth()?.accessToken ?? null,
});

/** Runs an API call; after a 401 refreshes the access token once (or goes to the login page). */
export async function withFreshToken<T>(call: () => Promise<T>): Promise<T> {
	try {
		return await call();
	} catch (err) {
		if (!(err instanceof ApiError) || err.status !== 401) throw err;
		await apiJson("GET", "/api/v1/me");
		return call();
	}
}

// ---------------------------------------------------------------------------------------------
// The list

interface HostRow {
	tr: HTMLTableRowElement;
	cells: HTMLTableCellElement[];
	state: HTMLSpanElement;
	button: HTMLButtonElement;
	host: HostInfo;
}

/**
 * Shows the caller's hosts in #hosts-table and refreshes them every {@link REFRESH_MS}. Rows are
 * updated in place, so a keyboard user's focus on a Connect button survives a refresh.
 */
export function startHostList(onConnect: (host: HostInfo) => void): { stop(): void } {
	const table = $<HTMLTableElement>("hosts-table");
	const body = table.tBodies[0] as HTMLTableSectionElement;
	const rows = new Map<string, HostRow>();
	const error = $("hosts-error");
	const dateFormat = new Intl.DateTimeFormat(document.documentElement.lang || "en", {
		dateStyle: "short",
		timeStyle: "medium",
	});

	const rowFor = (host: HostInfo): HostRow => {
		const existing = rows.get(host.id);
		if (existing) return existing;
		const tr = document.createElement("tr");
		tr.dataset.hostId = host.id;
		const cells = Array.from({ length: 6 }, () => document.createElement("td"));
		const state = document.createElement("span");
		cells[3]?.append(state);
		const button = document.createElement("button");
		button.type = "button";
		button.className = "primary";
		button.textContent = t("hosts.connect");
		cells[5]?.append(button);
		tr.append(...cells);
		body.append(tr);
		const row: HostRow = { tr, cells, state, button, host };
		button.addEventListener("click", () => onConnect(row.host));
		rows.set(host.id, row);
		return row;
	};

	const render = (hosts: HostInfo[]) => {
		const seen = new Set<string>();
		for (const host of hosts.toSorted((a, b) => a.name.localeCompare(b.name))) {
			seen.add(host.id);
			const row = rowFor(host);
			row.host = host;
			const [name, group, platform, , lastSeen] = row.cells;
			if (name) name.textContent = host.name;
			if (group) group.textContent = host.group.name;
			if (platform) platform.textContent = host.platform;
			if (lastSeen) {
				lastSeen.textContent = host.lastSeenAt
					? dateFormat.format(host.lastSeenAt)
					: t("hosts.never");
			}
			const online = host.online && !host.disabled;
			row.tr.dataset.online = String(online);
			row.state.className = online ? "host-state online" : "host-state offline";
			row.state.textContent = online ? t("hosts.online") : t("hosts.offline");
			row.button.disabled = !online;
			row.button.setAttribute("aria-label", t("hosts.connectTo", { name: host.name }));
		}
		for (const [id, row] of rows) {
			if (seen.has(id)) continue;
			row.tr.remove();
			rows.delete(id);
		}
		show(table, rows.size > 0);
		show($("hosts-none"), rows.size === 0);
	};

	let stopped = false;
	const load = async () => {
		try {
			render(await withFreshToken(() => hostApi.listHosts()));
			show(error, false);
		} catch (err) {
			if (stopped) return;
			error.textContent = describeError(err);
			show(error);
		}
	};
	void load();
	const timer = setInterval(() => void load(), REFRESH_MS);
	return {
		stop() {
			stopped = true;
			clearInterval(timer);
		},
	};
}

// ---------------------------------------------------------------------------------------------
// Pinned host keys

const pinsSchema = z.record(
	z.string(),
	z.object({ publicKey: z.string(), name: z.string(), pinnedAt: z.number() }),
);

function readPins(): z.infer<typeof pinsSchema> {
	const raw = localStorage.getItem(PINS_KEY);
	if (raw === null) return {};
	let json: unknown = null;
	try {
		json = JSON.parse(raw);
	} catch {
		json = null;
	}
	const parsed = pinsSchema.safeParse(json);
	// Starting over silently would forget every pin, which is what an attacker wants.
	if (!parsed.success) throw new Error(`${PINS_KEY} in this browser's storage is damaged`);
	return parsed.data;
}

/** The key pinned for `hostId` on this server, or undefined before the first connection. */
export function pinnedHostKey(hostId: string): string | undefined {
	return readPins()[hostId]?.publicKey;
}

/** Pins a host's key in this browser (localStorage is per origin: per server). */
export function pinHostKey(hostId: string, publicKey: string, name: string): void {
	const pins = readPins();
	pins[hostId] = { publicKey, name, pinnedAt: Date.now() };
	localStorage.setItem(PINS_KEY, JSON.stringify(pins));
}

// ---------------------------------------------------------------------------------------------
// The password proof

/** What {@link setupHostPassword} reports to the console. */
export interface HostPasswordEvents {
	/** The host locked itself; the console ends the session. */
	locked(retryAfterMs: number): void;
}

/**
 * Answers the host's challenges on the auth channel with the password typed into
 * #host-auth-form. A wrong password shows the refusal and lets the supporter try again (the
 * host sends a fresh challenge); a lock ends the attempt. The host's signed `host.auth`
 * verdict, not the auth frame, is what the console goes on from.
 */
export function setupHostPassword(
	session: SessionClient,
	hostName: string,
	events: HostPasswordEvents,
): void {
	const form = $<HTMLFormElement>("host-auth-form");
	const field = $<HTMLInputElement>("host-password");
	const unlock = $<HTMLButtonElement>("host-unlock");
	const progress = $<HTMLProgressElement>("host-auth-progress");
	const status = $("host-auth-status");
	const error = $("host-auth-error");
	$("host-password-label").textContent = t("hosts.password", { name: hostName });
	let challenge: Extract<AuthMessage, { t: "challenge" }> | null = null;
	let password: string | null = null;
	let deriving = false;

	const prove = async () => {
		const current = challenge;
		const secret = password;
		if (!current || secret === null || deriving) return;
		challenge = null;
		password = null;
		deriving = true;
		unlock.disabled = true;
		field.disabled = true;
		progress.value = 0;
		show(progress);
		status.textContent = t("hosts.deriving", { percent: 0 });
		try {
			const key = await derivePasswordKey(secret, current, (fraction) => {
				const percent = Math.round(fraction * 100);
				progress.value = percent;
				status.textContent = t("hosts.deriving", { percent });
			});
			await session.send("auth", 0, encodeAuthMessage({ t: "proof", nonce: current.nonce, key }));
			status.textContent = t("hosts.waiting");
		} catch (err) {
			error.textContent = describeError(err);
			show(error);
			retry();
		} finally {
			deriving = false;
			show(progress, false);
		}
	};

	const retry = () => {
		field.disabled = false;
		unlock.disabled = false;
		field.value = "";
		field.focus();
	};

	form.addEventListener("submit", (event) => {
		event.preventDefault();
		if (!field.value || deriving) return;
		show(error, false);
		password = field.value;
		field.value = ""; // the page keeps the password no longer than needed for one proof
		if (challenge) void prove();
		else status.textContent = t("hosts.waiting");
	});

	session.on("frame", (frame) => {
		if (frame.channelName !== "auth") return;
		const msg = decodeAuthMessage(frame.payload);
		if (msg?.t === "challenge") {
			challenge = msg;
			show(form);
			if (password !== null) void prove();
			else if (!deriving) retry();
		} else if (msg?.t === "result" && !msg.ok) {
			if (msg.reason === "locked") {
				events.locked(msg.retryAfterMs ?? 0);
				return;
			}
			status.textContent = "";
			error.textContent = t("hosts.refused");
			show(error);
			retry();
		}
	});
}

/** k = scrypt(NFC(password), salt) as base64url, with the parameters the host announced. */
async function derivePasswordKey(
	password: string,
	challenge: Extract<AuthMessage, { t: "challenge" }>,
	onProgress: (fraction: number) => void,
): Promise<string> {
	const salt = fromBase64url(challenge.salt);
	if (!salt) throw new Error("the host sent a salt that is not base64url");
	const { logN, r, p, keyLen } = challenge.kdf;
	let last = 0;
	const key = await scryptAsync(password.normalize("NFC"), salt, {
		N: 2 ** logN,
		r,
		p,
		dkLen: keyLen,
		// Yield to the page often enough that the progress bar and Cancel stay responsive.
		asyncTick: 20,
		onProgress: (fraction) => {
			if (fraction - last < 0.02 && fraction < 1) return;
			last = fraction;
			onProgress(fraction);
		},
	});
	return toBase64url(key);
}

/** "Try again in" for a lock, as m:ss. */
export function lockText(retryAfterMs: number): string {
	return t("hosts.locked", { time: formatDuration(retryAfterMs) });
}
