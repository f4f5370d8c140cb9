/** Runs Debian's nix-instantiate (installed by `npm run setup`) without a daemon or a real store. */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

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

/**
 * nixpkgs' lib for `lib.evalModules`: CIM_NATS_NIXPKGS_LIB (a lib dir or the snapshot tarball),
 * default ../shared/nixpkgs-lib beside the clone; a tarball is extracted under `work`. Undefined
 * when there is none (the real-evaluation tests then say they skip).
 */
export function nixpkgsLib(work: string): string | undefined {
  const root = path.resolve(__dirname, "..", "..");
  const given = process.env.CIM_NATS_NIXPKGS_LIB ?? path.resolve(root, "..", "shared", "nixpkgs-lib");
  if (!fs.existsSync(given)) return undefined;
  if (fs.existsSync(path.join(given, "default.nix"))) return given;
  const tarball = fs.statSync(given).isDirectory() ? fs.readdirSync(given).find((f) => /^nixpkgs-lib-.*\.tar\.gz$/.test(f)) : path.basename(given);
  if (!tarball) return undefined;
  const into = path.join(work, "nixpkgs-lib");
  fs.mkdirSync(into, { recursive: true });
  const tar = spawnSync("tar", ["xzf", fs.statSync(given).isDirectory() ? path.join(given, tarball) : given, "-C", into], { encoding: "utf8" });
  if (tar.status !== 0) throw new Error(`cannot extract ${tarball}: ${tar.stderr}`);
  return path.join(into, "lib");
}
