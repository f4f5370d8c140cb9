/**
 * The fault suite's world (docs/durability.md): a three-member hub (R3, domain hub) and two
 * leaves, real nats-servers running the configs the stack renders, with the stack's own
 * JetStream declarations — PERSON_EVENTS at each leaf, its aggregate CLUSTER_PERSON_EVENTS at
 * the hub, PERSON_PROJECTIONS and the projection consumer — created by the stack's provider
 * functions. Stores can sit on LazyFS (power failures) and servers in network namespaces
 * (partitions). Services are plain functions: publishers that remember every ack, and a
 * projector that pulls the aggregate, writes a projection per event and acks the event after
 * the projection's ack. `audit` reads everything back and counts what matters.
 *
 * Every scenario file has its own loopback block (127.0.12x) and cleans up what it made.
 */
import * as path from "node:path";
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import { waitHealthy } from "../../components/local/nats-process";
import { closeJetStreamConnections } from "../../components/jetstream/connection-pool";
import { createConsumer } from "../../components/jetstream/consumer";
import { locationTarget } from "../../components/jetstream/locations";
import { leafLocalSubjects, parseJetStream, type JetStreamSpec } from "../../components/jetstream/spec";
import { createStream, updateStream, type StreamOutputs } from "../../components/jetstream/stream";
import { instanceByName } from "../../components/topology/endpoints";
import { parseTopology } from "../../components/topology/parse";
import { rebaseAddresses, withLeafDenyImports } from "../../components/topology/rebase";
import type { Topology } from "../../components/topology/types";
import { stackOutputs } from "../../components/deploy/outputs";
import { durabilityPicture } from "../../components/stack/durability-picture";
import type { VerifyOutputs } from "../../components/verify/checks";
import { declaredJetStream } from "../../components/verify/declared";
import { eventually } from "../support/eventually";
import { mountLazyFs, type LazyFsMount } from "../support/lazyfs";
import { startTopology, type RunningTopology } from "../../harness/local-topology";
import { createNetns, type Netns } from "../support/netns";

