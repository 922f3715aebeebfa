CREATE TABLE `audit_checkpoints` (
	`seq` integer PRIMARY KEY NOT NULL,
	`hash` text NOT NULL,
	`signed_at` integer NOT NULL,
	`kid` text NOT NULL,
	`jws` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `audit_keys` (
	`kid` text PRIMARY KEY NOT NULL,
	`public_jwk` text NOT NULL,
	`first_used_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `audit_events_ts_idx` ON `audit_events` (`ts`);