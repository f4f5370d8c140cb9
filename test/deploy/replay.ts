/**
 * Runs the @pulumi/command resources a program declared (as recorded by the mocks) against a
 * real SSH host, the way the command provider would: a Command runs the script its planned
 * operation selects (engine-plan.ts `commandRun`: `create` when created or replaced, `update`
 * when updated) with `stdin` over an SSH session; a CopyToRemote writes its text asset to
 * `remotePath` over SFTP, creating the file with default permissions like the provider's Go
 * SFTP client. Resources start as soon as everything they depend on has finished, so ordering
 * comes only from the declared dependencies, as in the engine. Stand-in for
 * pulumi-resource-command, which cannot be built here (see docs/prod.md).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Registered } from "../proxmox/mocks";
import { commandRun, PlannedOperation } from "./engine-plan";

export type ReplayStep = {
  readonly name: string;
  readonly startedAt: number;
  readonly finishedAt: number;
  readonly stdout: string;
};

const unsecret = (v: any) => (v && typeof v === "object" && "4dabf18193072939515e22adb298388d" in v ? v.value : v);

function run(cmd: string, args: readonly string[], stdin: string): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += String(d)));
    child.stderr.on("data", (d) => (stderr += String(d)));
    child.once("error", reject);
    child.once("close", (code) => (code === 0 ? resolve({ stdout, stderr }) : reject(new Error(`${cmd} exited ${code}: ${stderr}${stdout}`))));
    child.stdin.end(stdin);
  });
}

/**
 * Replays `resources` (Command and CopyToRemote only); `urnOf` maps names to the URNs the
 * dependency lists use; `operationOf` is what the engine planned for each (engine-plan.ts), never
 * a choice of the test.
 */
export async function replay(
  resources: readonly Registered[],
  urnOf: (name: string) => string,
  sshOptions: readonly string[],
  operationOf: (r: Registered) => PlannedOperation,
): Promise<ReplayStep[]> {
  const steps: ReplayStep[] = [];
  const uploads = mkdtempSync("/tmp/cim-h5-upload-");
  const byUrn = new Map(resources.map((r) => [urnOf(r.name), r]));
  const started = new Map<string, Promise<void>>();
  try {
    const exec = async (r: Registered): Promise<void> => {
      const conn = unsecret(r.inputs.connection);
      // A pinned host key, as the provider pins it: only that key is accepted (ssh takes the
      // first value of an option, so these win over sshOptions' StrictHostKeyChecking=no).
      const pinned = conn.hostKey === undefined ? [] : pinnedKeyOptions(uploads, r.name, conn.host, conn.port, unsecret(conn.hostKey));
      const target = ["-p", String(conn.port), ...pinned, ...sshOptions];
      const startedAt = Date.now();
      let stdout = "";
      if (r.type === "command:remote:Command") {
        const command = commandRun(operationOf(r), r.inputs);
        if (command === undefined) throw new Error(`${r.name}: nothing to run for a resource that did not change`);
        stdout = (await run("ssh", [...target, `${conn.user}@${conn.host}`, command], r.inputs.stdin ?? "")).stdout;
      } else if (r.type === "command:remote:CopyToRemote") {
        const local = join(uploads, r.name);
        writeFileSync(local, await unsecret(r.inputs.source).text, { mode: 0o644 });
        await run("sftp", ["-P", String(conn.port), ...pinned, ...sshOptions, "-b", "-", `${conn.user}@${conn.host}`], `put ${local} ${r.inputs.remotePath}\n`);
      } else {
        throw new Error(`cannot replay ${r.type} ${r.name}`);
      }
      steps.push({ name: r.name, startedAt, finishedAt: Date.now(), stdout });
    };
    const start = (r: Registered): Promise<void> => {
      let p = started.get(r.name);
      if (!p) {
        const deps = r.dependencies.map((u) => byUrn.get(u)).filter((d): d is Registered => d !== undefined);
        p = Promise.all(deps.map(start)).then(() => exec(r));
        started.set(r.name, p);
      }
      return p;
    };
    await Promise.all(resources.map(start));
    return steps;
  } finally {
    rmSync(uploads, { recursive: true, force: true });
  }
}

/** `ssh` options that accept exactly `hostKey` for `[host]:port` (a known_hosts file of one line). */
function pinnedKeyOptions(dir: string, name: string, host: string, port: number, hostKey: string): string[] {
  const knownHosts = join(dir, `${name}.known_hosts`);
  writeFileSync(knownHosts, `[${host}]:${port} ${hostKey}\n`);
  return ["-o", "StrictHostKeyChecking=yes", "-o", `UserKnownHostsFile=${knownHosts}`, "-o", "HostKeyAlgorithms=ssh-ed25519"];
}
