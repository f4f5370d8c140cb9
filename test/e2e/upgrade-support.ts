/**
 * What the upgrade tests (upgrade-dev, upgrade-accounts-dev) share: a release's dev config on a
 * test's own addresses, and the changed steps of a `--json` preview or up.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { DevProject } from "../../harness/dev-project";
import { PROJECT_ROOT } from "../support/stack-config";
import { changes, lastJson, performedSteps } from "./plan-steps";

/** Writes the dev config of `revision` (or this checkout's) into the project, on `net`'s addresses. */
export function useConfigOf(p: DevProject, net: string, revision?: string): void {
  const text = revision
    ? execFileSync("git", ["-C", PROJECT_ROOT, "show", `${revision}:Pulumi.dev.yaml`], { encoding: "utf8" })
    : fs.readFileSync(path.join(PROJECT_ROOT, "Pulumi.dev.yaml"), "utf8");
  fs.writeFileSync(path.join(p.projectDir, "Pulumi.dev.yaml"), text.replace(/127\.0\.0\./g, `${net}.`));
}

/** "op name" of every step of a `--json` run's plan (preview) or engine events (up) that changes something. */
export function changedSteps(json: string, performed: boolean): string[] {
  return changes(performed ? performedSteps(json) : lastJson(json).steps);
}
