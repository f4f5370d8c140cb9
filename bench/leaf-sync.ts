/**
 * What `jetstream.sync_interval` costs at a leaf: acked publishes into an R1 file stream (the
 * leaf's PERSON_EVENTS) on a real nats-server running the config the stack renders, once per
 * setting, rounds interleaved so drift hits every setting alike. Prints, per setting, the acked
 * publish rate one at a time (a service awaiting each ack) and with 64 in flight (a batching
 * publisher), p50/p99 ack latency, the ratio to nats-server's default (2m), and the leaf's RSS.
 *
 *   bash scripts/with-env.sh npm run bench -- leaf-sync          (or: tsx bench/leaf-sync.ts [N])
 *
 * Loopback 127.0.86.x only. The store sits under the OS temp dir: note its file system and
 * disk, since fsync cost is the disk's (the figures in docs/prod.md say where they were taken).
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { startNatsServer, stopNatsServer, waitHealthy } from "../components/local/nats-process";
import { renderServerConfig } from "../components/render/nats-server-config";
import { instanceEndpoints } from "../components/topology/endpoints";
import { parseTopology } from "../components/topology/parse";
import { withDataDir } from "../components/topology/rebase";

const N = Number(process.argv[2] ?? 2_000);
const PIPELINED = N * 5;
const WINDOW = 64;
const ROUNDS = 3;
const SETTINGS = ["2m", "1s", "100ms", "always"] as const;
const PAYLOAD = new TextEncoder().encode(JSON.stringify({ id: "0".repeat(36), type: "person.created", name: "x".repeat(160) })); // ~250 B, an event

type Run = { sequentialPerSec: number; pipelinedPerSec: number; p50Ms: number; p99Ms: number; rssMiB: number };

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
const median = (xs: number[]) => pct(xs, 0.5);

/** One leaf (and the hub it would link to, not started: the publish path is the leaf's alone). */
function leafTopology(syncInterval: string, dir: string) {
  const raw = {
    hub: { replicas: 1 },
    leaf: { jetstream: { maxMemory: "64M", maxFile: "2G", syncInterval } },
    hosts: [
      { name: "bench-hub", vmid: 901, node: "pve1", address: "127.0.86.1", roles: ["hub"] },
      { name: "bench-leaf", vmid: 902, node: "pve1", address: "127.0.86.2", roles: ["leaf"] },
    ],
  };
  return withDataDir(parseTopology(raw, { name: "bench", leafDenyImports: ["person.events.>"] }), dir);
}

function rssMiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024);
}

async function runOnce(syncInterval: string, base: string): Promise<Run> {
  const dir = fs.mkdtempSync(path.join(base, "run-"));
  const topology = leafTopology(syncInterval, dir);
  const leaf = topology.leaves[0];
  const configPath = path.join(dir, "leaf.conf");
  fs.writeFileSync(configPath, renderServerConfig(topology, leaf.serverName));
  const { pid } = await startNatsServer({ configPath, logPath: path.join(dir, "nats.log") });
  try {
    const ends = instanceEndpoints(leaf);
    await waitHealthy(ends.monitoringUrl, 20_000, pid, "js-server-only");
    const nc = await connect({ servers: ends.clientUrl });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "PERSON_EVENTS", subjects: ["person.events.>"], num_replicas: 1 });
    const js = jetstream(nc);
    for (let i = 0; i < 200; i++) await js.publish("person.events.warm", PAYLOAD); // warm up

    const latencies: number[] = [];
    let t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) {
      const t = process.hrtime.bigint();
      await js.publish(`person.events.seq.${i % 100}`, PAYLOAD);
      latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    const sequentialPerSec = N / (Number(process.hrtime.bigint() - t0) / 1e9);

    t0 = process.hrtime.bigint();
    let next = 0;
    const worker = async () => {
      while (next < PIPELINED) {
        const i = next++;
        await js.publish(`person.events.pipe.${i % 100}`, PAYLOAD);
      }
    };
    await Promise.all(Array.from({ length: WINDOW }, worker));
    const pipelinedPerSec = PIPELINED / (Number(process.hrtime.bigint() - t0) / 1e9);

    const info = await jsm.streams.info("PERSON_EVENTS");
    if (info.state.messages !== 200 + N + PIPELINED) throw new Error(`stream holds ${info.state.messages} messages, expected ${200 + N + PIPELINED}`);
    const rss = rssMiB(pid);
    await nc.close();
    return { sequentialPerSec, pipelinedPerSec, p50Ms: pct(latencies, 0.5), p99Ms: pct(latencies, 0.99), rssMiB: rss };
  } finally {
    await stopNatsServer(pid, 10_000);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), "cim-bench-leaf-sync-"));
  const fsType = execFileSync("df", ["-T", base], { encoding: "utf8" }).trim().split("\n")[1].split(/\s+/)[1];
  console.log(`leaf acked publishes into an R1 file stream, ${PAYLOAD.length} B each: ${N} one at a time, ${PIPELINED} with ${WINDOW} in flight; ${ROUNDS} rounds interleaved; store on ${fsType} (${base})`);
  const runs = new Map<string, Run[]>(SETTINGS.map((s) => [s, []]));
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const s of round % 2 === 0 ? SETTINGS : [...SETTINGS].reverse()) runs.get(s)!.push(await runOnce(s, base));
    }
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
  const med = (s: string, k: keyof Run) => median(runs.get(s)!.map((r) => r[k]));
  const [seq0, pipe0] = [med("2m", "sequentialPerSec"), med("2m", "pipelinedPerSec")];
  const rows = SETTINGS.map((s) => [
    s === "2m" ? "2m (default)" : s,
    med(s, "sequentialPerSec").toFixed(0),
    (med(s, "sequentialPerSec") / seq0).toFixed(2) + "x",
    med(s, "pipelinedPerSec").toFixed(0),
    (med(s, "pipelinedPerSec") / pipe0).toFixed(2) + "x",
    med(s, "p50Ms").toFixed(2),
    med(s, "p99Ms").toFixed(2),
    med(s, "rssMiB").toFixed(0),
  ]);
  const head = ["sync_interval", "1-at-a-time/s", "vs 2m", `${WINDOW}-in-flight/s`, "vs 2m", "p50 ms", "p99 ms", "leaf RSS MiB"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  for (const r of [head, ...rows]) console.log(r.map((c, i) => c.padStart(widths[i])).join("  "));
  console.log("(medians of the rounds; ratios against nats-server's default 2m)");
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
