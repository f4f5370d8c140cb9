/**
 * `npm run bench -- topology`: why leaves exist, measured on the real dev topology (a copy of the
 * project up through the Pulumi CLI on 127.0.72.x: 4 leaves, 3 hub members, the stack's own
 * configs, security and streams), each figure beside `nats bench` from the pinned CLI on the same
 * servers in the same run:
 *
 * 1. publish ack latency p50/p99 and throughput at a leaf (BENCH_R1: R1, file, at leaf nats-1) vs
 *    straight into an R3 hub stream (BENCH_R3, file), both created for the run and sourced by
 *    nothing (a PERSON_EVENTS publish also feeds the aggregate's R3 sourcing on the same CPUs:
 *    one nats.js row shows that real path);
 * 2. aggregation lag: from a leaf's ack to the event arriving at a hub core subscriber through
 *    the aggregate's republish (so: stored in CLUSTER_PERSON_EVENTS), at 1,000 msgs/s and at max
 *    rate, with exact counts (acked, in the aggregate, delivered, duplicates); and the aggregate
 *    catching up after `nats bench js pub async` floods the same leaf stream.
 *
 * Writes bench/out/topology.md and bench/out/topology.png (git-ignored).
 *
 *   bash scripts/with-env.sh tsx bench/topology.ts [sync-msgs] [max-rate-msgs]
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { credsAuthenticator, type NatsConnection } from "@nats-io/nats-core";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { createDevProject, type DevProject } from "../harness/dev-project";
import { runPulumi, stackOutputs } from "../harness/pulumi-cli";
import { barChartPng } from "./lib/png-chart";
import { stackCa, stackClientTls, writeCaFile } from "../harness/stack-tls";

const NET = "127.0.72";
const SYNC_N = Number(process.argv[2] ?? 2000);
const MAX_N = Number(process.argv[3] ?? 20000);
const RATE_N = 5000; // 5 s at 1,000 msgs/s
const WINDOW = 256;
const PAYLOAD = new Uint8Array(128).fill(120);
const OUT = path.join(__dirname, "out");
const NATS = path.join(path.resolve(__dirname, ".."), ".tools", "bin", "nats");
const AGGREGATE = "CLUSTER_PERSON_EVENTS";

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : NaN;
};
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const sleep = (m: number) => new Promise((r) => setTimeout(r, m));

type Latency = { p50: number; p99: number; rate: number };
type NatsBench = { rate: number; p50?: number; p99?: number; line: string };

async function syncLatency(nc: NatsConnection, subject: string, n: number): Promise<Latency> {
  const js = jetstream(nc);
  for (let i = 0; i < 100; i++) await js.publish(subject, PAYLOAD);
  const lat: number[] = [];
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await js.publish(subject, PAYLOAD);
    lat.push(ms(t));
  }
  return { p50: pct(lat, 50), p99: pct(lat, 99), rate: n / (ms(t0) / 1000) };
}

async function asyncRate(nc: NatsConnection, subject: string, n: number): Promise<number> {
  const js = jetstream(nc);
  const t0 = process.hrtime.bigint();
  const inflight = new Set<Promise<unknown>>();
  for (let i = 0; i < n; i++) {
    const p = js.publish(subject, PAYLOAD).finally(() => inflight.delete(p));
    inflight.add(p);
    if (inflight.size >= WINDOW) await Promise.race(inflight);
  }
  await Promise.all(inflight);
  return n / (ms(t0) / 1000);
}

/** How `nats bench` authenticates and verifies the servers (the stack's CA: they require TLS). */
type NatsCliAuth = { readonly creds: string; readonly ca: string };

function natsBench(url: string, auth: NatsCliAuth, args: string[]): NatsBench {
  const out = execFileSync(NATS, ["--no-context", "-s", url, "--creds", auth.creds, "--tlsca", auth.ca, "bench", ...args, "--no-progress"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 300_000 });
  const line = out.split("\n").find((l) => /stats: [\d,]+ msgs\/sec/.test(l)) ?? out.trim().split("\n").pop() ?? "";
  const num = (re: RegExp) => {
    const m = re.exec(line);
    return m ? Number(m[1].replace(/,/g, "")) : undefined;
  };
  const us = (re: RegExp) => {
    const v = num(re);
    return v === undefined ? undefined : v / 1000;
  };
  return { rate: num(/stats: ([\d,]+) msgs\/sec/) ?? NaN, p50: us(/P50: ([\d,.]+)us/), p99: us(/P99: ([\d,.]+)us/), line: line.trim() };
}

type Aggregation = { label: string; acked: number; inAggregate: number; delivered: number; duplicates: number; p50: number; p99: number; max: number; rate: number; catchUpMs: number };

