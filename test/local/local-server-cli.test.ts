/**
 * LocalTopology under the real Pulumi CLI: a throwaway project in a temp dir (its own file
 * backend, this repo's node_modules and components symlinked in) runs a three-member hub with
 * two leaves on 127.0.6.21–23, rendered by renderServerConfig. This is where the dynamic
 * provider is serialized and run the way `pulumi up` does it (ts-node-compiled closure,
 * pulumi-resource-pulumi-nodejs process), which direct CRUD tests cannot show.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isServingConfig } from "../../components/local/process-identity";
import { killNatsServersUnder, natsServersUnder } from "../../harness/processes";
import { PROJECT_ROOT, pulumiEnv, resourceSummary, runPulumi, type PulumiContext } from "../../harness/pulumi-cli";
import { stateOutputs } from "../../harness/pulumi-state";
import { upSummaries } from "../../harness/up-output";
import { eventually } from "../support/eventually";

const STACK = "probe";
const CREDS = "-----BEGIN NATS USER JWT-----\nthrowaway-creds-7f3a9c\n------END NATS USER JWT------\n";

const PROGRAM = `
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { parseTopology, withDataDir } from "./components/topology";
import { renderServerConfig } from "./components/render/nats-server-config";
import { LocalTopology } from "./components/local";

const config = new pulumi.Config("probe");
const raw = {
  // Lame duck is not the subject here: a 1 s grace (nats-server's default is 10 s) lets each
  // restart and stop begin moving clients at once, as the dev stack does.
  lameDuck: { durationSeconds: 30, gracePeriodSeconds: 1 },
  hub: { jetstream: { maxMemory: "32M", maxFile: "256M" } },
  leaf: { jetstream: { maxMemory: "32M", maxFile: "256M" } },
  hosts: [
    { name: "p-1", vmid: 601, node: "n1", address: "127.0.6.21", roles: ["leaf", "hub"] },
    { name: "p-2", vmid: 602, node: "n2", address: "127.0.6.22", roles: ["leaf", "hub"] },
    { name: "p-3", vmid: 603, node: "n3", address: "127.0.6.23", roles: ["hub"] },
  ],
};
const stack = pulumi.getStack();
const topology = withDataDir(parseTopology(raw, { name: stack }), path.resolve(".cim-dev", stack));
const extra = config.get("extra") ?? "";
const local = new LocalTopology("local", {
  topology,
  renderConfig: (s) => pulumi.secret(renderServerConfig(topology, s) + extra),
  files: { "p-1": { "leaf-link.creds": pulumi.secret(config.require("creds")) } },
});
export const pids = local.pids;
export const dataDirs = local.dataDirs;
`;

let dir = "";
let context: PulumiContext;
/** Set by the last case once its destroy passed: nothing left for afterAll to destroy. */
let destroyed = false;
const timings: Record<string, number> = {};

async function pulumi(step: string, args: string[], allowFailure = false) {
  const run = await runPulumi(context, [...args, "-s", STACK], { allowFailure });
  timings[step] = run.ms;
  return run;
}

/** The servers' pids as the last up recorded them (read from the state file: no CLI run). */
async function pids(): Promise<Record<string, number>> {
  return stateOutputs(context, STACK, ["pids"]).pids as Record<string, number>;
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  return (await res.json()) as T;
}


beforeAll(async () => {
  dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "cim-local-cli-")));
  fs.mkdirSync(path.join(dir, "state"));
  fs.mkdirSync(path.join(dir, "project"));
  const project = path.join(dir, "project");
  fs.writeFileSync(path.join(project, "Pulumi.yaml"), "name: cim-local-probe\nruntime:\n  name: nodejs\n  options:\n    typescript: true\nmain: index.ts\n");
  fs.writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "cim-local-probe", private: true, devDependencies: { typescript: "*" } }));
  fs.copyFileSync(path.join(PROJECT_ROOT, "tsconfig.json"), path.join(project, "tsconfig.json"));
  fs.symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(project, "node_modules"));
  fs.symlinkSync(path.join(PROJECT_ROOT, "components"), path.join(project, "components"));
  fs.writeFileSync(path.join(project, "index.ts"), PROGRAM);
  context = { cwd: project, env: pulumiEnv(path.join(dir, "state")) };
  await pulumi("stack init", ["stack", "init"]);
  await runPulumi(context, ["config", "set", "--secret", "-s", STACK, "probe:creds", "--", CREDS]);
});

afterAll(async () => {
  try {
    if (context && !destroyed) await runPulumi(context, ["destroy", "--yes", "--skip-preview", "-s", STACK], { allowFailure: true });
  } finally {
    killNatsServersUnder(dir);
    fs.rmSync(dir, { recursive: true, force: true });
    console.log("pulumi timings (ms):", JSON.stringify(timings));
  }
});

