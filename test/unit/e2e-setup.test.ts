import { afterEach, describe, expect, it, vi } from "vitest";

/** Imports the e2e global setup afresh, so that `hasChromium` reads the stubbed environment. */
async function freshSetup() {
	vi.resetModules();
	return import("../e2e/setup.ts");
}

describe("the e2e global setup without Chromium", () => {
	afterEach(() => {
		vi.unstubAllEnvs();
	});

	it("fails the run on CI before building anything", async () => {
		vi.stubEnv("CHROMIUM_PATH", "/nonexistent/chromium");
		vi.stubEnv("CI", "true");
		const { default: setup } = await freshSetup();
		await expect(setup()).rejects.toThrow("Chromium not found at /nonexistent/chromium");
		await expect(setup()).rejects.toThrow("required on CI");
	});

	it("prints a boxed banner saying the browser tests were skipped", async () => {
		vi.stubEnv("CHROMIUM_PATH", "/nonexistent/chromium");
		const { missingChromiumBanner } = await freshSetup();
		const lines = missingChromiumBanner().split("\n");
		expect(lines[1]).toContain("BROWSER TESTS SKIPPED");
		expect(lines.join("\n")).toContain("/nonexistent/chromium");
		// A box: every line is as wide as the rule above it.
		for (const line of lines) expect(line.length).toBe(lines[0]?.length);
	});
});
