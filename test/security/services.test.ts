/**
 * The seed's reference services do their jobs with exactly what the stack generates, on the dev
 * topology (4 leaves, 3 hub members) in operator mode as real nats-server processes on
 * 127.0.50.x: permissions derived from Pulumi.dev.yaml's bindings, keys and JWTs from the real
 * provider functions, JetStream state created from the dev config by the provider functions,
 * clients in nats.js (@nats-io v3) and the pinned natscli through the generated contexts.
 * Then the denials, each checked on the real server.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { AckPolicy, jetstream, jetstreamManager, type JetStreamClient } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { credsAuthenticator, type NatsConnection, PermissionViolationError } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeJetStreamConnections } from "../../components/jetstream/connection-pool";
import { createConsumer } from "../../components/jetstream/consumer";
import { createKv } from "../../components/jetstream/kv";
import { createKvEntry } from "../../components/jetstream/kv-entry";
import { createObjectStore } from "../../components/jetstream/object-store";
import { locationTarget } from "../../components/jetstream/locations";
import { leafLocalSubjects, parseJetStream, streamSubjects, type JetStreamSpec } from "../../components/jetstream/spec";
import { createStream } from "../../components/jetstream/stream";
import { natsContexts, serviceContextName } from "../../components/security/contexts";
import { credsFileName } from "../../components/security/creds";
import { parseSecurity } from "../../components/security/parse";
import { JETSTREAM_ADMIN_USER, type SecuritySpec, SYSTEM_MONITOR_USER } from "../../components/security/types";
import { parseTopology } from "../../components/topology/parse";
import { rebaseAddresses } from "../../components/topology/rebase";
import type { Topology } from "../../components/topology/types";
import { startTopology, type RunningTopology } from "../../harness/local-topology";
import { PROJECT_ROOT, readStackConfig } from "../support/stack-config";
import { accountPushes, issueForTest, leafLinkFiles, testServerSecurity, type TestIssue } from "./support/issue";
import { eventually } from "../support/eventually";

const run = promisify(execFile);
const NATS_CLI = path.join(PROJECT_ROOT, ".tools", "bin", "nats");
const EVENTS_PER_LEAF = 100;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const config = readStackConfig("dev");
type RawSecurity = { accounts: { name: string; jetstream?: Record<string, unknown> }[] } & Record<string, unknown>;
const rawTopology = config.topology;
const bare = rebaseAddresses(parseTopology(rawTopology, { name: "services" }), "127.0.50");
const jetstreamSpec: JetStreamSpec = parseJetStream(config.jetstream, bare);
const topology: Topology = rebaseAddresses(parseTopology(rawTopology, { name: "services", leafDenyImports: leafLocalSubjects(jetstreamSpec) }), "127.0.50");
const raw = config.security as RawSecurity;
/**
 * PLATFORM's limits fitted to the dev leaves (see operator-mode.test.ts); the bindings as declared.
 * Plus `legacy-reader`: what every service was before accounts per service — a user in the data
 * account allowed one read-only API request. The control that shows the forgery test can fail.
 */
const LEGACY = "legacy-reader";
const spec: SecuritySpec = parseSecurity(
  {
    ...raw,
    accounts: raw.accounts.map((a) => (a.name === "PLATFORM" ? { ...a, jetstream: { ...a.jetstream, maxMemory: "32M", maxFile: "512M" } } : a)),
    users: [...(raw.users as unknown[]), { name: LEGACY, account: "PLATFORM", publish: { allow: ["$JS.API.STREAM.INFO.KV_PERSON_METADATA"] }, requestReply: true }],
  },
  topology,
  jetstreamSpec,
);
const user = (name: string) => spec.users.find((u) => u.name === name)!;
const hubServer = topology.hub.members[0].serverName;

let issue: TestIssue;
let rt: RunningTopology;
let secretsDir: string;
const connections: NatsConnection[] = [];
const serverErrors = new Map<NatsConnection, Error[]>();

