/**
 * Runs the @pulumi/command resources a program declared (as recorded by the mocks) the way the
 * command provider would: a remote Command runs the script its planned operation selects
 * (engine-plan.ts `commandRun`: `create` when created or replaced, `update` when updated) with
 * `stdin` over an SSH session; a local Command runs it with `/bin/sh -c` on this machine (its
 * `environment` added to the environment the deploy runs with); a CopyToRemote writes its text
 * asset to `remotePath` over SFTP, creating the file with default permissions like the
 * provider's Go SFTP client. Resources start as soon as everything they depend on has finished,
 * so ordering comes only from the declared dependencies; once one fails, nothing new starts (what
 * the engine does) and the replay fails with every failure, after the running ones finish.
 * Stand-in for pulumi-resource-command; test/e2e/prod-deploy-ssh.test.ts runs the real one.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runProcess } from "../../harness/run-process";
import { Registered } from "../proxmox/mocks";
import { commandRun, PlannedOperation } from "./engine-plan";

export type ReplayStep = {
  readonly name: string;
  readonly startedAt: number;
  readonly finishedAt: number;
  readonly stdout: string;
};

/** A replay in which a step failed: what ran, what failed (with its output). */
export class ReplayFailure extends Error {
  constructor(
    readonly steps: readonly ReplayStep[],
    readonly failures: readonly { readonly name: string; readonly message: string }[],
  ) {
    super(failures.map((f) => `${f.name}: ${f.message}`).join("\n"));
  }
}

export type ReplayOptions = {
  /** ssh/sftp options that reach the test host (key, known hosts). */
  readonly sshOptions: readonly string[];
  /** What the engine planned for each resource (engine-plan.ts), never a choice of the test. */
  readonly operationOf: (r: Registered) => PlannedOperation;
  /** The environment local commands run with (the deploying machine's: PATH, SSH_AUTH_SOCK, ...). */
  readonly localEnv?: NodeJS.ProcessEnv;
};

const unsecret = (v: any) => (v && typeof v === "object" && "4dabf18193072939515e22adb298388d" in v ? v.value : v);

async function run(cmd: string, args: readonly string[], stdin: string, env?: NodeJS.ProcessEnv): Promise<{ stdout: string; stderr: string }> {
  const { code, stdout, stderr } = await runProcess(cmd, args, { input: stdin, env });
  if (code !== 0) throw new Error(`${cmd} exited ${code}: ${stderr}${stdout}`);
  return { stdout, stderr };
}

/**
 * Replays `resources` (Command, local Command and CopyToRemote only); `urnOf` maps names to the
 * URNs the dependency lists use. Resolves with the steps in finishing order; rejects with a
 * ReplayFailure when any step failed.
 */
export async function replay(resources: readonly Registered[], urnOf: (name: string) => string, options: ReplayOptions): Promise<ReplayStep[]> {
  const steps: ReplayStep[] = [];
  const failures: { name: string; message: string }[] = [];
  const uploads = mkdtempSync("/tmp/cim-replay-upload-");
  const byUrn = new Map(resources.map((r) => [urnOf(r.name), r]));
  const started = new Map<string, Promise<boolean>>();
  const sshOptions = options.sshOptions;
  try {
    const exec = async (r: Registered): Promise<void> => {
      const startedAt = Date.now();
      let stdout = "";
      if (r.type === "command:local:Command") {
        const command = commandRun(options.operationOf(r), r.inputs);
        if (command === undefined) throw new Error(`${r.name}: nothing to run for a resource that did not change`);
        const environment = Object.fromEntries(Object.entries(unsecret(r.inputs.environment) ?? {}).map(([k, v]) => [k, String(unsecret(v))]));
        stdout = (await run("/bin/sh", ["-c", command], unsecret(r.inputs.stdin) ?? "", { ...(options.localEnv ?? process.env), ...environment })).stdout;
        steps.push({ name: r.name, startedAt, finishedAt: Date.now(), stdout });
        return;
      }
      const conn = unsecret(r.inputs.connection);
      // A pinned host key, as the provider pins it: only that key is accepted (ssh takes the
      // first value of an option, so these win over sshOptions' StrictHostKeyChecking=no).
      const pinned = conn.hostKey === undefined ? [] : pinnedKeyOptions(uploads, r.name, conn.host, conn.port, unsecret(conn.hostKey));
      const target = ["-p", String(conn.port), ...pinned, ...sshOptions];
      if (r.type === "command:remote:Command") {
        const command = commandRun(options.operationOf(r), r.inputs);
        if (command === undefined) throw new Error(`${r.name}: nothing to run for a resource that did not change`);
        stdout = (await run("ssh", [...target, `${conn.user}@${conn.host}`, command], unsecret(r.inputs.stdin) ?? "")).stdout;
      } else if (r.type === "command:remote:CopyToRemote") {
        const local = join(uploads, r.name);
        writeFileSync(local, await unsecret(r.inputs.source).text, { mode: 0o644 });
        await run("sftp", ["-P", String(conn.port), ...pinned, ...sshOptions, "-b", "-", `${conn.user}@${conn.host}`], `put ${local} ${r.inputs.remotePath}\n`);
      } else {
        throw new Error(`cannot replay ${r.type} ${r.name}`);
      }
      steps.push({ name: r.name, startedAt, finishedAt: Date.now(), stdout });
    };
    /** True when `r` ran and succeeded; false when it failed or did not start because something failed. */
    const start = (r: Registered): Promise<boolean> => {
      let p = started.get(r.name);
      if (!p) {
        const deps = r.dependencies.map((u) => byUrn.get(u)).filter((d): d is Registered => d !== undefined);
        p = Promise.all(deps.map(start)).then(async (ok) => {
          if (!ok.every(Boolean) || failures.length > 0) return false;
          try {
            await exec(r);
            return true;
          } catch (e) {
            failures.push({ name: r.name, message: (e as Error).message });
            return false;
          }
        });
        started.set(r.name, p);
      }
      return p;
    };
    await Promise.all(resources.map(start));
    if (failures.length > 0) throw new ReplayFailure(steps, failures);
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
