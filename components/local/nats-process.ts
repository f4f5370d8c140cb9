/**
 * nats-server as a local, detached process: start it, wait until it is healthy, stop it by pid.
 * Plain functions over Node built-ins only, because the local substrate calls them from a Pulumi
 * dynamic provider (serialized closure; another process stops what one process started) and
 * tests call them directly.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { HealthCheck } from "./local-server-types";

/** How to start one nats-server. */
export type StartNatsServerOptions = {
  /** Config file the server reads (`-c`). */
  readonly configPath: string;
  /** File stdout and stderr are appended to; created if missing. */
  readonly logPath: string;
  /** Pid file the server writes (`-P`); none by default. */
  readonly pidPath?: string;
  /** nats-server binary. Default: `.tools/bin/nats-server` under the project root (see natsServerBinary). */
  readonly binary?: string;
  /**
   * A command that execs the server, e.g. `["ip", "netns", "exec", "ns1"]` (fault tests run a
   * server in a network namespace). It must exec, so the pid is the server's.
   */
  readonly prefix?: readonly string[];
};

/** A started server. */
export type NatsServerProcess = {
  readonly pid: number;
};

/**
 * The pinned nats-server: `.tools/bin/nats-server` under `$CIM_NATS_ROOT` (set by
 * scripts/with-env.sh), else under the project root found relative to this file.
 */
export function natsServerBinary(): string {
  const root = process.env.CIM_NATS_ROOT ?? path.resolve(__dirname, "..", "..");
  return path.join(root, ".tools", "bin", "nats-server");
}

/**
 * Starts nats-server detached in its own session, so it outlives the caller (the dev stack stops
 * it later by pid). Resolves once the process exists; use waitHealthy to know it serves.
 */
export async function startNatsServer(options: StartNatsServerOptions): Promise<NatsServerProcess> {
  const binary = options.binary ?? natsServerBinary();
  try {
    fs.accessSync(binary, fs.constants.X_OK);
  } catch {
    throw new Error(`nats-server binary '${binary}' is missing or not executable; run \`npm run setup\` to build it into .tools/bin`);
  }
  const args = ["-c", options.configPath];
  if (options.pidPath) args.push("-P", options.pidPath);
  const [command, ...commandArgs] = [...(options.prefix ?? []), binary, ...args];
  fs.mkdirSync(path.dirname(options.logPath), { recursive: true });
  const log = fs.openSync(options.logPath, "a");
  try {
    const child = spawn(command, commandArgs, { detached: true, stdio: ["ignore", log, log] });
    await new Promise<void>((resolve, reject) => {
      child.once("spawn", resolve);
      child.once("error", (err) => reject(new Error(`could not start ${binary} -c ${options.configPath}: ${err.message}`)));
    });
    child.unref();
    if (child.pid === undefined) throw new Error(`nats-server started without a pid (config ${options.configPath})`);
    return { pid: child.pid };
  } finally {
    // The child holds its own copy of the descriptor.
    fs.closeSync(log);
  }
}

/** Whether `pid` is a live (not zombie) process. */
export function isProcessRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
  try {
    // An exited child that nobody has reaped yet still answers signal 0; /proc tells the truth.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return true;
  }
}

