/**
 * The prod deployment's commands run for real: the builds on this machine (the deploying machine),
 * everything else over real SSH against a local test host (Debian's sshd on 127.0.142.x, one
 * address per prod host), with the Nix commands replaced by stand-ins that keep Nix's contracts
 * and a system whose activation (re)starts the host's real nats-servers (ssh-fixture.ts). The
 * deploy authenticates through an ssh-agent: no key in its inputs. Proves, the way deploy-rs and
 * colmena deploy:
 * - each host's system is built once, here, and only its closure goes to its host over SSH (host
 *   key pinned); the hosts get no NixOS source; activation goes through the system profile;
 * - the secrets land once each, 0600, at their home; no staged copy, no copy in any store;
 * - hub members activate one at a time; a changed host file rebuilds and re-activates that host
 *   only, as a rolling update that waits for the full /healthz;
 * - a generation that does not come up healthy is rolled back (the previous one runs again) and
 *   the deploy fails naming the host; the hub member after it is never switched; other hosts are
 *   untouched.
 * Create or update is what the engine plans from the SDK's registration (engine-plan.ts).
 */
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NixosDeployment } from "../../components/deploy/nixos-deployment";
import { NATS_SERVER_VERSION } from "../../components/deploy/scripts";
import { Topology } from "../../components/topology/types";
import { freePort } from "../../harness/free-port";
import { installMocks, MockRecorder, Registered, registered } from "../proxmox/mocks";
import { plannedOperation, PlannedOperation } from "./engine-plan";
import { replay, ReplayFailure, ReplayStep } from "./replay";
import { SSHD, SshAgent, SshHost, startSshAgent, startSshHost } from "./ssh-host";
import {
  buildLog,
  copyLog,
  deployTools,
  hostRoot,
  hostSecrets,
  predictedBuild,
  sshDeployFiles,
  sshTestTopology,
  stopRecordedServers,
  storeDir,
  switchLog,
  unitPid,
  withSecretOutputs,
  type DeployTools,
} from "./ssh-fixture";

const PREFIX = "127.0.142";
const hasSshd = existsSync(SSHD);
if (!hasSshd) console.warn(`ssh-replay: skipped: ${SSHD} is missing (apt-get install openssh-server)`);

const mode = (p: string) => (statSync(p).mode & 0o777).toString(8).padStart(4, "0");
/** Every regular file under `dir`, recursively (symlinks not followed). */
const filesUnder = (dir: string): string[] =>
  readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    const st = lstatSync(p);
    return st.isDirectory() ? filesUnder(p) : st.isFile() ? [p] : [];
  });

