/**
 * LocalNatsServer updates against real nats-server processes (127.0.22.1–9): reload by SIGHUP
 * when nats-server can (same pid, verified by /varz and the effect), restart when it cannot, a
 * refused reload falling back to a restart, lame duck stops, and the store id marker that makes
 * a wiped JetStream store visible as drift.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readRenderedConf } from "../../components/local/conf-reader";
import {
  createLocalServer,
  deleteLocalServer,
  diffLocalServer,
  planLocalServerUpdate,
  readLocalServer,
  updateLocalServer,
  type LocalServerInputs,
  type LocalServerState,
} from "../../components/local/local-server-crud";
import { checkLocalServerProvider } from "../../components/local/local-server-provider";
import { isProcessRunning, stopNatsServer } from "../../components/local/nats-process";
import { formatNatsConf, type NatsConfTree } from "../../components/render/nats-conf";
import { serverConfigTree } from "../../components/render/nats-server-config";
import { STORE_ID_FILE } from "../../components/local/store-identity";
import { reloadSecurity, smallTopology, tempDir } from "./reload-support";

let root = "";
const pids = new Set<number>();

beforeAll(() => {
  root = tempDir("cim-local-reload-");
});

afterAll(async () => {
  for (const pid of pids) {
    let args = "";
    try {
      args = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
    } catch {
      continue;
    }
    if (args.includes(root)) await stopNatsServer(pid, 5_000);
  }
  fs.rmSync(root, { recursive: true, force: true });
});

/** A standalone JetStream server as the renderers would write it, on 127.0.22.<octet>. */
function tree(name: string, octet: number, overrides: Record<string, unknown> = {}): NatsConfTree {
  const address = `127.0.22.${octet}`;
  const dataDir = path.join(root, name);
  return {
    server_name: name,
    listen: `${address}:4222`,
    http: `${address}:8222`,
    jetstream: { store_dir: dataDir, domain: name, max_mem: "32M", max_file: "256M", ...((overrides.jetstream as object) ?? {}) },
    lame_duck_duration: "30s",
    lame_duck_grace_period: "1s",
    ...Object.fromEntries(Object.entries(overrides).filter(([k]) => k !== "jetstream")),
  } as NatsConfTree;
}

function inputs(name: string, octet: number, t: NatsConfTree = tree(name, octet)): LocalServerInputs {
  return {
    serverName: name,
    dataDir: path.join(root, name),
    monitoringUrl: `http://127.0.22.${octet}:8222`,
    configText: `# ${name}: test server\n${formatNatsConf(t)}`,
    healthTimeoutSeconds: 20,
    stopTimeoutSeconds: 40,
  };
}

async function create(i: LocalServerInputs): Promise<LocalServerState> {
  const { outs } = await createLocalServer(i);
  pids.add(outs.pid);
  return outs;
}

async function update(state: LocalServerState, i: LocalServerInputs): Promise<LocalServerState> {
  const outs = await updateLocalServer(state, i);
  pids.add(outs.pid);
  return outs;
}

type Varz = { config_load_time: string; start: string; jetstream: { config: { max_storage: number; domain: string } } };
async function varz(monitoringUrl: string): Promise<Varz> {
  const res = await fetch(`${monitoringUrl}/varz`, { signal: AbortSignal.timeout(2_000) });
  return (await res.json()) as Varz;
}

describe("readRenderedConf", () => {
  it("reads back every rendered leaf and hub config exactly", async () => {
    const t = smallTopology({ prefix: "127.0.22", hubs: 3 }, path.join(root, "stores"));
    const sec = await reloadSecurity(t, path.join(root, "creds"));
    const security = sec.serverSecurity(await sec.appJwt(["x"]));
    for (const server of ["h1", "h1-hub", "h2", "h3-hub"]) {
      const rendered = serverConfigTree(t, server, security);
      expect(readRenderedConf(`# header\n${formatNatsConf(rendered)}`)).toEqual(rendered);
    }
  });

  it.each([
    ["a bare word", "jetstream { domain: hub }\n"],
    ["a variable", 'x: $VAR\n'],
    ["a second include in one block", 'include "a.conf"\ninclude "b.conf"\n'],
    ["an unterminated block", 'a { b: "c"\n'],
  ])("gives undefined for %s (the update then restarts, to be safe)", (_what, text) => {
    expect(readRenderedConf(text)).toBeUndefined();
  });

  it("reads formatNatsConf's include directive back as the key `include` (the route-auth file of a hub member)", () => {
    const tree = { cluster: { name: "c", include: "cluster-auth.conf" } };
    const text = formatNatsConf(tree);
    expect(text).toMatch(/^\s*include "cluster-auth\.conf"$/m);
    expect(readRenderedConf(text)).toEqual(tree);
  });
});