/** Connects as `name` with its issued creds and its own inbox prefix, as a service would. */
async function connectAs(name: string, serverName: string | string[]): Promise<NatsConnection> {
  const servers = (Array.isArray(serverName) ? serverName : [serverName]).map((s) => rt.clientUrl(s));
  const inboxPrefix = user(name).inboxPrefix;
  const nc = await connect({
    servers,
    authenticator: credsAuthenticator(new TextEncoder().encode(issue.creds[name])),
    name,
    maxReconnectAttempts: 0,
    ...(inboxPrefix ? { inboxPrefix } : {}),
  });
  connections.push(nc);
  const errors: Error[] = [];
  serverErrors.set(nc, errors);
  void (async () => {
    for await (const s of nc.status()) if (s.type === "error") errors.push(s.error);
  })();
  return nc;
}

/** The permissions violation the server reports while or shortly after `action` runs. */
async function violationDuring(nc: NatsConnection, action: () => Promise<unknown>, waitMs = 2_000): Promise<PermissionViolationError | undefined> {
  const errors = serverErrors.get(nc)!;
  const before = errors.length;
  await action().catch(() => undefined);
  const deadline = Date.now() + waitMs;
  while (errors.length === before && Date.now() < deadline) await sleep(25);
  const e = errors[before];
  return e instanceof PermissionViolationError ? e : undefined;
}


/** Everything Pulumi.dev.yaml declares, created by the provider functions as jetstream-admin. */
async function createDeclaredJetStream(): Promise<void> {
  const target = (l: Parameters<typeof locationTarget>[0]) => {
    const t = locationTarget(l, rt.topology, { creds: issue.creds[JETSTREAM_ADMIN_USER] });
    return { ...t, servers: l.serverNames.map((s) => rt.clientUrl(s)) };
  };
  for (const s of jetstreamSpec.streams) await createStream({ ...s.config, target: target(s.location) });
  for (const a of jetstreamSpec.aggregates) await createStream({ ...a.config, target: target(a.location) });
  for (const k of jetstreamSpec.kv) {
    await createKv({ ...k.config, target: target(k.location) });
    for (const [key, value] of Object.entries(k.entries)) await createKvEntry({ target: target(k.location), bucket: k.config.bucket, key, value });
  }
  for (const o of jetstreamSpec.objects) await createObjectStore({ ...o.config, target: target(o.location) });
  for (const c of jetstreamSpec.consumers) await createConsumer({ ...c.config, stream: c.stream, target: target(c.location) } as Parameters<typeof createConsumer>[0]);
}

beforeAll(async () => {
  secretsDir = fs.mkdtempSync(path.join(os.tmpdir(), "cim-nats-services-"));
  fs.chmodSync(secretsDir, 0o700);
  issue = await issueForTest(spec);
  rt = await startTopology(topology, { security: testServerSecurity(issue), files: leafLinkFiles(issue), pushes: accountPushes(issue), timeoutMs: 90_000 });
  await createDeclaredJetStream();
}, 180_000);

afterAll(async () => {
  await Promise.all(connections.map((nc) => nc.close().catch(() => undefined)));
  await closeJetStreamConnections();
  await rt?.stop();
  if (secretsDir) fs.rmSync(secretsDir, { recursive: true, force: true });
});

/** Pulls `count` messages from a durable consumer, acking each (double ack: the server confirms). */
async function pullAll(js: JetStreamClient, stream: string, consumer: string, count: number): Promise<{ subject: string; data: string }[]> {
  const c = await js.consumers.get(stream, consumer);
  const out: { subject: string; data: string }[] = [];
  while (out.length < count) {
    const batch = await c.fetch({ max_messages: Math.min(50, count - out.length), expires: 2_000 });
    for await (const m of batch) {
      out.push({ subject: m.subject, data: m.string() });
      await m.ackAck();
    }
  }
  return out;
}

