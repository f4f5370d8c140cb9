/**
 * The program runs transpile-only under Pulumi (PULUMI_NODEJS_TRANSPILE_ONLY, for speed), so the
 * type check lives here: `tsc --noEmit` over the whole project (strict) must report nothing.
 *
 * Incremental, with the same build info file as `npm run typecheck` (.cache/, git-ignored): tsc
 * re-checks only files whose content (or whose dependencies) changed since the last check, and
 * reports the stored diagnostics of the others, so a clean tree checks in a few seconds and an
 * error anywhere still fails this test.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../support/stack-config";

const TYPECHECK_BUILD_INFO = join(PROJECT_ROOT, ".cache", "typecheck.tsbuildinfo");

describe("the project", () => {
  it("type-checks under strict tsc with no errors", () => {
    const tsc = join(PROJECT_ROOT, "node_modules", "typescript", "bin", "tsc");
    const r = spawnSync(process.execPath, [tsc, "--noEmit", "--incremental", "--tsBuildInfoFile", TYPECHECK_BUILD_INFO, "-p", PROJECT_ROOT], { encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
});
