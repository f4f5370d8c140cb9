/**
 * Runs a script with bash without blocking the event loop (spawnSync would), so a file's
 * independent switch runs can overlap: the shape of spawnSync's result, for the same assertions.
 */
import { runProcess } from "../../harness/run-process";

export type BashRun = { readonly status: number | null; readonly stdout: string; readonly stderr: string };

/** `bash <args>` with `input` on stdin; killed (SIGTERM) after `timeoutMs`. */
export async function runBash(args: readonly string[], input: string, env: NodeJS.ProcessEnv = process.env, timeoutMs = 90_000): Promise<BashRun> {
  const { code, stdout, stderr } = await runProcess("bash", args, { env, input, timeoutMs });
  return { status: code, stdout, stderr };
}