describe("the reference services do their seed workflows with the generated permissions", () => {
  it("person-service writes 100 events with acks at each leaf, each stored in that leaf's PERSON_EVENTS", async () => {
    for (const leaf of topology.leaves) {
      const nc = await connectAs("person-service", leaf.serverName);
      const js = jetstream(nc);
      for (let i = 0; i < EVENTS_PER_LEAF; i++) {
        const ack = await js.publish(`person.events.created`, JSON.stringify({ id: `${leaf.serverName}-${i}` }), { msgID: `${leaf.serverName}-${i}` });
        expect([ack.stream, ack.domain, ack.duplicate]).toEqual(["PERSON_EVENTS", leaf.jetstreamDomain, false]);
      }
    }
    const admin = await jetstreamManager(await connectAs(JETSTREAM_ADMIN_USER, hubServer), { domain: "hub" });
    await eventually("the aggregate holds every leaf's events", () => admin.streams.info("CLUSTER_PERSON_EVENTS"), (i) => i.state.messages === topology.leaves.length * EVENTS_PER_LEAF);
  });

  it("person-service reads its domain metadata from the leaf it is connected to", async () => {
    for (const leaf of topology.leaves) {
      const nc = await connectAs("person-service", leaf.serverName);
      const kv = await new Kvm(nc).open("PERSON_METADATA");
      expect((await kv.get("domain.name"))?.string(), leaf.serverName).toBe("Person Domain");
    }
  });

  it("person-service may only get from its metadata bucket: a watch (a consumer it would create) is refused, and no consumer appears", async () => {
    const nc = await connectAs("person-service", "nats-2");
    const kv = await new Kvm(nc).open("PERSON_METADATA");
    const error = await violationDuring(nc, async () => {
      const watch = await kv.watch({ key: "domain.>" });
      watch.stop();
    });
    expect(error?.subject).toMatch(/^\$JS\.API\.CONSUMER\.CREATE\.KV_PERSON_METADATA\./);
    const admin = await jetstreamManager(await connectAs(JETSTREAM_ADMIN_USER, "nats-2"));
    expect((await admin.streams.info("KV_PERSON_METADATA")).state.consumer_count).toBe(0);
  });

  it("person-service at nats-1 asking for nats-2's copy of its bucket is answered by no one (its account reaches nats-1's data only)", async () => {
    const nc = await connectAs("person-service", "nats-1");
    await expect(nc.request("$JS.nats-2.API.STREAM.INFO.KV_PERSON_METADATA", "", { timeout: 2_000 })).rejects.toThrow(/no responders|timeout/i);
    // Its own leaf's copy, through the domain form its context uses, answers.
    const own = (await nc.request("$JS.nats-1.API.STREAM.INFO.KV_PERSON_METADATA", "", { timeout: 2_000 })).json<{ config: { name: string } }>();
    expect(own.config.name).toBe("KV_PERSON_METADATA");
  });

  it.each([
    ["projection-service", "person-projection", "PERSON_PROJECTIONS", (id: string) => `person.projections.${id}`],
    ["pattern-service", "pattern-detection", "PATTERNS", (id: string) => `patterns.person.${id}`],
  ] as const)("%s pulls every event exactly once from %s and writes acked outputs to %s", async (service, consumer, outStream, subjectOf) => {
    const total = topology.leaves.length * EVENTS_PER_LEAF;
    const nc = await connectAs(service, topology.hub.members.map((m) => m.serverName));
    const js = jetstream(nc);
    const events = await pullAll(js, "CLUSTER_PERSON_EVENTS", consumer, total);
    const ids = events.map((e) => (JSON.parse(e.data) as { id: string }).id);
    expect(new Set(ids).size).toBe(total);
    for (const id of ids) {
      const ack = await js.publish(subjectOf(id), JSON.stringify({ from: id }));
      expect([ack.stream, ack.domain]).toEqual([outStream, "hub"]);
    }
    // Nothing left, nothing pending: every event was delivered and acked once.
    const info = await (await js.consumers.get("CLUSTER_PERSON_EVENTS", consumer)).info();
    expect([info.num_pending, info.num_ack_pending, info.num_redelivered, info.delivered.consumer_seq]).toEqual([0, 0, 0, total]);
    const admin = await jetstreamManager(await connectAs(JETSTREAM_ADMIN_USER, hubServer));
    expect((await admin.streams.info(outStream)).state.messages).toBe(total);
  });
});