describe("LocalTopology under the real Pulumi CLI", () => {
  it("up from nothing starts every server healthy, with routes and leafnode links up", async () => {
    const up = await pulumi("up (create)", ["up", "--yes", "--skip-preview"]);
    expect(resourceSummary(up.stdout)).toMatchObject({ create: 7 });

    const running = await pids();
    expect(Object.keys(running).sort()).toEqual(["p-1", "p-1-hub", "p-2", "p-2-hub", "p-3-hub"]);
    for (const [server, pid] of Object.entries(running)) {
      expect(isServingConfig(pid, path.join(dir, "project", ".cim-dev", STACK, server, "nats.conf"))).toBe(true);
    }
    for (const octet of [21, 22, 23]) {
      await eventually(`hub member 127.0.6.${octet} routes to both others`, async () => {
        return (await getJson<{ num_routes: number }>(`http://127.0.6.${octet}:8223/routez`)).num_routes >= 2;
      }, Boolean);
    }
    for (const octet of [21, 22]) {
      await eventually(`leaf 127.0.6.${octet} linked to the hub`, async () => {
        return (await getJson<{ leafnodes: number }>(`http://127.0.6.${octet}:8222/leafz`)).leafnodes >= 1;
      }, Boolean);
    }
    const creds = path.join(dir, "project", ".cim-dev", STACK, "p-1", "leaf-link.creds");
    expect(fs.readFileSync(creds, "utf8")).toBe(CREDS);
    expect(fs.statSync(creds).mode & 0o777).toBe(0o600);
    // Secrets stay encrypted in the state file.
    const state = fs.readdirSync(path.join(dir, "state"), { recursive: true }).map(String).filter((f) => f.endsWith(".json"));
    const stateText = state.map((f) => fs.readFileSync(path.join(dir, "state", f), "utf8")).join("\n");
    expect(stateText).toContain("local-p-1");
    expect(stateText).not.toContain("throwaway-creds-7f3a9c");
    expect(stateText).not.toContain("store_dir");
  }, 180_000);

  it("a second run reports no changes", async () => {
    const preview = await pulumi("preview --expect-no-changes", ["preview", "--expect-no-changes"], true);
    expect(preview.code).toBe(0);
    const up = await pulumi("up (no change)", ["up", "--yes", "--skip-preview"]);
    expect(resourceSummary(up.stdout)).toEqual({ unchanged: 7 });
  }, 120_000);

  it("a comment-only config change rewrites the files and signals nothing", async () => {
    const before = await pids();
    // One run: the up's own preview, then the update (upSummaries); the config set rides on it
    // (saved to the stack's config, as `config set` does).
    const up = await pulumi("up with preview (comment change)", ["up", "--yes", "--config", "probe:extra=# changed by the test"]);
    expect(upSummaries(up.stdout).preview).toMatchObject({ update: 5, unchanged: 2 });
    expect(upSummaries(up.stdout).up).toMatchObject({ update: 5, unchanged: 2 });

    expect(await pids()).toEqual(before);
    for (const server of Object.keys(before)) {
      const conf = fs.readFileSync(path.join(dir, "project", ".cim-dev", STACK, server, "nats.conf"), "utf8");
      expect(conf).toContain("# changed by the test");
    }
  }, 180_000);

  it("a setting outside the reload table restarts every server in place (hub members one at a time)", async () => {
    const before = await pids();
    const up = await pulumi("up with preview (config change)", ["up", "--yes", "--config", "probe:extra=max_payload: 2097152"]);
    expect(upSummaries(up.stdout).preview).toMatchObject({ update: 5, unchanged: 2 });
    expect(upSummaries(up.stdout).up).toMatchObject({ update: 5, unchanged: 2 });

    const after = await pids();
    for (const server of Object.keys(before)) {
      expect(after[server]).not.toBe(before[server]);
      const conf = fs.readFileSync(path.join(dir, "project", ".cim-dev", STACK, server, "nats.conf"), "utf8");
      expect(conf).toContain("max_payload: 2097152");
      expect(isServingConfig(after[server], path.join(dir, "project", ".cim-dev", STACK, server, "nats.conf"))).toBe(true);
    }
    // The leaves (p-1, p-2) run the new setting.
    for (const octet of [21, 22]) {
      expect((await getJson<{ max_payload: number }>(`http://127.0.6.${octet}:8222/varz`)).max_payload).toBe(2097152);
    }
  }, 180_000);

  it("a server killed behind the stack's back shows in refresh, and up starts it again", async () => {
    const before = await pids();
    process.kill(before["p-2"], "SIGKILL");
    await eventually("p-2 gone", async () => !natsServersUnder(dir).includes(before["p-2"]), Boolean, 5_000);

    const refresh = await pulumi("refresh (one dead)", ["refresh", "--yes", "--skip-preview"]);
    expect(resourceSummary(refresh.stdout)).toMatchObject({ update: 1 });
    const preview = await pulumi("preview (one dead)", ["preview", "--expect-no-changes"], true);
    expect(preview.code).not.toBe(0);
    const up = await pulumi("up (restart dead)", ["up", "--yes", "--skip-preview"]);
    expect(resourceSummary(up.stdout)).toMatchObject({ update: 1, unchanged: 6 });

    const after = await pids();
    expect(after["p-2"]).not.toBe(before["p-2"]);
    expect(after["p-1"]).toBe(before["p-1"]);
    expect(natsServersUnder(dir)).toContain(after["p-2"]);
  }, 180_000);

  it("destroy stops every process it started and removes the server folders", async () => {
    const started = Object.values(await pids());
    const destroy = await pulumi("destroy", ["destroy", "--yes", "--skip-preview"]);
    expect(resourceSummary(destroy.stdout)).toMatchObject({ delete: 7 });

    expect(natsServersUnder(dir)).toEqual([]);
    for (const pid of started) expect(isServingConfig(pid, path.join(dir, "project", ".cim-dev", STACK, "p-1", "nats.conf"))).toBe(false);
    expect(fs.readdirSync(path.join(dir, "project", ".cim-dev", STACK))).toEqual([]);
    destroyed = true;
  }, 120_000);
});
