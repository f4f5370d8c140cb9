/**
 * The dev topology (4 leaves, 3 hub members) in operator mode, as real nats-server processes on
 * 127.0.4.x (a second one, without leaf-local stores, on 127.0.220.x at the same time), with
 * keys and JWTs issued by the real NKey/IssuedJwt provider functions. Proves the
 * stack config alone decides who may do what, that removing a user revokes it, that a bad
 * leaf-link credential keeps a leaf out, that natscli works with the generated creds and
 * contexts, and that no seed leaks into any file outside a `.creds` file.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { jetstreamManager } from "@nats-io/jetstream";
import { credsAuthenticator, type NatsConnection, PermissionViolationError } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { leafLocalSubjects, parseJetStream } from "../../components/jetstream/spec";
import { startNatsServer, stopNatsServer, waitHealthy } from "../../components/local/nats-process";
import { renderServerConfig } from "../../components/render/nats-server-config";
import type { ServerSecurity } from "../../components/render/server-security";
import { natsContexts } from "../../components/security/contexts";
import { credsFileName, SEED_PATTERN } from "../../components/security/creds";
import { parseSecurity } from "../../components/security/parse";
import { JETSTREAM_ADMIN_USER, type SecuritySpec, SYSTEM_MONITOR_USER } from "../../components/security/types";
import { parseTopology } from "../../components/topology/parse";
import { rebaseAddresses } from "../../components/topology/rebase";
import type { ServerInstance, Topology } from "../../components/topology/types";
import { startTopology, RunningTopology } from "../../harness/local-topology";
import { PROJECT_ROOT, readStackConfig } from "../support/stack-config";
import { accountPushes, issueForTest, leafLinkFiles, testServerSecurity, TestIssue } from "./support/issue";
import { closeSystemConnections, pushTombstone } from "../../components/security/jwt-push";
import { eventually } from "../support/eventually";

const run = promisify(execFile);
const NATS_SERVER = path.join(PROJECT_ROOT, ".tools", "bin", "nats-server");
const NATS_CLI = path.join(PROJECT_ROOT, ".tools", "bin", "nats");
const LEAF_STREAM = "PERSON_EVENTS";
const AGGREGATE = "CLUSTER_PERSON_EVENTS";
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));


const config = readStackConfig("dev");
/** What the leaves deny importing, derived by the JetStream capability from the dev config's leaf stores. */
const DEV_JETSTREAM = parseJetStream(config.jetstream, parseTopology(config.topology, { name: "dev" }));
const LEAF_DENY_IMPORTS = leafLocalSubjects(DEV_JETSTREAM);
type RawSecurity = { accounts: { name: string; jetstream?: Record<string, unknown> }[]; users: { name: string }[] };
/**
 * Pulumi.dev.yaml's PLATFORM limits (256M memory, 2G file) exceed the dev leaves' own JetStream
 * limits (64M, 1G), which a leaf refuses and parseSecurity reports; these fit.
 */
const rawSecurity: RawSecurity = {
  ...(config.security as RawSecurity),
  accounts: (config.security as RawSecurity).accounts.map((a) =>
    a.name === "PLATFORM" ? { ...a, jetstream: { ...a.jetstream, maxMemory: "32M", maxFile: "512M" } } : a,
  ),
  // Open leaf links, declared: these tests show how core subjects cross a link. The derived
  // leaf-link users carry only what the bindings need (test/security/leaf-links.test.ts).
  users: [
    ...(config.security as RawSecurity).users,
    ...parseTopology(config.topology, { name: "dev" }).leaves.map((l) => ({ name: `leaf-${l.serverName}`, account: "PLATFORM", leafLink: l.serverName })),
  ],
};

/** The dev topology on a loopback block of this file's (`prefix`: three octets). */
function devTopology(name: string, leafDenyImports: readonly string[], prefix: string): Topology {
  return rebaseAddresses(parseTopology(config.topology, { name, leafDenyImports }), prefix);
}

