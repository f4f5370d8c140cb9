/**
 * Day 2 in prod: a plain hub deployed over real SSH (ssh-fixture.ts: real sshd, systems built
 * here and copied to the hosts, whose activation restarts the host's real nats-servers from the
 * configs they were built with), then the same hub with TLS on every listener and route
 * authorization. The second deploy must finish in
 * one pass although each restarted hub member cannot route to its not-yet-switched peers
 * (deploy/route-roll.ts): nats-1 and nats-2 wait for their own server, nats-3 for the cluster,
 * and afterwards every member routes to both others over TLS. The control: the same kind of
 * change with the markers claiming nothing changed fails at the first hub host's full /healthz,
 * which is where every prod roll stopped before, and now rolls nats-1 back to TLS.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HostFiles } from "../../components/deploy/files";
import { NixosDeployment } from "../../components/deploy/nixos-deployment";
import { routeTransportMarker } from "../../components/deploy/route-roll";
import { renderClusterAuth } from "../../components/render/cluster-auth";
import { renderServerConfig, serverConfigTree } from "../../components/render/nats-server-config";
import { routeTransport } from "../../components/render/route-transport";
import type { ServerTlsInput } from "../../components/render/server-tls";
import { issueCa, issueServerCert, type IssuedCert } from "../../components/tls/certs";
import { serverCertNames } from "../../components/tls/names";
import { ROUTE_USER } from "../../components/tls/types";
import type { Host, ServerInstance, Topology } from "../../components/topology/types";
import { freePort } from "../../harness/free-port";
import { installMocks, MockRecorder, registered, type Registered } from "../proxmox/mocks";
import { eventually } from "../support/eventually";
import { plannedOperation, type PlannedOperation } from "./engine-plan";
import { replay, type ReplayStep } from "./replay";
import { deployTools, predictedBuild, sshTestTopology, stopRecordedServers, storeDir, switchLog, withSecretOutputs, type DeployTools, type PlainHostFiles } from "./ssh-fixture";
import { SSHD, type SshAgent, type SshHost, startSshAgent, startSshHost } from "./ssh-host";

const PREFIX = "127.0.143";
const PASSWORD = "prod-roll-route-password-0123456789";
const hasSshd = existsSync(SSHD);
if (!hasSshd) console.warn(`transport-roll-ssh: skipped: ${SSHD} is missing (apt-get install openssh-server)`);

type Variant = "plain" | "tls";

describe.skipIf(!hasSshd)("a route transport change deployed to a running prod hub over real SSH", () => {
  let dir: string;
  let root: string;
  let topology: Topology;
  let ssh: SshHost;
  let agent: SshAgent;
  let tools: DeployTools;
  let mocks: MockRecorder;
  let ca: IssuedCert;
  const certs = new Map<string, IssuedCert>();
  let previous = new Map<string, Registered>();
  let tlsSteps: ReplayStep[];

  const base = (h: Pick<Host, "address">) => `${root}/${h.address}`;
  const hubHosts = () => topology.hosts.filter((h) => h.instances.some((i) => i.kind === "hub"));
  const markerOf = (h: Pick<Host, "address">) => `${base(h)}/var/lib/cim-nats/route-transport`;

  const authOf = (h: Pick<Host, "address">, i: ServerInstance) => `${base(h)}/var/lib/cim-nats/secrets/${i.serverName}/cluster-auth.conf`;

  /** What one server's config references on its "host" under root (paths only). */
  function tlsInput(h: Host, i: ServerInstance, variant: Variant): ServerTlsInput {
    if (variant === "plain") return {};
    const secrets = `${base(h)}/var/lib/cim-nats/secrets/${i.serverName}`;
    return {
      tls: { certFile: `${secrets}/cert.pem`, keyFile: `${secrets}/key.pem`, caFile: `${secrets}/ca.pem` },
      // An include is relative to the config, which runs from its system in the store
      // (<store>/<system>/etc/cim-nats/): the same way up from every system.
      ...(i.kind === "hub" ? { clusterAuth: { include: relative(join(storeDir(dir), "system", "etc", "cim-nats"), authOf(h, i)) } } : {}),
    };
  }

  /** The hosts' files as the prod substrate hands them over, plus each hub host's route transport. */
  function files(variant: Variant): PlainHostFiles[] {
    return topology.hosts.map((h) => {
      const hub = h.instances.find((i) => i.kind === "hub");
      const transport = hub ? routeTransport(serverConfigTree(topology, hub.serverName, undefined, tlsInput(h, hub, variant))) : undefined;
      const secrets = (i: ServerInstance) => {
        if (variant === "plain") return [];
        const at = `${base(h)}/var/lib/cim-nats/secrets/${i.serverName}`;
        const cert = certs.get(i.serverName)!;
        return [
          { path: `${at}/cert.pem`, content: cert.certPem, mode: "0600", secret: true },
          { path: `${at}/key.pem`, content: cert.keyPem, mode: "0600", secret: true },
          { path: `${at}/ca.pem`, content: ca.certPem, mode: "0600", secret: true },
          ...(i.kind === "hub" ? [{ path: authOf(h, i), content: renderClusterAuth(topology, i, ROUTE_USER, PASSWORD), mode: "0600", secret: true }] : []),
        ];
      };
      return {
        host: h.name,
        files: [
          { path: "/etc/nixos/configuration.nix", content: `# ${h.name} (${variant})\n`, mode: "0644", secret: false },
          ...h.instances.map((i) => ({ path: `/etc/cim-nats/${i.kind}.conf`, content: renderServerConfig(topology, i.serverName, undefined, tlsInput(h, i, variant)), mode: "0644", secret: false })),
          ...h.instances.flatMap(secrets),
        ],
        systemProfile: `${base(h)}/nix/var/nix/profiles/system`,
        ...(transport ? { routeTransport: { markerPath: markerOf(h), transport: routeTransportMarker(transport) } } : {}),
      } satisfies HostFiles;
    });
  }

  /** Declares the deployment and replays what the engine would run against the previous one. */
  async function deploy(variant: Variant, healthTimeoutSeconds = 90): Promise<{ steps: ReplayStep[]; planned: Map<string, PlannedOperation> }> {
    mocks = await installMocks("rollssh", predictedBuild(dir));
    const deployment = new NixosDeployment("roll", {
      topology,
      hosts: withSecretOutputs(files(variant)),
      // No key: the deploy authenticates through the agent.
      connection: { port: ssh.port, dialErrorLimit: 3, perDialTimeout: 5 },
      options: { stagingDir: join(dir, "stage"), healthTimeoutSeconds },
    });
    await registered(Object.values(deployment.switches));
    const resources = mocks.registered.filter((r) => r.type.startsWith("command:"));
    const planned = new Map<string, PlannedOperation>();
    for (const r of resources) planned.set(r.name, await plannedOperation(previous.get(r.name), r));
    const changed = resources.filter((r) => planned.get(r.name) !== "same");
    const steps = await replay(changed, (n) => mocks.urnOf(n), {
      sshOptions: ssh.sshOptions,
      operationOf: (r) => planned.get(r.name)!,
      localEnv: { ...process.env, PATH: `${tools.builderBin}:${process.env.PATH}`, SSH_AUTH_SOCK: agent.socket, XDG_CACHE_HOME: join(dir, "cache") },
    });
    previous = new Map(resources.map((r) => [r.name, r]));
    return { steps, planned };
  }

  const varz = async (i: ServerInstance) => (await (await fetch(`http://${i.monitoringAddress}:${i.monitoringPort}/varz`)).json()) as { cluster: { name: string; tls_required?: boolean } };
  const routePeers = async (i: ServerInstance) =>
    [...new Set(((await (await fetch(`http://${i.monitoringAddress}:${i.monitoringPort}/routez`)).json()) as { routes: { remote_name: string }[] }).routes.map((r) => r.remote_name))].sort();
  const status = async (i: ServerInstance, path: string) => (await fetch(`http://${i.monitoringAddress}:${i.monitoringPort}${path}`)).status;

  beforeAll(async () => {
    dir = mkdtempSync("/tmp/cim-prodroll-ssh-");
    root = join(dir, "root");
    topology = await sshTestTopology(dir, PREFIX, "rollssh");
    ca = await issueCa({ commonName: "prodroll test CA", days: 30 });
    for (const i of topology.hosts.flatMap((h) => h.instances)) {
      certs.set(i.serverName, await issueServerCert({ caCertPem: ca.certPem, caKeyPem: ca.keyPem, names: serverCertNames(i), days: 30 }));
    }
    tools = deployTools(dir, root);
    mkdirSync(root, { recursive: true });
    ssh = await startSshHost(join(dir, "sshd"), [`${PREFIX}.1`, ...topology.hosts.map((h) => h.address)], await freePort(`${PREFIX}.1`), tools.hostBin);
    agent = startSshAgent(join(dir, "agent"), ssh.clientKeyPath);
    await deploy("plain");
    const hub = topology.hub.members;
    // The plain hub runs: every member routes to both others, without TLS.
    await eventually("the plain hub healthy", async () => Promise.all(hub.map((m) => status(m, "/healthz"))), (s) => s.every((c) => c === 200), 60_000);
    tlsSteps = (await deploy("tls")).steps;
  }, 400_000);

  afterAll(async () => {
    if (root) stopRecordedServers(root);
    agent?.stop();
    await ssh?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("the TLS + route authorization deploy finished in one pass: each hub host switched once, one after another", () => {
    const switched = (name: string) => tlsSteps.find((s) => s.name === `roll-${name}-switch`)!;
    const hub = hubHosts().map((h) => h.name);
    expect(hub).toEqual(["nats-1", "nats-2", "nats-3"]);
    for (const h of topology.hosts) expect(switched(h.name)?.stdout).toContain(`cim-nats: ${h.name} deployed`);
    expect(switched("nats-2").startedAt).toBeGreaterThanOrEqual(switched("nats-1").finishedAt);
    expect(switched("nats-3").startedAt).toBeGreaterThanOrEqual(switched("nats-2").finishedAt);
    const span = Math.max(...tlsSteps.map((t) => t.finishedAt)) - Math.min(...tlsSteps.map((t) => t.startedAt));
    console.info(`transport roll: ${span} ms in all; switches ${topology.hosts.map((h) => `${h.name} ${switched(h.name).finishedAt - switched(h.name).startedAt} ms`).join(", ")}`);
    // Two activations per host in all: the plain deploy and this one.
    const starts = switchLog(dir).filter((l) => l.event === "start");
    for (const h of topology.hosts) expect(starts.filter((l) => l.subject === h.address)).toHaveLength(2);
  });

  it("nats-1 and nats-2 waited for their own server, nats-3 for the whole cluster", () => {
    const plain = JSON.stringify({ name: topology.hub.name, tls: false, auth: false });
    const tls = JSON.stringify({ name: topology.hub.name, tls: true, auth: true });
    const out = (host: string) => tlsSteps.find((s) => s.name === `roll-${host}-switch`)!.stdout;
    const hub = (host: string) => topology.hosts.find((h) => h.name === host)!.instances.find((i) => i.kind === "hub")!;
    const url = (i: ServerInstance, path: string) => `http://${i.monitoringAddress}:${i.monitoringPort}${path}`;
    for (const host of ["nats-1", "nats-2"]) {
      expect(out(host)).toContain(`cim-nats: route transport ${plain} -> ${tls}: ${hub(host).serverName} waits for its own server only`);
      expect(out(host)).toContain(`cim-nats: ${hub(host).serverName} healthy (${url(hub(host), "/healthz?js-server-only=true")})`);
    }
    expect(out("nats-3")).toContain(`cim-nats: route transport ${plain} -> ${tls}: ${hub("nats-3").serverName} waits for the whole cluster (last hub host)`);
    expect(out("nats-3")).toContain(`cim-nats: ${hub("nats-3").serverName} healthy (${url(hub("nats-3"), "/healthz")})`);
    for (const h of hubHosts()) expect(readFileSync(markerOf(h), "utf8")).toBe(`${tls}\n`);
  });

  it("the hub runs the new transport: TLS required on routes, every member routes to both others, full /healthz", async () => {
    const hub = topology.hub.members;
    const seen = await eventually(
      "every member healthy, routing to both others over TLS",
      async () => Promise.all(hub.map(async (m) => ({ healthz: await status(m, "/healthz"), tls: (await varz(m)).cluster.tls_required, peers: await routePeers(m) }))),
      (all) => all.every((s, k) => s.healthz === 200 && s.tls === true && s.peers.length === hub.length - 1 && !s.peers.includes(hub[k].serverName)),
      60_000,
    );
    expect(seen).toEqual(hub.map((m) => ({ healthz: 200, tls: true, peers: hub.filter((o) => o !== m).map((o) => o.serverName).sort() })));
  });

  it("control: the change back to plain with markers claiming no change stops at nats-1's full /healthz, and nats-1 goes back to TLS", async () => {
    // What the prod deploy did before route-roll.ts: a rolling update waits for the full check.
    const plain = JSON.stringify({ name: topology.hub.name, tls: false, auth: false });
    for (const h of hubHosts()) writeFileSync(markerOf(h), `${plain}\n`);
    const nats1 = topology.hub.members.find((m) => m.host === "nats-1")!;
    const attempt = deploy("plain", 15);
    await expect(attempt).rejects.toThrow(`cim-nats: ${nats1.serverName} (unit cim-nats-hub active) did not answer http://${nats1.monitoringAddress}:${nats1.monitoringPort}/healthz within 15s`);
    await expect(attempt).rejects.toThrow("cim-nats: nats-1 rolled back to");
    // The hub runs TLS again, every member routing to both others.
    const hub = topology.hub.members;
    await eventually(
      "every member back on TLS, healthy",
      async () => Promise.all(hub.map(async (m) => ({ healthz: await status(m, "/healthz"), tls: (await varz(m)).cluster.tls_required, peers: (await routePeers(m)).length }))),
      (all) => all.every((x) => x.healthz === 200 && x.tls === true && x.peers === hub.length - 1),
      60_000,
    );
  }, 180_000);
});
