/**
 * LocalNatsServer's CRUD against real nats-server processes (the pinned binary), on this file's
 * loopback addresses 127.0.6.1–127.0.6.19. Every process a test starts is stopped by pid in
 * afterAll, and the temp dir removed, also when a test fails.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  checkLocalServer,
  contentHashes,
  createLocalServer,
  deleteLocalServer,
  diffLocalServer,
  readLocalServer,
  updateLocalServer,
  type LocalServerInputs,
  type LocalServerState,
} from "../../components/local/local-server-crud";
import { localServerProvider } from "../../components/local/local-server";
import { isProcessRunning, natsServerBinary, startNatsServer, stopNatsServer } from "../../components/local/nats-process";
import { isServingConfig } from "../../components/local/process-identity";

let root = "";
/** Every pid any test started or learned about, stopped in afterAll whatever happened. */
const pids = new Set<number>();
const others: number[] = [];

beforeAll(() => {
  root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "cim-local-server-")));
});

afterAll(async () => {
  for (const pid of pids) {
    // Only our nats-servers: a pid recorded here may have been reused since.
    const args = safeCmdline(pid);
    if (args.includes(root)) await stopNatsServer(pid, 5_000);
  }
  for (const pid of others) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  }
  fs.rmSync(root, { recursive: true, force: true });
});

function safeCmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
  } catch {
    return "";
  }
}

/** Inputs for a standalone JetStream server `name` on 127.0.6.<octet>. */
function serverInputs(name: string, octet: number, extraConfig = ""): LocalServerInputs {
  const dataDir = path.join(root, name);
  const address = `127.0.6.${octet}`;
  return {
    serverName: name,
    dataDir,
    monitoringUrl: `http://${address}:8222`,
    configText:
      `server_name: ${name}\nlisten: "${address}:4222"\nhttp: "${address}:8222"\n` +
      `jetstream { store_dir: "${dataDir}", domain: ${name} }\n${extraConfig}`,
    healthTimeoutSeconds: 20,
  };
}

async function create(inputs: LocalServerInputs): Promise<LocalServerState> {
  const { id, outs } = await createLocalServer(inputs);
  pids.add(outs.pid);
  expect(id).toBe(`local-server:${inputs.dataDir}`);
  return outs;
}

async function update(state: LocalServerState, inputs: LocalServerInputs): Promise<LocalServerState> {
  const outs = await updateLocalServer(state, inputs);
  pids.add(outs.pid);
  return outs;
}

async function healthz(monitoringUrl: string): Promise<number> {
  const res = await fetch(`${monitoringUrl}/healthz`, { signal: AbortSignal.timeout(2_000) });
  return res.status;
}

async function varz(monitoringUrl: string): Promise<{ server_name: string; max_payload: number }> {
  const res = await fetch(`${monitoringUrl}/varz`, { signal: AbortSignal.timeout(2_000) });
  return (await res.json()) as { server_name: string; max_payload: number };
}

/** Field 6 of /proc/<pid>/stat: the session id (equal to the pid after setsid). */
function sessionId(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[3]);
}

function mode(file: string): number {
  return fs.statSync(file).mode & 0o777;
}

/** A process that is not a nats-server: what a reused pid looks like. */
function otherProgram(): number {
  const child = spawn("sleep", ["300"], { detached: true, stdio: "ignore" });
  child.unref();
  others.push(child.pid!);
  return child.pid!;
}