/** Polls `read` until it returns a value `accept`s. */

/** One running operator-mode topology and the clients a describe block opened on it. */
type OperatorTopology = {
  readonly topology: Topology;
  readonly spec: SecuritySpec;
  issue: TestIssue;
  running: RunningTopology;
  /** Connects `user` (default: with its issued creds) to a server of the topology. */
  connectAs(user: string, serverName: string, creds?: string): Promise<NatsConnection>;
  /**
   * The first server error `nc` reports for what `action` sent, or undefined. The server answers a
   * connection's protocol in order, so once a PING sent after the action has its PONG, an error
   * for the action (a permissions violation's -ERR) has arrived: no fixed wait for its absence.
   */
  serverErrorDuring(nc: NatsConnection, action: () => Promise<void>): Promise<Error | undefined>;
};

/**
 * Registers hooks in the enclosing describe: issue the dev security (real provider functions),
 * start the dev topology in operator mode, and tear everything down after.
 */
function useOperatorTopology(name: string, leafDenyImports: readonly string[], prefix: string): OperatorTopology {
  const topology = devTopology(name, leafDenyImports, prefix);
  const spec = parseSecurity(rawSecurity, topology, DEV_JETSTREAM);
  const connections: NatsConnection[] = [];
  const serverErrors = new Map<NatsConnection, Error[]>();
  const env: OperatorTopology = {
    topology,
    spec,
    issue: undefined as unknown as TestIssue,
    running: undefined as unknown as RunningTopology,
    async connectAs(user, serverName, creds = env.issue.creds[user]) {
      const inboxPrefix = env.spec.users.find((u) => u.name === user)?.inboxPrefix;
      const nc = await connect({
        servers: env.running.clientUrl(serverName),
        authenticator: credsAuthenticator(new TextEncoder().encode(creds)),
        name: user,
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
    },
    async serverErrorDuring(nc, action) {
      const errors = serverErrors.get(nc)!;
      const before = errors.length;
      await action();
      await nc.flush();
      // nats.js pushes an -ERR to the status iterator as it reads it, before that PONG; its
      // consumer (connectAs) takes it within the same turn's microtasks, all done by setImmediate.
      await new Promise((r) => setImmediate(r));
      return errors[before];
    },
  };
  beforeAll(async () => {
    env.issue = await issueForTest(spec);
    env.running = await startTopology(topology, { security: testServerSecurity(env.issue), files: leafLinkFiles(env.issue), pushes: accountPushes(env.issue) });
  });
  afterAll(async () => {
    await Promise.all(connections.map((nc) => nc.close().catch(() => undefined)));
    await env.running?.stop();
  });
  return env;
}

/** Where the tests keep creds files for natscli and its context dir (0700, removed after). */
let secretsDir: string;
beforeAll(() => {
  secretsDir = fs.mkdtempSync(path.join(os.tmpdir(), "cim-nats-security-secrets-"));
  fs.chmodSync(secretsDir, 0o700);
});
afterAll(() => {
  if (secretsDir) fs.rmSync(secretsDir, { recursive: true, force: true });
});

/*
 * The two topologies share nothing (own addresses, keys, temp dirs): they start and run side by
 * side (the outer describes are concurrent), each one's cases in order (the inner describes).
 */
describe.concurrent("leaf stores local", () => {
  describe.sequential("operator mode on the dev topology, leaf stores local (deny_imports)", () => {
    const env = useOperatorTopology("security", LEAF_DENY_IMPORTS, "127.0.4");
    const { topology } = env;
    const hub = topology.hub.members[0].serverName;

    it("renders every server's config in operator mode, and each passes nats-server -t", async () => {
      expect(LEAF_DENY_IMPORTS).toContain("person.events.>");
      for (const instance of topology.hosts.flatMap((h) => h.instances)) {
        const configPath = path.join(env.running.dir, `${instance.serverName}.conf`);
        const text = fs.readFileSync(configPath, "utf8");
        expect(text).toContain(`operator: "${env.issue.issued.operatorJwt}"`);
        expect(text).toContain(`system_account: "${env.issue.issued.accounts.SYS.publicKey}"`);
        // Only the bootstrap JWTs: the current ones arrive by push, and no account change touches a config.
        expect(text).toContain(env.issue.issued.accounts.PLATFORM.bootstrapJwt!);
        expect(text).not.toContain(env.issue.issued.accounts.PLATFORM.jwt);
        expect(text).toMatch(/resolver: \{[^}]*type: "?full"?/);
        const { stdout, stderr } = await run(NATS_SERVER, ["-t", "-c", configPath]);
        expect(`${stdout}${stderr}`).toMatch(/configuration file .* is valid/);
      }
    });

    it("every leaf binds PLATFORM and SYS to the hub, each through its own link user", async () => {
      const platform = env.issue.issued.accounts.PLATFORM.publicKey;
      const sys = env.issue.issued.accounts.SYS.publicKey;
      for (const leaf of topology.leaves) {
        const leafz = (await (await fetch(`${env.running.monitoringUrl(leaf.serverName)}/leafz`)).json()) as { leafs: { account: string }[] };
        expect(leafz.leafs.map((l) => l.account).sort(), leaf.serverName).toEqual([platform, sys].sort());
      }
    });

    it("person-service publishes person.events.created at a leaf and the event reaches the aggregate", async () => {
      for (const leaf of topology.leaves) {
        const jsm = await jetstreamManager(await env.connectAs(JETSTREAM_ADMIN_USER, leaf.serverName));
        await jsm.streams.add({ name: LEAF_STREAM, subjects: ["person.events.>"], storage: "file" as never, num_replicas: 1 });
      }
      const hubJsm = await jetstreamManager(await env.connectAs(JETSTREAM_ADMIN_USER, hub));
      await hubJsm.streams.add({
        name: AGGREGATE,
        storage: "file" as never,
        num_replicas: 3,
        sources: topology.leaves.map((l) => ({ name: LEAF_STREAM, external: { api: `$JS.${l.jetstreamDomain}.API`, deliver: "" } })),
      });

      const person = await env.connectAs("person-service", "nats-2");
      const error = await env.serverErrorDuring(person, async () => {
        person.publish("person.events.created", "alice@nats-2");
        await person.flush();
      });
      expect(error).toBeUndefined();

      const info = await eventually("aggregate holds the event", () => hubJsm.streams.info(AGGREGATE), (i) => i.state.messages >= 1);
      expect(info.state.messages).toBe(1);
      const msg = await hubJsm.streams.getMessage(AGGREGATE, { seq: 1 });
      expect(msg?.subject).toBe("person.events.created");
      expect(msg?.string()).toBe("alice@nats-2");
      // Leaf stores stay local: only nats-2's stream captured it.
      for (const leaf of topology.leaves) {
        const jsm = await jetstreamManager(await env.connectAs(JETSTREAM_ADMIN_USER, leaf.serverName));
        expect((await jsm.streams.info(LEAF_STREAM)).state.messages, leaf.serverName).toBe(leaf.serverName === "nats-2" ? 1 : 0);
      }
    });

    it.each([
      ["publishing", "billing.events.x", "publish"],
      ["subscribing to", "*.events.>", "subscription"],
    ] as const)("person-service %s '%s' gets the server's permissions violation", async (_what, subject, operation) => {
      const person = await env.connectAs("person-service", "nats-1");
      let closed: Promise<void | Error> | undefined;
      const error = await env.serverErrorDuring(person, async () => {
        if (operation === "publish") person.publish(subject, "x");
        else closed = person.subscribe(subject).closed;
        await person.flush();
      });
      expect(error).toBeInstanceOf(PermissionViolationError);
      expect(error?.message).toMatch(/Permissions Violation/);
      expect((error as PermissionViolationError).operation).toBe(operation);
      expect((error as PermissionViolationError).subject).toBe(subject);
      if (closed) expect(await closed).toBeInstanceOf(PermissionViolationError);
      // A violation costs the message or the subscription, not the connection.
      expect(person.isClosed()).toBe(false);
    });

    it("a hub core subscriber misses leaf events on deny_imports subjects (nats-server 2.15.2; projections read the aggregate)", async () => {
      // Not a permissions effect: the leaf filters what it sends by its remote's deny_imports
      // once the hub has overlapping wildcard interest. Kept as evidence for the topology design;
      // the fan-in without deny_imports is proven in the next describe block.
      const admin = await env.connectAs(JETSTREAM_ADMIN_USER, hub);
      const seen: string[] = [];
      admin.subscribe("*.events.>", { callback: (_err, msg) => void seen.push(msg.subject) });
      admin.subscribe("person.notes.>", { callback: (_err, msg) => void seen.push(msg.subject) });
      await admin.flush();
      const leafAdmin = await env.connectAs(JETSTREAM_ADMIN_USER, "nats-1");
      await eventually(
        "a control subject from nats-1 at the hub",
        async () => {
          leafAdmin.publish("person.notes.control");
          leafAdmin.publish("person.events.hidden");
          await leafAdmin.flush();
          await sleep(200);
          return seen;
        },
        (s) => s.includes("person.notes.control"),
      );
      expect(seen).not.toContain("person.events.hidden");
    });

    it.each([
      ["right leaf-link creds (control)", "leaf-cimstor", true],
      ["a service user's creds (clients only, not LEAFNODE)", "person-service", false],
      ["creds issued under another operator", "foreign", false],
    ] as const)("a leaf connecting with %s (%s) joins: %s", async (_what, credsOf, joins) => {
      const foreign = await issueForTest(env.spec);
      const creds = credsOf === "foreign" ? foreign.creds["leaf-cimstor"] : env.issue.creds[credsOf];
      const serverName = `rogue-${credsOf}`;
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cim-nats-security-leaf-"));
      const rogue = extraLeaf(env.running.topology, serverName, "127.0.4.9", path.join(dir, "js"));
      // Its system link presents the matching system-link creds (the control's) or the same creds.
      const systemCreds = credsOf === "leaf-cimstor" ? env.issue.creds["leaf-cimstor-sys"] : credsOf === "foreign" ? foreign.creds["leaf-cimstor-sys"] : creds;
      const security: ServerSecurity = {
        ...testServerSecurity(env.issue),
        leafLinks: {
          [serverName]: {
            application: { credentialsPath: path.join(dir, "leaf.creds"), account: env.issue.issued.accounts.PLATFORM.publicKey },
            system: { credentialsPath: path.join(dir, "leaf-sys.creds"), account: env.issue.issued.accounts.SYS.publicKey },
          },
        },
      };
      fs.writeFileSync(path.join(dir, "leaf.creds"), creds, { mode: 0o600 });
      fs.writeFileSync(path.join(dir, "leaf-sys.creds"), systemCreds, { mode: 0o600 });
      fs.writeFileSync(path.join(dir, "leaf.conf"), renderServerConfig(rogue, serverName, security), { mode: 0o600 });
      const logPath = path.join(dir, "leaf.log");
      const { pid } = await startNatsServer({ configPath: path.join(dir, "leaf.conf"), logPath });
      try {
        const monitoring = `http://127.0.4.9:${rogue.leaves.at(-1)!.monitoringPort}`;
        await waitHealthy(monitoring, 20_000, pid);
        const hubKnows = async () => {
          const links = await Promise.all(
            topology.hub.members.map(
              async (m) => ((await (await fetch(`${env.running.monitoringUrl(m.serverName)}/leafz`)).json()) as { leafs: { name: string }[] }).leafs,
            ),
          );
          return links.flat().some((l) => l.name === serverName);
        };
        if (joins) {
          await eventually("the control leaf joins", hubKnows, (known) => known);
        } else {
          // The refusal is in the leaf's log; /leafz lists live links only, so it shows the absence.
          const log = await eventually("the refusal in the leaf's log", async () => fs.readFileSync(logPath, "utf8"), (l) => /authorization violation/i.test(l));
          expect(log).toMatch(/authorization violation/i);
          const leafz = (await (await fetch(`${monitoring}/leafz`)).json()) as { leafnodes: number };
          expect(leafz.leafnodes).toBe(0);
          expect(await hubKnows()).toBe(false);
        }
      } finally {
        await stopNatsServer(pid);
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it("natscli connects with a generated creds file and the generated contexts", async () => {
      const credsPath = path.join(secretsDir, credsFileName(JETSTREAM_ADMIN_USER));
      fs.writeFileSync(credsPath, env.issue.creds[JETSTREAM_ADMIN_USER], { mode: 0o600 });
      const xdg = path.join(secretsDir, "xdg");
      fs.mkdirSync(path.join(xdg, "nats", "context"), { recursive: true });
      const systemCredsPath = path.join(secretsDir, credsFileName(SYSTEM_MONITOR_USER));
      fs.writeFileSync(systemCredsPath, env.issue.creds[SYSTEM_MONITOR_USER], { mode: 0o600 });
      for (const [name, json] of Object.entries(natsContexts(env.running.topology, credsPath, systemCredsPath))) {
        fs.writeFileSync(path.join(xdg, "nats", "context", `${name}.json`), json);
      }
      const nats = (args: string[]) => run(NATS_CLI, args, { env: { ...process.env, XDG_CONFIG_HOME: xdg, HOME: secretsDir } });

      const leaf = JSON.parse((await nats(["--context", "nats-2", "stream", "info", LEAF_STREAM, "--json"])).stdout);
      expect(leaf.config.name).toBe(LEAF_STREAM);
      expect(leaf.state.messages).toBeGreaterThanOrEqual(1);
      const aggregate = JSON.parse((await nats(["--context", "hub", "stream", "info", AGGREGATE, "--json"])).stdout);
      expect(aggregate.cluster.name).toBe(topology.hub.name);
      // The system context sees the hub's servers: the leaves' system links carry JWT updates and
      // resolver sync only, not server pings.
      const servers = JSON.parse((await nats(["--context", "hub-system", "server", "list", "--json"])).stdout) as { server: { name: string } }[];
      expect(servers.map((s) => s.server.name).sort()).toEqual(topology.hub.members.map((m) => m.serverName).sort());

      const personCreds = path.join(secretsDir, credsFileName("person-service"));
      fs.writeFileSync(personCreds, env.issue.creds["person-service"], { mode: 0o600 });
      await nats(["--creds", personCreds, "--server", env.running.clientUrl("nats-3"), "pub", "person.events.cli", "from-natscli"]);
      const jsm = await jetstreamManager(await env.connectAs(JETSTREAM_ADMIN_USER, "nats-3"));
      const last = await eventually("natscli's event at nats-3", () => jsm.streams.getMessage(LEAF_STREAM, { last_by_subj: "person.events.cli" }), (m) => m !== null);
      expect(last?.string()).toBe("from-natscli");
    });

    it("pushes share one system connection per server: two accounts to seven servers over seven connections, closed when asked", async () => {
      const servers = topology.hosts.flatMap((h) => h.instances).map((i) => i.serverName);
      const pushers = async (server: string) =>
        ((await (await fetch(`${env.running.monitoringUrl(server)}/connz?limit=1024`)).json()) as { connections?: { cid: number; name?: string }[] }).connections?.filter((c) => c.name === "cim-nats-jwt-push").map((c) => c.cid) ?? [];
      await closeSystemConnections();
      const confirmed = await env.running.pushAccounts(accountPushes(env.issue, ["person-service", "PLATFORM"]));
      expect(Object.values(confirmed).map((c) => c.length)).toEqual([servers.length, servers.length]);
      for (const server of servers) expect(await pushers(server), server).toHaveLength(1);
      await closeSystemConnections();
      for (const server of servers) await eventually(`${server}'s push connection closed`, () => pushers(server), (c) => c.length === 0);
    });

    it("a narrowed permission is taken from every creds file: the user's signing key is replaced, earlier creds refused and their connections closed — by a push, no reload", async () => {
      const withReads = (reads: boolean) =>
        parseSecurity(
          { ...rawSecurity, users: rawSecurity.users.map((u) => (u.name === "pattern-service" && reads ? { ...u, reads: { kv: ["CLUSTER_METADATA"] } } : u)) },
          topology,
          DEV_JETSTREAM,
        );
      const loadTimes = async () => Promise.all(topology.hosts.flatMap((h) => h.instances).map(async (i) => ((await (await fetch(`${env.running.monitoringUrl(i.serverName)}/varz`)).json()) as { config_load_time: string }).config_load_time));
      const before = await loadTimes();
      // Widen: a new binding; the key stays (older creds can do less, not more).
      const wide = await issueForTest(withReads(true), env.issue);
      expect(wide.rotated).toEqual([]);
      await env.running.pushAccounts(accountPushes(wide, ["pattern-service", "PLATFORM"]));
      const widened = await env.connectAs("pattern-service", hub, wide.creds["pattern-service"]);
      // JetStream answers it (the bucket is not created here: an answer is what the binding grants).
      const reply = await widened.request("$JS.API.STREAM.INFO.KV_CLUSTER_METADATA", "", { timeout: 5_000 });
      expect((reply.json() as { type?: string }).type).toBe("io.nats.jetstream.api.v1.stream_info_response");
      const closed = widened.closed();

      // Narrow: the binding goes; the signing key is replaced, and only pattern-service's account changes hands.
      const narrow = await issueForTest(withReads(false), wide);
      expect(narrow.rotated).toEqual(["signing:pattern-service"]);
      expect(changedAccountsOf(narrow)).toEqual(["PLATFORM", "pattern-service"]);
      await env.running.pushAccounts(accountPushes(narrow, ["pattern-service", "PLATFORM"]));

      expect(await Promise.race([closed.then(() => "closed"), sleep(10_000).then(() => "still open")])).toBe("closed");
      for (const server of [...topology.leaves, ...topology.hub.members].map((i) => i.serverName)) {
        for (const [which, creds] of [["widened", wide.creds["pattern-service"]], ["original", env.issue.creds["pattern-service"]]] as const) {
          await expect(env.connectAs("pattern-service", server, creds), `${which} creds at ${server}`).rejects.toThrow(/authorization violation/i);
        }
      }
      // The new creds work, without the binding; nothing was reloaded.
      const current = await env.connectAs("pattern-service", hub, narrow.creds["pattern-service"]);
      expect(await env.serverErrorDuring(current, async () => void current.publish("$JS.API.STREAM.INFO.KV_CLUSTER_METADATA", ""))).toBeInstanceOf(PermissionViolationError);
      expect(await loadTimes()).toEqual(before);
      env.issue = narrow;
    });

    it("a service removed from config: its account is tombstoned by a push — its live connection is dropped and its creds refused at every server, no reload", async () => {
      const pattern = await env.connectAs("pattern-service", hub);
      const closed = pattern.closed();
      const without = parseSecurity({ ...rawSecurity, users: rawSecurity.users.filter((u) => u.name !== "pattern-service") }, topology, DEV_JETSTREAM);
      const next = await issueForTest(without, env.issue);
      // PLATFORM no longer exports what pattern-service imported; no other JWT changes.
      expect(next.encoded).toEqual(["account:PLATFORM"]);
      expect(next.spec.accounts.map((a) => a.name)).not.toContain("pattern-service");
      await env.running.pushAccounts(accountPushes(next, ["PLATFORM"]));
      const servers = [...topology.leaves, ...topology.hub.members].map((i) => ({ name: i.serverName, url: env.running.clientUrl(i.serverName) }));
      await pushTombstone({
        account: "pattern-service",
        accountPublicKey: env.issue.issued.accounts["pattern-service"].publicKey,
        jwt: env.issue.issued.accounts["pattern-service"].jwt,
        servers,
        creds: env.issue.creds[SYSTEM_MONITOR_USER],
        tombstone: true,
        operatorSeed: env.issue.keys.operator.seed,
        confirmed: [],
        pending: [],
      });

      // The live connection is dropped and new ones are refused, at every server.
      expect(await Promise.race([closed.then(() => "closed"), sleep(10_000).then(() => "still open")])).toBe("closed");
      for (const server of servers.map((s) => s.name)) {
        await expect(env.connectAs("pattern-service", server), server).rejects.toThrow(/authorization violation|maximum account active connections/i);
      }
      // Everyone else keeps working with unchanged creds, and every leaf keeps both links.
      const person = await env.connectAs("person-service", "nats-1");
      expect(person.isClosed()).toBe(false);
      for (const leaf of topology.leaves) {
        const leafz = (await (await fetch(`${env.running.monitoringUrl(leaf.serverName)}/leafz`)).json()) as { leafnodes: number };
        expect(leafz.leafnodes, leaf.serverName).toBe(2);
      }
      env.issue = next;
    });

    it("a leaf that was down during a push has the new account JWTs soon after it is back: its full resolver syncs from the hub over its system link, with no second push", async () => {
      const leaf = "nats-2";
      const accountzJwt = async (server: string, publicKey: string) => {
        const r = await fetch(`${env.running.monitoringUrl(server)}/accountz?acc=${publicKey}`).catch(() => undefined);
        return r?.ok ? ((await r.json()) as { account_detail?: { jwt?: string } }).account_detail?.jwt : undefined;
      };
      // Widen person-service (pattern-service is gone since the test above): PLATFORM and person-service re-encode.
      const wider = parseSecurity(
        { ...rawSecurity, users: rawSecurity.users.filter((u) => u.name !== "pattern-service").map((u) => (u.name === "person-service" ? { ...u, reads: { kv: ["CLUSTER_METADATA"] } } : u)) },
        topology,
        DEV_JETSTREAM,
      );
      const next = await issueForTest(wider, env.issue);
      expect(changedAccountsOf(next)).toEqual(["PLATFORM", "person-service"]);
      const changed = ["PLATFORM", "person-service"].map((name) => ({ name, publicKey: next.issued.accounts[name].publicKey, jwt: next.issued.accounts[name].jwt }));

      await env.running.stopServer(leaf);
      const confirmed = await env.running.pushAccounts(accountPushes(next, ["PLATFORM", "person-service"]));
      for (const a of changed) expect(confirmed[a.name], a.name).not.toContain(leaf);
      await env.running.startServer(leaf);
      // Right after the restart the leaf may still enforce what its resolver directory held; within
      // the resolver's sync interval (5 s) plus the link's setup it holds what the hub has.
      const deadline = Date.now() + 30_000;
      let seen: (string | undefined)[] = [];
      while (Date.now() < deadline) {
        seen = await Promise.all(changed.map((a) => accountzJwt(leaf, a.publicKey)));
        if (seen.every((jwt, i) => jwt === changed[i].jwt)) break;
        await sleep(250);
      }
      expect(seen).toEqual(changed.map((a) => a.jwt));
      env.issue = next;
    }, 90_000);

    it("no seed appears in any file written outside .creds files (configs, logs, contexts, repo)", async () => {
      const skip = new Set(["node_modules", ".tools", ".git"]);
      const found: string[] = [];
      let scanned = 0;
      const walk = (p: string): void => {
        const stat = fs.lstatSync(p, { throwIfNoEntry: false });
        if (!stat || stat.isSymbolicLink()) return;
        if (stat.isDirectory()) {
          for (const entry of fs.readdirSync(p)) if (!skip.has(entry)) walk(path.join(p, entry));
          return;
        }
        if (!stat.isFile() || stat.size > 50 * 1024 * 1024) return;
        scanned++;
        if (SEED_PATTERN.test(fs.readFileSync(p, "latin1"))) found.push(p);
      };
      for (const root of [env.running.dir, secretsDir, PROJECT_ROOT]) walk(root);
      // The scan does find seeds where they belong: each leaf's two link creds and natscli's creds files.
      expect(found.filter((f) => f.startsWith(env.running.dir) && f.endsWith(".creds")).length).toBe(topology.leaves.length * 2);
      expect(found.filter((f) => f.startsWith(secretsDir) && f.endsWith(".creds")).length).toBe(3);
      expect(found.filter((f) => !f.endsWith(".creds"))).toEqual([]);
      expect(scanned).toBeGreaterThan(50);
    });
  });
});

describe.concurrent("no leaf-local stores", () => {
  describe.sequential("operator mode on the dev topology, no leaf-local stores (no deny_imports)", () => {
    const env = useOperatorTopology("security-fanin", [], "127.0.220");
    const { topology } = env;
    const hub = topology.hub.members[0].serverName;

    it("a core subscriber at the hub receives events from every leaf on *.events.>", async () => {
      // Services read the aggregate through their consumers (test/security/services.test.ts); the
      // fan-in of core messages is shown with the JetStream admin, which may subscribe anywhere.
      const projection = await env.connectAs(JETSTREAM_ADMIN_USER, hub);
      const from = new Set<string>();
      projection.subscribe("*.events.>", { callback: (_err, msg) => void from.add(msg.string()) });
      await projection.flush();
      const publishers = await Promise.all(topology.leaves.map((l) => env.connectAs("person-service", l.serverName)));
      // Interest reaches the leaves asynchronously: publish until each leaf's event was seen.
      await eventually(
        "an event from every leaf",
        async () => {
          for (const [i, nc] of publishers.entries()) {
            const leaf = topology.leaves[i].serverName;
            if (!from.has(leaf)) nc.publish("person.events.seen", leaf);
          }
          await Promise.all(publishers.map((nc) => nc.flush()));
          await sleep(100);
          return [...from].sort();
        },
        (seen) => seen.length === topology.leaves.length,
      );
      expect([...from].sort()).toEqual(topology.leaves.map((l) => l.serverName).sort());
    });

    it("projection-service may publish person.projections.summary but not person.events.x", async () => {
      const projection = await env.connectAs("projection-service", hub);
      const watcher = await env.connectAs(JETSTREAM_ADMIN_USER, hub);
      const seen: string[] = [];
      watcher.subscribe("person.>", { callback: (_err, msg) => void seen.push(msg.subject) });
      await watcher.flush();

      const allowed = await env.serverErrorDuring(projection, async () => {
        projection.publish("person.projections.summary", "{}");
        await projection.flush();
      });
      expect(allowed).toBeUndefined();
      const denied = await env.serverErrorDuring(projection, async () => {
        projection.publish("person.events.x", "forged");
        await projection.flush();
      });
      expect(denied).toBeInstanceOf(PermissionViolationError);
      expect((denied as PermissionViolationError).subject).toBe("person.events.x");
      await watcher.flush();
      expect(seen).toEqual(["person.projections.summary"]);
    });
  });
});

/** Accounts whose JWT an issue re-encoded, sorted. */
function changedAccountsOf(issue: TestIssue): string[] {
  return issue.encoded.filter((id) => id.startsWith("account:")).map((id) => id.slice("account:".length)).sort();
}

/** `topology` plus one extra leaf `serverName` on `address`, linked like every other leaf. */
function extraLeaf(topology: Topology, serverName: string, address: string, storeDir: string): Topology {
  const template = topology.leaves[0];
  const leaf: ServerInstance = { ...template, serverName, host: serverName, address, monitoringAddress: address, jetstreamDomain: serverName, storeDir };
  const host = { ...topology.hosts[0], name: serverName, address, roles: ["leaf" as const], instances: [leaf] };
  return { ...topology, hosts: [...topology.hosts, host], leaves: [...topology.leaves, leaf] };
}
