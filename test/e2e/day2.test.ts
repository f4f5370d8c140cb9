/**
 * Day 2 on the dev stack, through the real Pulumi CLI: every kind of later change, and the
 * updates that are refused. For each change, `pulumi preview --json` must plan exactly the steps
 * `pulumi up --json` then performs (same resources, same operations), and the running system
 * must stay correct: reloadable changes keep every nats-server pid, no leaf stores another
 * leaf's events, the aggregate holds each event exactly once, and a refused removal changes
 * nothing at all.
 *
 * A copy of the project with its own file backend and its own addresses (127.0.42.x), so it runs
 * beside the developer's dev stack (127.0.0.x). The steps build on each other, in order.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { credsAuthenticator, type NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { dump, load } from "js-yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDevProject, type DevProject } from "../../harness/dev-project";
import { natsServersUnder } from "../../harness/processes";
import { changes, countOps, lastJson, performedSteps } from "./plan-steps";
import { runPulumi, stackOutputs, type PulumiRun } from "../../harness/pulumi-cli";
import { eventually } from "../support/eventually";
import { stackCa, stackClientTls } from "../../harness/stack-tls";

const NET = "127.0.42";
type Doc = { config: Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any

let project: DevProject;
let configFile: string;
let adminCreds: string;
/** The stack's CA (every listener requires TLS): each client verifies the servers with it. */
let ca: string;
const timings: Record<string, number> = {};

async function pulumi(step: string, args: string[], allowFailure = false): Promise<PulumiRun> {
  const run = await runPulumi(project.context, [...args, "-s", "dev"], { allowFailure, timeoutMs: 600_000 });
  timings[step] = (timings[step] ?? 0) + run.ms;
  return run;
}

function editConfig(change: (config: Doc["config"]) => void): void {
  const doc = load(fs.readFileSync(configFile, "utf8")) as Doc;
  change(doc.config);
  fs.writeFileSync(configFile, dump(doc, { lineWidth: 200 }));
}

/** What `preview --json` plans. */
async function plannedChanges(step: string): Promise<string[]> {
  return changes(lastJson((await pulumi(step, ["preview", "--json"])).stdout).steps);
}

/** Preview, then up; both JSON. Returns the planned and applied changes (they must be equal). */
async function previewThenUp(step: string): Promise<{ planned: string[]; applied: string[] }> {
  const preview = await pulumi(`${step}: preview`, ["preview", "--json"]);
  const planned = changes(lastJson(preview.stdout).steps);
  const up = await pulumi(`${step}: up`, ["up", "--yes", "--skip-preview", "--json"]);
  const applied = changes(performedSteps(up.stdout));
  console.log(`${step}: preview ${countOps(planned)}, up ${countOps(applied)}`);
  return { planned, applied };
}

async function admin<T>(url: string | string[], use: (jsm: JetStreamManager, nc: NatsConnection) => Promise<T>): Promise<T> {
  const nc = await connect({ servers: url, tls: stackClientTls(ca, url), authenticator: credsAuthenticator(new TextEncoder().encode(adminCreds)), name: "day2-admin" });
  try {
    return await use(await jetstreamManager(nc), nc);
  } finally {
    await nc.close();
  }
}

const leafUrl = (octet: number) => `nats://${NET}.${octet}:4222`;
const HUB = [41, 42, 43].map((o) => `nats://${NET}.${o}:4223`);


/** The dev topology's seven servers: monitoring URL → pid and /varz config_load_time (a reload changes it, a restart the pid). */
async function serverIdentities(): Promise<Record<string, { pid: number; configLoadTime: string }>> {
  const monitoring = [...[41, 42, 43, 2].map((o) => `http://${NET}.${o}:8222`), ...[41, 42, 43].map((o) => `http://${NET}.${o}:8223`)];
  const out: Record<string, { pid: number; configLoadTime: string }> = {};
  for (const url of monitoring) {
    const varz = (await (await fetch(`${url}/varz`)).json()) as { server_name: string; config_load_time: string };
    const pids = natsServersUnder(path.join(project.dataDir, varz.server_name) + "/");
    expect(pids, `one nats-server for ${varz.server_name}`).toHaveLength(1);
    out[url] = { pid: pids[0], configLoadTime: varz.config_load_time };
  }
  return out;
}

