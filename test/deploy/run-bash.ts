/**
 * Runs a script with bash without blocking the event loop (spawnSync would), so a file's
 * independent switch runs can overlap: the shape of spawnSync's result, for the same assertions.
 */
import { spawn } from "node:child_process";

export type BashRun = { readonly status: number | null; readonly stdout: string; readonly stderr: string };

/** `bash <args>` with `input` on stdin; killed (SIGTERM) after `timeoutMs`. */
export function runBash(args: readonly string[], input: string, env: NodeJS.ProcessEnv = process.env, timeoutMs = 90_000): Promise<BashRun> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", args, { env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGTERM"), timeoutMs);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
    child.stdin.end(input);
  });
}