/** Publishes `n` events at the leaf (at `perSecond`, or as fast as acks allow) and times each to the hub subscriber. */
async function aggregation(label: string, leaf: NatsConnection, hub: NatsConnection, n: number, perSecond?: number): Promise<Aggregation> {
  const tag = `r${Date.now().toString(36)}`;
  const subject = `person.events.bench.${tag}`;
  const ackAt = new Array<number>(n);
  const recvAt = new Array<number>(n);
  let delivered = 0;
  let duplicates = 0;
  const sub = hub.subscribe(subject, {
    callback: (_e, m) => {
      const i = Number(m.string());
      if (recvAt[i] !== undefined) duplicates++;
      else {
        recvAt[i] = performance.now();
        delivered++;
      }
    },
  });
  await hub.flush();
  const js = jetstream(leaf);
  const start = performance.now();
  const inflight = new Set<Promise<unknown>>();
  for (let i = 0; i < n; i++) {
    if (perSecond) {
      const due = start + (i * 1000) / perSecond;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
    }
    const p = js.publish(subject, String(i)).then(() => void (ackAt[i] = performance.now())).finally(() => inflight.delete(p));
    inflight.add(p);
    if (inflight.size >= WINDOW) await Promise.race(inflight);
  }
  await Promise.all(inflight);
  const lastAck = performance.now();
  const rate = n / ((lastAck - start) / 1000);
  const jsm = await jetstreamManager(hub);
  let inAggregate = 0;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const info = await jsm.streams.info(AGGREGATE, { subjects_filter: subject });
    inAggregate = info.state.subjects?.[subject] ?? 0;
    if (inAggregate >= n && delivered >= n) break;
    await sleep(50);
  }
  const catchUpMs = performance.now() - lastAck;
  await sleep(500); // late duplicates would show here
  sub.unsubscribe();
  const lags = recvAt.map((r, i) => r - ackAt[i]).filter((x) => Number.isFinite(x));
  return { label, acked: ackAt.filter((x) => x !== undefined).length, inAggregate, delivered, duplicates, p50: pct(lags, 50), p99: pct(lags, 99), max: Math.max(...lags), rate, catchUpMs };
}

/** `nats bench js pub async` floods the leaf stream; the aggregate and a hub subscriber are counted until they hold every message. */
async function natsBenchAggregation(leafUrl: string, cli: NatsCliAuth, hub: NatsConnection, n: number): Promise<Aggregation & { bench: NatsBench }> {
  const subject = `person.events.bench.nb${Date.now().toString(36)}`;
  let delivered = 0;
  const sub = hub.subscribe(subject, { callback: () => void delivered++ });
  await hub.flush();
  const start = performance.now();
  const bench = natsBench(leafUrl, cli, ["js", "pub", "async", subject, "--stream", "PERSON_EVENTS", "--msgs", String(n)]);
  const end = performance.now();
  const jsm = await jetstreamManager(hub);
  let inAggregate = 0;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    inAggregate = (await jsm.streams.info(AGGREGATE, { subjects_filter: subject })).state.subjects?.[subject] ?? 0;
    if (inAggregate >= n && delivered >= n) break;
    await sleep(50);
  }
  const catchUpMs = performance.now() - end;
  await sleep(500);
  sub.unsubscribe();
  return { label: "nats bench js pub async (max)", acked: n, inAggregate, delivered: Math.min(delivered, n), duplicates: Math.max(0, delivered - n), p50: NaN, p99: NaN, max: NaN, rate: n / ((end - start) / 1000), catchUpMs, bench };
}

