/**
 * The dev stack end to end: the real Pulumi CLI runs this project's program on Pulumi.dev.yaml
 * and real nats-server processes come up on 127.0.41.x — the whole topology, streams, aggregate,
 * buckets, accounts and users. A copy of the project with its own file backend and its own
 * `.cim-dev/dev` (harness/dev-project.ts), so the developer's dev stack is never touched; it
 * uses the dev stack's addresses, so that stack must be down while this runs.
 *
 * The steps build on each other (one stack, in order); afterAll destroys it and kills any
 * nats-server left under the temp dir by pid, also when a step failed.
 */
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { credsAuthenticator, type NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { Objm } from "@nats-io/obj";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDevProject, type DevProject } from "../../harness/dev-project";
import { natsServersUnder } from "../../harness/processes";
import { resourceSummary, runPulumi, stackOutputs, type PulumiRun } from "../../harness/pulumi-cli";
import { eventually } from "../support/eventually";
import { stackCa, stackClientTls, writeCaFile } from "../../harness/stack-tls";

type Outputs = {
  leaves: Record<string, { clientUrl: string; monitoringUrl: string; jetstreamDomain: string }>;
  hub: { clientUrls: string[]; monitoringUrls: string[]; jetstreamDomain: string };
  jetstream: { streams: Record<string, string[]>; kv: Record<string, string[]>; objects: Record<string, string[]> };
  creds: Record<string, string>;
  jetstreamAdminCreds: string;
  tls: { mode: string; caCert: string | null };
};

const LEAF_STREAM = "PERSON_EVENTS";
const AGGREGATE = "CLUSTER_PERSON_EVENTS";
const HOUR_NS = 3600e9;

let project: DevProject;
let outputs: Outputs;
/** The stack's CA (every listener requires TLS): each client verifies the servers with it. */
let ca: string;
/** nats-server pids seen after the first up: all must be gone after destroy. */
let startedPids: number[] = [];
/** Event ids published in step 2, by leaf. */
const published: Record<string, string> = {};
const timings: Record<string, number> = {};

async function pulumi(step: string, args: string[], allowFailure = false): Promise<PulumiRun> {
  const run = await runPulumi(project.context, [...args, "-s", "dev"], { allowFailure });
  timings[step] = run.ms;
  return run;
}

async function asAdmin(url: string | string[]): Promise<NatsConnection> {
  return connect({ servers: url, tls: stackClientTls(ca, url), authenticator: credsAuthenticator(new TextEncoder().encode(outputs.jetstreamAdminCreds)), name: "e2e-admin" });
}

async function withAdmin<T>(url: string | string[], use: (nc: NatsConnection, jsm: JetStreamManager) => Promise<T>): Promise<T> {
  const nc = await asAdmin(url);
  try {
    return await use(nc, await jetstreamManager(nc));
  } finally {
    await nc.close();
  }
}

/** Every message payload in a stream, in order (direct gets by sequence). */
async function payloads(jsm: JetStreamManager, stream: string): Promise<string[]> {
  const info = await jsm.streams.info(stream);
  const out: string[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const msg = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (msg) out.push(msg.string()); // null: a deleted sequence
  }
  return out;
}


function natsCli(args: string[]): string {
  const credsFile = path.join(project.dir, "jetstream-admin.creds");
  if (!fs.existsSync(credsFile)) fs.writeFileSync(credsFile, outputs.jetstreamAdminCreds, { mode: 0o600 });
  return execFileSync("nats", ["--creds", credsFile, "--tlsca", writeCaFile(project.dir, ca), ...args], { env: project.context.env, encoding: "utf8", timeout: 20_000 });
}

beforeAll(async () => {
  project = createDevProject();
  // Its own addresses (the dev stack's 127.0.0.x moved to 127.0.41.x): it runs beside `npm start`.
  const configFile = path.join(project.projectDir, "Pulumi.dev.yaml");
  fs.writeFileSync(configFile, fs.readFileSync(configFile, "utf8").replace(/127\.0\.0\.(\d+)/g, "127.0.41.$1"));
  await pulumi("stack select --create", ["stack", "select", "--create"]);
});

afterAll(async () => {
  if (!project) return;
  const { destroyed, killed } = await project.cleanup();
  console.log("e2e pulumi timings (ms):", JSON.stringify(timings));
  if (!destroyed || killed.length > 0) console.log(`e2e cleanup: destroy ${destroyed ? "ok" : "FAILED"}, killed leftover pids ${killed.join(", ") || "none"}`);
});

