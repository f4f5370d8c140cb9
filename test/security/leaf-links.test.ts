/**
 * Least-privilege leaf links, measured on real servers (dev topology in operator mode on
 * 127.0.51.x): the derived leaf-link users carry only what the bindings need — sourcing into the
 * aggregate, and what services at a leaf send to or receive from the hub — and a stolen
 * leaf-link creds file linking a rogue leaf reads nothing else.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { credsAuthenticator, type NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNatsServer, stopNatsServer, waitHealthy } from "../../components/local/nats-process";
import { closeJetStreamConnections } from "../../components/jetstream/connection-pool";
import { createKv } from "../../components/jetstream/kv";
import { createObjectStore } from "../../components/jetstream/object-store";
import { Objm } from "@nats-io/obj";
import { createKvEntry } from "../../components/jetstream/kv-entry";
import { locationTarget } from "../../components/jetstream/locations";
import { leafLocalSubjects, parseJetStream } from "../../components/jetstream/spec";
import { createStream } from "../../components/jetstream/stream";
import { parseSecurity } from "../../components/security/parse";
import { pushAccountJwt } from "../../components/security/jwt-push";
import { serverHash } from "../../components/security/leaf-links";
import { JETSTREAM_ADMIN_USER, SYSTEM_MONITOR_USER, UserRole } from "../../components/security/types";
import { parseTopology } from "../../components/topology/parse";
import { rebaseAddresses } from "../../components/topology/rebase";
import type { Topology } from "../../components/topology/types";
import { startTopology, type RunningTopology } from "../../harness/local-topology";
import { readStackConfig } from "../support/stack-config";
import { eventually } from "../support/eventually";
import { accountPushes, issueForTest, leafLinkFiles, testServerSecurity, type TestIssue } from "./support/issue";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const config = readStackConfig("dev");
type Raw = Record<string, any>;
const rawTopology = config.topology;
const js = parseJetStream(config.jetstream, rebaseAddresses(parseTopology(rawTopology, { name: "links" }), "127.0.51"));
const topology: Topology = rebaseAddresses(parseTopology(rawTopology, { name: "links", leafDenyImports: leafLocalSubjects(js) }), "127.0.51");
const raw = config.security as Raw;
/**
 * The dev services plus one that works across the links: at nats-1, writing a hub stream,
 * reading a hub bucket, and writing and reading the object bucket that lives at cimstor alone.
 */
const users: Raw[] = [
  ...raw.users,
  {
    name: "edge-service",
    at: ["nats-1"],
    publishes: ["PATTERNS"],
    reads: { kv: ["CLUSTER_METADATA"], objects: ["CLUSTER_OBJECTS"] },
    writes: { objects: ["CLUSTER_OBJECTS"] },
    // nats.js reads an object through an ordered consumer it creates.
    watches: { objects: ["CLUSTER_OBJECTS"] },
  },
];
const spec = parseSecurity({ ...raw, users }, topology, js);
const hub = topology.hub.members[0].serverName;
const EVENTS_PER_LEAF = 20;

let issue: TestIssue;
let rt: RunningTopology;
const connections: NatsConnection[] = [];

const errorsByConnection = new Map<NatsConnection, string[]>();
const serverErrorsOf = (nc: NatsConnection) => errorsByConnection.get(nc) ?? [];

async function connectAs(name: string, url: string): Promise<NatsConnection> {
  const inboxPrefix = spec.users.find((u) => u.name === name)?.inboxPrefix;
  const nc = await connect({
    servers: url,
    authenticator: credsAuthenticator(new TextEncoder().encode(issue.creds[name])),
    maxReconnectAttempts: 0,
    ...(inboxPrefix ? { inboxPrefix } : {}),
  });
  connections.push(nc);
  const errors: string[] = [];
  errorsByConnection.set(nc, errors);
  void (async () => {
    for await (const s of nc.status()) if (s.type === "error") errors.push(s.error.message);
  })();
  return nc;
}

/** Where a barrier message comes from and on what subject: one the link carries on the path under test. */
type Barrier = { readonly from: readonly NatsConnection[]; readonly subject: string };
let barriers = 0;

