/**
 * `npm run bench -- leaves`: a site that grows to dozens of leaf domains (issue 25). Dev-shaped
 * stacks with L leaf servers (the dev stack's nats-1..3 and cimstor, plus leaf-only hosts
 * leaf-05 … leaf-L), each under the real Pulumi CLI in its own project copy and file backend
 * (harness/dev-project.ts) on loopback addresses of its own: 127.0.(170 + k).x for the k-th L
 * of the run, never the dev stack's 127.0.0.x. Per L, in order:
 *
 * 1. `up` from nothing: wall time, resources created, ms per resource, and when the last server,
 *    the account pushes and the aggregate were done (from the engine's JSON events);
 * 2. a no-change `up` (must report no changes);
 * 3. one more leaf host (leaf-<L+1>): `preview --json`, then `up --json` — the changes each
 *    lists (they must be equal, and, with the new leaf's name taken out, the same set at every L),
 *    their times, and how many existing servers were reloaded (same pid, new /varz
 *    config_load_time) or restarted (new pid);
 * 4. 50 acked events at every leaf (L + 1 of them, all at once): time from the last ack until
 *    the hub's CLUSTER_PERSON_EVENTS holds them all, and exactness (each event's own subject
 *    counted exactly once, nothing else);
 * 5. the hub members' RSS (max of the three) and `destroy`.
 *
 * One table at the end, with ratios against the smallest L of the same run; each `up` from
 * nothing's and the add's step timelines in bench/out/leaves-<L>-{up,add}.json (git-ignored).
 *
 *   npm run bench -- leaves               L = 4, 12, 24, 48
 *   npm run bench -- leaves --quick       L = 4, 12
 *   BENCH_LEAVES=4,24 npm run bench -- leaves
 *
 * The machine is shared: before a case with L > 24 the bench waits (up to BENCH_LEAVES_WAIT_S,
 * default 900 s) until the 1-minute load average is below BENCH_LEAVES_MAX_LOAD (default 6), and
 * skips the case, saying so, when it never is. Extra `pulumi up` flags for every up of the run:
 * BENCH_LEAVES_UP_FLAGS (e.g. "--parallel 8", to compare against the stack's own setting).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { credsAuthenticator, type NatsConnection } from "@nats-io/nats-core";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { dump, load } from "js-yaml";
import { createDevProject, type DevProject } from "../harness/dev-project";
import { stackOutputs } from "../harness/pulumi-cli";
import { runProcess } from "../harness/run-process";
import { processCommandLine, configArgument } from "../components/local/process-identity";
import { stackCa, stackClientTls } from "../harness/stack-tls";

const QUICK = process.argv.includes("--quick");
const LS = (process.env.BENCH_LEAVES ?? (QUICK ? "4,12" : "4,12,24,48")).split(",").map(Number);
const MAX_LOAD = Number(process.env.BENCH_LEAVES_MAX_LOAD ?? 6);
const LOAD_WAIT_MS = Number(process.env.BENCH_LEAVES_WAIT_S ?? 900) * 1000;
const UP_FLAGS = (process.env.BENCH_LEAVES_UP_FLAGS ?? "").split(/\s+/).filter(Boolean);
const EVENTS_PER_LEAF = 50;
const OUT = path.join(__dirname, "out");
const AGGREGATE = "CLUSTER_PERSON_EVENTS";

type Doc = { config: Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
type Host = { name: string; vmid: number; node: string; address: string; roles: string[]; tags?: string[] };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** A leaf-only host: leaf-05 … at 127.0.<net>.105 …, spread over the three Proxmox nodes. */
function leafHost(net: string, n: number): Host {
  const nn = String(n).padStart(2, "0");
  return { name: `leaf-${nn}`, vmid: 200 + n, node: `pve${1 + (n % 3)}`, address: `${net}.${100 + n}`, roles: ["leaf"] };
}

/** The dev config on `net` with L leaf servers (the dev stack's four, then leaf-only hosts). */
function writeConfig(file: string, net: string, leaves: number): Host[] {
  const doc = load(fs.readFileSync(file, "utf8")) as Doc;
  const topo = doc.config["cim-nats:topology"];
  for (const h of topo.hosts as Host[]) h.address = h.address.replace(/^127\.0\.0\./, `${net}.`);
  if ((topo.hosts as Host[]).some((h) => !h.address.startsWith(`${net}.`))) throw new Error("Pulumi.dev.yaml has an address outside 127.0.0.x");
  const base = (topo.hosts as Host[]).filter((h) => h.roles.includes("leaf")).length;
  for (let n = base + 1; n <= leaves; n++) topo.hosts.push(leafHost(net, n));
  fs.writeFileSync(file, dump(doc, { lineWidth: 200 }));
  return topo.hosts;
}