async function main(): Promise<void> {
  let project: DevProject | undefined;
  try {
    project = createDevProject("cim-nats-bench-topology-");
    const configFile = path.join(project.projectDir, "Pulumi.dev.yaml");
    fs.writeFileSync(configFile, fs.readFileSync(configFile, "utf8").replace(/127\.0\.0\.(\d+)/g, `${NET}.$1`));
    await runPulumi(project.context, ["stack", "select", "--create", "dev"]);
    console.log("bench/topology: pulumi up (dev topology on 127.0.72.x)…");
    await runPulumi(project.context, ["up", "--yes", "--skip-preview", "-s", "dev"], { timeoutMs: 600_000 });
    const outputs = (await stackOutputs(project.context, "dev")) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    const creds = String(outputs.jetstreamAdminCreds);
    const credsFile = path.join(project.dir, "admin.creds");
    fs.writeFileSync(credsFile, creds, { mode: 0o600 });
    const ca = stackCa(outputs);
    const cli: NatsCliAuth = { creds: credsFile, ca: writeCaFile(project.dir, ca) };
    const auth = () => credsAuthenticator(new TextEncoder().encode(creds));
    const leafUrl: string = outputs.leaves["nats-1"].clientUrl;
    const hubUrls: string[] = outputs.hub.clientUrls;
    const leaf = await connect({ servers: leafUrl, tls: stackClientTls(ca, leafUrl), authenticator: auth(), name: "bench-leaf" });
    const hub = await connect({ servers: hubUrls, tls: stackClientTls(ca, hubUrls), authenticator: auth(), name: "bench-hub" });
    const hubJsm = await jetstreamManager(hub);
    await hubJsm.streams.add({ name: "BENCH_R3", subjects: ["bench.r3.>"], num_replicas: 3, storage: "file" as never });
    const leafJsm = await jetstreamManager(leaf);
    await leafJsm.streams.add({ name: "BENCH_R1", subjects: ["bench.r1.>"], num_replicas: 1, storage: "file" as never });
    /** The aggregate has sourced everything so far: the lag runs start from a quiet hub. */
    const sourcesIdle = async () => {
      const deadline = Date.now() + 120_000;
      while (Date.now() < deadline) {
        const info = await hubJsm.streams.info(AGGREGATE);
        if ((info.sources ?? []).every((src) => src.lag === 0)) return;
        await sleep(200);
      }
      throw new Error(`${AGGREGATE} sources still lag after 120 s`);
    };

    console.log(`bench/topology: sync publish latency, ${SYNC_N} each…`);
    const leafSync = await syncLatency(leaf, "bench.r1.sync", SYNC_N);
    const hubSync = await syncLatency(hub, "bench.r3.sync", SYNC_N);
    const nbLeafSync = natsBench(leafUrl, cli, ["js", "pub", "sync", "bench.r1.nbsync", "--stream", "BENCH_R1", "--msgs", String(SYNC_N)]);
    const nbHubSync = natsBench(hubUrls[0], cli, ["js", "pub", "sync", "bench.r3.nbsync", "--stream", "BENCH_R3", "--msgs", String(SYNC_N)]);
    console.log(`bench/topology: async publish throughput, ${MAX_N} each…`);
    const leafAsync = await asyncRate(leaf, "bench.r1.async", MAX_N);
    const hubAsync = await asyncRate(hub, "bench.r3.async", MAX_N);
    const nbLeafAsync = natsBench(leafUrl, cli, ["js", "pub", "async", "bench.r1.nbasync", "--stream", "BENCH_R1", "--msgs", String(MAX_N)]);
    const personSync = await syncLatency(leaf, "person.events.bench.sync", SYNC_N);
    const nbHubAsync = natsBench(hubUrls[0], cli, ["js", "pub", "async", "bench.r3.nbasync", "--stream", "BENCH_R3", "--msgs", String(MAX_N)]);

    console.log("bench/topology: aggregation lag at 1,000 msgs/s and at max rate…");
    await sourcesIdle();
    const at1k = await aggregation("1,000 msgs/s", leaf, hub, RATE_N, 1000);
    await sourcesIdle();
    const atMax = await aggregation(`max rate (window ${WINDOW})`, leaf, hub, MAX_N);
    await sourcesIdle();
    const nbAgg = await natsBenchAggregation(leafUrl, cli, hub, MAX_N);
    await hubJsm.streams.delete("BENCH_R3");
    await leafJsm.streams.delete("BENCH_R1");
    await leaf.close();
    await hub.close();

    const f = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : "–");
    const n0 = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "–");
    const lines = [
      "# Topology benchmark",
      "",
      `${new Date().toISOString()} — dev topology (4 leaves, 3 hub members, file stores) on one 2-core machine, loopback ${NET}.x, TLS on every listener (the stack default); 128 B payloads; nats.js 3.4 and \`nats bench\` (natscli 0.5.0) on the same servers in the same run.`,
      "",
      "## Publish ack: leaf R1 vs hub R3",
      "",
      "| target | client | sync p50 ms | sync p99 ms | sync msgs/s | async msgs/s |",
      "|---|---|---|---|---|---|",
      `| leaf nats-1, BENCH_R1 (R1) | nats.js | ${f(leafSync.p50, 3)} | ${f(leafSync.p99, 3)} | ${n0(leafSync.rate)} | ${n0(leafAsync)} |`,
      `| leaf nats-1, BENCH_R1 (R1) | nats bench | ${f(nbLeafSync.p50 ?? NaN, 3)} | ${f(nbLeafSync.p99 ?? NaN, 3)} | ${n0(nbLeafSync.rate)} | ${n0(nbLeafAsync.rate)} |`,
      `| leaf nats-1, PERSON_EVENTS (R1, sourced into the R3 aggregate) | nats.js | ${f(personSync.p50, 3)} | ${f(personSync.p99, 3)} | ${n0(personSync.rate)} | – |`,
      `| hub, BENCH_R3 (R3) | nats.js | ${f(hubSync.p50, 3)} | ${f(hubSync.p99, 3)} | ${n0(hubSync.rate)} | ${n0(hubAsync)} |`,
      `| hub, BENCH_R3 (R3) | nats bench | ${f(nbHubSync.p50 ?? NaN, 3)} | ${f(nbHubSync.p99 ?? NaN, 3)} | ${n0(nbHubSync.rate)} | ${n0(nbHubAsync.rate)} |`,
      "",
      `Ratios hub R3 / leaf R1 (nats.js): p50 ${f(hubSync.p50 / leafSync.p50)}×, p99 ${f(hubSync.p99 / leafSync.p99)}×, sync throughput ${f(hubSync.rate / leafSync.rate)}×, async throughput ${f(hubAsync / leafAsync)}×.`,
      `Same ratios from nats bench: p50 ${f((nbHubSync.p50 ?? NaN) / (nbLeafSync.p50 ?? NaN))}×, p99 ${f((nbHubSync.p99 ?? NaN) / (nbLeafSync.p99 ?? NaN))}×, sync ${f(nbHubSync.rate / nbLeafSync.rate)}×, async ${f(nbHubAsync.rate / nbLeafAsync.rate)}×.`,
      "",
      "## Aggregation: leaf ack → hub aggregate → hub subscriber (republish)",
      "",
      "Each run starts once the aggregate's sources lag 0. Lag: from the publisher's ack at leaf nats-1 to a core subscriber at the hub receiving the aggregate's republish (same process clock).",
      "",
      "| publisher | published msgs/s | acked at leaf | in CLUSTER_PERSON_EVENTS | delivered at hub | duplicates | lag p50 ms | lag p99 ms | lag max ms | caught up after last ack |",
      "|---|---|---|---|---|---|---|---|---|---|",
      ...[at1k, atMax, nbAgg].map(
        (a) => `| ${a.label} | ${n0(a.rate)} | ${n0(a.acked)} | ${n0(a.inAggregate)} | ${n0(a.delivered)} | ${a.duplicates} | ${f(a.p50)} | ${f(a.p99)} | ${f(a.max)} | ${n0(a.catchUpMs)} ms |`,
      ),
      "",
      "nats bench output lines:",
      "",
      ...[nbLeafSync, nbHubSync, nbLeafAsync, nbHubAsync, nbAgg.bench].map((b) => `- \`${b.line}\``),
      "",
    ];
    fs.mkdirSync(OUT, { recursive: true });
    fs.writeFileSync(path.join(OUT, "topology.md"), lines.join("\n"));
    const leafC = [46, 125, 50] as const;
    const hubC = [198, 40, 40] as const;
    fs.writeFileSync(
      path.join(OUT, "topology.png"),
      barChartPng("LEAF R1 VS HUB R3, DEV TOPOLOGY", [
        {
          title: "ACK LATENCY",
          unit: "MS",
          groups: [
            { label: "P50 NATS.JS", bars: [{ label: "LEAF", value: leafSync.p50, color: leafC }, { label: "HUB", value: hubSync.p50, color: hubC }] },
            { label: "P99 NATS.JS", bars: [{ label: "LEAF", value: leafSync.p99, color: leafC }, { label: "HUB", value: hubSync.p99, color: hubC }] },
            { label: "P99 BENCH", bars: [{ label: "LEAF", value: nbLeafSync.p99 ?? 0, color: leafC }, { label: "HUB", value: nbHubSync.p99 ?? 0, color: hubC }] },
          ],
        },
        {
          title: "THROUGHPUT",
          unit: "MSGS/S",
          groups: [
            { label: "SYNC", bars: [{ label: "LEAF", value: leafSync.rate, color: leafC }, { label: "HUB", value: hubSync.rate, color: hubC }] },
            { label: "ASYNC", bars: [{ label: "LEAF", value: leafAsync, color: leafC }, { label: "HUB", value: hubAsync, color: hubC }] },
            { label: "BENCH ASYNC", bars: [{ label: "LEAF", value: nbLeafAsync.rate, color: leafC }, { label: "HUB", value: nbHubAsync.rate, color: hubC }] },
          ],
        },
        {
          title: "AGGREGATION LAG",
          unit: "MS",
          groups: [
            { label: "1K/S", bars: [{ label: "P50", value: at1k.p50, color: [21, 101, 192] }, { label: "P99", value: at1k.p99, color: [13, 71, 161] }] },
            { label: "MAX RATE", bars: [{ label: "P50", value: atMax.p50, color: [21, 101, 192] }, { label: "P99", value: atMax.p99, color: [13, 71, 161] }] },
          ],
        },
      ]),
    );
    console.log(lines.join("\n"));
    console.log(`\nwritten: ${path.join(OUT, "topology.md")}, ${path.join(OUT, "topology.png")}`);
  } finally {
    if (project) await project.cleanup();
  }
}

main().catch((e: Error) => {
  console.error(e.stack ?? e.message);
  process.exit(1);
});
