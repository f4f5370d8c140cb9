/**
 * Day 2 on the dev stack, through the real Pulumi CLI: every kind of later change, and the
 * updates that are refused. For each change, `pulumi preview --json` must plan exactly the steps
 * `pulumi up --json` then performs (same resources, same operations), and the running system
 * must stay correct: reloadable changes keep every nats-server pid, no leaf stores another
 * leaf's events, the aggregate holds each event exactly once, and a refused removal changes
 * nothing at all.
 *
 * A copy of the project with its own file backend and its own addresses (127.0.42.x), so it runs
 * beside the developer's dev stack (127.0.0.x) and beside day2-edges.test.ts (127.0.130.x). The
 * steps build on each other, in order, on one stack brought up once: each case starts from the
 * state the one before left (what it checks first says so). Edits that are independent of each
 * other share one preview and one up, whose plan must be exactly the union of theirs.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { credsAuthenticator } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { natsServersUnder } from "../../harness/processes";
import { stackOutputs } from "../../harness/pulumi-cli";
import { eventually } from "../support/eventually";
import { stackClientTls } from "../../harness/stack-tls";
import {
  admin as adminAt,
  closeDay2Stack,
  connectAdmin,
  createDay2Stack,
  editConfig as edit,
  mark,
  plannedChanges as plan,
  previewThenUp as previewUp,
  pulumi as cli,
  serverConfigs,
  serverPids,
  upFromNothing,
  type Day2Stack,
  type StackAccess,
  type StackConfig,
} from "./day2-stack";

const NET = "127.0.42";

let stack: Day2Stack;
let access: StackAccess;

// This file's cases all work on its one stack: short names for the shared helpers.
const pulumi = (step: string, args: string[], allowFailure = false) => cli(stack, step, args, allowFailure);
const editConfig = (change: (config: StackConfig) => void) => edit(stack, change);
const plannedChanges = (step: string) => plan(stack, step);
const previewThenUp = (step: string) => previewUp(stack, step);
const admin = <T>(url: string | string[], use: Parameters<typeof adminAt<T>>[2]) => adminAt(access, url, use);

const leafUrl = (octet: number) => `nats://${NET}.${octet}:4222`;
const HUB = [41, 42, 43].map((o) => `nats://${NET}.${o}:4223`);


/** The dev topology's seven servers: monitoring URL → pid and /varz config_load_time (a reload changes it, a restart the pid). */
async function serverIdentities(): Promise<Record<string, { pid: number; configLoadTime: string }>> {
  const monitoring = [...[41, 42, 43, 2].map((o) => `http://${NET}.${o}:8222`), ...[41, 42, 43].map((o) => `http://${NET}.${o}:8223`)];
  const out: Record<string, { pid: number; configLoadTime: string }> = {};
  for (const url of monitoring) {
    const varz = (await (await fetch(`${url}/varz`)).json()) as { server_name: string; config_load_time: string };
    const pids = natsServersUnder(path.join(stack.project.dataDir, varz.server_name) + "/");
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
  const nc = await connectAdmin(access, HUB, { name: "day2-probe" });
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
  stack = await createDay2Stack("day2", NET);
});

beforeEach((context) => mark(stack, `case: ${context.task.name}`));

afterAll(async () => {
  await closeDay2Stack(stack);
});

