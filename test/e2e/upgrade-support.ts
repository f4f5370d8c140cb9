/**
 * What the upgrade tests (upgrade-dev, upgrade-accounts-dev) share: a release's dev config on a
 * test's own addresses, and the changed steps of a `--json` preview or up.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { DevProject } from "../../harness/dev-project";
import { PROJECT_ROOT } from "../support/stack-config";

/** Writes the dev config of `revision` (or this checkout's) into the project, on `net`'s addresses. */
export function useConfigOf(p: DevProject, net: string, revision?: string): void {
  const text = revision
    ? execFileSync("git", ["-C", PROJECT_ROOT, "show", `${revision}:Pulumi.dev.yaml`], { encoding: "utf8" })
    : fs.readFileSync(path.join(PROJECT_ROOT, "Pulumi.dev.yaml"), "utf8");
  fs.writeFileSync(path.join(p.projectDir, "Pulumi.dev.yaml"), text.replace(/127\.0\.0\./g, `${net}.`));
}

type Step = { op: string; urn: string };
/** "op name" of every step of a `--json` run's plan or engine events that changes something. */
export function changedSteps(json: string, performed: boolean): string[] {
  let steps: Step[] = [];
  if (performed) {
    for (const line of json.split("\n")) if (line.startsWith("{")) steps.push(...((JSON.parse(line) as { resourcePreEvent?: { metadata: Step } }).resourcePreEvent ? [(JSON.parse(line) as { resourcePreEvent: { metadata: Step } }).resourcePreEvent.metadata] : []));
  } else {
    const at = [...json.matchAll(/^\{/gm)].map((m) => m.index!).reverse().find((i) => {
      try {
        JSON.parse(json.slice(i));
        return true;
      } catch {
        return false;
      }
    });
    steps = (JSON.parse(json.slice(at)) as { steps?: Step[] }).steps ?? [];
  }
  return [...new Set(steps.filter((x) => x.op !== "same" && x.op !== "read" && !x.urn.endsWith("pulumi:pulumi:Stack")).map((x) => `${x.op === "create-replacement" || x.op === "delete-replaced" ? "replace" : x.op} ${x.urn.split("::").pop()}`))].sort();
}