/**
 * Publishes `barrier.subject` from each of `barrier.from` (again every 50 ms) until `nc` has
 * received it from each: `nc`'s interest has reached them, and whatever they sent on the same
 * path before has arrived. Positive evidence instead of a fixed wait.
 */
async function passBarrier(nc: NatsConnection, barrier: Barrier): Promise<void> {
  const tags = barrier.from.map(() => `barrier-${++barriers}`);
  const seen = new Set<string>();
  const sub = nc.subscribe(barrier.subject, { callback: (_e, m) => void seen.add(m.string()) });
  await nc.flush();
  try {
    await eventually(
      `'${barrier.subject}' from ${barrier.from.length} publisher(s) at ${nc.getServer()}`,
      async () => {
        barrier.from.forEach((from, i) => seen.has(tags[i]) || from.publish(barrier.subject, tags[i]));
        await Promise.all(barrier.from.map((from) => from.flush()));
        return tags.every((t) => seen.has(t));
      },
      Boolean,
      10_000,
      50,
    );
  } finally {
    sub.unsubscribe();
  }
}

/**
 * Subjects a subscription on `filter` receives from what `publish` sends: a barrier before (the
 * subscription's interest has spread) and one after (anything sent on the barrier's path has
 * arrived). Barrier messages are left out.
 */
async function received(nc: NatsConnection, filter: string, publish: () => Promise<void>, barrier: Barrier): Promise<string[]> {
  const seen: string[] = [];
  nc.subscribe(filter, { callback: (_e, m) => void seen.push(m.subject) });
  await passBarrier(nc, barrier);
  await publish();
  await passBarrier(nc, barrier);
  return seen.filter((s) => s !== barrier.subject);
}

beforeAll(async () => {
  issue = await issueForTest(spec);
  rt = await startTopology(topology, { security: testServerSecurity(issue), files: leafLinkFiles(issue), pushes: accountPushes(issue), timeoutMs: 90_000 });
  const target = (l: Parameters<typeof locationTarget>[0]) => ({ ...locationTarget(l, rt.topology, { creds: issue.creds[JETSTREAM_ADMIN_USER] }), servers: l.serverNames.map((s) => rt.clientUrl(s)) });
  for (const s of js.streams) await createStream({ ...s.config, target: target(s.location) });
  for (const a of js.aggregates) await createStream({ ...a.config, target: target(a.location) });
  for (const o of js.objects) await createObjectStore({ ...o.config, target: target(o.location) });
  for (const k of js.kv) {
    await createKv({ ...k.config, target: target(k.location) });
    for (const [key, value] of Object.entries(k.entries)) await createKvEntry({ target: target(k.location), bucket: k.config.bucket, key, value });
  }
}, 180_000);

afterAll(async () => {
  await Promise.all(connections.map((nc) => nc.close().catch(() => undefined)));
  await closeJetStreamConnections();
  await rt?.stop();
});

