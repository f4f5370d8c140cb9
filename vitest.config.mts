import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Real nats-server processes and Pulumi CLI runs: generous timeouts, files in parallel.
    // Most files wait on processes (servers starting, lame duck, the Pulumi engine), so more
    // workers than cores pays: on 2 cores, 13 of the slowest non-e2e files took 131 s with 2
    // workers, 76 s with 4, 87 s with 6 (same load). Override with --maxWorkers.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    maxWorkers: 4,
    pool: "forks",
    reporters: ["default", "./test/support/summary-reporter.ts"],
  },
});
