/**
 * TLS and route authorization on real nats-server 2.15.2 processes: a 3-member hub (each host
 * also a leaf) rendered with the stack's TLS and cluster include, certificates from the stack's
 * own issuing code. Plain clients, clients without the CA and rogue routes are refused; natscli
 * connects with the CA; a re-issued certificate is picked up on SIGHUP with the same pid.
 * Loopback 127.0.80.1–127.0.80.9 only.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import * as tls from "node:tls";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { natsServerBinary, reloadNatsServer, startNatsServer, stopNatsServer, waitHealthy } from "../../components/local/nats-process";
import { renderClusterAuth } from "../../components/render/cluster-auth";
import { renderServerConfig } from "../../components/render/nats-server-config";
import { formatNatsConf, type NatsConfTree } from "../../components/render/nats-conf";
import { instanceEndpoints } from "../../components/topology/endpoints";
import type { ServerInstance, Topology } from "../../components/topology/types";
import { certInfo, issueCa, issueServerCert, type IssuedCert } from "../../components/tls/certs";
import { natsClientTls } from "../../components/tls/client";
import { serverCertNames } from "../../components/tls/names";
import { ROUTE_USER } from "../../components/tls/types";
import { eventually } from "../support/eventually";
import { smallTopology, tempDir } from "../local/reload-support";

const PREFIX = "127.0.80";
const ROGUE = `${PREFIX}.9`;
const PASSWORD = "route-password-0123456789abcdef";
let dir = "";
let topology: Topology;
let ca: IssuedCert;
const pids = new Map<string, number>();
const rogues: number[] = [];

const all = () => [...topology.hub.members, ...topology.leaves];
const conf = (s: string) => path.join(dir, `${s}.conf`);
const log = (s: string) => path.join(dir, `${s}.log`);
const caFile = () => path.join(dir, "ca.pem");
const endpoints = (s: string) => instanceEndpoints(all().find((i) => i.serverName === s)!);

function write(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text, { mode: 0o600 });
}

async function writeCert(i: ServerInstance): Promise<IssuedCert> {
  const cert = await issueServerCert({ caCertPem: ca.certPem, caKeyPem: ca.keyPem, names: serverCertNames(i), days: 365 });
  write(path.join(dir, i.serverName, "cert.pem"), cert.certPem);
  write(path.join(dir, i.serverName, "key.pem"), cert.keyPem);
  return cert;
}

function render(i: ServerInstance): string {
  const files = { certFile: path.join(dir, i.serverName, "cert.pem"), keyFile: path.join(dir, i.serverName, "key.pem"), caFile: caFile() };
  const isMember = i.kind === "hub";
  return renderServerConfig(topology, i.serverName, undefined, { tls: files, ...(isMember ? { clusterAuth: { include: `${i.serverName}-cluster.conf` } } : {}) });
}

async function routez(s: string): Promise<{ num_routes: number; routes: { remote_name?: string; ip: string }[] }> {
  return (await (await fetch(`${endpoints(s).monitoringUrl}/routez`, { signal: AbortSignal.timeout(2_000) })).json()) as never;
}

/** What the server sends before TLS starts (INFO), and what it answers a plain CONNECT with. */
async function plainConversation(url: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    let text = "";
    const socket = net.connect(Number(port), hostname, () => socket.write('CONNECT {"verbose":false}\r\nPING\r\n'));
    socket.setTimeout(5_000, () => socket.destroy());
    socket.on("data", (d) => (text += d.toString()));
    socket.on("close", () => resolve(text));
    socket.on("error", (e) => (text ? resolve(text) : reject(e)));
  });
}

/** Serial of the certificate the client listener presents, after nats-server's plain INFO. */
async function servedSerial(url: string): Promise<string> {
  const { hostname, port } = new URL(url);
  const raw = net.connect(Number(port), hostname);
  await new Promise<void>((resolve) => raw.once("data", () => resolve()));
  return new Promise((resolve, reject) => {
    const s = tls.connect({ socket: raw, ...natsClientTls(ca.certPem, [url]) }, () => {
      const serial = s.getPeerCertificate().serialNumber;
      s.destroy();
      resolve(serial);
    });
    s.on("error", reject);
  });
}

