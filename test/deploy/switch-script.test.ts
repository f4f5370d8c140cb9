/**
 * The switch script run for real by bash on this machine (no SSH): it activates a "system" the
 * build copied (a directory whose switch-to-configuration starts a real nats-server, as the
 * NixOS unit would), through the profile (nix-env stand-in) and the unit's state (systemctl
 * stand-in), and waits until the server answers /healthz. A generation that does not come up
 * healthy in time, or whose switch fails, is rolled back: the previous generation is active
 * again, a secret it replaced is back, and the switch fails naming the host. Staged secrets are
 * gone in every case.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { contentSha256 } from "../../components/deploy/build-script";
import { RenderedFile, stagedFiles } from "../../components/deploy/files";
import { DEFAULT_DEPLOY_OPTIONS, DeployOptions, stageDirCommand, stagedPath, switchScript, type SwitchServer } from "../../components/deploy/scripts";
import { natsServerBinary } from "../../components/local/nats-process";
import { freePort } from "../../harness/free-port";
import { writeFakeSystem, writeNixFakes } from "./nix-fakes";
import { runBash } from "./run-bash";

const ADDRESS = "127.0.140.20";
const mode = (p: string) => (statSync(p).mode & 0o777).toString(8).padStart(4, "0");

/** Each case has its own host name, ports, root and staging dir, so the cases run at once. */
describe.concurrent("switchScript under bash", () => {
  let dir: string;
  let bin: string;
  let units: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "cim-switch-"));
    bin = join(dir, "bin");
    units = join(dir, "units");
    mkdirSync(units);
    writeNixFakes(bin, units, join(dir, "nix-env.log"));
  });
  afterAll(() => {
    for (const f of existsSync(units) ? readdirSync(units) : []) {
      try {
        process.kill(Number(readFileSync(join(units, f), "utf8")), "SIGTERM");
      } catch {
        // already gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  /** A system whose activation (re)starts the unit's nats-server a second later with `args` (a broken one exits at once). */
  function system(name: string, unit: string, args: string): string {
    const pidFile = join(units, `${unit}.pid`);
    return writeFakeSystem(
      join(dir, "store", name),
      [
        `echo "switch ${name}" >> ${switchLog(name)}`,
        `if [[ -f ${pidFile} ]]; then old=$(cat ${pidFile}); rm -f ${pidFile}; if kill -TERM "$old" 2>/dev/null; then while kill -0 "$old" 2>/dev/null; do sleep 0.1; done; fi; fi`,
        `(sleep 1; exec ${natsServerBinary()} ${args} -P ${pidFile}) >>${join(dir, `${unit}.log`)} 2>&1 </dev/null &`,
      ].join("\n"),
    );
  }

  /** Where the systems of a case (named `<case>-...`) log their activations: one log per case, as the cases overlap. */
  const switchLog = (system: string) => join(dir, `switch-${system.split("-")[0]}.log`);
  const PATH_WITH_FAKES = () => ({ ...process.env, PATH: `${bin}:${process.env.PATH}` });

  /** Stages `files` like CopyToRemote does (default mode, inside the 0700 staging dir) and runs the switch of `activate`. */
  async function run(host: string, files: RenderedFile[], servers: SwitchServer[], options: DeployOptions, activate: string, profile: string, runMode: "create" | "update" = "update") {
    expect(spawnSync("bash", ["-c", stageDirCommand(options)]).status).toBe(0);
    const staged = (files.length > 0 ? stagedFiles(host, files) : []).map((f) => ({ ...f, sha256: contentSha256(files.find((x) => x.path === f.path)!.content) }));
    for (const f of staged) writeFileSync(stagedPath(f, options), files.find((x) => x.path === f.path)!.content, { mode: 0o644 });
    const script = switchScript(host, staged, servers, options, { system: activate, profile });
    const started = Date.now();
    const out = await runBash(["-s", "--", runMode], script, PATH_WITH_FAKES());
    return { ...out, seconds: (Date.now() - started) / 1000 };
  }

  const profileTarget = (profile: string) => readlinkSync(join(profile, "..", readlinkSync(profile)));

  it("installs the secrets with their modes, activates the system, waits for the unit and /healthz; no staged copy is left", async () => {
    const [port, monitoringPort] = [await freePort(ADDRESS), await freePort(ADDRESS)];
    const root = join(dir, "ok-root");
    const options = { ...DEFAULT_DEPLOY_OPTIONS, stagingDir: join(dir, "ok-stage"), healthTimeoutSeconds: 30 };
    const sys = system("ok-system", "ok-leaf", `-a ${ADDRESS} -p ${port} -m ${monitoringPort}`);
    const files: RenderedFile[] = [
      { path: `${root}/var/lib/cim-nats/secrets/ok-leaf.creds`, content: "-----BEGIN NATS USER JWT-----\n", mode: "0600", secret: true },
      { path: `${root}/var/lib/cim-nats/secrets/ok/key.pem`, content: "-----BEGIN PRIVATE KEY-----\n", mode: "0600", secret: true },
    ];
    const profile = join(root, "nix/var/nix/profiles/system");
    const out = await run("ok", files, [{ serverName: "ok-leaf", unit: "ok-leaf", monitoringAddress: ADDRESS, monitoringPort }], options, sys, profile);

    expect(out.stderr).toBe("");
    expect(out.status).toBe(0);
    expect(out.stdout).toBe(`cim-nats: ok-leaf healthy (http://${ADDRESS}:${monitoringPort}/healthz)\ncim-nats: ok-leaf runs nats-server 2.15.2\ncim-nats: ok deployed (${sys})\n`);
    expect(out.seconds).toBeGreaterThanOrEqual(1); // the server came up a second after the switch
    expect(profileTarget(profile)).toBe(sys);
    expect(files.map((f) => [mode(f.path), readFileSync(f.path, "utf8")])).toEqual(files.map((f) => [f.mode, f.content]));
    expect(mode(`${root}/var/lib/cim-nats/secrets`)).toBe("0700");
    expect(mode(`${root}/var/lib/cim-nats/secrets/ok`)).toBe("0700");
    // Each secret once: at its home. Nothing staged, nothing kept aside.
    expect(readdirSync(options.stagingDir)).toEqual([]);
    expect(readdirSync(`${root}/var/lib/cim-nats/secrets`).sort()).toEqual(["ok", "ok-leaf.creds"]);
    expect((await fetch(`http://${ADDRESS}:${monitoringPort}/healthz`)).status).toBe(200);
  });

  describe("a new generation that is not healthy in time", () => {
    let port: number;
    let monitoringPort: number;
    let root: string;
    let profile: string;
    let good: string;
    let out: Awaited<ReturnType<typeof run>>;
    const creds = () => `${root}/var/lib/cim-nats/secrets/rb-leaf.creds`;
    const options = () => ({ ...DEFAULT_DEPLOY_OPTIONS, stagingDir: join(dir, "rb-stage"), healthTimeoutSeconds: 3 });
    const servers = () => [{ serverName: "rb-leaf", unit: "rb-leaf", monitoringAddress: ADDRESS, monitoringPort }];

    beforeAll(async () => {
      [port, monitoringPort] = [await freePort(ADDRESS), await freePort(ADDRESS)];
      root = join(dir, "rb-root");
      profile = join(root, "nix/var/nix/profiles/system");
      good = system("rb-good", "rb-leaf", `-a ${ADDRESS} -p ${port} -m ${monitoringPort}`);
      const first = await run("rb", [{ path: creds(), content: "creds v1\n", mode: "0600", secret: true }], servers(), options(), good, profile);
      expect(first.status, first.stderr).toBe(0);
      // The next generation's server cannot start (it asks for a store dir inside a file).
      const broken = system("rb-broken", "rb-leaf", `-a ${ADDRESS} -p ${port} -m ${monitoringPort} -js -sd /dev/null/store`);
      out = await run("rb", [{ path: creds(), content: "creds v2\n", mode: "0600", secret: true }], servers(), options(), broken, profile);
    }, 60_000);

    it("fails, naming the host and the generation, after the bound", () => {
      expect(out.status).toBe(1);
      expect(out.stderr).toContain(`cim-nats: rb-leaf (unit rb-leaf inactive) did not answer http://${ADDRESS}:${monitoringPort}/healthz within 3s`);
      expect(out.stderr).toContain(`cim-nats: rb: ${join(dir, "store", "rb-broken")} is not healthy within 3s; activating the previous generation ${good} again`);
      expect(out.stderr).toContain(`cim-nats: rb rolled back to ${good}; its new generation failed (above) and nothing after it ran`);
      expect(out.seconds).toBeGreaterThanOrEqual(3);
    });

    it("the previous generation runs again, healthy, and the profile names it", async () => {
      expect(readFileSync(switchLog("rb"), "utf8").trim().split("\n").slice(-3)).toEqual(["switch rb-good", "switch rb-broken", "switch rb-good"]);
      expect(profileTarget(profile)).toBe(good);
      expect(out.stdout).toContain(`cim-nats: rb-leaf healthy (http://${ADDRESS}:${monitoringPort}/healthz)`);
      expect((await fetch(`http://${ADDRESS}:${monitoringPort}/healthz`)).status).toBe(200);
    });

    it("the secret it replaced is back; no staged or kept-aside copy remains", () => {
      expect(readFileSync(creds(), "utf8")).toBe("creds v1\n");
      expect(mode(creds())).toBe("0600");
      expect(readdirSync(`${root}/var/lib/cim-nats/secrets`)).toEqual(["rb-leaf.creds"]);
      expect(readdirSync(options().stagingDir)).toEqual([]);
    });
  });

  it("a switch-to-configuration that fails rolls back too", async () => {
    const [port, monitoringPort] = [await freePort(ADDRESS), await freePort(ADDRESS)];
    const root = join(dir, "sf-root");
    const profile = join(root, "nix/var/nix/profiles/system");
    const options = { ...DEFAULT_DEPLOY_OPTIONS, stagingDir: join(dir, "sf-stage"), healthTimeoutSeconds: 20 };
    const servers = [{ serverName: "sf-leaf", unit: "sf-leaf", monitoringAddress: ADDRESS, monitoringPort }];
    const good = system("sf-good", "sf-leaf", `-a ${ADDRESS} -p ${port} -m ${monitoringPort}`);
    expect((await run("sf", [], servers, options, good, profile)).status).toBe(0);
    const failing = writeFakeSystem(join(dir, "store", "sf-failing"), "echo 'warning: the following units failed: cim-nats-leaf.service' >&2\nexit 4");
    const out = await run("sf", [], servers, options, failing, profile);
    expect(out.status).toBe(1);
    expect(out.stderr).toContain("warning: the following units failed: cim-nats-leaf.service");
    expect(out.stderr).toContain(`cim-nats: sf rolled back to ${good}`);
    expect(profileTarget(profile)).toBe(good);
  });

  it("with no previous generation it fails and says so", async () => {
    const root = join(dir, "np-root");
    const options = { ...DEFAULT_DEPLOY_OPTIONS, stagingDir: join(dir, "np-stage"), healthTimeoutSeconds: 1 };
    const out = await run("np", [], [{ serverName: "np-leaf", unit: "np-leaf", monitoringAddress: ADDRESS, monitoringPort: await freePort(ADDRESS) }], options, writeFakeSystem(join(dir, "store", "np"), "true"), join(root, "profile"));
    expect(out.status).toBe(1);
    // This machine has no /run/current-system either.
    expect(out.stderr).toContain("activating the previous generation (none) again");
    expect(out.stderr).toContain("cim-nats: np: no previous generation to go back to: fix the configuration and run the up again");
  });

  it("a secret whose copy did not run is checked where it is installed, and a changed one stops the switch before activation", async () => {
    const [port, monitoringPort] = [await freePort(ADDRESS), await freePort(ADDRESS)];
    const root = join(dir, "nc-root");
    const profile = join(root, "profile");
    const options = { ...DEFAULT_DEPLOY_OPTIONS, stagingDir: join(dir, "nc-stage"), healthTimeoutSeconds: 20 };
    const servers = [{ serverName: "nc-leaf", unit: "nc-leaf", monitoringAddress: ADDRESS, monitoringPort }];
    const sys = system("nc-system", "nc-leaf", `-a ${ADDRESS} -p ${port} -m ${monitoringPort}`);
    const file: RenderedFile = { path: `${root}/secrets/nc.creds`, content: "creds\n", mode: "0600", secret: true };
    expect((await run("nc", [file], servers, options, sys, profile)).status).toBe(0);
    // Same secret, its copy not re-run (nothing staged): the installed one matches, the switch goes on.
    const again = await runBash(
      ["-s", "--", "update"],
      switchScript("nc", stagedFiles("nc", [file]).map((f) => ({ ...f, sha256: contentSha256(file.content) })), servers, options, { system: sys, profile }),
      PATH_WITH_FAKES(),
    );
    expect(again.status, again.stderr).toBe(0);
    // Changed on the host behind the deploy's back: stop, name the file and the fix.
    writeFileSync(file.path, "tampered\n");
    const switchesBefore = readFileSync(switchLog("nc"), "utf8");
    const tampered = await runBash(
      ["-s", "--", "update"],
      switchScript("nc", stagedFiles("nc", [file]).map((f) => ({ ...f, sha256: contentSha256(file.content) })), servers, options, { system: sys, profile }),
      PATH_WITH_FAKES(),
    );
    expect(tampered.status).toBe(1);
    expect(tampered.stderr).toBe(`cim-nats: nc: ${file.path} is missing or changed on the host and its copy did not run: pulumi up --replace the URN of its copy step\n`);
    expect(readFileSync(switchLog("nc"), "utf8")).toBe(switchesBefore);
  });

  it("checks health five times a second: the wait ends within 0.2 s of a server being ready, not up to a second later", () => {
    const script = switchScript("poll", [], [{ serverName: "poll-leaf", unit: "poll-leaf", monitoringAddress: ADDRESS, monitoringPort: 8222 }], DEFAULT_DEPLOY_OPTIONS, { system: "/nix/store/x-poll" });
    const wait = /^wait_healthy\(\) \{[^]*?^\}$/m.exec(script)?.[0] ?? "";
    expect(wait).toContain("  until systemctl is-active --quiet \"$2\" && healthz \"$3\" \"$4\" \"$path\"; do\n");
    expect(wait.match(/^\s*sleep .*$/gm)).toEqual(["    sleep 0.2"]);
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
    const sys = system(name, `${name}-unit`, `-a ${ADDRESS} -p ${port} -m ${monitoringPort} -n ${name} -js -sd ${join(dir, `${name}-js`)} --cluster_name c --cluster nats-route://${ADDRESS}:${routePort} --routes ${peers}`);
    const options = { ...DEFAULT_DEPLOY_OPTIONS, stagingDir: join(dir, `${name}-stage`), healthTimeoutSeconds: 4 };
    const out = await run(name, [], [{ serverName: name, unit: `${name}-unit`, monitoringAddress: ADDRESS, monitoringPort }], options, sys, join(dir, `${name}-root`, "profile"), runMode);
    expect(out.status).toBe(status);
    expect(out.stdout + out.stderr).toContain(message.replace("ADDR", `${ADDRESS}:${monitoringPort}`));
  });
});