export const HUB = ["h1-hub", "h2-hub", "h3-hub"] as const;
export const LEAVES = ["l1", "l2"] as const;
export const AGGREGATE = "CLUSTER_PERSON_EVENTS";
export const EVENTS = "PERSON_EVENTS";
export const PROJECTIONS = "PERSON_PROJECTIONS";
export const CONSUMER = "person-projection";
/** How many runs in a row each scenario makes (CIM_NATS_FAULT_RUNS for longer repetitions). */
export const RUNS = Math.max(1, Number(process.env.CIM_NATS_FAULT_RUNS ?? 3));

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** `CIM_NATS_FAULT_TIMING=1` prints how long each phase took (world start, drain, read-back): where a run's seconds go. */
export async function phase<T>(what: string, f: () => Promise<T>): Promise<T> {
  if (!process.env.CIM_NATS_FAULT_TIMING) return f();
  const t0 = Date.now();
  try {
    return await f();
  } finally {
    console.log(`[timing] ${what}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
}

/** The stack's JetStream declarations for this world, as an operator writes them. */
export function worldJetStream(rewinds: readonly { domain: string; fromSeq: number }[] = []): unknown {
  return {
    streams: [
      {
        name: EVENTS,
        at: "leaves",
        subjects: ["person.events.>"],
        storage: "file",
        replicas: 1,
        allow_atomic: true,
        aggregate: { name: AGGREGATE, replicas: 3, storage: "file", ...(rewinds.length ? { rewinds } : {}) },
      },
      { name: PROJECTIONS, at: "hub", subjects: ["person.projections.>"], storage: "file", replicas: 3, allow_atomic: true },
    ],
    consumers: [{ name: CONSUMER, stream: AGGREGATE, at: "hub", ack_policy: "explicit", deliver_policy: "all", filter_subjects: ["person.events.>"], ack_wait: "5s" }],
  };
}

export type WorldOptions = {
  /** Topology name (temp dir prefix). */
  readonly name: string;
  /** Loopback block, three octets, e.g. "127.0.121". */
  readonly net: string;
  /** Servers whose stores sit on LazyFS. */
  readonly lazyfs?: readonly string[];
  /** Servers that run in a network namespace of their own. */
  readonly netns?: readonly string[];
  /** sync_interval per tier; default: the stack's (always). */
  readonly sync?: { readonly leaf?: string; readonly hub?: string };
};

export type World = {
  readonly running: RunningTopology;
  readonly topology: Topology;
  /** The declarations as applied (applyRewinds changes the aggregate's sources). */
  spec: JetStreamSpec;
  readonly mounts: ReadonlyMap<string, LazyFsMount>;
  readonly namespaces: ReadonlyMap<string, Netns>;
  /** The aggregate's provider outputs (for updates such as a rewind repair). */
  aggregateOutputs: StreamOutputs;
  url(server: string): string;
  /** A connection to one server, or to any of several (reconnecting forever); cached, closed by stop(). */
  connection(servers: string | readonly string[]): Promise<NatsConnection>;
  /** kill -9 of these servers at once; with `power`, then clear-cache on their LazyFS mounts. */
  crash(servers: readonly string[], power?: boolean): Promise<void>;
  /** Starts them again and waits until each is healthy (for hub members, JetStream current). */
  restart(servers: readonly string[]): Promise<void>;
  stop(): Promise<void>;
};

function worldTopology(o: WorldOptions): Topology {
  const raw = {
    hub: { replicas: 3, jetstream: { maxMemory: "64M", maxFile: "1G", ...(o.sync?.hub ? { syncInterval: o.sync.hub } : {}) } },
    leaf: { jetstream: { maxMemory: "64M", maxFile: "1G", ...(o.sync?.leaf ? { syncInterval: o.sync.leaf } : {}) } },
    hosts: [
      ...[1, 2, 3].map((n) => ({ name: `h${n}`, vmid: 700 + n, node: `pve${n}`, address: `127.0.0.${10 + n}`, roles: ["hub"] })),
      ...[1, 2].map((n) => ({ name: `l${n}`, vmid: 710 + n, node: `pve${n}`, address: `127.0.0.${20 + n}`, roles: ["leaf"] })),
    ],
  };
  return rebaseAddresses(parseTopology(raw, { name: o.name }), o.net);
}

/** The ports a server in a namespace is reached on, and the ports it dials (every hub member's routes and leafnodes but its own). */
function forwardsOf(topology: Topology, server: string): { inbound: string[]; outbound: string[] } {
  const i = instanceByName(topology, server);
  const at = (p?: number) => (p ? [`${i.address}:${p}`] : []);
  const inbound = [...at(i.clientPort), ...at(i.monitoringPort), ...at(i.routePort), ...at(i.leafnodePort)];
  const outbound = topology.hub.members.filter((m) => m.serverName !== server).flatMap((m) => (i.kind === "hub" ? [`${m.address}:${m.routePort}`] : [`${m.address}:${m.leafnodePort}`]));
  return { inbound, outbound };
}

/**
 * `CIM_NATS_FAULT_SYNC=leaf:1s,hub:2m` runs a suite at other sync settings than the stack's
 * (the numbers in docs/durability.md for the old defaults): the audits then show what is lost.
 */
export function syncOverride(): WorldOptions["sync"] {
  const v = process.env.CIM_NATS_FAULT_SYNC;
  if (!v) return undefined;
  return Object.fromEntries(v.split(",").map((kv) => kv.split(":") as [string, string]));
}

export async function startWorld(o: WorldOptions): Promise<World> {
  return phase(`${o.name}: world up`, () => startWorld0(o));
}

async function startWorld0(o: WorldOptions): Promise<World> {
  o = { ...o, sync: o.sync ?? syncOverride() };
  const spec0 = parseJetStream(worldJetStream(), worldTopology(o));
  const topology = withLeafDenyImports(worldTopology(o), leafLocalSubjects(spec0));
  const mounts = new Map<string, LazyFsMount>();
  const namespaces = new Map<string, Netns>();
  const running = await phase(`${o.name}: servers up`, () => startTopology(topology, {
    timeoutMs: 90_000,
    serverPrefix: (s) => namespaces.get(s)?.exec,
    beforeStart: async (rt, dir) => {
      const undo = async () => {
        for (const m of mounts.values()) await m.unmount(); // one at a time: unmounted together, a store dir once would not delete (ENOTEMPTY)
        for (const n of namespaces.values()) await n.destroy();
      };
      try {
        for (const s of o.lazyfs ?? []) {
          const i = instanceByName(rt, s);
          mounts.set(s, await mountLazyFs(i.storeDir, path.join(dir, "disk", s), path.join(dir, "lazyfs", s)));
        }
        for (const s of o.netns ?? []) {
          const ns = await createNetns(path.join(dir, `netns-${s}`));
          namespaces.set(s, ns);
          const f = forwardsOf(rt, s);
          await ns.forward(f.inbound, f.outbound);
        }
      } catch (e) {
        // A mount or namespace that fails leaves the ones made before it to undo here: nothing
        // else holds them yet, and a mounted store dir makes the world's folder undeletable.
        await undo().catch(() => {});
        throw e;
      }
      return undo;
    },
  }));
  const spec = parseJetStream(worldJetStream(), running.topology);
  const conns = new Map<string, Promise<NatsConnection>>();
  let aggregateOutputs!: StreamOutputs;
  // Under load a placement right after the meta group formed can still see a peer as offline
  // (the forwarders of a namespaced member add a hop): retried, as an operator's next `up` would.
  const placed = async <T>(what: string, create: () => Promise<T>): Promise<T> => {
    const until = Date.now() + 60_000;
    for (;;) {
      try {
        return await create();
      } catch (e) {
        if (Date.now() > until || !/no suitable peers|peer offline|no responders|timeout/i.test((e as Error).message)) throw e;
        await sleep(500);
      }
    }
  };
  try {
    for (const s of spec.streams) await placed(s.config.name, () => createStream({ ...s.config, target: locationTarget(s.location, running.topology) }));
    const [agg] = spec.aggregates;
    aggregateOutputs = (await placed(AGGREGATE, () => createStream({ ...agg.config, target: locationTarget(agg.location, running.topology) }))).outs;
    for (const c of spec.consumers) await placed(CONSUMER, () => createConsumer({ ...c.config, stream: c.stream, target: locationTarget(c.location, running.topology) }));
    // What exists now is on disk, as the kernel's writeback would have it by the time faults start.
    for (const m of mounts.values()) await m.checkpoint();
  } catch (e) {
    await closeJetStreamConnections();
    await running.stop();
    throw e;
  }
  const url = (s: string) => running.clientUrl(s);
  const world: World = {
    running,
    topology: running.topology,
    spec,
    mounts,
    namespaces,
    aggregateOutputs,
    url,
    connection(servers) {
      const list = typeof servers === "string" ? [servers] : [...servers];
      const key = list.join(",");
      if (!conns.has(key)) conns.set(key, connect({ servers: list.map(url), maxReconnectAttempts: -1, reconnectTimeWait: 250, timeout: 5_000, name: `fault-${key}` }));
      return conns.get(key)!;
    },
    async crash(servers, power = false) {
      await Promise.all(servers.map((s) => running.killServer(s)));
      if (power) {
        for (const s of servers) {
          const m = mounts.get(s);
          if (!m) throw new Error(`power failure of ${s}: its store is not on LazyFS (add it to WorldOptions.lazyfs)`);
          await m.clearCache();
        }
      }
    },
    async restart(servers) {
      await phase(`restart ${servers.join(" ")}`, async () => {
        for (const s of servers) await running.startServer(s);
        await Promise.all(servers.map((s) => waitHealthy(running.monitoringUrl(s), 90_000, running.pidOf(s))));
      });
    },
    stop: () => phase(`${o.name}: world down`, async () => {
      await Promise.all([...conns.values()].map((c) => c.then((nc) => nc.close()).catch(() => {})));
      await closeJetStreamConnections();
      // The world is thrown away: kill -9 (an orderly stop of a member in a cut-off namespace or
      // on LazyFS can take its whole timeout), then unmount and remove.
      await Promise.all(running.topology.hosts.flatMap((h) => h.instances).map((i) => running.killServer(i.serverName)));
      await running.stop();
    }),
  };
  return world;
}

// ------------------------------------------------------------------ runs in parallel

/**
 * One world with its services: a projector on the hub and the ledger of what they saw acked. A
 * scenario's runs each get a cell of their own where it has the addresses (WorldOptions.net per
 * cell), so the runs overlap: most of a run is waiting on fsyncs, elections and drains.
 */
export type Cell = { readonly world: World; readonly ledger: Ledger; readonly projector: Projector };

/**
 * How many cells a scenario starts: one per run, at most one per loopback block it owns, at most
 * CIM_NATS_FAULT_PARALLEL (1: every run in a row on one world, as before). LazyFS scenarios run
 * in a row unless that is set: a LazyFS world is a FUSE daemon per store beside its servers, and
 * three at once beside the rest of the suite overloaded 2 cores (acks short after a minute of
 * retries, stores that would not unmount); the waiting-bound scenarios gain 3x at once.
 */
export function cellCount(nets: readonly string[], lazyfs = false): number {
  const wanted = process.env.CIM_NATS_FAULT_PARALLEL ?? (lazyfs ? "1" : String(nets.length));
  return Math.max(1, Math.min(RUNS, nets.length, Number(wanted)));
}

/** Starts cellCount(nets) worlds at once, `net` and `name` per cell, each with a projector on its hub. */
export async function startCells(o: Omit<WorldOptions, "net">, nets: readonly string[], projector = true): Promise<Cell[]> {
  const started = await Promise.allSettled(
    nets.slice(0, cellCount(nets, (o.lazyfs ?? []).length > 0)).map(async (net, i) => {
      const world = await startWorld({ ...o, name: `${o.name}${i + 1}`, net });
      const ledger = newLedger();
      return { world, ledger, projector: projector ? startProjector(await world.connection(HUB), ledger) : noProjector };
    }),
  );
  const cells = started.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  const failed = started.find((r) => r.status === "rejected");
  if (failed) {
    await stopCells(cells);
    throw (failed as PromiseRejectedResult).reason;
  }
  return cells;
}

export async function stopCells(cells: readonly Cell[] | undefined): Promise<void> {
  await Promise.all((cells ?? []).map(async (c) => {
    await c.projector.stop();
    await c.world.stop();
  }));
}

const noProjector: Projector = { errors: 0, stop: async () => {} };

/**
 * Runs 1..RUNS of a scenario: run r on cell (r - 1) % cells, so runs on different cells overlap
 * and runs on one cell follow each other (its events accumulate; every audit covers all of
 * them). Every run finishes before the first failure is thrown.
 */
export async function eachRun(cells: readonly Cell[], run: (cell: Cell, n: number) => Promise<void>): Promise<void> {
  const lanes = cells.map(async (cell, i) => {
    const errors: unknown[] = [];
    for (let n = i + 1; n <= RUNS; n += cells.length) {
      try {
        await run(cell, n);
      } catch (e) {
        errors.push(e);
        break; // this world's state after a failed run is no ground for the next one
      }
    }
    if (errors.length) throw errors[0];
  });
  const settled = await Promise.allSettled(lanes);
  const failed = settled.find((r) => r.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
}

/** What `npm run verify` reads from a stack's outputs, for this world (no auth: no creds). */
export function verifyOutputs(world: World): VerifyOutputs {
  const o = stackOutputs(world.topology, { streams: [], kv: [], objects: [] });
  return { ...o, substrate: "local", declared: declaredJetStream(world.spec), durability: durabilityPicture({ topology: world.topology, jetstream: world.spec }).servers };
}

/** Re-sources the aggregate after a rewind: the stack's own spec with `rewinds`, applied by the stream provider's update. */
export async function applyRewinds(world: World, rewinds: readonly { domain: string; fromSeq: number }[]): Promise<void> {
  const spec = parseJetStream(worldJetStream(rewinds), world.topology);
  const [agg] = spec.aggregates;
  const news = { ...agg.config, target: locationTarget(agg.location, world.topology) };
  world.spec = spec;
  world.aggregateOutputs = (await updateStream(`stream:hub/${AGGREGATE}`, world.aggregateOutputs, news)).outs;
}

// ------------------------------------------------------------------ services

/** What publishers and the projector saw acknowledged. */
export type Ledger = {
  /** Event id → the leaf it was acked at. */
  readonly ackedEvents: Map<string, string>;
  /** Event ids whose publish failed (no ack seen): they may or may not be stored. */
  readonly unackedEvents: Set<string>;
  /** Event ids whose projection was acked by PERSON_PROJECTIONS. */
  readonly ackedProjections: Set<string>;
  /** Event ids the projector acked on the consumer (double ack confirmed). */
  readonly processed: Set<string>;
  /** Event ids the projector sent an ack for (confirmed or not: a hub going down can lose the confirmation of an ack it applied). */
  readonly ackSent: Set<string>;
  /** Deliveries per event id (more than one: redelivered). */
  readonly deliveries: Map<string, number>;
};

export const newLedger = (): Ledger => ({ ackedEvents: new Map(), unackedEvents: new Set(), ackedProjections: new Set(), processed: new Set(), ackSent: new Set(), deliveries: new Map() });

const idOf = (tag: string, i: number) => `${tag}-${i}`;

/**
 * Publishes `count` events to `leaf` with `inFlight` outstanding, each with its id as message id
 * (a retry is de-duplicated). A failed publish is retried with the same id until `retryUntil`
 * (ms since epoch) — a service that keeps trying across a crash — else recorded as unacked.
 */
export async function publishEvents(
  js: JetStreamClient,
  leaf: string,
  tag: string,
  count: number,
  ledger: Ledger,
  options: { readonly inFlight?: number; readonly retryUntil?: number; readonly onAck?: (n: number) => void } = {},
): Promise<void> {
  let next = 0;
  let acked = 0;
  const worker = async () => {
    while (next < count) {
      const id = idOf(tag, next++);
      for (;;) {
        try {
          await js.publish("person.events.created", JSON.stringify({ id, leaf }), { msgID: id, timeout: 3_000 });
          ledger.ackedEvents.set(id, leaf);
          ledger.unackedEvents.delete(id);
          options.onAck?.(++acked);
          break;
        } catch {
          ledger.unackedEvents.add(id);
          if (!options.retryUntil || Date.now() > options.retryUntil) break;
          await sleep(200);
        }
      }
    }
  };
  const all = () => Promise.all(Array.from({ length: options.inFlight ?? 1 }, worker)).then(() => undefined);
  await (count >= 100 ? phase(`publish ${count} ${tag}`, all) : all());
}

/** The projection service: pulls the aggregate, stores a projection per event, then acks the event. */
export type Projector = { stop(): Promise<void>; readonly errors: number };

const PROJECTOR_BATCH = Number(process.env.CIM_NATS_PROJECTOR_BATCH ?? 500);

export function startProjector(nc: NatsConnection, ledger: Ledger): Projector {
  const js = jetstream(nc);
  let running = true;
  let errors = 0;
  const loop = (async () => {
    while (running) {
      try {
        const consumer = await js.consumers.get(AGGREGATE, CONSUMER);
        // A batch's events are projected concurrently; the batch size bounds how many (the hub
        // commits concurrent writes together, so a larger batch drains a backlog faster).
        const batch = await consumer.fetch({ max_messages: PROJECTOR_BATCH, expires: 1_000 });
        const work: Promise<boolean>[] = [];
        try {
          for await (const m of batch) {
            const { id } = JSON.parse(m.string()) as { id: string };
            ledger.deliveries.set(id, (ledger.deliveries.get(id) ?? 0) + 1);
            // Each event: its projection acked first, then the event (a failure leaves it unacked: redelivered).
            const task = async () => {
              await js.publish(`person.projections.${id}`, JSON.stringify({ id, seen: m.info.streamSequence }), { msgID: `p-${id}`, timeout: 3_000 });
              ledger.ackedProjections.add(id);
              // A double ack (the server confirms): JsMsg.ackAck leaves a rejected promise unhandled when the hub is down (nats.js 3.4).
              ledger.ackSent.add(id);
              await nc.request((m as unknown as { reply: string }).reply, "+ACK", { timeout: 3_000 });
              ledger.processed.add(id);
            };
            // Settled right away: a batch cut short by a fault must not leave rejections unhandled.
            work.push(task().then(() => true, () => false));
          }
        } finally {
          const failed = (await Promise.all(work)).filter((ok) => !ok).length;
          if (failed) errors += failed;
        }
      } catch {
        errors++;
        await sleep(250);
      }
    }
  })();
  return {
    get errors() {
      return errors;
    },
    async stop() {
      running = false;
      await loop;
    },
  };
}

// ------------------------------------------------------------------ audit

/** Every message of a stream (its id, from the payload), read with an ordered consumer. */
export async function readIds(jsm: JetStreamManager, js: JetStreamClient, stream: string): Promise<string[]> {
  const info = await jsm.streams.info(stream);
  if (info.state.messages === 0) return [];
  const consumer = await js.consumers.get(stream);
  const ids: string[] = [];
  const messages = await consumer.consume();
  for await (const m of messages) {
    ids.push((JSON.parse(m.string()) as { id: string }).id);
    if (m.info.pending === 0) break;
  }
  await messages.close();
  return ids;
}

/** Every message of a stream as (id, stream sequence), read with an ordered consumer. */
async function readIdSeqs(jsm: JetStreamManager, js: JetStreamClient, stream: string): Promise<Map<string, number>> {
  const info = await jsm.streams.info(stream);
  const seqs = new Map<string, number>();
  if (info.state.messages === 0) return seqs;
  const messages = await (await js.consumers.get(stream)).consume();
  for await (const m of messages) {
    seqs.set((JSON.parse(m.string()) as { id: string }).id, m.seq);
    if (m.info.pending === 0) break;
  }
  await messages.close();
  return seqs;
}

/**
 * When the consumer skipped events (nothing pending, yet never delivered to an ack): what each hub
 * member holds of the aggregate and the consumer (/jsz), and where the skipped events sit in the
 * aggregate, so a rare failure leaves enough to tell a consumer-state problem from diverged replicas.
 */
async function explainSkips(world: World, skipped: readonly string[]): Promise<string> {
  const hub = await world.connection(HUB);
  const seqs = await readIdSeqs(await jetstreamManager(hub), jetstream(hub), AGGREGATE);
  const at = skipped.map((id) => seqs.get(id) ?? -1).sort((a, b) => a - b);
  const lines = [`${skipped.length} skipped events at aggregate seqs ${at[0]}..${at.at(-1)} (${at.filter((x) => x < 0).length} not found)`];
  for (const member of HUB) {
    try {
      const jsz = (await (await fetch(`${world.running.monitoringUrl(member)}/jsz?accounts=true&streams=true&consumers=true`)).json()) as {
        account_details?: { stream_detail?: { name: string; state: unknown; cluster?: { leader?: string }; consumer_detail?: { name: string; delivered: unknown; ack_floor: unknown; num_pending: number; num_ack_pending: number; num_redelivered: number; cluster?: { leader?: string } }[] }[] }[];
      };
      const stream = (jsz.account_details ?? []).flatMap((a) => a.stream_detail ?? []).find((d) => d.name === AGGREGATE);
      const consumer = stream?.consumer_detail?.find((c) => c.name === CONSUMER);
      lines.push(`${member}: aggregate ${JSON.stringify(stream?.state)} leader ${stream?.cluster?.leader}; consumer delivered ${JSON.stringify(consumer?.delivered)} ack_floor ${JSON.stringify(consumer?.ack_floor)} pending ${consumer?.num_pending} ack_pending ${consumer?.num_ack_pending} redelivered ${consumer?.num_redelivered} leader ${consumer?.cluster?.leader}`);
    } catch (e) {
      lines.push(`${member}: /jsz failed: ${(e as Error).message}`);
    }
  }
  return lines.join("\n");
}

export type Audit = {
  /** The aggregate caught up with the leaves and the consumer had nothing pending or unacked (else the counts are a snapshot). */
  readonly drained: boolean;
  readonly ackedEvents: number;
  /** Acked events missing at their leaf / in the aggregate. */
  readonly lostAtLeaf: number;
  readonly lostInAggregate: number;
  /** Ids stored more than once at a leaf / in the aggregate. */
  readonly duplicatedAtLeaf: number;
  readonly duplicatedInAggregate: number;
  /** Stored events that were never acked (in flight at a fault): allowed, counted. */
  readonly storedUnacked: number;
  readonly ackedProjections: number;
  readonly lostProjections: number;
  /** Aggregate events the projector never sent an ack for: the consumer never delivered them again after a failed attempt (skipped). */
  readonly skippedByConsumer: number;
  /** Acks sent but never confirmed (the hub went down meanwhile): applied or redelivered, the server decides; counted, not judged. */
  readonly unconfirmedAcks: number;
  /** Events delivered more than once (redelivered after a fault: at least once). */
  readonly redelivered: number;
};

const dupes = (ids: readonly string[]) => {
  const seen = new Map<string, number>();
  for (const id of ids) seen.set(id, (seen.get(id) ?? 0) + 1);
  return seen;
};

/**
 * Waits until the aggregate holds every leaf's events and the consumer has nothing pending, then
 * counts (Audit). `drainMs` bounds the wait; the audit is taken at the end either way, so a
 * failure shows the counts.
 */
export async function audit(world: World, ledger: Ledger, drainMs = 60_000): Promise<Audit> {
  const hub = await world.connection(HUB);
  // Right after a fault the hub's meta group may still be electing ("JetStream system temporarily
  // unavailable", 10008): the audit waits for it like a client would, then counts.
  const hubJsm = await eventually("the hub's JetStream answers", () => jetstreamManager(hub), () => true, 60_000, 500);
  const leafCounts = async () => {
    let n = 0;
    for (const l of LEAVES) n += (await (await jetstreamManager(await world.connection(l))).streams.info(EVENTS)).state.messages;
    return n;
  };
  const caughtUp = async () => {
    const total = await leafCounts();
    const agg = await hubJsm.streams.info(AGGREGATE);
    const c = await hubJsm.consumers.info(AGGREGATE, CONSUMER);
    return { total, agg: agg.state.messages, lag: (agg.sources ?? []).reduce((s, x) => s + x.lag, 0), pending: c.num_pending + c.num_ack_pending };
  };
  const drained = await phase("audit: drain", () => eventually("the aggregate holds every leaf event and the projector has processed them", caughtUp, (v) => v.agg >= v.total && v.lag === 0 && v.pending === 0, drainMs, 250).then(
    () => true,
    () => false,
  ));

  const { leafIds, aggIds, projIds } = await phase("audit: read back", async () => {
    const leafIds = new Map<string, string[]>();
    for (const l of LEAVES) {
      const nc = await world.connection(l);
      leafIds.set(l, await readIds(await jetstreamManager(nc), jetstream(nc), EVENTS));
    }
    const aggIds = await readIds(hubJsm, jetstream(hub), AGGREGATE);
    const projIds = new Set(await readIds(hubJsm, jetstream(hub), PROJECTIONS));
    return { leafIds, aggIds, projIds };
  });
  const agg = dupes(aggIds);
  let lostAtLeaf = 0;
  let lostInAggregate = 0;
  for (const [id, leaf] of ledger.ackedEvents) {
    if (!leafIds.get(leaf)!.includes(id)) lostAtLeaf++;
    if (!agg.has(id)) lostInAggregate++;
  }
  const skipped = [...agg.keys()].filter((id) => !ledger.ackSent.has(id));
  if (skipped.length > 0) console.error(`[fault] the consumer skipped events:\n${await explainSkips(world, skipped).catch((e: Error) => `(could not read the members' state: ${e.message})`)}`);
  const duplicatedAtLeaf = [...leafIds.values()].reduce((s, ids) => s + [...dupes(ids).values()].filter((n) => n > 1).length, 0);
  const storedUnacked = [...leafIds.values()].flat().filter((id) => !ledger.ackedEvents.has(id)).length;
  return {
    drained,
    ackedEvents: ledger.ackedEvents.size,
    lostAtLeaf,
    lostInAggregate,
    duplicatedAtLeaf,
    duplicatedInAggregate: [...agg.values()].filter((n) => n > 1).length,
    storedUnacked,
    ackedProjections: ledger.ackedProjections.size,
    lostProjections: [...ledger.ackedProjections].filter((id) => !projIds.has(id)).length,
    skippedByConsumer: skipped.length,
    unconfirmedAcks: [...ledger.ackSent].filter((id) => !ledger.processed.has(id)).length,
    redelivered: [...ledger.deliveries.values()].filter((n) => n > 1).length,
  };
}

/** The audit's verdict: what must be zero after every fault. */
export const CLEAN = { drained: true, lostAtLeaf: 0, lostInAggregate: 0, duplicatedAtLeaf: 0, duplicatedInAggregate: 0, lostProjections: 0, skippedByConsumer: 0 } as const;

/** One line per run for the log and docs/durability.md. */
export function report(scenario: string, run: number, a: Audit, extra = ""): string {
  const line =
    `[fault] ${scenario} run ${run}: ${a.drained ? "" : "(NOT DRAINED) "}acked ${a.ackedEvents} events, lost ${a.lostAtLeaf} at leaf / ${a.lostInAggregate} in aggregate, ` +
    `duplicated ${a.duplicatedAtLeaf} / ${a.duplicatedInAggregate}, stored-unacked ${a.storedUnacked}; projections acked ${a.ackedProjections}, lost ${a.lostProjections}; ` +
    `consumer skipped ${a.skippedByConsumer}, redelivered ${a.redelivered}, acks unconfirmed ${a.unconfirmedAcks}${extra ? `; ${extra}` : ""}`;
  console.log(line);
  return line;
}

/** The hub member currently leading a stream (meta leader for "$meta"). */
export async function streamLeader(world: World, stream: string): Promise<string | undefined> {
  const jsm = await jetstreamManager(await world.connection(HUB));
  return (await jsm.streams.info(stream)).cluster?.leader;
}

export { sleep };
