import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Real nats-server processes and Pulumi CLI runs: generous timeouts, files in parallel.
    // Most files wait on processes (servers starting, lame duck, the Pulumi engine), so more
    // workers than cores pays: on 2 cores, 13 of the slowest non-e2e files took 131 s with 2
    // workers, 76 s with 4, 87 s with 6 (same load). With the e2e files, 4 workers ran four
    // 7-server stacks at once: day2 slowed from ~260 s to 410 s and a hub stream placement failed
    // ("peer offline") under the load; 3 passed clean (whole suite 328 s, day2 256 s, the long
    // pole). Override with --maxWorkers.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    maxWorkers: 3,
    pool: "forks",
    reporters: ["default", "./test/support/summary-reporter.ts"],
  },
});
