/**
 * The prod deployment's commands run for real over SSH against a local test host (Debian's sshd
 * on 127.0.30.x, one address per prod host), with `nixos-rebuild` replaced by a recorder that
 * (re)starts the host's real nats-servers from the configs just deployed (rendered by
 * renderServerConfig). Proves: files land with their modes; the switch waits for /healthz; hub
 * members rebuild one at a time; a changed host file re-runs that host's switch only, as a
 * rolling update that waits for the full /healthz of a member rejoining its cluster. Create or
 * update is what the engine plans from the SDK's registration (engine-plan.ts), not the test's pick.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NixosDeployment } from "../../components/deploy/nixos-deployment";
import { NATS_SERVER_VERSION } from "../../components/deploy/scripts";
import { renderServerConfig } from "../../components/render/nats-server-config";
import { Topology } from "../../components/topology/types";
import { freePort } from "../local/free-port";
import { installMocks, MockRecorder, registered } from "../proxmox/mocks";
import { plannedOperation, PlannedOperation } from "./engine-plan";
import { replay, ReplayStep } from "./replay";
import { SSHD, SshHost, startSshHost } from "./ssh-host";
import { rebuildLog, rebuildRecorder, sshDeployFiles, sshTestTopology, stopRecordedServers, withSecretOutputs } from "./ssh-fixture";

const PREFIX = "127.0.30";
const hasSshd = existsSync(SSHD);
if (!hasSshd) console.warn(`ssh-replay: skipped: ${SSHD} is missing (apt-get install openssh-server)`);

const mode = (p: string) => (statSync(p).mode & 0o777).toString(8).padStart(4, "0");

describe.skipIf(!hasSshd)("prod deployment replayed over real SSH", () => {
  let dir: string;
  let root: string;
  let topology: Topology;
  let ssh: SshHost;
  let firstSteps: ReplayStep[];
  let mocks: MockRecorder;

  const declare = async (hostFileExtra: Record<string, string> = {}) => {
    mocks = await installMocks("sshtest");
    const deployment = new NixosDeployment("ssh", {
      topology,
      hosts: withSecretOutputs(sshDeployFiles(topology, root, hostFileExtra)),
      // Pinned to the test host's key, as the prod deploy pins each container's (replay.ts honours it).
      connection: { port: ssh.port, privateKey: ssh.clientKey, dialErrorLimit: 3, perDialTimeout: 5, hostKeys: Object.fromEntries(topology.hosts.map((h) => [h.name, ssh.hostPublicKey])) },
      options: { stagingDir: join(dir, "stage"), healthTimeoutSeconds: 60 },
    });
    await registered(Object.values(deployment.switches));
    return mocks.registered.filter((r) => r.type.startsWith("command:remote:"));
  };

  beforeAll(async () => {
    dir = mkdtempSync("/tmp/cim-h5-ssh-");
    root = join(dir, "root");
    topology = await sshTestTopology(dir, PREFIX);
    const bin = rebuildRecorder(dir, root);
    ssh = await startSshHost(join(dir, "sshd"), [`${PREFIX}.1`, ...topology.hosts.map((h) => h.address)], await freePort(`${PREFIX}.1`), bin);
    const resources = await declare();
    firstSteps = await replay(resources, (n) => mocks.urnOf(n), ssh.sshOptions, () => "create");
  }, 180_000);

  afterAll(async () => {
    if (dir) stopRecordedServers(dir);
    await ssh?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("lands every file with its mode and content", () => {
    for (const h of topology.hosts) {
      const base = `${root}/${h.address}`;
      for (const i of h.instances) {
        expect(mode(`${base}/etc/cim-nats/${i.serverName}.conf`)).toBe("0644");
        expect(readFileSync(`${base}/etc/cim-nats/${i.serverName}.conf`, "utf8")).toBe(renderServerConfig(topology, i.serverName));
      }
      expect(mode(`${base}/etc/nixos/cim-nats/host.nix`)).toBe("0644");
      expect(mode(`${base}/var/lib/cim-nats/secrets/${h.name}-leaf.creds`)).toBe("0600");
      expect(readFileSync(`${base}/var/lib/cim-nats/secrets/${h.name}-leaf.creds`, "utf8")).toBe(`creds of ${h.name}\n`);
      expect(mode(`${base}/var/lib/cim-nats/secrets`)).toBe("0700");
    }
    expect(mode(join(dir, "stage"))).toBe("0700");
  });

  it("rebuilt every host once, the hub members one after another", () => {
    const log = rebuildLog(dir);
    expect(log.filter((l) => l.event === "start").map((l) => l.address).sort()).toEqual(topology.hosts.map((h) => h.address).sort());
    expect(log.every((l) => l.event === "end" || l.args === "switch")).toBe(true);
    const step = (host: string) => firstSteps.find((s) => s.name === `ssh-${host}-switch`)!;
    // Each hub member's switch (rebuild + health wait) starts after the previous one finished.
    expect(step("nats-2").startedAt).toBeGreaterThanOrEqual(step("nats-1").finishedAt);
    expect(step("nats-3").startedAt).toBeGreaterThanOrEqual(step("nats-2").finishedAt);
  });

  it("each first switch waited for its servers' /healthz (create: js-server-only)", async () => {
    for (const h of topology.hosts) {
      const out = firstSteps.find((s) => s.name === `ssh-${h.name}-switch`)!.stdout;
      const lines = h.instances.map((i) => `cim-nats: ${i.serverName} healthy (http://${i.monitoringAddress}:${i.monitoringPort}/healthz?js-server-only=true)`);
      // Then every server is checked to run the pinned nats-server (/varz, what really runs).
      const versions = h.instances.map((i) => `cim-nats: ${i.serverName} runs nats-server ${NATS_SERVER_VERSION}`);
      expect(out).toBe([...lines, ...versions, `cim-nats: ${h.name} deployed`, ""].join("\n"));
    }
    // All seven servers really run the deployed configs and form the hub cluster.
    for (const i of topology.hosts.flatMap((h) => h.instances)) {
      const res = await fetch(`http://${i.monitoringAddress}:${i.monitoringPort}/varz`);
      expect(((await res.json()) as { server_name: string }).server_name).toBe(i.serverName);
    }
  });

  it("a change to nats-2's host file re-runs only nats-2's copy and switch, as a rolling update", async () => {
    const before = new Map((await declare()).map((r) => [r.name, r]));
    const afterResources = await declare({ "nats-2": "# changed\n" });
    const planned = new Map<string, PlannedOperation>();
    for (const r of afterResources) planned.set(r.name, await plannedOperation(before.get(r.name), r));
    const changed = afterResources.filter((r) => planned.get(r.name) !== "same");
    expect(changed.map((r) => `${planned.get(r.name)} ${r.name}`).sort()).toEqual(
      [`update ssh-nats-2-copy-${`${root}/${PREFIX}.42/etc/nixos/cim-nats/host.nix`.slice(1).split("/").join("-")}`, "update ssh-nats-2-switch"].sort(),
    );

    const logBefore = rebuildLog(dir).length;
    const steps = await replay(changed, (n) => mocks.urnOf(n), ssh.sshOptions, (r) => planned.get(r.name)!);
    const newLines = rebuildLog(dir).slice(logBefore);
    expect(newLines.map((l) => `${l.event} ${l.address}`)).toEqual([`start ${PREFIX}.42`, `end ${PREFIX}.42`]);
    expect(readFileSync(`${root}/${PREFIX}.42/etc/nixos/cim-nats/host.nix`, "utf8")).toBe("# nats-2\n# changed\n");
    expect(mode(`${root}/${PREFIX}.42/etc/nixos/cim-nats/host.nix`)).toBe("0644");
    // The restarted hub member passed the full /healthz: it rejoined its cluster with quorum intact.
    const nats2 = topology.hosts.find((h) => h.name === "nats-2")!;
    expect(steps.find((s) => s.name === "ssh-nats-2-switch")!.stdout).toBe(
      [
        ...nats2.instances.map((i) => `cim-nats: ${i.serverName} healthy (http://${i.monitoringAddress}:${i.monitoringPort}/healthz)`),
        ...nats2.instances.map((i) => `cim-nats: ${i.serverName} runs nats-server ${NATS_SERVER_VERSION}`),
        "cim-nats: nats-2 deployed",
        "",
      ].join("\n"),
    );
  });
});
