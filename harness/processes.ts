/** Finding and stopping the nats-server processes a test started, by what /proc says they are. */
import * as fs from "node:fs";
import { processCommandLine } from "../components/local/process-identity";

/** Pids of live nats-server processes whose command line mentions `dir` (their config lives under it). */
export function natsServersUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const args = processCommandLine(Number(entry));
    if (args && args[0].endsWith("nats-server") && args.some((a) => a.startsWith(dir))) pids.push(Number(entry));
  }
  return pids;
}

/** SIGKILLs every nats-server under `dir`: the last-resort cleanup of a failed test. */
export function killNatsServersUnder(dir: string): number[] {
  const pids = natsServersUnder(dir);
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  return pids;
}

/** SIGKILLs every CID service (components/cid) whose folder is under `dir`: its command line carries `--cim-dir=<folder>`. */
export function killCidServicesUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const args = processCommandLine(Number(entry));
    if (!args?.some((a) => a.startsWith(`--cim-dir=${dir}`))) continue;
    try {
      process.kill(Number(entry), "SIGKILL");
      pids.push(Number(entry));
    } catch {
      // already gone
    }
  }
  return pids;
}
