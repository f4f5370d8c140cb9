/**
 * The reload table (components/render/reload-rules.ts) against the pinned nats-server 2.15.2:
 * for each setting the renderers write, a running server gets the changed config and SIGHUP, and
 * it must accept the reload (/varz config_load_time advances) exactly when the classifier says
 * "reload" — a refused reload leaves "Failed to reload server configuration" in its log.
 * Loopback 127.0.20.1–127.0.20.9 only; one server at a time.
 */
import { withDenyImportsTag } from "../../components/render/remote-identity";
import * as fs from "node:fs";
import * as path from "node:path";
import { createOperator, encodeOperator } from "@nats-io/jwt";
import { credsAuthenticator } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reloadNatsServer, startNatsServer, stopNatsServer, type ReloadOutcome } from "../../components/local/nats-process";
import { formatNatsConf, type NatsConfTree } from "../../components/render/nats-conf";
import { serverConfigTree } from "../../components/render/nats-server-config";
import { classifyConfigChange, parseNatsSize, RELOAD_RULES, restartOnlyView } from "../../components/render/reload-rules";
import { pushAccountJwt } from "../../components/security/jwt-push";
import type { Topology } from "../../components/topology/types";
import { reloadSecurity, smallTopology, tempDir, type ReloadSecurity } from "../local/reload-support";

const PREFIX = "127.0.20";
let dir = "";
let topology: Topology;
let sec: ReloadSecurity;
let baseLeaf: NatsConfTree;
let baseHub: NatsConfTree;
let otherOperatorJwt = "";
const credsDir = () => path.join(dir, "creds");
const live = new Set<number>();

beforeAll(async () => {
  dir = tempDir("cim-reload-rules-");
  topology = smallTopology({ prefix: PREFIX, hubs: 3 }, path.join(dir, "stores"));
  sec = await reloadSecurity(topology, credsDir());
  fs.mkdirSync(credsDir(), { recursive: true });
  for (const [name, text] of Object.entries(sec.leafLinkFiles)) {
    fs.writeFileSync(path.join(credsDir(), name), text, { mode: 0o600 });
    fs.writeFileSync(path.join(credsDir(), `copy-${name}`), text, { mode: 0o600 });
  }
  const security = sec.serverSecurity(await sec.appJwt());
  baseLeaf = serverConfigTree(topology, "h1", security);
  baseHub = serverConfigTree(topology, "h1-hub", security);
  otherOperatorJwt = await encodeOperator("OTHER_OPERATOR", createOperator(), { system_account: sec.systemAccount });
});

afterAll(async () => {
  for (const pid of live) await stopNatsServer(pid, 5_000);
  fs.rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A deep, mutable copy of a tree (tests edit it in place). */
function copy(tree: NatsConfTree): Record<string, any> {
  return JSON.parse(JSON.stringify(tree));
}

async function waitVarz(monitoringUrl: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const res = await fetch(`${monitoringUrl}/varz`, { signal: AbortSignal.timeout(1_000) });
      if (res.ok) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`${monitoringUrl}/varz never answered (see the case's nats.log)`);
    await sleep(50);
  }
}

/** Runs `base` in a fresh nats-server, swaps in `changed`, sends SIGHUP and reports what the server did. */
async function sighup(base: NatsConfTree, changed: NatsConfTree, caseName: string): Promise<ReloadOutcome> {
  const caseDir = path.join(dir, "cases", caseName.replace(/[^A-Za-z0-9_-]+/g, "_"));
  fs.mkdirSync(caseDir, { recursive: true });
  fs.rmSync(path.join(dir, "stores"), { recursive: true, force: true });
  const configPath = path.join(caseDir, "nats.conf");
  const logPath = path.join(caseDir, "nats.log");
  fs.writeFileSync(configPath, formatNatsConf(base));
  const { pid } = await startNatsServer({ configPath, logPath });
  live.add(pid);
  try {
    const monitoringUrl = `http://${String(base.http)}`;
    await waitVarz(monitoringUrl);
    fs.writeFileSync(configPath, formatNatsConf(changed));
    return await reloadNatsServer(pid, monitoringUrl, logPath, 10_000);
  } finally {
    await stopNatsServer(pid, 5_000);
    live.delete(pid);
  }
}

