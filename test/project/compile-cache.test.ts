/**
 * scripts/with-env.sh turns on Node's on-disk compile cache for everything it starts (every
 * Pulumi run loads TypeScript and the SDK again: docs/dev.md, "CPU per Pulumi run"), in the
 * checkout's git-ignored .cache/, and keeps a folder the caller chose.
 */
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../harness/pulumi-cli";

const SCRIPT = path.join(PROJECT_ROOT, "scripts", "with-env.sh");
/** The folder Node itself reports its compile cache in (undefined: not enabled). */
const PROBE = "process.stdout.write(String(require('node:module').getCompileCacheDir()))";

function cacheDirUnder(env: NodeJS.ProcessEnv): string {
  return execFileSync("bash", [SCRIPT, "node", "-e", PROBE], { cwd: PROJECT_ROOT, env, encoding: "utf8", timeout: 30_000 });
}

describe("with-env.sh: Node's compile cache", () => {
  it("is on, in the checkout's .cache/node-compile-cache", () => {
    const env = { ...process.env };
    delete env.NODE_COMPILE_CACHE;
    expect(cacheDirUnder(env)).toMatch(new RegExp(`^${path.join(PROJECT_ROOT, ".cache", "node-compile-cache").replace(/[.]/g, "\\.")}`));
  });

  it("keeps a folder the caller set", () => {
    expect(cacheDirUnder({ ...process.env, NODE_COMPILE_CACHE: "/tmp/cim-nats-own-compile-cache" })).toMatch(/^\/tmp\/cim-nats-own-compile-cache/);
  });
});
