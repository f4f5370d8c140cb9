/**
 * The CID service's put/get throughput for 1 KiB and 1 MiB objects, beside the baselines on the
 * same bucket of the same server in the same run:
 * - `nats object put/get` from the pinned CLI (one process per object, as an operator runs it);
 * - nats.js's object store (`putBlob`/`getBlob`) in this process: the same client library the
 *   service uses, without the service hop, the CID and the re-hash.
 * One real nats-server (JetStream, file store) on 127.0.70.3, the service run as the dev stack
 * runs it (LocalCidService's process). Sequential requests, then 16 at a time for the service.
 *
 *   bash scripts/with-env.sh tsx bench/cid-objects.ts [N-1KiB] [N-1MiB]
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Objm } from "@nats-io/obj";
import { connect } from "@nats-io/transport-node";
import { getObject, putObject } from "../components/cid/client";
import { createLocalCidService, deleteLocalCidService } from "../components/cid/local-cid-service-crud";
import { startNatsServer, stopNatsServer, waitHealthy } from "../components/local/nats-process";

const ADDR = "127.0.70.3";
const URL = `nats://${ADDR}:4222`;
const N_SMALL = Number(process.argv[2] ?? 500);
const N_LARGE = Number(process.argv[3] ?? 50);
const N_CLI = 20;
const PREFIX = "cimstor.objects";
const BUCKET = "CLUSTER_OBJECTS";
const NATS = path.join(process.env.CIM_NATS_ROOT ?? path.resolve(__dirname, ".."), ".tools", "bin", "nats");

type Result = { what: string; size: string; op: string; n: number; ms: number };

async function timed(n: number, f: (i: number) => Promise<unknown>, parallel = 1): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < n) await f(next++);
    }),
  );
  return performance.now() - t0;
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cim-cid-bench-"));
  const conf = path.join(dir, "nats.conf");
  fs.writeFileSync(conf, [`listen: "${ADDR}:4222"`, `http: "${ADDR}:8222"`, `jetstream { store_dir: "${dir}/js" }`].join("\n"));
  const { pid } = await startNatsServer({ configPath: conf, logPath: path.join(dir, "nats.log") });
  let service: Awaited<ReturnType<typeof createLocalCidService>>["outs"] | undefined;
  const results: Result[] = [];
  try {
    await waitHealthy(`http://${ADDR}:8222`, 15_000, pid);
    const nc = await connect({ servers: URL });
    const store = await new Objm(nc).create(BUCKET);
    service = (
      await createLocalCidService({ dataDir: path.join(dir, "cid-service"), servers: [URL], creds: "", bucket: BUCKET, subjectPrefix: PREFIX, inboxPrefix: "_INBOX_bench", healthAddr: `${ADDR}:8290` })
    ).outs;

    for (const [size, label, n] of [
      [1024, "1 KiB", N_SMALL],
      [1024 * 1024, "1 MiB", N_LARGE],
    ] as const) {
      const objects = Array.from({ length: n }, () => new Uint8Array(randomBytes(size)));
      // Warm every path once.
      const warm = await putObject(nc, objects[0], { subjectPrefix: PREFIX });
      await getObject(nc, warm, { subjectPrefix: PREFIX });
      await store.putBlob({ name: "warm" }, objects[0]);
      await store.getBlob("warm");

      const cids: string[] = new Array(n);
      results.push({ what: "CID service", size: label, op: "put", n, ms: await timed(n, async (i) => (cids[i] = await putObject(nc, objects[i], { subjectPrefix: PREFIX, timeoutMs: 30_000 }))) });
      results.push({ what: "CID service", size: label, op: "get", n, ms: await timed(n, (i) => getObject(nc, cids[i], { subjectPrefix: PREFIX, timeoutMs: 30_000 })) });
      results.push({ what: "CID service ×16", size: label, op: "get", n, ms: await timed(n, (i) => getObject(nc, cids[i], { subjectPrefix: PREFIX, timeoutMs: 30_000 }), 16) });
      results.push({ what: "nats.js object store", size: label, op: "put", n, ms: await timed(n, (i) => store.putBlob({ name: `js-${label}-${i}` }, objects[i])) });
      results.push({ what: "nats.js object store", size: label, op: "get", n, ms: await timed(n, (i) => store.getBlob(`js-${label}-${i}`)) });

      const file = path.join(dir, "object.bin");
      const out = path.join(dir, "out.bin");
      fs.writeFileSync(file, objects[0]);
      const cli = (args: string[]) => execFileSync(NATS, ["--no-context", "-s", URL, ...args], { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
      results.push({ what: "nats object (CLI)", size: label, op: "put", n: N_CLI, ms: await timed(N_CLI, async (i) => cli(["object", "put", BUCKET, file, "--name", `cli-${label}-${i}`, "--no-progress", "-f"])) });
      results.push({ what: "nats object (CLI)", size: label, op: "get", n: N_CLI, ms: await timed(N_CLI, async (i) => cli(["object", "get", BUCKET, `cli-${label}-${i}`, "--output", out, "--no-progress", "-f"])) });
    }
    await nc.close();
  } finally {
    if (service) await deleteLocalCidService(service);
    await stopNatsServer(pid);
    fs.rmSync(dir, { recursive: true, force: true });
  }

  const rate = (r: Result) => (r.n / r.ms) * 1000;
  const bytes = (r: Result) => (r.size === "1 KiB" ? 1024 : 1024 * 1024);
  console.log("\n| path | size | op | n | objects/s | MiB/s | ms/object |");
  console.log("|---|---|---|---|---|---|---|");
  for (const r of results) {
    console.log(`| ${r.what} | ${r.size} | ${r.op} | ${r.n} | ${rate(r).toFixed(0)} | ${((rate(r) * bytes(r)) / 1048576).toFixed(1)} | ${(r.ms / r.n).toFixed(2)} |`);
  }
  console.log("\nRatios (CID service / baseline, objects/s; > 1 is faster):");
  for (const size of ["1 KiB", "1 MiB"]) {
    for (const op of ["put", "get"]) {
      const svc = results.find((r) => r.what === "CID service" && r.size === size && r.op === op)!;
      const js = results.find((r) => r.what === "nats.js object store" && r.size === size && r.op === op)!;
      const cli = results.find((r) => r.what === "nats object (CLI)" && r.size === size && r.op === op)!;
      console.log(`  ${size} ${op}: vs nats.js object store ${(rate(svc) / rate(js)).toFixed(2)}×, vs nats object CLI ${(rate(svc) / rate(cli)).toFixed(2)}×`);
    }
  }
}

main().catch((e: Error) => {
  console.error(e.stack ?? e.message);
  process.exit(1);
});
