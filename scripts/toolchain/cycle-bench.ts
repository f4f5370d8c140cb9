/**
 * Times the dev-stack cycle under a given Pulumi CLI (to compare CLI versions against the same
 * language host and plugins): in a copy of the project with its own file backend and the dev
 * topology moved to 127.0.61.x (never the developer's dev stack or its addresses), `up` from
 * nothing, a no-change `preview`, `refresh`, a no-change `up`, `destroy`.
 *
 *   CIM_NATS_CLI_DIR=/path/with/pulumi bash scripts/with-env.sh tsx scripts/toolchain/cycle-bench.ts [runs]
 *
 * CIM_NATS_CLI_DIR (default .tools/bin) goes first on PATH; give it symlinks to .tools/bin's
 * plugins so the CLI finds them beside itself.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { createDevProject } from "../../harness/dev-project";
import { resourceSummary, runPulumi } from "../../harness/pulumi-cli";

async function cycle(): Promise<Record<string, number>> {
  const project = createDevProject("cim-nats-cycle-");
  const cliDir = process.env.CIM_NATS_CLI_DIR;
  if (cliDir) (project.context.env as NodeJS.ProcessEnv).PATH = `${cliDir}:${project.context.env.PATH}`;
  const config = path.join(project.projectDir, "Pulumi.dev.yaml");
  fs.writeFileSync(config, fs.readFileSync(config, "utf8").replace(/address: 127\.0\.0\.(\d+)/g, "address: 127.0.61.$1"));
  const times: Record<string, number> = {};
  try {
    const version = (await runPulumi(project.context, ["version"])).stdout.trim();
    console.error(`cli ${version}`);
    await runPulumi(project.context, ["stack", "select", "--create", "dev"]);
    const up = await runPulumi(project.context, ["up", "--yes", "--skip-preview", "-s", "dev"]);
    times.up = up.ms;
    times.resources = resourceSummary(up.stdout).create ?? 0;
    const preview = await runPulumi(project.context, ["preview", "-s", "dev"]);
    times.preview = preview.ms;
    const changes = Object.keys(resourceSummary(preview.stdout)).filter((k) => k !== "unchanged");
    if (changes.length) throw new Error(`preview after up is not a no-change one: ${JSON.stringify(resourceSummary(preview.stdout))}`);
    times.refresh = (await runPulumi(project.context, ["refresh", "--yes", "--skip-preview", "-s", "dev"])).ms;
    times.upAgain = (await runPulumi(project.context, ["up", "--yes", "--skip-preview", "-s", "dev"])).ms;
    times.destroy = (await runPulumi(project.context, ["destroy", "--yes", "--skip-preview", "-s", "dev"])).ms;
  } finally {
    await project.cleanup();
  }
  return times;
}

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 1);
  for (let i = 0; i < runs; i++) console.log(JSON.stringify(await cycle()));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
