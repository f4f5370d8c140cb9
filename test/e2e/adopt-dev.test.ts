/**
 * A site made by hand, adopted by a dev stack in its first `up` (docs/adopt.md), through the real
 * Pulumi CLI on 127.0.202.x:
 *
 * - the site: an nsc operator, a JetStream account PLATFORM, a user `legacy` and a leaf-link user;
 *   nats-server processes started from hand-written configs that include nsc's generated
 *   resolver config (a hub of one member at nats-1, leaves nats-1 and nats-2 linked with nsc
 *   creds), account JWTs delivered with `nsc push`; streams, the hub aggregate sourcing both
 *   leaves, a KV bucket, an object bucket (a 300 kB object) and a consumer made with the nats CLI; 10 events acked at each leaf with
 *   the nsc creds, 5 of the aggregate's messages pulled and acked through the consumer;
 * - the stack: the same server names, JetStream domains and store folders, keys from the nsc
 *   store (`security.identities.source: nsc`), `jetstream.adopt: true`. Its servers are stopped
 *   by hand first (the stack starts its own processes on the same stores).
 *
 * After the first `up`: every stream's, bucket's and the aggregate's messages and sequences are
 * unchanged, so are the consumer's position and the aggregate's position in each source; the nsc
 * creds publish with acks and the new events reach the aggregate exactly once; preview planned
 * what up did (creates only: nothing replaced or deleted) and the next preview plans nothing.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { credsAuthenticator, type NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { dump } from "js-yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNatsServer, stopNatsServer, waitHealthy } from "../../components/local/nats-process";
import { readNscStore } from "../../components/security/nsc-store";
import { eventually } from "../support/eventually";
import { nscHome, type NscHome } from "../support/nsc";
import { PROJECT_ROOT } from "../support/stack-config";
import { createDevProject, type DevProject } from "../../harness/dev-project";
import { resourceSummary, runPulumi, stackOutputs } from "../../harness/pulumi-cli";
import { runProcess } from "../../harness/run-process";

const run = promisify(execFile);
const NATS_CLI = path.join(PROJECT_ROOT, ".tools", "bin", "nats");
const NET = "127.0.202";
const ALL_CONNECTION_TYPES = ["STANDARD", "WEBSOCKET", "LEAFNODE", "LEAFNODE_WS", "MQTT", "MQTT_WS", "IN_PROCESS"];
const LEAVES = [
  { server: "nats-1", address: `${NET}.41` },
  { server: "nats-2", address: `${NET}.42` },
];
const HUB = { server: "nats-1-hub", address: `${NET}.41`, client: `nats://${NET}.41:4223` };
const leafUrl = (address: string) => `nats://${address}:4222`;
const EVENTS_PER_LEAF = 10;

let project: DevProject;
let home: NscHome;
let handDir: string;
const handPids: number[] = [];

async function connectWith(url: string, creds: string): Promise<NatsConnection> {
  return connect({ servers: url, authenticator: credsAuthenticator(new TextEncoder().encode(creds)), timeout: 5_000 });
}

async function withConnection<T>(url: string, creds: string, fn: (nc: NatsConnection) => Promise<T>): Promise<T> {
  const nc = await connectWith(url, creds);
  try {
    return await fn(nc);
  } finally {
    await nc.close();
  }
}

type StreamState = { messages: number; first_seq: number; last_seq: number };
async function state(url: string, creds: string, domain: string, stream: string): Promise<StreamState> {
  return withConnection(url, creds, async (nc) => {
    const s = (await (await jetstreamManager(nc, { domain })).streams.info(stream)).state;
    return { messages: s.messages, first_seq: s.first_seq, last_seq: s.last_seq };
  });
}

/** Every stream the site holds, by `<domain>/<stream>`. */
async function siteState(creds: string): Promise<Record<string, StreamState>> {
  const out: Record<string, StreamState> = {};
  for (const l of LEAVES) {
    for (const s of ["PERSON_EVENTS", "KV_PERSON_METADATA", "OBJ_PERSON_OBJECTS"]) out[`${l.server}/${s}`] = await state(leafUrl(l.address), creds, l.server, s);
  }
  out["hub/CLUSTER_PERSON_EVENTS"] = await state(HUB.client, creds, "hub", "CLUSTER_PERSON_EVENTS");
  return out;
}

