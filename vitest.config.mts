import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Real nats-server processes and Pulumi CLI runs: generous timeouts, files in parallel
    // but bounded, since CI has 2 cores.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    maxWorkers: 2,
    pool: "forks",
    reporters: ["default", "./test/support/summary-reporter.ts"],
  },
});
