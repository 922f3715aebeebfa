/**
 * Deciding whether this PC can be controlled, and wiring one session to it: the host agent and
 * the customer module call {@link planInput} once at start and {@link attachDesktop} per session.
 */
import { platform } from "node:os";
import type { SessionClient, WebSocketLike } from "../../sdk/session.ts";
import type { Output } from "../common.ts";
import type { CapturePlan } from "../host-capture.ts";
import { X11Clipboard } from "./clipboard.ts";
import { type InputUnavailable, RemoteControl } from "./remote-control.ts";
import { screenSender } from "./screen.ts";
import { X11Desktop } from "./x11.ts";

/** How input will be injected, decided once at start. */
export type InputPlan =
	| { mode: "x11"; display: string }
	| { mode: "none"; unavailable: InputUnavailable };

const WAYLAND =
	"This is a Wayland session: Wayland lets no program inject mouse and keyboard input, grab a " +
	"global hotkey or keep a window on top, so remote control cannot work here (the supporter can " +
	'still see the screen if it is shared). Log in with an X11 session (e.g. "GNOME on Xorg") ' +
	"to be controlled.";

/**
 * Whether input can be injected: Linux with an X11 display (`DISPLAY`), not a Wayland session.
 * XWayland's DISPLAY is not enough: input injected there reaches only X11 windows, not the desktop.
 */
export function planInput(
	env: NodeJS.ProcessEnv = process.env,
	os: string = platform(),
): InputPlan {
	if (os !== "linux") {
		return {
			mode: "none",
			unavailable: {
				reason: "unsupported",
				message: `Remote control on ${os} is prepared but not tried yet (docs/modules.md): input is not injected.`,
			},
		};
	}
	const wayland =
		Boolean(env.WAYLAND_DISPLAY) && (!env.DISPLAY || env.XDG_SESSION_TYPE === "wayland");
	if (wayland || env.XDG_SESSION_TYPE === "wayland") {
		return { mode: "none", unavailable: { reason: "unsupported", message: WAYLAND } };
	}
	if (!env.DISPLAY) {
		return {
			mode: "none",
			unavailable: {
				reason: "unsupported",
				message:
					"No X11 display (DISPLAY is not set): remote control needs a graphical X11 session.",
			},
		};
	}
	return { mode: "x11", display: env.DISPLAY };
}

export interface AttachOptions {
	session: SessionClient;
	input: InputPlan;
	capture: CapturePlan;
	out: Output;
	/** Named in the text snapshot when nothing is captured. */
	name: string;
	/** Who controls, for the indicator. */
	supporterName: () => string;
	/** The session's current socket, for the screen backlog. */
	socket: () => (WebSocketLike & { readonly bufferedAmount?: number }) | null;
}

/**
 * Connects one session to the desktop: screen while this side shows, input and clipboard while
 * the control grant stands, indicator and STOP hotkey. `close()` undoes all of it.
 */
export async function attachDesktop(options: AttachOptions) {
	const { session, input, out } = options;
	let desktop: X11Desktop | null = null;
	let unavailable: InputUnavailable | null = input.mode === "none" ? input.unavailable : null;
	if (input.mode === "x11") {
		try {
			desktop = await X11Desktop.open(input.display);
		} catch (err) {
			const message = `Cannot open the X display ${input.display} for input: ${(err as Error).message}`;
			unavailable = { reason: "failed", message: message.slice(0, 200) };
			out.event("input", { mode: "none", message }, message);
		}
	}
	const control = new RemoteControl({
		session,
		desktop,
		unavailable,
		clipboard: desktop ? X11Clipboard.open(desktop.display) : null,
		supporterName: options.supporterName,
		out,
		onArea: () => screen.restart(),
	});
	await control.init();
	const screen = screenSender({
		out,
		name: options.name,
		capture: options.capture,
		session,
		// A full socket of our own, or the relay's back-pressure (the viewer is behind), skips frames.
		backlog: () => {
			const socket = options.socket();
			return socket && socket.readyState === 1 && !session.peerLagging
				? (socket.bufferedAmount ?? 0)
				: Number.POSITIVE_INFINITY;
		},
		area: () => control.area,
	});
	// The screen flows only while this side is the relay's shower in an active session: a view
	// switch, STOP or the end stops it (and with it ffmpeg) at once.
	session.on("state", (state) => {
		screen.showing(state.shower === session.role && state.phase === "active");
	});
	// The viewer's video feedback (screen stream 4) and the relay's back-pressure steer the video.
	session.on("videoFeedback", (message) => screen.feedback(message));
	session.on("backpressure", ({ active }) => screen.backpressure(active));
	session.on("end", () => screen.showing(false));
	session.on("closed", () => screen.showing(false));
	return {
		control,
		async close(): Promise<void> {
			control.close();
			await screen.close();
			// Queued releases reach the server before the connection goes.
			await control.idle;
			desktop?.close();
		},
	};
}
