/**
 * What durable acks cost (docs/durability.md, "Cost"): acked publishes into the stack's streams on
 * real nats-servers running the configs the stack renders, once per `jetstream.sync_interval`,
 * at both tiers: a leaf's R1 file stream (PERSON_EVENTS) and the hub's R3 file stream (three
 * members, as PERSON_PROJECTIONS). Three ways to publish: one at a time (a service awaiting each
 * ack), 64 in flight (a pipelining publisher), and atomic batches of 100 (`allow_atomic`
 * streams, nats-server 2.12+: one commit ack, and at `always` one fsync, per batch). At the leaf
 * also `always` with the stream's own `persist_mode: async` (the per-stream opt-out, R1 only).
 * Rounds interleave the settings so drift hits each alike. Prints acked/s and p99 ack latency
 * per setting and way, and each ratio to today's defaults measured in the same run (leaf 1s,
 * hub 2m before docs/durability.md) and to nats-server's own (2m); the leaf's RSS.
 *
 *   npm run bench -- sync-cost          (or: tsx bench/sync-cost.ts [rounds])
 *
 * Loopback 127.0.129.x only. Stores sit under the OS temp dir: fsync cost is that disk's, so the
 * line printed first names its file system.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { jetstream, jetstreamManager, type JetStreamClient } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { parseTopology } from "../components/topology/parse";
import { rebaseAddresses } from "../components/topology/rebase";
import { startTopology } from "../harness/local-topology";

const ROUNDS = Number(process.argv[2] ?? 3);
const SEQUENTIAL = 1_500;
const PIPELINED = 8_000;
const WINDOW = 64;
const BATCH = 100;
const BATCHES = 80;
const PAYLOAD = new TextEncoder().encode(JSON.stringify({ id: "0".repeat(36), type: "person.created", name: "x".repeat(160) })); // ~250 B, an event

/** A server-wide sync_interval; `always+async-stream`: `always` on the server, `persist_mode: async` on the stream. */
const SETTINGS = ["2m", "1s", "always", "always+async-stream"] as const;
type Setting = (typeof SETTINGS)[number];
const WAYS = ["one at a time", `${WINDOW} in flight`, `atomic x${BATCH}`] as const;
type Way = (typeof WAYS)[number];
type Tier = "leaf" | "hub";
/** Today's defaults before this change, the baseline of the ratios. */
const TODAY: Record<Tier, Setting> = { leaf: "1s", hub: "2m" };

type Figure = { perSec: number; p99Ms: number };
/** `sourcedPerSec` (hub): how fast the R3 aggregate sources the leaf's stream when it starts behind. */
type Run = Record<Way, Figure> & { rssMiB?: number; sourcedPerSec?: number };

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
const median = (xs: number[]) => pct(xs, 0.5);
const now = () => Number(process.hrtime.bigint()) / 1e6;

function rssMiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024);
}

async function oneAtATime(js: JetStreamClient, subject: string): Promise<Figure> {
  const lat: number[] = [];
  const t0 = now();
  for (let i = 0; i < SEQUENTIAL; i++) {
    const t = now();
    await js.publish(`${subject}.seq.${i % 100}`, PAYLOAD);
    lat.push(now() - t);
  }
  return { perSec: SEQUENTIAL / ((now() - t0) / 1e3), p99Ms: pct(lat, 0.99) };
}

async function inFlight(js: JetStreamClient, subject: string): Promise<Figure> {
  const lat: number[] = [];
  let next = 0;
  const t0 = now();
  await Promise.all(
    Array.from({ length: WINDOW }, async () => {
      while (next < PIPELINED) {
        const i = next++;
        const t = now();
        await js.publish(`${subject}.pipe.${i % 100}`, PAYLOAD);
        lat.push(now() - t);
      }
    }),
  );
  return { perSec: PIPELINED / ((now() - t0) / 1e3), p99Ms: pct(lat, 0.99) };
}

