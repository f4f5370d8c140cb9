/**
 * Bring your own identities, on real servers: the pinned nsc makes an operator, a JetStream
 * account and users as a site did by hand; a server runs the way nsc sets one up (its generated
 * resolver config, `nsc push`); a stream made with the nats CLI holds events published with the
 * nsc creds. Then the stack takes over: the same store under the stack's rendered configs (a leaf
 * and a one-member hub on 127.0.200.x), keys read from the nsc store (provided-identities.ts,
 * nsc-store.ts), JWTs issued through the real provider functions (the identity plan) and pushed
 * as the stack pushes them. The nsc creds of declared users keep publishing with acks, the
 * stack's own users are accepted by the same servers, the stream's messages and sequences are
 * unchanged, a user declared narrower than its nsc JWT is revoked, and nsc reads the stack's JWT.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { credsAuthenticator, type NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNatsServer, stopNatsServer, waitHealthy } from "../../components/local/nats-process";
import { renderServerConfig } from "../../components/render/nats-server-config";
import { pushAccountJwt } from "../../components/security/jwt-push";
import { readNscStore } from "../../components/security/nsc-store";
import { parseSecurity } from "../../components/security/parse";
import { generatedIdentities, identitiesFromNsc, type ProvidedIdentities } from "../../components/security/provided-identities";
import { buildServerSecurity } from "../../components/security/server-security";
import { JETSTREAM_ADMIN_USER, type SecuritySpec } from "../../components/security/types";
import { parseTopology } from "../../components/topology/parse";
import { withDataDir } from "../../components/topology/rebase";
import type { Topology } from "../../components/topology/types";
import { nscHome } from "../support/nsc";
import { PROJECT_ROOT } from "../support/stack-config";
import { accountPushes, issueForTest, leafLinkFiles, type TestIssue } from "./support/issue";

const run = promisify(execFile);
const BIN = path.join(PROJECT_ROOT, ".tools", "bin");
const NATS_CLI = path.join(BIN, "nats");
const LEAF = { address: "127.0.200.2", client: "nats://127.0.200.2:4222", monitoring: "http://127.0.200.2:8222" };
const HUB = { client: "nats://127.0.200.1:4223", monitoring: "http://127.0.200.1:8223" };
const EVENTS_BEFORE = 25;
const ALL_CONNECTION_TYPES = ["STANDARD", "WEBSOCKET", "LEAFNODE", "LEAFNODE_WS", "MQTT", "MQTT_WS", "IN_PROCESS"];

const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "cim-nats-nsc-adopt-")));
const pids: number[] = [];

const home = nscHome(dir);
const nsc = home.nsc;
const nscCreds = (user: string) => home.creds("PLATFORM", user);

async function connectWith(url: string, creds: string): Promise<NatsConnection> {
  return connect({ servers: url, authenticator: credsAuthenticator(new TextEncoder().encode(creds)), reconnect: false, timeout: 5_000 });
}

/** Publishes one event with an ack; returns the stream sequence the ack names. */
async function publishAcked(url: string, creds: string, subject: string): Promise<number> {
  const nc = await connectWith(url, creds);
  try {
    return (await jetstream(nc, { domain: "edge" }).publish(subject, "event")).seq;
  } finally {
    await nc.close();
  }
}

async function streamState(url: string, creds: string): Promise<{ messages: number; first_seq: number; last_seq: number }> {
  const nc = await connectWith(url, creds);
  try {
    const info = await (await jetstreamManager(nc, { domain: "edge" })).streams.info("ORDERS");
    return { messages: info.state.messages, first_seq: info.state.first_seq, last_seq: info.state.last_seq };
  } finally {
    await nc.close();
  }
}

async function start(name: string, configText: string, monitoring: string): Promise<number> {
  const configPath = path.join(dir, `${name}.conf`);
  fs.writeFileSync(configPath, configText, { mode: 0o600 });
  const { pid } = await startNatsServer({ configPath, logPath: path.join(dir, `${name}.log`) });
  pids.push(pid);
  await waitHealthy(monitoring, 30_000, pid);
  return pid;
}

async function stop(pid: number): Promise<void> {
  await stopNatsServer(pid, 15_000);
  pids.splice(pids.indexOf(pid), 1);
}

const topology: Topology = withDataDir(
  parseTopology(
    {
      hub: { replicas: 1 },
      hosts: [
        { name: "solo", vmid: 300, node: "pve1", address: "127.0.200.1", roles: ["hub"] },
        { name: "edge", vmid: 301, node: "pve1", address: LEAF.address, roles: ["leaf"] },
      ],
    },
    { name: "nsc-adopt" },
  ),
  path.join(dir, "store"),
);

