import { defineConfig } from "vitest/config"

// Under CI (CI=true) a JSON report is written beside the console one, so that `.ci/run` can end
// with a plain "N passed, N failed" line.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    pool: "forks",
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: process.env.CI ? ["default", "json"] : ["default"],
    ...(process.env.CI ? { outputFile: { json: "test-results.json" } } : {}),
  },
})
