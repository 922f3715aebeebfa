import { build } from "../../server/build.ts";

/** Builds dist/ once per test run, so that each server start skips wrangler. */
export default async function setup(): Promise<void> {
	await build();
}