describe("checkLocalServer", () => {
  const valid = (): LocalServerInputs => serverInputs("chk", 19);
  it.each<[string, (i: LocalServerInputs) => LocalServerInputs, string]>([
    ["relative dataDir", (i) => ({ ...i, dataDir: "chk" }), "dataDir"],
    ["dataDir not ending in the server name", (i) => ({ ...i, dataDir: path.join(root, "other") }), "dataDir"],
    ["dataDir with '..'", (i) => ({ ...i, dataDir: `${root}/x/../chk` }), "dataDir"],
    ["dataDir at the root", (i) => ({ ...i, dataDir: "/chk" }), "dataDir"],
    ["empty config", (i) => ({ ...i, configText: "  " }), "configText"],
    ["server name with a dot", (i) => ({ ...i, serverName: "a.b", dataDir: path.join(root, "a.b") }), "serverName"],
    ["monitoring URL with a path", (i) => ({ ...i, monitoringUrl: "http://127.0.6.19:8222/healthz" }), "monitoringUrl"],
    ["relative binary", (i) => ({ ...i, binary: "nats-server" }), "binary"],
    ["file escaping the folder", (i) => ({ ...i, files: { "../x.creds": "x" } }), "files.../x.creds"],
    ["absolute file", (i) => ({ ...i, files: { "/etc/x.creds": "x" } }), "files./etc/x.creds"],
    ["file overwriting the config", (i) => ({ ...i, files: { "nats.conf": "x" } }), "files.nats.conf"],
    ["zero health timeout", (i) => ({ ...i, healthTimeoutSeconds: 0 }), "healthTimeoutSeconds"],
  ])("rejects %s", (_what, change, property) => {
    const failures = checkLocalServer(change(valid()));
    expect(failures.map((f) => f.property)).toEqual([property]);
    expect(failures[0].reason.length).toBeGreaterThan(20);
  });

  it("accepts valid inputs with creds files", () => {
    expect(checkLocalServer({ ...valid(), files: { "leaf-link.creds": "x", "creds/svc.creds": "y" } })).toEqual([]);
  });
});

describe("diffLocalServer", () => {
  const base = serverInputs("dif", 18);
  // A state as create would record it, with a pid that is certainly not running.
  const state: LocalServerState = {
    serverName: "dif",
    dataDir: base.dataDir,
    monitoringUrl: base.monitoringUrl,
    configPath: path.join(base.dataDir, "nats.conf"),
    logPath: path.join(base.dataDir, "nats.log"),
    pid: 0,
    running: true,
    ...contentHashes(base),
    fileNames: [],
  };
  it.each<[string, Partial<LocalServerInputs>, string[], string[]]>([
    ["config text", { configText: "server_name: other\n" }, ["configText"], []],
    ["files", { files: { "a.creds": "x" } }, ["files"], []],
    ["monitoring URL", { monitoringUrl: "http://127.0.6.18:9999" }, ["monitoringUrl"], []],
    ["binary", { binary: "/opt/nats-server" }, ["binary"], []],
    ["data dir", { dataDir: path.join(root || "/tmp", "elsewhere", "dif") }, ["dataDir"], ["dataDir"]],
    ["server name", { serverName: "dif2" }, ["serverName"], ["serverName"]],
  ])("a changed %s is seen (and replaces only when it names another server)", (_what, change, changed, replaces) => {
    const d = diffLocalServer(state, { ...base, ...change });
    expect(d.changes).toBe(true);
    // Every diff also notices that pid 0 is not running.
    expect(d.changed).toEqual([...changed, "running"]);
    expect(d.replaces).toEqual(replaces);
    expect(d.deleteBeforeReplace).toBe(replaces.length > 0);
  });
});

