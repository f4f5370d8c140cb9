/**
 * The CID object service as a local process of the dev stack: plain create/read/diff/update/
 * delete functions, called by the LocalCidService dynamic provider and directly by tests. Node
 * built-ins and sibling files only (the provider runs this in Pulumi's provider process).
 *
 * - create writes the creds (0600) into its folder, starts `node --require tsx/cjs
 *   components/cid/service-main.ts --cim-dir=<folder>` detached (the pinned node: the one running
 *   the provider), waits for its HTTP /healthz, and records the pid;
 * - read/diff ask /proc whether the pid is still our service (its command line names this
 *   folder), so a dead service shows as drift and the next `up` starts it again;
 * - update restarts it (SIGTERM: it drains) when anything changed: inputs, creds, or the
 *   service's own code (a hash of components/cid/*.ts, so a code change is planned in preview);
 * - delete stops it by its own pid (drain, SIGKILL after the timeout) and removes its folder.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { isProcessRunning } from "../local/nats-process";
import { processCommandLine } from "../local/process-identity";
import { dataDirReason } from "../local/server-dir";

export type LocalCidServiceInputs = {
  /** Folder `.cim-dev/<stack>/cid-service` (creds, log, pid). Absolute; ends in `cid-service`. Changing it replaces the service. */
  readonly dataDir: string;
  /** Client URLs it connects to (the cimstor leaf). */
  readonly servers: readonly string[];
  /** `.creds` text of its user (secret; only its hash is kept in state). "" connects without credentials (tests' plain servers). */
  readonly creds: string;
  readonly bucket: string;
  readonly subjectPrefix: string;
  /** Its user's inbox prefix (`_INBOX_cid-service`). */
  readonly inboxPrefix: string;
  /** `host:port` of its HTTP /healthz. */
  readonly healthAddr: string;
  /** Unfinished uploads held at once (bytes); default the service's. */
  readonly maxPendingBytes?: number;
  /** Seconds create/update wait for /healthz. Default 30. */
  readonly healthTimeoutSeconds?: number;
  /** The stack's CA certificate (PEM, public) when the servers require TLS; written as `ca.pem`. Default: plain. */
  readonly caPem?: string;
  /** Filled by check: hash of the service's code, so a code change restarts it. Not set by callers. */
  readonly codeHash?: string;
};

export type LocalCidServiceState = Omit<LocalCidServiceInputs, "creds"> & {
  readonly credsHash: string;
  readonly pid: number;
  readonly running: boolean;
  readonly logPath: string;
};

export const CID_SERVICE_DIR_NAME = "cid-service";
const ID_PREFIX = "local-cid-service:";
const ENTRY = path.join("components", "cid", "service-main.ts");
const STOP_TIMEOUT_MS = 15_000;

const sha256 = (s: string | Buffer) => createHash("sha256").update(s).digest("hex");
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The project root: CIM_NATS_ROOT, else up from the provider's cwd to Pulumi.yaml, else from this file. */
export function projectRoot(): string {
  if (process.env.CIM_NATS_ROOT && fs.existsSync(path.join(process.env.CIM_NATS_ROOT, ENTRY))) return process.env.CIM_NATS_ROOT;
  for (let dir = process.cwd(); path.dirname(dir) !== dir; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, "Pulumi.yaml")) && fs.existsSync(path.join(dir, ENTRY))) return dir;
  }
  return path.resolve(__dirname, "..", "..");
}

/** Hash of the service's code (every .ts under components/cid). */
export function cidServiceCodeHash(root = projectRoot()): string {
  const dir = path.join(root, "components", "cid");
  const files = fs.readdirSync(dir).filter((f) => f.endsWith(".ts")).sort();
  return sha256(files.map((f) => `${f}\0${fs.readFileSync(path.join(dir, f), "utf8")}`).join("\0"));
}

/** How the Pulumi engine hands a dynamic provider a value not known yet (preview). */
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export function checkLocalCidService(inputs: LocalCidServiceInputs): { property: string; reason: string }[] {
  const f: { property: string; reason: string }[] = [];
  const r = typeof inputs.dataDir === "string" ? dataDirReason(inputs.dataDir, CID_SERVICE_DIR_NAME) : "dataDir must be a string";
  if (r) f.push({ property: "dataDir", reason: r });
  if (!Array.isArray(inputs.servers) || inputs.servers.length === 0 || inputs.servers.some((s) => !/^nats:\/\/[^/]+$/.test(s))) {
    f.push({ property: "servers", reason: `servers ${JSON.stringify(inputs.servers)} must be nats://host:port URLs (at least one)` });
  }
  // Unknown at preview (creds of a user re-issued in the same run): checked again at up.
  const credsUnknown = inputs.creds === UNKNOWN;
  if (!credsUnknown && (typeof inputs.creds !== "string" || (inputs.creds !== "" && !inputs.creds.includes("BEGIN NATS USER JWT")))) {
    f.push({ property: "creds", reason: "creds must be the text of a .creds file" });
  }
  if (!/^[^:\s]+:\d{1,5}$/.test(String(inputs.healthAddr))) f.push({ property: "healthAddr", reason: `health address '${inputs.healthAddr}' must be host:port` });
  return f;
}

