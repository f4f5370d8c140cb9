/**
 * A dev-shaped stack for the day-2 end-to-end files (day2.test.ts, day2-edges.test.ts): a copy of
 * the project with its own file backend and its own loopback addresses, driven through the real
 * Pulumi CLI, and what their cases do with it — run the CLI (each run timed and logged with its
 * offset from the file's start, so a slow file shows where its seconds went), edit
 * Pulumi.dev.yaml, preview then up, connect as the JetStream admin.
 *
 * Functions over a `Day2Stack` value, not module state: each file holds its own stack, so the two
 * files run in parallel on their own addresses.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { credsAuthenticator, type ConnectionOptions, type NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { dump, load } from "js-yaml";
import { createDevProject, type DevProject } from "../../harness/dev-project";
import { natsServersUnder } from "../../harness/processes";
import { runPulumi, stackOutputs, type PulumiRun } from "../../harness/pulumi-cli";
import { stackCa, stackClientTls } from "../../harness/stack-tls";
import { changes, countOps, lastJson, performedSteps } from "./plan-steps";

/** Pulumi.dev.yaml's `config:` map, as a case edits it. */
export type StackConfig = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export type Day2Stack = {
  /** Names the file in its log lines. */
  readonly name: string;
  readonly project: DevProject;
  /** The copy's Pulumi.dev.yaml. */
  readonly configFile: string;
  /** The first three octets every server of this stack listens on, e.g. "127.0.42". */
  readonly net: string;
  /** When the stack was made: log lines give their offset from it. */
  readonly startedAt: number;
  /** CLI milliseconds by step (summed when a step runs more than once). */
  readonly timings: Record<string, number>;
};

/** What a case connects with once the stack is up: the JetStream admin's creds and the stack CA. */
export type StackAccess = { readonly adminCreds: string; readonly ca: string };

/** A project copy whose dev config listens on `net`.x instead of 127.0.0.x, with its stack selected. */
export async function createDay2Stack(name: string, net: string, initial: (config: StackConfig) => void = () => undefined): Promise<Day2Stack> {
  const project = createDevProject(`cim-nats-${name}-`);
  const configFile = path.join(project.projectDir, "Pulumi.dev.yaml");
  fs.writeFileSync(configFile, fs.readFileSync(configFile, "utf8").replace(/127\.0\.0\.(\d+)/g, `${net}.$1`));
  const stack: Day2Stack = { name, project, configFile, net, startedAt: Date.now(), timings: {} };
  editConfig(stack, initial);
  await pulumi(stack, "stack select", ["stack", "select", "--create"]);
  return stack;
}

/** Kills the stack's servers and removes it (no destroy: harness/dev-project.ts); prints the CLI timings. */
export async function closeDay2Stack(stack: Day2Stack | undefined): Promise<void> {
  if (!stack) return;
  await stack.project.cleanup();
  const total = Object.values(stack.timings).reduce((a, b) => a + b, 0);
  console.log(`${stack.name}: ${(total / 1000).toFixed(1)} s in the Pulumi CLI of ${((Date.now() - stack.startedAt) / 1000).toFixed(1)} s; by step (ms): ${JSON.stringify(stack.timings)}`);
}

/** Logs `[name +s] what`: the phases of a file beside its CLI runs. */
export function mark(stack: Day2Stack, what: string): void {
  console.log(`[${stack.name} +${((Date.now() - stack.startedAt) / 1000).toFixed(1)}s] ${what}`);
}

/** `pulumi <args> -s dev` in the copy; rejects on a non-zero exit unless `allowFailure`. */
export async function pulumi(stack: Day2Stack, step: string, args: readonly string[], allowFailure = false): Promise<PulumiRun> {
  const run = await runPulumi(stack.project.context, [...args, "-s", "dev"], { allowFailure, timeoutMs: 600_000 });
  stack.timings[step] = (stack.timings[step] ?? 0) + run.ms;
  mark(stack, `${step}: pulumi ${args[0]} ${run.ms} ms, exit ${run.code}`);
  return run;
}

export function editConfig(stack: Day2Stack, change: (config: StackConfig) => void): void {
  const doc = load(fs.readFileSync(stack.configFile, "utf8")) as { config: StackConfig };
  change(doc.config);
  fs.writeFileSync(stack.configFile, dump(doc, { lineWidth: 200 }));
}

/** What `preview --json` plans, as sorted "op resource" lines. */
export async function plannedChanges(stack: Day2Stack, step: string): Promise<string[]> {
  return changes(lastJson((await pulumi(stack, step, ["preview", "--json"])).stdout).steps);
}

/** Preview, then up; both JSON. The planned and the applied changes (a case asserts them equal). */
export async function previewThenUp(stack: Day2Stack, step: string): Promise<{ planned: string[]; applied: string[] }> {
  const planned = await plannedChanges(stack, `${step}: preview`);
  const applied = changes(performedSteps((await pulumi(stack, `${step}: up`, ["up", "--yes", "--skip-preview", "--json"])).stdout));
  mark(stack, `${step}: preview ${countOps(planned)}, up ${countOps(applied)}`);
  return { planned, applied };
}

/** The first up (from nothing) and the access it hands out. */
export async function upFromNothing(stack: Day2Stack): Promise<StackAccess & { readonly outputs: Record<string, unknown> }> {
  await pulumi(stack, "first up", ["up", "--yes", "--skip-preview"]);
  const outputs = await stackOutputs(stack.project.context, "dev");
  return { adminCreds: String(outputs.jetstreamAdminCreds), ca: stackCa(outputs), outputs };
}

/** A connection as the JetStream admin, verifying the servers with the stack CA. */
export function connectAdmin(access: StackAccess, url: string | string[], options: Partial<ConnectionOptions> = {}): Promise<NatsConnection> {
  return connect({ servers: url, tls: stackClientTls(access.ca, url), authenticator: credsAuthenticator(new TextEncoder().encode(access.adminCreds)), ...options });
}

/** Runs `use` on a fresh admin connection to `url`, then closes it. */
export async function admin<T>(access: StackAccess, url: string | string[], use: (jsm: JetStreamManager, nc: NatsConnection) => Promise<T>): Promise<T> {
  const nc = await connectAdmin(access, url, { name: "day2-admin" });
  try {
    return await use(await jetstreamManager(nc), nc);
  } finally {
    await nc.close();
  }
}

/** The pid of each nats-server the stack runs, sorted. */
export function serverPids(stack: Day2Stack): number[] {
  return natsServersUnder(stack.project.dir).sort();
}

/** The pid of the nats-server whose data folder is `server` (none when it is down). */
export function serverPid(stack: Day2Stack, server: string): number | undefined {
  return natsServersUnder(path.join(stack.project.dataDir, server) + "/")[0];
}

/** Every running server's rendered nats.conf, by server. */
export function serverConfigs(stack: Day2Stack): Record<string, string> {
  const dir = stack.project.dataDir;
  return Object.fromEntries(
    fs
      .readdirSync(dir)
      .filter((s) => fs.existsSync(path.join(dir, s, "nats.conf")))
      .map((s) => [s, fs.readFileSync(path.join(dir, s, "nats.conf"), "utf8")]),
  );
}

/** A server's log (the stack's own `[cim-nats]` lines included). */
export function serverLog(stack: Day2Stack, server: string): string {
  return fs.readFileSync(path.join(stack.project.dataDir, server, "nats.log"), "utf8");
}
