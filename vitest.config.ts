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
		],
	},
});
