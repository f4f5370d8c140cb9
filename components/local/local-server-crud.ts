/**
 * One local nats-server as a resource: plain create/read/diff/update/delete functions over the
 * server's folder and process, called by the LocalNatsServer dynamic provider and directly by
 * tests. Node built-ins, sibling files and the pure reload rules (components/render); the NATS
 * client only inside leader-handoff.ts, loaded when it runs (see local-server.ts for why).
 *
 * - create writes the config, the extra files and a new store id marker, starts nats-server
 *   detached, waits for /healthz (or only `js-server-only` for a hub member that cannot have a
 *   meta leader yet) and records the pid;
 * - update compares the config on disk with the new text (components/render/reload-rules.ts):
 *   a reloadable change rewrites the config and sends SIGHUP (same pid, verified through /varz
 *   config_load_time; a refused reload falls back to a restart and says so in the server's log);
 *   a restart-only change, a changed binary or monitoring URL, a dead process or a wiped store
 *   restarts the server in place (lame duck stop, start, wait until healthy and, for a hub
 *   member, JetStream-current); the folder and its JetStream store stay;
 * - read/diff ask /proc whether the recorded pid is still a nats-server serving this config, and
 *   the store dir whether its id marker is still there, so a dead server or a wiped store shows
 *   as drift and the next `up` repairs it;
 * - delete stops the server (lame duck) by its own pid and removes its folder.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { classifyConfigChange } from "../render/reload-rules";
import { routeTransportChanges } from "../render/route-transport";
import { readRenderedConf } from "./conf-reader";
import { type HealthCheck, reloadNatsServer, startNatsServer, stopNatsServer, waitHealthy, waitJetStreamCurrent } from "./nats-process";
import { handOffLeaderships } from "./leader-handoff";
import { isServingConfig } from "./process-identity";
import { dataDirReason, extraFileReason, logTail, readPidFile, removeServerDir, serverPaths, writeServerFiles } from "./server-dir";
import { storeIdOnDisk, writeNewStoreId } from "./store-identity";

/** What one local server is made of (the provider's inputs, after Pulumi resolved them). */
export type LocalServerInputs = {
  /** `server_name`; also the last segment of `dataDir`. Changing it replaces the server. */
  readonly serverName: string;
  /**
   * nats-server config text (secret when it embeds secrets). A change nats-server can reload is
   * applied by SIGHUP; a restart-only change restarts the server (reload-rules.ts).
   */
  readonly configText: string;
  /**
   * Absolute folder of this server (`.cim-dev/<stack>/<serverName>`): config, log, pid file,
   * extra files and — when the config's `store_dir` points here — the JetStream store.
   * Changing it replaces the server.
   */
  readonly dataDir: string;
  /** `http://<address>:<monitoring port>`, polled for /healthz. Changing it restarts the server. */
  readonly monitoringUrl: string;
  /** nats-server binary. Default: the pinned `.tools/bin/nats-server`. Changing it restarts the server. */
  readonly binary?: string;
  /** Extra files written 0600 into the folder before start, relative path → content (creds). Default none. */
  readonly files?: Readonly<Record<string, string>>;
  /** How long create/update wait for /healthz. Default 60 s. Changing it alone changes nothing. */
  readonly healthTimeoutSeconds?: number;
  /**
   * What create waits for: "full" /healthz (default), or "js-server-only" for a hub member that
   * starts before a quorum of its peers (a lone member answers 503 until a meta leader exists).
   * Updates always wait for the full check (and, clustered, for JetStream to be current).
   */
  readonly createHealthCheck?: HealthCheck;
  /**
   * Seconds a lame duck stop (SIGUSR2) may take before SIGKILL: above the config's
   * `lame_duck_duration`. Default 40. Changing it alone changes nothing.
   */
  readonly stopTimeoutSeconds?: number;
  /**
   * Creds (text) of a user in the JetStream account allowed to call
   * `$JS.API.STREAM.LEADER.STEPDOWN.>` and `$JS.API.CONSUMER.LEADER.STEPDOWN.>`. With it, a hub
   * member's restart first moves its stream and consumer leaderships away through the API, which
   * drops no request, instead of leaving that to lame duck, which drops a few (leader-handoff.ts).
   * Secret; never kept in the state. Default none. Changing it alone changes nothing.
   */
  readonly leaderHandoffCreds?: string;
  /**
   * Filled by check from the store dir (the id marker found there; absent when the store is
   * gone), so preview knows the id that an unchanged store keeps. Not set by callers.
   */
  readonly storeId?: string;
};

