import { createApp } from "./app.ts";

/** The worker entry: the HTTP app. Actor classes are re-exported here as they are added. */
const app = createApp();

export default app;
export { AuditLog } from "../durable/audit-log.ts";
export { HostActor } from "../durable/host-actor.ts";
export { RateLimiter } from "../durable/rate-limiter.ts";
export { SessionActor } from "../durable/session-actor.ts";
