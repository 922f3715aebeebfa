/**
 * The one alarm each actor has (workerd keeps a single alarm per Durable Object). Two ways to arm
 * it, each for one kind of actor:
 * - {@link armEarliest}: actors that can list every deadline they have (SessionActor, HostActor)
 *   recompute the alarm from all of them, so a deadline that went away stops waking them.
 * - {@link bringForward}: actors whose deadlines live in rows they do not re-read on every change
 *   (RateLimiter, AuditLog) only ever move the alarm earlier; their alarm handler re-arms it
 *   from what is left.
 */

/** The storage calls used here (DurableObjectStorage). */
interface AlarmStorage {
	getAlarm(): Promise<number | null>;
	setAlarm(scheduledTime: number): Promise<void>;
	deleteAlarm(): Promise<void>;
}

/**
 * Sets the alarm to the earliest of `times` (ms since the epoch), or deletes it when there is
 * none. Infinite times are ignored.
 */
export async function armEarliest(storage: AlarmStorage, times: readonly number[]): Promise<void> {
	const finite = times.filter((t) => Number.isFinite(t));
	if (finite.length === 0) await storage.deleteAlarm();
	else await storage.setAlarm(Math.min(...finite));
}

/** Moves the alarm to `at` (ms since the epoch) when it is unset or later; never pushes it back. */
export async function bringForward(storage: AlarmStorage, at: number): Promise<void> {
	if (!Number.isFinite(at)) return;
	const current = await storage.getAlarm();
	if (current === null || current > at) await storage.setAlarm(at);
}
