import { build } from "../../server/build.ts";

/** Builds dist/ once per test run, so that each server start skips wrangler. */
export default function setup(): void {
	build();
}