describe("LocalNatsServer against real nats-server processes", () => {
  it("create writes the folder 0600, starts a detached nats-server and waits until it is healthy", async () => {
    const inputs = { ...serverInputs("alpha", 1), files: { "leaf-link.creds": "-----BEGIN NATS USER JWT-----\nsecret\n" } };
    const state = await create(inputs);

    expect(isServingConfig(state.pid, state.configPath)).toBe(true);
    expect(state.running).toBe(true);
    expect(await healthz(inputs.monitoringUrl)).toBe(200);
    expect((await varz(inputs.monitoringUrl)).server_name).toBe("alpha");
    // Its own session: Pulumi killing the provider's process group must not take it down.
    expect(sessionId(state.pid)).toBe(state.pid);
    expect(mode(state.configPath)).toBe(0o600);
    expect(mode(path.join(inputs.dataDir, "leaf-link.creds"))).toBe(0o600);
    expect(mode(inputs.dataDir)).toBe(0o700);
    expect(fs.readFileSync(path.join(inputs.dataDir, "leaf-link.creds"), "utf8")).toContain("secret");
    // The recorded state keeps hashes, never the config text or file contents.
    expect(JSON.stringify(state)).not.toContain("secret");
    expect(JSON.stringify(state)).not.toContain("jetstream {");
    expect(diffLocalServer(state, inputs).changes).toBe(false);

    await deleteLocalServer(state);
  });

  it("update restarts in place with the new config and keeps the JetStream data", async () => {
    const inputs = serverInputs("bravo", 2);
    const before = await create(inputs);
    const nc = await connect({ servers: "nats://127.0.6.2:4222" });
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: "KEEP", subjects: ["keep.>"] });
      await jetstream(nc).publish("keep.one", "payload-1");
    } finally {
      await nc.close();
    }
    const changed = { ...inputs, configText: inputs.configText + "max_payload: 2MB\n", files: { "a.creds": "A" } };
    expect(diffLocalServer(before, changed).changed).toEqual(["configText", "files"]);

    const after = await update(before, changed);

    expect(after.pid).not.toBe(before.pid);
    expect(isProcessRunning(before.pid) && isServingConfig(before.pid, before.configPath)).toBe(false);
    expect(isServingConfig(after.pid, after.configPath)).toBe(true);
    expect((await varz(inputs.monitoringUrl)).max_payload).toBe(2 * 1024 * 1024);
    const nc2 = await connect({ servers: "nats://127.0.6.2:4222" });
    try {
      const info = await (await jetstreamManager(nc2)).streams.info("KEEP");
      expect(info.state.messages).toBe(1);
    } finally {
      await nc2.close();
    }
    // Files no longer declared are removed on the next update.
    const fewer = await update(after, { ...changed, files: {} });
    expect(fs.existsSync(path.join(inputs.dataDir, "a.creds"))).toBe(false);
    expect(fewer.fileNames).toEqual([]);

    await deleteLocalServer(fewer);
  });

  it("read after the process was killed reports it not running, and update starts it again", async () => {
    const inputs = serverInputs("charlie", 3);
    const state = await create(inputs);
    process.kill(state.pid, "SIGKILL");
    await waitUntil(() => !isProcessRunning(state.pid));

    const read = readLocalServer(`local-server:${inputs.dataDir}`, state);
    expect(read.props.running).toBe(false);
    expect(diffLocalServer(read.props, inputs)).toMatchObject({ changes: true, changed: ["running"], replaces: [] });

    const restarted = await update(read.props, inputs);
    expect(isServingConfig(restarted.pid, restarted.configPath)).toBe(true);
    expect(await healthz(inputs.monitoringUrl)).toBe(200);
    expect(readLocalServer(`local-server:${inputs.dataDir}`, restarted).props.running).toBe(true);

    await deleteLocalServer(restarted);
  });

  it("delete stops the process by its pid and removes the folder", async () => {
    const inputs = serverInputs("delta", 4);
    const state = await create(inputs);

    await deleteLocalServer(state);

    expect(isProcessRunning(state.pid)).toBe(false);
    expect(fs.existsSync(inputs.dataDir)).toBe(false);
    await expect(fetch(`${inputs.monitoringUrl}/healthz`, { signal: AbortSignal.timeout(1_000) })).rejects.toThrow();
    // Deleting again (already gone) is fine.
    await deleteLocalServer(state);
  });

  it("a stale pid that now names another program is never signalled", async () => {
    const inputs = serverInputs("echo", 5);
    const state = await create(inputs);
    await stopNatsServer(state.pid, 5_000);
    const stranger = otherProgram();
    const stale: LocalServerState = { ...state, pid: stranger };

    expect(readLocalServer(`local-server:${inputs.dataDir}`, stale).props.running).toBe(false);
    expect(diffLocalServer(stale, inputs).changed).toEqual(["running"]);
    const restarted = await update(stale, inputs);
    await deleteLocalServer({ ...restarted, pid: stranger });

    expect(isProcessRunning(stranger)).toBe(true);
    // The real server was still found through its pid file and stopped.
    expect(isProcessRunning(restarted.pid)).toBe(false);
    expect(fs.existsSync(inputs.dataDir)).toBe(false);
  });

  it("a stale pid that names another nats-server (another config) is never signalled", async () => {
    const neighbour = await create(serverInputs("foxtrot", 6));
    const inputs = serverInputs("golf", 7);
    const state = await create(inputs);

    await deleteLocalServer({ ...state, pid: neighbour.pid });

    expect(isServingConfig(neighbour.pid, neighbour.configPath)).toBe(true);
    expect(isProcessRunning(state.pid)).toBe(false);
    await deleteLocalServer(neighbour);
  });

  it("create refuses to start where another server already answers", async () => {
    const first = await create(serverInputs("hotel", 8));
    // Another folder, same address and ports.
    const clash = { ...serverInputs("india", 8) };

    await expect(createLocalServer(clash)).rejects.toThrow(/already answers at http:\/\/127\.0\.6\.8:8222/);
    expect(isServingConfig(first.pid, first.configPath)).toBe(true);
    await deleteLocalServer(first);
  });

  it("create that never becomes healthy stops its process and shows the log", async () => {
    const inputs = serverInputs("juliet", 9, "bogus_directive_that_nats_rejects: {{{\n");

    await expect(createLocalServer(inputs)).rejects.toThrow(/did not become healthy[\s\S]*log \(/);
    const leftovers = fs
      .readdirSync("/proc")
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => safeCmdline(Number(p)).includes(path.join(inputs.dataDir, "nats.conf")));
    expect(leftovers).toEqual([]);
  });

  it("create adopts nothing: a stray server of this folder (lost state) is stopped before the new one starts", async () => {
    const inputs = serverInputs("kilo", 10);
    const lost = await create(inputs);

    const fresh = await create(inputs);

    expect(isProcessRunning(lost.pid)).toBe(false);
    expect(isServingConfig(fresh.pid, fresh.configPath)).toBe(true);
    await deleteLocalServer(fresh);
  });
});

