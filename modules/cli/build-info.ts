/**
 * What the module knows about its own build. `npm run build:modules` (server/build-modules.ts)
 * bundles the CLI with esbuild and defines `globalThis.FERNWART_BUILD` as the JSON text of
 * {@link BuildInfo}: the version it was built as and the server's module-signing public key,
 * which the executable thereby carries pinned from the start. Run from source
 * (`npm run fernwart`), there is no such define: the version comes from package.json and no key
 * is built in.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import * as z from "zod";
import { moduleVersionSchema } from "../../protocol/module-manifest.ts";

declare global {
	/** Replaced at bundle time by esbuild's `define`; undefined when run from source. */
	var FERNWART_BUILD: string | undefined;
}

const buildInfoSchema = z.strictObject({
	version: moduleVersionSchema,
	/** The module-signing public key (raw Ed25519, base64url) of the server that built it. */
	moduleKey: z
		.string()
		.regex(/^[A-Za-z0-9_-]{43}$/)
		.nullable(),
});

export interface BuildInfo extends z.infer<typeof buildInfoSchema> {
	/** True inside a single executable application (Node SEA), whose file `update` may replace. */
	sea: boolean;
}

/** The JSON text build:modules defines; exported so that the build and this reader agree. */
export function encodeBuildInfo(info: z.infer<typeof buildInfoSchema>): string {
	return JSON.stringify(buildInfoSchema.parse(info));
}

/** Whether this process is a Node single executable application (Node SEA docs, `isSea()`). */
function isSea(): boolean {
	try {
		const sea = createRequire(process.execPath)("node:sea") as { isSea(): boolean };
		return sea.isSea();
	} catch {
		return false; // a Node without SEA support is never one
	}
}

/** This module's build; throws if the defined build info is malformed (a broken build). */
export function buildInfo(): BuildInfo {
	const defined = globalThis.FERNWART_BUILD;
	if (defined !== undefined) return { ...buildInfoSchema.parse(JSON.parse(defined)), sea: isSea() };
	const pkg = z
		.object({ version: moduleVersionSchema })
		.parse(JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")));
	return { version: pkg.version, moduleKey: null, sea: isSea() };
}
