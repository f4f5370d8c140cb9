/**
 * The dev stack's JetStream reference set on the dev topology (4 leaves, 3 hub members), run as
 * real nats-server processes on 127.0.3.x, created through the provider functions from the
 * parsed stack config:
 * - each leaf's PERSON_EVENTS holds only its own leaf's events;
 * - the hub's CLUSTER_PERSON_EVENTS holds every event exactly once (count and sequence check);
 * - adding a leaf adds a source in place, without recreating the aggregate or losing anything;
 * - leaf KV buckets stay local (deny_imports from leafLocalSubjects), a hub KV bucket goes from
 *   R1 to R3 in place, a single-host object bucket (CLUSTER_OBJECTS at cimstor) stays reachable
 *   from the hub, and a consumer on the aggregate delivers.
 * A small control topology without deny_imports shows why leaf KV buckets need them.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import { jetstream } from "@nats-io/jetstream";
import { Objm } from "@nats-io/obj";
import { aggregateSources } from "../../components/jetstream/aggregate";
import { jsApi } from "../../components/jetstream/api";
import { closeJetStreamConnections, jetStreamConnection } from "../../components/jetstream/connection-pool";
import { createConsumer } from "../../components/jetstream/consumer";
import { createKv, diffKv, readKv, updateKv } from "../../components/jetstream/kv";
import { createKvEntry, getKvEntry } from "../../components/jetstream/kv-entry";
import { createObjectStore } from "../../components/jetstream/object-store";
import { leafLocalSubjects, parseJetStream } from "../../components/jetstream/spec";
import { createStream, diffStream, readStream, updateStream, type StreamArgs, type StreamOutputs } from "../../components/jetstream/stream";
import { streamInfo } from "../../components/jetstream/stream-requests";
import type { StreamInfoResponse } from "../../components/jetstream/stream-requests";
import type { ConnectionTarget } from "../../components/jetstream/types";
import { parseTopology } from "../../components/topology/parse";
import { rebaseAddresses } from "../../components/topology/rebase";
import type { ServerInstance, Topology } from "../../components/topology/types";
import { startTopology, type RunningTopology } from "../../harness/local-topology";
import { readStackConfig } from "../support/stack-config";

const EVENTS_PER_LEAF = 50;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function waitUntil<T>(what: string, timeoutMs: number, probe: () => Promise<T>, done: (v: T) => boolean): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (done(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not reached in ${timeoutMs} ms (last: ${JSON.stringify(v)})`);
    await sleep(200);
  }
}

const dev = readStackConfig("dev");
type RawTopology = { hosts: { name: string }[] } & Record<string, unknown>;
const rawTopology = dev.topology as RawTopology;
const spec = parseJetStream(dev.jetstream, parseTopology(rawTopology, { name: "jsdev" }));
const topology = rebaseAddresses(parseTopology(rawTopology, { name: "jsdev", leafDenyImports: leafLocalSubjects(spec) }), "127.0.3");
/** The same topology before the cimstor leaf was added. */
const withoutCimstor = rebaseAddresses(parseTopology({ ...rawTopology, hosts: rawTopology.hosts.filter((h) => h.name !== "cimstor") }, { name: "jsdev" }), "127.0.3");

let rt: RunningTopology;
const conns: NatsConnection[] = [];

const leafTarget = (leaf: ServerInstance): ConnectionTarget => ({ servers: [rt.clientUrl(leaf.serverName)], domain: leaf.jetstreamDomain });
const hubTarget = (): ConnectionTarget => ({ servers: topology.hub.members.map((m) => rt.clientUrl(m.serverName)), domain: topology.hub.jetstreamDomain });
const leafByDomain = (domain: string) => topology.leaves.find((l) => l.jetstreamDomain === domain)!;

async function client(url: string | string[]): Promise<NatsConnection> {
  const nc = await connect({ servers: url });
  conns.push(nc);
  return nc;
}

/** Every message of a stream as { seq, leaf, i }, read one by one through the JetStream API. */
async function messagesOf(target: ConnectionTarget, stream: string, count: number): Promise<{ seq: number; leaf: string; i: number }[]> {
  const conn = await jetStreamConnection(target);
  const out: { seq: number; leaf: string; i: number }[] = [];
  for (let seq = 1; seq <= count; seq++) {
    const r = await jsApi<{ message: { seq: number; data: string } }>(conn, `STREAM.MSG.GET.${stream}`, { seq }, stream);
    out.push({ seq: r.message.seq, ...JSON.parse(Buffer.from(r.message.data, "base64").toString()) });
  }
  return out;
}

