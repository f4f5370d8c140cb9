/**
 * Day-2 changes on the local substrate under the real Pulumi CLI (issue 9, "Reload, not
 * restart"): a three-member hub (127.0.21.1–3) and one leaf (127.0.21.4) in operator mode, with
 * an R3 stream at the hub probed (`stream info`) every 100 ms from a client that knows every hub
 * member. TLS as the stack's default places it (its CA, certificates and route password; clients
 * verify with the CA), so a restart's leadership handoff runs over TLS too. Removing a user (its
 * key revoked in the account JWT, pushed through the system account) changes no server: no pid
 * change, no config change, no failed probe; a restart-only change (hub jetstream max_file decreased) must
 * restart the hub members strictly one after another, each healthy and JetStream-current before
 * the next stops, with no failed probe (each member's stream leaderships are moved away through
 * the API before its lame duck stop).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { credsAuthenticator, type NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { killNatsServersUnder } from "../../harness/processes";
import { PROJECT_ROOT, pulumiEnv, resourceSummary, runPulumi, stackOutputs, type PulumiContext } from "../../harness/pulumi-cli";
import { reloadSecurity, smallTopology, tempDir, type ReloadSecurity } from "./reload-support";
import { stateOutputs } from "../../harness/pulumi-state";
import { upSummaries } from "../../harness/up-output";
import { stackCa, stackClientTls } from "../../harness/stack-tls";
import { eventually } from "../support/eventually";
import { isProcessRunning } from "../../components/local/nats-process";
import { pushAccountJwt } from "../../components/security/jwt-push";

const STACK = "roll";
const PREFIX = "127.0.21";
const HUB = ["r-1-hub", "r-2-hub", "r-3-hub"];

const PROGRAM = `
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { parseTopology, withDataDir } from "./components/topology";
import { renderServerConfig } from "./components/render/nats-server-config";
import { LocalTopology, localServerFilePath } from "./components/local";
import { parseTls } from "./components/tls/parse";
import { declareStackTls } from "./components/tls/resources";
import { localTlsFiles, localTlsInput } from "./components/stack/substrates";

const config = new pulumi.Config("roll");
const stack = pulumi.getStack();
const raw = {
  lameDuck: { durationSeconds: 30, gracePeriodSeconds: 1 },
  hub: { jetstream: { maxMemory: "32M", maxFile: config.get("hubMaxFile") ?? "1G" } },
  leaf: { jetstream: { maxMemory: "32M", maxFile: "256M" } },
  hosts: [
    { name: "r-1", vmid: 701, node: "n1", address: "${PREFIX}.1", roles: ["hub"] },
    { name: "r-2", vmid: 702, node: "n2", address: "${PREFIX}.2", roles: ["hub"] },
    { name: "r-3", vmid: 703, node: "n3", address: "${PREFIX}.3", roles: ["hub"] },
    { name: "r-4", vmid: 704, node: "n1", address: "${PREFIX}.4", roles: ["leaf"] },
  ],
};
const topology = withDataDir(parseTopology(raw, { name: stack, leafDenyImports: ["person.events.>"] }), path.resolve(".cim-dev", stack));
const sys = config.require("systemAccount");
const app = config.require("appAccount");
const leaf = topology.leaves[0];
const instances = [...topology.leaves, ...topology.hub.members];
const byName = (s: string) => instances.find((i) => i.serverName === s)!;
// The stack's TLS default (tls: { mode: generated }): its CA, certificates and route password,
// placed in each server's folder exactly as the dev substrate places them.
const stackTls = declareStackTls(new pulumi.ComponentResource("roll:tls:Tls", "tls"), parseTls(undefined), topology);
const security = {
  operatorJwt: config.require("operatorJwt"),
  systemAccount: sys,
  bootstrapJwts: { [sys]: config.require("sysJwt"), [app]: config.require("appJwt") },
  leafLinks: {
    [leaf.serverName]: {
      application: { credentialsPath: localServerFilePath(leaf, "leaf-link.creds"), account: app },
      system: { credentialsPath: localServerFilePath(leaf, "system-link.creds"), account: sys },
    },
  },
};
const local = new LocalTopology("local", {
  topology,
  renderConfig: (s) => pulumi.secret(renderServerConfig(topology, s, security, localTlsInput(byName(s), stackTls))),
  files: Object.fromEntries(
    instances.map((i) => [
      i.serverName,
      { ...(i === leaf ? { "leaf-link.creds": config.requireSecret("leafCreds"), "system-link.creds": config.requireSecret("leafSysCreds") } : {}), ...localTlsFiles(topology, i, stackTls) },
    ]),
  ),
  leaderHandoffCreds: config.requireSecret("adminCreds"),
});
// Stands in for a stream or bucket that takes its server's store id as an input.
const echo: pulumi.dynamic.ResourceProvider = {
  async create(inputs) {
    return { id: "echo-" + String(inputs.value), outs: inputs };
  },
  async diff(_id, olds, news) {
    return { changes: olds.value !== news.value };
  },
  async update(_id, _olds, news) {
    return { outs: news };
  },
};
class StoreIdUser extends pulumi.dynamic.Resource {
  declare public readonly value: pulumi.Output<string>;
  constructor(name: string, value: pulumi.Input<string>) {
    super(echo, name, { value }, {});
  }
}
const users = ["r-1-hub", "r-4"].map((s) => new StoreIdUser("store-id-of-" + s, local.servers[s].storeId));
export const storeIdUsers = pulumi.all(users.map((u) => u.value));
export const pids = local.pids;
export const storeIds = local.storeIds;
export const tls = { mode: "generated", caCert: stackTls.caCertPem };
export const lastChanges = pulumi.all(Object.fromEntries(Object.entries(local.servers).map(([s, r]) => [s, r.lastChange])));
`;

let dir = "";
let project = "";
let context: PulumiContext;
let sec: ReloadSecurity;
/** The stack's CA: every client verifies the servers with it. */
let ca: string;
const report: Record<string, unknown> = {};
/** When the preloaded app account JWT was issued (its iat, in ms). */
let preloadIssuedAt = 0;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const serverDir = (server: string) => path.join(project, ".cim-dev", STACK, server);

