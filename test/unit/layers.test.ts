/**
 * The import rules of docs/architecture.md "Layers": inner folders never import outer ones, so the
 * wire format, the tables and the actors can be read (and reused) without the HTTP app or Node.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../helpers/server.ts";

/** Folder → folders (of the project) its files may import. */
const ALLOWED: Record<string, string[]> = {
	protocol: ["protocol"],
	schema: ["schema", "protocol"],
	durable: ["durable", "protocol", "schema"],
	functions: ["functions", "protocol", "schema", "durable"],
	"modules/sdk": ["modules/sdk", "protocol"],
};

function files(dir: string): string[] {
	return readdirSync(dir).flatMap((name) => {
		const path = join(dir, name);
		if (statSync(path).isDirectory()) return files(path);
		return /\.ts$/.test(name) && !name.endsWith(".d.ts") ? [path] : [];
	});
}

/** Project folders a file imports from, as `functions/lib`-style paths relative to the root. */
function imports(file: string): string[] {
	const text = readFileSync(file, "utf8");
	const found: string[] = [];
	for (const m of text.matchAll(/(?:import|export)[^"']*?from\s+["'](\.[^"']+)["']/g)) {
		found.push(relative(ROOT, resolve(file, "..", m[1] as string)));
	}
	return found;
}

describe("layers", () => {
	for (const [folder, allowed] of Object.entries(ALLOWED)) {
		it(`${folder}/ imports only ${allowed.join(", ")}`, () => {
			const wrong = files(join(ROOT, folder)).flatMap((file) =>
				imports(file)
					.filter((target) => !allowed.some((a) => target === a || target.startsWith(`${a}/`)))
					.map((target) => `${relative(ROOT, file)} → ${target}`),
			);
			expect(wrong).toEqual([]);
		});
	}

	it("protocol/ runs anywhere: no node: imports", () => {
		const nodeImports = files(join(ROOT, "protocol")).filter((file) =>
			/from\s+["']node:/.test(readFileSync(file, "utf8")),
		);
		expect(nodeImports.map((f) => relative(ROOT, f))).toEqual([]);
	});
});