/**
 * Where the aggregate stands in each source: the highest source sequence it holds per leaf
 * (its `Nats-Stream-Source` header: `<stream>:<hash> <seq> …`), and how many messages came from each.
 */
async function sourcePositions(creds: string): Promise<Record<string, { last: number; count: number }>> {
  return withConnection(HUB.client, creds, async (nc) => {
    const js = jetstream(nc, { domain: "hub" });
    const c = await js.consumers.get("CLUSTER_PERSON_EVENTS");
    const total = (await (await jetstreamManager(nc, { domain: "hub" })).streams.info("CLUSTER_PERSON_EVENTS")).state.messages;
    const out: Record<string, { last: number; count: number; seen: Set<number> }> = {};
    const batch = await c.fetch({ max_messages: total, expires: 5_000 });
    for await (const m of batch) {
      const [source, seq] = (m.headers?.get("Nats-Stream-Source") ?? "").split(" ");
      const at = (out[source] ??= { last: 0, count: 0, seen: new Set() });
      if (at.seen.has(Number(seq))) throw new Error(`the aggregate holds ${source} ${seq} twice`);
      at.seen.add(Number(seq));
      at.last = Math.max(at.last, Number(seq));
      at.count++;
      if (m.info.pending === 0) break;
    }
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, { last: v.last, count: v.count }]));
  });
}

async function consumerPosition(creds: string): Promise<{ delivered: number; ackFloor: number; pending: number }> {
  return withConnection(HUB.client, creds, async (nc) => {
    const i = await (await jetstreamManager(nc, { domain: "hub" })).consumers.info("CLUSTER_PERSON_EVENTS", "person-projection");
    return { delivered: i.delivered.stream_seq, ackFloor: i.ack_floor.stream_seq, pending: i.num_pending };
  });
}

async function publish(address: string, server: string, creds: string, n: number, tag: string): Promise<number[]> {
  return withConnection(leafUrl(address), creds, async (nc) => {
    const js = jetstream(nc, { domain: server });
    const seqs: number[] = [];
    for (let i = 0; i < n; i++) seqs.push((await js.publish(`person.events.person.${tag}`, `${server}-${tag}-${i}`)).seq);
    return seqs;
  });
}

async function natsCli(url: string, creds: string, ...args: string[]): Promise<string> {
  const { stdout } = await run(NATS_CLI, ["--server", url, "--creds", creds, ...args], { env: { ...process.env, HOME: handDir } });
  return stdout;
}

