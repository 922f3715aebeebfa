import { build } from "../../server/build.ts";
import { hasChromium, MISSING_CHROMIUM } from "../helpers/browser.ts";

/**
 * Builds dist/ (and the browser bundles) once, and says once, in one line, when the browser is
 * missing. On CI (`CI=true`, set by .ci/run, which installs Chromium) a missing browser fails.
 */
export default async function setup(): Promise<void> {
	if (!hasChromium) {
		if (process.env.CI === "true")
			throw new Error(MISSING_CHROMIUM.replace("skipped", "required on CI"));
		console.warn(MISSING_CHROMIUM);
	}
	await build();
}
