/**
 * `pulumi up --yes` without --skip-preview prints its preview ("Previewing update (<stack>):",
 * the steps, a `Resources:` summary), then the update ("Updating (<stack>):", its summary): one
 * CLI run shows both what the preview planned and what the up did, where a test would otherwise
 * run `preview` and then `up --skip-preview` (two runs, the program and plugins loaded twice).
 */
import { resourceSummary } from "./pulumi-cli";

export type UpSummaries = {
  /** The preview's `Resources:` counts, e.g. { update: 3, unchanged: 12 }. */
  readonly preview: Record<string, number>;
  /** The update's counts (past tense folded: "updated" → update). */
  readonly up: Record<string, number>;
};

/** Both summaries of an `up --yes` run's stdout; throws when it has no preview part (--skip-preview). */
export function upSummaries(stdout: string): UpSummaries {
  const at = stdout.search(/^Updating \(/m);
  if (!stdout.startsWith("Previewing update (") || at < 0) throw new Error(`not the output of an up with its preview:\n${stdout.slice(0, 400)}`);
  return { preview: resourceSummary(stdout.slice(0, at)), up: resourceSummary(stdout.slice(at)) };
}