describe("natscli through the generated contexts, no flags", () => {
  let xdg: string;
  const nats = (context: string, args: string[]) =>
    run(NATS_CLI, ["--context", context, ...args], { env: { ...process.env, XDG_CONFIG_HOME: xdg, HOME: secretsDir }, timeout: 20_000 });

  beforeAll(() => {
    xdg = path.join(secretsDir, "xdg");
    fs.mkdirSync(path.join(xdg, "nats", "context"), { recursive: true });
    for (const u of spec.users.filter((x) => !x.leafLink)) fs.writeFileSync(path.join(secretsDir, credsFileName(u.name)), issue.creds[u.name], { mode: 0o600 });
    const contexts = natsContexts(rt.topology, path.join(secretsDir, credsFileName(JETSTREAM_ADMIN_USER)), path.join(secretsDir, credsFileName(SYSTEM_MONITOR_USER)), {
      users: spec.users,
      credsDir: secretsDir,
    });
    for (const [name, json] of Object.entries(contexts)) fs.writeFileSync(path.join(xdg, "nats", "context", `${name}.json`), json);
  });

  it("has a context per service and place, plus the admin ones", () => {
    const names = fs.readdirSync(path.join(xdg, "nats", "context")).map((f) => f.replace(/\.json$/, "")).sort();
    expect(names).toEqual(
      [
        ...topology.leaves.map((l) => l.serverName),
        "hub",
        "hub-system",
        ...topology.leaves.map((l) => serviceContextName("person-service", l.serverName)),
        serviceContextName("projection-service", "hub"),
        serviceContextName("pattern-service", "hub"),
        serviceContextName("cid-service", "cimstor"),
      ].sort(),
    );
    const ctx = JSON.parse(fs.readFileSync(path.join(xdg, "nats", "context", "person-service@nats-2.json"), "utf8"));
    expect([ctx.url, ctx.jetstream_domain, ctx.inbox_prefix, ctx.creds]).toEqual([
      rt.clientUrl("nats-2"),
      "nats-2",
      "_INBOX_person-service",
      path.join(secretsDir, "person-service.creds"),
    ]);
  });

  it("person-service@<leaf> publishes with an ack and reads its metadata; projection-service@hub pulls, acks and writes", async () => {
    const pub = await nats("person-service@nats-3", ["pub", "--jetstream", "person.events.created", '{"id":"cli-1"}']);
    expect(`${pub.stdout}${pub.stderr}`).toMatch(/Stored in Stream: PERSON_EVENTS Sequence: \d+/);
    const meta = await nats("person-service@nats-3", ["kv", "get", "PERSON_METADATA", "domain.name", "--raw"]);
    expect(meta.stdout.trim()).toBe("Person Domain");

    const admin = await jetstreamManager(await connectAs(JETSTREAM_ADMIN_USER, hubServer));
    await eventually("the cli event in the aggregate", async () => (await admin.consumers.info("CLUSTER_PERSON_EVENTS", "person-projection")).num_pending, (n) => n === 1);
    const next = await nats("projection-service@hub", ["consumer", "next", "CLUSTER_PERSON_EVENTS", "person-projection", "--raw"]);
    expect(next.stdout.trim()).toBe('{"id":"cli-1"}');
    const ci = await admin.consumers.info("CLUSTER_PERSON_EVENTS", "person-projection");
    expect([ci.num_pending, ci.num_ack_pending]).toEqual([0, 0]);
    const out = await nats("projection-service@hub", ["pub", "--jetstream", "person.projections.cli-1", "{}"]);
    expect(`${out.stdout}${out.stderr}`).toMatch(/Stored in Stream: PERSON_PROJECTIONS/);
  });

  it("a service context cannot do an admin's job: stream rm is refused by the server", async () => {
    // The server drops the refused request (natscli then reports a timeout): 2 s, not natscli's 5 s default, to wait for it.
    const err = await nats("projection-service@hub", ["--timeout", "2s", "stream", "rm", "PERSON_PROJECTIONS", "-f"]).then(
      () => undefined,
      (e: Error & { stderr?: string }) => `${e.message}${e.stderr ?? ""}`,
    );
    expect(err).toMatch(/Permissions Violation|permission|timeout|no responders/i);
    const admin = await jetstreamManager(await connectAs(JETSTREAM_ADMIN_USER, hubServer));
    expect((await admin.streams.info("PERSON_PROJECTIONS")).config.name).toBe("PERSON_PROJECTIONS");
  });
});

