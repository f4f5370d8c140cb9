/**
 * The program runs transpile-only under Pulumi (PULUMI_NODEJS_TRANSPILE_ONLY, for speed), so the
 * type check lives here: `tsc --noEmit` over the whole project (strict) must report nothing.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../support/stack-config";

describe("the project", () => {
  it("type-checks under strict tsc with no errors", () => {
    const tsc = join(PROJECT_ROOT, "node_modules", "typescript", "bin", "tsc");
    const r = spawnSync(process.execPath, [tsc, "--noEmit", "-p", PROJECT_ROOT], { encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
});