/** Whether a live `pid` is a nats-server (false when /proc says it is something else). */
function isNatsServer(pid: number): boolean {
  try {
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
    return cmdline.split("\0").some((arg, i) => i === 0 && path.basename(arg).startsWith("nats-server"));
  } catch {
    // No /proc (or gone already): trust the caller's pid.
    return true;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function waitExited(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isProcessRunning(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(25);
  }
  return true;
}

/** How stopNatsServer asks the server to go. */
export type StopOptions = {
  /**
   * `SIGUSR2`: lame duck mode — stop accepting clients, move JetStream leaders away, close clients
   * over `lame_duck_duration`, exit; what the stack's servers get (local-server-crud.ts).
   * `SIGTERM` (default, for tests' throwaway servers): exit now.
   */
  readonly signal?: "SIGUSR2" | "SIGTERM";
};

/**
 * Stops a nats-server: SIGTERM, or lame duck with `{ signal: "SIGUSR2" }`, then SIGKILL after
 * `timeoutMs` (for lame duck, more than the config's `lame_duck_duration`), and waits for it to be gone. Already gone is
 * success. A pid that now belongs to another program (reused) is left alone.
 */
export async function stopNatsServer(pid: number, timeoutMs = 10_000, options: StopOptions = {}): Promise<void> {
  if (!isProcessRunning(pid) || !isNatsServer(pid)) return;
  try {
    process.kill(pid, options.signal ?? "SIGTERM");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ESRCH") return;
    throw err;
  }
  if (await waitExited(pid, timeoutMs)) return;
  try {
    process.kill(pid, "SIGKILL");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ESRCH") return;
    throw err;
  }
  if (!(await waitExited(pid, 5_000))) {
    throw new Error(`nats-server pid ${pid} still running after ${options.signal ?? "SIGTERM"} and SIGKILL`);
  }
}

export type { HealthCheck } from "./local-server-types";

/**
 * Waits until `<monitoringUrl>/healthz` answers 200 (full by default: for a hub member that
 * includes having a JetStream meta leader). With `pid`, fails fast when the process has exited.
 */
export async function waitHealthy(monitoringUrl: string, timeoutMs: number, pid?: number, check: HealthCheck = "full"): Promise<void> {
  const url = `${monitoringUrl.replace(/\/+$/, "")}/healthz${check === "js-server-only" ? "?js-server-only=true" : ""}`;
  const deadline = Date.now() + timeoutMs;
  let last = "no answer yet";
  for (;;) {
    if (pid !== undefined && !isProcessRunning(pid)) {
      throw new Error(`nats-server pid ${pid} exited before ${url} became healthy (last: ${last}); see its log`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      const body = await res.text();
      if (res.status === 200) return;
      last = `HTTP ${res.status} ${body.trim()}`;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() >= deadline) throw new Error(`${url} not healthy within ${timeoutMs} ms (last: ${last})`);
    await sleep(100);
  }
}

/** The parts of /jsz a rolling restart looks at. */
type Jsz = { readonly meta_cluster?: { readonly leader?: string; readonly pending?: number; readonly cluster_size?: number } };

/**
 * Waits until a clustered JetStream server is current: full /healthz (meta leader known, every
 * stream and consumer it hosts caught up) and its own /jsz names a meta leader with nothing
 * pending. A rolling restart waits for this before it takes down the next member.
 */
export async function waitJetStreamCurrent(monitoringUrl: string, timeoutMs: number, pid?: number): Promise<void> {
  const started = Date.now();
  await waitHealthy(monitoringUrl, timeoutMs, pid, "full");
  const url = `${monitoringUrl.replace(/\/+$/, "")}/jsz`;
  const deadline = started + timeoutMs;
  let last = "no answer yet";
  for (;;) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      const jsz = (await res.json()) as Jsz;
      const meta = jsz.meta_cluster;
      if (!meta) return; // not clustered: /healthz said it all
      if (meta.leader && (meta.pending ?? 0) === 0) return;
      last = `meta leader '${meta.leader ?? ""}', ${meta.pending ?? 0} pending`;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() >= deadline) throw new Error(`${url}: JetStream not current within ${timeoutMs} ms (last: ${last})`);
    await sleep(100);
  }
}

/** What a SIGHUP did. */
export type ReloadOutcome =
  /** nats-server applied the new config (`/varz` config_load_time advanced). */
  | { readonly applied: true }
  /** It kept the old config; `reason` is its log line (e.g. "config reload not supported for ServerName ..."). */
  | { readonly applied: false; readonly reason: string };

type Varz = { readonly config_load_time?: string };

async function configLoadTime(monitoringUrl: string): Promise<string | undefined> {
  try {
    const res = await fetch(`${monitoringUrl.replace(/\/+$/, "")}/varz`, { signal: AbortSignal.timeout(1_000) });
    return ((await res.json()) as Varz).config_load_time;
  } catch {
    return undefined;
  }
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

function readFrom(file: string, offset: number): string {
  try {
    const fd = fs.openSync(file, "r");
    try {
      const size = fs.fstatSync(fd).size;
      if (size <= offset) return "";
      const buf = Buffer.alloc(size - offset);
      fs.readSync(fd, buf, 0, buf.length, offset);
      return buf.toString("utf8");
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return "";
  }
}

/**
 * Asks a running nats-server to reload its config file (SIGHUP) and waits for the verdict:
 * applied when `/varz` config_load_time advances, refused when its log (`logPath`, appended by
 * the server) says "Failed to reload server configuration". The pid stays the same either way.
 */
export async function reloadNatsServer(pid: number, monitoringUrl: string, logPath: string, timeoutMs = 10_000): Promise<ReloadOutcome> {
  const before = await configLoadTime(monitoringUrl);
  if (before === undefined) return { applied: false, reason: `${monitoringUrl}/varz does not answer, so a reload cannot be verified` };
  const offset = fileSize(logPath);
  process.kill(pid, "SIGHUP");
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const failed = /Failed to reload server configuration: ?(.*)/.exec(readFrom(logPath, offset));
    if (failed) return { applied: false, reason: failed[1].trim() };
    const now = await configLoadTime(monitoringUrl);
    if (now !== undefined && now !== before) return { applied: true };
    if (!isProcessRunning(pid)) return { applied: false, reason: `nats-server pid ${pid} exited after SIGHUP` };
    if (Date.now() >= deadline) return { applied: false, reason: `no reload seen within ${timeoutMs} ms (config_load_time still ${before})` };
    await sleep(50);
  }
}
