/**
 * The prod deployment's commands run for real over SSH against a local test host (Debian's sshd
 * on 127.0.30.x, one address per prod host), with `nixos-rebuild` replaced by a recorder that
 * (re)starts the host's real nats-servers from the configs just deployed (rendered by
 * renderServerConfig). Proves: files land with their modes; the switch waits for /healthz; hub
 * members rebuild one at a time; a changed host file re-runs that host's switch only, as a
 * rolling update that waits for the full /healthz of a member rejoining its cluster. Create or
 * update is what the engine plans from the SDK's registration (engine-plan.ts), not the test's pick.
 */
import * as pulumi from "@pulumi/pulumi";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HostFiles } from "../../components/deploy/files";
import { NixosDeployment } from "../../components/deploy/nixos-deployment";
import { natsServerBinary } from "../../components/local/nats-process";
import { renderServerConfig } from "../../components/render/nats-server-config";
import { parseTopology } from "../../components/topology/parse";
import { rebaseAddresses, withDataDir } from "../../components/topology/rebase";
import { Topology } from "../../components/topology/types";
import { freePort } from "../local/free-port";
import { installMocks, MockRecorder, registered } from "../proxmox/mocks";
import { readStackConfig } from "../support/stack-config";
import { plannedOperation, PlannedOperation } from "./engine-plan";
import { replay, ReplayStep } from "./replay";
import { SSHD, SshHost, startSshHost } from "./ssh-host";

const PREFIX = "127.0.30";
const hasSshd = existsSync(SSHD);
if (!hasSshd) console.warn(`ssh-replay: skipped: ${SSHD} is missing (apt-get install openssh-server)`);

const mode = (p: string) => (statSync(p).mode & 0o777).toString(8).padStart(4, "0");

/** Prod topology on 127.0.30.x with free ports and stores under `dir`. */
async function testTopology(dir: string): Promise<Topology> {
  const raw = JSON.parse(JSON.stringify(readStackConfig("prod").topology));
  const p = () => freePort(`${PREFIX}.1`);
  raw.hub.ports = { client: await p(), monitoring: await p(), routes: await p(), leafnodes: await p() };
  raw.leaf.ports = { client: await p(), monitoring: await p() };
  raw.hub.jetstream = { maxMemory: "64M", maxFile: "256M" };
  raw.leaf.jetstream = { maxMemory: "64M", maxFile: "256M" };
  return withDataDir(rebaseAddresses(parseTopology(raw, { name: "sshtest" }), PREFIX), join(dir, "data"));
}

/** Rendered files per host, all under `root/<address>/` so four "hosts" can share this machine. */
function files(topology: Topology, root: string, hostFileExtra: Record<string, string> = {}): HostFiles<pulumi.Input<string>>[] {
  return topology.hosts.map((h) => ({
    host: h.name,
    files: [
      ...h.instances.map((i) => ({ path: `${root}/${h.address}/etc/cim-nats/${i.serverName}.conf`, content: renderServerConfig(topology, i.serverName), mode: "0644", secret: false })),
      { path: `${root}/${h.address}/etc/nixos/cim-nats/host.nix`, content: `# ${h.name}\n${hostFileExtra[h.name] ?? ""}`, mode: "0644", secret: false },
      { path: `${root}/${h.address}/var/lib/cim-nats/secrets/${h.name}-leaf.creds`, content: pulumi.secret(`creds of ${h.name}\n`), mode: "0600", secret: true },
    ],
  }));
}

/** The `nixos-rebuild` stand-in: logs the call and (re)starts the servers deployed for this SSH session's address. */
function recorder(dir: string, root: string): string {
  const bin = join(dir, "bin");
  mkdirSync(bin, { recursive: true });
  mkdirSync(join(dir, "run"), { recursive: true });
  writeFileSync(
    join(bin, "nixos-rebuild"),
    `#!/usr/bin/env bash
set -eu
addr=$(echo "$SSH_CONNECTION" | cut -d' ' -f3)
echo "$(date +%s%3N) start $addr $*" >> ${dir}/rebuild.log
for conf in ${root}/$addr/etc/cim-nats/*.conf; do
  name=$(basename "$conf" .conf)
  pidfile=${dir}/run/$name.pid
  if [ -f "$pidfile" ]; then
    pid=$(cat "$pidfile")
    if kill "$pid" 2>/dev/null; then while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done; fi
  fi
  setsid ${natsServerBinary()} -c "$conf" -P "$pidfile" >> ${dir}/run/$name.log 2>&1 < /dev/null &
done
echo "$(date +%s%3N) end $addr" >> ${dir}/rebuild.log
`,
    { mode: 0o755 },
  );
  return bin;
}

type RebuildLine = { at: number; event: "start" | "end"; address: string; args: string };
function rebuildLog(dir: string): RebuildLine[] {
  return readFileSync(join(dir, "rebuild.log"), "utf8")
    .trim()
    .split("\n")
    .map((l) => {
      const [at, event, address, ...args] = l.split(" ");
      return { at: Number(at), event: event as "start" | "end", address, args: args.join(" ") };
    });
}

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
      hosts: files(topology, root, hostFileExtra),
      connection: { port: ssh.port, privateKey: ssh.clientKey, dialErrorLimit: 3, perDialTimeout: 5 },
      options: { stagingDir: join(dir, "stage"), healthTimeoutSeconds: 60 },
    });
    await registered(Object.values(deployment.switches));
    return mocks.registered.filter((r) => r.type.startsWith("command:remote:"));
  };

  beforeAll(async () => {
    dir = mkdtempSync("/tmp/cim-h5-ssh-");
    root = join(dir, "root");
    topology = await testTopology(dir);
    const bin = recorder(dir, root);
    ssh = await startSshHost(join(dir, "sshd"), [`${PREFIX}.1`, ...topology.hosts.map((h) => h.address)], await freePort(`${PREFIX}.1`), bin);
    const resources = await declare();
    firstSteps = await replay(resources, (n) => mocks.urnOf(n), ssh.sshOptions, () => "create");
  }, 180_000);

  afterAll(async () => {
    const run = join(dir ?? "/nonexistent", "run");
    if (existsSync(run)) {
      for (const f of readdirSync(run).filter((n) => n.endsWith(".pid"))) {
        try {
          process.kill(Number(readFileSync(join(run, f), "utf8")), "SIGTERM");
        } catch {
          // already stopped
        }
      }
    }
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
      const lines = h.instances.map((i) => `cim-nats: ${i.serverName} healthy (http://${i.address}:${i.monitoringPort}/healthz?js-server-only=true)`);
      expect(out).toBe([...lines, `cim-nats: ${h.name} deployed`, ""].join("\n"));
    }
    // All seven servers really run the deployed configs and form the hub cluster.
    for (const i of topology.hosts.flatMap((h) => h.instances)) {
      const res = await fetch(`http://${i.address}:${i.monitoringPort}/varz`);
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
      [...nats2.instances.map((i) => `cim-nats: ${i.serverName} healthy (http://${i.address}:${i.monitoringPort}/healthz)`), "cim-nats: nats-2 deployed", ""].join("\n"),
    );
  });
});
