CREATE TABLE `host_enrollments` (
	`id` text PRIMARY KEY NOT NULL,
	`secret_hash` text NOT NULL,
	`group_id` text NOT NULL,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`used_at` integer,
	`host_id` text,
	FOREIGN KEY (`group_id`) REFERENCES `groups`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `host_policies` (
	`group_id` text PRIMARY KEY NOT NULL,
	`view` text NOT NULL,
	`control` text NOT NULL,
	`files` text NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`group_id`) REFERENCES `groups`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `hosts` (
	`id` text PRIMARY KEY NOT NULL,
	`group_id` text NOT NULL,
	`name` text NOT NULL,
	`platform` text NOT NULL,
	`public_key` text NOT NULL,
	`created_at` integer NOT NULL,
	`last_seen_at` integer,
	`online_since` integer,
	`disabled` integer DEFAULT false NOT NULL,
	FOREIGN KEY (`group_id`) REFERENCES `groups`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `hosts_group_idx` ON `hosts` (`group_id`,`name`);--> statement-breakpoint
ALTER TABLE `support_sessions` ADD `host_id` text;