/**
 * The switch script run for real by bash on this machine (no SSH): files land with their modes,
 * the rebuild command runs once, and the script waits until a real nats-server answers
 * /healthz. The "rebuild" is a recorder that starts nats-server a second later, so the test
 * sees the wait happen; a server that never comes fails the deploy with the timeout message.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { contentTrigger, RenderedFile, stagedFiles } from "../../components/deploy/files";
import { DEFAULT_DEPLOY_OPTIONS, DeployOptions, stageDirCommand, stagedPath, switchScript } from "../../components/deploy/scripts";
import { natsServerBinary } from "../../components/local/nats-process";
import { freePort } from "../local/free-port";

const ADDRESS = "127.0.30.20";
const mode = (p: string) => (statSync(p).mode & 0o777).toString(8).padStart(4, "0");

describe("switchScript under bash", () => {
  let dir: string;
  const pids: number[] = [];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "cim-h5-switch-"));
  });
  afterAll(() => {
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGTERM");
      } catch {
        // already gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  /** Stages `files` like CopyToRemote does (default mode, inside the 0700 staging dir) and runs the switch. */
  function deploy(name: string, files: RenderedFile[], options: DeployOptions, monitoringPort: number, mode: "create" | "update" = "update") {
    const staged = stagedFiles(name, files);
    const stage = spawnSync("bash", ["-c", stageDirCommand(options)], { encoding: "utf8" });
    expect(stage.status).toBe(0);
    for (const f of staged) writeFileSync(stagedPath(f, options), files.find((x) => x.path === f.path)!.content, { mode: 0o644 });
    const script = switchScript(name, staged, [{ serverName: `${name}-leaf`, monitoringAddress: ADDRESS, monitoringPort }], options, contentTrigger(files));
    const started = Date.now();
    const run = spawnSync("bash", ["-s", "--", mode], { input: script, encoding: "utf8", timeout: 60_000 });
    return { ...run, seconds: (Date.now() - started) / 1000 };
  }

  /** A `nixos-rebuild` stand-in: records its arguments, starts nats-server one second later. */
  function recorder(name: string, port: number, monitoringPort: number, extraArgs = ""): string {
    const path = join(dir, `${name}-rebuild.sh`);
    const log = join(dir, `${name}-rebuild.log`);
    const pidFile = join(dir, `${name}-nats.pid`);
    writeFileSync(
      path,
      [
        "#!/usr/bin/env bash",
        `echo "rebuild $*" >> ${log}`,
        `(sleep 1; exec ${natsServerBinary()} -a ${ADDRESS} -p ${port} -m ${monitoringPort} -P ${pidFile} ${extraArgs}) >${join(dir, `${name}-nats.log`)} 2>&1 &`,
        "",
      ].join("\n"),
      { mode: 0o755 },
    );
    return path;
  }

  it("installs every file with its mode, rebuilds once and waits for /healthz", async () => {
    const [port, monitoringPort] = [await freePort(ADDRESS), await freePort(ADDRESS)];
    const root = join(dir, "ok-root");
    const options = { ...DEFAULT_DEPLOY_OPTIONS, stagingDir: join(dir, "ok-stage"), rebuildCommand: `${recorder("ok", port, monitoringPort)} switch`, healthTimeoutSeconds: 30 };
    const files: RenderedFile[] = [
      { path: `${root}/etc/nixos/cim-nats/host.nix`, content: "# host\n", mode: "0644", secret: false },
      { path: `${root}/etc/nixos/cim-nats/modules/cim-nats.nix`, content: "{ ... }: { }\n", mode: "0444", secret: false },
      { path: `${root}/var/lib/cim-nats/secrets/ok-leaf.creds`, content: "-----BEGIN NATS USER JWT-----\n", mode: "0600", secret: true },
    ];
    const run = deploy("ok", files, options, monitoringPort);
    const pid = Number(readFileSync(join(dir, "ok-nats.pid"), "utf8"));
    pids.push(pid);

    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    // ...and the server it waited for runs the pinned build (/varz).
    expect(run.stdout).toBe(`cim-nats: ok-leaf healthy (http://${ADDRESS}:${monitoringPort}/healthz)\ncim-nats: ok-leaf runs nats-server 2.15.2\ncim-nats: ok deployed\n`);
    expect(run.seconds).toBeGreaterThanOrEqual(1); // the server came up a second after the rebuild
    expect(readFileSync(join(dir, "ok-rebuild.log"), "utf8")).toBe("rebuild switch\n");
    expect(files.map((f) => [mode(f.path), readFileSync(f.path, "utf8")])).toEqual(files.map((f) => [f.mode, f.content]));
    expect(mode(`${root}/var/lib/cim-nats/secrets`)).toBe("0700");
    expect(mode(options.stagingDir)).toBe("0700");
    const health = await fetch(`http://${ADDRESS}:${monitoringPort}/healthz`);
    expect(health.status).toBe(200);
  });

  it("fails with the timeout message when the server never answers", async () => {
    const monitoringPort = await freePort(ADDRESS);
    const root = join(dir, "down-root");
    mkdirSync(root);
    const options = { ...DEFAULT_DEPLOY_OPTIONS, stagingDir: join(dir, "down-stage"), rebuildCommand: "true", healthTimeoutSeconds: 2 };
    const run = deploy("down", [{ path: `${root}/host.nix`, content: "x", mode: "0644", secret: false }], options, monitoringPort);
    expect(run.status).toBe(1);
    expect(run.stderr).toBe(`cim-nats: down-leaf did not answer http://${ADDRESS}:${monitoringPort}/healthz within 2s\n`);
    expect(run.stdout).not.toContain("deployed");
    expect(run.seconds).toBeGreaterThanOrEqual(2);
  });

  it("stops at a failing rebuild, before any health wait", async () => {
    const root = join(dir, "fail-root");
    const options = { ...DEFAULT_DEPLOY_OPTIONS, stagingDir: join(dir, "fail-stage"), rebuildCommand: "echo 'error: evaluation failed' >&2; exit 3", healthTimeoutSeconds: 30 };
    const run = deploy("fail", [{ path: `${root}/host.nix`, content: "x", mode: "0644", secret: false }], options, await freePort(ADDRESS));
    expect(run.status).toBe(3);
    expect(run.stderr).toBe("error: evaluation failed\n");
    expect(run.stdout).toBe("");
  });

  /**
   * A hub member whose peers do not exist yet (a first deploy) cannot pass the full /healthz;
   * a create run waits for js-server-only and goes on, an update run insists on the full check.
   */
  it.each([
    ["create", 0, "healthy (http://ADDR/healthz?js-server-only=true)"],
    ["update", 1, "did not answer http://ADDR/healthz within 4s"],
  ] as const)("%s run of a lone hub member", async (runMode, status, message) => {
    const [port, monitoringPort, routePort] = [await freePort(ADDRESS), await freePort(ADDRESS), await freePort(ADDRESS)];
    const peers = [await freePort(ADDRESS), await freePort(ADDRESS)].map((p) => `nats-route://${ADDRESS}:${p}`).join(",");
    const name = `hub-${runMode}`;
    const store = join(dir, `${name}-js`);
    const args = `-n ${name} -js -sd ${store} --cluster_name c --cluster nats-route://${ADDRESS}:${routePort} --routes ${peers}`;
    const options = { ...DEFAULT_DEPLOY_OPTIONS, stagingDir: join(dir, `${name}-stage`), rebuildCommand: `${recorder(name, port, monitoringPort, args)} switch`, healthTimeoutSeconds: 4 };
    const run = deploy(name, [{ path: join(dir, `${name}-root`, "host.nix"), content: "x", mode: "0644", secret: false }], options, monitoringPort, runMode);
    pids.push(Number(readFileSync(join(dir, `${name}-nats.pid`), "utf8")));
    expect(run.status).toBe(status);
    expect(run.stdout + run.stderr).toContain(message.replace("ADDR", `${ADDRESS}:${monitoringPort}`));
  });
});