describe("derived leaf-link users carry only what the bindings need", () => {
  it("each leaf imports its own JetStream API and the sourcing flow control, and exports sourced messages and API replies; nats-1 and cimstor also carry edge-service's traffic", () => {
    const links = Object.fromEntries(spec.users.filter((u) => u.role === UserRole.LeafLink).map((u) => [u.leafLink!, { pub: [...u.publish.allow].sort(), sub: [...u.subscribe.allow].sort() }]));
    expect(links["nats-2"]).toEqual({ pub: ["$JS.S.>", "$JSC.R.>"], sub: ["$JS.FC.PERSON_EVENTS.>", "$JS.nats-2.API.>"] });
    // What edge-service at nats-1 sends to the hub and to cimstor goes out; the replies (through its
    // account's imports: _R_) and its consumer's deliveries (its inbox) come in.
    expect(links["nats-1"]).toEqual({
      pub: [
        "$JS.S.>",
        "$JSC.R.>",
        "patterns.>",
        "$JS.hub.API.STREAM.INFO.KV_CLUSTER_METADATA",
        "$JS.hub.API.DIRECT.GET.KV_CLUSTER_METADATA.>",
        "$JS.hub.API.STREAM.MSG.GET.KV_CLUSTER_METADATA",
        "$JS.cimstor.API.STREAM.INFO.OBJ_CLUSTER_OBJECTS",
        "$JS.cimstor.API.DIRECT.GET.OBJ_CLUSTER_OBJECTS.>",
        "$JS.cimstor.API.STREAM.MSG.GET.OBJ_CLUSTER_OBJECTS",
        "$O.CLUSTER_OBJECTS.>",
        "$JS.cimstor.API.STREAM.PURGE.OBJ_CLUSTER_OBJECTS",
        "$JS.cimstor.API.CONSUMER.CREATE.OBJ_CLUSTER_OBJECTS.>",
        "$JS.cimstor.API.CONSUMER.DELETE.OBJ_CLUSTER_OBJECTS.*",
        "$JS.FC.OBJ_CLUSTER_OBJECTS.>",
        "$JS.hub.API.INFO",
        "$JS.cimstor.API.INFO",
      ].sort(),
      sub: ["$JS.nats-1.API.>", "$JS.FC.PERSON_EVENTS.>", "_R_.>", "_INBOX_edge-service.>"].sort(),
    });
    // cimstor holds the bucket edge-service reaches: its requests and writes come in, replies and deliveries go out.
    expect(links.cimstor).toEqual({
      pub: ["$JS.S.>", "$JSC.R.>", "_R_.>", "_INBOX_edge-service.>"].sort(),
      sub: ["$JS.cimstor.API.>", "$JS.FC.PERSON_EVENTS.>", "$O.CLUSTER_OBJECTS.>", "$JS.FC.OBJ_CLUSTER_OBJECTS.>"].sort(),
    });
    // The system links carry JWT updates and resolver sync, on each leaf's own system inbox.
    const sys = spec.users.find((u) => u.name === "leaf-nats-1-sys")!;
    expect(sys.subscribe.allow).toContain(`$SYS._INBOX.${serverHash("nats-1")}.*`);
  });

  it("serverHash matches what a running leaf uses as its system inbox (so its resolver sync replies pass its link)", async () => {
    const varz = (await (await fetch(`${rt.monitoringUrl("nats-1")}/varz`)).json()) as { server_name: string };
    expect(varz.server_name).toBe("nats-1");
    // A leaf that lacks an account fetches it over its system link: the reply comes back on
    // $SYS._INBOX.<hash>.*; if the hash were wrong, this lookup (a user of a new account connecting) would time out.
    const spec2 = parseSecurity({ ...raw, users: [...users, { name: "late-service", at: ["nats-1"], publishes: ["PATTERNS"] }] }, topology, js);
    const late = await issueForTest(spec2, issue);
    // nats-1's link carried patterns.> already: no link changes hands.
    expect(late.rotated).toEqual([]);
    // Pushed to the hub members only: nats-1 has never seen the account and must look it up.
    const hubs = topology.hub.members.map((m) => ({ name: m.serverName, url: rt.clientUrl(m.serverName) }));
    for (const a of accountPushes(late, ["late-service", "PLATFORM"]).accounts) {
      await pushAccountJwt({ account: a.account, accountPublicKey: a.publicKey, jwt: a.jwt, servers: hubs, creds: late.creds[SYSTEM_MONITOR_USER] });
    }
    const nc = await connect({ servers: rt.clientUrl("nats-1"), authenticator: credsAuthenticator(new TextEncoder().encode(late.creds["late-service"])), inboxPrefix: "_INBOX_late-service", maxReconnectAttempts: 0 });
    connections.push(nc);
    const ack = await jetstream(nc).publish("patterns.late", "{}");
    expect([ack.stream, ack.domain]).toEqual(["PATTERNS", "hub"]);
    issue = late;
  });

  it("the aggregate still sources every leaf's events exactly once, and hub subscribers see them (republished)", async () => {
    const admin = await connectAs(JETSTREAM_ADMIN_USER, rt.clientUrl(hub));
    const total = topology.leaves.length * EVENTS_PER_LEAF;
    const seen: string[] = [];
    admin.subscribe("person.events.>", { callback: (_e, m) => void seen.push(m.subject) });
    // The aggregate republishes from whichever hub member leads it: the interest must be at each.
    const members = await Promise.all(topology.hub.members.map((m) => connectAs(JETSTREAM_ADMIN_USER, rt.clientUrl(m.serverName))));
    await passBarrier(admin, { from: members, subject: "person.events.barrier" });
    for (const leaf of topology.leaves) {
      const nc = await connectAs("person-service", rt.clientUrl(leaf.serverName));
      for (let i = 0; i < EVENTS_PER_LEAF; i++) await jetstream(nc).publish("person.events.linked", `${leaf.serverName}-${i}`);
    }
    const jsm = await jetstreamManager(admin);
    await eventually("the aggregate holds every event", async () => (await jsm.streams.info("CLUSTER_PERSON_EVENTS")).state.messages, (n) => n >= total, 20_000);
    // Republished as stored, in order: once the last is seen, a duplicate would have been too.
    await eventually("every republished event at the hub subscriber", async () => seen.filter((s) => s === "person.events.linked").length, (n) => n >= total, 10_000, 50);
    expect((await jsm.streams.info("CLUSTER_PERSON_EVENTS")).state.messages).toBe(total);
    expect(seen.filter((s) => s !== "person.events.barrier").length).toBe(total);
  });

  it("a service at a leaf writes a hub stream with acks and reads a hub bucket through the link (edge-service at nats-1)", async () => {
    const nc = await connectAs("edge-service", rt.clientUrl("nats-1"));
    const ack = await jetstream(nc).publish("patterns.person.edge", "{}");
    expect([ack.stream, ack.domain]).toEqual(["PATTERNS", "hub"]);
    const kv = await new Kvm(jetstream(nc, { domain: "hub" })).open("CLUSTER_METADATA");
    expect((await kv.get("platform.name"))?.string()).toBe("CIM");
  });

  it("a service at one leaf writes and reads an object bucket at another leaf (edge-service at nats-1, CLUSTER_OBJECTS at cimstor, via the hub)", async () => {
    const nc = await connectAs("edge-service", rt.clientUrl("nats-1"));
    const os = await new Objm(jetstream(nc, { domain: "cimstor" })).open("CLUSTER_OBJECTS");
    const payload = new TextEncoder().encode("x".repeat(300_000));
    const info = await os.putBlob({ name: "report.bin" }, payload);
    expect(info.size).toBe(payload.length);
    await os.putBlob({ name: "report.bin" }, new TextEncoder().encode("replaced"));
    expect(new TextDecoder().decode((await os.getBlob("report.bin"))!)).toBe("replaced");
    expect(serverErrorsOf(nc)).toEqual([]);
  });

  it("what breaks, by design: core subjects no binding names stay on their side of the link, both ways", async () => {
    const hubAdmin = await connectAs(JETSTREAM_ADMIN_USER, rt.clientUrl(hub));
    const leafAdmin = await connectAs(JETSTREAM_ADMIN_USER, rt.clientUrl("nats-2"));
    // Barriers on subjects nats-2's link does carry (flow control down, cluster replies up), sent by the same clients.
    const down = await received(leafAdmin, ">", async () => void hubAdmin.publish("person.notes.down"), { from: [hubAdmin], subject: "$JS.FC.PERSON_EVENTS.barrier" });
    expect(down).not.toContain("person.notes.down");
    expect(await received(hubAdmin, "person.notes.>", async () => void leafAdmin.publish("person.notes.up"), { from: [leafAdmin], subject: "$JSC.R.barrier" })).toEqual([]);
  });

  it("what breaks, by design: the hub's JetStream is not reachable from a leaf except through bindings (the admin manages the hub through the hub context)", async () => {
    const leafAdmin = await connectAs(JETSTREAM_ADMIN_USER, rt.clientUrl("nats-2"));
    const jsm = await jetstreamManager(leafAdmin, { domain: "hub", checkAPI: false, timeout: 1_500 });
    await expect(jsm.streams.info("PATTERNS")).rejects.toThrow(/no responders|timeout/i);
  });
});

