/**
 * The control plane at scale (issue 13): dev-shaped stacks with N extra leaf event streams, each
 * with its hub aggregate (5N JetStream resources: one stream per leaf × 4 leaves + 1 aggregate),
 * under the real Pulumi CLI, beside the `nats` CLI and a raw reused-connection script doing the
 * same stream creates and deletes on the same servers in the same run.
 *
 *   npm run bench -- scale                        N = 10 and 50
 *   BENCH_SCALE_N=10,50,150 npm run bench -- scale   (150 loads the 2-core machine for minutes)
 *
 * Each N gets its own project copy and file backend (harness/dev-project.ts) and its own loopback
 * addresses 127.0.11<k>.x (k = index of N), never the dev stack's 127.0.0.x. Per N, in order:
 * `preview` from an empty state, `up` from nothing, a no-change `up` (must report no changes),
 * the state export (bytes, per JetStream resource), then — with the stack's servers up — the same
 * 5N stream configs under other names created and deleted by `nats stream add --config` /
 * `nats stream rm -f` (one process per stream) and by one script on one reused connection per
 * domain, then `destroy`. First, once, an empty program's `up` (the engine's floor, as
 * bench/dev-stack.ts) for the no-change target. Peak RSS is the Pulumi CLI's (GNU time's max RSS of the process tree's
 * largest process). The scale figures are the stack's own settings (scripts/with-env.sh's
 * checkpoint setting for the dev file backend applies, as for a developer's `npm run dev:up`).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as yaml from "js-yaml";
import { connect } from "@nats-io/transport-node";
import { credsAuthenticator } from "@nats-io/nats-core";
import { createDevProject, type DevProject } from "../harness/dev-project";
import { stackClientTls, writeCaFile } from "../harness/stack-tls";
import { emptyProgramUp } from "./lib/empty-program";
import { resourceSummary } from "../harness/pulumi-cli";
import { runProcess } from "../harness/run-process";

const NS = (process.env.BENCH_SCALE_N ?? "10,50").split(",").map(Number);

type Run = { code: number; stdout: string; stderr: string; ms: number; rssMB: number };

/** `pulumi <args>` under GNU time: wall ms and the peak RSS (MB). */
async function pulumi(p: DevProject, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const run = await runProcess("/usr/bin/time", ["-f", "__MAXRSS_KB=%M", "pulumi", "--non-interactive", "--color", "never", ...args], { cwd: p.context.cwd, env: { ...p.context.env, ...env } });
  if (run.code !== 0) throw new Error(`pulumi ${args.join(" ")} exited ${run.code}:\n${`${run.stdout}\n${run.stderr}`.split("\n").slice(-40).join("\n")}`);
  const kb = Number(/__MAXRSS_KB=(\d+)/.exec(run.stderr)?.[1] ?? 0);
  return { code: run.code, stdout: run.stdout, stderr: run.stderr, ms: run.ms, rssMB: kb / 1024 };
}

