/**
 * One local nats-server as a resource: plain create/read/diff/update/delete functions over the
 * server's folder and process, called by the LocalNatsServer dynamic provider (through
 * local-server-provider.ts) and directly by tests. Each other job has its file: what a server is
 * (local-server-types.ts), input checks (server-checks.ts), readiness over HTTP (readiness.ts),
 * the pure update plan (update-plan.ts), leadership hand-off (leader-handoff.ts, the NATS client
 * loaded only when it runs) and the hub source nudge after a leaf restart (jetstream/source-nudge.ts).
 *
 * - create writes the config, the extra files and a new store id marker, starts nats-server
 *   detached, waits for /healthz (or only `js-server-only` for a hub member that cannot have a
 *   meta leader yet) and records the pid;
 * - update applies the plan: SIGHUP for a reloadable change (same pid, verified through /varz
 *   config_load_time; a refused reload falls back to a restart and says so in the server's log);
 *   a lame duck restart for anything else, waiting until healthy and, for a hub member,
 *   JetStream-current — also when the member was found dead and its peers make a quorum with it;
 *   the folder and its JetStream store stay;
 * - read/diff ask /proc whether the recorded pid is still a nats-server serving this config, and
 *   the store dir whether its id marker is still there, so a dead server or a wiped store shows
 *   as drift and the next `up` repairs it;
 * - delete stops the server (lame duck) by its own pid and removes its folder.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { domainGoing, Refusal, runAllowsDataLoss } from "../jetstream/data-loss";
import { blockField, readRenderedConf } from "./conf-reader";
import { handOffBeforeStop } from "./leader-handoff";
import {
  DEFAULT_STOP_TIMEOUT_SECONDS,
  filesHash,
  localServerId,
  parseLocalServerId,
  sha256,
  type LocalServerDiff,
  type LocalServerInputs,
  type LocalServerState,
} from "./local-server-types";
import { type HealthCheck, reloadNatsServer, startNatsServer, stopNatsServer } from "./nats-process";
import { isServingConfig } from "./process-identity";
import { answers, isClustered, leafRemotes, peersRunning, quorumWith, streamsHoldingMessages, waitReady } from "./readiness";
import { extraFileReason, logTail, noteInLog, readPidFile, removeServerDir, serverPaths, writeServerFiles } from "./server-dir";
import { nudgeHubSources } from "./leaf-restart-nudge";
import { storeIdOnDisk, writeNewStoreId } from "./store-identity";
import { planUpdate, type LocalServerUpdatePlan } from "./update-plan";

export * from "./local-server-types";
export { checkLocalServer } from "./server-checks";
export type { LocalServerUpdatePlan } from "./update-plan";

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
  const onDisk = configOnDiskOf(state);
  const storeId = onDisk === undefined ? undefined : storeIdOnDisk(onDisk, state.dataDir);
  return { id, props: { ...props, storeId: storeId ?? "" } };
}

function configOnDiskOf(state: Pick<LocalServerState, "configPath">): string | undefined {
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

/** The update plan for a server as it is found now (update-plan.ts decides; this reads /proc and the disk). */
export function planLocalServerUpdate(state: LocalServerState, inputs: LocalServerInputs): LocalServerUpdatePlan {
  const configOnDisk = configOnDiskOf(state);
  return planUpdate({ running: livePid(state) !== undefined, configOnDisk, storeDrifted: storeDrifted(state, configOnDisk ?? inputs.configText) }, state, inputs);
}

/** Writes the extra files and removes the ones no longer declared. */
function replaceExtraFiles(state: LocalServerState, inputs: LocalServerInputs): void {
  removeUndeclaredFiles(state, inputs);
  writeServerFiles(inputs.dataDir, inputs.configText, inputs.files ?? {});
}

/** Removes the extra files the new inputs no longer declare. */
function removeUndeclaredFiles(state: LocalServerState, inputs: LocalServerInputs): void {
  const keep = new Set(Object.keys(inputs.files ?? {}));
  for (const name of state.fileNames ?? []) {
    if (!keep.has(name) && !extraFileReason(name)) fs.rmSync(path.join(state.dataDir, name), { force: true });
  }
}

