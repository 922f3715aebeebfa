import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { AUDIT_EVENT_TYPES } from "../../protocol/audit-events.ts";
import { ROOT } from "../helpers/server.ts";

/** The event types docs/audit.md documents as written (its tables, without "Planned"). */
function documentedTypes(): string[] {
	const text = readFileSync(join(ROOT, "docs/audit.md"), "utf8");
	const planned = text.indexOf("### Planned");
	const afterPlanned = text.indexOf("\n### ", planned + 1);
	const written = text.slice(0, planned) + text.slice(afterPlanned);
	const types = new Set<string>();
	for (const line of written.split("\n")) {
		const first = /^\|([^|]+)\|/.exec(line)?.[1] ?? "";
		for (const m of first.matchAll(/`([a-z]+\.[a-z_]+)`/g)) types.add(m[1] as string);
	}
	return [...types].sort();
}

describe("the audit event catalogue", () => {
	it("lists exactly the types docs/audit.md documents", () => {
		expect([...AUDIT_EVENT_TYPES].sort()).toEqual(documentedTypes());
	});

	it("has each type once", () => {
		expect(new Set(AUDIT_EVENT_TYPES).size).toBe(AUDIT_EVENT_TYPES.length);
	});
});
