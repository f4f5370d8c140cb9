/**
 * A whole topology as real local nats-server processes, for tests: every instance rendered into
 * a temp dir, started, and waited for until it is healthy and its routes and leafnode links are
 * up. `stop()` kills them all and removes the dir; so does process exit, as a last resort.
 *
 * Tests must pass a topology rebased onto their own loopback block (rebaseAddresses), since
 * other test files run at the same time.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { startNatsServer, stopNatsServer, waitHealthy } from "../components/local/nats-process";
import { renderServerConfig } from "../components/render/nats-server-config";
import type { LinkCredentials, ServerSecurity } from "../components/render/server-security";
import { pushAccountJwt } from "../components/security/jwt-push";
import { instanceEndpoints } from "../components/topology/endpoints";
import { withDataDir } from "../components/topology/rebase";
import type { ServerInstance, Topology } from "../components/topology/types";

/** An account JWT to push to every server (operator mode: servers run the full resolver). */
export type AccountToPush = { readonly account: string; readonly publicKey: string; readonly jwt: string };
/** What `pushAccounts` needs: the system user's creds, and the JWTs. */
export type AccountPushes = { readonly creds: string; readonly accounts: readonly AccountToPush[] };

export type StartTopologyOptions = {
  /** Operator mode. Relative `leafLinks[*].*.credentialsPath` values are resolved against the temp dir. */
  readonly security?: ServerSecurity;
  /**
   * Operator mode: account JWTs pushed to every server once they are healthy, before the links
   * are awaited (the leaf links authenticate with keys only the pushed JWTs list), as `up` does.
   */
  readonly pushes?: AccountPushes;
  /** Extra files (e.g. creds), path relative to the temp dir → content; written 0600 before any server starts. */
  readonly files?: Readonly<Record<string, string>>;
  /** How long to wait for health, routes and leafnode links. Default 60 s. */
  readonly timeoutMs?: number;
  /**
   * Runs after the temp dir exists and before any server starts (e.g. mounts LazyFS where the
   * stores go); what it returns runs at stop(), after the servers are gone and before the dir is
   * removed (e.g. unmounts).
   */
  readonly beforeStart?: (running: Topology, dir: string) => Promise<(() => Promise<void>) | void>;
  /** A command that execs a server (start and restart), e.g. `ip netns exec <ns>`; none by default. */
  readonly serverPrefix?: (serverName: string) => readonly string[] | undefined;
};

/** What `reload` may change before it signals the servers. */
export type TopologyUpdate = {
  /** New security (e.g. an account JWT added to the resolver preload). */
  readonly security?: ServerSecurity;
  /** Files to (over)write in the temp dir, as in StartTopologyOptions.files. */
  readonly files?: Readonly<Record<string, string>>;
};

export type RunningTopology = {
  /** The topology as running: store dirs re-rooted under `dir`. */
  readonly topology: Topology;
  /** `nats://address:clientPort` of a server. */
  clientUrl(serverName: string): string;
  /** `http://address:monitoringPort` of a server. */
  monitoringUrl(serverName: string): string;
  /** Temp dir holding configs (`<server>.conf`), logs (`<server>.log`), store dirs and extra files. */
  readonly dir: string;
  /** Stops every server and removes `dir`. Idempotent. */
  stop(): Promise<void>;
  /**
   * Re-renders the config of one server (default: all), applies `update` first, sends SIGHUP and
   * waits until the server has loaded the new config and is healthy again.
   */
  reload(serverName?: string, update?: TopologyUpdate): Promise<void>;
  /** Stops one server (its store stays), e.g. to cut leaves off the hub. */
  stopServer(serverName: string): Promise<void>;
  /** Starts a stopped server again from its config and store; waits until it is healthy. */
  startServer(serverName: string): Promise<void>;
  /** `kill -9` of one server (a crash: no lame duck, no flush); waits until it is gone. */
  killServer(serverName: string): Promise<void>;
  /** The pid of a running server (undefined when stopped). */
  pidOf(serverName: string): number | undefined;
  /**
   * Pushes account JWTs to every running server (as the stack's AccountJwtPush does); returns the
   * servers that confirmed each. Throws when a server refuses one.
   */
  pushAccounts(pushes: AccountPushes): Promise<Record<string, string[]>>;
};