/** What the stack records about a running local server. Holds no secret: contents are hashed. */
export type LocalServerState = {
  readonly serverName: string;
  readonly dataDir: string;
  readonly monitoringUrl: string;
  /** Present when the inputs named one. */
  readonly binary?: string;
  readonly configPath: string;
  readonly logPath: string;
  /** The process started by the last create/update. */
  readonly pid: number;
  /** Whether `pid` was a nats-server serving `configPath` when last looked at. */
  readonly running: boolean;
  /** sha256 of the config text, so a change is seen without keeping the text in state. */
  readonly configHash: string;
  /** sha256 over the extra files' names and contents. */
  readonly filesHash: string;
  /** Names of the extra files, so an update removes the ones no longer declared. */
  readonly fileNames: readonly string[];
  /**
   * Identity of the JetStream store: a random id kept in `<store_dir>/cim-store-id`, new when
   * the store is created or found wiped. Streams and buckets take it as an input so they are
   * declared again on a new store. Absent in states recorded before it existed.
   */
  readonly storeId?: string;
  /** What the last create/update did: "created", "reloaded: …", "restarted: …", "files: …" or "none". */
  readonly lastChange?: string;
  /** Seconds a lame duck stop may take before SIGKILL (the inputs' value, so delete knows it). */
  readonly stopTimeoutSeconds?: number;
};

export type CheckFailure = { readonly property: string; readonly reason: string };

/** The result shape Pulumi's dynamic provider expects from diff. */
export type LocalServerDiff = {
  readonly changes: boolean;
  readonly replaces: readonly string[];
  readonly deleteBeforeReplace: boolean;
  /** Why it changes, for messages and tests (e.g. ["configText", "running"]). */
  readonly changed: readonly string[];
};

export const DEFAULT_HEALTH_TIMEOUT_SECONDS = 60;
export const DEFAULT_STOP_TIMEOUT_SECONDS = 40;
const ID_PREFIX = "local-server:";

/** `local-server:<dataDir>`: the folder is what makes a local server unique on the machine. */
export function localServerId(dataDir: string): string {
  return `${ID_PREFIX}${dataDir}`;
}

/** The folder a `local-server:<dataDir>` id names; throws on anything else. */
export function parseLocalServerId(id: string): string {
  if (!id.startsWith(ID_PREFIX) || !path.isAbsolute(id.slice(ID_PREFIX.length))) {
    throw new Error(`malformed local server id '${id}': expected '${ID_PREFIX}<absolute data dir>'`);
  }
  return id.slice(ID_PREFIX.length);
}