/** Atomic batches, one after another: the latency is a whole batch's, start to commit ack. */
async function atomic(js: JetStreamClient, subject: string): Promise<Figure> {
  const lat: number[] = [];
  const t0 = now();
  for (let b = 0; b < BATCHES; b++) {
    const t = now();
    const batch = await js.startBatch(`${subject}.atomic.0`, PAYLOAD);
    for (let i = 1; i < BATCH - 1; i++) batch.add(`${subject}.atomic.${i % 100}`, PAYLOAD);
    const ack = await batch.commit(`${subject}.atomic.99`, PAYLOAD);
    if (ack.count !== BATCH) throw new Error(`atomic batch committed ${ack.count} messages, expected ${BATCH}`);
    lat.push(now() - t);
  }
  return { perSec: (BATCHES * BATCH) / ((now() - t0) / 1e3), p99Ms: pct(lat, 0.99) };
}

/** One leaf and a three-member hub, every server at `setting`; one round of every way at both tiers. */
async function runOnce(setting: Setting, base: string): Promise<Record<Tier, Run>> {
  const sync = setting.startsWith("always") ? "always" : setting;
  const raw = {
    hub: { replicas: 3, jetstream: { maxMemory: "64M", maxFile: "2G", syncInterval: sync } },
    leaf: { jetstream: { maxMemory: "64M", maxFile: "2G", syncInterval: sync } },
    hosts: [1, 2, 3].map((n) => ({ name: `bench-${n}`, vmid: 900 + n, node: `pve${n}`, address: `127.0.0.${10 + n}`, roles: n === 1 ? ["leaf", "hub"] : ["hub"] })),
  };
  const topology = rebaseAddresses(parseTopology(raw, { name: "bench-sync", leafDenyImports: ["person.events.>"] }), "127.0.129");
  process.env.TMPDIR = base;
  const running = await startTopology(topology);
  try {
    const out = {} as Record<Tier, Run>;
    let leafMessages = 0;
    for (const tier of ["leaf", "hub"] as const) {
      const server = tier === "leaf" ? "bench-1" : "bench-1-hub";
      const nc = await connect({ servers: running.clientUrl(server) });
      try {
        const jsm = await jetstreamManager(nc);
        const name = tier === "leaf" ? "PERSON_EVENTS" : "PERSON_PROJECTIONS";
        const subject = tier === "leaf" ? "person.events" : "person.projections";
        // nats-server refuses atomic batches on an async-persist stream: that way is not measured there.
        const asyncStream = tier === "leaf" && setting === "always+async-stream";
        await jsm.streams.add({ name, subjects: [`${subject}.>`], num_replicas: tier === "leaf" ? 1 : 3, ...(asyncStream ? { persist_mode: "async" as never } : { allow_atomic: true }) });
        const js = jetstream(nc);
        // A new R3 stream answers once its group has a leader: until then "no responders".
        for (let t = Date.now(); ; ) {
          try {
            await js.publish(`${subject}.warm`, PAYLOAD);
            break;
          } catch (e) {
            if (Date.now() - t > 20_000) throw e;
            await new Promise((r) => setTimeout(r, 100));
          }
        }
        for (let i = 1; i < 200; i++) await js.publish(`${subject}.warm`, PAYLOAD);
        const none = { perSec: NaN, p99Ms: NaN };
        const run = { "one at a time": await oneAtATime(js, subject), [`${WINDOW} in flight`]: await inFlight(js, subject), [`atomic x${BATCH}`]: asyncStream ? none : await atomic(js, subject) } as Run;
        const info = await jsm.streams.info(name);
        const expected = 200 + SEQUENTIAL + PIPELINED + (asyncStream ? 0 : BATCHES * BATCH);
        if (info.state.messages !== expected) throw new Error(`${tier} stream holds ${info.state.messages} messages, expected ${expected}`);
        if (tier === "leaf") [run.rssMiB, leafMessages] = [rssMiB(running.pidOf(server)!), info.state.messages];
        // The aggregate (R3, sourcing the leaf's whole stream): its catch-up rate after an outage.
        if (tier === "hub") {
          const t0 = now();
          await jsm.streams.add({ name: "CLUSTER_PERSON_EVENTS", subjects: [], num_replicas: 3, sources: [{ name: "PERSON_EVENTS", external: { api: "$JS.bench-1.API", deliver: "" } }] });
          while ((await jsm.streams.info("CLUSTER_PERSON_EVENTS")).state.messages < leafMessages) await new Promise((r) => setTimeout(r, 50));
          run.sourcedPerSec = leafMessages / ((now() - t0) / 1e3);
        }
        out[tier] = run;
      } finally {
        await nc.close();
      }
    }
    return out;
  } finally {
    await running.stop();
  }
}