/** Servers and dirs still alive in this process; killed and removed on exit if a test forgot. */
const live = new Map<string, number[]>();
process.once("exit", () => {
  for (const [dir, pids] of live) {
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

function instancesOf(topology: Topology): ServerInstance[] {
  // Hub members first, so leaves find a listener on their first attempt.
  const all = topology.hosts.flatMap((h) => h.instances);
  return [...all.filter((i) => i.kind === "hub"), ...all.filter((i) => i.kind === "leaf")];
}

function writeFiles(dir: string, files: Readonly<Record<string, string>>): void {
  for (const [rel, content] of Object.entries(files)) {
    const target = path.resolve(dir, rel);
    if (path.isAbsolute(rel) || !target.startsWith(dir + path.sep)) {
      throw new Error(`files key '${rel}' must be a path inside the topology dir (relative, no '..')`);
    }
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, content, { mode: 0o600 });
  }
}

function resolveSecurity(dir: string, security: ServerSecurity | undefined): ServerSecurity | undefined {
  if (!security) return undefined;
  const resolve = (l: LinkCredentials) => ({ ...l, credentialsPath: path.resolve(dir, l.credentialsPath) });
  const leafLinks = Object.fromEntries(
    Object.entries(security.leafLinks).map(([server, links]) => [server, { application: resolve(links.application), system: resolve(links.system) }]),
  );
  return { ...security, leafLinks };
}

function logTail(logPath: string, lines = 15): string {
  try {
    return fs.readFileSync(logPath, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` (which returns "" when satisfied, else what is missing) until it passes. */
async function waitFor(what: string, timeoutMs: number, check: () => Promise<string>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let missing = "";
  for (;;) {
    try {
      missing = await check();
    } catch (err) {
      missing = (err as Error).message;
    }
    if (missing === "") return;
    if (Date.now() >= deadline) throw new Error(`${what} not reached within ${timeoutMs} ms: ${missing}`);
    await sleep(100);
  }
}

/** "" when every hub member routes to every other member (/routez), else what is missing. */
async function missingRoutes(topology: Topology, monitoringUrl: (s: string) => string): Promise<string> {
  const problems: string[] = [];
  for (const member of topology.hub.members) {
    const routez = await getJson<{ routes?: { remote_name?: string }[] }>(`${monitoringUrl(member.serverName)}/routez`);
    const peers = new Set((routez.routes ?? []).map((r) => r.remote_name));
    const absent = topology.hub.members.filter((m) => m.serverName !== member.serverName && !peers.has(m.serverName));
    if (absent.length > 0) problems.push(`${member.serverName} has no route to ${absent.map((m) => m.serverName).join(", ")}`);
  }
  return problems.join("; ");
}

/**
 * "" when the hub's JetStream meta group has a leader that sees every other member current, else
 * what is missing. Healthy servers and a full route mesh are not yet enough to place an R3 stream:
 * under load a placement right after them failed with "no suitable peers for placement, peer offline".
 */
async function metaGroupNotReady(topology: Topology, monitoringUrl: (s: string) => string): Promise<string> {
  const members = topology.hub.members;
  if (members.length < 2) return "";
  type Jsz = { server_name?: string; meta_cluster?: { leader?: string; replicas?: { name: string; current?: boolean; offline?: boolean }[] } };
  for (const member of members) {
    const jsz = await getJson<Jsz>(`${monitoringUrl(member.serverName)}/jsz`);
    const meta = jsz.meta_cluster;
    if (!meta?.leader || meta.leader !== member.serverName) continue;
    const current = new Set((meta.replicas ?? []).filter((r) => r.current && !r.offline).map((r) => r.name));
    const behind = members.filter((m) => m.serverName !== member.serverName && !current.has(m.serverName));
    return behind.length ? `meta leader ${member.serverName} does not see ${behind.map((m) => m.serverName).join(", ")} current` : "";
  }
  return "no hub member is the JetStream meta leader yet";
}

/** "" when every leaf has all its leafnode links up (/leafz; operator mode: application and system), else what is missing. */
async function missingLeafLinks(topology: Topology, monitoringUrl: (s: string) => string, linksPerLeaf: number): Promise<string> {
  const problems: string[] = [];
  for (const leaf of topology.leaves) {
    const leafz = await getJson<{ leafnodes?: number }>(`${monitoringUrl(leaf.serverName)}/leafz`);
    if ((leafz.leafnodes ?? 0) < linksPerLeaf) problems.push(`${leaf.serverName} has ${leafz.leafnodes ?? 0} of ${linksPerLeaf} leafnode links`);
  }
  return problems.join("; ");
}

/** Starts every server of `topology` as a local process and waits until the mesh is up. */
export async function startTopology(topology: Topology, options: StartTopologyOptions = {}): Promise<RunningTopology> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), `cim-nats-${topology.name}-`)));
  const running = withDataDir(topology, path.join(dir, "jetstream"));
  const instances = instancesOf(running);
  const byName = new Map(instances.map((i) => [i.serverName, i]));
  const pids = new Map<string, number>();
  live.set(dir, []);
  let security = resolveSecurity(dir, options.security);

  const instance = (serverName: string): ServerInstance => {
    const found = byName.get(serverName);
    if (!found) throw new Error(`no server '${serverName}' in the running topology; known: ${[...byName.keys()].join(", ")}`);
    return found;
  };
  const clientUrl = (s: string) => instanceEndpoints(instance(s)).clientUrl;
  const monitoringUrl = (s: string) => instanceEndpoints(instance(s)).monitoringUrl;
  const configPath = (s: string) => path.join(dir, `${s}.conf`);
  const logPath = (s: string) => path.join(dir, `${s}.log`);
  const writeConfig = (s: string) => fs.writeFileSync(configPath(s), renderServerConfig(running, s, security), { mode: 0o600 });
  const logs = () => instances.map((i) => `--- ${i.serverName}.log ---\n${logTail(logPath(i.serverName))}`).join("\n");

  let stopped = false;
  let cleanup: (() => Promise<void>) | void;
  const pushAccounts = async (pushes: AccountPushes): Promise<Record<string, string[]>> => {
    const servers = instances.filter((i) => pids.has(i.serverName)).map((i) => ({ name: i.serverName, url: clientUrl(i.serverName) }));
    const confirmed: Record<string, string[]> = {};
    for (const a of pushes.accounts) {
      confirmed[a.account] = (await pushAccountJwt({ account: a.account, accountPublicKey: a.publicKey, jwt: a.jwt, servers, creds: pushes.creds })).confirmed;
    }
    return confirmed;
  };

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await Promise.all([...pids.values()].map((pid) => stopNatsServer(pid, 10_000)));
    if (cleanup) await cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
    live.delete(dir);
  };
  const start = (s: string) => startNatsServer({ configPath: configPath(s), logPath: logPath(s), prefix: options.serverPrefix?.(s) });

  try {
    if (options.beforeStart) cleanup = await options.beforeStart(running, dir);
    if (options.files) writeFiles(dir, options.files);
    for (const i of instances) writeConfig(i.serverName);
    for (const i of instances) {
      const { pid } = await start(i.serverName);
      pids.set(i.serverName, pid);
      live.get(dir)!.push(pid);
    }
    await Promise.all(instances.map((i) => waitHealthy(monitoringUrl(i.serverName), timeoutMs, pids.get(i.serverName))));
    if (options.pushes) await pushAccounts(options.pushes);
    await waitFor("full hub route mesh", timeoutMs, () => missingRoutes(running, monitoringUrl));
    await waitFor("JetStream meta group", timeoutMs, () => metaGroupNotReady(running, monitoringUrl));
    await waitFor("leafnode links", timeoutMs, () => missingLeafLinks(running, monitoringUrl, security ? 2 : 1));
  } catch (err) {
    const message = `${(err as Error).message}\n${logs()}`;
    await stop();
    throw new Error(`startTopology('${topology.name}') failed: ${message}`);
  }

  const reload = async (serverName?: string, update: TopologyUpdate = {}): Promise<void> => {
    if (stopped) throw new Error("reload after stop()");
    if (update.files) writeFiles(dir, update.files);
    if (update.security) security = resolveSecurity(dir, update.security);
    const targets = serverName ? [instance(serverName)] : instances;
    for (const t of targets) {
      const url = `${monitoringUrl(t.serverName)}/varz`;
      const before = (await getJson<{ config_load_time: string }>(url)).config_load_time;
      writeConfig(t.serverName);
      process.kill(pids.get(t.serverName)!, "SIGHUP");
      try {
        await waitFor(`config reload of ${t.serverName}`, 10_000, async () => {
          const now = (await getJson<{ config_load_time: string }>(url)).config_load_time;
          return now !== before ? "" : "config_load_time unchanged (a rejected config keeps the old one)";
        });
        await waitHealthy(monitoringUrl(t.serverName), timeoutMs, pids.get(t.serverName));
      } catch (err) {
        throw new Error(`${(err as Error).message}\n--- ${t.serverName}.log ---\n${logTail(logPath(t.serverName))}`);
      }
    }
  };

  const stopServer = async (serverName: string): Promise<void> => {
    const pid = pids.get(instance(serverName).serverName);
    if (pid === undefined) return;
    await stopNatsServer(pid, 10_000);
    pids.delete(serverName);
  };
  const startServer = async (serverName: string): Promise<void> => {
    if (stopped) throw new Error("startServer after stop()");
    if (pids.has(serverName)) return;
    const { pid } = await start(instance(serverName).serverName);
    pids.set(serverName, pid);
    live.get(dir)!.push(pid);
  };
  const killServer = async (serverName: string): Promise<void> => {
    const pid = pids.get(instance(serverName).serverName);
    if (pid === undefined) return;
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
    await stopNatsServer(pid, 5_000);
    pids.delete(serverName);
  };

  const pidOf = (serverName: string) => pids.get(instance(serverName).serverName);

  return { topology: running, clientUrl, monitoringUrl, dir, stop, reload, stopServer, startServer, killServer, pidOf, pushAccounts };
}