describe.skipIf(!hasSshd)("prod deployment replayed over real SSH: build once, copy the closure, activate, roll back", () => {
  let dir: string;
  let root: string;
  let topology: Topology;
  let ssh: SshHost;
  let agent: SshAgent;
  let tools: DeployTools;
  let firstSteps: ReplayStep[];
  let mocks: MockRecorder;

  const declare = async (hostFileExtra: Record<string, string> = {}, configEdits: Record<string, (t: string) => string> = {}) => {
    mocks = await installMocks("sshtest", predictedBuild(dir));
    const deployment = new NixosDeployment("ssh", {
      topology,
      hosts: withSecretOutputs(sshDeployFiles(topology, root, hostFileExtra, configEdits)),
      // No key: the agent. Pinned to the test host's key, as the prod deploy pins each container's.
      connection: { port: ssh.port, dialErrorLimit: 3, perDialTimeout: 5, hostKeys: Object.fromEntries(topology.hosts.map((h) => [h.name, ssh.hostPublicKey])) },
      options: { stagingDir: join(dir, "stage"), healthTimeoutSeconds: 15 },
    });
    await registered(Object.values(deployment.switches));
    return mocks.registered.filter((r) => r.type.startsWith("command:"));
  };
  const run = (resources: readonly Registered[], operationOf: (r: Registered) => PlannedOperation) =>
    replay(resources, (n) => mocks.urnOf(n), {
      sshOptions: ssh.sshOptions,
      operationOf,
      localEnv: { ...process.env, PATH: `${tools.builderBin}:${process.env.PATH}`, SSH_AUTH_SOCK: agent.socket, XDG_CACHE_HOME: join(dir, "cache"), TMPDIR: join(dir, "tmp") },
    });
  /** The planned changes from `before` to `after` (engine-plan.ts), as `op name`. */
  const plan = async (before: readonly Registered[], after: readonly Registered[]) => {
    const old = new Map(before.map((r) => [r.name, r]));
    const planned = new Map<string, PlannedOperation>();
    for (const r of after) planned.set(r.name, await plannedOperation(old.get(r.name), r));
    return planned;
  };
  const address = (host: string) => topology.hosts.find((h) => h.name === host)!.address;
  const profileTarget = (host: string) => readlinkSync(`${hostRoot(root, address(host))}/nix/var/nix/profiles/${readlinkSync(`${hostRoot(root, address(host))}/nix/var/nix/profiles/system`)}`);
  const systemOf = (r: Registered) => /^SYSTEM=(\S+)$/m.exec(r.inputs.stdin)![1];
  const pids = () => Object.fromEntries(topology.hosts.flatMap((h) => h.instances.map((i) => [i.serverName, unitPid(root, h.address, `cim-nats-${i.kind}`)])));

  beforeAll(async () => {
    dir = mkdtempSync("/tmp/cim-replay-");
    root = join(dir, "root");
    mkdirSync(join(dir, "tmp"));
    topology = await sshTestTopology(dir, PREFIX);
    tools = deployTools(dir, root);
    ssh = await startSshHost(join(dir, "sshd"), [`${PREFIX}.1`, ...topology.hosts.map((h) => h.address)], await freePort(`${PREFIX}.1`), tools.hostBin);
    agent = startSshAgent(join(dir, "agent"), ssh.clientKeyPath);
    const resources = await declare();
    firstSteps = await run(resources, () => "create");
  }, 180_000);

  afterAll(async () => {
    if (root) stopRecordedServers(root);
    agent?.stop();
    await ssh?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("builds each host's system once, here, and copies only its closure to its host (which gets no NixOS source)", () => {
    expect(buildLog(dir).map((l) => l.subject).sort()).toEqual(topology.hosts.map((h) => h.name).sort());
    for (const h of topology.hosts) {
      const system = systemOf(mocks.byName(`ssh-${h.name}-switch`));
      // The build printed the store path the switch activates (as Nix's, a function of the inputs).
      expect(firstSteps.find((s) => s.name === `ssh-${h.name}-build`)!.stdout).toBe(`${system}\n`);
      expect(copyLog(dir).filter((l) => l.subject === h.address).map((l) => l.detail)).toEqual([system.split("/").pop()]);
      expect(existsSync(`${hostRoot(root, h.address)}/etc`)).toBe(false);
    }
  });

  it("activates each host's system through its profile; every server runs the config it was built with", async () => {
    for (const h of topology.hosts) expect(profileTarget(h.name)).toBe(systemOf(mocks.byName(`ssh-${h.name}-switch`)));
    for (const i of topology.hosts.flatMap((h) => h.instances)) {
      const res = await fetch(`http://${i.monitoringAddress}:${i.monitoringPort}/varz`);
      expect(((await res.json()) as { server_name: string }).server_name).toBe(i.serverName);
    }
  });

  it("hub members switch one after another, each first switch waiting for js-server-only health", () => {
    const step = (host: string) => firstSteps.find((s) => s.name === `ssh-${host}-switch`)!;
    expect(step("nats-2").startedAt).toBeGreaterThanOrEqual(step("nats-1").finishedAt);
    expect(step("nats-3").startedAt).toBeGreaterThanOrEqual(step("nats-2").finishedAt);
    for (const h of topology.hosts) {
      expect(step(h.name).stdout).toBe(
        [
          ...h.instances.map((i) => `cim-nats: ${i.serverName} healthy (http://${i.monitoringAddress}:${i.monitoringPort}/healthz?js-server-only=true)`),
          ...h.instances.map((i) => `cim-nats: ${i.serverName} runs nats-server ${NATS_SERVER_VERSION}`),
          `cim-nats: ${h.name} deployed (${systemOf(mocks.byName(`ssh-${h.name}-switch`))})`,
          "",
        ].join("\n"),
      );
    }
  });

  it("each secret is on its host once, 0600 at its home: nothing staged, nothing kept aside, none in a store or a build dir", () => {
    const all = filesUnder(dir);
    for (const h of topology.hosts) {
      for (const [path, content] of Object.entries(hostSecrets(root, h))) {
        expect(all.filter((f) => readFileSync(f, "utf8").includes(content)), content).toEqual([path]);
        expect(mode(path)).toBe("0600");
      }
      expect(mode(`${hostRoot(root, h.address)}/var/lib/cim-nats/secrets`)).toBe("0700");
    }
    expect(readdirSync(join(dir, "stage"))).toEqual([]);
    expect(mode(join(dir, "stage"))).toBe("0700");
    // The systems in the hosts' store hold configs and a script, never a secret (checked above), and the build dirs are gone.
    expect(readdirSync(storeDir(dir))).toHaveLength(topology.hosts.length);
    expect(readdirSync(join(dir, "tmp"))).toEqual([]);
  });

  it("a change to nats-2's host file rebuilds and re-activates nats-2 only, as a rolling update (full /healthz)", async () => {
    const before = await declare();
    const after = await declare({ "nats-2": "# changed\n" });
    const planned = await plan(before, after);
    const changed = after.filter((r) => planned.get(r.name) !== "same");
    expect(changed.map((r) => `${planned.get(r.name)} ${r.name}`).sort()).toEqual(["update ssh-nats-2-build", "update ssh-nats-2-switch"]);

    const [builds, copies, switches] = [buildLog(dir).length, copyLog(dir).length, switchLog(dir).length];
    const steps = await run(changed, (r) => planned.get(r.name)!);
    expect(buildLog(dir).slice(builds).map((l) => l.subject)).toEqual(["nats-2"]);
    expect(copyLog(dir).slice(copies).map((l) => l.subject)).toEqual([address("nats-2")]);
    expect(switchLog(dir).slice(switches).map((l) => `${l.event} ${l.subject}`)).toEqual([`start ${address("nats-2")}`, `end ${address("nats-2")}`]);
    expect(profileTarget("nats-2")).toBe(systemOf(mocks.byName("ssh-nats-2-switch")));
    // The restarted hub member passed the full /healthz: it rejoined its cluster with quorum intact.
    const nats2 = topology.hosts.find((h) => h.name === "nats-2")!;
    expect(steps.find((s) => s.name === "ssh-nats-2-switch")!.stdout).toBe(
      [
        ...nats2.instances.map((i) => `cim-nats: ${i.serverName} healthy (http://${i.monitoringAddress}:${i.monitoringPort}/healthz)`),
        ...nats2.instances.map((i) => `cim-nats: ${i.serverName} runs nats-server ${NATS_SERVER_VERSION}`),
        `cim-nats: nats-2 deployed (${systemOf(mocks.byName("ssh-nats-2-switch"))})`,
        "",
      ].join("\n"),
    );
  }, 120_000);

  describe("a generation that does not come up healthy", () => {
    let failure: ReplayFailure;
    let pidsBefore: Record<string, number | undefined>;
    let previous: Record<string, string>;
    let broken: string;
    let storeDirBefore: string;

    beforeAll(async () => {
      const before = await declare({ "nats-2": "# changed\n" });
      previous = Object.fromEntries(topology.hosts.map((h) => [h.name, profileTarget(h.name)]));
      pidsBefore = pids();
      const nats2Leaf = topology.hosts.find((h) => h.name === "nats-2")!.instances.find((i) => i.kind === "leaf")!;
      storeDirBefore = nats2Leaf.storeDir;
      // nats-2's leaf cannot start in the new generation (its store dir would be inside a file);
      // nats-3 has a change waiting behind it in the hub roll.
      const after = await declare(
        { "nats-2": "# changed\n", "nats-3": "# changed\n" },
        { "nats-2": (t) => t.replace(JSON.stringify(storeDirBefore), JSON.stringify("/dev/null/store")) },
      );
      const planned = await plan(before, after);
      const changed = after.filter((r) => planned.get(r.name) !== "same");
      expect(changed.map((r) => `${planned.get(r.name)} ${r.name}`).sort()).toEqual([
        "update ssh-nats-2-build",
        "update ssh-nats-2-switch",
        "update ssh-nats-3-build",
        "update ssh-nats-3-switch",
      ]);
      broken = systemOf(mocks.byName("ssh-nats-2-switch"));
      try {
        await run(changed, (r) => planned.get(r.name)!);
      } catch (e) {
        failure = e as ReplayFailure;
      }
    }, 180_000);

    it("the deploy fails at nats-2's switch, naming the host, the generation and the rollback", () => {
      expect(failure).toBeInstanceOf(ReplayFailure);
      expect(failure.failures.map((f) => f.name)).toEqual(["ssh-nats-2-switch"]);
      const message = failure.failures[0].message;
      expect(message).toContain(`cim-nats: nats-2: ${broken} is not healthy within 15s; activating the previous generation ${previous["nats-2"]} again`);
      expect(message).toContain(`cim-nats: nats-2 rolled back to ${previous["nats-2"]}; its new generation failed (above) and nothing after it ran`);
    });

    it("nats-2 runs its previous generation again: the profile names it, its servers answer the full /healthz with the old store", async () => {
      expect(profileTarget("nats-2")).toBe(previous["nats-2"]);
      expect(switchLog(dir).filter((l) => l.subject === address("nats-2")).slice(-4).map((l) => `${l.event} ${l.detail}`)).toEqual([
        `start ${broken}`,
        `end ${broken}`,
        `start ${previous["nats-2"]}`,
        `end ${previous["nats-2"]}`,
      ]);
      for (const i of topology.hosts.find((h) => h.name === "nats-2")!.instances) {
        expect((await fetch(`http://${i.monitoringAddress}:${i.monitoringPort}/healthz`)).status).toBe(200);
        if (i.kind === "leaf") {
          const jsz = (await (await fetch(`http://${i.monitoringAddress}:${i.monitoringPort}/jsz`)).json()) as { config: { store_dir: string } };
          // nats-server keeps its streams in <store_dir>/jetstream.
          expect(jsz.config.store_dir).toBe(join(storeDirBefore, "jetstream"));
        }
      }
    });

    it("the hub roll stopped there: nats-3 got its closure but was never switched; nats-1 and cimstor were not touched", () => {
      const ran = failure.steps.map((s) => s.name);
      expect(ran).toContain("ssh-nats-3-build");
      expect(ran).not.toContain("ssh-nats-3-switch");
      for (const host of ["nats-1", "nats-3", "cimstor"]) expect(profileTarget(host)).toBe(previous[host]);
      const now = pids();
      for (const h of topology.hosts.filter((x) => x.name !== "nats-2")) {
        for (const i of h.instances) expect(now[i.serverName], i.serverName).toBe(pidsBefore[i.serverName]);
      }
    });
  });
});