/** Server name, monitoring URL and folder of every server the hosts run. */
function serversOf(hosts: readonly Host[], dataDir: string) {
  return hosts.flatMap((h) => [
    ...(h.roles.includes("leaf") ? [{ name: h.name, kind: "leaf" as const, monitoring: `http://${h.address}:8222`, client: `nats://${h.address}:4222`, dir: path.join(dataDir, h.name) }] : []),
    ...(h.roles.includes("hub") ? [{ name: `${h.name}-hub`, kind: "hub" as const, monitoring: `http://${h.address}:8223`, client: `nats://${h.address}:4223`, dir: path.join(dataDir, `${h.name}-hub`) }] : []),
  ]);
}
type Server = ReturnType<typeof serversOf>[number];

/** Config path → pid of every live nats-server on this machine. */
function natsPidsByConfig(): Map<string, number> {
  const pids = new Map<string, number>();
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const args = processCommandLine(Number(entry));
    if (!args || !path.basename(args[0]).startsWith("nats-server")) continue;
    const config = configArgument(args);
    if (config) pids.set(path.resolve(config), Number(entry));
  }
  return pids;
}

type Snapshot = Map<string, { pid: number; configLoadTime: string }>;

/** Each server's pid and /varz config_load_time (a reload changes the latter, a restart the former). */
async function snapshot(servers: readonly Server[]): Promise<Snapshot> {
  const pids = natsPidsByConfig();
  const out: Snapshot = new Map();
  await Promise.all(
    servers.map(async (srv) => {
      const varz = (await (await fetch(`${srv.monitoring}/varz`, { signal: AbortSignal.timeout(10_000) })).json()) as { config_load_time: string };
      out.set(srv.name, { pid: pids.get(path.join(srv.dir, "nats.conf")) ?? 0, configLoadTime: varz.config_load_time });
    }),
  );
  return out;
}

function rssMB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}

type Step = { op: string; urn: string };
/** One engine event line of `--json` output and when it arrived (ms since the command started). */
type Event = { at: number; pre?: Step; done?: Step };
type Run = { ms: number; stdout: string; events: Event[] };

/** `pulumi <args>` in the project; each stdout line timestamped on arrival (the `--json` events). */
async function pulumi(p: DevProject, args: string[]): Promise<Run> {
  const started = Date.now();
  let partial = "";
  const events: Event[] = [];
  const onStdout = (text: string) => {
    const lines = (partial + text).split("\n");
    partial = lines.pop()!;
    const at = Date.now() - started;
    for (const line of lines) {
      if (!line.startsWith("{")) continue;
      try {
        const e = JSON.parse(line) as { resourcePreEvent?: { metadata: Step }; resOutputsEvent?: { metadata: Step } };
        if (e.resourcePreEvent) events.push({ at, pre: e.resourcePreEvent.metadata });
        if (e.resOutputsEvent) events.push({ at, done: e.resOutputsEvent.metadata });
      } catch {
        // not an engine event
      }
    }
  };
  const { code, stdout, stderr, ms } = await runProcess("pulumi", ["--non-interactive", "--color", "never", ...args, "-s", "dev"], { cwd: p.context.cwd, env: p.context.env, onStdout });
  if (code !== 0) {
    // With --json the tail is engine events: show the error diagnostics instead.
    const errors = stdout
      .split("\n")
      .filter((l) => l.includes('"severity":"error"'))
      .map((l) => (JSON.parse(l) as { diagnosticEvent?: { message?: string; urn?: string } }).diagnosticEvent)
      .map((d) => `${d?.urn ? `${shortName(d.urn)}: ` : ""}${d?.message ?? ""}`);
    const tail = errors.length ? errors.join("\n") : `${stdout}\n${stderr}`.trim().split("\n").slice(-40).join("\n");
    throw new Error(`pulumi ${args.join(" ")} exited ${code} after ${s(ms)}:\n${tail}\n${stderr.trim().split("\n").slice(-10).join("\n")}`);
  }
  return { ms, stdout, events };
}