async function pulumi(args: string[], allowFailure = false) {
  return runPulumi(context, [...args, "-s", STACK], { allowFailure });
}


/** The servers' pids as the last up recorded them (read from the state file: no CLI run). */
async function pids(): Promise<Record<string, number>> {
  return stateOutputs(context, STACK, ["pids"]).pids as Record<string, number>;
}

async function as(user: string, servers: string | string[], reconnect = false): Promise<NatsConnection> {
  const creds = new TextEncoder().encode(await sec.creds(user));
  return connect({ servers, tls: stackClientTls(ca, servers), authenticator: credsAuthenticator(creds), reconnect, maxReconnectAttempts: -1, reconnectTimeWait: 50, timeout: 2_000 });
}

/**
 * Why the server refused `user`'s connection. A refusal races the client's own writes: the
 * server's -ERR and close can meet the client mid-handshake (write EPIPE, read ECONNRESET, seen
 * on a loaded machine), which says nothing about why; such an attempt is made again.
 */
async function refusal(user: string, url: string): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      const nc = await as(user, url);
      await nc.close();
      return `${user} was let in at ${url}`;
    } catch (err) {
      const message = (err as Error).message;
      if (!/EPIPE|ECONNRESET/.test(message) || attempt === 5) return message;
    }
  }
}

const hubUrls = () => [1, 2, 3].map((i) => `nats://${PREFIX}.${i}:4223`);

