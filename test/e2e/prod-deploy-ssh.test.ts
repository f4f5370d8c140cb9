/**
 * The prod deployment run by the real Pulumi CLI and the real command provider plugin
 * (pulumi-resource-command 1.2.1): the builds as local commands on this machine (the deploying
 * machine), everything else over real SSH: Debian's sshd on 127.0.144.x stands in for the four
 * containers; the Nix commands are stand-ins and a system's activation (re)starts the host's real
 * nats-servers from the configs it was built with (test/deploy/ssh-fixture.ts). A small program
 * declares only the NixosDeployment component (no Proxmox); state lives in a temp file backend.
 * The stack's key is given (no agent): each build loads it into a throwaway agent for its copy.
 *
 * What only the real provider shows: secret file contents reach it as real assets in `up` (the
 * creds land, 0600, and nothing stays staged); a first `up` builds each system here, copies it,
 * runs each switch's `create` (js-server-only health), hub members one after another; a changed
 * host file makes the engine *update* that host's build and switch, and the provider then runs
 * `update`, which waits for the full /healthz; a change to every hub member rolls them one at a
 * time (lame duck stop, full /healthz before the next) while a JetStream probe at the hub every
 * 100 ms keeps answering. About 2 minutes (lame duck stops).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Topology } from "../../components/topology/types";
import { freePort } from "../../harness/free-port";
import { SSHD, SshHost, startSshHost } from "../deploy/ssh-host";
import { buildLog, copyLog, deployTools, sshDeployFiles, sshTestTopology, stopRecordedServers, switchLog, type DeployTools } from "../deploy/ssh-fixture";
import { missingProdPlugins, nameOf } from "./prod-project";
import { PROJECT_ROOT, pulumiEnv, runPulumi, type PulumiContext } from "../../harness/pulumi-cli";
import { stateResources } from "../../harness/pulumi-state";

const PREFIX = "127.0.144";
const SKIP = !fs.existsSync(SSHD) ? `${SSHD} is missing (apt-get install openssh-server)` : missingProdPlugins();
if (SKIP) console.warn(`prod-deploy-ssh: skipped: ${SKIP}`);

const mode = (p: string) => (fs.statSync(p).mode & 0o777).toString(8).padStart(4, "0");

/** The program: the real NixosDeployment component over the spec the test writes. */
const PROGRAM = `
import * as pulumi from "@pulumi/pulumi";
import { readFileSync } from "node:fs";
import { NixosDeployment } from ${JSON.stringify(path.join(PROJECT_ROOT, "components", "deploy", "nixos-deployment"))};
const spec = JSON.parse(readFileSync(process.env.CIM_DEPLOY_SPEC!, "utf8"));
const deployment = new NixosDeployment("ssh", {
  topology: spec.topology,
  hosts: spec.hosts.map((h: any) => ({ ...h, files: h.files.map((f: any) => ({ ...f, content: f.secret ? pulumi.secret(f.content) : f.content })) })),
  connection: spec.connection,
  options: spec.options,
});
export const contentHashes = deployment.contentHashes;
`;

type Step = { op: string; urn: string };

