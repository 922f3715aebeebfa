import { build } from "../../server/build.ts";
import { hasChromium, MISSING_CHROMIUM } from "../helpers/browser.ts";

/**
 * The banner a run without Chromium prints at its start and again after the summary: one warning
 * line among hundreds of passing tests is easy to miss, and "all green" would then be wrong.
 */
export function missingChromiumBanner(): string {
	const lines = [
		"BROWSER TESTS SKIPPED: every test in test/e2e/ was skipped, nothing was checked in Chromium.",
		MISSING_CHROMIUM,
		"Set CHROMIUM_PATH to use another Chromium. On CI (CI=true) a missing browser fails the run.",
	];
	const width = Math.max(...lines.map((l) => l.length));
	const rule = `+${"-".repeat(width + 2)}+`;
	return [rule, ...lines.map((l) => `| ${l.padEnd(width)} |`), rule].join("\n");
}

/**
 * Builds dist/ (and the browser bundles) once, and says loudly when the browser is missing, at
 * the start and in the teardown after the summary. On CI (`CI=true`, set by .ci/run, which
 * installs Chromium) a missing browser fails.
 */
export default async function setup(): Promise<(() => void) | undefined> {
	if (!hasChromium) {
		if (process.env.CI === "true")
			throw new Error(MISSING_CHROMIUM.replace("skipped", "required on CI"));
		console.warn(missingChromiumBanner());
	}
	await build();
	if (hasChromium) return undefined;
	return () => {
		process.stderr.write(`\n${missingChromiumBanner()}\n`);
	};
}