/**
 * `stream info PROBE` at the hub every 100 ms until stopped. A probe fails when its request and
 * one immediate retry both fail. A first attempt that times out is counted separately: nats-server
 * 2.15 drops a stream info request that arrives while the stream's leadership is being handed
 * over (lame duck's transferRaftLeaders), which only a restart of the leader causes.
 */
function startProbe(nc: NatsConnection) {
  const result = { probes: 0, failures: 0, errors: [] as string[], firstAttemptTimeouts: [] as string[], slowestMs: 0 };
  let running = true;
  const inflight: Promise<void>[] = [];
  const loop = (async () => {
    const jsm = await jetstreamManager(nc, { timeout: 2_000 });
    const probeOnce = async (started: number) => {
      try {
        await jsm.streams.info("PROBE");
      } catch (err) {
        result.firstAttemptTimeouts.push(`${new Date(started).toISOString()} ${(err as Error).message}`);
        await jsm.streams.info("PROBE");
      }
    };
    while (running) {
      const started = Date.now();
      inflight.push(
        probeOnce(started)
          .catch((err: Error) => {
            result.failures++;
            result.errors.push(`${new Date(started).toISOString()} ${err.message}`);
          })
          .finally(() => {
            result.probes++;
            result.slowestMs = Math.max(result.slowestMs, Date.now() - started);
          }),
      );
      await sleep(100);
    }
  })();
  return {
    result,
    /** Resolves once `n` more probes have been answered (or failed): the probe is seen running, no fixed wait. */
    async answered(n: number) {
      const target = result.probes + n;
      await eventually(`${n} more probes`, async () => result.probes, (p) => p >= target, 10_000, 25);
    },
    async stop() {
      running = false;
      await loop;
      await Promise.all(inflight);
      return result;
    },
  };
}

/** The stack's own notes in a server's log: ISO time and text of each `[cim-nats]` line. */
function notes(server: string): { at: number; text: string }[] {
  const log = fs.readFileSync(path.join(serverDir(server), "nats.log"), "utf8");
  return [...log.matchAll(/^\[cim-nats\] (\S+) (.*)$/gm)].map((m) => ({ at: Date.parse(m[1]), text: m[2] }));
}

async function varzStart(octet: number): Promise<number> {
  const res = await fetch(`http://${PREFIX}.${octet}:8223/varz`, { signal: AbortSignal.timeout(2_000) });
  return Date.parse(((await res.json()) as { start: string }).start);
}

beforeAll(async () => {
  dir = tempDir("cim-rolling-cli-");
  project = path.join(dir, "project");
  fs.mkdirSync(path.join(dir, "state"));
  fs.mkdirSync(project);
  fs.writeFileSync(path.join(project, "Pulumi.yaml"), "name: cim-rolling-probe\nruntime:\n  name: nodejs\n  options:\n    typescript: true\nmain: index.ts\n");
  fs.writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "cim-rolling-probe", private: true, devDependencies: { typescript: "*" } }));
  fs.copyFileSync(path.join(PROJECT_ROOT, "tsconfig.json"), path.join(project, "tsconfig.json"));
  fs.symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(project, "node_modules"));
  fs.symlinkSync(path.join(PROJECT_ROOT, "components"), path.join(project, "components"));
  fs.writeFileSync(path.join(project, "index.ts"), PROGRAM);
  context = { cwd: project, env: pulumiEnv(path.join(dir, "state")) };
  // Keys as the test's own operator issues them; the program only renders what config holds.
  const shape = smallTopology({ prefix: PREFIX, hubs: 1 }, path.join(dir, "unused"));
  sec = await reloadSecurity({ ...shape, leaves: [] }, path.join(dir, "unused"));
  await pulumi(["stack", "init"]);
  const appJwt = await sec.appJwt();
  preloadIssuedAt = Date.now();
  // One CLI run for the whole config (a run each cost ~1-4 s).
  const plain = { operatorJwt: sec.operatorJwt, systemAccount: sec.systemAccount, appAccount: sec.appAccount, sysJwt: sec.sysJwt, appJwt };
  const secret = { leafCreds: await sec.creds("leaf-r-4"), leafSysCreds: await sec.systemCreds("leaf-r-4-sys"), adminCreds: await sec.creds("admin") };
  await pulumi([
    "config",
    "set-all",
    ...Object.entries(plain).flatMap(([k, v]) => ["--plaintext", `roll:${k}=${v}`]),
    ...Object.entries(secret).flatMap(([k, v]) => ["--secret", `roll:${k}=${v}`]),
  ]);
});

