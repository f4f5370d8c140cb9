/** Runs Debian's nix-instantiate (installed by `npm run setup`) without a daemon or a real store. */
import { spawnSync } from "node:child_process";

export type NixRun = { readonly ok: boolean; readonly stdout: string; readonly stderr: string };

export function nixInstantiate(args: readonly string[], cwd?: string): NixRun {
  const run = spawnSync("nix-instantiate", ["--store", "dummy://", ...args], { encoding: "utf8", cwd, timeout: 60_000 });
  if (run.error) {
    throw new Error(`nix-instantiate could not run (${run.error.message}); \`npm run setup\` installs Debian's nix-bin`);
  }
  return { ok: run.status === 0, stdout: run.stdout, stderr: run.stderr };
}

/** Evaluates a Nix expression strictly and returns its JSON value. */
export function nixEvalJson(expression: string, cwd?: string): unknown {
  const run = nixInstantiate(["--eval", "--strict", "--json", "-E", expression], cwd);
  if (!run.ok) throw new Error(`nix-instantiate --eval failed for ${expression}:\n${run.stderr}`);
  return JSON.parse(run.stdout);
}
