/**
 * The Durable Object classes the worker exports, with their binding names. The launcher
 * (Miniflare) and the workerd config of `npm run build` are both generated from this list;
 * wrangler.toml declares the same bindings (a unit test keeps the two in step).
 */
export interface ActorBinding {
	binding: string;
	className: string;
}

export const ACTORS: readonly ActorBinding[] = [
	{ binding: "RATE_LIMITER", className: "RateLimiter" },
	{ binding: "AUDIT_LOG", className: "AuditLog" },
	{ binding: "SESSION_ACTOR", className: "SessionActor" },
	{ binding: "HOST_ACTOR", className: "HostActor" },
];