describe.skipIf(SKIP !== "")("prod deployment through the real CLI and command provider, over SSH", () => {
  let dir: string;
  let root: string;
  let topology: Topology;
  let ssh: SshHost;
  let tools: DeployTools;
  let context: PulumiContext;
  const timings: Record<string, number> = {};

  const writeSpec = (hostFileExtra: Record<string, string> = {}) =>
    fs.writeFileSync(
      path.join(dir, "spec.json"),
      JSON.stringify({
        topology,
        hosts: sshDeployFiles(topology, root, hostFileExtra),
        // Pinned to the test host's key, as the prod deploy pins each container's.
        connection: { port: ssh.port, privateKey: ssh.clientKey, dialErrorLimit: 3, perDialTimeout: 5, hostKeys: Object.fromEntries(topology.hosts.map((h) => [h.name, ssh.hostPublicKey])) },
        options: { stagingDir: path.join(dir, "stage"), healthTimeoutSeconds: 60 },
      }),
      { mode: 0o600 },
    );
  const pulumi = (args: string[], allowFailure = false) => runPulumi(context, [...args, "-s", "ssh"], { allowFailure, timeoutMs: 300_000 });
  /** A switch's last stdout, from the state the provider wrote (it drops the final newline); read from the state file, no CLI run. */
  const switchStdout = async (host: string): Promise<string> => {
    const stdout = stateResources(context, "ssh").find((r) => r.urn.endsWith(`::ssh-${host}-switch`))?.outputs?.stdout;
    if (typeof stdout !== "string") throw new Error(`no plain stdout of ssh-${host}-switch in the state: ${JSON.stringify(stdout)}`);
    return stdout;
  };

  beforeAll(async () => {
    dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "cim-nats-deploy-ssh-")));
    root = path.join(dir, "root");
    topology = await sshTestTopology(dir, PREFIX);
    tools = deployTools(dir, root);
    ssh = await startSshHost(path.join(dir, "sshd"), [`${PREFIX}.1`, ...topology.hosts.map((h) => h.address)], await freePort(`${PREFIX}.1`), tools.hostBin);
    const project = path.join(dir, "project");
    fs.mkdirSync(project);
    fs.symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(project, "node_modules"));
    fs.writeFileSync(path.join(project, "Pulumi.yaml"), "name: cim-nats-deploy-ssh\nruntime:\n  name: nodejs\n  options:\n    typescript: true\nmain: index.ts\n");
    fs.writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "cim-nats-deploy-ssh", private: true }));
    fs.writeFileSync(path.join(project, "index.ts"), PROGRAM);
    fs.mkdirSync(path.join(dir, "state"));
    // The deploying machine's environment, which the provider's local commands (the builds) run with.
    const env = pulumiEnv(path.join(dir, "state"), {
      CIM_DEPLOY_SPEC: path.join(dir, "spec.json"),
      PULUMI_NODEJS_TRANSPILE_ONLY: "true",
      SSH_AUTH_SOCK: "",
      XDG_CACHE_HOME: path.join(dir, "cache"),
    });
    context = { cwd: project, env: { ...env, PATH: `${tools.builderBin}:${env.PATH}` } };
    await runPulumi(context, ["stack", "init", "ssh"]);
    writeSpec();
    const up = await pulumi(["up", "--yes", "--skip-preview"]);
    timings.firstUp = up.ms;
  }, 300_000);

  afterAll(async () => {
    if (root) stopRecordedServers(root);
    await ssh?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    console.log(`prod-deploy-ssh timings (ms): ${JSON.stringify(timings)}`);
  });

  it("builds each system here and copies only it to its host; the secret creds land 0600 (a real secret asset in up), nothing stays staged", () => {
    expect(buildLog(dir).map((l) => l.subject).sort()).toEqual(topology.hosts.map((h) => h.name).sort());
    expect(copyLog(dir).map((l) => l.subject).sort()).toEqual(topology.hosts.map((h) => h.address).sort());
    for (const h of topology.hosts) {
      const base = `${root}/${h.address}`;
      expect(fs.existsSync(`${base}/etc`)).toBe(false);
      expect(fs.readFileSync(`${base}/var/lib/cim-nats/secrets/${h.name}-leaf.creds`, "utf8")).toBe(`creds of ${h.name}\n`);
      expect(mode(`${base}/var/lib/cim-nats/secrets/${h.name}-leaf.creds`)).toBe("0600");
      expect(mode(`${base}/var/lib/cim-nats/secrets`)).toBe("0700");
    }
    expect(fs.readdirSync(path.join(dir, "stage"))).toEqual([]);
  });

  it("keeps the creds and the key encrypted in the state", async () => {
    const raw = JSON.stringify(JSON.parse((await pulumi(["stack", "export"])).stdout));
    expect(raw).not.toContain("creds of nats-1");
    // Nor the stack's key the builds load into their throwaway agents (a secret environment value).
    expect(raw).not.toContain(ssh.clientKey.split("\n")[1]);
  });

  it("the first up ran each switch's create (js-server-only health), hub members one after another", async () => {
    const starts = switchLog(dir).filter((l) => l.event === "start");
    expect(starts.map((l) => l.subject).sort()).toEqual(topology.hosts.map((h) => h.address).sort());
    for (const h of topology.hosts) {
      expect(await switchStdout(h.name)).toMatch(
        new RegExp(
          `^${[
            ...h.instances.map((i) => `cim-nats: ${i.serverName} healthy \\(http://${i.monitoringAddress}:${i.monitoringPort}/healthz\\?js-server-only=true\\)`),
            // ...each running the pinned nats-server (/varz).
            ...h.instances.map((i) => `cim-nats: ${i.serverName} runs nats-server 2\\.15\\.2`),
            `cim-nats: ${h.name} deployed \\(${path.join(dir, "store")}/\\w{32}-nixos-system-${h.name}\\)`,
          ].join("\n")}$`,
        ),
      );
    }
    const at = (host: string, event: "start" | "end") => switchLog(dir).find((l) => l.event === event && l.subject === topology.hosts.find((h) => h.name === host)!.address)!.at;
    expect(at("nats-2", "start")).toBeGreaterThanOrEqual(at("nats-1", "end"));
    expect(at("nats-3", "start")).toBeGreaterThanOrEqual(at("nats-2", "end"));
  });

  it("a change to nats-2's host file: the engine plans updates of its build and switch only, and the provider runs update (full /healthz)", async () => {
    writeSpec({ "nats-2": "# changed\n" });
    const plan = JSON.parse((await pulumi(["preview", "--json"])).stdout) as { steps: Step[] };
    expect(plan.steps.filter((s) => s.op !== "same").map((s) => `${s.op} ${nameOf(s.urn)}`).sort()).toEqual(["update ssh-nats-2-build", "update ssh-nats-2-switch"]);

    const [builds, switches] = [buildLog(dir).length, switchLog(dir).length];
    const up = await pulumi(["up", "--yes", "--skip-preview"]);
    timings.updateUp = up.ms;
    expect(buildLog(dir).slice(builds).map((l) => l.subject)).toEqual(["nats-2"]);
    expect(switchLog(dir).slice(switches).map((l) => `${l.event} ${l.subject}`)).toEqual([`start ${PREFIX}.42`, `end ${PREFIX}.42`]);
    // The restarted hub member passed the full /healthz: current with its cluster before the up went on.
    const nats2 = topology.hosts.find((h) => h.name === "nats-2")!;
    const out = await switchStdout("nats-2");
    expect(out.split("\n").slice(0, -1)).toEqual([
      ...nats2.instances.map((i) => `cim-nats: ${i.serverName} healthy (http://${i.monitoringAddress}:${i.monitoringPort}/healthz)`),
      ...nats2.instances.map((i) => `cim-nats: ${i.serverName} runs nats-server 2.15.2`),
    ]);
    expect(out.split("\n").at(-1)).toBe(`cim-nats: nats-2 deployed (${path.join(dir, "store", buildLog(dir).at(-1)!.detail)})`);
  }, 300_000);

  it("a change to every hub member rolls: one member at a time, each back to the full /healthz before the next, the hub's JetStream answering throughout", async () => {
    const hub = topology.hosts.filter((h) => h.roles.includes("hub" as never));
    const nc = await connect({ servers: hub.flatMap((h) => h.instances.filter((i) => i.kind === "hub").map((i) => `nats://${i.address}:${i.clientPort}`)), maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    const jsm = await jetstreamManager(nc, { timeout: 2000 });
    await jsm.streams.add({ name: "ROLL", subjects: ["roll.>"], num_replicas: 3 });
    // A request that times out once is retried: nats-server may drop one that arrives during a
    // leader handoff. A failure is a probe whose retry fails too.
    const probes = { ok: 0, retried: 0, failed: 0 };
    let probing = true;
    const probe = (async () => {
      while (probing) {
        try {
          await jsm.streams.info("ROLL");
          probes.ok++;
        } catch {
          probes.retried++;
          try {
            await jsm.streams.info("ROLL");
            probes.ok++;
          } catch {
            probes.failed++;
          }
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    try {
      writeSpec(Object.fromEntries(hub.map((h) => [h.name, "# restart-only change\n"])));
      const logBefore = switchLog(dir).length;
      const up = await pulumi(["up", "--yes", "--skip-preview"]);
      timings.rollingUp = up.ms;
      const lines = switchLog(dir).slice(logBefore);
      const address = (host: string) => topology.hosts.find((h) => h.name === host)!.address;
      // Strictly one after another: start, end of nats-1, then nats-2, then nats-3; cimstor untouched.
      expect(lines.map((l) => `${l.event} ${l.subject}`)).toEqual(["nats-1", "nats-2", "nats-3"].flatMap((h) => [`start ${address(h)}`, `end ${address(h)}`]));
      for (const h of hub) {
        const out = await switchStdout(h.name);
        for (const i of h.instances) expect(out).toContain(`cim-nats: ${i.serverName} healthy (http://${i.monitoringAddress}:${i.monitoringPort}/healthz)`);
      }
    } finally {
      probing = false;
      await probe;
      await nc.close();
    }
    timings.probesOk = probes.ok;
    timings.probesRetried = probes.retried;
    timings.probesFailed = probes.failed;
    expect(probes.ok).toBeGreaterThan(10);
    expect(probes.failed).toBe(0);
  }, 300_000);

  it("an unchanged spec then plans nothing", async () => {
    const plan = JSON.parse((await pulumi(["preview", "--json"])).stdout) as { steps: Step[] };
    expect(plan.steps.filter((s) => s.op !== "same")).toEqual([]);
  }, 120_000);
});
