/** Runs the pinned nats-server's config check (`nats-server -t -c <file>`) on rendered text. */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { natsServerBinary } from "../../components/local/nats-process";

export type ConfigCheck = { readonly valid: boolean; readonly output: string };

/** Writes `text` to a temp file and runs `nats-server -t` on it. */
export function checkServerConfig(text: string, fileName = "server.conf"): ConfigCheck {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cim-nats-check-"));
  try {
    const file = path.join(dir, fileName);
    fs.writeFileSync(file, text);
    const run = spawnSync(natsServerBinary(), ["-t", "-c", file], { encoding: "utf8", timeout: 30_000 });
    if (run.error) throw run.error;
    return { valid: run.status === 0, output: `${run.stdout}${run.stderr}`.trim() };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
