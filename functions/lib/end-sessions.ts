import { sessionActorStub } from "../../durable/session-actor-api.ts";
import type { Db } from "../../schema/db.ts";
import { type LiveSessionScope, listLiveSessionIds } from "../../schema/sessions.ts";
import type { Env } from "../env.ts";

/**
 * Ends every live session in `scope` with the reason `revoked`: the relay closes both sockets at
 * once (the customer's page and the supporter's console both learn why), and each actor writes
 * `session.ended` with `by`. Called right after a privilege is taken away — an account disabled,
 * a group membership removed, a host disabled, moved or deleted — so the change acts on live
 * connections, not only on the next login or ticket.
 *
 * @returns how many sessions were ended (ones already ended meanwhile are not counted).
 */
export async function endSessions(
	env: Pick<Env, "SESSION_ACTOR">,
	db: Db,
	scope: LiveSessionScope,
	by: string,
): Promise<number> {
	const ids = await listLiveSessionIds(db, scope, new Date());
	const ended = await Promise.all(
		ids.map((id) => sessionActorStub(env.SESSION_ACTOR, id).end("revoked", by)),
	);
	return ended.filter(Boolean).length;
}
