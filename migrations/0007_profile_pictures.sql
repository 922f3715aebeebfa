ALTER TABLE `users` ADD `picture_type` text;--> statement-breakpoint
ALTER TABLE `users` ADD `picture_updated_at` integer;