/** The site as it runs today: nsc identities, hand-written configs, the nats CLI. */
async function buildHandMadeSite(dataDir: string): Promise<void> {
  const { nsc } = home;
  await nsc("add", "operator", "--sys", "-n", "COWBOY_AI");
  await nsc("add", "account", "-n", "PLATFORM");
  await nsc("edit", "account", "-n", "PLATFORM", "--js-mem-storage", "-1", "--js-disk-storage", "-1", "--js-streams", "-1", "--js-consumer", "-1");
  await nsc("add", "user", "-a", "PLATFORM", "-n", "legacy");
  await nsc("add", "user", "-a", "PLATFORM", "-n", "leaf");
  const platform = readNscStore(home.dataDir, "COWBOY_AI").accounts.find((a) => a.name === "PLATFORM")!.publicKey;
  fs.writeFileSync(path.join(handDir, "leaf.creds"), home.creds("PLATFORM", "leaf"), { mode: 0o600 });
  fs.writeFileSync(path.join(handDir, "legacy.creds"), home.creds("PLATFORM", "legacy"), { mode: 0o600 });
  await nsc("generate", "config", "--nats-resolver", "--sys-account", "SYS", "--config-file", path.join(handDir, "resolver.conf"));
  const resolver = fs.readFileSync(path.join(handDir, "resolver.conf"), "utf8");
  const servers = [
    { name: HUB.server, monitoring: `http://${HUB.address}:8223`, text: `listen: "${HUB.address}:4223"\nhttp: "${HUB.address}:8223"\njetstream { store_dir: "${dataDir}/${HUB.server}", domain: hub }\nleafnodes { listen: "${HUB.address}:7422" }\n` },
    ...LEAVES.map((l) => ({
      name: l.server,
      monitoring: `http://${l.address}:8222`,
      text:
        `listen: "${l.address}:4222"\nhttp: "${l.address}:8222"\njetstream { store_dir: "${dataDir}/${l.server}", domain: ${l.server} }\n` +
        `leafnodes { remotes: [ { url: "nats://${HUB.address}:7422", credentials: "${path.join(handDir, "leaf.creds")}", account: "${platform}", deny_imports: ["person.events.>"] } ] }\n`,
    })),
  ];
  for (const s of servers) {
    fs.writeFileSync(path.join(handDir, `${s.name}-resolver.conf`), resolver.replace(/dir:\s*'\.\/jwt'/, `dir: '${path.join(handDir, s.name, "jwt")}'`));
    fs.writeFileSync(path.join(handDir, `${s.name}.conf`), `server_name: ${s.name}\n${s.text}include "${s.name}-resolver.conf"\n`);
    const { pid } = await startNatsServer({ configPath: path.join(handDir, `${s.name}.conf`), logPath: path.join(handDir, `${s.name}.log`) });
    handPids.push(pid);
    await waitHealthy(s.monitoring, 30_000, pid);
  }
  for (const url of [HUB.client, ...LEAVES.map((l) => leafUrl(l.address))]) await nsc("push", "-a", "PLATFORM", "-u", url);
  const creds = path.join(handDir, "legacy.creds");
  for (const l of LEAVES) {
    await natsCli(leafUrl(l.address), creds, "--js-domain", l.server, "stream", "add", "PERSON_EVENTS", "--subjects", "person.events.>", "--storage", "file", "--retention", "limits", "--max-age", "720h", "--replicas", "1", "--defaults");
    await natsCli(leafUrl(l.address), creds, "--js-domain", l.server, "kv", "add", "PERSON_METADATA", "--history", "5");
    await natsCli(leafUrl(l.address), creds, "--js-domain", l.server, "kv", "put", "PERSON_METADATA", "domain.name", "Person Domain");
    await natsCli(leafUrl(l.address), creds, "--js-domain", l.server, "object", "add", "PERSON_OBJECTS");
    fs.writeFileSync(path.join(handDir, "photo.bin"), Buffer.alloc(300_000, 7));
    await natsCli(leafUrl(l.address), creds, "--js-domain", l.server, "object", "put", "PERSON_OBJECTS", path.join(handDir, "photo.bin"), "--force");
  }
  // The aggregate as an operator writes it: no subjects, one source per leaf domain.
  const aggregate = {
    name: "CLUSTER_PERSON_EVENTS",
    storage: "file",
    retention: "limits",
    max_age: 2160 * 3600 * 1e9,
    num_replicas: 1,
    sources: LEAVES.map((l) => ({ name: "PERSON_EVENTS", external: { api: `$JS.${l.server}.API` } })),
  };
  fs.writeFileSync(path.join(handDir, "aggregate.json"), JSON.stringify(aggregate));
  await natsCli(HUB.client, creds, "--js-domain", "hub", "stream", "add", "--config", path.join(handDir, "aggregate.json"));
  await natsCli(HUB.client, creds, "--js-domain", "hub", "consumer", "add", "CLUSTER_PERSON_EVENTS", "person-projection", "--pull", "--ack", "explicit", "--deliver", "all", "--filter", "person.events.>", "--defaults");
}