function natsCli(args: string[]): { status: number | null; output: string } {
  const bin = path.join(path.dirname(natsServerBinary()), "nats");
  const r = spawnSync(bin, args, { encoding: "utf8", timeout: 30_000, env: { ...process.env, XDG_CONFIG_HOME: dir } });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

beforeAll(async () => {
  dir = tempDir("cim-tls-");
  topology = smallTopology({ prefix: PREFIX, hubs: 3, leafDenyImports: [] }, path.join(dir, "stores"));
  ca = await issueCa({ commonName: "cim-nats test CA", days: 30 });
  write(caFile(), ca.certPem);
  for (const i of all()) {
    await writeCert(i);
    if (i.kind === "hub") write(path.join(dir, `${i.serverName}-cluster.conf`), renderClusterAuth(topology, i, ROUTE_USER, PASSWORD));
    write(conf(i.serverName), render(i));
  }
  for (const i of all()) {
    const { pid } = await startNatsServer({ configPath: conf(i.serverName), logPath: log(i.serverName) });
    pids.set(i.serverName, pid);
  }
  await Promise.all(all().map((i) => waitHealthy(endpoints(i.serverName).monitoringUrl, 60_000, pids.get(i.serverName))));
  for (const m of topology.hub.members) await eventually(`${m.serverName} routes`, () => routez(m.serverName), (r) => new Set(r.routes.map((x) => x.remote_name)).size === 2, 60_000);
}, 120_000);

afterAll(async () => {
  for (const pid of [...pids.values(), ...rogues]) await stopNatsServer(pid, 10_000);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe("rendered TLS configs on nats-server 2.15.2", () => {
  it("pass nats-server -t, with the include and the certificates in place", () => {
    for (const i of all()) {
      const r = spawnSync(natsServerBinary(), ["-t", "-c", conf(i.serverName)], { encoding: "utf8" });
      expect(`${i.serverName}: ${r.stdout}${r.stderr}`).toContain("is valid");
    }
  });

  it("keep the route password out of the public config; the hub links over mutual TLS with it", async () => {
    for (const m of topology.hub.members) {
      const text = fs.readFileSync(conf(m.serverName), "utf8");
      expect(text).not.toContain(PASSWORD);
      expect(text).toContain(`include "${m.serverName}-cluster.conf"`);
      expect(text).toMatch(/verify_and_map: true/);
    }
    for (const leaf of topology.leaves) {
      const leafz = () => fetch(`${endpoints(leaf.serverName).monitoringUrl}/leafz`).then((r) => r.json() as Promise<{ leafnodes: number }>);
      await eventually(`${leaf.serverName} linked to the hub over TLS (log: ${log(leaf.serverName)})`, leafz, (z) => z.leafnodes === 1, 30_000).catch((e) => {
        throw new Error(`${(e as Error).message}\n${fs.readFileSync(log(leaf.serverName), "utf8").split("\n").slice(-8).join("\n")}`);
      });
    }
  });
});

describe("clients", () => {
  it("a plain-text client is refused by the TLS-required client listener", async () => {
    const text = await plainConversation(endpoints("h1-hub").clientUrl);
    expect(text).toMatch(/"tls_required":true/);
    expect(text).not.toMatch(/PONG/);
  });

  it("a client with the CA connects (nats.js); one with another CA, or expecting another server, is refused", async () => {
    const url = endpoints("h2-hub").clientUrl;
    const nc = await connect({ servers: url, tls: natsClientTls(ca.certPem, [url]), timeout: 10_000 });
    expect(nc.info?.tls_required).toBe(true);
    await nc.close();
    const other = await issueCa({ commonName: "someone else's CA", days: 30 });
    await expect(connect({ servers: url, tls: natsClientTls(other.certPem, [url]), timeout: 5_000, reconnect: false })).rejects.toThrow(/certificate/i);
    // h1-hub's certificate, presented where h2-hub was expected: the name check refuses it.
    const check = natsClientTls(ca.certPem, [endpoints("h1-hub").clientUrl]).checkServerIdentity;
    await expect(connect({ servers: url, tls: { ca: ca.certPem, checkServerIdentity: check }, timeout: 5_000, reconnect: false })).rejects.toThrow(/names none of 127.0.80.1/);
  });

  it("natscli connects with --tlsca and the generated CA, and fails with another CA", async () => {
    const ok = natsCli(["--server", endpoints("h1").clientUrl, "--tlsca", caFile(), "pub", "tls.check", "hello"]);
    expect(ok.output).toContain("Published");
    expect(ok.status).toBe(0);
    const other = await issueCa({ commonName: "someone else's CA", days: 30 });
    write(path.join(dir, "other-ca.pem"), other.certPem);
    const bad = natsCli(["--server", endpoints("h1").clientUrl, "--tlsca", path.join(dir, "other-ca.pem"), "pub", "tls.check", "hello"]);
    expect(bad.status).not.toBe(0);
    expect(bad.output).toMatch(/certificate|x509|tls/i);
  });
});

describe("rogue routes", () => {
  /** A nats-server with the hub's cluster name that routes to every member. */
  async function startRogue(name: string, offset: number, clusterTls: NatsConfTree | undefined): Promise<number> {
    const routes = topology.hub.members.map((m) => endpoints(m.serverName).routeUrl!);
    const text = formatNatsConf({
      server_name: name,
      listen: `${ROGUE}:${4300 + offset}`,
      http: `${ROGUE}:${8300 + offset}`,
      cluster: { name: topology.hub.name, listen: `${ROGUE}:${6300 + offset}`, routes, ...(clusterTls ? { tls: clusterTls } : {}) },
    });
    write(conf(name), text);
    const { pid } = await startNatsServer({ configPath: conf(name), logPath: log(name) });
    rogues.push(pid);
    await waitHealthy(`http://${ROGUE}:${8300 + offset}`, 30_000, pid);
    return pid;
  }

  async function expectMeshUntouched(name: string, offset: number, refusal: RegExp): Promise<void> {
    // Every member refused the rogue at least once (the rogue logs each refusal): the attempts happened.
    await eventually(
      `${name} refused by every member`,
      async () => fs.readFileSync(log(name), "utf8"),
      (t) => topology.hub.members.every((m) => t.split("\n").some((line) => line.includes(`${m.address}:6222`) && refusal.test(line))),
      30_000,
    );
    for (const m of topology.hub.members) {
      const r = await routez(m.serverName);
      expect(new Set(r.routes.map((x) => x.remote_name))).toEqual(new Set(topology.hub.members.filter((o) => o !== m).map((o) => o.serverName)));
      expect(r.routes.some((x) => x.ip === ROGUE)).toBe(false);
    }
    const own = (await (await fetch(`http://${ROGUE}:${8300 + offset}/routez`)).json()) as { num_routes: number };
    expect(own.num_routes).toBe(0);
  }

  it("one without TLS or credentials gets no route", async () => {
    const pid = await startRogue("rogue-plain", 0, undefined);
    try {
      await expectMeshUntouched("rogue-plain", 0, /Router connection closed/);
    } finally {
      await stopNatsServer(pid, 10_000);
    }
  }, 60_000);

  it("one with a valid certificate from the CA (a leaf's) AND the route password gets no route: a route peer's certificate must name the route identity, which only hub members' do", async () => {
    const leaf = topology.leaves[0].serverName;
    const routes = topology.hub.members.map((m) => endpoints(m.serverName).routeUrl!.replace("nats-route://", `nats-route://${ROUTE_USER}:${PASSWORD}@`));
    const text = formatNatsConf({
      server_name: "rogue-cert-pass",
      listen: `${ROGUE}:4302`,
      http: `${ROGUE}:8302`,
      cluster: {
        name: topology.hub.name,
        listen: `${ROGUE}:6302`,
        routes,
        authorization: { user: ROUTE_USER, password: PASSWORD },
        tls: { cert_file: path.join(dir, leaf, "cert.pem"), key_file: path.join(dir, leaf, "key.pem"), ca_file: caFile(), verify: true },
      },
    });
    write(conf("rogue-cert-pass"), text);
    const { pid } = await startNatsServer({ configPath: conf("rogue-cert-pass"), logPath: log("rogue-cert-pass") });
    rogues.push(pid);
    try {
      await waitHealthy(`http://${ROGUE}:8302`, 30_000, pid);
      await expectMeshUntouched("rogue-cert-pass", 2, /Authorization Violation/);
    } finally {
      await stopNatsServer(pid, 10_000);
    }
    // Control: the hub members' own certificates name the route identity; the leaf's does not.
    expect(certInfo(fs.readFileSync(path.join(dir, topology.hub.members[0].serverName, "cert.pem"), "utf8")).dnsNames).toContain(ROUTE_USER);
    expect(certInfo(fs.readFileSync(path.join(dir, leaf, "cert.pem"), "utf8")).dnsNames).not.toContain(ROUTE_USER);
  }, 60_000);

  it("one with a valid certificate from the CA (a leaf's) but no route password gets no route either", async () => {
    const leaf = topology.leaves[0].serverName;
    const pid = await startRogue("rogue-cert", 1, {
      cert_file: path.join(dir, leaf, "cert.pem"),
      key_file: path.join(dir, leaf, "key.pem"),
      ca_file: caFile(),
      verify: true,
    });
    try {
      await expectMeshUntouched("rogue-cert", 1, /Authorization Violation/);
    } finally {
      await stopNatsServer(pid, 10_000);
    }
  }, 60_000);
});

describe("certificate rotation", () => {
  it("a re-issued certificate is served after SIGHUP, same pid, routes intact", async () => {
    const member = topology.hub.members[0];
    const before = await servedSerial(endpoints(member.serverName).clientUrl);
    const fresh = await writeCert(member);
    const pid = pids.get(member.serverName)!;
    const outcome = await reloadNatsServer(pid, endpoints(member.serverName).monitoringUrl, log(member.serverName), 15_000);
    expect(outcome).toEqual({ applied: true });
    const after = await servedSerial(endpoints(member.serverName).clientUrl);
    expect(after).not.toBe(before);
    expect(after.toLowerCase()).toBe(new (await import("node:crypto")).X509Certificate(fresh.certPem).serialNumber.toLowerCase());
    expect(fs.existsSync(`/proc/${pid}`)).toBe(true);
    expect(certInfo(fresh.certPem).ips).toEqual([member.address]);
    await eventually("routes after reload", () => routez(member.serverName), (r) => new Set(r.routes.map((x) => x.remote_name)).size === 2, 30_000);
  }, 60_000);
});
