/** The table barrel read by drizzle-kit and handed to drizzle for relational queries. */
export * from "./audit.ts";
export * from "./checkpoints.ts";
export * from "./consents.ts";
export * from "./groups.ts";
export * from "./hosts.ts";
export * from "./password-resets.ts";
export * from "./refresh-tokens.ts";
export * from "./sessions.ts";
export * from "./settings.ts";
export * from "./users.ts";
