/**
 * One real nats-server with JetStream for a test file: random free ports on 127.0.0.1, a temp
 * store, an optional JetStream domain. `stop()` kills it and removes the temp dir.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { startNatsServer, stopNatsServer, waitHealthy } from "../components/local/nats-process";
import { freePort } from "./free-port";
import type { ConnectionTarget } from "../components/jetstream/types";

export type SingleServer = {
  readonly url: string;
  readonly dir: string;
  /** A connection target for this server and its domain. */
  readonly target: ConnectionTarget;
  stop(): Promise<void>;
};

export async function startSingleServer(options: { domain?: string } = {}): Promise<SingleServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "jetstream-single-"));
  let pid: number | undefined;
  const stop = async () => {
    if (pid !== undefined) await stopNatsServer(pid);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    // A port taken between freePort and the server's bind makes the start fail: retry.
    for (let attempt = 0; ; attempt++) {
      const port = await freePort();
      const http = await freePort();
      const conf = path.join(dir, "server.conf");
      fs.writeFileSync(
        conf,
        [
          `listen: "127.0.0.1:${port}"`,
          `http: "127.0.0.1:${http}"`,
          `jetstream {`,
          `  store_dir: "${path.join(dir, "store")}"`,
          options.domain ? `  domain: "${options.domain}"` : "",
          `}`,
        ].join("\n"),
      );
      const proc = await startNatsServer({ configPath: conf, logPath: path.join(dir, "server.log") });
      pid = proc.pid;
      try {
        await waitHealthy(`http://127.0.0.1:${http}`, 15_000, pid);
      } catch (e) {
        await stopNatsServer(pid);
        pid = undefined;
        if (attempt < 3) continue;
        throw e;
      }
      const url = `nats://127.0.0.1:${port}`;
      return { url, dir, target: { servers: [url], domain: options.domain }, stop };
    }
  } catch (e) {
    await stop();
    throw e;
  }
}

/** Runs the pinned nats CLI against `url`; returns stdout. */
export function natsCli(url: string, args: readonly string[]): string {
  const { execFileSync } = require("node:child_process") as typeof import("node:child_process");
  const root = process.env.CIM_NATS_ROOT ?? path.resolve(__dirname, "..");
  return execFileSync(path.join(root, ".tools", "bin", "nats"), ["-s", url, "--no-context", ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** An out-of-band stream edit through the raw JetStream API (INFO, patch, UPDATE). */
export async function rawStreamEdit(nc: import("@nats-io/nats-core").NatsConnection, name: string, patch: Record<string, unknown>, domain?: string): Promise<void> {
  const api = domain ? `$JS.${domain}.API` : "$JS.API";
  const req = async (subject: string, body?: unknown) => {
    const r = await nc.request(subject, body === undefined ? new Uint8Array() : new TextEncoder().encode(JSON.stringify(body)), { timeout: 5000 });
    const j = JSON.parse(new TextDecoder().decode(r.data));
    if (j.error) throw new Error(`${subject}: ${j.error.description}`);
    return j;
  };
  const info = await req(`${api}.STREAM.INFO.${name}`);
  await req(`${api}.STREAM.UPDATE.${name}`, { ...info.config, ...patch });
}
