/**
 * Times the dev stack under the real Pulumi CLI, median of N runs (default 3, BENCH_RUNS):
 * `pulumi up -s dev` from nothing, a no-change `pulumi up`, and `pulumi destroy`, beside an
 * empty TypeScript Pulumi program's `up` from nothing in the same run — the engine's floor
 * (CLI start, language host, ts-node, one Stack resource). Every run uses a fresh copy of the
 * project and its own file backend (harness/dev-project.ts), never the developer's dev stack.
 *
 *   bash scripts/with-env.sh tsx bench/dev-stack.ts
 */
import * as os from "node:os";
import { createDevProject } from "../harness/dev-project";
import { emptyProgramUp } from "./lib/empty-program";
import { resourceSummary, runPulumi } from "../harness/pulumi-cli";

type Sample = { readonly emptyUp: number; readonly devUp: number; readonly noChangeUp: number; readonly destroy: number; readonly resources: number };


async function devStackRun(): Promise<Omit<Sample, "emptyUp">> {
  const project = createDevProject("cim-nats-bench-");
  try {
    await runPulumi(project.context, ["stack", "select", "--create", "dev"]);
    const up = await runPulumi(project.context, ["up", "--yes", "--skip-preview", "-s", "dev"]);
    const created = resourceSummary(up.stdout).create ?? 0;
    const again = await runPulumi(project.context, ["up", "--yes", "--skip-preview", "-s", "dev"]);
    const summary = resourceSummary(again.stdout);
    if (Object.keys(summary).some((k) => k !== "unchanged")) {
      throw new Error(`the second up was not a no-change run: ${JSON.stringify(summary)}`);
    }
    const destroy = await runPulumi(project.context, ["destroy", "--yes", "--skip-preview", "-s", "dev"]);
    return { devUp: up.ms, noChangeUp: again.ms, destroy: destroy.ms, resources: created };
  } finally {
    await project.cleanup();
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function main(): Promise<void> {
  const runs = Number(process.env.BENCH_RUNS ?? 3);
  const samples: Sample[] = [];
  for (let i = 0; i < runs; i++) {
    // Interleaved, so a machine that slows down over the run affects both sides alike.
    const emptyUp = await emptyProgramUp();
    const dev = await devStackRun();
    samples.push({ emptyUp, ...dev });
    console.error(`run ${i + 1}/${runs}: empty up ${seconds(emptyUp)}, dev up ${seconds(dev.devUp)}, no-change up ${seconds(dev.noChangeUp)}, destroy ${seconds(dev.destroy)}`);
  }
  const m = (k: keyof Sample) => median(samples.map((s) => s[k]));
  const floor = m("emptyUp");
  const rows: [string, number][] = [
    ["empty program: pulumi up (engine floor)", floor],
    [`dev stack: pulumi up from nothing (${m("resources")} resources)`, m("devUp")],
    ["dev stack: pulumi up, no changes", m("noChangeUp")],
    ["dev stack: pulumi destroy", m("destroy")],
  ];
  console.log(`\ncim-nats dev stack under the real Pulumi CLI — median of ${runs} runs, ${os.cpus().length} CPUs\n`);
  console.log(`${"what".padEnd(52)} ${"median".padStart(9)}   × floor`);
  for (const [what, ms] of rows) console.log(`${what.padEnd(52)} ${seconds(ms).padStart(9)}   ${(ms / floor).toFixed(2)}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