// No destroy: what it does to a local stack (every server stopped, folders removed) is
// local-server-cli.test.ts's last case; here it would only add a CLI run and four lame duck stops.
afterAll(() => {
  killNatsServersUnder(dir);
  fs.rmSync(dir, { recursive: true, force: true });
  console.log("rolling-cli report:", JSON.stringify(report, null, 2));
});

describe("day-2 changes on the local substrate (real Pulumi CLI)", () => {
  it("up from nothing: hub members created one after another, an R3 stream at the hub", async () => {
    const started = Date.now();
    const up = await pulumi(["up", "--yes", "--skip-preview"]);
    report.upFromNothingMs = Date.now() - started;
    // 4 servers, their topology, 2 store-id users, the stack; the TLS component, CA, 4 certificates, route password.
    expect(resourceSummary(up.stdout)).toMatchObject({ create: 15 });
    const outs = await stackOutputs(context, STACK);
    ca = stackCa(outs);
    const storeIds = outs.storeIds as Record<string, string>;
    expect(Object.keys(storeIds).sort()).toEqual([...HUB, "r-4"]);
    for (const [server, id] of Object.entries(storeIds)) {
      expect(fs.readFileSync(path.join(serverDir(server), "cim-store-id"), "utf8").trim()).toBe(id);
      expect(fs.readFileSync(path.join(serverDir(server), "nats.conf"), "utf8"), `${server} requires TLS`).toMatch(/^tls: \{/m);
    }
    const nc = await as("admin", hubUrls());
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: "PROBE", subjects: ["probe.>"], num_replicas: 3 });
      const info = await jsm.streams.info("PROBE");
      expect(info.cluster?.replicas?.length).toBe(2);
    } finally {
      await nc.close();
    }
  }, 240_000);

  it("removing a user is a push, not a config change: no Pulumi step, same pids, the user refused everywhere, zero failed probes", async () => {
    // alice has a live connection at the hub and at the leaf before the change.
    const aliceHub = await as("alice", `nats://${PREFIX}.1:4223`);
    const aliceLeaf = await as("alice", `nats://${PREFIX}.4:4222`);
    const prober = await as("prober", hubUrls(), true);
    const before = await pids();
    const probeStartedAt = Date.now();
    const probe = startProbe(prober);
    // About a second of probes before the push (what a fixed 1.1 s wait gave), counted, not slept.
    await probe.answered(10);
    // JWT iat counts seconds and the resolvers keep the newer: the revocation is issued a second
    // after the preload (long past by now: the up alone takes longer; waits only if not).
    await sleep(Math.max(0, preloadIssuedAt + 1_100 - Date.now()));
    const servers = [...HUB.map((s, i) => ({ name: s, url: `nats://${PREFIX}.${i + 1}:4223` })), { name: "r-4", url: `nats://${PREFIX}.4:4222` }];
    const pushed = await pushAccountJwt({ account: "PLATFORM", accountPublicKey: sec.appAccount, jwt: await sec.appJwt(["alice"]), servers, creds: await sec.systemCreds("pusher"), caCertPem: ca });
    expect(pushed.confirmed.sort()).toEqual([...HUB, "r-4"].sort());
    await probe.answered(3);
    const probes = await probe.stop();
    report.userRemoval = probes;
    await prober.close();

    // Nothing for the stack to do: no config changed.
    expect(resourceSummary((await pulumi(["preview"])).stdout)).toEqual({ unchanged: 15 });
    // Every server still runs as the same process, started before the push (its own /varz).
    for (const [server, pid] of Object.entries(before)) expect(isProcessRunning(pid), `${server} (pid ${pid}) still running`).toBe(true);
    for (const [i, m] of HUB.entries()) expect(await varzStart(i + 1), `${m} not restarted`).toBeLessThan(probeStartedAt);
    // The revoked user: live connections closed, new ones refused, at the hub and at the leaf.
    await Promise.race([Promise.all([aliceHub.closed(), aliceLeaf.closed()]), sleep(5_000).then(() => Promise.reject(new Error("alice still connected")))]);
    await expect(refusal("alice", `nats://${PREFIX}.2:4223`)).resolves.toMatch(/authoriz|revoked/i);
    await expect(refusal("alice", `nats://${PREFIX}.4:4222`)).resolves.toMatch(/authoriz|revoked/i);
    const bob = await as("bob", `nats://${PREFIX}.3:4223`);
    await bob.close();

    expect(probes.probes).toBeGreaterThan(10);
    expect(probes.errors).toEqual([]);
    expect(probes.firstAttemptTimeouts).toEqual([]);
  }, 240_000);

  it("a restart-only change (hub max_file decreased) restarts hub members strictly one after another, zero failed probes", async () => {
    const prober = await as("prober", hubUrls(), true);
    const before = await pids();
    const t0 = Date.now();
    const probe = startProbe(prober);
    await probe.answered(3);
    // One run: the up's own preview, then the update (upSummaries); the config set rides on it
    // (saved to the stack's config, as `config set` does).
    const up = await pulumi(["up", "--yes", "--config", "roll:hubMaxFile=512M"]);
    await probe.answered(3);
    const probes = await probe.stop();
    await prober.close();

    expect(upSummaries(up.stdout)).toEqual({ preview: { update: 3, unchanged: 12 }, up: { update: 3, unchanged: 12 } });
    const after = await pids();
    // Every hub member has a new process; the leaf is untouched.
    for (const m of HUB) expect(after[m]).not.toBe(before[m]);
    expect(after["r-4"]).toBe(before["r-4"]);

    // Per member: when the stack began stopping it, when the new process started (its own /varz),
    // and when it was back healthy and JetStream-current.
    const windows = await Promise.all(
      HUB.map(async (m, i) => {
        const mine = notes(m).filter((n) => n.at >= t0);
        const stop = mine.find((n) => n.text.startsWith("restarting"));
        const ready = mine.find((n) => n.text.startsWith("restarted") && n.text.includes("JetStream-current"));
        expect(stop, `${m}: no restart note`).toBeDefined();
        expect(ready, `${m}: no ready note`).toBeDefined();
        return { member: m, stop: stop!.at, start: await varzStart(i + 1), ready: ready!.at };
      }),
    );
    windows.sort((a, b) => a.stop - b.stop);
    expect(windows.map((w) => w.member)).toEqual(HUB);
    for (let i = 1; i < windows.length; i++) {
      // The next member is stopped only after the previous one is back and current.
      expect(windows[i].stop).toBeGreaterThanOrEqual(windows[i - 1].ready);
      expect(windows[i].start).toBeGreaterThan(windows[i - 1].ready);
    }
    for (const w of windows) expect(w.start).toBeGreaterThanOrEqual(w.stop);
    report.restartOnly = {
      ...probes,
      upMs: up.ms,
      members: windows.map((w) => ({
        member: w.member,
        stop: new Date(w.stop).toISOString(),
        start: new Date(w.start).toISOString(),
        ready: new Date(w.ready).toISOString(),
        downToReadyMs: w.ready - w.stop,
        startedAfterStopMs: w.start - w.stop,
      })),
    };
    expect(probes.probes).toBeGreaterThan(10);
    expect(probes.errors).toEqual([]);
    // Leaderships were moved through the API before each lame duck stop, so not even a first
    // attempt timed out (lame duck alone drops a few requests to the stream it leads).
    const moved = HUB.flatMap((m) => notes(m).filter((n) => n.at >= t0 && /^moved \d+ JetStream leadership/.test(n.text)));
    expect(moved.length).toBeGreaterThan(0);
    // Measured 0 in 3 of 3 quiet runs; a CI machine under load once timed out 1 first attempt,
    // answered by its retry. The requirement is the line above the handoff check: no probe failed.
    if (probes.firstAttemptTimeouts.length > 0) console.log(`restart roll: first attempts that timed out (retried, answered): ${probes.firstAttemptTimeouts.join("; ")}`);
    expect(probes.firstAttemptTimeouts.length).toBeLessThanOrEqual(3);
  }, 300_000);

  it("every hub member killed at once (a reboot): plain up starts them again along the chain, the R3 stream intact", async () => {
    const before = await pids();
    for (const m of HUB) process.kill(before[m], "SIGKILL");
    await eventually("every hub member gone", async () => HUB.filter((m) => isProcessRunning(before[m])), (alive) => alive.length === 0, 5_000, 25);
    const up = await pulumi(["up", "--yes", "--skip-preview"]);
    report.allHubDownUpMs = up.ms;
    expect(resourceSummary(up.stdout)).toEqual({ update: 3, unchanged: 12 });
    const after = await pids();
    for (const m of HUB) expect(after[m]).not.toBe(before[m]);
    const nc = await as("admin", hubUrls());
    try {
      // After a cold start of every member the stream elects its leader on its own time.
      const jsm = await jetstreamManager(nc, { timeout: 1_000 });
      const started = Date.now();
      let replicas = -1;
      while (Date.now() - started < 30_000) {
        const info = await jsm.streams.info("PROBE").catch(() => undefined);
        replicas = info?.cluster?.leader ? (info.cluster.replicas?.length ?? 0) : -1;
        if (replicas === 2) break;
        await sleep(200);
      }
      report.allHubDownStreamBackMs = Date.now() - started;
      expect(replicas).toBe(2);
    } finally {
      await nc.close();
    }
  }, 240_000);

  it("a leaf whose store was wiped while it was down is seen by plain preview and up: new store id, dependents updated", async () => {
    const outsBefore = stateOutputs(context, STACK, ["storeIds", "pids"]);
    const before = outsBefore.storeIds as Record<string, string>;
    const leafPid = (outsBefore.pids as Record<string, number>)["r-4"];
    process.kill(leafPid, "SIGKILL");
    await eventually("the leaf gone", async () => isProcessRunning(leafPid), (alive) => !alive, 5_000, 25);
    fs.rmSync(path.join(serverDir("r-4"), "jetstream"), { recursive: true, force: true });

    // A plain `pulumi preview` (the case's subject: no refresh asked for), then the up.
    const preview = await pulumi(["preview"]);
    report.wipedStorePreview = resourceSummary(preview.stdout);
    expect(resourceSummary(preview.stdout)).toEqual({ update: 2, unchanged: 13 });
    const up = await pulumi(["up", "--yes", "--skip-preview"]);
    expect(resourceSummary(up.stdout)).toEqual({ update: 2, unchanged: 13 });

    const outsAfter = stateOutputs(context, STACK, ["storeIds", "storeIdUsers"]);
    const after = outsAfter.storeIds as Record<string, string>;
    expect(after["r-4"]).not.toBe(before["r-4"]);
    expect(after["r-1-hub"]).toBe(before["r-1-hub"]);
    expect(outsAfter.storeIdUsers).toEqual([after["r-1-hub"], after["r-4"]]);
    const again = await pulumi(["preview", "--expect-no-changes"], true);
    expect(again.code).toBe(0);
    // Three CLI runs: on a machine at load 50 each took ~80 s (240 s timed out once).
  }, 360_000);
});
