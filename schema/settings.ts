import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import * as z from "zod";
import { linkAllowListSchema } from "../protocol/links.ts";
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
	/** The support terms a customer accepts before anything flows (when a session requires it). */
	termsText: z
		.string()
		.min(1)
		.max(20_000)
		.default(
			"Remote support terms: the supporter may see and, with your permission, control your screen for this session only. You can end the session at any time with STOP. The session is recorded in the support protocol.",
		),
	/**
	 * The same terms for customers whose page is in German (`/join?lang=de`, a German browser):
	 * they read these and sign their hash. They name the German page's STOPP button.
	 */
	termsTextDe: z
		.string()
		.min(1)
		.max(20_000)
		.default(
			"Bedingungen für die Fernwartung: Der Supporter kann Ihren Bildschirm nur für diese Sitzung sehen und, wenn Sie es erlauben, steuern. Sie können die Sitzung jederzeit mit STOPP beenden. Die Sitzung wird im Support-Protokoll festgehalten.",
		),
	/** Sessions require the customer's acceptance of the terms unless the supporter turns it off. */
	requireTerms: z.boolean().default(true),
	/** Which side shows its screen by default. */
	defaultView: z.enum(["customer", "supporter"]).default("customer"),
	/** How long an issued support ID can be typed in. */
	sessionCodeTtlMinutes: z.int().min(1).max(60).default(10),
	/** How long a session waits with nobody connected before it ends (participants may resume). */
	sessionIdleSeconds: z.int().min(10).max(3600).default(600),
	/**
	 * Whole sessions' audit events older than this many days are deleted by cutting the chain at
	 * a signed checkpoint (docs/audit.md, "Retention"); 0 keeps the protocol for ever.
	 */
	auditRetentionDays: z.int().min(0).max(36_500).default(0),
	/**
	 * Hosts whose links the warning page (`/link`) marks as allowed by the administrator: exact
	 * names or `*.example.org`; links still go through the page (docs/web.md, "Links").
	 */
	linkAllowList: linkAllowListSchema.default([]),
	/**
	 * Open (unused, unexpired) host enrolment tokens a group may have, and as many again a user
	 * who makes them: a roll-out's worth, not an unbounded pile of live credentials.
	 */
	maxOpenEnrollments: z.int().min(1).max(10_000).default(100),
	/** Live sessions (joined, or with a support ID still valid) one supporter may have at once. */
	maxLiveSessionsPerSupporter: z.int().min(1).max(1000).default(20),
	/**
	 * A customer who typed a support ID waits until the supporter admits them (name, address and
	 * time shown); off, a valid ID opens the session at once. A guessed ID is worth nothing with it.
	 */
	requireAdmission: z.boolean().default(true),
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