/**
 * What a restart waits for. A running member, a leaf: full health (a member JetStream-current).
 * A member whose peers still speak the old route transport: its own server, as create does. A
 * member found dead (an interrupted roll, a reboot): JetStream-current whenever the members
 * running now make a quorum with it — so the next one in the chain never stops before this one
 * is current — and its own server only when too few run (all went down: the later members bring
 * the quorum).
 */
async function restartCheck(inputs: LocalServerInputs, wasRunning: boolean, plan: LocalServerUpdatePlan): Promise<HealthCheck> {
  const createCheck = inputs.createHealthCheck ?? "full";
  if (plan.transportChange) return createCheck;
  if (wasRunning || createCheck === "full") return "full";
  const peers = inputs.peerMonitoringUrls;
  if (peers === undefined) return createCheck;
  return quorumWith(await peersRunning(peers), peers.length) ? "full" : createCheck;
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
  const keptStoreId = state.storeId !== undefined && !storeDrifted(state, configOnDiskOf(state) ?? inputs.configText) ? state.storeId : undefined;
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
  if (wasRunning) await handOffBeforeStop({ runningConfig: configOnDiskOf(state), monitoringUrl: state.monitoringUrl, creds: inputs.leaderHandoffCreds, logPath: paths.logPath });
  await stopOwnServer(state, stopTimeoutMs(inputs));
  removeUndeclaredFiles(state, inputs);
  const check = await restartCheck(inputs, wasRunning, plan);
  if (!wasRunning && check === "full" && inputs.peerMonitoringUrls) noteInLog(paths.logPath, "found not running while its peers make a quorum: waiting until it is JetStream-current before the next member goes");
  if (plan.transportChange) noteInLog(paths.logPath, `route transport changes (${plan.transportChange.join("; ")}): waiting for this member's server only, the chain's last member waits for the cluster`);
  const restarted = await startServer(inputs, check, keptStoreId, `restarted: ${restartWhy}`);
  noteInLog(paths.logPath, `restarted (pid ${restarted.pid}), ${check === "full" ? `healthy${isClustered(inputs.configText) ? " and JetStream-current" : ""}` : "serving (JetStream-current once its peers follow)"}`);
  // A leaf back on its link: the hub's streams sourcing from it set their sources up now (jetstream/source-nudge.ts).
  if (leafRemotes(inputs.configText) > 0 && inputs.hubClientUrls?.length && inputs.leaderHandoffCreds) {
    await nudgeHubSources({ hubClientUrls: inputs.hubClientUrls, creds: inputs.leaderHandoffCreds, leafConfig: inputs.configText, logPath: paths.logPath });
  }
  return restarted;
}

/**
 * Deleting a leaf removes its data directory, with every stream in it. The run's whole-run
 * decision (the removal guard's check, the teardown gate) marks the domains that may go; a delete
 * it did not approve — a targeted `up --target` that skips the guard — is refused while the leaf's
 * streams hold messages.
 */
export async function refuseUnapprovedDataLoss(state: LocalServerState): Promise<void> {
  const tree = readRenderedConf(configOnDiskOf(state) ?? "");
  const domain = blockField(tree, "jetstream", "domain");
  if (!tree || tree.cluster !== undefined || typeof domain !== "string" || domainGoing(domain) || runAllowsDataLoss() || livePid(state) === undefined) return;
  const held = await streamsHoldingMessages(state.monitoringUrl);
  if (held.length === 0) return;
  throw new Refusal(
    `server ${state.serverName} (JetStream domain ${domain}) holds ${held.map(([n, m]) => `${n}: ${m}`).join(", ")} message(s); deleting it removes its data directory ${state.dataDir}, ` +
      "and no whole-run decision approved that (a targeted up skips the removal guard). Nothing was changed. " +
      "Fix: run the up without --target, so the removal guard decides for the whole run; or back its streams up and empty them first.",
  );
}

/** Stops the server with lame duck (only if its pid is still our nats-server) and removes its folder. */
export async function deleteLocalServer(state: LocalServerState): Promise<void> {
  await stopOwnServer(state, stopTimeoutMs(state));
  removeServerDir(state.dataDir, state.serverName);
}

