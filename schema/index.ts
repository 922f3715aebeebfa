/** The table barrel read by drizzle-kit and handed to drizzle for relational queries. */
export * from "./users.ts";