beforeAll(async () => {
  rt = await startTopology(topology, { timeoutMs: 90_000 });
}, 180_000);

afterAll(async () => {
  await Promise.all(conns.map((c) => c.close().catch(() => undefined)));
  await closeJetStreamConnections();
  await rt?.stop();
});

describe("PERSON_EVENTS at the leaves, CLUSTER_PERSON_EVENTS at the hub", () => {
  let aggregate: { id: string; outs: StreamOutputs };
  let aggregateArgs: StreamArgs;
  let created: string;

  it("creates the leaf streams and the hub aggregate from the stack config (the aggregate still without cimstor)", async () => {
    // The leaf-level stream the aggregate sources; the stack's hub streams are not part of this story.
    const personEvents = spec.streams.filter((s) => s.config.name === "PERSON_EVENTS");
    expect(personEvents.map((s) => s.location.domain)).toEqual(["nats-1", "nats-2", "nats-3", "cimstor"]);
    for (const s of personEvents) {
      const { outs } = await createStream({ target: leafTarget(leafByDomain(s.location.domain)), ...s.config });
      expect(outs).toMatchObject({ name: "PERSON_EVENTS", num_replicas: 1, max_age: 720 * 3600e9 });
    }
    const a = spec.aggregates[0];
    aggregateArgs = { target: hubTarget(), ...a.config, sources: aggregateSources(a.leafStream, withoutCimstor) };
    aggregate = await createStream(aggregateArgs);
    expect(aggregate.outs).toMatchObject({ name: "CLUSTER_PERSON_EVENTS", num_replicas: 3, subjects: [], max_age: 2160 * 3600e9 });
    expect(aggregate.outs.sources).toHaveLength(3);
    const info = await streamInfo(hubTarget(), "CLUSTER_PERSON_EVENTS");
    expect(info?.config.subjects ?? []).toEqual([]);
    created = (info as unknown as { created: string }).created;
  });

  it("stores each leaf's events only in that leaf's PERSON_EVENTS", async () => {
    for (const leaf of topology.leaves) {
      const nc = await client(rt.clientUrl(leaf.serverName));
      for (let i = 0; i < EVENTS_PER_LEAF; i++) {
        const ack = await nc.request("person.events.created", JSON.stringify({ leaf: leaf.jetstreamDomain, i }), { timeout: 5000 });
        expect(JSON.parse(ack.string())).toMatchObject({ stream: "PERSON_EVENTS", domain: leaf.jetstreamDomain });
      }
    }
    await sleep(500); // give any cross-leaf leakage time to show
    for (const leaf of topology.leaves) {
      const info = await streamInfo(leafTarget(leaf), "PERSON_EVENTS");
      expect(info?.state.messages, leaf.jetstreamDomain).toBe(EVENTS_PER_LEAF);
      const msgs = await messagesOf(leafTarget(leaf), "PERSON_EVENTS", EVENTS_PER_LEAF);
      expect(new Set(msgs.map((m) => m.leaf))).toEqual(new Set([leaf.jetstreamDomain]));
    }
  });

  it("aggregates the sourced leaves' events at the hub", async () => {
    await waitUntil("aggregate has the 3 sourced leaves' events", 30_000, async () => (await streamInfo(hubTarget(), "CLUSTER_PERSON_EVENTS"))?.state.messages, (n) => n === 3 * EVENTS_PER_LEAF);
  });

  it("adds a source in place when the topology gains a leaf: same stream, nothing lost, the new leaf's backlog arrives", async () => {
    const grown = { ...aggregateArgs, sources: aggregateSources(spec.aggregates[0].leafStream, topology) };
    expect(await diffStream(aggregate.id, aggregate.outs, grown)).toMatchObject({ changes: true, replaces: [] });
    const { outs } = await updateStream(aggregate.id, aggregate.outs, grown);
    aggregate = { id: aggregate.id, outs };
    aggregateArgs = grown;
    expect(outs.sources.map((s) => s.external?.api)).toEqual(["$JS.nats-1.API", "$JS.nats-2.API", "$JS.nats-3.API", "$JS.cimstor.API"]);
    const info = await waitUntil("aggregate has all 4 leaves' events", 30_000, () => streamInfo(hubTarget(), "CLUSTER_PERSON_EVENTS"), (i) => i?.state.messages === 4 * EVENTS_PER_LEAF);
    expect((info as unknown as { created: string }).created).toBe(created);
  });

  it("holds every event exactly once, each leaf's in order, in a gapless sequence", async () => {
    const total = 4 * EVENTS_PER_LEAF;
    // Caught up: every source reports no lag, so nothing (no late duplicate) is on its way.
    type Source = { lag: number };
    const info = await waitUntil(
      "every source of the aggregate caught up",
      30_000,
      async () => (await streamInfo(hubTarget(), "CLUSTER_PERSON_EVENTS")) as (StreamInfoResponse & { sources?: Source[] }) | undefined,
      (i) => (i?.sources ?? []).length === 4 && i!.sources!.every((s) => s.lag === 0),
    );
    expect(info?.state).toMatchObject({ messages: total, first_seq: 1, last_seq: total });
    const msgs = await messagesOf(hubTarget(), "CLUSTER_PERSON_EVENTS", total);
    expect(msgs.map((m) => m.seq)).toEqual(Array.from({ length: total }, (_, k) => k + 1));
    const keys = msgs.map((m) => `${m.leaf}/${m.i}`);
    expect(new Set(keys).size).toBe(total);
    for (const leaf of topology.leaves) {
      const mine = msgs.filter((m) => m.leaf === leaf.jetstreamDomain).map((m) => m.i);
      expect(mine, leaf.jetstreamDomain).toEqual(Array.from({ length: EVENTS_PER_LEAF }, (_, k) => k));
    }
  });

  it("shows no diff for the clustered R3 aggregate on a second apply, before and after a refresh", async () => {
    expect(await diffStream(aggregate.id, aggregate.outs, aggregateArgs)).toMatchObject({ changes: false });
    const r = await readStream(aggregate.id, aggregate.outs);
    expect(await diffStream(aggregate.id, r.props!, aggregateArgs)).toMatchObject({ changes: false, replaces: [] });
  });

  it("accepts an identical create of a hub R3 stream again: the aggregate and the stack's hub streams (what a create whose answer timed out sends)", async () => {
    // The meta layer stores the config through JSON, so an empty list it got (`sources: []`,
    // `subjects: []`) would compare unequal and be refused as "already in use" (10058).
    expect((await createStream(aggregateArgs)).outs).toEqual(aggregate.outs);
    for (const s of spec.streams.filter((x) => x.location.level === "hub")) {
      const first = await createStream({ target: hubTarget(), ...s.config });
      expect((await createStream({ target: hubTarget(), ...s.config })).outs, s.config.name).toEqual(first.outs);
    }
    expect((await streamInfo(hubTarget(), "CLUSTER_PERSON_EVENTS"))?.state.messages).toBe(4 * EVENTS_PER_LEAF);
  });

  it("serves the projection consumer on the aggregate at the hub", async () => {
    const c = spec.consumers[0];
    const { id } = await createConsumer({ target: hubTarget(), stream: c.stream, ...c.config });
    expect(id).toBe("consumer:hub/CLUSTER_PERSON_EVENTS/person-projection");
    const nc = await client(topology.hub.members.map((m) => rt.clientUrl(m.serverName)));
    const consumer = await jetstream(nc).consumers.get("CLUSTER_PERSON_EVENTS", "person-projection");
    const m = await consumer.next({ expires: 5000 });
    expect(m?.seq).toBe(1);
    m?.ack();
  });
});

