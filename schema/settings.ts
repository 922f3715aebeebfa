import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import * as z from "zod";
import type { Db } from "./db.ts";

/** Server-wide settings an admin changes at run time; one JSON value per key. */
export const settings = sqliteTable("settings", {
	key: text("key").primaryKey(),
	value: text("value", { mode: "json" }).notNull(),
	updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
});

/** Every known setting with its schema and default; unknown keys are never read. */
export const SETTINGS = {
	/** Every user must log in with a TOTP code; users without one may only enrol. */
	requireTotp: z.boolean().default(false),
} as const;

export type SettingKey = keyof typeof SETTINGS;
export type SettingValues = { [K in SettingKey]: z.output<(typeof SETTINGS)[K]> };

/** All settings, with defaults for the unset ones and for stored values that no longer parse. */
export async function getSettings(db: Db): Promise<SettingValues> {
	const rows = await db.select().from(settings);
	const stored = new Map(rows.map((r) => [r.key, r.value]));
	const out: Record<string, unknown> = {};
	for (const [key, schema] of Object.entries(SETTINGS)) {
		const parsed = schema.safeParse(stored.get(key));
		out[key] = parsed.success ? parsed.data : schema.parse(undefined);
	}
	return out as SettingValues;
}

/** Stores one setting. */
export async function setSetting<K extends SettingKey>(
	db: Db,
	key: K,
	value: SettingValues[K],
): Promise<void> {
	const updatedAt = new Date();
	await db
		.insert(settings)
		.values({ key, value, updatedAt })
		.onConflictDoUpdate({ target: settings.key, set: { value, updatedAt } });
}