type Edit = (t: Record<string, any>) => void;
const leafRemote = (t: Record<string, any>) => t.leafnodes.remotes[0];

/** Every setting the renderers write, changed one way or another: [case, base, edit]. */
const CASES: [string, "leaf" | "hub", Edit][] = [
  ["server_name", "leaf", (t) => (t.server_name = "h1-renamed")],
  ["listen (client port)", "leaf", (t) => (t.listen = `${PREFIX}.1:14222`)],
  ["http (monitoring port)", "leaf", (t) => (t.http = `${PREFIX}.1:18222`)],
  ["jetstream.store_dir", "leaf", (t) => (t.jetstream.store_dir = `${t.jetstream.store_dir}-moved`)],
  ["jetstream.domain", "leaf", (t) => (t.jetstream.domain = "elsewhere")],
  ["jetstream.max_mem increase", "leaf", (t) => (t.jetstream.max_mem = "128M")],
  ["jetstream.max_mem decrease", "leaf", (t) => (t.jetstream.max_mem = "32M")],
  ["jetstream.max_file increase", "leaf", (t) => (t.jetstream.max_file = "2G")],
  ["jetstream.max_file decrease", "leaf", (t) => (t.jetstream.max_file = "512M")],
  ["jetstream.max_file decrease on a hub member", "hub", (t) => (t.jetstream.max_file = "512M")],
  ["jetstream.sync_interval from always to a duration", "leaf", (t) => (t.jetstream.sync_interval = "1s")],
  ["jetstream.sync_interval from always to a duration on a hub member", "hub", (t) => (t.jetstream.sync_interval = "5s")],
  ["lame_duck_duration", "leaf", (t) => (t.lame_duck_duration = "31s")],
  ["lame_duck_grace_period", "leaf", (t) => (t.lame_duck_grace_period = "2s")],
  ["leafnodes.remotes[].urls (one hub member fewer)", "leaf", (t) => leafRemote(t).urls.pop()],
  ["leafnodes.remotes[].credentials (another path)", "leaf", (t) => (leafRemote(t).credentials = path.join(credsDir(), "copy-leaf-h1.creds"))],
  ["leafnodes.remotes[].deny_imports (same remote)", "leaf", (t) => leafRemote(t).deny_imports.push("order.events.>")],
  ["leafnodes.remotes[].deny_imports removed (same remote)", "leaf", (t) => delete leafRemote(t).deny_imports],
  [
    "leafnodes.remotes[].deny_imports with their digest in the urls (as the stack renders them: remove + add)",
    "leaf",
    (t) => {
      const remote = leafRemote(t);
      remote.deny_imports.push("order.events.>");
      remote.urls = remote.urls.map((u: string) => withDenyImportsTag(u.split("?")[0], remote.deny_imports));
    },
  ],
  [
    "leafnodes.remotes[].deny_imports with new urls (remove + add)",
    "leaf",
    (t) => {
      leafRemote(t).deny_imports.push("order.events.>");
      leafRemote(t).urls.pop();
    },
  ],
  ["leafnodes.remotes added", "leaf", (t) => t.leafnodes.remotes.push({ ...leafRemote(t), urls: [`nats-leaf://${PREFIX}.9:7422`] })],
  ["operator", "leaf", (t) => (t.operator = otherOperatorJwt)],
  ["system_account", "leaf", (t) => (t.system_account = sec.appAccount)],
  ["cluster.name", "hub", (t) => (t.cluster.name = "other-hub")],
  ["cluster.listen", "hub", (t) => (t.cluster.listen = `${PREFIX}.1:16222`)],
  ["cluster.routes (one member fewer)", "hub", (t) => t.cluster.routes.pop()],
  ["leafnodes.listen", "hub", (t) => (t.leafnodes.listen = `${PREFIX}.1:17422`)],
];