/** Every problem with the inputs, each naming the property (empty when valid). */
export function checkLocalServer(inputs: LocalServerInputs): CheckFailure[] {
  const failures: CheckFailure[] = [];
  const fail = (property: string, reason: string) => failures.push({ property, reason });
  if (typeof inputs.serverName !== "string" || !/^[A-Za-z0-9_-]+$/.test(inputs.serverName)) {
    fail("serverName", `server name '${inputs.serverName}' must be letters, digits, '-' or '_'`);
  }
  if (typeof inputs.configText !== "string" || inputs.configText.trim() === "") {
    fail("configText", "config text is empty: pass the rendered nats-server config");
  }
  if (typeof inputs.dataDir !== "string") fail("dataDir", "dataDir must be a string (an absolute folder)");
  else {
    const reason = dataDirReason(inputs.dataDir, inputs.serverName);
    if (reason) fail("dataDir", reason);
  }
  if (typeof inputs.monitoringUrl !== "string" || !/^https?:\/\/[^/]+$/.test(inputs.monitoringUrl)) {
    fail("monitoringUrl", `monitoring URL '${inputs.monitoringUrl}' must look like http://127.0.0.41:8222 (no path)`);
  }
  if (inputs.binary !== undefined && (typeof inputs.binary !== "string" || !path.isAbsolute(inputs.binary))) {
    fail("binary", `binary '${inputs.binary}' must be an absolute path to nats-server, or left out for the pinned one`);
  }
  for (const relpath of Object.keys(inputs.files ?? {})) {
    const reason = extraFileReason(relpath);
    if (reason) fail(`files.${relpath}`, reason);
  }
  const t = inputs.healthTimeoutSeconds;
  if (t !== undefined && !(typeof t === "number" && t > 0 && t <= 600)) {
    fail("healthTimeoutSeconds", `health timeout ${t} must be a number of seconds in (0, 600]`);
  }
  const st = inputs.stopTimeoutSeconds;
  if (st !== undefined && !(typeof st === "number" && st > 0 && st <= 3700)) {
    fail("stopTimeoutSeconds", `stop timeout ${st} must be a number of seconds in (0, 3700], above the lame duck duration`);
  }
  const hc = inputs.createHealthCheck;
  if (hc !== undefined && hc !== "full" && hc !== "js-server-only") {
    fail("createHealthCheck", `create health check '${String(hc)}' must be "full" or "js-server-only"`);
  }
  return failures;
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

function filesHash(files: Readonly<Record<string, string>>): string {
  const sorted = Object.keys(files)
    .sort()
    .map((k) => [k, files[k]]);
  return sha256(JSON.stringify(sorted));
}

/** The hashes the state keeps in place of the config text and file contents. */
export function contentHashes(inputs: Pick<LocalServerInputs, "configText" | "files">): Pick<LocalServerState, "configHash" | "filesHash"> {
  return { configHash: sha256(inputs.configText), filesHash: filesHash(inputs.files ?? {}) };
}

/** Pids that may be our server for this folder: the recorded one and the one in the pid file. */
function candidatePids(state: Pick<LocalServerState, "pid" | "dataDir">): number[] {
  const fromFile = readPidFile(serverPaths(state.dataDir).pidPath);
  return [...new Set([state.pid, fromFile].filter((p): p is number => p !== undefined && p > 0))];
}

function stopTimeoutMs(inputs: Pick<LocalServerInputs, "stopTimeoutSeconds">): number {
  return (inputs.stopTimeoutSeconds ?? DEFAULT_STOP_TIMEOUT_SECONDS) * 1000;
}

/** Stops (lame duck) every process that is a nats-server serving this folder's config; others are left alone. */
async function stopOwnServer(state: Pick<LocalServerState, "pid" | "dataDir">, timeoutMs: number): Promise<void> {
  const { configPath } = serverPaths(state.dataDir);
  for (const pid of candidatePids(state)) {
    if (isServingConfig(pid, configPath)) await stopNatsServer(pid, timeoutMs, { signal: "SIGUSR2" });
  }
}

/** The pid of our server serving this folder's config now, if any. */
function livePid(state: Pick<LocalServerState, "pid" | "dataDir">): number | undefined {
  const { configPath } = serverPaths(state.dataDir);
  return candidatePids(state).find((pid) => isServingConfig(pid, configPath));
}

/** Whether a config runs clustered JetStream (a hub member), read from the text when it can be. */
function isClustered(configText: string): boolean {
  const tree = readRenderedConf(configText);
  return tree ? tree.cluster !== undefined && tree.jetstream !== undefined : /^\s*cluster\s*[:={]/m.test(configText);
}

/** After a (re)start or reload: healthy, and for a hub member JetStream-current, before the next member goes. */
async function waitReady(inputs: LocalServerInputs, pid: number, check: HealthCheck): Promise<void> {
  const timeoutMs = (inputs.healthTimeoutSeconds ?? DEFAULT_HEALTH_TIMEOUT_SECONDS) * 1000;
  if (check === "full" && isClustered(inputs.configText)) await waitJetStreamCurrent(inputs.monitoringUrl, timeoutMs, pid);
  else await waitHealthy(inputs.monitoringUrl, timeoutMs, pid, check);
  // Not the leaf's links: in operator mode they come up only once the account JWTs listing the
  // link users' keys are pushed, which needs every server up; the data account's push waits for them.
  if (check === "full" && !operatorMode(inputs.configText)) await waitLinked(inputs);
}

/** Whether a rendered config runs in operator mode (its links then wait for the JWT pushes, not for the server). */
function operatorMode(configText: string): boolean {
  return readRenderedConf(configText)?.operator !== undefined;
}

/** Leaf remotes in a config (0 for a hub member or a hand-written config). */
function leafRemotes(configText: string): number {
  const leafnodes = readRenderedConf(configText)?.leafnodes;
  const remotes = leafnodes && typeof leafnodes === "object" && !Array.isArray(leafnodes) ? (leafnodes as Record<string, unknown>).remotes : undefined;
  return Array.isArray(remotes) ? remotes.length : 0;
}

/** How long a leaf waits for its hub link before it counts as ready anyway (leaves work cut off). */
const LINK_WAIT_MS = 20_000;

/**
 * A leaf is ready when it is linked to the hub too — what depends on it (an aggregate sourcing its
 * stream) then finds the link up: a source whose first attempts fail is retried on nats-server's
 * backoff (10 s × failures, up to 2 min), which left sources idle for over 30 s after a fresh
 * `up`. A leaf whose hub stays away is ready after LINK_WAIT_MS all the same (noted in its log).
 */
async function waitLinked(inputs: LocalServerInputs): Promise<void> {
  const expected = leafRemotes(inputs.configText);
  if (expected === 0) return;
  const deadline = Date.now() + LINK_WAIT_MS;
  for (;;) {
    try {
      const leafz = (await (await fetch(`${inputs.monitoringUrl}/leafz`, { signal: AbortSignal.timeout(2_000) })).json()) as { leafnodes?: number };
      if ((leafz.leafnodes ?? 0) >= expected) return;
    } catch {
      // not answering yet
    }
    if (Date.now() > deadline) {
      noteInLog(serverPaths(inputs.dataDir).logPath, `not linked to the hub after ${LINK_WAIT_MS / 1000} s; ready anyway (a leaf works cut off)`);
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A line in the server's own log, so whoever reads it sees what the stack did and why. */
function noteInLog(logPath: string, line: string): void {
  try {
    fs.appendFileSync(logPath, `[cim-nats] ${new Date().toISOString()} ${line}\n`);
  } catch {
    // the log is a courtesy; a missing folder shows up elsewhere
  }
}

/** Whether anything answers HTTP at the monitoring URL. */
async function answers(monitoringUrl: string): Promise<boolean> {
  try {
    await fetch(`${monitoringUrl}/healthz`, { signal: AbortSignal.timeout(1_000) });
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes the folder, starts the server and waits until it is ready (`check`); stops it again on
 * failure. Keeps `storeId` when given (the store is still there), else writes a new marker.
 */
async function startServer(inputs: LocalServerInputs, check: HealthCheck, storeId: string | undefined, lastChange: string): Promise<LocalServerState> {
  const files = inputs.files ?? {};
  const paths = writeServerFiles(inputs.dataDir, inputs.configText, files);
  if (await answers(inputs.monitoringUrl)) {
    throw new Error(
      `cannot start '${inputs.serverName}': something already answers at ${inputs.monitoringUrl} ` +
        "(another stack's server, or a stray nats-server); stop it, or give this server another address",
    );
  }
  fs.rmSync(paths.pidPath, { force: true });
  const id = storeId ?? writeNewStoreId(inputs.configText, inputs.dataDir);
  const { pid } = await startNatsServer({
    configPath: paths.configPath,
    logPath: paths.logPath,
    pidPath: paths.pidPath,
    ...(inputs.binary !== undefined ? { binary: inputs.binary } : {}),
  });
  try {
    await waitReady(inputs, pid, check);
    if (!isServingConfig(pid, paths.configPath)) throw new Error(`nats-server pid ${pid} exited after answering /healthz`);
  } catch (err) {
    await stopNatsServer(pid, stopTimeoutMs(inputs), { signal: "SIGUSR2" });
    throw new Error(
      `nats-server '${inputs.serverName}' did not become healthy: ${(err as Error).message}\n` +
        `config: ${paths.configPath}\nlog (${paths.logPath}):\n${logTail(paths.logPath)}`,
    );
  }
  return {
    serverName: inputs.serverName,
    dataDir: inputs.dataDir,
    monitoringUrl: inputs.monitoringUrl,
    ...(inputs.binary !== undefined ? { binary: inputs.binary } : {}),
    configPath: paths.configPath,
    logPath: paths.logPath,
    pid,
    running: true,
    configHash: sha256(inputs.configText),
    filesHash: filesHash(files),
    fileNames: Object.keys(files).sort(),
    storeId: id,
    lastChange,
    ...(inputs.stopTimeoutSeconds !== undefined ? { stopTimeoutSeconds: inputs.stopTimeoutSeconds } : {}),
  };
}

/** Starts a new server (a stray of our own from a lost state, found by its pid file, is stopped first). */
export async function createLocalServer(inputs: LocalServerInputs): Promise<{ id: string; outs: LocalServerState }> {
  await stopOwnServer({ pid: 0, dataDir: inputs.dataDir }, stopTimeoutMs(inputs));
  return { id: localServerId(inputs.dataDir), outs: await startServer(inputs, inputs.createHealthCheck ?? "full", undefined, "created") };
}

/**
 * The recorded state with `running` as /proc sees it now, and `storeId` as the store dir says
 * ("" when the store was wiped, so the next diff still sees drift after a refresh). A
 * restarted-by-hand server is adopted by its pid file.
 */
export function readLocalServer(id: string, state: LocalServerState): { id: string; props: LocalServerState } {
  parseLocalServerId(id);
  const live = livePid(state);
  const props: LocalServerState = { ...state, pid: live ?? state.pid, running: live !== undefined };
  if (state.storeId === undefined) return { id, props };
  const onDisk = configOnDisk(state);
  const storeId = onDisk === undefined ? undefined : storeIdOnDisk(onDisk, state.dataDir);
  return { id, props: { ...props, storeId: storeId ?? "" } };
}

function configOnDisk(state: Pick<LocalServerState, "configPath">): string | undefined {
  try {
    return fs.readFileSync(state.configPath, "utf8");
  } catch {
    return undefined;
  }
}

/** Whether the recorded store is gone (marker missing or different, or the JetStream folder deleted). */
function storeDrifted(state: LocalServerState, configText: string): boolean {
  return state.storeId !== undefined && storeIdOnDisk(configText, state.dataDir) !== state.storeId;
}

/** What changed between the recorded state and new inputs, including a server that is no longer running or a wiped store. */
export function diffLocalServer(state: LocalServerState, inputs: LocalServerInputs): LocalServerDiff {
  const replaces = (["serverName", "dataDir"] as const).filter((k) => state[k] !== inputs[k]);
  const changed: string[] = [...replaces];
  if (state.configHash !== sha256(inputs.configText)) changed.push("configText");
  if (state.filesHash !== filesHash(inputs.files ?? {})) changed.push("files");
  if (state.monitoringUrl !== inputs.monitoringUrl) changed.push("monitoringUrl");
  if (state.binary !== inputs.binary) changed.push("binary");
  if (storeDrifted(state, inputs.configText)) changed.push("storeId");
  if (livePid(state) === undefined) changed.push("running");
  // Same address and ports: the old server must be gone before its replacement can listen.
  return { changes: changed.length > 0, replaces, deleteBeforeReplace: replaces.length > 0, changed };
}

/** How an update applies new inputs to a running server. */
export type LocalServerUpdatePlan = {
  /** "none": nothing to do; "files": rewrite extra files only; "reload": SIGHUP; "restart": stop and start. */
  readonly action: "none" | "files" | "reload" | "restart";
  /** Why, one line each (reload-rules' reasons for a config change). */
  readonly because: readonly string[];
  /**
   * A hub member whose route transport changes (render/route-transport.ts): old and new members
   * cannot route to each other, so this restart waits only for the server, as create does
   * (`createHealthCheck`: the chain's last member waits for the whole cluster).
   */
  readonly transportChange?: readonly string[];
};

/**
 * Reload or restart? Compares the config on disk (what the server runs) with the new text by
 * reload-rules; a text that cannot be read back (not rendered by formatNatsConf) restarts.
 */
export function planLocalServerUpdate(state: LocalServerState, inputs: LocalServerInputs): LocalServerUpdatePlan {
  const restart: string[] = [];
  if (livePid(state) === undefined) restart.push("the server is not running");
  if (state.monitoringUrl !== inputs.monitoringUrl) restart.push(`monitoring URL ${state.monitoringUrl} -> ${inputs.monitoringUrl}`);
  if (state.binary !== inputs.binary) restart.push("another nats-server binary");
  const running = configOnDisk(state);
  if (storeDrifted(state, running ?? inputs.configText)) restart.push("the JetStream store was wiped or replaced (store id marker gone)");
  const configChanged = state.configHash !== sha256(inputs.configText) || running === undefined || sha256(running) !== state.configHash;
  const reload: string[] = [];
  const transport: string[] = [];
  if (configChanged) {
    const oldTree = running === undefined ? undefined : readRenderedConf(running);
    const newTree = readRenderedConf(inputs.configText);
    if (!oldTree || !newTree) restart.push("the config on disk or the new config is not one the stack renders, so it cannot be classified");
    else {
      const change = classifyConfigChange(oldTree, newTree);
      restart.push(...change.restartBecause);
      reload.push(...change.reloadBecause);
      transport.push(...routeTransportChanges(oldTree, newTree));
    }
  }
  if (restart.length > 0) return { action: "restart", because: restart, ...(transport.length > 0 ? { transportChange: transport } : {}) };
  if (reload.length > 0) return { action: "reload", because: reload };
  // nats-server reads certificates, keys, CA files and includes (route authorization) again only
  // on SIGHUP: a changed extra file is a reload (creds-only changes cost a no-op reload).
  if (state.filesHash !== filesHash(inputs.files ?? {})) {
    return { action: "reload", because: ["extra files changed (certificates, keys, CA, cluster include or creds): nats-server re-reads them on SIGHUP"] };
  }
  return { action: "none", because: [] };
}

/** A running hub member with handoff creds: move its JetStream leaderships away before the lame duck stop. */
async function handOffBeforeStop(state: LocalServerState, inputs: LocalServerInputs, logPath: string): Promise<void> {
  const running = configOnDisk(state);
  const tree = running === undefined ? undefined : readRenderedConf(running);
  if (!inputs.leaderHandoffCreds || !tree || tree.cluster === undefined || livePid(state) === undefined) return;
  if (typeof tree.server_name !== "string" || typeof tree.listen !== "string") return;
  try {
    // A TLS client listener: trust the CA file the server itself names (written beside its config).
    const tls = tree.tls;
    const caFile = tls && typeof tls === "object" && !Array.isArray(tls) ? (tls as Record<string, unknown>).ca_file : undefined;
    const { moved, left } = await handOffLeaderships({
      monitoringUrl: state.monitoringUrl,
      serverName: tree.server_name,
      clientUrl: `nats://${tree.listen}`,
      creds: inputs.leaderHandoffCreds,
      ...(typeof caFile === "string" ? { caPem: fs.readFileSync(caFile, "utf8") } : {}),
    });
    if (moved + left.length > 0) {
      noteInLog(logPath, `moved ${moved} JetStream leadership(s) away through the API${left.length ? `; left to lame duck: ${left.join(", ")}` : ""}`);
    }
  } catch (err) {
    noteInLog(logPath, `could not move JetStream leaderships away (${(err as Error).message}); lame duck moves them`);
  }
}

/** Writes the extra files and removes the ones no longer declared. */
function replaceExtraFiles(state: LocalServerState, inputs: LocalServerInputs): void {
  const keep = new Set(Object.keys(inputs.files ?? {}));
  for (const name of state.fileNames ?? []) {
    if (!keep.has(name) && !extraFileReason(name)) fs.rmSync(path.join(state.dataDir, name), { force: true });
  }
  writeServerFiles(inputs.dataDir, inputs.configText, inputs.files ?? {});
}

/**
 * Applies new inputs in place: SIGHUP for a reloadable config change (pid kept, verified by
 * /varz config_load_time; a refused reload restarts instead), a lame duck restart for anything
 * else (waiting until healthy and, for a hub member, JetStream-current). The folder and its
 * JetStream store stay; a wiped store gets a new id.
 */
export async function updateLocalServer(state: LocalServerState, inputs: LocalServerInputs): Promise<LocalServerState> {
  const plan = planLocalServerUpdate(state, inputs);
  const paths = serverPaths(inputs.dataDir);
  const keptStoreId = state.storeId !== undefined && !storeDrifted(state, configOnDisk(state) ?? inputs.configText) ? state.storeId : undefined;
  const why = plan.because.join("; ");
  const recorded = (lastChange: string, pid: number): LocalServerState => ({
    ...state,
    ...(inputs.binary !== undefined ? { binary: inputs.binary } : {}),
    pid,
    running: true,
    configHash: sha256(inputs.configText),
    filesHash: filesHash(inputs.files ?? {}),
    fileNames: Object.keys(inputs.files ?? {}).sort(),
    // A state from before store ids gets its first marker now.
    storeId: keptStoreId ?? storeIdOnDisk(inputs.configText, inputs.dataDir) ?? writeNewStoreId(inputs.configText, inputs.dataDir),
    lastChange,
    ...(inputs.stopTimeoutSeconds !== undefined ? { stopTimeoutSeconds: inputs.stopTimeoutSeconds } : {}),
  });
  if (plan.action === "none" || plan.action === "files") {
    replaceExtraFiles(state, inputs);
    return recorded(plan.action === "files" ? "files: extra files rewritten, no signal needed" : "none", livePid(state)!);
  }
  let restartWhy = why;
  if (plan.action === "reload") {
    const pid = livePid(state)!;
    replaceExtraFiles(state, inputs);
    noteInLog(paths.logPath, `reloading (SIGHUP pid ${pid}): ${why}`);
    const outcome = await reloadNatsServer(pid, inputs.monitoringUrl, paths.logPath, 15_000);
    if (outcome.applied) {
      await waitReady(inputs, pid, "full");
      noteInLog(paths.logPath, `reloaded (pid ${pid} kept), healthy${isClustered(inputs.configText) ? " and JetStream-current" : ""}`);
      return recorded(`reloaded: ${why}`, pid);
    }
    restartWhy = `nats-server refused the reload (${outcome.reason}), so restarting instead`;
    noteInLog(paths.logPath, restartWhy);
  } else {
    noteInLog(paths.logPath, `restarting (lame duck stop, then start): ${why}`);
  }
  // A server found dead (a reboot) starts like a new one: when every hub member is down, the first
  // ones cannot have a meta leader until the later ones in the chain are up.
  const wasRunning = livePid(state) !== undefined;
  await handOffBeforeStop(state, inputs, paths.logPath);
  await stopOwnServer(state, stopTimeoutMs(inputs));
  const keep = new Set(Object.keys(inputs.files ?? {}));
  for (const name of state.fileNames ?? []) {
    if (!keep.has(name) && !extraFileReason(name)) fs.rmSync(path.join(state.dataDir, name), { force: true });
  }
  // A member found dead, or one whose peers still speak the old route transport, waits as create does.
  const check = wasRunning && !plan.transportChange ? "full" : (inputs.createHealthCheck ?? "full");
  if (plan.transportChange) noteInLog(paths.logPath, `route transport changes (${plan.transportChange.join("; ")}): waiting for this member's server only, the chain's last member waits for the cluster`);
  const restarted = await startServer(inputs, check, keptStoreId, `restarted: ${restartWhy}`);
  noteInLog(paths.logPath, `restarted (pid ${restarted.pid}), ${check === "full" ? `healthy${isClustered(inputs.configText) ? " and JetStream-current" : ""}` : "serving (JetStream-current once its peers follow)"}`);
  return restarted;
}

/** Stops the server with lame duck (only if its pid is still our nats-server) and removes its folder. */
export async function deleteLocalServer(state: LocalServerState): Promise<void> {
  await stopOwnServer(state, stopTimeoutMs(state));
  removeServerDir(state.dataDir, state.serverName);
}

// ---------------------------------------------------------------- Pulumi's provider signatures
// The dynamic provider (local-server.ts) loads this file in Pulumi's provider process and calls
// these by name, so they take and return exactly what pulumi.dynamic.ResourceProvider does.

export async function checkLocalServerProvider(_olds: unknown, news: LocalServerInputs): Promise<{ inputs: LocalServerInputs; failures: CheckFailure[] }> {
  const failures = checkLocalServer(news);
  if (failures.length > 0) return { inputs: news, failures };
  // The store's id as it is now: preview then shows an unchanged store's id as known.
  const { storeId: _given, ...rest } = news;
  const storeId = storeIdOnDisk(news.configText, news.dataDir);
  return { inputs: storeId === undefined ? rest : { ...rest, storeId }, failures };
}

export async function diffLocalServerProvider(_id: string, state: LocalServerState, news: LocalServerInputs) {
  const d = diffLocalServer(state, news);
  return { changes: d.changes, replaces: [...d.replaces], deleteBeforeReplace: d.deleteBeforeReplace };
}

export async function createLocalServerProvider(inputs: LocalServerInputs): Promise<{ id: string; outs: LocalServerState }> {
  return createLocalServer(inputs);
}

export async function readLocalServerProvider(id: string, state?: LocalServerState): Promise<{ id: string; props: LocalServerState }> {
  if (!state) throw new Error(`local server '${id}' cannot be read without its recorded state: the stack creates it, it cannot be imported`);
  return readLocalServer(id, state);
}

export async function updateLocalServerProvider(_id: string, state: LocalServerState, news: LocalServerInputs): Promise<{ outs: LocalServerState }> {
  return { outs: await updateLocalServer(state, news) };
}

export async function deleteLocalServerProvider(_id: string, state: LocalServerState): Promise<void> {
  await deleteLocalServer(state);
}