describe("denials, each checked on the real server", () => {
  it.each<[string, "publish" | "subscribe", string, string]>([
    ["projection-service", "publish", "$JS.API.CONSUMER.MSG.NEXT.CLUSTER_PERSON_EVENTS.pattern-detection", "read another service's consumer"],
    ["projection-service", "publish", "$JS.hub.API.CONSUMER.INFO.CLUSTER_PERSON_EVENTS.pattern-detection", "look at another service's consumer (domain-prefixed)"],
    ["projection-service", "publish", "$JS.ACK.CLUSTER_PERSON_EVENTS.pattern-detection.1.1.1.1.0", "ack another service's messages"],
    ["projection-service", "publish", "$JS.API.CONSUMER.CREATE.CLUSTER_PERSON_EVENTS", "create its own consumer on the aggregate"],
    ["projection-service", "subscribe", "_INBOX.>", "read the shared inbox"],
    ["projection-service", "subscribe", "_INBOX_person-service.>", "read another user's inbox"],
    ["pattern-service", "subscribe", "_INBOX_projection-service.>", "read another user's inbox"],
    ["projection-service", "publish", "$JS.API.STREAM.DELETE.PERSON_PROJECTIONS", "delete a stream"],
    ["projection-service", "publish", "$JS.API.STREAM.UPDATE.PERSON_PROJECTIONS", "edit a stream"],
    ["projection-service", "publish", "$JS.API.STREAM.PURGE.PERSON_PROJECTIONS", "purge a stream"],
    ["projection-service", "publish", "$JS.API.CONSUMER.DELETE.CLUSTER_PERSON_EVENTS.person-projection", "delete its own consumer"],
    ["projection-service", "publish", "$JS.API.STREAM.MSG.GET.CLUSTER_PERSON_EVENTS", "read the aggregate around its consumer"],
    ["projection-service", "publish", "$JS.API.STREAM.LIST", "list the account's streams"],
    ["projection-service", "publish", "person.events.created", "publish outside its bindings (forge an event)"],
    ["projection-service", "publish", "patterns.person.x", "publish outside its bindings (another service's stream)"],
    ["pattern-service", "publish", "person.projections.x", "publish outside its bindings"],
    ["person-service", "publish", "person.projections.x", "publish outside its bindings"],
    ["person-service", "publish", "$KV.PERSON_METADATA.domain.name", "write a bucket it only reads"],
    ["person-service", "publish", "$JS.API.STREAM.DELETE.PERSON_EVENTS", "delete its own stream"],
    ["person-service", "subscribe", "person.events.>", "subscribe outside its bindings"],
  ])("%s may not %s '%s' (%s)", async (service, operation, subject) => {
    const place = service === "person-service" ? "nats-1" : hubServer;
    const nc = await connectAs(service, place);
    let closed: Promise<void | Error> | undefined;
    const error = await violationDuring(nc, async () => {
      if (operation === "publish") nc.publish(subject, "{}");
      else closed = nc.subscribe(subject).closed;
      await nc.flush();
    });
    expect(error, `no violation for ${service} ${operation} ${subject}`).toBeInstanceOf(PermissionViolationError);
    // A service account has no JetStream to map its domain's prefix: the violation names the subject as sent.
    expect([error!.operation, error!.subject]).toEqual([operation === "publish" ? "publish" : "subscription", subject]);
    if (closed) expect(await closed).toBeInstanceOf(PermissionViolationError);
    expect(nc.isClosed()).toBe(false);
  });

  it("the denied stream edits changed nothing", async () => {
    const admin = await jetstreamManager(await connectAs(JETSTREAM_ADMIN_USER, hubServer));
    const info = await admin.streams.info("PERSON_PROJECTIONS");
    expect(info.state.messages).toBeGreaterThanOrEqual(topology.leaves.length * EVENTS_PER_LEAF);
    expect((await admin.consumers.info("CLUSTER_PERSON_EVENTS", "person-projection")).config.ack_policy).toBe(AckPolicy.Explicit);
  });

  it("a service that connects with the default _INBOX prefix gets no JetStream acks: the stack's prefix is required", async () => {
    const nc = await connect({
      servers: rt.clientUrl("nats-1"),
      authenticator: credsAuthenticator(new TextEncoder().encode(issue.creds["person-service"])),
      maxReconnectAttempts: 0,
    });
    connections.push(nc);
    await expect(jetstream(nc).publish("person.events.created", "{}", { timeout: 1_500 })).rejects.toThrow(/Permissions Violation for Subscription to "_INBOX/);
  });
});

/**
 * The isolation issue's attack, exhaustively: nats-server checks a message's subject against the
 * publish permissions but never its reply subject, and JetStream answers every API request to the
 * reply subject. With every service in an account of its own, a reply can only name subjects of
 * that account, which holds no stream: for every client user × every place it connects × every
 * subject its JWT lets it publish × a reply naming every store of the topology (and the API of
 * each), nothing is stored anywhere that the user could not have published itself.
 */
describe("no creds file writes where its bindings do not, by any reply subject", () => {
  /** A concrete subject for a permission subject: wildcards become a token of ours. */
  const concrete = (s: string, token = "sent") => s.replace(/>$/, token).replace(/\*/g, token);
  /**
   * Every subject a reply could name to get something stored or done: each stream's and bucket's
   * subjects (ending in `replied`, which no request uses: any stored one is a forgery), each
   * stream's purge and delete API.
   */
  const replyTargets = (): string[] => {
    const subjects = jetstreamSpec.streams.flatMap((s) => streamSubjects(s.config)).map((s) => concrete(s, "replied"));
    const buckets = [
      ...jetstreamSpec.kv.map((k) => `$KV.${k.config.bucket}.replied`),
      ...jetstreamSpec.objects.flatMap((o) => [`$O.${o.config.bucket}.C.replied`, `$O.${o.config.bucket}.M.replied`]),
    ];
    const names = [...new Set([...jetstreamSpec.streams.map((s) => s.config.name), ...jetstreamSpec.aggregates.map((a) => String(a.config.name)), ...jetstreamSpec.kv.map((k) => `KV_${k.config.bucket}`), ...jetstreamSpec.objects.map((o) => `OBJ_${o.config.bucket}`)])];
    const api = names.flatMap((n) => [`$JS.API.STREAM.PURGE.${n}`, `$JS.API.STREAM.DELETE.${n}`, `$JS.hub.API.STREAM.PURGE.${n}`]);
    return [...new Set([...subjects, ...buckets, ...api])];
  };
  type Snapshot = Record<string, { messages: number; lastSeq: number; consumers: number }>;
  /** Every stream at every place it lives, as the admin sees it. */
  const snapshot = async (): Promise<Snapshot> => {
    const out: Snapshot = {};
    const places = [...topology.leaves.map((l) => ({ server: l.serverName, domain: l.jetstreamDomain })), { server: hubServer, domain: "hub" }];
    for (const p of places) {
      const jsm = await jetstreamManager(await connectAs(JETSTREAM_ADMIN_USER, p.server));
      for await (const si of jsm.streams.list()) out[`${p.domain}/${si.config.name}`] = { messages: si.state.messages, lastSeq: si.state.last_seq, consumers: si.state.consumer_count };
    }
    return out;
  };
  /** Subjects stored since `before`, per stream. */
  const storedSince = async (before: Snapshot): Promise<Record<string, string[]>> => {
    const out: Record<string, string[]> = {};
    const places = [...topology.leaves.map((l) => ({ server: l.serverName, domain: l.jetstreamDomain })), { server: hubServer, domain: "hub" }];
    for (const p of places) {
      const jsm = await jetstreamManager(await connectAs(JETSTREAM_ADMIN_USER, p.server));
      for await (const si of jsm.streams.list()) {
        const key = `${p.domain}/${si.config.name}`;
        const from = (before[key]?.lastSeq ?? 0) + 1;
        for (let seq = from; seq <= si.state.last_seq; seq++) {
          const m = await jsm.streams.getMessage(si.config.name, { seq }).catch(() => undefined);
          if (m) (out[key] ??= []).push(m.subject);
        }
      }
    }
    return out;
  };
  const clientUsers = () => spec.users.filter((u) => u.role === "service" && u.name !== LEGACY);

  it("tries every user × place × request subject × reply target: nothing stored but what the user may publish itself, nothing purged or deleted", async () => {
    const targets = replyTargets();
    const before = await snapshot();
    let tried = 0;
    for (const u of clientUsers()) {
      for (const place of u.places ?? []) {
        const server = place.level === "hub" ? hubServer : place.name;
        const nc = await connectAs(u.name, server);
        for (const request of u.publish.allow.map((a) => concrete(a))) {
          for (const reply of targets) {
            nc.publish(request, JSON.stringify({ id: "mallory", name: `forged by ${u.name}` }), { reply });
            tried++;
          }
        }
        await nc.flush();
      }
    }
    // Every answer had time to land: a round trip through every place after the last request.
    for (const leaf of topology.leaves) await (await connectAs(JETSTREAM_ADMIN_USER, leaf.serverName)).flush();
    await sleep(500);
    const stored = await storedSince(before);
    const after = await snapshot();
    // Nothing deleted or purged: every stream still there, none with fewer messages or consumers.
    for (const [key, b] of Object.entries(before)) {
      expect(after[key], key).toBeDefined();
      expect(after[key].messages, key).toBeGreaterThanOrEqual(b.messages);
      expect(after[key].consumers, key).toBe(b.consumers);
    }
    // Whatever was stored is a request a user sent as its own publication (a subject it may
    // publish); no reply target was stored anywhere, the aggregate included.
    const own = new Set(clientUsers().flatMap((u) => u.publish.allow.map((a) => concrete(a))));
    const forged = Object.entries(stored).flatMap(([key, subjects]) => subjects.filter((s) => !own.has(s)).map((s) => `${key}: ${s}`));
    expect(forged).toEqual([]);
    expect(Object.values(stored).flat().filter((s) => s.endsWith(".replied"))).toEqual([]);
    // The requests did reach the streams they may write (the test sent what it says it sent).
    expect(stored["nats-1/PERSON_EVENTS"]).toContain("person.events.sent");
    expect(tried).toBeGreaterThan(2_000);
    console.log(`forgery: ${tried} requests tried (${clientUsers().length} users, every place, every allowed subject × ${targets.length} reply targets); forged subjects stored: ${forged.length}`);
  }, 120_000);

  it("control: a user in the data account, allowed only a read-only API request, writes its bucket through the reply (the attack the layout stops)", async () => {
    const before = await snapshot();
    const legacy = await connectAs(LEGACY, "nats-1");
    legacy.publish("$JS.API.STREAM.INFO.KV_PERSON_METADATA", "", { reply: "$KV.PERSON_METADATA.injected" });
    await legacy.flush();
    await eventually("the forged KV entry", () => storedSince(before), (s) => (s["nats-1/KV_PERSON_METADATA"] ?? []).includes("$KV.PERSON_METADATA.injected"), 5_000);
  });

  it("the three attacks of the issue, replayed: each stores nothing", async () => {
    const before = await snapshot();
    // person-service: STREAM.INFO of its bucket with the reply naming the bucket's own subjects.
    const person = await connectAs("person-service", "nats-1");
    person.publish("$JS.API.STREAM.INFO.KV_PERSON_METADATA", "", { reply: "$KV.PERSON_METADATA.injected" });
    await person.flush();
    // pattern-service: CONSUMER.INFO on its own consumer with the reply naming another service's stream.
    const pattern = await connectAs("pattern-service", hubServer);
    pattern.publish("$JS.API.CONSUMER.INFO.CLUSTER_PERSON_EVENTS.pattern-detection", "", { reply: "person.projections.forged" });
    await pattern.flush();
    // cid-service: a chunk with content it chose, then a direct get of it with the reply naming the event stream.
    const cid = await connectAs("cid-service", "cimstor");
    const chunk = `$O.CLUSTER_OBJECTS.C.${"m".repeat(22)}`;
    await jetstream(cid).publish(chunk, JSON.stringify({ id: "mallory", name: "Forged by cid-service" }));
    cid.publish(`$JS.API.DIRECT.GET.OBJ_CLUSTER_OBJECTS.${chunk}`, "", { reply: "person.events.created" });
    await cid.flush();
    await sleep(1_000);
    const stored = await storedSince(before);
    expect(stored).toEqual({ "cimstor/OBJ_CLUSTER_OBJECTS": [chunk] });
  });
});