describe("the reload table matches nats-server 2.15.2", () => {
  it("covers every key a rendered leaf and hub config has", () => {
    const paths = (t: NatsConfTree, prefix = ""): string[] =>
      Object.entries(t).flatMap(([k, v]) => {
        const p = prefix ? `${prefix}.${k}` : k;
        if (k === "remotes" && Array.isArray(v)) return Object.keys(v[0] as NatsConfTree).map((f) => `${p}[].${f}`);
        // The resolver block and the preloads are classified whole.
        if (typeof v === "object" && !Array.isArray(v) && k !== "resolver_preload" && k !== "resolver") return paths(v as NatsConfTree, p);
        return [p];
      });
    const rendered = new Set([...paths(baseLeaf), ...paths(baseHub)]);
    expect([...rendered].filter((p) => !(p in RELOAD_RULES))).toEqual([]);
  });

  it.each(CASES)("%s: nats-server reloads it exactly when the classifier says reload", async (name, which, edit) => {
    const base = which === "leaf" ? baseLeaf : baseHub;
    const changed = copy(base);
    edit(changed);
    const verdict = classifyConfigChange(base, changed);
    expect(verdict.kind).not.toBe("none");
    // A restart-only change must change the restart view (what prod hashes into restartTriggers).
    if (verdict.kind === "restart") expect(restartOnlyView(changed)).not.toEqual(restartOnlyView(base));
    const outcome = await sighup(base, changed, name);
    const server = outcome.applied ? "reload" : "restart";
    expect({ case: name, server, why: outcome.applied ? "" : outcome.reason }).toMatchObject({ case: name, server: verdict.kind });
  });

  it("a revocation arrives by push, with no reload: the revoked user is refused and her connection closed; a later reload with the old preload does not bring her back", async () => {
    const caseDir = path.join(dir, "cases", "revocation");
    fs.mkdirSync(caseDir, { recursive: true });
    fs.rmSync(path.join(dir, "stores"), { recursive: true, force: true });
    const configPath = path.join(caseDir, "nats.conf");
    const logPath = path.join(caseDir, "nats.log");
    fs.writeFileSync(configPath, formatNatsConf(baseLeaf));
    const { pid } = await startNatsServer({ configPath, logPath });
    live.add(pid);
    const url = `nats://${String(baseLeaf.listen)}`;
    const monitoringUrl = `http://${String(baseLeaf.http)}`;
    const as = async (user: string) => connect({ servers: url, authenticator: credsAuthenticator(new TextEncoder().encode(await sec.creds(user))), reconnect: false });
    try {
      await waitVarz(monitoringUrl);
      const alice = await as("alice");
      const bob = await as("bob");
      const aliceClosed = alice.closed();
      const loadTime = async () => ((await (await fetch(`${monitoringUrl}/varz`)).json()) as { config_load_time: string }).config_load_time;
      const loadedAt = await loadTime();

      // JWT iat counts seconds, and the resolvers keep the newer one: issue the revocation a second later.
      await sleep(1_100);
      const pushed = await pushAccountJwt({ account: "PLATFORM", accountPublicKey: sec.appAccount, jwt: await sec.appJwt(["alice"]), servers: [{ name: "h1", url }], creds: await sec.systemCreds("pusher") });
      expect(pushed).toEqual({ confirmed: ["h1"], pending: [] });
      expect(await loadTime()).toBe(loadedAt);

      const closedWith = await Promise.race([aliceClosed.then((e: Error | void) => `closed: ${String(e)}`), sleep(5_000).then(() => "still open")]);
      expect(closedWith).toMatch(/^closed/);
      await expect(as("alice")).rejects.toThrow(/authoriz|revoked/i);
      expect(bob.isClosed()).toBe(false);

      // A reload re-reads the preload (the older JWT): the resolver keeps the newer, pushed one.
      expect(classifyConfigChange(baseLeaf, baseLeaf).kind).toBe("none");
      expect(await reloadNatsServer(pid, monitoringUrl, logPath, 10_000)).toEqual({ applied: true });
      await expect(as("alice")).rejects.toThrow(/authoriz|revoked/i);
      await bob.flush();
      const bob2 = await as("bob");
      await bob2.close();
      await bob.close();
    } finally {
      await stopNatsServer(pid, 5_000);
      live.delete(pid);
    }
  });
});

