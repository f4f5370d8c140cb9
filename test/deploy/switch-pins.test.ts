/**
 * The switch script's two pins, run for real by bash (no SSH):
 * - the nixpkgs pin: the script fetches `nixpkgs.nix` (rendered by nixos-system.ts) with Debian's
 *   real nix-instantiate into a throwaway store (`NIX_REMOTE`), from a `file://` tarball, records
 *   the GC root and hands the store path to the rebuild as `-I nixpkgs=…`; a wrong sha256 fails
 *   with Nix's "hash mismatch" before anything is rebuilt;
 * - the nats-server version: the server the switch waited for must report the pinned version on
 *   /varz (a real nats-server 2.15.2); another pinned version fails the switch with a clear message.
 */
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { contentTrigger, RenderedFile, stagedFiles } from "../../components/deploy/files";
import { nixpkgsPinFile } from "../../components/deploy/nixos-system";
import { DEFAULT_DEPLOY_OPTIONS, DeployOptions, NATS_SERVER_VERSION, stageDirCommand, stagedPath, switchScript } from "../../components/deploy/scripts";
import { natsServerBinary } from "../../components/local/nats-process";
import { freePort } from "../local/free-port";
import { eventually } from "../support/eventually";

const ADDRESS = "127.0.90.20";
const HAS_NIX = spawnSync("nix-instantiate", ["--version"]).status === 0;