export const localCidServiceId = (dataDir: string) => `${ID_PREFIX}${dataDir}`;

const paths = (dataDir: string) => ({
  credsPath: path.join(dataDir, "cid-service.creds"),
  logPath: path.join(dataDir, "cid-service.log"),
  pidPath: path.join(dataDir, "cid-service.pid"),
});

/** Whether `pid` is our service for `dataDir` (its command line carries `--cim-dir=<dataDir>`). */
export function isOurService(pid: number, dataDir: string): boolean {
  const args = processCommandLine(pid);
  return !!args && args.includes(`--cim-dir=${dataDir}`) && args.some((a) => a.endsWith("service-main.ts"));
}

function candidatePids(dataDir: string, pid?: number): number[] {
  let fromFile: number | undefined;
  try {
    fromFile = Number(fs.readFileSync(paths(dataDir).pidPath, "utf8").trim()) || undefined;
  } catch {
    fromFile = undefined;
  }
  return [...new Set([pid, fromFile].filter((p): p is number => p !== undefined && p > 0))];
}

const livePid = (dataDir: string, pid?: number) => candidatePids(dataDir, pid).find((p) => isOurService(p, dataDir));

/** Stops our service (SIGTERM: it drains), SIGKILL after the timeout. Another program's pid is left alone. */
export async function stopCidService(dataDir: string, pid?: number, timeoutMs = STOP_TIMEOUT_MS): Promise<void> {
  for (const p of candidatePids(dataDir, pid)) {
    if (!isOurService(p, dataDir)) continue;
    try {
      process.kill(p, "SIGTERM");
    } catch {
      continue;
    }
    const deadline = Date.now() + timeoutMs;
    while (isProcessRunning(p) && Date.now() < deadline) await sleep(25);
    if (isProcessRunning(p)) {
      try {
        process.kill(p, "SIGKILL");
      } catch {
        // gone meanwhile
      }
    }
  }
  fs.rmSync(paths(dataDir).pidPath, { force: true });
}

async function waitHealthy(inputs: LocalCidServiceInputs, pid: number, logPath: string): Promise<void> {
  const url = `http://${inputs.healthAddr}/healthz`;
  const deadline = Date.now() + (inputs.healthTimeoutSeconds ?? 30) * 1000;
  let last = "no answer yet";
  for (;;) {
    if (!isProcessRunning(pid)) break;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      if (res.status === 200) return;
      last = `HTTP ${res.status} ${(await res.text()).trim()}`;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() > deadline) break;
    await sleep(100);
  }
  const tail = fs.existsSync(logPath) ? fs.readFileSync(logPath, "utf8").split("\n").slice(-20).join("\n") : "";
  await stopCidService(inputs.dataDir, pid);
  throw new Error(`cid-service did not become healthy at ${url} (last: ${last})${isProcessRunning(pid) ? "" : `; pid ${pid} exited`}\nlog (${logPath}):\n${tail}`);
}

