/**
 * The nudge of stalled hub sources (components/jetstream/source-nudge.ts) against real servers on
 * 127.0.210.x: a hub of three (JetStream domain hub) and a leaf (domain leaf) linked to it, a
 * leaf stream and a hub aggregate (R3) sourcing it across the domains.
 *
 * - a source that heartbeats is not stalled: nothing is stepped down, the leader stays;
 * - a leaf gone long enough that the hub's source failed is in nats-server's retry backoff
 *   (10 s × failures) when the leaf is back; the nudge steps the aggregate's leader down and the
 *   leaf's new event is in the aggregate within 3 s, where the backoff alone leaves it ≥ 10 s.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNatsServer, stopNatsServer, waitHealthy, waitJetStreamCurrent } from "../../components/local/nats-process";
import { nudgeStalledHubSources, STALLED_SOURCE_NS, streamsWithStalledSources } from "../../components/jetstream/source-nudge";
import { closeJetStreamConnections } from "../../components/jetstream/connection-pool";
import { eventually } from "../support/eventually";

const NET = "127.0.210";
const MEMBERS = [1, 2, 3].map((i) => ({ name: `hub-${i}`, address: `${NET}.${i}` }));
const LEAF = { name: "leaf", address: `${NET}.10` };
const HUB_URLS = MEMBERS.map((m) => `nats://${m.address}:4222`);
const LEAF_URL = `nats://${LEAF.address}:4222`;

let dir: string;
const pids: Record<string, number> = {};

function writeConfig(name: string, text: string): string {
  const file = path.join(dir, `${name}.conf`);
  fs.writeFileSync(file, text);
  return file;
}

async function start(name: string, address: string): Promise<void> {
  const { pid } = await startNatsServer({ configPath: path.join(dir, `${name}.conf`), logPath: path.join(dir, `${name}.log`) });
  pids[name] = pid;
  await waitHealthy(`http://${address}:8222`, 30_000, pid, name === LEAF.name ? "full" : "js-server-only");
}

async function withHub<T>(use: (jsm: JetStreamManager) => Promise<T>): Promise<T> {
  const nc = await connect({ servers: HUB_URLS });
  try {
    return await use(await jetstreamManager(nc));
  } finally {
    await nc.close();
  }
}

async function publishAtLeaf(id: string): Promise<void> {
  const nc = await connect({ servers: LEAF_URL });
  try {
    await jetstream(nc).publish("ev.created", id);
  } finally {
    await nc.close();
  }
}

const aggregateCount = () => withHub(async (jsm) => (await jsm.streams.info("AGG")).state.messages);
const streamList = () => withHub(async (jsm) => ({ total: 1, offset: 0, limit: 256, streams: [await jsm.streams.info("AGG")] }) as unknown as Parameters<typeof streamsWithStalledSources>[0]);

beforeAll(async () => {
  dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "cim-nudge-")));
  const routes = MEMBERS.map((m) => `"nats://${m.address}:6222"`).join(", ");
  for (const m of MEMBERS) {
    writeConfig(
      m.name,
      `server_name: ${m.name}\nlisten: "${m.address}:4222"\nhttp: "${m.address}:8222"\n` +
        `jetstream { store_dir: "${dir}/${m.name}", domain: hub }\ncluster { name: nudge, listen: "${m.address}:6222", routes: [${routes}] }\n` +
        `leafnodes { listen: "${m.address}:7422" }\n`,
    );
  }
  writeConfig(
    LEAF.name,
    `server_name: ${LEAF.name}\nlisten: "${LEAF.address}:4222"\nhttp: "${LEAF.address}:8222"\njetstream { store_dir: "${dir}/${LEAF.name}", domain: leaf }\n` +
      `leafnodes { reconnect: 1, remotes: [ { urls: [${MEMBERS.map((m) => `"nats://${m.address}:7422"`).join(", ")}] } ] }\n`,
  );
  for (const m of MEMBERS) await start(m.name, m.address);
  await Promise.all(MEMBERS.map((m) => waitJetStreamCurrent(`http://${m.address}:8222`, 60_000, pids[m.name])));
  await start(LEAF.name, LEAF.address);
  const nc = await connect({ servers: LEAF_URL });
  await (await jetstreamManager(nc)).streams.add({ name: "EV", subjects: ["ev.>"] });
  await nc.close();
  await eventually(
    "the aggregate created",
    () => withHub((jsm) => jsm.streams.add({ name: "AGG", num_replicas: 3, sources: [{ name: "EV", external: { api: "$JS.leaf.API", deliver: "" } }] })),
    () => true,
  );
  await publishAtLeaf("first");
  await eventually("the first event sourced", aggregateCount, (n) => n === 1);
}, 120_000);

afterAll(async () => {
  await closeJetStreamConnections();
  for (const pid of Object.values(pids)) await stopNatsServer(pid, 10_000).catch(() => undefined);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe("nudging the hub's stalled sources", () => {
  it("leaves a source that heartbeats alone: nothing stepped down, the leader stays", async () => {
    const page = await eventually("the source heard from within the last second or two", streamList, (p) => streamsWithStalledSources(p).length === 0);
    const leader = page.streams![0].cluster!.leader;
    expect(await nudgeStalledHubSources({ servers: HUB_URLS })).toEqual({ nudged: [], refused: [] });
    expect((await withHub((jsm) => jsm.streams.info("AGG"))).cluster?.leader).toBe(leader);
  });

  it("after a leaf outage the source sits in the retry backoff; the nudge brings the leaf's new event in within 3 s", async () => {
    await stopNatsServer(pids[LEAF.name], 10_000);
    // Silent past two failed re-creations (health check every 10 s, then 10 s × failures): the
    // next retry is ≥ 20 s away, longer than the leaf takes to come back even on a loaded machine
    // (after one failure, a retry 10 s later beat the nudge once at load 45: nothing was stalled).
    const stalled = await eventually(
      "the hub's source failed while the leaf was down",
      streamList,
      (p) => {
        const src = p.streams![0].sources?.[0] as { active?: number; error?: unknown } | undefined;
        return src !== undefined && (src.active ?? 0) > 25e9;
      },
      60_000,
      500,
    );
    expect(streamsWithStalledSources(stalled)).toEqual(["AGG"]);
    const leader = stalled.streams![0].cluster!.leader;
    await start(LEAF.name, LEAF.address);
    await eventually("the leaf linked", async () => ((await (await fetch(`http://${LEAF.address}:8222/leafz`)).json()) as { leafnodes: number }).leafnodes, (n) => n === 1);
    await publishAtLeaf("after");
    const sent = Date.now();
    expect(await nudgeStalledHubSources({ servers: HUB_URLS })).toEqual({ nudged: ["AGG"], refused: [] });
    await eventually("the event acked at the leaf after its outage in the aggregate", aggregateCount, (n) => n === 2, 3_000, 100);
    console.log(`source nudge: the leaf's event was in the aggregate ${Date.now() - sent} ms after the nudge (stalled: silent over ${STALLED_SOURCE_NS / 1e9} s)`);
    expect((await withHub((jsm) => jsm.streams.info("AGG"))).cluster?.leader).not.toBe(leader);
  }, 180_000);
});