describe("the switch's pins under bash", () => {
  let dir: string;
  let server: ChildProcess;
  let monitoringPort: number;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "cim-nixpin-switch-"));
    monitoringPort = await freePort(ADDRESS);
    server = spawn(natsServerBinary(), ["-a", ADDRESS, "-p", String(await freePort(ADDRESS)), "-m", String(monitoringPort)], { stdio: "ignore" });
    await eventually("the nats-server answering /healthz", async () => (await fetch(`http://${ADDRESS}:${monitoringPort}/healthz`)).status, (s) => s === 200, 10_000);
  });
  afterAll(() => {
    server?.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  });

  /** A `nixos-rebuild` stand-in that records its arguments. */
  function recorder(name: string): { command: string; log: string } {
    const path = join(dir, `${name}-rebuild.sh`);
    const log = join(dir, `${name}-rebuild.log`);
    writeFileSync(path, `#!/usr/bin/env bash\necho "rebuild $*" >> ${log}\n`, { mode: 0o755 });
    return { command: `${path} switch`, log };
  }

  function deploy(name: string, files: RenderedFile[], options: DeployOptions, env: Record<string, string> = {}) {
    const staged = stagedFiles(name, files);
    expect(spawnSync("bash", ["-c", stageDirCommand(options)]).status).toBe(0);
    for (const f of staged) writeFileSync(stagedPath(f, options), files.find((x) => x.path === f.path)!.content, { mode: 0o644 });
    const script = switchScript(name, staged, [{ serverName: `${name}-leaf`, monitoringAddress: ADDRESS, monitoringPort }], options, contentTrigger(files));
    return spawnSync("bash", ["-s", "--", "update"], { input: script, encoding: "utf8", timeout: 60_000, env: { ...process.env, ...env } });
  }

  it("the server runs the pinned nats-server: the switch says so", () => {
    const rebuild = recorder("version-ok");
    const options = { ...DEFAULT_DEPLOY_OPTIONS, stagingDir: join(dir, "version-ok-stage"), rebuildCommand: rebuild.command, healthTimeoutSeconds: 10 };
    const run = deploy("version-ok", [{ path: join(dir, "version-ok-root", "host.nix"), content: "x", mode: "0644", secret: false }], options);
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(run.stdout).toContain(`cim-nats: version-ok-leaf runs nats-server ${NATS_SERVER_VERSION}\n`);
  });

  it("a server on another version fails the switch with both versions named (the check can fail)", () => {
    const rebuild = recorder("version-bad");
    const options = { ...DEFAULT_DEPLOY_OPTIONS, stagingDir: join(dir, "version-bad-stage"), rebuildCommand: rebuild.command, healthTimeoutSeconds: 10, natsServerVersion: "2.14.0" };
    const run = deploy("version-bad", [{ path: join(dir, "version-bad-root", "host.nix"), content: "x", mode: "0644", secret: false }], options);
    expect(run.status).toBe(1);
    expect(run.stderr).toBe(
      "cim-nats: version-bad-leaf runs nats-server 2.15.2, not the pinned 2.14.0 (services.cim-nats.package, nix/modules/nats-server.nix)\n",
    );
    expect(run.stdout).not.toContain("deployed");
  });

  describe.skipIf(!HAS_NIX)("the nixpkgs pin, fetched by the real nix-instantiate", () => {
    let tarball: string;
    let narHash: string;

    beforeAll(() => {
      // A stand-in nixpkgs tree, packed like GitHub's archive (one top directory).
      const tree = join(dir, "tree", "nixpkgs-0000");
      mkdirSync(join(tree, "nixos"), { recursive: true });
      writeFileSync(join(tree, "nixos", "default.nix"), "{ ... }: { }\n");
      writeFileSync(join(tree, ".version"), "25.11\n");
      tarball = join(dir, "nixpkgs.tar.gz");
      expect(spawnSync("tar", ["czf", tarball, "-C", join(dir, "tree"), "nixpkgs-0000"]).status).toBe(0);
      narHash = spawnSync("nix-hash", ["--type", "sha256", "--base32", tree], { encoding: "utf8" }).stdout.trim();
      expect(narHash).toMatch(/^[0-9a-z]{52}$/);
    });

    function pinnedDeploy(name: string, sha256: string) {
      const root = join(dir, `${name}-root`);
      const pinPath = join(root, "etc/nixos/cim-nats/nixpkgs.nix");
      const rebuild = recorder(name);
      const options: DeployOptions = {
        ...DEFAULT_DEPLOY_OPTIONS,
        stagingDir: join(dir, `${name}-stage`),
        rebuildCommand: rebuild.command,
        healthTimeoutSeconds: 10,
        nixpkgsPin: pinPath,
        nixpkgsGcRoot: join(root, "nix/var/nix/gcroots/cim-nats/nixpkgs"),
      };
      const files: RenderedFile[] = [{ path: pinPath, content: nixpkgsPinFile({ url: `file://${tarball}`, sha256 }), mode: "0644", secret: false }];
      // A store of its own under the test dir: no daemon, nothing of the machine's.
      const run = deploy(name, files, options, { NIX_REMOTE: join(dir, `${name}-store`) });
      return { run, rebuild, options };
    }

    it("fetches the pin, keeps it as a GC root and rebuilds against it", () => {
      const { run, rebuild, options } = pinnedDeploy("pin-ok", narHash);
      expect(run.status, run.stderr).toBe(0);
      const storePath = /cim-nats: nixpkgs (\/nix\/store\/[a-z0-9]{32}-source)\n/.exec(run.stdout)?.[1];
      expect(storePath).toBeDefined();
      expect(readFileSync(rebuild.log, "utf8")).toBe(`rebuild switch -I nixpkgs=${storePath}\n`);
      expect(readlinkSync(options.nixpkgsGcRoot)).toBe(storePath);
      // What Nix put in the (chroot) store is the tree the tarball holds.
      expect(readFileSync(join(dir, "pin-ok-store", storePath!, ".version"), "utf8")).toBe("25.11\n");
    });

    it("a wrong sha256 fails with Nix's hash mismatch, before anything is rebuilt (the check can fail)", () => {
      const wrong = "0".repeat(52);
      const { run, rebuild } = pinnedDeploy("pin-bad", wrong);
      expect(run.status).toBe(1);
      expect(run.stderr).toContain(`hash mismatch in file downloaded from 'file://${tarball}'`);
      expect(run.stderr).toContain(`got:       sha256:${narHash}`);
      expect(run.stderr).toContain("cim-nats: cannot fetch the pinned nixpkgs");
      expect(existsSync(rebuild.log)).toBe(false);
      expect(run.stdout).not.toContain("deployed");
    });
  });
});
