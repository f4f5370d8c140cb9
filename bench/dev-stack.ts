/**
 * Times the dev stack under the real Pulumi CLI, median of N runs (default 3, BENCH_RUNS):
 * `pulumi up -s dev` from nothing, a no-change `pulumi up`, and `pulumi destroy`, beside an
 * empty TypeScript Pulumi program's `up` from nothing in the same run — the engine's floor
 * (CLI start, language host, ts-node, one Stack resource). Every run uses a fresh copy of the
 * project and its own file backend (test/e2e/dev-project.ts), never the developer's dev stack.
 *
 *   bash scripts/with-env.sh tsx bench/dev-stack.ts
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createDevProject } from "../test/e2e/dev-project";
import { PROJECT_ROOT, pulumiEnv, resourceSummary, runPulumi, type PulumiContext } from "../test/e2e/pulumi-cli";

type Sample = { readonly emptyUp: number; readonly devUp: number; readonly noChangeUp: number; readonly destroy: number; readonly resources: number };

/** An empty TypeScript program with this project's node_modules: what `up` costs with nothing to do. */
async function emptyProgramUp(): Promise<number> {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "cim-nats-bench-empty-")));
  try {
    const project = path.join(dir, "project");
    fs.mkdirSync(project);
    fs.mkdirSync(path.join(dir, "state"));
    fs.writeFileSync(path.join(project, "Pulumi.yaml"), "name: empty\nruntime:\n  name: nodejs\n  options:\n    typescript: true\nmain: index.ts\n");
    fs.writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "empty", private: true, devDependencies: { typescript: "*" } }));
    fs.writeFileSync(path.join(project, "index.ts"), 'import * as pulumi from "@pulumi/pulumi";\nexport const stack = pulumi.getStack();\n');
    fs.copyFileSync(path.join(PROJECT_ROOT, "tsconfig.json"), path.join(project, "tsconfig.json"));
    fs.symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(project, "node_modules"));
    const context: PulumiContext = { cwd: project, env: pulumiEnv(path.join(dir, "state")) };
    await runPulumi(context, ["stack", "init", "bench"]);
    return (await runPulumi(context, ["up", "--yes", "--skip-preview", "-s", "bench"])).ms;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

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
