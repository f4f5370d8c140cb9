/**
 * Leaves keep working while cut off from the hub (DESIGN.md "Two tiers"): with every hub member
 * down, a leaf still acks events into its own stream; when the hub comes back, the aggregate
 * catches up and holds each of them exactly once. Real servers on 127.0.8.x, the stack's own
 * spec (parseJetStream of Pulumi.dev.yaml) and the provider functions.
 */
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsApi } from "../../components/jetstream/api";
import { closeJetStreamConnections, jetStreamConnection } from "../../components/jetstream/connection-pool";
import { locationTarget } from "../../components/jetstream/locations";
import { leafLocalSubjects, parseJetStream } from "../../components/jetstream/spec";
import { createStream } from "../../components/jetstream/stream";
import { streamInfo } from "../../components/jetstream/stream-requests";
import type { StreamInfoResponse } from "../../components/jetstream/stream-requests";
import { parseTopology } from "../../components/topology/parse";
import { rebaseAddresses, withLeafDenyImports } from "../../components/topology/rebase";
import { startTopology, type RunningTopology } from "../../harness/local-topology";
import { readStackConfig } from "../support/stack-config";
import { eventually } from "../support/eventually";

const EVENTS = 500;
const HUB = ["nats-1-hub", "nats-2-hub", "nats-3-hub"];

const dev = readStackConfig("dev");
const bare = rebaseAddresses(parseTopology(dev.topology, { name: "partition" }), "127.0.8");
const spec = parseJetStream(dev.jetstream, bare);
const topology = withLeafDenyImports(bare, leafLocalSubjects(spec));
let running: RunningTopology;

beforeAll(async () => {
  running = await startTopology(topology);
  for (const s of spec.streams) await createStream({ ...s.config, target: locationTarget(s.location, running.topology) });
  const [agg] = spec.aggregates;
  await createStream({ ...agg.config, target: locationTarget(agg.location, running.topology) });
}, 120_000);

afterAll(async () => {
  await closeJetStreamConnections();
  await running?.stop();
});

describe("a leaf cut off from the hub", () => {
  it(`acks ${EVENTS} events while every hub member is down; the aggregate then holds each exactly once`, async () => {
    const [agg] = spec.aggregates;
    const hubTarget = locationTarget(agg.location, running.topology);
    for (const m of HUB) await running.stopServer(m);

    const nc = await connect({ servers: running.clientUrl("nats-2") });
    try {
      const js = jetstream(nc); // the leaf's own domain: no hub needed to persist and ack
      for (let i = 0; i < EVENTS; i++) {
        const ack = await js.publish("person.events.created", JSON.stringify({ i }), { msgID: `cut-off-${i}` });
        expect(ack.stream).toBe("PERSON_EVENTS");
      }
      const leafInfo = await jetstream(nc).jetstreamManager().then((jsm) => jsm.streams.info("PERSON_EVENTS"));
      expect(leafInfo.state.messages).toBe(EVENTS);
    } finally {
      await nc.close();
    }

    for (const m of HUB) await running.startServer(m);
    // The aggregate recovers with the hub (R3, file store) and sources the leaf's backlog. It has
    // caught up when it holds EVENTS and every source reports no lag: nothing more is on its way,
    // so a duplicate would already be counted.
    type Source = { name: string; lag: number; error?: unknown };
    const caughtUp = await eventually(
      "the aggregate caught up with every leaf",
      async () => (await streamInfo(hubTarget, agg.config.name)) as (StreamInfoResponse & { sources?: Source[] }) | undefined,
      (i) => (i?.state.messages ?? 0) >= EVENTS && (i?.sources ?? []).length === (agg.config.sources ?? []).length && i!.sources!.every((s) => s.lag === 0),
      60_000,
      250,
    );
    expect(caughtUp?.state.messages).toBe(EVENTS);

    // Every event once, in the leaf's order, at sequences 1..EVENTS (no gaps, no duplicates).
    const conn = await jetStreamConnection(hubTarget);
    const seen: number[] = [];
    for (let seq = 1; seq <= EVENTS; seq++) {
      const r = await jsApi<{ message: { data: string } }>(conn, `STREAM.MSG.GET.${agg.config.name}`, { seq }, "aggregate message");
      seen.push(JSON.parse(Buffer.from(r.message.data, "base64").toString("utf8")).i);
    }
    expect(seen).toEqual([...Array(EVENTS).keys()]);
    // The other leaves' streams never saw nats-2's events.
    for (const leaf of ["nats-1", "nats-3", "cimstor"]) {
      const s = spec.streams.find((x) => x.location.domain === leaf)!;
      expect((await streamInfo(locationTarget(s.location, running.topology), s.config.name))?.state.messages).toBe(0);
    }
  }, 150_000);
});
