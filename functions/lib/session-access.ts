import type { Db } from "../../schema/db.ts";
import { getHost, getUserGroupIds } from "../../schema/hosts.ts";
import type { SupportSession } from "../../schema/sessions.ts";
import type { User } from "../../schema/users.ts";

/**
 * Whether `user` may take the supporter's seat of `session` right now: an enabled account that is
 * the session's supporter (or an admin), and, for a host session, still allowed to reach the host
 * (a member of its group, or an admin) while the host exists and is enabled. Checked when a ticket
 * is issued and again when the ticket is used, so a privilege taken away in between counts.
 */
export async function maySupport(db: Db, user: User, session: SupportSession): Promise<boolean> {
	if (user.disabled) return false;
	const admin = user.role === "admin";
	if (!admin && session.supporterId !== user.id) return false;
	if (session.kind !== "host") return true;
	const host = session.hostId ? await getHost(db, session.hostId) : null;
	if (!host || host.disabled) return false;
	return admin || (await getUserGroupIds(db, user.id)).includes(host.groupId);
}

/** Whether host `hostId` may still use a ticket: it exists and is enabled. */
export async function hostMayConnect(db: Db, hostId: string): Promise<boolean> {
	const host = await getHost(db, hostId);
	return host !== null && !host.disabled;
}
