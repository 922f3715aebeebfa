/**
 * Files both ways between the session pages (docs/web.md, docs/protocol.md §3.4):
 * pick or drop a file → SHA-256 (WebCrypto) → `file.offer {id, name, size, sha256}` → the
 * receiver's consent dialog (a signed `file.accept` or `file.reject`) → the bytes as encrypted
 * frames on the file channel with `stream = id` (the relay counts them against the offered size)
 * → `file.done` → the receiver checks size and SHA-256 and only then offers a download.
 *
 * Each file is held in memory on both sides (WebCrypto hashes whole buffers only), so the pages
 * take files up to {@link MAX_FILE_BYTES}.
 */
import type { ConsentState } from "../../protocol/control.ts";
import type { SessionClient } from "../sdk/session.ts";
import { $, show, t } from "./common.ts";
import { ask } from "./consent.ts";

/** The largest file the pages send or accept. */
export const MAX_FILE_BYTES = 256 * 1024 * 1024;
/** Plaintext per frame: well under the 1 MiB WebSocket message limit of the relay. */
const CHUNK_BYTES = 64 * 1024;
/** Above this many unsent bytes on the socket the sender waits, so screen frames still get by. */
const MAX_BACKLOG_BYTES = 1024 * 1024;

type FileState =
	| "offered"
	| "hashing"
	| "waiting"
	| "sending"
	| "sent"
	| "rejected"
	| "receiving"
	| "received"
	| "declined"
	| "corrupt"
	| "failed"
	| "tooLarge";

interface Row {
	item: HTMLLIElement;
	progress: HTMLProgressElement;
	status: HTMLElement;
}

interface Outgoing {
	id: number;
	bytes: Uint8Array;
	row: Row;
	started: boolean;
}

interface Incoming {
	id: number;
	name: string;
	size: number;
	sha256: string;
	chunks: Uint8Array[];
	received: number;
	/** True between the signed accept and `file.done`. */
	open: boolean;
	row: Row;
}

/** Options of {@link setupFiles}. */
export interface FilesOptions {
	/** This page's side: supporters number their files odd, customers even, so ids never clash. */
	role: "supporter" | "customer";
	/** The consent question for an incoming offer. */
	question: (name: string, size: string) => string;
	/** May files be offered now? Asked on every state change and on {@link FilesPanel.refresh}. */
	allowed: (state: ConsentState | null) => boolean;
	/** Unsent bytes on the socket. */
	backlog: () => number;
}

/** What a page can do with the panel after setup. */
export interface FilesPanel {
	/** Re-evaluates `allowed` (e.g. after a host accepted the password). */
	refresh(): void;
}

