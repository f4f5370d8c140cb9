/**
 * A throwaway copy of this project for running the real dev stack without touching the
 * developer's: its own file backend and its own `.cim-dev/dev`, the same Pulumi.dev.yaml (a
 * copy, so a test may change it), the same node_modules and .tools (symlinked).
 *
 * Sources are copied, not symlinked: Node resolves a symlinked module to its real path, so a
 * program that finds the project root from `__dirname` would otherwise write into the real
 * repo's `.cim-dev/`.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { killCidServicesUnder, killNatsServersUnder } from "./processes";
import { PROJECT_ROOT, pulumiEnv, runPulumi, type PulumiContext } from "./pulumi-cli";

/** Not copied: history, caches (.cache: 100+ MB of Node compile cache the copies share through NODE_COMPILE_CACHE anyway), state, data, and what the program never reads. */
const SKIPPED = [".git", "node_modules", ".tools", ".cim-dev", ".pulumi-state", ".cache", "test", "bench", "docs", ".ci", "policy"];
/** Shared with the real project through a symlink: large and read-only for the program. */
const LINKED = ["node_modules", ".tools"];

/** The dev stack's passphrase (scripts/with-env.sh): Pulumi.dev.yaml's encryption salt is made with it. */
export const DEV_PASSPHRASE = "cim-nats-dev";

export type DevProject = {
  /** Temp folder holding `project/` and `state/`; everything the stack makes lives under it. */
  readonly dir: string;
  /** The project copy (Pulumi.yaml, index.ts, components/, Pulumi.dev.yaml …). */
  readonly projectDir: string;
  /** Where the dev stack keeps its servers: `<projectDir>/.cim-dev/dev`. */
  readonly dataDir: string;
  readonly stack: "dev";
  readonly context: PulumiContext;
  /**
   * SIGKILL every nats-server and CID service under `dir`, remove `dir`; with `destroy`, a
   * `pulumi destroy` first (errors ignored). A throwaway stack needs no destroy: its processes
   * and files are all under `dir`, and destroying it cost a CLI run and a lame-duck stop per
   * server in every e2e file (that destroy works is test/e2e/dev-stack.test.ts's case 6).
   */
  cleanup(options?: { readonly destroy?: boolean }): Promise<{ readonly destroyed: boolean; readonly killed: readonly number[] }>;
};

/** Copies the project into a new temp folder and points a file backend at it. */
/**
 * A new temp folder holding `project/` (this project's sources copied, node_modules and .tools
 * linked) and an empty `state/` for a file backend.
 */
export function copyProject(prefix: string): { readonly dir: string; readonly projectDir: string; readonly stateDir: string } {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
  const projectDir = path.join(dir, "project");
  const stateDir = path.join(dir, "state");
  fs.mkdirSync(projectDir);
  fs.mkdirSync(stateDir);
  for (const entry of fs.readdirSync(PROJECT_ROOT)) {
    const from = path.join(PROJECT_ROOT, entry);
    const to = path.join(projectDir, entry);
    if (LINKED.includes(entry)) fs.symlinkSync(from, to);
    else if (!SKIPPED.includes(entry)) fs.cpSync(from, to, { recursive: true });
  }
  return { dir, projectDir, stateDir };
}

export function createDevProject(prefix = "cim-nats-e2e-"): DevProject {
  const { dir, projectDir, stateDir } = copyProject(prefix);
  const context: PulumiContext = {
    cwd: projectDir,
    env: pulumiEnv(stateDir, { PULUMI_CONFIG_PASSPHRASE: DEV_PASSPHRASE, CIM_NATS_ROOT: projectDir }),
  };
  const cleanup = async (options: { readonly destroy?: boolean } = {}) => {
    let destroyed = false;
    if (options.destroy) try {
      const run = await runPulumi(context, ["destroy", "--yes", "--skip-preview", "-s", "dev"], { allowFailure: true });
      destroyed = run.code === 0;
    } catch {
      // The CLI could not even start: the processes below still go.
    }
    const killed = [...killNatsServersUnder(dir), ...killCidServicesUnder(dir)];
    fs.rmSync(dir, { recursive: true, force: true });
    return { destroyed, killed };
  };
  return { dir, projectDir, dataDir: path.join(projectDir, ".cim-dev", "dev"), stack: "dev", context, cleanup };
}