describe("KV and object buckets", () => {
  it("keeps each leaf's PERSON_METADATA local: one entry each, its own value", async () => {
    for (const b of spec.kv.filter((k) => k.location.level === "leaf")) {
      const target = leafTarget(leafByDomain(b.location.domain));
      await createKv({ target, ...b.config });
      await createKvEntry({ target, bucket: b.config.bucket, key: "domain.name", value: `${b.entries["domain.name"]} @ ${b.location.domain}` });
    }
    await sleep(500);
    for (const leaf of topology.leaves) {
      const info = await streamInfo(leafTarget(leaf), "KV_PERSON_METADATA");
      expect(info?.state.messages, leaf.jetstreamDomain).toBe(1);
      expect((await getKvEntry(leafTarget(leaf), "PERSON_METADATA", "domain.name"))?.value).toBe(`Person Domain @ ${leaf.jetstreamDomain}`);
    }
  });

  it("changes the hub's CLUSTER_METADATA from R1 to R3 in place, keeping its entries", async () => {
    const b = spec.kv.find((k) => k.location.level === "hub")!;
    const args = { target: hubTarget(), ...b.config, replicas: 1 };
    const { id, outs } = await createKv(args);
    await createKvEntry({ target: hubTarget(), bucket: b.config.bucket, key: "platform.name", value: b.entries["platform.name"] });
    const r3 = { ...args, replicas: 3 };
    expect(await diffKv(id, outs, r3)).toMatchObject({ changes: true, replaces: [] });
    const { outs: after } = await updateKv(id, outs, r3);
    expect(after.replicas).toBe(3);
    const info = await waitUntil("3 KV replicas", 30_000, () => streamInfo(hubTarget(), "KV_CLUSTER_METADATA"), (i) => ((i as unknown as { cluster?: { replicas?: unknown[] } })?.cluster?.replicas?.length ?? 0) === 2);
    expect(info?.config.num_replicas).toBe(3);
    expect((await getKvEntry(hubTarget(), "CLUSTER_METADATA", "platform.name"))?.value).toBe("CIM");
    expect(await diffKv(id, after, r3)).toMatchObject({ changes: false });
    expect(await diffKv(id, (await readKv(id, after)).props!, r3)).toMatchObject({ changes: false });
  });

  it("keeps leaf PERSON_OBJECTS local and CLUSTER_OBJECTS at cimstor reachable from the hub", async () => {
    for (const o of spec.objects) await createObjectStore({ target: leafTarget(leafByDomain(o.location.domain)), ...o.config });
    const n1 = await client(rt.clientUrl("nats-1"));
    await (await new Objm(jetstream(n1)).open("PERSON_OBJECTS")).putBlob({ name: "portrait.png" }, new Uint8Array(1000).fill(7));
    await sleep(500);
    for (const leaf of topology.leaves) {
      expect((await streamInfo(leafTarget(leaf), "OBJ_PERSON_OBJECTS"))?.state.messages, leaf.jetstreamDomain).toBe(leaf.jetstreamDomain === "nats-1" ? 2 : 0);
    }
    const hub = await client(topology.hub.members.map((m) => rt.clientUrl(m.serverName)));
    const store = await new Objm(jetstream(hub, { domain: "cimstor" })).open("CLUSTER_OBJECTS");
    await store.putBlob({ name: "reports/2026.pdf" }, new TextEncoder().encode("cluster-wide"));
    expect(new TextDecoder().decode((await store.getBlob("reports/2026.pdf")) ?? new Uint8Array())).toBe("cluster-wide");
  });
});

