/**
 * Runs a command to completion and collects what it printed: the one spawn/collect/timeout loop
 * that tests, benches and harness/ share, so a fix (a stdin EPIPE, a split UTF-8 character, a
 * timer left running) is made once. Long-running services that a test starts and stops later
 * (nats-server, sshd, LazyFS) are not this shape and spawn their own.
 */
import { spawn } from "node:child_process";

export type ProcessRun = {
  /** Exit code; null when a signal ended the process. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall time from spawn to close, in ms. */
  readonly ms: number;
  /** The process was sent SIGTERM at `timeoutMs`. */
  readonly timedOut: boolean;
};

export type RunProcessOptions = {
  readonly cwd?: string;
  /** Default: this process's environment. */
  readonly env?: NodeJS.ProcessEnv;
  /** Written to stdin, which is then closed; without it stdin is not connected. */
  readonly input?: string;
  /** SIGTERM after this many ms; default: no limit. */
  readonly timeoutMs?: number;
  /** Each chunk of stdout as it arrives (it is also collected). */
  readonly onStdout?: (text: string) => void;
  /** Each chunk of stderr as it arrives (it is also collected). */
  readonly onStderr?: (text: string) => void;
};

/** Runs `command <args>`; resolves when it has exited, whatever its code; rejects only when it cannot start. */
export function runProcess(command: string, args: readonly string[], options: RunProcessOptions = {}): Promise<ProcessRun> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    // Both are pipes (stdio above); the type of a mixed stdio array cannot say so.
    child.stdout!.setEncoding("utf8").on("data", (text: string) => {
      stdout += text;
      options.onStdout?.(text);
    });
    child.stderr!.setEncoding("utf8").on("data", (text: string) => {
      stderr += text;
      options.onStderr?.(text);
    });
    let timedOut = false;
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill("SIGTERM");
          }, options.timeoutMs);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`could not run ${command} ${args.join(" ")}: ${err.message}`));
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started, timedOut });
    });
    if (child.stdin) {
      // A process that exits without reading its input closes the pipe (EPIPE): its exit code says what happened.
      child.stdin.on("error", () => undefined);
      child.stdin.end(options.input);
    }
  });
}