describe("classifyConfigChange (pure)", () => {
  it("an identical tree is no change, whatever the key order", () => {
    const reordered = Object.fromEntries(Object.entries(baseHub).reverse());
    expect(classifyConfigChange(baseHub, reordered)).toEqual({ kind: "none", restartBecause: [], reloadBecause: [] });
  });

  it("an unknown key restarts (the safe answer), and says so", () => {
    const v = classifyConfigChange(baseLeaf, { ...baseLeaf, max_payload: 2_097_152 });
    expect(v.kind).toBe("restart");
    expect(v.restartBecause[0]).toMatch(/max_payload .*not in the reload table/);
  });

  it("lists every reason: a reloadable and a restart-only change together restart", () => {
    const t = copy(baseHub);
    t.cluster.routes.pop();
    t.server_name = "x";
    const v = classifyConfigChange(baseHub, t);
    expect(v.kind).toBe("restart");
    expect(v.restartBecause.join("\n")).toMatch(/server_name/);
    expect(v.reloadBecause.join("\n")).toMatch(/cluster\.routes/);
  });

  it("names a resolver_preload change without printing the JWTs", async () => {
    const t = copy(baseLeaf);
    t.resolver_preload[sec.appAccount] = await sec.appJwt(["carol"]);
    const v = classifyConfigChange(baseLeaf, t);
    expect(v).toMatchObject({ kind: "reload", restartBecause: [] });
    expect(v.reloadBecause.join("\n")).not.toMatch(/eyJ/);
  });

  it.each([
    ["1G", 1024 ** 3],
    ["512M", 512 * 1024 ** 2],
    ["64MB", 64 * 1024 ** 2],
    ["2GiB", 2 * 1024 ** 3],
    [1000, 1000],
    ["lots", undefined],
  ])("parseNatsSize(%j) = %j", (input, bytes) => {
    expect(parseNatsSize(input)).toBe(bytes);
  });

  it("docs/changes.md has a row for every setting in the table, with its verdict", () => {
    const doc = fs.readFileSync(path.join(__dirname, "..", "..", "docs", "changes.md"), "utf8");
    const rows = doc.split("\n").filter((l) => l.startsWith("| `"));
    for (const [key, rule] of Object.entries(RELOAD_RULES)) {
      if (key === "leafnodes.remotes[+/-]") continue; // "a remote added or removed"
      const row = rows.find((r) => r.split("|")[1].includes(`\`${key}\``));
      expect(row, `docs/changes.md: no row for ${key}`).toBeDefined();
      expect(row!.split("|")[2]).toContain(rule.change);
    }
  });

  it("restartOnlyView leaves out what reloads: routes, remotes' urls, resolver_preload", async () => {
    const t = copy(baseLeaf);
    leafRemote(t).urls.pop();
    t.resolver_preload[sec.appAccount] = await sec.appJwt(["dave"]);
    expect(restartOnlyView(t)).toEqual(restartOnlyView(baseLeaf));
    const h = copy(baseHub);
    h.cluster.routes.pop();
    h.cluster.name = "renamed";
    expect(restartOnlyView(h)).toEqual(restartOnlyView(baseHub));
  });
});