async function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const { code, stderr } = await runProcess(cmd, args, { env });
  if (code !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${code}: ${stderr}`);
}

/** The dev config with its own addresses and N extra leaf streams, each with an aggregate. */
function scaleConfig(projectDir: string, n: number, k: number): void {
  const file = path.join(projectDir, "Pulumi.dev.yaml");
  const doc = yaml.load(fs.readFileSync(file, "utf8")) as { config: Record<string, any> };
  const topo = doc.config["cim-nats:topology"];
  for (const h of topo.hosts) h.address = h.address.replace(/^127\.0\.0\./, `127.0.11${k}.`);
  if (topo.hosts.some((h: { address: string }) => !h.address.startsWith(`127.0.11${k}.`))) throw new Error("unexpected dev address");
  const streams = doc.config["cim-nats:jetstream"].streams;
  for (let i = 0; i < n; i++) {
    streams.push({
      name: `BENCH${i}_EVENTS`,
      at: "leaves",
      subjects: [`bench${i}.events.>`],
      storage: "file",
      retention: "limits",
      max_age: "720h",
      replicas: 1,
      aggregate: { name: `CLUSTER_BENCH${i}_EVENTS`, replicas: 3, storage: "file", max_age: "2160h" },
    });
  }
  fs.writeFileSync(file, yaml.dump(doc, { lineWidth: 200 }));
}

type Res = { type: string; urn: string; inputs?: Record<string, unknown>; outputs?: Record<string, unknown>; dependencies?: string[]; propertyDependencies?: Record<string, string[]> };

/** A `--show-secrets` export's secrets as their plain values. */
function plainSecrets(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(plainSecrets);
  if (x && typeof x === "object") {
    const o = x as Record<string, unknown>;
    if (typeof o.plaintext === "string") return JSON.parse(o.plaintext);
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, plainSecrets(v)]));
  }
  return x;
}

/** Bytes of the export and, for the Stream resources, what one costs and of what. */
function stateFigures(exported: string) {
  const deployment = JSON.parse(exported).deployment as { resources: Res[] };
  const js = deployment.resources.filter((r) => /dynamic|jetstream/i.test(r.type) && r.inputs?.__provider !== undefined);
  const streams = js.filter((r) => /Stream$/.test(r.type) || /::stream-|::aggregate-/.test(r.urn));
  const size = (x: unknown) => (x === undefined ? 0 : JSON.stringify(x).length);
  const avg = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
  return {
    bytes: exported.length,
    jsResources: js.length,
    perResource: avg(js.map((r) => size(r))),
    perStream: {
      total: avg(streams.map((r) => size(r))),
      provider: avg(streams.map((r) => size(r.inputs?.__provider) + size(r.outputs?.__provider))),
      target: avg(streams.map((r) => size(r.inputs?.target) + size(r.outputs?.target))),
      deps: avg(streams.map((r) => size(r.dependencies) + size(r.propertyDependencies))),
    },
    registerBytes: avg(streams.map((r) => size(plainSecrets(r.inputs)))),
    streams: streams.map((r) => ({ urn: r.urn, outputs: r.outputs ?? {} })),
  };
}

type Baseline = { create: number; remove: number; count: number };

/** The stack's stream configs renamed (C_/R_ prefix, own subjects), grouped by target. */
function renamedStreams(streams: { urn: string; outputs: Record<string, any> }[], prefix: string) {
  return streams
    .filter((s) => /BENCH\d+_EVENTS/.test(String(s.outputs.name)))
    .map((s) => {
      const { target: t, allowDataLoss, __provider, ...cfg } = s.outputs as Record<string, any>;
      // A secret in a `--show-secrets` export: { <sig>: "1b47…", plaintext: "<json>" }.
      const target = typeof t?.plaintext === "string" ? JSON.parse(t.plaintext) : t;
      const rename = (n: string) => `${prefix}${n}`;
      const config = { ...cfg, name: rename(cfg.name) } as Record<string, any>;
      if (Array.isArray(config.subjects)) config.subjects = config.subjects.map((x: string) => `${prefix.toLowerCase()}${x}`);
      if (Array.isArray(config.sources)) config.sources = config.sources.map((src: any) => ({ ...src, name: rename(src.name) }));
      delete config.republish;
      return { target: target as { servers: string[]; domain: string; credentials: { creds: string }; tls?: { ca?: string } }, config };
    })
    .sort((a, b) => (a.config.sources ? 1 : 0) - (b.config.sources ? 1 : 0)); // leaf streams before aggregates
}

/** `nats stream add --config` then `nats stream rm -f`, one process per stream. */
async function natsCli(streams: ReturnType<typeof renamedStreams>, dir: string, env: NodeJS.ProcessEnv): Promise<Baseline> {
  const creds = path.join(dir, "admin.creds");
  fs.writeFileSync(creds, streams[0].target.credentials.creds, { mode: 0o600 });
  // The stack's servers require TLS (its default): natscli verifies them with the stack's CA.
  const ca = streams[0].target.tls?.ca;
  const tlsca = ca ? ["--tlsca", writeCaFile(dir, ca)] : [];
  const files = streams.map((s, i) => {
    const f = path.join(dir, `stream-${i}.json`);
    fs.writeFileSync(f, JSON.stringify(s.config));
    return f;
  });
  const base = (s: (typeof streams)[0]) => ["--server", s.target.servers.join(","), "--creds", creds, ...tlsca, "--js-domain", s.target.domain];
  let t0 = Date.now();
  for (let i = 0; i < streams.length; i++) await run("nats", [...base(streams[i]), "stream", "add", "--config", files[i]], env);
  const create = Date.now() - t0;
  t0 = Date.now();
  for (const s of [...streams].reverse()) await run("nats", [...base(s), "stream", "rm", "-f", s.config.name], env);
  return { create, remove: Date.now() - t0, count: streams.length };
}

/** The same on one reused connection per domain, one request after another. */
async function rawScript(streams: ReturnType<typeof renamedStreams>): Promise<Baseline> {
  const conns = new Map<string, Awaited<ReturnType<typeof connect>>>();
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  const t0 = Date.now();
  const req = async (s: (typeof streams)[0], op: string, body?: unknown) => {
    let nc = conns.get(s.target.domain);
    if (!nc) {
      const ca = s.target.tls?.ca;
      nc = await connect({ servers: s.target.servers, ...(ca ? { tls: stackClientTls(ca, s.target.servers) } : {}), authenticator: credsAuthenticator(enc.encode(s.target.credentials.creds)) });
      conns.set(s.target.domain, nc);
    }
    const r = JSON.parse(dec.decode((await nc.request(`$JS.${s.target.domain}.API.${op}`, body === undefined ? new Uint8Array() : enc.encode(JSON.stringify(body)), { timeout: 10_000 })).data));
    if (r.error) throw new Error(`${op}: ${r.error.description}`);
  };
  for (const s of streams) await req(s, `STREAM.CREATE.${s.config.name}`, s.config);
  const create = Date.now() - t0;
  const t1 = Date.now();
  for (const s of [...streams].reverse()) await req(s, `STREAM.DELETE.${s.config.name}`);
  const remove = Date.now() - t1;
  await Promise.all([...conns.values()].map((nc) => nc.close()));
  return { create, remove, count: streams.length };
}

const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;


async function benchN(n: number, k: number) {
  const p = createDevProject(`cim-nats-bench-scale-${n}-`);
  try {
    scaleConfig(p.projectDir, n, k);
    await pulumi(p, ["stack", "select", "--create", "dev"]);
    const preview = await pulumi(p, ["preview", "-s", "dev"]);
    const up = await pulumi(p, ["up", "--yes", "--skip-preview", "-s", "dev"]);
    const created = resourceSummary(up.stdout).create ?? 0;
    const again = await pulumi(p, ["up", "--yes", "--skip-preview", "-s", "dev"]);
    const summary = resourceSummary(again.stdout);
    if (Object.keys(summary).some((key) => key !== "unchanged")) throw new Error(`N=${n}: the second up was not a no-change run: ${JSON.stringify(summary)}`);
    const exported = (await pulumi(p, ["stack", "export", "--show-secrets", "-s", "dev"])).stdout;
    const state = stateFigures(exported);
    const plain = stateFigures((await pulumi(p, ["stack", "export", "-s", "dev"])).stdout);
    // What a RegisterResource carries for a Stream: its inputs in plain text (secrets travel decrypted to the engine).
    const registerBytes = state.registerBytes;
    const tmp = fs.mkdtempSync(path.join(p.dir, "cli-"));
    const cli = await natsCli(renamedStreams(state.streams, "C_"), tmp, p.context.env);
    const raw = await rawScript(renamedStreams(state.streams, "R_"));
    const destroy = await pulumi(p, ["destroy", "--yes", "--skip-preview", "-s", "dev"]);
    return { n, created, preview, up, again, destroy, state: { ...plain, streams: undefined, registerBytes }, cli, raw };
  } finally {
    await p.cleanup();
  }
}

async function main(): Promise<void> {
  const checkpoints = process.env.PULUMI_SKIP_CHECKPOINTS === "true" ? "skipped (PULUMI_SKIP_CHECKPOINTS=true)" : "written after every step";
  const empty = await emptyProgramUp();
  const results: Awaited<ReturnType<typeof benchN>>[] = [];
  for (const [k, n] of NS.entries()) {
    const r = await benchN(n, k);
    results.push(r);
    console.error(`N=${n}: up ${s(r.up.ms)}, no-change ${s(r.again.ms)}, destroy ${s(r.destroy.ms)}, preview ${s(r.preview.ms)}; nats CLI ${s(r.cli.create)}/${s(r.cli.remove)}, raw ${s(r.raw.create)}/${s(r.raw.remove)}`);
  }
  console.log(`\nControl plane at scale — dev-shaped stacks, 5N extra JetStream streams, ${os.cpus().length} CPUs, checkpoints ${checkpoints}\n`);
  const head = ["N", "resources", "preview∅", "up∅", "no-change up", "destroy", "peak RSS", "state", "B/JS res", "nats add", "nats rm", "raw add", "raw rm", "up/nats", "up/raw", "destroy/nats", "destroy/raw", "ms/res up"];
  const rows = results.map((r) => [
    String(r.n),
    String(r.created),
    s(r.preview.ms),
    s(r.up.ms),
    s(r.again.ms),
    s(r.destroy.ms),
    `${Math.max(r.preview.rssMB, r.up.rssMB, r.again.rssMB, r.destroy.rssMB).toFixed(0)} MB`,
    `${(r.state.bytes / 1e6).toFixed(2)} MB`,
    r.state.perResource.toFixed(0),
    s(r.cli.create),
    s(r.cli.remove),
    s(r.raw.create),
    s(r.raw.remove),
    `${(r.up.ms / r.cli.create).toFixed(2)}×`,
    `${(r.up.ms / r.raw.create).toFixed(1)}×`,
    `${(r.destroy.ms / r.cli.remove).toFixed(2)}×`,
    `${(r.destroy.ms / r.raw.remove).toFixed(1)}×`,
    (r.up.ms / r.created).toFixed(0),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  for (const row of [head, ...rows]) console.log(row.map((c, i) => c.padStart(widths[i])).join("  "));
  console.log(`\nempty program: up ${s(empty)}; no-change up ÷ that: ${results.map((r) => `N=${r.n} ${(r.again.ms / empty).toFixed(2)}×`).join(", ")} (target at N=150: ≤ 6 s and ≤ 3×)`);
  console.log("\nPeak RSS per command (MB) and Stream state (bytes per Stream resource: total / __provider / target / dependency lists):");
  for (const r of results) {
    console.log(
      `N=${r.n}: preview ${r.preview.rssMB.toFixed(0)}, up ${r.up.rssMB.toFixed(0)}, no-change ${r.again.rssMB.toFixed(0)}, destroy ${r.destroy.rssMB.toFixed(0)}; ` +
        `stream ${r.state.perStream.total.toFixed(0)} / ${r.state.perStream.provider.toFixed(0)} / ${r.state.perStream.target.toFixed(0)} / ${r.state.perStream.deps.toFixed(0)}; ` +
        `RegisterResource inputs of a Stream ≈ ${r.state.registerBytes.toFixed(0)} B; ` +
        `${r.cli.count} baseline streams`,
    );
  }
  if (results.length > 1) {
    const a = results[0];
    const b = results[results.length - 1];
    const per = (r: (typeof results)[0], ms: number) => ms / r.created;
    console.log(`\ncost per resource, N=${a.n} → N=${b.n}: up ${(per(b, b.up.ms) / per(a, a.up.ms)).toFixed(2)}×, destroy ${(per(b, b.destroy.ms) / per(a, a.destroy.ms)).toFixed(2)}× (target ≤ 1.5×)`);
    // The fixed part (7 servers started/stopped with lame duck, keys, the CID service) cancels out:
    // what one more stream costs Pulumi, beside what one stream costs the nats CLI and the script.
    const extra = (b.created - a.created) || 1;
    const perStream = (x: Baseline) => x.create / x.count;
    const perRm = (x: Baseline) => x.remove / x.count;
    const mUp = (b.up.ms - a.up.ms) / extra;
    const mDestroy = (b.destroy.ms - a.destroy.ms) / extra;
    console.log(
      `marginal ms per extra resource (N=${a.n} → N=${b.n}): up ${mUp.toFixed(0)} (nats add ${perStream(b.cli).toFixed(0)}, raw ${perStream(b.raw).toFixed(1)}: ${(mUp / perStream(b.cli)).toFixed(2)}× / ${(mUp / perStream(b.raw)).toFixed(1)}×), ` +
        `destroy ${mDestroy.toFixed(0)} (nats rm ${perRm(b.cli).toFixed(0)}, raw ${perRm(b.raw).toFixed(1)}: ${(mDestroy / perRm(b.cli)).toFixed(2)}× / ${(mDestroy / perRm(b.raw)).toFixed(1)}×), ` +
        `no-change up ${((b.again.ms - a.again.ms) / extra).toFixed(0)}`,
    );
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
