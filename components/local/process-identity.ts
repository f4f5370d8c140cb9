/**
 * Is this pid still *our* server? A pid in Pulumi state outlives the process it named: the
 * server may have crashed, the machine rebooted, and the number been reused by another program.
 * The kernel's own record (/proc/<pid>/cmdline) says what runs under it; only a nats-server
 * started with our config file counts, so we never signal someone else's process.
 */
import * as fs from "node:fs";
import * as path from "node:path";

/** The command line of a live, non-zombie process, or undefined when there is none. */
export function processCommandLine(pid: number): readonly string[] | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 3, after the parenthesised command name (which may itself contain ') ').
    const state = stat.slice(stat.lastIndexOf(")") + 2).charAt(0);
    if (state === "Z" || state === "X") return undefined;
    const args = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    if (args[args.length - 1] === "") args.pop();
    return args.length > 0 ? args : undefined;
  } catch {
    return undefined;
  }
}

/** The config file a nats-server command line names (`-c x`, `--config x`, `-c=x`, `--config=x`). */
export function configArgument(args: readonly string[]): string | undefined {
  for (let i = 1; i < args.length; i++) {
    const a = args[i];
    if ((a === "-c" || a === "--config" || a === "-config") && i + 1 < args.length) return args[i + 1];
    const eq = /^--?(?:c|config)=(.*)$/.exec(a);
    if (eq) return eq[1];
  }
  return undefined;
}

/** Whether `pid` is a live nats-server serving exactly `configPath`. */
export function isServingConfig(pid: number, configPath: string): boolean {
  const args = processCommandLine(pid);
  if (!args || !path.basename(args[0]).startsWith("nats-server")) return false;
  const config = configArgument(args);
  return config !== undefined && path.resolve(config) === path.resolve(configPath);
}