const shortName = (urn: string) => urn.split("::").pop()!;
/** A URN's own type (`urn:pulumi:<stack>::<project>::<parent types $>…<type>::<name>`). */
const ownType = (urn: string) => urn.split("::")[2].split("$").pop()!;

/** "op name" of every step that changes something, sorted (as test/e2e/day2.test.ts reads them). */
function changes(steps: readonly Step[]): string[] {
  return [
    ...new Set(
      steps
        .filter((st) => st.op !== "same" && st.op !== "read" && !st.urn.endsWith("pulumi:pulumi:Stack"))
        .map((st) => `${st.op === "create-replacement" || st.op === "delete-replaced" ? "replace" : st.op} ${shortName(st.urn)}`),
    ),
  ].sort();
}

/** The steps `preview --json` plans: the `steps` of the last JSON document it printed. */
function plannedSteps(stdout: string): Step[] {
  for (const at of [...stdout.matchAll(/^\{/gm)].map((m) => m.index!).reverse()) {
    try {
      return (JSON.parse(stdout.slice(at)) as { steps?: Step[] }).steps ?? [];
    } catch {
      // an inner brace: keep looking
    }
  }
  throw new Error(`no JSON in the preview's output:\n${stdout.slice(-2000)}`);
}

const count = (list: readonly string[]) => list.reduce<Record<string, number>>((c, x) => ((c[x.split(" ")[0]] = (c[x.split(" ")[0]] ?? 0) + 1), c), {});

/** When (ms into the run) the last resource whose name matches finished, from the engine events. */
function doneAt(run: Run, match: (name: string) => boolean): number {
  return Math.max(0, ...run.events.filter((e) => e.done && match(shortName(e.done.urn))).map((e) => e.at));
}

type Convergence = { expected: number; acked: number; stored: number; distinct: number; duplicates: number; foreign: number; ms: number };

/**
 * 50 acked events at every leaf at once, each on its own subject; then the time from the last ack
 * until the aggregate holds all, and whether it holds each exactly once.
 */
async function converge(leaves: readonly Server[], hubUrls: string[], creds: string, ca: string, tag: string): Promise<Convergence> {
  const auth = () => credsAuthenticator(new TextEncoder().encode(creds));
  const subject = (leaf: string, i: number) => `person.events.scale.${tag}.${leaf}.${i}`;
  const conns: NatsConnection[] = await Promise.all(leaves.map((l) => connect({ servers: l.client, tls: stackClientTls(ca, l.client), authenticator: auth(), name: `bench-leaves-${l.name}` })));
  let acked = 0;
  let lastAck = 0;
  try {
    await Promise.all(
      conns.map(async (nc, k) => {
        const js = jetstream(nc);
        const acks = await Promise.all(Array.from({ length: EVENTS_PER_LEAF }, (_, i) => js.publish(subject(leaves[k].name, i), JSON.stringify({ leaf: leaves[k].name, i }))));
        for (const a of acks) if (a.stream === "PERSON_EVENTS") acked++;
        lastAck = Math.max(lastAck, performance.now());
      }),
    );
  } finally {
    await Promise.all(conns.map((nc) => nc.close()));
  }
  const expected = leaves.length * EVENTS_PER_LEAF;
  const hub = await connect({ servers: hubUrls, tls: stackClientTls(ca, hubUrls), authenticator: auth(), name: "bench-leaves-hub" });
  try {
    const jsm = await jetstreamManager(hub);
    const filter = `person.events.scale.${tag}.>`;
    const subjects = async () => (await jsm.streams.info(AGGREGATE, { subjects_filter: filter })).state.subjects ?? {};
    const deadline = Date.now() + 180_000;
    let held: Record<string, number> = {};
    while (Date.now() < deadline) {
      held = await subjects();
      if (Object.values(held).reduce((a, b) => a + b, 0) >= expected) break;
      await sleep(100);
    }
    const ms = performance.now() - lastAck;
    await sleep(1_000); // a late duplicate would show here
    held = await subjects();
    const wanted = new Set(leaves.flatMap((l) => Array.from({ length: EVENTS_PER_LEAF }, (_, i) => subject(l.name, i))));
    const counts = Object.entries(held);
    return {
      expected,
      acked,
      stored: counts.reduce((a, [, c]) => a + c, 0),
      distinct: counts.filter(([subj, c]) => wanted.has(subj) && c >= 1).length,
      duplicates: counts.reduce((a, [, c]) => a + Math.max(0, c - 1), 0),
      foreign: counts.filter(([subj]) => !wanted.has(subj)).length,
      ms,
    };
  } finally {
    await hub.close();
  }
}

/** Waits until the 1-minute load average is below MAX_LOAD; false when it never was within LOAD_WAIT_MS. */
async function quietMachine(): Promise<boolean> {
  const deadline = Date.now() + LOAD_WAIT_MS;
  for (;;) {
    const load = os.loadavg()[0];
    if (load < MAX_LOAD) return true;
    if (Date.now() > deadline) return false;
    console.error(`bench/leaves: load ${load.toFixed(1)} ≥ ${MAX_LOAD}: waiting before the next large case…`);
    await sleep(30_000);
  }
}

type Result = {
  leaves: number;
  load: number;
  created: number;
  up: Run;
  milestones: { firstStep: number; servers: number; pushes: number; aggregate: number };
  again: Run;
  add: { preview: Run; up: Run; planned: string[]; applied: string[]; constantSet: string[]; reloaded: string[]; restarted: string[]; existing: number };
  convergence: Convergence;
  /** Max RSS of the three hub members: after the events, and idle after the no-change up. */
  hubRssMB: number;
  hubRssIdleMB: number;
  destroyMs: number;
};

async function benchLeaves(leaves: number, k: number): Promise<Result> {
  const net = `127.0.${170 + k}`;
  const p = createDevProject(`cim-nats-bench-leaves-${leaves}-`);
  try {
    const configFile = path.join(p.projectDir, "Pulumi.dev.yaml");
    const hosts = writeConfig(configFile, net, leaves);
    const loadAvg = os.loadavg()[0];
    await pulumi(p, ["stack", "select", "--create"]);
    console.error(`L=${leaves}: up from nothing on ${net}.x (load ${loadAvg.toFixed(1)})…`);
    const up = await pulumi(p, ["up", "--yes", "--skip-preview", "--json", ...UP_FLAGS]);
    const created = up.events.filter((e) => e.done && !e.done.urn.endsWith("pulumi:pulumi:Stack") && e.done.op === "create").length;
    const milestones = {
      // The program's first resource after the stack and its root: what CLI, language host and program start cost.
      firstStep: Math.min(...up.events.filter((e) => e.pre && !["pulumi:pulumi:Stack", "cim-nats:index:Backbone"].includes(ownType(e.pre.urn))).map((e) => e.at)),
      servers: doneAt(up, (n) => n.startsWith("servers-")),
      pushes: doneAt(up, (n) => /^security-account-.*-push$/.test(n)),
      aggregate: doneAt(up, (n) => n.startsWith("aggregate-")),
    };
    // The engine's step timeline (when each resource started and finished), for a closer look.
    fs.mkdirSync(OUT, { recursive: true });
    fs.writeFileSync(path.join(OUT, `leaves-${leaves}-up.json`), JSON.stringify(up.events));
    const again = await pulumi(p, ["up", "--yes", "--skip-preview", "--json", ...UP_FLAGS]);
    const againChanges = changes(again.events.flatMap((e) => (e.pre ? [e.pre] : [])));
    if (againChanges.length) {
      // A push that left servers pending is asked again by the next up: name them.
      const state = JSON.parse((await pulumi(p, ["stack", "export"])).stdout) as { deployment: { resources: { urn: string; outputs?: { pending?: string[] } }[] } };
      const pending = state.deployment.resources.filter((r) => r.outputs?.pending?.length).map((r) => `${shortName(r.urn)} pending at ${r.outputs!.pending!.join(", ")}`);
      throw new Error(`L=${leaves}: the second up was not a no-change run: ${againChanges.join(", ")}${pending.length ? `; ${pending.join("; ")}` : ""}`);
    }

    // One more leaf host.
    const existing = serversOf(hosts, p.dataDir);
    const hubRss = () => {
      const pids = natsPidsByConfig();
      return Math.max(...existing.filter((srv) => srv.kind === "hub").map((h) => rssMB(pids.get(path.join(h.dir, "nats.conf")) ?? 0)));
    };
    const hubRssIdleMB = hubRss();
    const before = await snapshot(existing);
    const added = leafHost(net, leaves + 1);
    const doc = load(fs.readFileSync(configFile, "utf8")) as Doc;
    doc.config["cim-nats:topology"].hosts.push(added);
    fs.writeFileSync(configFile, dump(doc, { lineWidth: 200 }));
    console.error(`L=${leaves}: adding ${added.name}…`);
    const preview = await pulumi(p, ["preview", "--json"]);
    const addUp = await pulumi(p, ["up", "--yes", "--skip-preview", "--json", ...UP_FLAGS]);
    fs.writeFileSync(path.join(OUT, `leaves-${leaves}-add.json`), JSON.stringify(addUp.events));
    const planned = changes(plannedSteps(preview.stdout));
    const applied = changes(addUp.events.flatMap((e) => (e.pre ? [e.pre] : [])));
    if (JSON.stringify(planned) !== JSON.stringify(applied)) throw new Error(`L=${leaves}: preview ≠ up:\n planned ${planned.join(", ")}\n applied ${applied.join(", ")}`);
    const after = await snapshot(existing);
    const reloaded = existing.filter((srv) => after.get(srv.name)!.pid === before.get(srv.name)!.pid && after.get(srv.name)!.configLoadTime !== before.get(srv.name)!.configLoadTime).map((srv) => srv.name);
    const restarted = existing.filter((srv) => after.get(srv.name)!.pid !== before.get(srv.name)!.pid).map((srv) => srv.name);

    const outputs = await stackOutputs(p.context, "dev");
    const ca = stackCa(outputs);
    const all = serversOf([...hosts, added], p.dataDir);
    const hubs = all.filter((srv) => srv.kind === "hub");
    console.error(`L=${leaves}: ${EVENTS_PER_LEAF} acked events at each of ${leaves + 1} leaves…`);
    const convergence = await converge(
      all.filter((srv) => srv.kind === "leaf"),
      hubs.map((h) => h.client),
      String(outputs.jetstreamAdminCreds),
      ca,
      `r${Date.now().toString(36)}`,
    );
    const hubRssMB = hubRss();
    const destroy = await pulumi(p, ["destroy", "--yes", "--skip-preview"]);
    return {
      leaves,
      load: loadAvg,
      created,
      up,
      milestones,
      again,
      add: { preview, up: addUp, planned, applied, constantSet: planned.map((c) => c.replaceAll(added.name, "<new leaf>")), reloaded, restarted, existing: existing.length },
      convergence,
      hubRssMB,
      hubRssIdleMB,
      destroyMs: destroy.ms,
    };
  } finally {
    await p.cleanup();
  }
}

async function main(): Promise<void> {
  const results: Result[] = [];
  const skipped: string[] = [];
  for (const [k, leaves] of LS.entries()) {
    if (leaves > 24 && !(await quietMachine())) {
      skipped.push(`L=${leaves} skipped: the 1-minute load stayed ≥ ${MAX_LOAD} for ${LOAD_WAIT_MS / 1000} s`);
      console.error(skipped[skipped.length - 1]);
      continue;
    }
    const r = await benchLeaves(leaves, k);
    results.push(r);
    const c = count(r.add.planned);
    console.error(
      `L=${leaves}: up ${s(r.up.ms)} (${r.created} resources; servers ${s(r.milestones.servers)}, pushes ${s(r.milestones.pushes)}, aggregate ${s(r.milestones.aggregate)}), ` +
        `no-change ${s(r.again.ms)}, add leaf ${JSON.stringify(c)} preview ${s(r.add.preview.ms)} up ${s(r.add.up.ms)}, reloaded ${r.add.reloaded.length} restarted ${r.add.restarted.length}, ` +
        `aggregate ${r.convergence.stored}/${r.convergence.expected} in ${r.convergence.ms.toFixed(0)} ms, hub RSS ${r.hubRssIdleMB.toFixed(0)} MB idle, ${r.hubRssMB.toFixed(0)} MB after the events`,
    );
  }
  if (!results.length) throw new Error(`nothing measured: ${skipped.join("; ")}`);
  const base = results[0];
  const perRes = (r: Result) => r.up.ms / r.created;
  /** Per resource from the program's first resource on: without the fixed start of CLI, host and program. */
  const perResAfter = (r: Result) => (r.up.ms - r.milestones.firstStep) / r.created;
  const exact = (c: Convergence) => c.acked === c.expected && c.stored === c.expected && c.distinct === c.expected && c.duplicates === 0 && c.foreign === 0;
  console.log(`\nMany leaves — dev-shaped stacks under the real Pulumi CLI, ${os.cpus().length} CPUs, ratios against L=${base.leaves} of this run${UP_FLAGS.length ? `, up flags: ${UP_FLAGS.join(" ")}` : ""}\n`);
  const head = [
    "L",
    "load",
    "resources",
    "up∅",
    "ms/res",
    "×",
    "1st step",
    "ms/res after",
    "servers/pushes/aggr done",
    "no-change up",
    "add: preview",
    "add: up",
    "add: changes",
    "reloaded",
    "restarted",
    `aggregate (${EVENTS_PER_LEAF}/leaf)`,
    "exact",
    "hub RSS idle/events",
    "destroy",
  ];
  const rows = results.map((r) => {
    const c = count(r.add.planned);
    return [
      String(r.leaves),
      r.load.toFixed(1),
      String(r.created),
      s(r.up.ms),
      perRes(r).toFixed(0),
      `${(perRes(r) / perRes(base)).toFixed(2)}×`,
      s(r.milestones.firstStep),
      `${perResAfter(r).toFixed(0)} (${(perResAfter(r) / perResAfter(base)).toFixed(2)}×)`,
      `${s(r.milestones.servers)} / ${s(r.milestones.pushes)} / ${s(r.milestones.aggregate)}`,
      s(r.again.ms),
      s(r.add.preview.ms),
      s(r.add.up.ms),
      Object.entries(c)
        .map(([op, n]) => `${n} ${op}`)
        .join(", "),
      `${r.add.reloaded.length}/${r.add.existing}`,
      `${r.add.restarted.length}/${r.add.existing}`,
      `${r.convergence.ms.toFixed(0)} ms`,
      exact(r.convergence) ? `yes (${r.convergence.stored})` : `NO (${r.convergence.stored}/${r.convergence.expected}, ${r.convergence.duplicates} dup)`,
      `${r.hubRssIdleMB.toFixed(0)}/${r.hubRssMB.toFixed(0)} MB`,
      s(r.destroyMs),
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  for (const row of [head, ...rows]) console.log(row.map((c, i) => c.padStart(widths[i])).join("  "));
  const last = results[results.length - 1];
  if (results.length > 1) {
    const perLeaf = (r: Result) => r.up.ms / r.leaves;
    console.log(
      `\nper-leaf cost, L=${base.leaves} → L=${last.leaves}: up∅ per resource ${(perRes(last) / perRes(base)).toFixed(2)}× (target ≤ 2×; ${(perResAfter(last) / perResAfter(base)).toFixed(2)}× without the fixed start), per leaf ${(perLeaf(last) / perLeaf(base)).toFixed(2)}×; ` +
        `add-one-leaf: ${last.add.planned.length} vs ${base.add.planned.length} changes, up ${(last.add.up.ms / base.add.up.ms).toFixed(2)}×, preview ${(last.add.preview.ms / base.add.preview.ms).toFixed(2)}×; ` +
        `no-change up ${(last.again.ms / base.again.ms).toFixed(2)}×; hub RSS ${(last.hubRssIdleMB / base.hubRssIdleMB).toFixed(2)}× idle, ${(last.hubRssMB / base.hubRssMB).toFixed(2)}× after the events`,
    );
  }
  const sets = new Set(results.map((r) => JSON.stringify(r.add.constantSet)));
  console.log(`\nadding a leaf changes the same set at every L: ${sets.size === 1 ? "yes" : "NO"} —`);
  for (const r of sets.size === 1 ? [base] : results) console.log(`  L=${r.leaves}: ${r.add.constantSet.join(", ")}`);
  for (const r of results) if (r.add.reloaded.length || r.add.restarted.length) console.log(`  L=${r.leaves}: reloaded ${r.add.reloaded.join(", ") || "none"}; restarted ${r.add.restarted.join(", ") || "none"}`);
  for (const line of skipped) console.log(line);
  const failures = results.filter((r) => !exact(r.convergence) || r.add.reloaded.length || r.add.restarted.length);
  if (failures.length || sets.size !== 1) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