/** The dev stack's config for the adopted site: same names, domains and stores, nsc's keys, adopt. */
function stackConfig(nscDir: string): Record<string, unknown> {
  return {
    config: {
      "cim-nats:substrate": "local",
      "cim-nats:tls": { mode: "off" },
      "cim-nats:topology": {
        dataDir: ".cim-dev/dev",
        lameDuck: { durationSeconds: 30, gracePeriodSeconds: 1 },
        hub: { cluster: "cim-hub", domain: "hub", replicas: 1 },
        hosts: [
          { name: "nats-1", vmid: 201, node: "pve1", address: `${NET}.41`, roles: ["leaf", "hub"] },
          { name: "nats-2", vmid: 202, node: "pve2", address: `${NET}.42`, roles: ["leaf"] },
        ],
      },
      "cim-nats:jetstream": {
        adopt: true,
        streams: [
          {
            name: "PERSON_EVENTS",
            at: "leaves",
            subjects: ["person.events.>"],
            storage: "file",
            retention: "limits",
            max_age: "720h",
            replicas: 1,
            aggregate: { name: "CLUSTER_PERSON_EVENTS", replicas: 1, storage: "file", max_age: "2160h" },
          },
        ],
        kv: [{ bucket: "PERSON_METADATA", at: "leaves", history: 5 }],
        objects: [{ bucket: "PERSON_OBJECTS", at: "leaves" }],
        consumers: [{ name: "person-projection", stream: "CLUSTER_PERSON_EVENTS", at: "hub", ack_policy: "explicit", deliver_policy: "all", filter_subjects: ["person.events.>"] }],
      },
      "cim-nats:security": {
        operator: "COWBOY_AI",
        accounts: [{ name: "PLATFORM", jetstream: { maxMemory: -1, maxFile: -1 } }],
        users: [
          { name: "legacy", account: "PLATFORM", connectionTypes: ALL_CONNECTION_TYPES },
          { name: "leaf", account: "PLATFORM", connectionTypes: ALL_CONNECTION_TYPES },
        ],
        identities: { source: "nsc", dir: nscDir },
      },
    },
    encryptionsalt: fs.readFileSync(path.join(PROJECT_ROOT, "Pulumi.dev.yaml"), "utf8").match(/^encryptionsalt: (.*)$/m)![1],
  };
}

beforeAll(() => {
  project = createDevProject("cim-nats-adopt-dev-");
  handDir = path.join(project.dir, "hand");
  fs.mkdirSync(handDir);
  home = nscHome(project.dir);
});

afterAll(async () => {
  for (const pid of handPids) await stopNatsServer(pid, 15_000).catch(() => undefined);
  if (project) await project.cleanup();
});

