/**
 * nats-server as a local, detached process: start it, wait until it is healthy, stop it by pid.
 * Plain functions over Node built-ins only, because the local substrate calls them from a Pulumi
 * dynamic provider (serialized closure; another process stops what one process started) and
 * tests call them directly.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

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
  fs.mkdirSync(path.dirname(options.logPath), { recursive: true });
  const log = fs.openSync(options.logPath, "a");
  try {
    const child = spawn(binary, args, { detached: true, stdio: ["ignore", log, log] });
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

/**
 * Stops a nats-server: SIGTERM, then SIGKILL after `timeoutMs`, and waits for it to be gone.
 * Already gone is success. A pid that now belongs to another program (reused) is left alone.
 */
export async function stopNatsServer(pid: number, timeoutMs = 10_000): Promise<void> {
  if (!isProcessRunning(pid) || !isNatsServer(pid)) return;
  try {
    process.kill(pid, "SIGTERM");
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
    throw new Error(`nats-server pid ${pid} still running after SIGTERM and SIGKILL`);
  }
}

/**
 * Waits until `<monitoringUrl>/healthz` answers 200 (for a hub member that includes having a
 * JetStream meta leader). With `pid`, fails fast when the process has exited meanwhile.
 */
export async function waitHealthy(monitoringUrl: string, timeoutMs: number, pid?: number): Promise<void> {
  const url = `${monitoringUrl.replace(/\/+$/, "")}/healthz`;
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