describe("day 2 on the dev stack: preview is exact, reloads keep pids, refusals change nothing", () => {
  it("starts from a first up", async () => {
    access = await upFromNothing(stack);
    expect(serverPids(stack)).toHaveLength(7);

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

  // Three independent edits (a KV entry, a stream setting, a permission) touch disjoint resources,
  // so one preview and one up carry all three: the plan must be exactly the union of the three
  // plans each edit makes alone (nothing more, nothing less), and preview = up on the whole run
  // is preview = up on each edit's part of it.
  it("three independent edits in one run, preview = up exactly: a KV entry (one entry per leaf), a stream's max_age (the stream at each leaf, in place), a permission (that user's JWT, its account's and PLATFORM's, their pushes); no server changes", async () => {
    const pids = serverPids(stack);
    const before = serverConfigs(stack);
    editConfig((c) => {
      c["cim-nats:jetstream"].kv[0].entries["domain.owner"] = "ops";
      c["cim-nats:jetstream"].streams[0].max_age = "1440h";
      const u = c["cim-nats:security"].users.find((x: { name: string }) => x.name === "pattern-service");
      u.subscribes = [...(u.subscribes ?? []), "audit.>"];
    });
    const { planned, applied } = await previewThenUp("kv entry + max_age + permission");
    expect(applied).toEqual(planned);
    const kvEntry = ["nats-1", "nats-2", "nats-3", "cimstor"].map((l) => `create kv-PERSON_METADATA-${l}-domain.owner`);
    const maxAge = ["nats-1", "nats-2", "nats-3", "cimstor"].map((l) => `update stream-PERSON_EVENTS-${l}`);
    // A wider permission: the signing key stays (its record notes what it signs now).
    const permission = [
      "update security-user-pattern-service-signed-permissions",
      "update security-user-pattern-service-jwt",
      "update security-account-pattern-service-jwt",
      "update security-account-PLATFORM-jwt",
      "update security-account-pattern-service-push",
      "update security-account-PLATFORM-push",
    ];
    expect(planned.filter((c) => c.includes("kv-"))).toEqual(kvEntry.sort());
    expect(planned.filter((c) => c.includes("stream-"))).toEqual(maxAge.sort());
    expect(planned.filter((c) => c.includes("security-"))).toEqual(permission.sort());
    expect(planned).toEqual([...kvEntry, ...maxAge, ...permission].sort());
    expect(serverPids(stack)).toEqual(pids);
    expect(serverConfigs(stack)).toEqual(before);
  }, 300_000);

  it("add a user, then remove it: preview = up; no server changes (same pids, same configs); the removed user is refused; the hub's JetStream never fails", async () => {
    const pids = serverPids(stack);
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
    expect(serverPids(stack)).toEqual(pids);
    const creds = String(((await stackOutputs(stack.project.context, "dev")).creds as Record<string, string>)["audit-service"]);
    const audit = await connect({ servers: leafUrl(41), tls: stackClientTls(access.ca, leafUrl(41)), authenticator: credsAuthenticator(new TextEncoder().encode(creds)), reconnect: false });
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
    expect(serverPids(stack)).toEqual(pids);
    await expect(Promise.race([closed.then(() => "closed"), new Promise((r) => setTimeout(() => r("open"), 10_000))])).resolves.toBe("closed");
    await expect(connect({ servers: leafUrl(42), tls: stackClientTls(access.ca, leafUrl(42)), authenticator: credsAuthenticator(new TextEncoder().encode(creds)), reconnect: false })).rejects.toThrow(/authorization/i);
  }, 600_000);

  // allowDataLoss goes off in the same run, for the refusal next (day2-edges.test.ts shows the
  // toggle alone is one bookkeeping update, of the teardown gate).
  it("add a stream with an aggregate (and allowDataLoss off): preview = up; each leaf then stores only its own events, the aggregate each once", async () => {
    editConfig((c) => {
      c["cim-nats:jetstream"].streams.push(orderStream);
      c["cim-nats:allowDataLoss"] = false;
    });
    const { planned, applied } = await previewThenUp("add stream, allowDataLoss off");
    expect(applied).toEqual(planned);
    expect(planned).toEqual(expect.arrayContaining(["create aggregate-CLUSTER_ORDER_EVENTS", "create stream-ORDER_EVENTS-nats-1", "update jetstream-teardown-gate"]));
    expect(await publishAt(41, "order.events.created", 3, "add-stream")).toEqual(["ORDER_EVENTS", "ORDER_EVENTS", "ORDER_EVENTS"]);
    expect(await tagged(leafUrl(42), "ORDER_EVENTS", "add-stream")).toEqual([]);
    await eventually("3 events in the aggregate", () => tagged(HUB, "CLUSTER_ORDER_EVENTS", "add-stream"), (m) => m.length >= 3);
    expect(await tagged(HUB, "CLUSTER_ORDER_EVENTS", "add-stream")).toHaveLength(3);
  }, 600_000);

  it("a refused stream removal changes nothing: preview and up fail naming the stream, no leaf then stores another leaf's events", async () => {
    const configs = () => ["nats-1", "nats-2", "nats-3", "cimstor"].map((s) => fs.readFileSync(path.join(stack.project.dataDir, s, "nats.conf"), "utf8"));
    const before = configs();
    const pids = serverPids(stack);

    editConfig((c) => (c["cim-nats:jetstream"].streams = c["cim-nats:jetstream"].streams.filter((s: { name: string }) => s.name !== "ORDER_EVENTS")));
    const preview = await pulumi("refused removal: preview", ["preview"], true);
    expect(preview.code).not.toBe(0);
    expect(preview.stdout + preview.stderr).toMatch(/stream ORDER_EVENTS at leaf nats-1 \(resource stream-ORDER_EVENTS-nats-1\) holds 3 messages; removing it \(it was removed from cim-nats:jetstream\)/);
    const up = await pulumi("refused removal: up", ["up", "--yes", "--skip-preview"], true);
    expect(up.code).not.toBe(0);
    expect(configs()).toEqual(before);
    expect(serverPids(stack)).toEqual(pids);

    expect(await publishAt(41, "order.events.created", 3, "after-refusal")).toEqual(["ORDER_EVENTS", "ORDER_EVENTS", "ORDER_EVENTS"]);
    for (const o of [42, 43, 2]) expect(await tagged(leafUrl(o), "ORDER_EVENTS", "after-refusal")).toEqual([]);
    await eventually("the events in the aggregate", () => tagged(HUB, "CLUSTER_ORDER_EVENTS", "after-refusal"), (m) => m.length >= 3);
    expect(await tagged(HUB, "CLUSTER_ORDER_EVENTS", "after-refusal")).toHaveLength(3);

    // Revert: nothing to do.
    editConfig((c) => c["cim-nats:jetstream"].streams.push(orderStream));
    expect(await plannedChanges("refused removal: revert")).toEqual([]);
  }, 600_000);

  it("a leaf whose store was wiped while it was down: preview = up; its streams, buckets and entries come back", async () => {
    const leafDir = path.join(stack.project.dataDir, "nats-3");
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
    // That nothing is left to do after this up is the next case's exact plan: only the new leaf's
    // resources and a fixed set of updates, nothing of nats-3.
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

  // allowDataLoss goes on in the same run as the removal: the removal guard reads it at check time
  // (components/jetstream/removal-guard.ts), so one edit lets the data go.
  it("remove a leaf host (data loss allowed in the same run): preview = up", async () => {
    editConfig((c) => {
      c["cim-nats:allowDataLoss"] = true;
      c["cim-nats:topology"].hosts = c["cim-nats:topology"].hosts.filter((h: { name: string }) => h.name !== "leaf-04");
    });
    const { planned, applied } = await previewThenUp("remove leaf, allowDataLoss on");
    expect(applied).toEqual(planned);
    expect(planned).toEqual(expect.arrayContaining(["delete servers-leaf-04", "update aggregate-CLUSTER_PERSON_EVENTS-stream", "delete stream-PERSON_EVENTS-leaf-04", "update jetstream-teardown-gate"]));
    expect(serverPids(stack)).toHaveLength(7);
    expect(await messages(leafUrl(41), "PERSON_EVENTS")).toBeGreaterThanOrEqual(0);
  }, 600_000);
});
