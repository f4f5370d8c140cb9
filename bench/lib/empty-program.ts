/**
 * The engine's floor for the benchmarks: an empty TypeScript program's `up` from nothing, with
 * this project's node_modules, on a throwaway file backend.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { PROJECT_ROOT, pulumiEnv, runPulumi, type PulumiContext } from "../../harness/pulumi-cli";

/** An empty TypeScript program with this project's node_modules: what `up` costs with nothing to do. */
export async function emptyProgramUp(): Promise<number> {
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