async function start(inputs: LocalCidServiceInputs): Promise<LocalCidServiceState> {
  const root = projectRoot();
  const p = paths(inputs.dataDir);
  fs.mkdirSync(inputs.dataDir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(p.credsPath, inputs.creds, { mode: 0o600 });
  fs.chmodSync(p.credsPath, 0o600);
  const caPath = path.join(inputs.dataDir, "ca.pem");
  if (inputs.caPem) fs.writeFileSync(caPath, inputs.caPem, { mode: 0o600 });
  const log = fs.openSync(p.logPath, "a");
  let pid: number;
  try {
    const child = spawn(
      process.execPath,
      ["--require", require.resolve("tsx/cjs", { paths: [root] }), path.join(root, ENTRY), `--cim-dir=${inputs.dataDir}`],
      {
        detached: true,
        stdio: ["ignore", log, log],
        cwd: inputs.dataDir,
        env: {
          PATH: process.env.PATH ?? "",
          CID_NATS_URLS: inputs.servers.join(","),
          ...(inputs.creds ? { CID_NATS_CREDS: p.credsPath } : {}),
          ...(inputs.caPem ? { CID_NATS_CA: caPath } : {}),
          CID_BUCKET: inputs.bucket,
          CID_SUBJECT_PREFIX: inputs.subjectPrefix,
          CID_INBOX_PREFIX: inputs.inboxPrefix,
          CID_HEALTH_ADDR: inputs.healthAddr,
          ...(inputs.maxPendingBytes !== undefined ? { CID_MAX_PENDING_BYTES: String(inputs.maxPendingBytes) } : {}),
        },
      },
    );
    await new Promise<void>((resolve, reject) => {
      child.once("spawn", resolve);
      child.once("error", reject);
    });
    child.unref();
    pid = child.pid!;
  } finally {
    fs.closeSync(log);
  }
  fs.writeFileSync(p.pidPath, `${pid}\n`);
  await waitHealthy(inputs, pid, p.logPath);
  const { creds: _c, ...rest } = inputs;
  return { ...rest, codeHash: inputs.codeHash ?? cidServiceCodeHash(root), credsHash: sha256(inputs.creds), pid, running: true, logPath: p.logPath };
}

export async function createLocalCidService(inputs: LocalCidServiceInputs): Promise<{ id: string; outs: LocalCidServiceState }> {
  await stopCidService(inputs.dataDir);
  return { id: localCidServiceId(inputs.dataDir), outs: await start(inputs) };
}

export function readLocalCidService(id: string, state: LocalCidServiceState): { id: string; props: LocalCidServiceState } {
  const live = livePid(state.dataDir, state.pid);
  return { id, props: { ...state, pid: live ?? state.pid, running: live !== undefined } };
}

export function diffLocalCidService(state: LocalCidServiceState, inputs: LocalCidServiceInputs): { changes: boolean; replaces: string[]; changed: string[] } {
  const changed: string[] = [];
  for (const k of ["dataDir", "bucket", "subjectPrefix", "inboxPrefix", "healthAddr", "codeHash", "maxPendingBytes"] as const) if (state[k] !== inputs[k]) changed.push(k);
  if (JSON.stringify(state.servers) !== JSON.stringify(inputs.servers)) changed.push("servers");
  if ((state.caPem ?? "") !== (inputs.caPem ?? "")) changed.push("caPem");
  if (state.credsHash !== sha256(inputs.creds)) changed.push("creds");
  if (livePid(state.dataDir, state.pid) === undefined) changed.push("running");
  const replaces = state.dataDir !== inputs.dataDir ? ["dataDir"] : [];
  return { changes: changed.length > 0, replaces, changed };
}

export async function updateLocalCidService(state: LocalCidServiceState, inputs: LocalCidServiceInputs): Promise<LocalCidServiceState> {
  await stopCidService(state.dataDir, state.pid);
  return start(inputs);
}

export async function deleteLocalCidService(state: LocalCidServiceState): Promise<void> {
  await stopCidService(state.dataDir, state.pid);
  if (!dataDirReason(state.dataDir, CID_SERVICE_DIR_NAME)) fs.rmSync(state.dataDir, { recursive: true, force: true });
}

// ---------------------------------------------------------------- Pulumi's provider signatures

export async function checkLocalCidServiceProvider(_olds: unknown, news: LocalCidServiceInputs) {
  const failures = checkLocalCidService(news);
  return { inputs: failures.length ? news : { ...news, codeHash: cidServiceCodeHash() }, failures };
}
export async function diffLocalCidServiceProvider(_id: string, state: LocalCidServiceState, news: LocalCidServiceInputs) {
  const d = diffLocalCidService(state, news);
  return { changes: d.changes, replaces: d.replaces, deleteBeforeReplace: true };
}
export async function createLocalCidServiceProvider(inputs: LocalCidServiceInputs) {
  return createLocalCidService(inputs);
}
export async function readLocalCidServiceProvider(id: string, state?: LocalCidServiceState) {
  if (!state) throw new Error(`local CID service '${id}' cannot be read without its recorded state: the stack creates it`);
  return readLocalCidService(id, state);
}
export async function updateLocalCidServiceProvider(_id: string, state: LocalCidServiceState, news: LocalCidServiceInputs) {
  return { outs: await updateLocalCidService(state, news) };
}
export async function deleteLocalCidServiceProvider(_id: string, state: LocalCidServiceState) {
  await deleteLocalCidService(state);
}
