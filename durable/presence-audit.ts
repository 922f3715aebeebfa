/**
 * Which presence changes of a host go into the protocol (docs/audit.md, "Unattended hosts"), as
 * pure functions over a small state the HostActor keeps. A flapping host must not flood the
 * chain: per window of PRESENCE_AUDIT_WINDOW_MS at most one `host.online` and one `host.offline`
 * are written; further changes are counted and the count goes with the next row. If the host
 * ends a window in a state the protocol does not show, that state is written when the window is
 * over, so the protocol never stays wrong for longer than a window.
 */

export const PRESENCE_AUDIT_WINDOW_MS = 60_000;

/** Why a host went offline: its socket closed, its heartbeats stopped, or an admin disabled it. */
export type OfflineCause = "closed" | "heartbeat-timeout" | "disabled";

export type PresenceChange = { online: true } | { online: false; cause: OfflineCause };

export interface PresenceAudit {
	/** The state the protocol shows, null before the first row. */
	audited: "online" | "offline" | null;
	windowStart: number;
	onlineWritten: boolean;
	offlineWritten: boolean;
	/** Changes since the last row that were not written. */
	suppressed: number;
	/** The latest change (written or not) and, if offline, its cause. */
	lastChangeAt: number;
	lastCause: OfflineCause | null;
}

export interface PresenceNote {
	type: "host.online" | "host.offline";
	data: { cause?: OfflineCause; suppressed: number; changedAt?: number };
}

export function initialPresenceAudit(): PresenceAudit {
	return {
		audited: null,
		windowStart: 0,
		onlineWritten: false,
		offlineWritten: false,
		suppressed: 0,
		lastChangeAt: 0,
		lastCause: null,
	};
}

function note(change: PresenceChange, suppressed: number): PresenceNote {
	return change.online
		? { type: "host.online", data: { suppressed } }
		: { type: "host.offline", data: { cause: change.cause, suppressed } };
}

/** A presence change at `now`: the row to append (null when suppressed) and the next state. */
export function presenceChange(
	state: PresenceAudit,
	change: PresenceChange,
	now: number,
): { next: PresenceAudit; note: PresenceNote | null } {
	const expired = now - state.windowStart >= PRESENCE_AUDIT_WINDOW_MS;
	const current: PresenceAudit = {
		...(expired
			? { ...state, windowStart: now, onlineWritten: false, offlineWritten: false }
			: state),
		lastChangeAt: now,
		lastCause: change.online ? null : change.cause,
	};
	const kind = change.online ? "online" : "offline";
	const written = change.online ? current.onlineWritten : current.offlineWritten;
	if (written || current.audited === kind) {
		return { next: { ...current, suppressed: current.suppressed + 1 }, note: null };
	}
	return {
		next: {
			...current,
			audited: kind,
			suppressed: 0,
			onlineWritten: current.onlineWritten || change.online,
			offlineWritten: current.offlineWritten || !change.online,
		},
		note: note(change, current.suppressed),
	};
}

/** When the protocol lags behind the actual state, the time its catch-up row is due. */
export function presenceReconcileAt(state: PresenceAudit, online: boolean): number | null {
	const actual = online ? "online" : "offline";
	if (state.audited === null || state.audited === actual) return null;
	return state.windowStart + PRESENCE_AUDIT_WINDOW_MS;
}

/**
 * After the window: the row that brings the protocol to the actual state, with the time the
 * host really changed (`changedAt`) and the number of changes that were not written.
 */
export function presenceReconcile(
	state: PresenceAudit,
	online: boolean,
	now: number,
): { next: PresenceAudit; note: PresenceNote | null } {
	const due = presenceReconcileAt(state, online);
	if (due === null || now < due) return { next: state, note: null };
	const change: PresenceChange = online
		? { online: true }
		: { online: false, cause: state.lastCause ?? "closed" };
	const base = note(change, state.suppressed);
	return {
		next: {
			...state,
			audited: online ? "online" : "offline",
			windowStart: now,
			onlineWritten: online,
			offlineWritten: !online,
			suppressed: 0,
		},
		note: { ...base, data: { ...base.data, changedAt: state.lastChangeAt } },
	};
}
