import { defineConfig } from "vitest/config";

export default defineConfig({
	test: {
		projects: [
			{
				test: {
					name: "unit",
					include: ["test/unit/**/*.test.ts"],
				},
			},
			{
				test: {
					name: "integration",
					include: ["test/integration/**/*.test.ts"],
					// Builds the worker bundle once; every test file then starts its own server on port 0.
					globalSetup: ["test/helpers/global-setup.ts"],
					testTimeout: 60_000,
					hookTimeout: 120_000,
					// Each file runs real workerd processes: two at a time fits the machine's two cores.
					maxWorkers: 2,
				},
			},
			{
				test: {
					name: "e2e",
					include: ["test/e2e/**/*.test.ts"],
					// Builds like the integration setup, and says once if Chromium is missing (fails on CI).
					globalSetup: ["test/e2e/setup.ts"],
					testTimeout: 120_000,
					hookTimeout: 120_000,
					// A browser and a server per file: one file at a time on two cores. Two at a time
					// saved about 100 s but slowed the browser's software video encoder enough that a
					// resumed console's first picture took 1.2 s instead of under one.
					maxWorkers: 1,
				},
			},
		],
	},
});
