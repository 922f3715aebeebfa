/**
 * The X11 CLIPBOARD selection through Debian's `xclip`: `-o` reads it, `-i -quiet` owns it
 * (the process stays in the foreground and serves the text until another program takes the
 * selection, so it is tracked here and ended with the session, never left behind).
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { MAX_CLIPBOARD_TEXT } from "../../../protocol/input.ts";
import { findExecutable } from "../host-capture.ts";

/** How long one `xclip -o` may take before it counts as "no text" (a hung selection owner). */
const READ_TIMEOUT_MS = 1500;

/** Reads and writes the CLIPBOARD selection of one X display. */
export class X11Clipboard {
	readonly #xclip: string;
	readonly #env: NodeJS.ProcessEnv;
	#owner: ChildProcess | null = null;

	private constructor(xclip: string, display: string) {
		this.#xclip = xclip;
		this.#env = { ...process.env, DISPLAY: display };
	}

	/** A clipboard for `display`, or null when xclip is not installed. */
	static open(display: string, path = process.env.PATH): X11Clipboard | null {
		const xclip = findExecutable("xclip", path);
		return xclip ? new X11Clipboard(xclip, display) : null;
	}

	/**
	 * The selection's text (UTF-8); null when it is empty, not text, or too long to send;
	 * undefined when the look failed (xclip missing, killed or timed out: the owner was slow),
	 * which says nothing about what is on the clipboard.
	 */
	read(): Promise<string | null | undefined> {
		return new Promise((resolve) => {
			execFile(
				this.#xclip,
				["-selection", "clipboard", "-o", "-t", "UTF8_STRING"],
				{ env: this.#env, timeout: READ_TIMEOUT_MS, maxBuffer: 4 * MAX_CLIPBOARD_TEXT },
				(err, stdout) => {
					const e = err as (NodeJS.ErrnoException & { killed?: boolean; signal?: string }) | null;
					// xclip exits 1 for an empty selection or one without text; anything else failed.
					if (e && (e.killed || e.signal || typeof e.code !== "number" || e.code !== 1)) {
						resolve(undefined);
						return;
					}
					if (e || typeof stdout !== "string" || stdout.length > MAX_CLIPBOARD_TEXT) {
						resolve(null);
						return;
					}
					resolve(stdout);
				},
			);
		});
	}

	/** Puts `text` on the clipboard (this module owns the selection until someone else copies). */
	write(text: string): void {
		this.#release();
		const child = spawn(this.#xclip, ["-selection", "clipboard", "-i", "-quiet"], {
			env: this.#env,
			stdio: ["pipe", "ignore", "ignore"],
		});
		child.on("error", () => {}); // reported by the read that follows; nothing to clean up
		child.once("exit", () => {
			if (this.#owner === child) this.#owner = null;
		});
		child.stdin?.end(text, "utf8");
		this.#owner = child;
	}

	#release(): void {
		const owner = this.#owner;
		this.#owner = null;
		if (owner && owner.exitCode === null) owner.kill("SIGTERM");
	}

	/** Ends the xclip that serves the selection (the text is then gone, as after a logout). */
	close(): void {
		this.#release();
	}
}
