/**
 * A throwaway Pulumi project for the toolchain tests: a temp folder with `project/` (Pulumi.yaml,
 * package.json, this repo's node_modules symlinked, the files given) and `state/` (its own file
 * backend), run with the environment of harness/pulumi-cli.ts (the pinned CLI, language host and
 * plugins from .tools/). Nothing touches the developer's .pulumi-state or dev stack.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { PROJECT_ROOT, pulumiEnv, runPulumi, type PulumiContext, type PulumiRun } from "../../harness/pulumi-cli";

export type Throwaway = {
  /** The temp folder (holds project/ and state/). */
  readonly dir: string;
  readonly projectDir: string;
  readonly stateDir: string;
  readonly context: PulumiContext;
};

/** Why the real-CLI toolchain tests cannot run here, or "" when they can. */
export function toolchainMissing(): string {
  const missing = ["pulumi", "pulumi-language-nodejs", "pulumi-resource-pulumi-nodejs"].filter(
    (tool) => !fs.existsSync(path.join(PROJECT_ROOT, ".tools", "bin", tool)),
  );
  return missing.length === 0 ? "" : `${missing.join(", ")} missing from .tools/bin: run npm run setup`;
}

/** Makes the project; `files` maps paths under project/ to their content. */
export function createThrowaway(name: string, files: Record<string, string>, env: NodeJS.ProcessEnv = {}): Throwaway {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), `cim-nats-${name}-`)));
  const projectDir = path.join(dir, "project");
  const stateDir = path.join(dir, "state");
  fs.mkdirSync(projectDir);
  fs.mkdirSync(stateDir);
  fs.symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(projectDir, "node_modules"));
  fs.writeFileSync(path.join(projectDir, "Pulumi.yaml"), `name: ${name}\nruntime: nodejs\ndescription: throwaway project of a toolchain test\n`);
  fs.writeFileSync(path.join(projectDir, "package.json"), JSON.stringify({ name, private: true, main: "index.ts" }));
  for (const [file, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(projectDir, file)), { recursive: true });
    fs.writeFileSync(path.join(projectDir, file), content);
  }
  // CIM_NATS_ROOT (with-env.sh's checkout) is dropped: the project must be found without it.
  const base = pulumiEnv(stateDir, { PULUMI_CONFIG_PASSPHRASE: "cim-nats-toolchain-test", ...env });
  delete base.CIM_NATS_ROOT;
  return { dir, projectDir, stateDir, context: { cwd: projectDir, env: base } };
}

/**
 * runPulumi, but a failure's message has its JavaScript stack lines defused ("at x (file:1:2)" →
 * "at: x (file:1:2)"): vitest would otherwise try to read those files' source maps and crash its
 * report on tsx's bundled ones, hiding the real error.
 */
export async function pulumi(context: PulumiContext, args: readonly string[]): Promise<PulumiRun> {
  try {
    return await runPulumi(context, args);
  } catch (err) {
    throw new Error((err as Error).message.replace(/^(\s*)at /gm, "$1at: "));
  }
}