describe("a stolen leaf-link creds file", () => {
  it.each([
    ["leaf-nats-2", "a leaf no service crosses from: nothing but its own sourcing traffic", false],
    ["leaf-nats-1", "a leaf edge-service crosses from: also service-import replies (_R_), the documented residual", true],
  ] as const)("%s links a rogue leaf (the creds are valid) — %s — and reaches nothing at the hub", async (linkUser, _what, carriesReplies) => {
    // The attacker's own server: no accounts (its clients need no auth), one leafnode remote
    // to every hub member with the stolen creds: what a thief would write.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cim-nats-rogue-"));
    fs.writeFileSync(path.join(dir, "leaf.creds"), issue.creds[linkUser], { mode: 0o600 });
    const leafDomain = linkUser.slice("leaf-".length);
    const urls = topology.hub.members.map((m) => `"nats-leaf://${m.address}:${m.leafnodePort}"`).join(", ");
    fs.writeFileSync(
      path.join(dir, "leaf.conf"),
      `server_name: rogue\nlisten: "127.0.51.9:4222"\nhttp: "127.0.51.9:8222"\nleafnodes { remotes: [ { urls: [${urls}], credentials: "${path.join(dir, "leaf.creds")}" } ] }\n`,
      { mode: 0o600 },
    );
    const { pid } = await startNatsServer({ configPath: path.join(dir, "leaf.conf"), logPath: path.join(dir, "leaf.log") });
    try {
      const monitoring = "http://127.0.51.9:8222";
      await waitHealthy(monitoring, 20_000, pid);
      for (let t = 0; t < 100 && !((await (await fetch(`${monitoring}/leafz`)).json()) as { leafnodes: number }).leafnodes; t++) await sleep(200);
      expect(((await (await fetch(`${monitoring}/leafz`)).json()) as { leafnodes: number }).leafnodes).toBe(1);

      const thief = await connect({ servers: "nats://127.0.51.9:4222", maxReconnectAttempts: 0 });
      connections.push(thief);
      const hubAdmin = await connectAs(JETSTREAM_ADMIN_USER, rt.clientUrl(hub));
      const projection = await connectAs("projection-service", rt.clientUrl(hub));
      {
        const targets = ["patterns.person.x", "person.projections.x", "person.commands.x", "_INBOX_projection-service.x", "$JS.hub.API.INFO", "$JS.nats-2.API.INFO"];
        const seen = await received(thief, ">", async () => {
          for (const s of targets) hubAdmin.publish(s, "secret");
          // Control: a subject the link does carry reaches the thief, so the subscription works.
          hubAdmin.publish("$JS.FC.PERSON_EVENTS.control", "");
          await jetstream(projection).publish("person.projections.leak", "{}");
          await hubAdmin.flush();
        }, { from: [hubAdmin], subject: "$JS.FC.PERSON_EVENTS.barrier" });
        expect(seen).toContain("$JS.FC.PERSON_EVENTS.control");
        const replies = seen.filter((s) => s.startsWith("_R_."));
        expect(replies.length > 0, `replies: ${replies.join(", ")}`).toBe(carriesReplies);
        expect(seen.filter((s) => !s.startsWith(`$JS.${leafDomain}.API.`) && !s.startsWith("$JS.FC.") && !s.startsWith("_R_."))).toEqual([]);
        // And nothing at the hub answers it: no hub JetStream API, no forged projection.
        await expect(thief.request("$JS.hub.API.STREAM.DELETE.PATTERNS", "", { timeout: 1_500 })).rejects.toThrow(/no responders|timeout/i);
        thief.publish("person.projections.forged", "{}");
        await thief.flush();
        // A barrier up the same link (cluster replies, which it carries): the forged message got
        // as far as the hub before it arrived.
        await passBarrier(hubAdmin, { from: [thief], subject: "$JSC.R.barrier" });
      }
      const jsm = await jetstreamManager(hubAdmin);
      expect((await jsm.streams.info("PATTERNS")).config.name).toBe("PATTERNS");
      const forged = await jsm.streams.getMessage("PERSON_PROJECTIONS", { last_by_subj: "person.projections.forged" }).catch(() => null);
      expect(forged).toBeNull();
    } finally {
      await stopNatsServer(pid, 10_000);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