/** Publishes `n` events at a leaf with JetStream acks; returns the ack streams. */
async function publishAt(octet: number, subject: string, n: number, tag: string): Promise<string[]> {
  return admin(leafUrl(octet), async (jsm) => {
    const js = jsm.jetstream();
    const streams: string[] = [];
    for (let i = 0; i < n; i++) streams.push((await js.publish(subject, JSON.stringify({ tag, i }))).stream);
    return streams;
  });
}

async function messages(url: string | string[], stream: string): Promise<number> {
  return admin(url, async (jsm) => (await jsm.streams.info(stream)).state.messages);
}

/** Payloads of a stream holding `tag`, by sequence. */
async function tagged(url: string | string[], stream: string, tag: string): Promise<string[]> {
  return admin(url, async (jsm) => {
    const info = await jsm.streams.info(stream);
    const out: string[] = [];
    for (let seq = info.state.first_seq; info.state.messages > 0 && seq <= info.state.last_seq; seq++) {
      const m = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
      if (m && m.string().includes(`"${tag}"`)) out.push(m.string());
    }
    return out;
  });
}

/** A JetStream probe at the hub every 100 ms while `during` runs: [probes, failures]. */
async function probeHubWhile<T>(during: () => Promise<T>): Promise<{ result: T; probes: number; failures: string[] }> {
  const nc = await connect({ servers: HUB, tls: stackClientTls(ca, HUB), authenticator: credsAuthenticator(new TextEncoder().encode(adminCreds)), name: "day2-probe" });
  const jsm = await jetstreamManager(nc);
  let running = true;
  let probes = 0;
  const failures: string[] = [];
  const loop = (async () => {
    while (running) {
      probes++;
      await jsm.streams.info("CLUSTER_PERSON_EVENTS").catch((e: Error) => failures.push(e.message));
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  try {
    const result = await during();
    return { result, probes, failures };
  } finally {
    running = false;
    await loop;
    await nc.close();
  }
}

const orderStream = {
  name: "ORDER_EVENTS",
  at: "leaves",
  subjects: ["order.events.>"],
  storage: "file",
  max_age: "720h",
  aggregate: { name: "CLUSTER_ORDER_EVENTS", replicas: 3, storage: "file" },
};

beforeAll(async () => {
  project = createDevProject("cim-nats-day2-");
  configFile = path.join(project.projectDir, "Pulumi.dev.yaml");
  fs.writeFileSync(configFile, fs.readFileSync(configFile, "utf8").replace(/127\.0\.0\.(\d+)/g, `${NET}.$1`));
  await pulumi("stack select", ["stack", "select", "--create"]);
});

afterAll(async () => {
  if (!project) return;
  const { destroyed, killed } = await project.cleanup();
  console.log("day2 pulumi timings (ms):", JSON.stringify(timings));
  if (!destroyed || killed.length > 0) console.log(`day2 cleanup: destroy ${destroyed ? "ok" : "FAILED"}, killed ${killed.join(", ") || "none"}`);
});

describe("day 2 on the dev stack: preview is exact, reloads keep pids, refusals change nothing", () => {
  it("starts from a first up", async () => {
    await pulumi("first up", ["up", "--yes", "--skip-preview"]);
    const outputs = await stackOutputs(project.context, "dev");
    adminCreds = String(outputs.jetstreamAdminCreds);
    ca = stackCa(outputs);
    expect(natsServersUnder(project.dir)).toHaveLength(7);

    // Minimal, exact dependencies (the registered graph): a JetStream resource waits for the
    // servers of its own domain only, and an aggregate for its own sources, never another aggregate.
    const exported = JSON.parse((await pulumi("stack export", ["stack", "export"])).stdout) as { deployment: { resources: { urn: string; custom?: boolean; dependencies?: string[] }[] } };
    const name = (urn: string) => urn.split("::").pop()!;
    // …and on what it connects with (the JetStream admin's key and JWT, the stack CA it verifies
    // the servers with), left out here once the CA is checked: that CA and no server certificate.
    const admin = (d: string) => d.startsWith("security-user-jetstream-admin-");
    const all = new Map(exported.deployment.resources.map((r) => [name(r.urn), (r.dependencies ?? []).map(name).filter((d) => !admin(d))]));
    const connecting = exported.deployment.resources.filter((r) => r.custom && /^(stream|kv|objects|consumer|aggregate)-/.test(name(r.urn))).map((r) => name(r.urn));
    expect(connecting.length).toBeGreaterThan(20);
    for (const resource of connecting) expect(all.get(resource)!.filter((d) => d.startsWith("tls-")), `${resource}'s TLS dependencies`).toEqual(["tls-ca"]);
    const deps = new Map([...all].map(([r, on]) => [r, on.filter((d) => d !== "tls-ca")]));
    expect(deps.get("stream-PERSON_EVENTS-nats-1")).toEqual(["servers-nats-1"]);
    expect(deps.get("kv-PERSON_METADATA-cimstor")).toEqual(["servers-cimstor"]);
    expect(deps.get("aggregate-CLUSTER_PERSON_EVENTS-stream")!.filter((d) => d.startsWith("servers-")).sort()).toEqual(["servers-nats-1-hub", "servers-nats-2-hub", "servers-nats-3-hub"]);
    for (const [resource, on] of deps) {
      if (!/^(stream|kv|objects|consumer|aggregate)-/.test(resource)) continue;
      expect(on.filter((d) => d.startsWith("aggregate-")), `${resource} depends on another aggregate`).toEqual(resource.startsWith("consumer-") ? on.filter((d) => d.startsWith("aggregate-")) : []);
      const domain = resource.startsWith("aggregate-") ? "hub" : /-(nats-\d|cimstor|hub)(-|$)/.exec(resource)?.[1];
      const foreign = on.filter((d) => d.startsWith("servers-") && !(domain === "hub" ? d.endsWith("-hub") : d === `servers-${domain}`));
      expect(foreign, `${resource} depends on servers of another domain`).toEqual([]);
    }
  }, 300_000);

  it("add a KV entry: preview = up = one entry per leaf", async () => {
    editConfig((c) => (c["cim-nats:jetstream"].kv[0].entries["domain.owner"] = "ops"));
    const { planned, applied } = await previewThenUp("add kv entry");
    expect(applied).toEqual(planned);
    expect(planned).toEqual(["nats-1", "nats-2", "nats-3", "cimstor"].map((l) => `create kv-PERSON_METADATA-${l}-domain.owner`).sort());
  }, 300_000);

  it("change a stream's max_age: preview = up = the stream at each leaf, in place", async () => {
    editConfig((c) => (c["cim-nats:jetstream"].streams[0].max_age = "1440h"));
    const { planned, applied } = await previewThenUp("change max_age");
    expect(applied).toEqual(planned);
    expect(planned).toEqual(["nats-1", "nats-2", "nats-3", "cimstor"].map((l) => `update stream-PERSON_EVENTS-${l}`).sort());
  }, 300_000);

  it("change a permission: preview = up = that user's JWT, its account's and PLATFORM's (a new import and export) and their pushes; no server changes", async () => {
    const pids = natsServersUnder(project.dir).sort();
    const configs = () => fs.readdirSync(project.dataDir).filter((d) => fs.existsSync(path.join(project.dataDir, d, "nats.conf"))).map((d) => fs.readFileSync(path.join(project.dataDir, d, "nats.conf"), "utf8"));
    const before = configs();
    editConfig((c) => {
      const u = c["cim-nats:security"].users.find((x: { name: string }) => x.name === "pattern-service");
      u.subscribes = [...(u.subscribes ?? []), "audit.>"];
    });
    const { planned, applied } = await previewThenUp("change permission");
    expect(applied).toEqual(planned);
    // A wider permission: the signing key stays (its record notes what it signs now).
    expect(planned).toEqual(
      [
        "update security-user-pattern-service-signed-permissions",
        "update security-user-pattern-service-jwt",
        "update security-account-pattern-service-jwt",
        "update security-account-PLATFORM-jwt",
        "update security-account-pattern-service-push",
        "update security-account-PLATFORM-push",
      ].sort(),
    );
    expect(natsServersUnder(project.dir).sort()).toEqual(pids);
    expect(configs()).toEqual(before);
  }, 300_000);

  it("add a user, then remove it: preview = up; no server changes (same pids, same configs); the removed user is refused; the hub's JetStream never fails", async () => {
    const pids = natsServersUnder(project.dir).sort();
    editConfig((c) => c["cim-nats:security"].users.push({ name: "audit-service", account: "PLATFORM", subscribe: { allow: ["audit.>"] } }));
    const added = await previewThenUp("add user");
    expect(added.applied).toEqual(added.planned);
    expect(added.planned).toEqual(
      [
        "create security-user-audit-service-key",
        "create security-user-audit-service-signing-key",
        "create security-user-audit-service-signed-permissions",
        "create security-user-audit-service-jwt",
        "update security-account-PLATFORM-jwt",
        "update security-account-PLATFORM-push",
      ].sort(),
    );
    expect(natsServersUnder(project.dir).sort()).toEqual(pids);
    const creds = String(((await stackOutputs(project.context, "dev")).creds as Record<string, string>)["audit-service"]);
    const audit = await connect({ servers: leafUrl(41), tls: stackClientTls(ca, leafUrl(41)), authenticator: credsAuthenticator(new TextEncoder().encode(creds)), reconnect: false });
    const closed = audit.closed();

    editConfig((c) => (c["cim-nats:security"].users = c["cim-nats:security"].users.filter((u: { name: string }) => u.name !== "audit-service")));
    const { result: removed, probes, failures } = await probeHubWhile(() => previewThenUp("remove user"));
    expect(removed.applied).toEqual(removed.planned);
    expect(removed.planned).toEqual(
      [
        "delete security-user-audit-service-key",
        "delete security-user-audit-service-signing-key",
        "delete security-user-audit-service-signed-permissions",
        "delete security-user-audit-service-jwt",
        "update security-account-PLATFORM-jwt",
        "update security-account-PLATFORM-push",
      ].sort(),
    );
    console.log(`remove user: ${probes} hub JetStream probes, ${failures.length} failures`);
    expect(failures).toEqual([]);
    expect(natsServersUnder(project.dir).sort()).toEqual(pids);
    await expect(Promise.race([closed.then(() => "closed"), new Promise((r) => setTimeout(() => r("open"), 10_000))])).resolves.toBe("closed");
    await expect(connect({ servers: leafUrl(42), tls: stackClientTls(ca, leafUrl(42)), authenticator: credsAuthenticator(new TextEncoder().encode(creds)), reconnect: false })).rejects.toThrow(/authorization/i);
  }, 600_000);

  it("add a stream with an aggregate: preview = up; each leaf then stores only its own events, the aggregate each once", async () => {
    editConfig((c) => c["cim-nats:jetstream"].streams.push(orderStream));
    const { planned, applied } = await previewThenUp("add stream");
    expect(applied).toEqual(planned);
    expect(planned).toEqual(expect.arrayContaining(["create aggregate-CLUSTER_ORDER_EVENTS", "create stream-ORDER_EVENTS-nats-1"]));
    expect(await publishAt(41, "order.events.created", 3, "add-stream")).toEqual(["ORDER_EVENTS", "ORDER_EVENTS", "ORDER_EVENTS"]);
    expect(await tagged(leafUrl(42), "ORDER_EVENTS", "add-stream")).toEqual([]);
    await eventually("3 events in the aggregate", () => tagged(HUB, "CLUSTER_ORDER_EVENTS", "add-stream"), (m) => m.length >= 3);
    expect(await tagged(HUB, "CLUSTER_ORDER_EVENTS", "add-stream")).toHaveLength(3);
  }, 600_000);

  it("a refused stream removal changes nothing: preview and up fail naming the stream, no leaf then stores another leaf's events", async () => {
    editConfig((c) => (c["cim-nats:allowDataLoss"] = false));
    await pulumi("allowDataLoss off", ["up", "--yes", "--skip-preview"]);
    const configs = () => ["nats-1", "nats-2", "nats-3", "cimstor"].map((s) => fs.readFileSync(path.join(project.dataDir, s, "nats.conf"), "utf8"));
    const before = configs();
    const pids = natsServersUnder(project.dir).sort();

    editConfig((c) => (c["cim-nats:jetstream"].streams = c["cim-nats:jetstream"].streams.filter((s: { name: string }) => s.name !== "ORDER_EVENTS")));
    const preview = await pulumi("refused removal: preview", ["preview"], true);
    expect(preview.code).not.toBe(0);
    expect(preview.stdout + preview.stderr).toMatch(/stream ORDER_EVENTS at leaf nats-1 \(resource stream-ORDER_EVENTS-nats-1\) holds 3 messages; removing it \(it was removed from cim-nats:jetstream\)/);
    const up = await pulumi("refused removal: up", ["up", "--yes", "--skip-preview"], true);
    expect(up.code).not.toBe(0);
    expect(configs()).toEqual(before);
    expect(natsServersUnder(project.dir).sort()).toEqual(pids);

    expect(await publishAt(41, "order.events.created", 3, "after-refusal")).toEqual(["ORDER_EVENTS", "ORDER_EVENTS", "ORDER_EVENTS"]);
    for (const o of [42, 43, 2]) expect(await tagged(leafUrl(o), "ORDER_EVENTS", "after-refusal")).toEqual([]);
    await eventually("the events in the aggregate", () => tagged(HUB, "CLUSTER_ORDER_EVENTS", "after-refusal"), (m) => m.length >= 3);
    expect(await tagged(HUB, "CLUSTER_ORDER_EVENTS", "after-refusal")).toHaveLength(3);

    // Revert: nothing to do.
    editConfig((c) => c["cim-nats:jetstream"].streams.push(orderStream));
    expect(await plannedChanges("refused removal: revert")).toEqual([]);
  }, 600_000);

  it("a leaf whose store was wiped while it was down: preview = up; its streams, buckets and entries come back", async () => {
    const leafDir = path.join(project.dataDir, "nats-3");
    const pid = natsServersUnder(leafDir + "/")[0];
    expect(pid).toBeGreaterThan(0);
    process.kill(pid, "SIGKILL");
    await eventually("nats-3 gone", async () => natsServersUnder(leafDir + "/").length, (n) => n === 0);
    fs.rmSync(path.join(leafDir, "jetstream"), { recursive: true, force: true });

    const { planned, applied } = await previewThenUp("wiped store");
    expect(applied).toEqual(planned);
    expect(planned).toEqual(
      expect.arrayContaining(["update servers-nats-3", "update stream-PERSON_EVENTS-nats-3", "update kv-PERSON_METADATA-nats-3", "update kv-PERSON_METADATA-nats-3-domain.name"]),
    );
    expect(planned.filter((c) => /nats-[12]\b|cimstor/.test(c) && !c.includes("servers-"))).toEqual([]);
    const value = await admin(leafUrl(43), async (_jsm, nc) => {
      const { Kvm } = await import("@nats-io/kv");
      return (await (await new Kvm(nc).open("PERSON_METADATA")).get("domain.name"))?.string();
    });
    expect(value).toBe("Person Domain");
    expect(await messages(leafUrl(43), "ORDER_EVENTS")).toBe(0);
    expect(await plannedChanges("wiped store: after")).toEqual([]);
  }, 600_000);

  it("add a leaf host: preview = up = the new leaf's resources and a fixed set of updates; no existing server reloaded or restarted; its events reach the aggregate", async () => {
    const before = await serverIdentities();
    editConfig((c) => c["cim-nats:topology"].hosts.push({ name: "leaf-04", vmid: 205, node: "pve2", address: `${NET}.44`, roles: ["leaf"] }));
    const { planned, applied } = await previewThenUp("add leaf");
    expect(applied).toEqual(planned);
    // Exactly this, whatever the number of leaves (bench/leaves.ts finds the same set at L = 4 … 48):
    // the new leaf's own resources; the aggregates it joins, the removal guard and teardown gate;
    // PLATFORM's and SYS's JWTs (its two link users' signing keys) and their pushes; person-service,
    // bound to leaf streams, may now reach leaf-04's too: its account imports `$JS.leaf-04.API`
    // (JWT and push) and its user's permission widens (JWT and record; no signing key changes).
    // No existing server: the JWTs reach them by push.
    const newLeaf = [
      "servers-leaf-04",
      "tls-cert-leaf-04",
      "stream-PERSON_EVENTS-leaf-04",
      "stream-ORDER_EVENTS-leaf-04",
      "kv-PERSON_METADATA-leaf-04",
      "kv-PERSON_METADATA-leaf-04-domain.name",
      "kv-PERSON_METADATA-leaf-04-domain.owner",
      "objects-PERSON_OBJECTS-leaf-04",
      ...["", "-sys"].flatMap((link) => ["key", "signing-key", "signed-permissions", "jwt"].map((r) => `security-user-leaf-leaf-04${link}-${r}`)),
    ];
    const updated = [
      "aggregate-CLUSTER_PERSON_EVENTS-stream",
      "aggregate-CLUSTER_ORDER_EVENTS-stream",
      "jetstream-removal-guard",
      "jetstream-teardown-gate",
      ...["PLATFORM", "SYS", "person-service"].flatMap((a) => [`security-account-${a}-jwt`, `security-account-${a}-push`]),
      "security-user-person-service-jwt",
      "security-user-person-service-signed-permissions",
    ];
    expect(planned).toEqual([...newLeaf.map((r) => `create ${r}`), ...updated.map((r) => `update ${r}`)].sort());
    // Same pid and same config_load_time: no existing server was restarted or reloaded.
    expect(await serverIdentities()).toEqual(before);
    await publishAt(44, "person.events.created", 2, "leaf-04");
    // A source whose leaf was not linked yet when the aggregate gained it retries on the server's own backoff.
    await eventually("leaf-04's events in the aggregate", () => tagged(HUB, "CLUSTER_PERSON_EVENTS", "leaf-04"), (m) => m.length >= 2, 90_000);
    expect(await tagged(HUB, "CLUSTER_PERSON_EVENTS", "leaf-04")).toHaveLength(2);
  }, 600_000);

  it("a refused host removal changes nothing, and after the revert the leaf link is up", async () => {
    editConfig((c) => (c["cim-nats:topology"].hosts = c["cim-nats:topology"].hosts.filter((h: { name: string }) => h.name !== "leaf-04")));
    const preview = await pulumi("refused host removal: preview", ["preview"], true);
    expect(preview.code).not.toBe(0);
    expect(preview.stdout + preview.stderr).toMatch(/at leaf leaf-04 \(resource [a-z]+-[A-Z_]+-leaf-04\) holds \d+ messages?; removing it \(its host leaf-04 leaves the topology\)/);
    expect((await pulumi("refused host removal: up", ["up", "--yes", "--skip-preview"], true)).code).not.toBe(0);

    editConfig((c) => c["cim-nats:topology"].hosts.push({ name: "leaf-04", vmid: 205, node: "pve2", address: `${NET}.44`, roles: ["leaf"] }));
    expect(await plannedChanges("refused host removal: revert")).toEqual([]);
    const leafz = (await (await fetch(`http://${NET}.44:8222/leafz`)).json()) as { leafnodes: number };
    // Its application and system links.
    expect(leafz.leafnodes).toBe(2);
    await publishAt(44, "person.events.created", 1, "leaf-04-after");
    await eventually("leaf-04's event after the revert", () => tagged(HUB, "CLUSTER_PERSON_EVENTS", "leaf-04-after"), (m) => m.length === 1);
  }, 600_000);

  it("remove a leaf host (data loss allowed): preview = up", async () => {
    editConfig((c) => (c["cim-nats:allowDataLoss"] = true));
    await pulumi("allowDataLoss on", ["up", "--yes", "--skip-preview"]);
    editConfig((c) => (c["cim-nats:topology"].hosts = c["cim-nats:topology"].hosts.filter((h: { name: string }) => h.name !== "leaf-04")));
    const { planned, applied } = await previewThenUp("remove leaf");
    expect(applied).toEqual(planned);
    expect(planned).toEqual(expect.arrayContaining(["delete servers-leaf-04", "update aggregate-CLUSTER_PERSON_EVENTS-stream", "delete stream-PERSON_EVENTS-leaf-04"]));
    expect(natsServersUnder(project.dir)).toHaveLength(7);
    expect(await messages(leafUrl(41), "PERSON_EVENTS")).toBeGreaterThanOrEqual(0);
  }, 600_000);
});
