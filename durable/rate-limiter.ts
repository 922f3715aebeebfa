import { DurableObject } from "cloudflare:workers";
import type { LimitCheck, LimitHit, LimitPolicy, RateLimiterApi } from "./rate-limiter-api.ts";

interface State {
	/** Times of counted events inside the window, oldest first; at most `limit` entries. */
	events: number[];
	lockedUntil: number;
	windowMs: number;
}

const EMPTY: State = { events: [], lockedUntil: 0, windowMs: 0 };

/**
 * Counts events (failed logins, reset requests) for one key, e.g. `login-account:<email>` or
 * `login-ip:<address>`: one instance per key, named with `idFromName`, so counting needs no
 * locks and survives restarts. It trusts its caller for the key and the policy; functions/
 * decides what to count. An alarm deletes the state once it no longer matters, so idle keys cost
 * no storage.
 */
export class RateLimiter extends DurableObject implements RateLimiterApi {
	private async load(): Promise<State> {
		return (await this.ctx.storage.get<State>("state")) ?? EMPTY;
	}

	/** Whether the key is locked right now, without counting anything. */
	async check(): Promise<LimitCheck> {
		const { lockedUntil } = await this.load();
		const now = Date.now();
		if (lockedUntil > now) return { ok: false, retryAfterSeconds: secondsUntil(lockedUntil, now) };
		return { ok: true };
	}

	/** Counts one event; locks the key when the window holds `limit` events. */
	async hit(policy: LimitPolicy): Promise<LimitHit> {
		const now = Date.now();
		const state = await this.load();
		if (state.lockedUntil > now) {
			return {
				count: state.events.length,
				locked: true,
				justLocked: false,
				retryAfterSeconds: secondsUntil(state.lockedUntil, now),
			};
		}
		const events = [...state.events.filter((t) => t > now - policy.windowMs), now].slice(
			-policy.limit,
		);
		const justLocked = events.length >= policy.limit;
		const next: State = {
			events,
			lockedUntil: justLocked ? now + policy.lockMs : 0,
			windowMs: policy.windowMs,
		};
		await this.ctx.storage.put("state", next);
		await this.ctx.storage.setAlarm(Math.max(next.lockedUntil, now + policy.windowMs));
		return {
			count: events.length,
			locked: justLocked,
			justLocked,
			retryAfterSeconds: justLocked ? secondsUntil(next.lockedUntil, now) : 0,
		};
	}

	/** Forgets the count, e.g. after a successful login. */
	async reset(): Promise<void> {
		await this.ctx.storage.deleteAll();
	}

	override async alarm(): Promise<void> {
		const state = await this.load();
		// Keep the state while a lock or a counted event still matters; a later hit may have
		// moved that point past this alarm.
		const until = Math.max(state.lockedUntil, (state.events.at(-1) ?? 0) + state.windowMs);
		if (until > Date.now()) await this.ctx.storage.setAlarm(until);
		else await this.ctx.storage.deleteAll();
	}
}

function secondsUntil(t: number, now: number): number {
	return Math.max(1, Math.ceil((t - now) / 1000));
}