/** What the stack declares: the nsc accounts, the nsc users it keeps, one it narrows, the keys from the store. */
function declared(identities: Record<string, unknown>): SecuritySpec {
  return parseSecurity(
    {
      operator: "COWBOY_AI",
      accounts: [{ name: "PLATFORM", jetstream: { maxMemory: -1, maxFile: -1 } }],
      users: [
        // Declared as nsc made them (no permissions: any subject, any connection type): their nsc creds stay valid.
        { name: "legacy", account: "PLATFORM", connectionTypes: ALL_CONNECTION_TYPES },
        { name: "signed", account: "PLATFORM", connectionTypes: ALL_CONNECTION_TYPES },
        // Declared narrower than its nsc JWT: the stack's rule for a narrowing revokes the old creds.
        { name: "narrowed", account: "PLATFORM", publish: { allow: ["orders.>", "$JS.API.>", "$JS.edge.API.>"] } },
      ],
      identities,
    },
    topology,
  );
}

let spec: SecuritySpec;
let provided: ProvidedIdentities;
let issue: TestIssue;
let signingKey: string;
let beforeState: { messages: number; first_seq: number; last_seq: number };
let nscOperator: string;
let nscPlatform: string;

afterAll(async () => {
  for (const pid of [...pids]) await stopNatsServer(pid, 15_000);
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("a site made with nsc, adopted with its own keys", () => {
  beforeAll(async () => {
    // 1. The site as it runs today: nsc's operator, a JetStream account, users; a server set up the nsc way.
    await nsc("add", "operator", "--sys", "-n", "COWBOY_AI");
    await nsc("edit", "operator", "--service-url", LEAF.client);
    await nsc("add", "account", "-n", "PLATFORM");
    await nsc("edit", "account", "-n", "PLATFORM", "--js-mem-storage", "-1", "--js-disk-storage", "-1", "--js-streams", "-1", "--js-consumer", "-1");
    const sk = await nsc("edit", "account", "-n", "PLATFORM", "--sk", "generate");
    signingKey = /added signing key "(A[A-Z2-7]{55})"/.exec(sk)?.[1] ?? "";
    expect(signingKey, sk).toMatch(/^A/);
    await nsc("add", "user", "-a", "PLATFORM", "-n", "legacy");
    await nsc("add", "user", "-a", "PLATFORM", "-n", "signed", "-K", signingKey);
    await nsc("add", "user", "-a", "PLATFORM", "-n", "narrowed");
    await nsc("generate", "config", "--nats-resolver", "--sys-account", "SYS", "--config-file", path.join(dir, "resolver.conf"));
    const resolver = fs.readFileSync(path.join(dir, "resolver.conf"), "utf8").replace(/dir:\s*'\.\/jwt'/, `dir: '${path.join(dir, "hand-jwt")}'`);
    fs.writeFileSync(path.join(dir, "resolver.conf"), resolver);
    const store = topology.leaves[0].storeDir;
    const hand = await start(
      "hand-made",
      `server_name: edge\nlisten: "${LEAF.address}:4222"\nhttp: "${LEAF.address}:8222"\njetstream { store_dir: "${store}", domain: edge }\ninclude "resolver.conf"\n`,
      LEAF.monitoring,
    );
    await nsc("push", "-a", "PLATFORM", "-u", LEAF.client);
    // 2. A stream made with the nats CLI, events published with the nsc creds and acked.
    fs.writeFileSync(path.join(dir, "legacy.creds"), nscCreds("legacy"), { mode: 0o600 });
    await run(NATS_CLI, ["--server", LEAF.client, "--creds", path.join(dir, "legacy.creds"), "stream", "add", "ORDERS", "--subjects", "orders.>", "--storage", "file", "--defaults"], { env: { ...process.env, HOME: dir } });
    for (let i = 1; i <= EVENTS_BEFORE; i++) expect(await publishAcked(LEAF.client, nscCreds(i % 2 ? "legacy" : "signed"), "orders.created")).toBe(i);
    beforeState = await streamState(LEAF.client, nscCreds("legacy"));
    const nscStore = readNscStore(home.dataDir, "COWBOY_AI");
    nscOperator = nscStore.operator.publicKey;
    nscPlatform = nscStore.accounts.find((a) => a.name === "PLATFORM")!.publicKey;
    await stop(hand);

    // 3. The stack takes over: keys from the store, the same JetStream store under its own config.
    spec = declared({ source: "nsc", dir: home.dataDir });
    provided = identitiesFromNsc(spec, readNscStore(home.dataDir, "COWBOY_AI"));
    issue = await issueForTest(spec, undefined, provided);
    const credsDir = path.join(dir, "creds");
    for (const [rel, text] of Object.entries(leafLinkFiles(issue))) {
      fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      fs.writeFileSync(path.join(dir, rel), text, { mode: 0o600 });
    }
    const security = buildServerSecurity(spec, issue.issued, credsDir);
    await start("solo-hub", renderServerConfig(topology, "solo-hub", security), HUB.monitoring);
    await start("edge", renderServerConfig(topology, "edge", security), LEAF.monitoring);
    const pushes = accountPushes(issue);
    for (const a of pushes.accounts) {
      await pushAccountJwt({ account: a.account, accountPublicKey: a.publicKey, jwt: a.jwt, servers: [{ name: "solo-hub", url: HUB.client }, { name: "edge", url: LEAF.client }], creds: pushes.creds });
    }
  }, 120_000);

  it("signs with the nsc operator and account keys, read from the store (seeds provided, none generated)", () => {
    expect(Object.keys(provided.seeds).sort()).toEqual(["account:PLATFORM", "account:SYS", "operator"]);
    expect(issue.keys.operator.publicKey).toBe(nscOperator);
    expect(issue.keys.operator.provided).toBe(true);
    expect(issue.keys["account:PLATFORM"].publicKey).toBe(nscPlatform);
    // The stack's JWT for PLATFORM keeps nsc's signing key and revokes exactly the narrowed user's nsc JWT.
    const claims = issue.jwts["account:PLATFORM"].claims as { signing_keys: string[]; revocations: Record<string, number> };
    expect(claims.signing_keys).toContain(signingKey);
    const narrowedKey = readNscStore(home.dataDir, "COWBOY_AI").accounts.find((a) => a.name === "PLATFORM")!.users.find((u) => u.name === "narrowed")!.publicKey;
    expect(Object.keys(claims.revocations)).toEqual([narrowedKey]);
    expect(provided.notes).toEqual([
      "PLATFORM/legacy: nsc creds keep working (declared with the same or wider permissions)",
      "PLATFORM/narrowed: nsc creds revoked: its nsc JWT allows more than declared (declare the same permissions and connection types to keep them)",
      "PLATFORM/signed: nsc creds keep working (declared with the same or wider permissions)",
      // nsc's own system user (`nsc add operator --sys`): not declared, kept (its creds sign nsc push).
      "SYS/sys: nsc creds keep working, not declared (undeclaredUsers: keep)",
    ]);
  });

  it("keeps the stream: every message and sequence as before, in the store the nsc-run server wrote", async () => {
    expect(await streamState(LEAF.client, issue.creds[JETSTREAM_ADMIN_USER])).toEqual(beforeState);
    expect(beforeState).toEqual({ messages: EVENTS_BEFORE, first_seq: 1, last_seq: EVENTS_BEFORE });
  });

  it("accepts the nsc creds of declared users (signed by the account key and by nsc's signing key): acked publishes continue the sequence", async () => {
    expect(await publishAcked(LEAF.client, nscCreds("legacy"), "orders.created")).toBe(EVENTS_BEFORE + 1);
    expect(await publishAcked(LEAF.client, nscCreds("signed"), "orders.created")).toBe(EVENTS_BEFORE + 2);
  });

  it("accepts the stack's own users on the same servers (its creds for legacy, the JetStream admin) and refuses the narrowed user's nsc creds", async () => {
    expect(await publishAcked(LEAF.client, issue.creds.legacy, "orders.created")).toBe(EVENTS_BEFORE + 3);
    expect(await publishAcked(LEAF.client, issue.creds.narrowed, "orders.created")).toBe(EVENTS_BEFORE + 4);
    await expect(connectWith(LEAF.client, nscCreds("narrowed"))).rejects.toThrow(/Authorization Violation/i);
    // The hub (a server the nsc site never had) knows the nsc account too: the admin's JetStream answers there.
    const hub = await connectWith(HUB.client, issue.creds[JETSTREAM_ADMIN_USER]);
    try {
      const info = await (await jetstreamManager(hub, { domain: "hub" })).getAccountInfo();
      expect(info.streams).toBe(0);
    } finally {
      await hub.close();
    }
  });

  it("nsc reads the stack's account JWT: the same account, issued by the nsc operator, with nsc's signing key", async () => {
    const file = path.join(dir, "stack-PLATFORM.jwt");
    fs.writeFileSync(file, issue.jwts["account:PLATFORM"].jwt);
    const described = JSON.parse(await nsc("describe", "jwt", "-f", file, "--json"));
    expect(described.sub).toBe(nscPlatform);
    expect(described.iss).toBe(nscOperator);
    expect(described.nats.signing_keys).toContain(signingKey);
  });

  it("refuses to switch a key from provided to generated, and says why; allowSwitch lets it happen", async () => {
    const generated = declared({ source: "generated" });
    await expect(issueForTest(generated, issue, generatedIdentities(generated))).rejects.toThrow(
      /operator: allowSwitch: this operator key would switch from the provided key O[A-Z2-7]{55} to a newly generated one: every JWT it signed is re-issued and every creds file issued before stops working\. If that is what you want, set `cim-nats:security.identities.allowSwitch: true`/,
    );
    const allowed = declared({ source: "generated", allowSwitch: true });
    const switched = await issueForTest(allowed, issue, generatedIdentities(allowed));
    expect(switched.rotated).toEqual(expect.arrayContaining(["operator", "account:PLATFORM", "account:SYS"]));
    expect(switched.keys.operator.publicKey).not.toBe(nscOperator);
  });

  it("keeps seeds out of every file it wrote but creds and nsc's own keystore", () => {
    const leaks: string[] = [];
    const walk = (d: string) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (!p.startsWith(home.keysDir) && !p.endsWith(".creds") && /\bS[OAU][A-Z2-7]{56}\b/.test(fs.readFileSync(p, "latin1"))) leaks.push(path.relative(dir, p));
      }
    };
    walk(dir);
    expect(leaks).toEqual([]);
  });
});
