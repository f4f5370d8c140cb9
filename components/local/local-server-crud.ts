/**
 * One local nats-server as a resource: plain create/read/diff/update/delete functions over the
 * server's folder and process, called by the LocalNatsServer dynamic provider and directly by
 * tests. Node built-ins and sibling files only (see local-server.ts for why).
 *
 * - create writes the config and extra files, starts nats-server detached, waits for /healthz
 *   and records the pid;
 * - a changed config, file set, binary or monitoring URL restarts the server in place (stop by
 *   pid, start, wait healthy): the folder and its JetStream store stay;
 * - read/diff ask /proc whether the recorded pid is still a nats-server serving this config, so
 *   a dead server shows as drift and the next `up` starts it again;
 * - delete stops the server by its own pid and removes its folder.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { startNatsServer, stopNatsServer, waitHealthy } from "./nats-process";
import { isServingConfig } from "./process-identity";
import { dataDirReason, extraFileReason, logTail, readPidFile, removeServerDir, serverPaths, writeServerFiles } from "./server-dir";

/** What one local server is made of (the provider's inputs, after Pulumi resolved them). */
export type LocalServerInputs = {
  /** `server_name`; also the last segment of `dataDir`. Changing it replaces the server. */
  readonly serverName: string;
  /** nats-server config text (secret when it embeds secrets). Changing it restarts the server. */
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
const STOP_TIMEOUT_MS = 10_000;
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

/** Stops every process that is a nats-server serving this folder's config; others are left alone. */
async function stopOwnServer(state: Pick<LocalServerState, "pid" | "dataDir">): Promise<void> {
  const { configPath } = serverPaths(state.dataDir);
  for (const pid of candidatePids(state)) {
    if (isServingConfig(pid, configPath)) await stopNatsServer(pid, STOP_TIMEOUT_MS);
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

/** Writes the folder, starts the server and waits until it is healthy; stops it again on failure. */
async function startServer(inputs: LocalServerInputs): Promise<LocalServerState> {
  const files = inputs.files ?? {};
  const paths = writeServerFiles(inputs.dataDir, inputs.configText, files);
  if (await answers(inputs.monitoringUrl)) {
    throw new Error(
      `cannot start '${inputs.serverName}': something already answers at ${inputs.monitoringUrl} ` +
        "(another stack's server, or a stray nats-server); stop it, or give this server another address",
    );
  }
  fs.rmSync(paths.pidPath, { force: true });
  const { pid } = await startNatsServer({
    configPath: paths.configPath,
    logPath: paths.logPath,
    pidPath: paths.pidPath,
    ...(inputs.binary !== undefined ? { binary: inputs.binary } : {}),
  });
  const timeoutMs = (inputs.healthTimeoutSeconds ?? DEFAULT_HEALTH_TIMEOUT_SECONDS) * 1000;
  try {
    await waitHealthy(inputs.monitoringUrl, timeoutMs, pid);
    if (!isServingConfig(pid, paths.configPath)) throw new Error(`nats-server pid ${pid} exited after answering /healthz`);
  } catch (err) {
    await stopNatsServer(pid, STOP_TIMEOUT_MS);
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
  };
}

/** Starts a new server (a stray of our own from a lost state, found by its pid file, is stopped first). */
export async function createLocalServer(inputs: LocalServerInputs): Promise<{ id: string; outs: LocalServerState }> {
  await stopOwnServer({ pid: 0, dataDir: inputs.dataDir });
  return { id: localServerId(inputs.dataDir), outs: await startServer(inputs) };
}

/** The recorded state with `running` as /proc sees it now. A restarted-by-hand server is adopted by its pid file. */
export function readLocalServer(id: string, state: LocalServerState): { id: string; props: LocalServerState } {
  parseLocalServerId(id);
  const live = candidatePids(state).find((pid) => isServingConfig(pid, state.configPath));
  return { id, props: { ...state, pid: live ?? state.pid, running: live !== undefined } };
}

/** What changed between the recorded state and new inputs, including a server that is no longer running. */
export function diffLocalServer(state: LocalServerState, inputs: LocalServerInputs): LocalServerDiff {
  const replaces = (["serverName", "dataDir"] as const).filter((k) => state[k] !== inputs[k]);
  const changed: string[] = [...replaces];
  if (state.configHash !== sha256(inputs.configText)) changed.push("configText");
  if (state.filesHash !== filesHash(inputs.files ?? {})) changed.push("files");
  if (state.monitoringUrl !== inputs.monitoringUrl) changed.push("monitoringUrl");
  if (state.binary !== inputs.binary) changed.push("binary");
  if (!candidatePids(state).some((pid) => isServingConfig(pid, state.configPath))) changed.push("running");
  // Same address and ports: the old server must be gone before its replacement can listen.
  return { changes: changed.length > 0, replaces, deleteBeforeReplace: replaces.length > 0, changed };
}

/** Restarts the server in place with the new inputs; its folder (and JetStream store) stays. */
export async function updateLocalServer(state: LocalServerState, inputs: LocalServerInputs): Promise<LocalServerState> {
  await stopOwnServer(state);
  const keep = new Set(Object.keys(inputs.files ?? {}));
  for (const name of state.fileNames ?? []) {
    if (!keep.has(name) && !extraFileReason(name)) fs.rmSync(path.join(state.dataDir, name), { force: true });
  }
  return startServer(inputs);
}

/** Stops the server (only if its pid is still our nats-server) and removes its folder. */
export async function deleteLocalServer(state: LocalServerState): Promise<void> {
  await stopOwnServer(state);
  removeServerDir(state.dataDir, state.serverName);
}

// ---------------------------------------------------------------- Pulumi's provider signatures
// The dynamic provider (local-server.ts) loads this file in Pulumi's provider process and calls
// these by name, so they take and return exactly what pulumi.dynamic.ResourceProvider does.

export async function checkLocalServerProvider(_olds: unknown, news: LocalServerInputs): Promise<{ inputs: LocalServerInputs; failures: CheckFailure[] }> {
  return { inputs: news, failures: checkLocalServer(news) };
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