describe("a site made by hand (nsc, hand-written configs, the nats CLI), adopted by a dev stack", () => {
  const before: { site?: Record<string, StreamState>; sources?: Record<string, { last: number; count: number }>; consumer?: { delivered: number; ackFloor: number; pending: number }; admin?: string } = {};

  it("the site runs as it does today: 10 acked events per leaf, in the aggregate once each, 5 consumed", async () => {
    await buildHandMadeSite(project.dataDir);
    const legacy = home.creds("PLATFORM", "legacy");
    for (const l of LEAVES) expect(await publish(l.address, l.server, legacy, EVENTS_PER_LEAF, "before")).toEqual(Array.from({ length: EVENTS_PER_LEAF }, (_, i) => i + 1));
    await eventually("the aggregate sourced both leaves", () => state(HUB.client, legacy, "hub", "CLUSTER_PERSON_EVENTS"), (s) => s.messages === 2 * EVENTS_PER_LEAF);
    await withConnection(HUB.client, legacy, async (nc) => {
      const c = await jetstream(nc, { domain: "hub" }).consumers.get("CLUSTER_PERSON_EVENTS", "person-projection");
      for await (const m of await c.fetch({ max_messages: 5, expires: 5_000 })) {
        await m.ackAck();
        if (m.info.pending === 2 * EVENTS_PER_LEAF - 5) break;
      }
    });
    before.site = await siteState(legacy);
    before.sources = await sourcePositions(legacy);
    before.consumer = await consumerPosition(legacy);
    expect(before.consumer).toEqual({ delivered: 5, ackFloor: 5, pending: 2 * EVENTS_PER_LEAF - 5 });
    expect(Object.values(before.sources).map((s) => s.count)).toEqual([EVENTS_PER_LEAF, EVENTS_PER_LEAF]);
    // The hand-made servers stop; the stack starts its own processes on the same stores.
    for (const pid of handPids.splice(0)) await stopNatsServer(pid, 15_000);
  }, 300_000);

  it("first up: preview = up, creates only (nothing replaced or deleted), every message, sequence and position kept", async () => {
    fs.writeFileSync(path.join(project.projectDir, "Pulumi.dev.yaml"), dump(stackConfig(home.dataDir), { lineWidth: -1 }));
    const ctx = project.context;
    await runPulumi(ctx, ["stack", "select", "--create", "dev"]);
    const previewed = await runPulumi(ctx, ["preview", "--diff", "-s", "dev"]);
    const planned = resourceSummary(previewed.stdout);
    const up = await runPulumi(ctx, ["up", "--yes", "--skip-preview", "-s", "dev"], { timeoutMs: 600_000 });
    // The nsc seeds the stack signs with never show, not even in the full diff.
    for (const out of [previewed, up]) expect(`${out.stdout}${out.stderr}`).not.toMatch(/\bS[OAU][A-Z2-7]{56}\b/);
    const applied = resourceSummary(up.stdout);
    expect(applied).toEqual(planned);
    expect(Object.keys(applied).sort()).toEqual(["create"]);
    // What the first up said about the nsc users it found (names only).
    expect(up.stdout).toContain("identities (nsc store");
    expect(up.stdout).toContain("PLATFORM/legacy: nsc creds keep working");

    const outputs = await stackOutputs(ctx, "dev");
    const admin = outputs.jetstreamAdminCreds as string;
    before.admin = admin;
    const nscStore = readNscStore(home.dataDir, "COWBOY_AI");
    expect((outputs.publicKeys as { operator: string }).operator).toBe(nscStore.operator.publicKey);
    expect((outputs.publicKeys as { accounts: Record<string, string> }).accounts.PLATFORM).toBe(nscStore.accounts.find((a) => a.name === "PLATFORM")!.publicKey);
    expect(await siteState(admin)).toEqual(before.site);
    expect(await sourcePositions(admin)).toEqual(before.sources);
    expect(await consumerPosition(admin)).toEqual(before.consumer);
    // The KV entry the site had is still its first revision (adopted, not rewritten).
    expect((await state(leafUrl(LEAVES[0].address), admin, "nats-1", "KV_PERSON_METADATA")).last_seq).toBe(1);
  }, 900_000);

  it("after: the nsc creds publish with acks, continuing each leaf's sequence; the aggregate takes each new event once", async () => {
    const legacy = home.creds("PLATFORM", "legacy");
    const admin = before.admin!; // the first up's output (case 2)
    for (const l of LEAVES) expect(await publish(l.address, l.server, legacy, 5, "after")).toEqual([11, 12, 13, 14, 15]);
    const started = Date.now();
    // The aggregate's wait (its one-member hub has no leader to step down, so its sources sit in
    // nats-server's retry backoff until the next attempt: docs/adopt.md) overlaps the CLI's
    // read-only checks of the same state; each is asserted on its own below.
    const aggregateCaughtUp = (async () => {
      try {
        await eventually("the aggregate sourced the new events", () => state(HUB.client, admin, "hub", "CLUSTER_PERSON_EVENTS"), (s) => s.messages >= 2 * EVENTS_PER_LEAF + 10, 150_000);
      } catch (e) {
        const sources = await withConnection(HUB.client, admin, async (nc) => (await (await jetstreamManager(nc, { domain: "hub" })).streams.info("CLUSTER_PERSON_EVENTS")).sources);
        throw new Error(`${(e as Error).message}; sources: ${JSON.stringify(sources)}`);
      }
      console.log(`adopt-dev: the new events reached the aggregate ${Date.now() - started} ms after their acks`);
    })();
    const cliChecks = (async () => {
      const again = await runPulumi(project.context, ["preview", "--expect-no-changes", "-s", "dev"], { allowFailure: true });
      const output = await runPulumi(project.context, ["stack", "output", "--json", "-s", "dev"]);
      const exported = await runPulumi(project.context, ["stack", "export", "-s", "dev"]);
      return { again, output, exported };
    })();
    const [, { again, output, exported }] = await Promise.all([aggregateCaughtUp, cliChecks]);
    const positions = await sourcePositions(admin);
    expect(Object.values(positions)).toEqual([
      { last: EVENTS_PER_LEAF + 5, count: EVENTS_PER_LEAF + 5 },
      { last: EVENTS_PER_LEAF + 5, count: EVENTS_PER_LEAF + 5 },
    ]);
    expect((await consumerPosition(admin)).pending).toBe(2 * EVENTS_PER_LEAF + 10 - 5);
    expect(again.code, again.stdout.slice(-2000)).toBe(0);
    // The nsc seeds the stack signs with are secrets in its state: none in the outputs or the exported state.
    const seeds = /\bS[OAU][A-Z2-7]{56}\b/;
    expect(output.stdout).not.toMatch(seeds);
    expect(exported.stdout).not.toMatch(seeds);
  }, 300_000);

  it("npm run verify passes on the adopted site: servers, accounts, streams, sources", async () => {
    const result = await runProcess("tsx", ["scripts/verify.ts", "-s", "dev"], { cwd: project.projectDir, env: project.context.env });
    expect(result.code, `${result.stdout}${result.stderr}`.slice(-3000)).toBe(0);
  }, 180_000);

  it("switching the running stack to generated keys is refused, at preview and by up alone, saying why; nothing changes", async () => {
    const ctx = project.context;
    const yaml = path.join(project.projectDir, "Pulumi.dev.yaml");
    const adopted = fs.readFileSync(yaml, "utf8");
    const generated = stackConfig(home.dataDir) as { config: Record<string, any> };
    delete generated.config["cim-nats:security"].identities;
    fs.writeFileSync(yaml, dump(generated, { lineWidth: -1 }));
    try {
      for (const args of [["preview"], ["up", "--yes", "--skip-preview"]]) {
        const refused = await runPulumi(ctx, [...args, "-s", "dev"], { allowFailure: true });
        expect(refused.code, args.join(" ")).not.toBe(0);
        const said = `${refused.stdout}${refused.stderr}`;
        expect(said).toMatch(/this (operator|account) key would switch from the provided key [OA][A-Z2-7]{55} to a newly generated one: every JWT it signed is re-issued and every creds file issued before stops working/);
        expect(said).toMatch(/allowSwitch: true/);
        expect(said).not.toMatch(/\bS[OAU][A-Z2-7]{56}\b/);
      }
    } finally {
      fs.writeFileSync(yaml, adopted);
    }
    // Nothing was half-applied: the nsc creds still work, and the adopted config plans nothing.
    const legacy = home.creds("PLATFORM", "legacy");
    expect(await publish(LEAVES[1].address, LEAVES[1].server, legacy, 1, "after-refusal")).toEqual([16]);
    const again = await runPulumi(ctx, ["preview", "--expect-no-changes", "-s", "dev"], { allowFailure: true });
    expect(again.code, again.stdout.slice(-2000)).toBe(0);
  }, 300_000);

  it("the same keys as secrets (source: config, seeds set from nsc's keystore on stdin) plan no change at all", async () => {
    const ctx = project.context;
    const store = readNscStore(home.dataDir, "COWBOY_AI");
    const seedFile = (pub: string) => path.join(home.keysDir, "keys", pub[0], pub.slice(1, 3), `${pub}.nk`);
    const setSecret = (key: string, file: string) => runPulumi(ctx, ["config", "set", "--secret", "--path", key, "-s", "dev"], { input: fs.readFileSync(file, "utf8") });
    const yaml = path.join(project.projectDir, "Pulumi.dev.yaml");
    const adopted = fs.readFileSync(yaml, "utf8");
    try {
      const sys = store.accounts.find((a) => a.name === "SYS")!;
      const withSecrets = stackConfig(home.dataDir) as { config: Record<string, any> };
      // nsc's system user is signed by nsc's SYS signing key: listed by hand without the store.
      withSecrets.config["cim-nats:security"].identities = { source: "config", signingKeys: { SYS: sys.signingKeys } };
      fs.writeFileSync(yaml, dump(withSecrets, { lineWidth: -1 }));
      await setSecret("cim-nats:identitySeeds.operator", seedFile(store.operator.publicKey));
      for (const a of store.accounts) await setSecret(`cim-nats:identitySeeds.accounts.${a.name}`, seedFile(a.publicKey));
      expect(fs.readFileSync(yaml, "utf8")).not.toMatch(/\bS[OAU][A-Z2-7]{56}\b/);
      const same = await runPulumi(ctx, ["preview", "--expect-no-changes", "-s", "dev"], { allowFailure: true });
      expect(same.code, same.stdout.slice(-2000)).toBe(0);
      expect(`${same.stdout}${same.stderr}`).not.toMatch(/\bS[OAU][A-Z2-7]{56}\b/);
    } finally {
      fs.writeFileSync(yaml, adopted);
    }
  }, 300_000);
});