/** Wires #files-input, #files-drop and #files-list to `session`. */
export function setupFiles(session: SessionClient, options: FilesOptions): FilesPanel {
	const input = $<HTMLInputElement>("files-input");
	const drop = $("files-drop");
	const list = $<HTMLUListElement>("files-list");
	const error = $("files-error");
	const outgoing = new Map<number, Outgoing>();
	const incoming = new Map<number, Incoming>();
	let nextId = options.role === "supporter" ? 1 : 2;
	let enabled = false;

	const refresh = () => {
		enabled = !session.finished && options.allowed(session.state);
		input.disabled = !enabled;
		drop.classList.toggle("disabled", !enabled);
	};

	const row = (direction: "out" | "in", id: number, name: string, size: number): Row => {
		const item = document.createElement("li");
		item.className = `file ${direction}`;
		item.dataset.fileId = String(id);
		const head = document.createElement("p");
		const dir = document.createElement("span");
		dir.className = "file-dir";
		dir.textContent = `${t(`files.${direction}`)}: `;
		const title = document.createElement("strong");
		title.textContent = name;
		head.append(dir, title, document.createTextNode(` (${formatBytes(size)})`));
		const progress = document.createElement("progress");
		progress.max = Math.max(1, size);
		progress.value = 0;
		progress.setAttribute("aria-label", name);
		const status = document.createElement("p");
		status.className = "file-status";
		status.setAttribute("role", "status");
		item.append(head, progress, status);
		list.prepend(item);
		return { item, progress, status };
	};

	const setState = (r: Row, state: FileState, values: Record<string, string> = {}) => {
		r.item.dataset.state = state;
		// An incoming offer waits for this person's answer in the dialog: nothing to say here.
		r.status.textContent = state === "offered" ? "" : t(`files.status.${state}`, values);
		const bad = state === "rejected" || state === "corrupt" || state === "failed";
		r.item.classList.toggle("bad", bad || state === "tooLarge");
		r.item.classList.toggle("good", state === "received" || state === "sent");
		show(r.progress, state !== "rejected" && state !== "declined" && state !== "tooLarge");
	};

	// -------------------------------------------------------------------------------------------
	// Sending

	const offer = async (file: File): Promise<void> => {
		const name = safeName(file.name);
		const id = nextId;
		nextId += 2;
		const r = row("out", id, name, file.size);
		if (file.size > MAX_FILE_BYTES) {
			setState(r, "tooLarge", { max: formatBytes(MAX_FILE_BYTES) });
			return;
		}
		setState(r, "hashing");
		try {
			const bytes = new Uint8Array(await file.arrayBuffer());
			const sha256 = await sha256Hex(bytes);
			outgoing.set(id, { id, bytes, row: r, started: false });
			await session.offerFile({ id, name, size: bytes.length, sha256 });
			setState(r, "waiting");
		} catch {
			outgoing.delete(id);
			setState(r, "failed");
		}
	};

	const send = async (out: Outgoing): Promise<void> => {
		out.started = true;
		setState(out.row, "sending");
		try {
			for (let offset = 0; offset < out.bytes.length; offset += CHUNK_BYTES) {
				while (options.backlog() > MAX_BACKLOG_BYTES && !session.finished) {
					await new Promise((resolve) => setTimeout(resolve, 20));
				}
				await session.send("file", out.id, out.bytes.subarray(offset, offset + CHUNK_BYTES));
				out.row.progress.value = Math.min(out.bytes.length, offset + CHUNK_BYTES);
			}
			await session.fileDone(out.id);
			out.row.progress.value = out.row.progress.max;
			setState(out.row, "sent");
		} catch {
			setState(out.row, "failed");
		} finally {
			outgoing.delete(out.id); // the bytes are no longer needed on this side
		}
	};

	const offerAll = (files: FileList | null | undefined) => {
		show(error, false);
		if (!files || files.length === 0) return;
		if (!enabled) {
			error.textContent = t("files.notReady");
			show(error);
			return;
		}
		for (const file of Array.from(files)) void offer(file);
	};

	input.addEventListener("change", () => {
		offerAll(input.files);
		input.value = ""; // the same file may be sent again
	});
	drop.addEventListener("dragover", (event) => {
		event.preventDefault();
		drop.classList.add("over");
	});
	drop.addEventListener("dragleave", () => drop.classList.remove("over"));
	drop.addEventListener("drop", (event) => {
		event.preventDefault();
		drop.classList.remove("over");
		offerAll(event.dataTransfer?.files);
	});
	// A file dropped next to the zone must not make the browser leave the session page.
	for (const type of ["dragover", "drop"] as const) {
		document.addEventListener(type, (event) => event.preventDefault());
	}

	// -------------------------------------------------------------------------------------------
	// Receiving

	const onOffer = async (id: number, name: string, size: number, sha256: string) => {
		if (incoming.has(id) || outgoing.has(id)) return;
		const r = row("in", id, name, size);
		const entry: Incoming = {
			id,
			name,
			size,
			sha256,
			chunks: [],
			received: 0,
			open: false,
			row: r,
		};
		incoming.set(id, entry);
		if (size > MAX_FILE_BYTES) {
			setState(r, "tooLarge", { max: formatBytes(MAX_FILE_BYTES) });
			await session.rejectFile(id).catch(() => undefined);
			return;
		}
		setState(r, "offered");
		const yes = await ask(options.question(name, formatBytes(size)), {
			allow: t("files.accept"),
			deny: t("files.reject"),
		});
		if (session.finished) return;
		try {
			if (yes) {
				entry.open = true;
				setState(r, "receiving");
				await session.acceptFile(id);
			} else {
				setState(r, "declined");
				await session.rejectFile(id);
			}
		} catch {
			entry.open = false;
			setState(r, "failed");
		}
	};

	const onChunk = (id: number, bytes: Uint8Array) => {
		const entry = incoming.get(id);
		if (!entry?.open) return;
		if (entry.received + bytes.length > entry.size) {
			entry.open = false;
			entry.chunks = [];
			setState(entry.row, "corrupt");
			return;
		}
		entry.chunks.push(bytes);
		entry.received += bytes.length;
		entry.row.progress.value = entry.received;
	};

	const onDone = async (id: number) => {
		const entry = incoming.get(id);
		if (!entry?.open) return;
		entry.open = false;
		const blob = new Blob(entry.chunks as Uint8Array<ArrayBuffer>[], {
			// Never rendered by the browser: the download is saved, not opened in this origin.
			type: "application/octet-stream",
		});
		entry.chunks = [];
		const actual = await sha256Hex(new Uint8Array(await blob.arrayBuffer()));
		entry.row.item.dataset.sha256 = actual;
		if (blob.size !== entry.size || actual !== entry.sha256) {
			setState(entry.row, "corrupt");
			return;
		}
		setState(entry.row, "received");
		const link = document.createElement("a");
		link.className = "button";
		link.href = URL.createObjectURL(blob);
		link.download = entry.name;
		link.textContent = `${t("files.download")}: ${entry.name}`;
		entry.row.item.append(link);
	};

	session.on("control", ({ message }) => {
		if (message.type === "file.offer") {
			void onOffer(message.id, message.name, message.size, message.sha256);
		} else if (message.type === "file.done") {
			void onDone(message.id);
		}
	});
	session.on("frame", (frame) => {
		if (frame.channelName === "file") onChunk(frame.stream, frame.payload);
	});
	// The relay's state is the record of each answer: it changed before the sender heard of it.
	session.on("state", (state) => {
		refresh();
		for (const file of state.files) {
			const out = outgoing.get(file.id);
			if (!out || file.from !== options.role) continue;
			if (file.status === "accepted" && !out.started) void send(out);
			else if (file.status === "rejected") {
				outgoing.delete(file.id);
				setState(out.row, "rejected");
			}
		}
	});
	session.on("ready", refresh);
	session.on("closed", () => {
		refresh();
		for (const entry of incoming.values()) {
			if (entry.open) setState(entry.row, "failed");
		}
		for (const out of outgoing.values()) setState(out.row, "failed");
		outgoing.clear();
	});
	refresh();
	return { refresh };
}

/** A name the relay's `fileName` rule accepts: no path separators or control characters. */
function safeName(name: string): string {
	// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed
	const cleaned = name.replace(/[/\\\u0000-\u001f\u007f]/g, "_").slice(0, 255);
	return cleaned === "" || cleaned === "." || cleaned === ".." ? "file" : cleaned;
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
	const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
	return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** 1234567 → "1.2 MB" in the page's language. */
export function formatBytes(size: number): string {
	const units = ["byte", "kilobyte", "megabyte", "gigabyte"] as const;
	let value = size;
	let unit = 0;
	while (value >= 1000 && unit < units.length - 1) {
		value /= 1000;
		unit += 1;
	}
	return new Intl.NumberFormat(document.documentElement.lang || "en", {
		style: "unit",
		unit: units[unit],
		unitDisplay: unit === 0 ? "long" : "short",
		maximumFractionDigits: unit === 0 ? 0 : 1,
	}).format(value);
}
