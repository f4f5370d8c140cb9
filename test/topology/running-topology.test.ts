/**
 * The dev topology running for real: every server of Pulumi.dev.yaml as a nats-server process on
 * this engineer's loopback block (127.0.2.x), proven through the monitoring endpoints and clients.
 */
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { jetstreamManager, StorageType } from "@nats-io/jetstream";
import { credsAuthenticator, type Msg, type NatsConnection, type Subscription } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { aggregateSources } from "../../components/jetstream/aggregate";
import { AGGREGATE_REPUBLISH } from "../../components/jetstream/spec";
import { parseTopology } from "../../components/topology/parse";
import { rebaseAddresses, withLeafDenyImports } from "../../components/topology/rebase";
import type { Topology } from "../../components/topology/types";
import { LEAF_DENY_IMPORTS } from "../render/stack-topology";
import { testSecurity } from "../render/test-security";
import { readStackConfig } from "../support/stack-config";
import { startTopology, type RunningTopology } from "../../harness/local-topology";

const BLOCK = "127.0.2";

function devTopology(name: string): Topology {
  return rebaseAddresses(parseTopology(readStackConfig("dev").topology, { name, leafDenyImports: LEAF_DENY_IMPORTS }), BLOCK);
}

async function monitor<T = any>(running: RunningTopology, server: string, endpoint: string): Promise<T> {
  const res = await fetch(`${running.monitoringUrl(server)}/${endpoint}`);
  expect(res.status, `${server} /${endpoint}`).toBe(200);
  return (await res.json()) as T;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Collects messages a subscription receives, in the background. */
function collect(sub: Subscription): string[] {
  const got: string[] = [];
  void (async () => {
    for await (const m of sub) got.push(m.string());
  })();
  return got;
}

/** Polls `done` every 50 ms until it holds; fails naming `what` after `timeoutMs`. */
async function until(what: string, done: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** Publishes `payload` on `subject` from `nc` (again every 250 ms) until `arrived()` or timeout. */
async function publishUntil(nc: NatsConnection, subject: string, payload: string, arrived: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!arrived()) {
    if (Date.now() > deadline) throw new Error(`'${subject}' published at ${nc.getServer()} did not arrive within ${timeoutMs} ms`);
    nc.publish(subject, payload);
    await nc.flush();
    await sleep(250);
  }
}

describe("the dev topology running as real nats-server processes", () => {
  const topology = devTopology("h2-running");
  let running: RunningTopology;
  const connections: NatsConnection[] = [];
  const client = async (server: string) => {
    const nc = await connect({ servers: running.clientUrl(server), name: `running-topology-test@${server}` });
    connections.push(nc);
    return nc;
  };

  beforeAll(async () => {
    running = await startTopology(topology);
  });
  afterAll(async () => {
    await Promise.all(connections.map((nc) => nc.close().catch(() => undefined)));
    await running?.stop();
  });

  it.each(["nats-1-hub", "nats-2-hub", "nats-3-hub"])("hub member %s has routes to both other members (/routez)", async (server) => {
    const routez = await monitor(running, server, "routez");
    const peers = new Set(routez.routes.map((r: { remote_name: string }) => r.remote_name));
    expect([...peers].sort()).toEqual(["nats-1-hub", "nats-2-hub", "nats-3-hub"].filter((s) => s !== server));
  });

  it("the hub forms one JetStream cluster of 3 in domain 'hub' with one agreed leader (/jsz)", async () => {
    const jsz = await Promise.all(topology.hub.members.map((m) => monitor(running, m.serverName, "jsz")));
    for (const j of jsz) {
      expect(j.config.domain).toBe("hub");
      expect(j.meta_cluster.name).toBe("cim-hub");
      expect(j.meta_cluster.cluster_size).toBe(3);
    }
    const leaders = new Set(jsz.map((j) => j.meta_cluster.leader));
    expect(leaders.size).toBe(1);
    expect(topology.hub.members.map((m) => m.serverName)).toContain([...leaders][0]);
  });

  it.each(["nats-1", "nats-2", "nats-3", "cimstor"])("leaf %s has its leafnode link up and its own JetStream domain", async (leaf) => {
    const leafz = await monitor(running, leaf, "leafz");
    expect(leafz.leafnodes).toBe(1);
    expect(topology.hub.members.map((m) => m.serverName)).toContain(leafz.leafs[0].name);
    const jsz = await monitor(running, leaf, "jsz");
    expect(jsz.config.domain).toBe(leaf);
    expect(jsz.meta_cluster).toBeUndefined();
    const varz = await monitor(running, leaf, "varz");
    expect(varz.jetstream.config.domain).toBe(leaf);
    expect(varz.leaf.remotes[0].deny.imports).toEqual(LEAF_DENY_IMPORTS);
  });

  it("the hub sees every leaf link (/leafz summed over members)", async () => {
    const counts = await Promise.all(topology.hub.members.map(async (m) => (await monitor(running, m.serverName, "leafz")).leafnodes));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(topology.leaves.length);
  });

  it("a request at leaf nats-1 reaches a responder on leaf nats-3 and a subscriber on the hub", async () => {
    const [at1, at3, atHub] = [await client("nats-1"), await client("nats-3"), await client("nats-2-hub")];
    const subject = "person.commands.check";
    at3.subscribe(subject, { callback: (_err: unknown, msg: Msg) => msg.respond(`nats-3 answers ${msg.string()}`) });
    const hubSeen = collect(atHub.subscribe(subject));
    await Promise.all([at3.flush(), atHub.flush()]);

    // Interest crosses two leafnode hops asynchronously: retry until the responder is reachable.
    let answer = "";
    const deadline = Date.now() + 10_000;
    while (!answer) {
      try {
        answer = (await at1.request(subject, "ping-1", { timeout: 1_000 })).string();
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await sleep(200);
      }
    }
    expect(answer).toBe("nats-3 answers ping-1");
    await until("the hub subscriber sees the request", () => hubSeen.includes("ping-1"));
  });

  it("leaf stores stay local: an event published at nats-1 is not delivered into nats-3, a non-denied subject is", async () => {
    const [at1, at3] = [await client("nats-1"), await client("nats-3")];
    const events3 = collect(at3.subscribe("person.events.>"));
    const notes3 = collect(at3.subscribe("person.notes.>"));
    const events1 = collect(at1.subscribe("person.events.>"));
    await at3.flush();

    // Counter-case first: a subject outside deny_imports crosses nats-1 → hub → nats-3, which
    // also proves nats-3's subscription interest has propagated before the denied event is sent.
    await publishUntil(at1, "person.notes.added", "note-1", () => notes3.includes("note-1"));
    await publishUntil(at1, "person.events.created", "event-1", () => events1.includes("event-1"));
    // A barrier, not a wait: a note sent after the event takes the same path (nats-1 → hub →
    // nats-3) and NATS keeps one publisher's order, so once it is in, a delivered event would be.
    await publishUntil(at1, "person.notes.added", "after-event-1", () => notes3.includes("after-event-1"));
    expect(events1).toContain("event-1");
    expect(events3).toEqual([]);
  });

  it("a leaf's deny_imports also keeps its own events off the hub's core subscribers (nats-server 2.15.2)", async () => {
    // Measured, not wished for: nats-server applies a leaf remote's deny_imports in both
    // directions, so leaf events reach the hub only through JetStream sourcing (the aggregate).
    const [at1, atHub] = [await client("nats-1"), await client("nats-2-hub")];
    const eventsHub = collect(atHub.subscribe("person.events.>"));
    const literalHub = collect(atHub.subscribe("person.events.created"));
    const notesHub = collect(atHub.subscribe("person.notes.>"));
    await atHub.flush();
    await publishUntil(at1, "person.notes.added", "note-2", () => notesHub.includes("note-2"));
    for (let i = 0; i < 3; i++) at1.publish("person.events.created", "event-2");
    await at1.flush();
    // Barrier: a note sent after the events reaches the hub the same way they would have.
    await publishUntil(at1, "person.notes.added", "after-event-2", () => notesHub.includes("after-event-2"));
    expect([...eventsHub, ...literalHub]).toEqual([]);
    // The hub subscriber itself works: a publication at the hub reaches it.
    const atHubPublisher = await client("nats-1-hub");
    await publishUntil(atHubPublisher, "person.events.created", "hub-event", () => eventsHub.includes("hub-event"));
  });

  it("leaf streams capture only their own leaf's events", async () => {
    const counts = await leafStreamCounts(client);
    expect(counts).toEqual({ "nats-1": 1, "nats-3": 1 });
  });

  it("hub subscribers see a leaf's event once, through the aggregate's republish; nats-3 still does not", async () => {
    // The leaf streams exist (previous test). The hub aggregate sources them and republishes
    // what it stores: that is how events reach hub core subscribers despite deny_imports.
    const hub = await client("nats-1-hub");
    const jsm = await jetstreamManager(hub);
    const leafStream = { name: "PERSON_EVENTS", at: ["nats-1", "nats-3"] as const };
    await jsm.streams.add({
      name: "CLUSTER_PERSON_EVENTS",
      storage: StorageType.File,
      num_replicas: 3,
      sources: aggregateSources({ name: leafStream.name, at: [...leafStream.at] }, topology) as any,
      republish: { ...AGGREGATE_REPUBLISH },
    });
    const subs = await Promise.all(["nats-1-hub", "nats-2-hub", "nats-3-hub"].map(async (s) => {
      const nc = await client(s);
      const got = collect(nc.subscribe("*.events.>"));
      await nc.flush();
      return got;
    }));
    const at3 = await client("nats-3");
    const events3 = collect(at3.subscribe("person.events.>"));
    await at3.flush();
    const at1 = await client("nats-1");
    at1.publish("person.events.updated", "republished-1");
    await at1.flush();
    const deadline = Date.now() + 10_000;
    while (!subs.every((got) => got.includes("republished-1")) && Date.now() < deadline) await sleep(100);
    // A duplicate would be a second stored copy: once every event is in and every source caught up, none can follow.
    await until("the aggregate has sourced every leaf's events", async () => {
      const info = await jsm.streams.info("CLUSTER_PERSON_EVENTS");
      return info.state.messages >= 3 && (info.sources ?? []).length === 2 && info.sources!.every((src) => src.lag === 0);
    });
    for (const got of subs) expect(got.filter((m) => m === "republished-1")).toHaveLength(1);
    expect(events3).not.toContain("republished-1");
    // The backlog (one event per leaf from the previous test) was republished as it was sourced,
    // before these subscribers existed; the aggregate holds all three exactly once.
    expect((await jsm.streams.info("CLUSTER_PERSON_EVENTS")).state.messages).toBe(3);
  });
});

/**
 * Creates PERSON_EVENTS (file, R1) on leaves nats-1 and nats-3, publishes one event at each and
 * returns how many messages each leaf's stream holds once the events have gone wherever they go.
 */
async function leafStreamCounts(client: (server: string) => Promise<NatsConnection>): Promise<Record<string, number>> {
  const leaves = ["nats-1", "nats-3"];
  const ncs = await Promise.all(leaves.map(client));
  const jsms = await Promise.all(ncs.map((nc) => jetstreamManager(nc)));
  for (const jsm of jsms) {
    await jsm.streams.add({ name: "PERSON_EVENTS", subjects: ["person.events.>"], storage: StorageType.File, num_replicas: 1 });
  }
  // Barriers instead of waits: each leaf's interest travels to the other leaf in the order it
  // was made, and one publisher's messages keep their order. A note subscribed after the stream
  // (not denied) that reaches a leaf proves the stream's interest got there too, if it was sent;
  // a note sent after an event that arrives proves the event was delivered, if it was going to be.
  const notes = ncs.map((nc) => collect(nc.subscribe("person.notes.barrier")));
  await Promise.all(ncs.map((nc) => nc.flush()));
  const other = (i: number) => 1 - i;
  await Promise.all(ncs.map((nc, i) => publishUntil(nc, "person.notes.barrier", `interest-${i}`, () => notes[other(i)].includes(`interest-${i}`))));
  ncs.forEach((nc, i) => nc.publish("person.events.created", `event at ${leaves[i]}`));
  await Promise.all(ncs.map((nc, i) => publishUntil(nc, "person.notes.barrier", `after-event-${i}`, () => notes[other(i)].includes(`after-event-${i}`))));
  const counts = async () =>
    Object.fromEntries(await Promise.all(jsms.map(async (jsm, i) => [leaves[i], (await jsm.streams.info("PERSON_EVENTS")).state.messages])));
  // Delivered is not yet stored (a stream ingests from a queue): settled when two readings agree.
  let last = await counts();
  for (;;) {
    await sleep(100);
    const now = await counts();
    if (JSON.stringify(now) === JSON.stringify(last)) return now;
    last = now;
  }
}

describe("the dev topology without deny_imports (why the guard exists)", () => {
  const topology = withLeafDenyImports(devTopology("h2-no-deny"), []);
  let running: RunningTopology;
  const connections: NatsConnection[] = [];
  const client = async (server: string) => {
    const nc = await connect({ servers: running.clientUrl(server) });
    connections.push(nc);
    return nc;
  };
  beforeAll(async () => {
    running = await startTopology(topology);
  });
  afterAll(async () => {
    await Promise.all(connections.map((nc) => nc.close().catch(() => undefined)));
    await running?.stop();
  });

  it("every leaf stream also captures the other leaf's events through the hub", async () => {
    expect(await leafStreamCounts(client)).toEqual({ "nats-1": 2, "nats-3": 2 });
  });
});

describe("the dev topology in operator mode (ServerSecurity from test keys)", () => {
  const topology = devTopology("h2-operator");
  let running: RunningTopology;
  let creds = "";
  let appAccount = "";
  const connections: NatsConnection[] = [];

  beforeAll(async () => {
    const { security, files, appAccount: app } = await testSecurity(topology);
    creds = files["secrets/app.creds"];
    appAccount = app;
    running = await startTopology(topology, { security, files });
  });
  afterAll(async () => {
    await Promise.all(connections.map((nc) => nc.close().catch(() => undefined)));
    await running?.stop();
  });

  it("links every leaf with its leaf-link creds into the application account, and with its system-link creds into the system account", async () => {
    const operatorVarz = await monitor(running, "nats-1-hub", "varz");
    for (const leaf of topology.leaves) {
      const leafz = await monitor(running, leaf.serverName, "leafz");
      expect(leafz.leafnodes, leaf.serverName).toBe(2);
      expect(leafz.leafs.map((l: { account: string }) => l.account).sort(), leaf.serverName).toEqual([appAccount, operatorVarz.system_account].sort());
    }
    const operatorMode = await monitor(running, "nats-1-hub", "varz");
    expect(operatorMode.system_account).toMatch(/^A[A-Z2-7]{55}$/);
  });

  it("refuses a client without creds and carries a request leaf to leaf for one with creds", async () => {
    await expect(connect({ servers: running.clientUrl("nats-1") })).rejects.toThrow(/Authorization/i);
    const auth = credsAuthenticator(new TextEncoder().encode(creds));
    const at1 = await connect({ servers: running.clientUrl("nats-1"), authenticator: auth });
    const at3 = await connect({ servers: running.clientUrl("nats-3"), authenticator: auth });
    connections.push(at1, at3);
    at3.subscribe("person.commands.check", { callback: (_err: unknown, msg: Msg) => msg.respond("ok") });
    await at3.flush();
    let answer = "";
    const deadline = Date.now() + 10_000;
    while (!answer) {
      try {
        answer = (await at1.request("person.commands.check", "", { timeout: 1_000 })).string();
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await sleep(200);
      }
    }
    expect(answer).toBe("ok");
  });

  it("reload() re-renders and applies a config without dropping the leaf link", async () => {
    const before = (await monitor(running, "nats-2", "varz")).config_load_time;
    await running.reload("nats-2");
    const after = await monitor(running, "nats-2", "varz");
    expect(after.config_load_time).not.toBe(before);
    expect((await monitor(running, "nats-2", "leafz")).leafnodes).toBe(2);
  });
});

describe("startTopology cleanup", () => {
  it("stop() ends every server and removes the dir with stores, configs and creds", async () => {
    const topology = devTopology("h2-stop");
    const { security, files } = await testSecurity(topology);
    const running = await startTopology(topology, { security, files });
    const servers = running.topology.hosts.flatMap((h) => h.instances.map((i) => i.serverName));
    expect(fs.existsSync(path.join(running.dir, "secrets", "leaf-nats-1.creds"))).toBe(true);
    expect(fs.readdirSync(path.join(running.dir, "jetstream")).sort()).toEqual([...servers].sort());
    await running.stop();
    expect(fs.existsSync(running.dir)).toBe(false);
    for (const server of servers) {
      await expect(fetch(`${running.monitoringUrl(server)}/healthz`), server).rejects.toThrow();
    }
  });


  it("when a server cannot start: stops what it started, removes its dir and reports the failing server's log", async () => {
    const topology = devTopology("h2-failure");
    // Occupied port: accept and drop, so health probes fail fast and close() does not wait.
    const blocker = net.createServer((socket) => socket.destroy());
    // nats-3 cannot bind its monitoring port and exits at start.
    await new Promise<void>((resolve) => blocker.listen(8222, `${BLOCK}.43`, resolve));
    const prefix = path.join(os.tmpdir(), "cim-nats-h2-failure-");
    try {
      await expect(startTopology(topology, { timeoutMs: 15_000 })).rejects.toThrow(/nats-3[\s\S]*address already in use/);
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
    const leftovers = fs.readdirSync(os.tmpdir()).filter((d) => path.join(os.tmpdir(), d).startsWith(prefix));
    expect(leftovers).toEqual([]);
    // Every other server was stopped: nothing listens on the hub's client port any more.
    const refused = await new Promise<boolean>((resolve) => {
      const socket = net.connect(4223, `${BLOCK}.41`);
      socket.once("connect", () => (socket.destroy(), resolve(false)));
      socket.once("error", () => resolve(true));
    });
    expect(refused).toBe(true);
  });
});
