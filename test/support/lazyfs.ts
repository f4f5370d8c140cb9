/**
 * LazyFS mounts for power-failure tests (docs/durability.md). LazyFS is a FUSE file system with a
 * page cache of its own: a write reaches the disk below only when it is fsynced (or on
 * `lazyfs::cache-checkpoint`); `lazyfs::clear-cache` drops everything else — what a power failure
 * does to a disk. Built by scripts/setup.sh into .tools/bin/lazyfs.
 *
 * A power failure of one host is `kill -9` of its servers, then clear-cache on its mount.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

const ROOT = process.env.CIM_NATS_ROOT ?? path.resolve(__dirname, "..", "..");
export const LAZYFS_BIN = path.join(ROOT, ".tools", "bin", "lazyfs");

/** Why LazyFS tests cannot run here ("" when they can). */
export function lazyFsUnavailable(): string {
  if (!fs.existsSync("/dev/fuse")) return "/dev/fuse is missing (no FUSE in this container or kernel)";
  if (!fs.existsSync(LAZYFS_BIN)) return `LazyFS is not built (${LAZYFS_BIN} missing): run \`npm run setup\` with the source snapshot in CIM_NATS_LAZYFS_SRC`;
  if (spawnSync("fusermount3", ["-V"]).status !== 0) return "fusermount3 is missing (Debian package fuse3)";
  if (process.getuid?.() !== 0) return "LazyFS mounts need root (FUSE allow_other)";
  return "";
}

export type LazyFsMount = {
  /** Where the file system is mounted: put the store here. */
  readonly mountPoint: string;
  /** Writes everything cached to the disk below (what the kernel's writeback would have done by now). */
  checkpoint(): Promise<void>;
  /** Power failure: every write not fsynced is gone. Kill the processes using the mount first. */
  clearCache(): Promise<void>;
  /** Unmounts and stops LazyFS; idempotent. */
  unmount(): Promise<void>;
};

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function isMounted(mountPoint: string): boolean {
  return fs.readFileSync("/proc/self/mounts", "utf8").split("\n").some((l) => l.split(" ")[1] === mountPoint);
}

/**
 * Mounts LazyFS at `mountPoint`, backed by `backingDir` (both created). Its FIFO, config and log
 * sit in `controlDir`. Resolves once the mount is live.
 */
export async function mountLazyFs(mountPoint: string, backingDir: string, controlDir: string): Promise<LazyFsMount> {
  for (const d of [mountPoint, backingDir, controlDir]) fs.mkdirSync(d, { recursive: true });
  const fifo = path.join(controlDir, "faults.fifo");
  const logPath = path.join(controlDir, "lazyfs.log");
  const configPath = path.join(controlDir, "lazyfs.toml");
  // apply_eviction=false: nothing leaves the cache unless fsynced or checkpointed (strict).
  fs.writeFileSync(
    configPath,
    `[faults]\nfifo_path="${fifo}"\n[cache]\napply_eviction=false\n[cache.simple]\ncustom_size="512mb"\nblocks_per_page=1\n[filesystem]\nlog_all_operations=false\nlogfile=""\n`,
  );
  const log = fs.openSync(logPath, "a");
  let child: ChildProcess;
  try {
    // The config path relative to the control dir: LazyFS ignores a --config-path containing "-o"
    // (strcasestr in its main.cpp), which a mkdtemp suffix starting with "o" made (cim-nats-pf1-oMmIG8).
    child = spawn(LAZYFS_BIN, [mountPoint, "--config-path", path.basename(configPath), "-o", "allow_other", "-o", "modules=subdir", "-o", `subdir=${backingDir}`, "-f"], {
      stdio: ["ignore", log, log],
      detached: true,
      cwd: controlDir,
    });
  } finally {
    fs.closeSync(log);
  }
  child.unref();
  const logText = () => (fs.existsSync(logPath) ? fs.readFileSync(logPath, "utf8") : "");
  const deadline = Date.now() + 15_000;
  while (!isMounted(mountPoint) || !fs.existsSync(fifo)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      try {
        process.kill(child.pid!, "SIGKILL");
      } catch {
        // gone
      }
      throw new Error(`LazyFS did not mount ${mountPoint} within 15 s:\n${logText().slice(-2000)}`);
    }
    await sleep(50);
  }

  /** Sends a command and waits for LazyFS's log line that says it is done. */
  const command = async (cmd: string, doneLine: string): Promise<void> => {
    const before = logText().split(doneLine).length;
    fs.writeFileSync(fifo, `${cmd}\n`);
    const until = Date.now() + 30_000;
    while (logText().split(doneLine).length <= before) {
      if (Date.now() > until) throw new Error(`LazyFS at ${mountPoint}: '${cmd}' not done within 30 s:\n${logText().slice(-2000)}`);
      await sleep(20);
    }
  };

  let mounted = true;
  // A LazyFS that dies under a running server shows up later as "transport endpoint is not
  // connected" from the server (seen once in 12 suites, no trace left): say when, how and its log.
  child.once("exit", (code, signal) => {
    if (mounted) console.error(`[lazyfs] ${mountPoint}: LazyFS exited while mounted (code ${code}, signal ${signal}); its log ends:\n${logText().slice(-2000)}`);
  });
  return {
    mountPoint,
    checkpoint: () => command("lazyfs::cache-checkpoint", "checkpoint is done"),
    clearCache: () => command("lazyfs::clear-cache", "cache is cleared"),
    unmount: async () => {
      if (!mounted) return;
      mounted = false;
      // -z: lazy, so a server still dying does not keep the mount (and the test's temp dir) busy.
      spawnSync("fusermount3", ["-u", "-z", mountPoint]);
      const until = Date.now() + 10_000;
      while (child.exitCode === null && child.signalCode === null && Date.now() < until) await sleep(50);
      if (child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(child.pid!, "SIGKILL");
        } catch {
          // gone
        }
      }
    },
  };
}