describe("the dev stack under the real Pulumi CLI", () => {
  it("1. `pulumi up -s dev` from nothing succeeds and the outputs are there", async () => {
    const up = await pulumi("up from nothing", ["up", "--yes", "--skip-preview"]);
    const summary = resourceSummary(up.stdout);
    expect(summary.create).toBeGreaterThan(40);
    expect(Object.keys(summary)).toEqual(["create"]);

    outputs = (await stackOutputs(project.context, "dev")) as unknown as Outputs;
    ca = stackCa(outputs);
    expect(Object.keys(outputs.leaves).sort()).toEqual(["cimstor", "nats-1", "nats-2", "nats-3"]);
    expect(outputs.hub.clientUrls).toEqual(["nats://127.0.41.41:4223", "nats://127.0.41.42:4223", "nats://127.0.41.43:4223"]);
    expect(outputs.jetstream.streams[AGGREGATE]).toEqual(["hub"]);
    expect(outputs.creds["person-service"]).toMatch(/BEGIN NATS USER JWT[\s\S]*BEGIN USER NKEY SEED/);
    expect(outputs.jetstreamAdminCreds).toMatch(/BEGIN NATS USER JWT/);

    startedPids = natsServersUnder(project.dir);
    expect(startedPids).toHaveLength(7);
    for (const url of [...Object.values(outputs.leaves).map((l) => l.monitoringUrl), ...outputs.hub.monitoringUrls]) {
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
    }
    // Secrets never reach the state file in plaintext.
    const seed = /SU[A-Z0-9]{56}/.exec(outputs.creds["person-service"])![0];
    const stateFiles = fs.readdirSync(path.join(project.dir, "state"), { recursive: true }).map(String).filter((f) => f.endsWith(".json"));
    for (const f of stateFiles) expect(fs.readFileSync(path.join(project.dir, "state", f), "utf8")).not.toContain(seed);
  }, 240_000);

  it("2. events published with person-service creds at each leaf land once in the hub aggregate; KV and objects work", async () => {
    const creds = new TextEncoder().encode(outputs.creds["person-service"]);
    for (const [leaf, endpoints] of Object.entries(outputs.leaves)) {
      const id = `e2e-${leaf}-${randomBytes(4).toString("hex")}`;
      published[leaf] = id;
      const nc = await connect({ servers: endpoints.clientUrl, tls: stackClientTls(ca, endpoints.clientUrl), authenticator: credsAuthenticator(creds), name: `person-service@${leaf}` });
      try {
        // person-service may publish events but not use the JetStream API: a core publish the leaf's stream captures.
        nc.publish("person.events.created", JSON.stringify({ id, leaf }));
        await nc.flush();
      } finally {
        await nc.close();
      }
    }

    // Each leaf's stream holds its own event only (leaf stores stay local).
    for (const [leaf, endpoints] of Object.entries(outputs.leaves)) {
      const held = await eventually(
        `${leaf}'s ${LEAF_STREAM} holding its event`,
        () => withAdmin(endpoints.clientUrl, (_nc, jsm) => payloads(jsm, LEAF_STREAM)),
        (p) => p.some((m) => m.includes(published[leaf])),
      );
      expect(held.filter((m) => Object.values(published).some((id) => m.includes(id)))).toEqual([JSON.stringify({ id: published[leaf], leaf })]);
    }
    // The aggregate holds every event exactly once.
    const all = Object.values(published);
    const aggregate = await eventually(
      `${AGGREGATE} holding all ${all.length} events`,
      () => withAdmin(outputs.hub.clientUrls, (_nc, jsm) => payloads(jsm, AGGREGATE)),
      (p) => all.every((id) => p.some((m) => m.includes(id))),
    );
    for (const id of all) expect(aggregate.filter((m) => m.includes(id))).toHaveLength(1);

    // KV: the declared entries, readable at every leaf and at the hub.
    for (const endpoints of Object.values(outputs.leaves)) {
      const value = await withAdmin(endpoints.clientUrl, async (nc) => (await (await new Kvm(nc).open("PERSON_METADATA")).get("domain.name"))?.string());
      expect(value).toBe("Person Domain");
    }
    const platform = await withAdmin(outputs.hub.clientUrls, async (nc) => (await (await new Kvm(nc).open("CLUSTER_METADATA")).get("platform.name"))?.string());
    expect(platform).toBe("CIM");

    // An object put on cimstor reads back identically.
    const blob = randomBytes(512 * 1024);
    const back = await withAdmin(outputs.leaves.cimstor.clientUrl, async (nc) => {
      const store = await new Objm(nc).open("CLUSTER_OBJECTS");
      await store.putBlob({ name: "e2e/blob.bin" }, blob);
      return store.getBlob("e2e/blob.bin");
    });
    expect(createHash("sha256").update(back!).digest("hex")).toBe(createHash("sha256").update(blob).digest("hex"));
  }, 120_000);

  it("3. a second run reports no changes", async () => {
    const preview = await pulumi("preview --expect-no-changes", ["preview", "--expect-no-changes"], true);
    expect(preview.code, preview.stdout.slice(-3000)).toBe(0);
    const up = await pulumi("up, no changes", ["up", "--yes", "--skip-preview"]);
    expect(Object.keys(resourceSummary(up.stdout))).toEqual(["unchanged"]);
  }, 120_000);

  it("4. a changed max_age previews as an in-place update, applies, and loses no data", async () => {
    // The project copy's Pulumi.dev.yaml; the repo's file is never touched.
    await runPulumi(project.context, ["config", "set", "--path", "cim-nats:jetstream.streams[0].max_age", "1440h", "-s", "dev"]);
    const preview = await pulumi("preview max_age change", ["preview", "--diff"]);
    const planned = resourceSummary(preview.stdout);
    expect(planned.update).toBe(4); // PERSON_EVENTS at each of the four leaves
    expect(planned.replace ?? 0).toBe(0);
    expect(planned.delete ?? 0).toBe(0);
    expect(planned.create ?? 0).toBe(0);
    expect(preview.stdout).toMatch(/max_age/);

    await pulumi("up max_age change", ["up", "--yes", "--skip-preview"]);

    for (const [leaf, endpoints] of Object.entries(outputs.leaves)) {
      await withAdmin(endpoints.clientUrl, async (_nc, jsm) => {
        const info = await jsm.streams.info(LEAF_STREAM);
        expect(info.config.max_age).toBe(1440 * HOUR_NS);
        expect((await payloads(jsm, LEAF_STREAM)).some((m) => m.includes(published[leaf]))).toBe(true);
      });
    }
    const aggregate = await withAdmin(outputs.hub.clientUrls, (_nc, jsm) => payloads(jsm, AGGREGATE));
    for (const id of Object.values(published)) expect(aggregate.filter((m) => m.includes(id))).toHaveLength(1);
  }, 180_000);

  it("5. a stream deleted out of band with the nats CLI: refresh notices, up recreates it", async () => {
    natsCli(["--server", outputs.leaves["nats-3"].clientUrl, "stream", "rm", LEAF_STREAM, "--force"]);
    await expect(withAdmin(outputs.leaves["nats-3"].clientUrl, (_nc, jsm) => jsm.streams.info(LEAF_STREAM))).rejects.toThrow();

    const refresh = await pulumi("refresh after out-of-band delete", ["refresh", "--yes", "--skip-preview"]);
    expect(resourceSummary(refresh.stdout).delete).toBe(1);
    const up = await pulumi("up recreating the stream", ["up", "--yes", "--skip-preview"]);
    expect(resourceSummary(up.stdout).create).toBe(1);

    const info = await withAdmin(outputs.leaves["nats-3"].clientUrl, (_nc, jsm) => jsm.streams.info(LEAF_STREAM));
    expect(info.config.subjects).toEqual(["person.events.>"]);
    expect(info.config.max_age).toBe(1440 * HOUR_NS);
    const cli = natsCli(["--server", outputs.leaves["nats-3"].clientUrl, "stream", "ls", "--names"]);
    expect(cli.split(/\s+/)).toContain(LEAF_STREAM);
  }, 180_000);

  it("6. `pulumi destroy` stops every process it started and removes the data", async () => {
    const destroy = await pulumi("destroy", ["destroy", "--yes", "--skip-preview"]);
    expect(Object.keys(resourceSummary(destroy.stdout))).toEqual(["delete"]);

    for (const pid of startedPids) {
      const alive = fs.existsSync(`/proc/${pid}/cmdline`) && fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(project.dir);
      expect(alive, `nats-server pid ${pid} still running`).toBe(false);
    }
    expect(natsServersUnder(project.dir)).toEqual([]);
    const left = fs.existsSync(project.dataDir) ? fs.readdirSync(project.dataDir) : [];
    expect(left).toEqual([]);
    for (const url of Object.values(outputs.leaves).map((l) => l.monitoringUrl)) {
      await expect(fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1_000) })).rejects.toThrow();
    }
  }, 120_000);
});