describe("the provider as Pulumi runs it: serialized, deserialized, then called", () => {
  it("round-trips through Pulumi's closure serializer and still checks, creates, diffs, reads and deletes", async () => {
    const serialized = await pulumi.runtime.serializeFunction(() => localServerProvider);
    // Small: the closure holds paths and names, not the CRUD code.
    expect(serialized.text.length).toBeLessThan(4_000);
    // The same loader the dynamic provider process uses.
    const requireFromString = require("require-from-string") as (code: string) => { handler: () => pulumi.dynamic.ResourceProvider };
    const provider = requireFromString(serialized.text).handler();

    const inputs = { ...serverInputs("lima", 11), files: { "leaf-link.creds": "x" } };
    expect((await provider.check!({}, inputs)).failures).toEqual([]);
    const bad = await provider.check!({}, { ...inputs, files: { "nats.conf": "x" } });
    expect(bad.failures?.map((f) => f.property)).toEqual(["files.nats.conf"]);

    const { id, outs } = await provider.create(inputs);
    pids.add(outs.pid);
    expect(isServingConfig(outs.pid, outs.configPath)).toBe(true);
    expect((await provider.diff!(id, outs, inputs)).changes).toBe(false);
    expect((await provider.read!(id, outs)).props.running).toBe(true);
    await provider.delete!(id, outs);
    expect(isProcessRunning(outs.pid)).toBe(false);
    expect(fs.existsSync(inputs.dataDir)).toBe(false);
  });
});

describe("the binary", () => {
  it("is the pinned nats-server under .tools/bin", () => {
    expect(fs.existsSync(natsServerBinary())).toBe(true);
  });

  it("startNatsServer names the config with -c, which is what isServingConfig looks for", async () => {
    const dir = path.join(root, "mike");
    fs.mkdirSync(dir);
    const conf = path.join(dir, "nats.conf");
    fs.writeFileSync(conf, 'listen: "127.0.6.12:4222"\n');
    const { pid } = await startNatsServer({ configPath: conf, logPath: path.join(dir, "nats.log") });
    pids.add(pid);
    await waitUntil(() => isServingConfig(pid, conf));
    expect(isServingConfig(pid, path.join(dir, "other.conf"))).toBe(false);
    await stopNatsServer(pid, 5_000);
  });
});

async function waitUntil(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 25));
  }
}