async function main(): Promise<void> {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), "cim-bench-sync-cost-"));
  const fsType = execFileSync("df", ["-T", base], { encoding: "utf8" }).trim().split("\n")[1].split(/\s+/)[1];
  console.log(
    `acked publishes of ${PAYLOAD.length} B: ${SEQUENTIAL} one at a time, ${PIPELINED} with ${WINDOW} in flight, ${BATCHES} atomic batches of ${BATCH}; ` +
      `leaf: R1 file stream, hub: R3 file stream on 3 members; ${ROUNDS} rounds interleaved; stores on ${fsType} (${base}); ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)}`,
  );
  const runs = new Map<Setting, Record<Tier, Run>[]>(SETTINGS.map((s) => [s, []]));
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const s of round % 2 === 0 ? SETTINGS : [...SETTINGS].reverse()) runs.get(s)!.push(await runOnce(s, base));
    }
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
  const med = (s: Setting, tier: Tier, way: Way, k: keyof Figure) => median(runs.get(s)!.map((r) => r[tier][way][k]));
  for (const tier of ["leaf", "hub"] as const) {
    const settings = SETTINGS.filter((s) => tier === "leaf" || s !== "always+async-stream");
    // The hub's default was nats-server's own: one ratio column there.
    const twoBaselines = TODAY[tier] !== "2m";
    const head = ["sync_interval", ...WAYS.flatMap((w) => [`${w}/s`, `vs ${TODAY[tier]}`, ...(twoBaselines ? ["vs 2m"] : []), "p99 ms"]), ...(tier === "leaf" ? ["RSS MiB"] : ["aggregate sourced/s", `vs ${TODAY[tier]}`])];
    const rows = settings.map((s) => [
      s === TODAY[tier] ? `${s} (today)` : s === "2m" ? "2m (nats)" : s,
      ...WAYS.flatMap((w) =>
        Number.isNaN(med(s, tier, w, "perSec"))
          ? ["-", "-", ...(twoBaselines ? ["-"] : []), "-"]
          : [
              med(s, tier, w, "perSec").toFixed(0),
              (med(s, tier, w, "perSec") / med(TODAY[tier], tier, w, "perSec")).toFixed(2) + "x",
              ...(twoBaselines ? [(med(s, tier, w, "perSec") / med("2m", tier, w, "perSec")).toFixed(2) + "x"] : []),
              med(s, tier, w, "p99Ms").toFixed(2),
            ],
      ),
      ...(tier === "leaf"
        ? [String(median(runs.get(s)!.map((r) => r.leaf.rssMiB ?? 0)))]
        : [median(runs.get(s)!.map((r) => r.hub.sourcedPerSec ?? 0)).toFixed(0), (median(runs.get(s)!.map((r) => r.hub.sourcedPerSec ?? 0)) / median(runs.get(TODAY.hub)!.map((r) => r.hub.sourcedPerSec ?? 0))).toFixed(2) + "x"]),
    ]);
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    console.log(`\n${tier === "leaf" ? "leaf (R1)" : "hub (R3, 3 members)"}:`);
    for (const r of [head, ...rows]) console.log(r.map((c, i) => c.padStart(widths[i])).join("  "));
  }
  console.log(`\n(medians of ${ROUNDS} rounds; atomic p99 is a whole batch of ${BATCH}; ratios against today's defaults and nats-server's 2m, same run)`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
