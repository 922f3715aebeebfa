/**
 * WebSocket plumbing both socket-holding actors (SessionActor, HostActor) share: closing and
 * sending that never throw, and the answer to a peer's Close. A socket an actor closed itself is
 * remembered, so messages it still had queued are not processed and its close is not answered.
 */
import { closeReason, closeReply } from "../protocol/control.ts";

/**
 * Sockets an actor has closed. In memory: after a hibernation `readyState` alone tells, and
 * {@link isOpen} checks both.
 */
const closedByActor = new WeakSet<WebSocket>();

/** True while the socket is open and this actor has not closed it. */
export function isOpen(ws: WebSocket): boolean {
	return !closedByActor.has(ws) && ws.readyState === WebSocket.OPEN;
}

/** True when this actor closed the socket itself (its later messages are stragglers). */
export function closedByThisActor(ws: WebSocket): boolean {
	return closedByActor.has(ws);
}

/**
 * Closes with `code` and its reason from the close table (protocol/control.ts `CLOSE`), never
 * with the reserved codes 1005, 1006 or 1015, and never throws.
 */
export function closeQuietly(ws: WebSocket, code: number): void {
	closedByActor.add(ws);
	try {
		ws.close(code, closeReason(code));
	} catch {
		// Already closing or closed: nothing left to tell this socket.
	}
}

/** Sends and never throws: a socket gone between the lookup and the send is its close handler's. */
export function sendQuietly(ws: WebSocket, data: string | ArrayBuffer): void {
	try {
		ws.send(data);
	} catch {
		// The socket went away; its close handler cleans up.
	}
}

/**
 * Answers the peer's Close with its code (RFC 6455 §5.5.1: an endpoint that receives a Close
 * sends one back). Without it `ws` reports 1006 after its timeout and a WHATWG WebSocket never
 * fires close. A socket this actor closed itself is left alone.
 */
export function answerClose(ws: WebSocket, code: number, reason: string): void {
	const reply = closedByActor.has(ws) ? null : closeReply(code);
	if (reply === null) return;
	closedByActor.add(ws);
	try {
		ws.close(reply, reply === code ? reason : closeReason(reply));
	} catch {
		// The runtime answered already or the connection is gone: nothing left to send.
	}
}

/**
 * Runs a socket event's work (message, close) so that a bug in it is logged, by the error's
 * class and message and never with a payload, instead of escaping into the runtime: one bad
 * event must not take the actor's other sockets down with it. Alarms are not wrapped: workerd
 * retries an alarm whose handler throws, which is what a failed write there wants.
 */
export async function guarded(
	actor: string,
	what: string,
	work: () => Promise<void>,
): Promise<void> {
	try {
		await work();
	} catch (err) {
		const e = err instanceof Error ? err : new Error(String(err));
		console.error(`[${actor}] ${what} failed: ${e.name}: ${e.message}`);
	}
}