describe("control: leaf stores without deny_imports", () => {
  const control: Topology = rebaseAddresses(
    parseTopology({
      hub: { cluster: "ctl", domain: "ctlhub", replicas: 1, ports: { client: 4223, monitoring: 8223, routes: 6222, leafnodes: 7422 } },
      leaf: { ports: { client: 4222, monitoring: 8222 } },
      hosts: [
        { name: "ctl-1", vmid: 301, node: "pve1", address: "127.0.0.61", roles: ["leaf", "hub"] },
        { name: "ctl-2", vmid: 302, node: "pve2", address: "127.0.0.62", roles: ["leaf", "hub"] },
      ],
    }, { name: "jsctl" }),
    "127.0.3",
  );
  let ctl: RunningTopology;

  beforeAll(async () => {
    await closeJetStreamConnections();
    await rt?.stop();
    ctl = await startTopology(control, { timeoutMs: 90_000 });
  }, 180_000);

  afterAll(async () => {
    await closeJetStreamConnections();
    await ctl?.stop();
  });

  it("lets a leaf's stream and object bucket capture the other leaf's messages; KV interest does not cross on 2.15", async () => {
    expect(control.leafDenyImports).toEqual([]);
    const targets = control.leaves.map((l) => ({ servers: [ctl.clientUrl(l.serverName)], domain: l.jetstreamDomain }));
    for (const t of targets) {
      await createStream({ target: t, name: "PERSON_EVENTS", subjects: ["person.events.>"] });
      await createKv({ target: t, bucket: "PERSON_METADATA", history: 5 });
      await createObjectStore({ target: t, bucket: "PERSON_OBJECTS" });
    }
    await sleep(1000); // interest propagates over the leafnode links
    const nc = await client(ctl.clientUrl("ctl-1"));
    await nc.request("person.events.created", "x", { timeout: 5000 });
    await createKvEntry({ target: targets[0], bucket: "PERSON_METADATA", key: "domain.name", value: "from ctl-1" });
    await (await new Objm(jetstream(nc)).open("PERSON_OBJECTS")).putBlob({ name: "x" }, new Uint8Array(10));
    await sleep(1000);
    const other = async (stream: string) => (await streamInfo(targets[1], stream))?.state.messages;
    expect(await other("PERSON_EVENTS")).toBe(1); // leaked: why leaf streams need deny_imports
    expect(await other("OBJ_PERSON_OBJECTS")).toBe(2); // leaked (chunk + meta): why $O.<bucket>.> is denied
    // nats-server 2.15 does not carry $KV interest over the link; $KV.<bucket>.> stays denied as a guard.
    expect(await other("KV_PERSON_METADATA")).toBe(0);
  });
});