describe("LocalNatsServer reload or restart", () => {
  it("a reloadable change (jetstream max_file raised) is a SIGHUP: same pid, config_load_time advanced, new limit in force", async () => {
    const a = inputs("rl-a", 1);
    const before = await create(a);
    const loaded = (await varz(a.monitoringUrl)).config_load_time;
    const raised = inputs("rl-a", 1, tree("rl-a", 1, { jetstream: { max_file: "512M" } }));
    expect(planLocalServerUpdate(before, raised)).toMatchObject({ action: "reload" });

    const after = await update(before, raised);

    expect(after.pid).toBe(before.pid);
    expect(after.lastChange).toMatch(/^reloaded: jetstream\.max_file 256M -> 512M/);
    const v = await varz(a.monitoringUrl);
    expect(v.config_load_time).not.toBe(loaded);
    expect(v.jetstream.config.max_storage).toBe(512 * 1024 * 1024);
    expect(after.storeId).toBe(before.storeId);
    await deleteLocalServer(after);
  });

  it("a restart-only change (JetStream domain) restarts in place: new pid, data and store id kept", async () => {
    const b = inputs("rl-b", 2);
    const before = await create(b);
    const nc = await connect({ servers: "nats://127.0.22.2:4222" });
    await (await jetstreamManager(nc)).streams.add({ name: "KEEP", subjects: ["keep.>"] });
    await nc.request("keep.one", "x");
    await nc.close();
    const renamed = inputs("rl-b", 2, tree("rl-b", 2, { jetstream: { domain: "other" } }));
    expect(planLocalServerUpdate(before, renamed)).toMatchObject({ action: "restart" });

    const after = await update(before, renamed);

    expect(after.pid).not.toBe(before.pid);
    expect(isProcessRunning(before.pid)).toBe(false);
    expect(after.lastChange).toMatch(/^restarted: jetstream\.domain rl-b -> other/);
    expect((await varz(b.monitoringUrl)).jetstream.config.domain).toBe("other");
    expect(after.storeId).toBe(before.storeId);
    const nc2 = await connect({ servers: "nats://127.0.22.2:4222" });
    expect((await (await jetstreamManager(nc2)).streams.info("KEEP")).state.messages).toBe(1);
    await nc2.close();
    // The stop was a lame duck one.
    expect(fs.readFileSync(after.logPath, "utf8")).toContain("Entering lame duck mode");
    await deleteLocalServer(after);
  });

  it("a reload nats-server refuses falls back to a restart, and says so in the server's log", async () => {
    const c = inputs("rl-c", 3);
    const before = await create(c);
    // Someone edited the config on disk without telling the server: the classifier compares the
    // file (server_name already new) with the new text and says reload; the server compares what
    // it runs and refuses (server_name is restart-only).
    const edited = inputs("rl-c", 3, tree("rl-c", 3, { server_name: "rl-c-edited" }));
    fs.writeFileSync(before.configPath, edited.configText);
    const next = inputs("rl-c", 3, tree("rl-c", 3, { server_name: "rl-c-edited", jetstream: { max_file: "512M" } }));
    expect(planLocalServerUpdate(before, next)).toMatchObject({ action: "reload" });

    const after = await update(before, next);

    expect(after.pid).not.toBe(before.pid);
    expect(after.lastChange).toMatch(/^restarted: nats-server refused the reload \(config reload not supported for ServerName/);
    expect(fs.readFileSync(after.logPath, "utf8")).toMatch(/\[cim-nats\] .* nats-server refused the reload .* so restarting instead/);
    expect(((await varz(c.monitoringUrl)) as unknown as { server_name: string }).server_name).toBe("rl-c-edited");
    await deleteLocalServer(after);
  });

  it("a config the stack did not render restarts (it cannot be classified)", async () => {
    const d = inputs("rl-d", 4);
    const before = await create(d);
    const handWritten = { ...d, configText: d.configText + "max_payload: 2MB\n" };
    expect(planLocalServerUpdate(before, handWritten)).toMatchObject({ action: "restart", because: [expect.stringMatching(/cannot be classified/)] });
    const unchanged = planLocalServerUpdate(before, d);
    expect(unchanged).toEqual({ action: "none", because: [] });
    await deleteLocalServer(before);
  });
});

describe("store identity", () => {
  it("create writes a marker with the state's store id; check hands it to preview", async () => {
    const e = inputs("st-e", 5);
    const state = await create(e);
    expect(state.storeId).toMatch(/^[0-9a-f-]{36}$/);
    expect(fs.readFileSync(path.join(e.dataDir, STORE_ID_FILE), "utf8").trim()).toBe(state.storeId);
    expect((await checkLocalServerProvider(undefined, e)).inputs.storeId).toBe(state.storeId);
    expect(diffLocalServer(state, e).changes).toBe(false);
    await deleteLocalServer(state);
    expect((await checkLocalServerProvider(undefined, e)).inputs.storeId).toBeUndefined();
  });

  it("a store wiped while the server was down is drift: read and diff see it, update restarts with a new id", async () => {
    const f = inputs("st-f", 6);
    const before = await create(f);
    const nc = await connect({ servers: "nats://127.0.22.6:4222" });
    await (await jetstreamManager(nc)).streams.add({ name: "GONE", subjects: ["gone.>"] });
    await nc.close();
    // The disk is replaced: the server is down and its JetStream folder is gone.
    await stopNatsServer(before.pid, 5_000);
    fs.rmSync(path.join(f.dataDir, "jetstream"), { recursive: true, force: true });

    expect(diffLocalServer(before, f).changed).toEqual(["storeId", "running"]);
    // A refresh records the store as gone (""), and the next diff still sees the drift.
    const refreshed = readLocalServer(`local-server:${f.dataDir}`, before).props;
    expect(refreshed.storeId).toBe("");
    expect(diffLocalServer(refreshed, f).changed).toEqual(["storeId", "running"]);
    expect((await checkLocalServerProvider(undefined, f)).inputs.storeId).toBeUndefined();

    const after = await update(before, f);

    expect(after.storeId).toBeDefined();
    expect(after.storeId).not.toBe(before.storeId);
    expect(fs.readFileSync(path.join(f.dataDir, STORE_ID_FILE), "utf8").trim()).toBe(after.storeId);
    expect(after.lastChange).toMatch(/JetStream store was wiped/);
    expect(diffLocalServer(after, f).changes).toBe(false);
    await deleteLocalServer(after);
  });

  it("a marker removed under a running server is drift too, and update writes a new one", async () => {
    const g = inputs("st-g", 7);
    const before = await create(g);
    fs.rmSync(path.join(g.dataDir, STORE_ID_FILE));
    expect(diffLocalServer(before, g).changed).toEqual(["storeId"]);

    const after = await update(before, g);

    expect(after.pid).not.toBe(before.pid);
    expect(after.storeId).not.toBe(before.storeId);
    expect(diffLocalServer(after, g).changes).toBe(false);
    await deleteLocalServer(after);
  });

  it("a state recorded before store ids gets its first marker on the next update, without drift before it", async () => {
    const h = inputs("st-h", 8);
    const created = await create(h);
    const { storeId: _id, ...old } = created;
    fs.rmSync(path.join(h.dataDir, STORE_ID_FILE));
    expect(diffLocalServer(old, h).changes).toBe(false);
    const files = { ...h, files: { "a.creds": "A" } };
    const after = await update(old, files);
    expect(after.pid).toBe(created.pid);
    expect(after.storeId).toMatch(/^[0-9a-f-]{36}$/);
    await deleteLocalServer(after);
  });
});
