/**
 * Runs the real Pulumi CLI (the pinned `.tools/bin/pulumi`) for tests and benchmarks, against a
 * throwaway file backend, so nothing touches the developer's `.pulumi-state/` or dev stack.
 */
import { appendFileSync } from "node:fs";
import * as path from "node:path";
import { runProcess } from "./run-process";

export const PROJECT_ROOT = path.resolve(__dirname, "..");

export type PulumiRun = {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall time of the command, in ms. */
  readonly ms: number;
};

export type PulumiContext = {
  /** The project directory (holds Pulumi.yaml). */
  readonly cwd: string;
  /** Environment for every command: toolchain PATH, file backend, passphrase. */
  readonly env: NodeJS.ProcessEnv;
};

/**
 * The environment scripts/with-env.sh sets, but with its own state backend and passphrase:
 * the pinned toolchain first on PATH (the CLI, the upstream nodejs language host, the dynamic-
 * provider and provider plugins: all in .tools/bin, found as "ambient" plugins), no update
 * checks, no plugin downloads.
 */
export function pulumiEnv(backendDir: string, overrides: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const tools = [path.join(PROJECT_ROOT, ".tools", "bin"), path.join(PROJECT_ROOT, ".tools", "node", "bin"), path.join(PROJECT_ROOT, "node_modules", ".bin")];
  return {
    ...process.env,
    PATH: [...tools, process.env.PATH ?? ""].join(":"),
    PULUMI_HOME: process.env.PULUMI_HOME ?? path.join(PROJECT_ROOT, ".tools", "pulumi-home"),
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    // The plugins in .tools/bin are ambient (found on PATH): that must not be switched off.
    PULUMI_IGNORE_AMBIENT_PLUGINS: undefined,
    PULUMI_BACKEND_URL: `file://${backendDir}`,
    PULUMI_CONFIG_PASSPHRASE: "cim-nats-test",
    NO_COLOR: "1",
    ...overrides,
  };
}

/**
 * Runs `pulumi <args>`; rejects on a non-zero exit unless `allowFailure`, with the output's tail.
 * `input` goes to stdin (a secret for `config set --secret`: on the command line it would show in `ps`).
 */
export async function runPulumi(
  context: PulumiContext,
  args: readonly string[],
  options: { readonly allowFailure?: boolean; readonly timeoutMs?: number; readonly input?: string } = {},
): Promise<PulumiRun> {
  const started = Date.now();
  const run = await runProcess("pulumi", ["--non-interactive", "--color", "never", ...args], { cwd: context.cwd, env: context.env, input: options.input, timeoutMs: options.timeoutMs ?? 300_000 });
  const code = run.code ?? -1;
  // Where a test's seconds go: CIM_NATS_PULUMI_TRACE=<file> appends one JSON line per CLI run.
  if (process.env.CIM_NATS_PULUMI_TRACE) appendFileSync(process.env.CIM_NATS_PULUMI_TRACE, `${JSON.stringify({ cwd: context.cwd, args: args.join(" ").slice(0, 100), start: started, ms: run.ms, code })}\n`);
  if (code === 0 || options.allowFailure) return { code, stdout: run.stdout, stderr: run.stderr, ms: run.ms };
  const tail = `${run.stdout}\n${run.stderr}`.trim().split("\n").slice(-60).join("\n");
  // The errors are in the Diagnostics section, which a long Outputs section pushes out of the tail.
  const diagnostics = /^Diagnostics:\n[\s\S]*?(?=^(?:Outputs|Resources):)/m.exec(run.stdout)?.[0];
  throw new Error(`pulumi ${args.join(" ")} exited ${run.code ?? run.signal} after ${run.ms} ms:\n${diagnostics && !tail.includes(diagnostics) ? `${diagnostics.trimEnd()}\n…\n` : ""}${tail}`);
}

/** `pulumi stack output --json --show-secrets`, parsed. */
export async function stackOutputs(context: PulumiContext, stack: string): Promise<Record<string, unknown>> {
  const run = await runPulumi(context, ["stack", "output", "--json", "--show-secrets", "-s", stack]);
  return JSON.parse(run.stdout) as Record<string, unknown>;
}

const PRESENT: Readonly<Record<string, string>> = { created: "create", updated: "update", deleted: "delete", replaced: "replace" };

/** The `Resources:` summary counts of an up/preview/refresh/destroy output, e.g. { update: 5, unchanged: 2 } (past tense folded: "updated" → update). */
export function resourceSummary(output: string): Record<string, number> {
  const at = output.lastIndexOf("Resources:");
  if (at < 0) return {};
  const counts: Record<string, number> = {};
  for (const line of output.slice(at).split("\n").slice(1)) {
    const m = /^\s*[-+~]*\s*(\d+) (to )?(create|created|update|updated|delete|deleted|replace|replaced|unchanged|errored)/.exec(line);
    if (!m) {
      if (line.trim() === "") continue;
      break;
    }
    counts[PRESENT[m[3]] ?? m[3]] = Number(m[1]);
  }
  return counts;
}
