/**
 * Day 2 on a running hub: turning route TLS and route authorization on rolls the three members
 * one after another in one pass, although a restarted member cannot route to its old-transport
 * peers (render/route-transport.ts). Real nats-server processes through LocalNatsServer's CRUD,
 * on 127.0.113.1–3 only. Before the fix the first member's update failed: "JetStream has not
 * established contact with a meta leader" (its peers spoke plain routes).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createLocalServer,
  planLocalServerUpdate,
  updateLocalServer,
  type LocalServerInputs,
  type LocalServerState,
} from "../../components/local/local-server-crud";
import { stopNatsServer } from "../../components/local/nats-process";
import { renderClusterAuth } from "../../components/render/cluster-auth";
import { formatNatsConf } from "../../components/render/nats-conf";
import { serverConfigTree } from "../../components/render/nats-server-config";
import type { ServerTlsInput } from "../../components/render/server-tls";
import { issueCa, issueServerCert, type IssuedCert } from "../../components/tls/certs";
import { natsClientTls } from "../../components/tls/client";
import { serverCertNames } from "../../components/tls/names";
import { ROUTE_USER } from "../../components/tls/types";
import { instanceEndpoints } from "../../components/topology/endpoints";
import type { ServerInstance, Topology } from "../../components/topology/types";
import { smallTopology, tempDir } from "./reload-support";
import { eventually } from "../support/eventually";

const PREFIX = "127.0.113";
const PASSWORD = "transport-roll-password-0123456789";
let root = "";
let topology: Topology;
let ca: IssuedCert;
const states = new Map<string, LocalServerState>();
const members = () => topology.hub.members;

function inputs(m: ServerInstance, index: number, tls?: { tls: ServerTlsInput; files: Record<string, string> }): LocalServerInputs {
  const tree = serverConfigTree(topology, m.serverName, undefined, tls?.tls ?? {});
  return {
    serverName: m.serverName,
    dataDir: m.storeDir,
    monitoringUrl: instanceEndpoints(m).monitoringUrl,
    configText: `# ${m.serverName}\n${formatNatsConf(tree)}`,
    ...(tls ? { files: tls.files } : {}),
    healthTimeoutSeconds: 30,
    stopTimeoutSeconds: 40,
    // As the dev substrate chains them: only the last member waits for the whole cluster at create.
    createHealthCheck: index < members().length - 1 ? "js-server-only" : "full",
  };
}

async function withTls(m: ServerInstance): Promise<{ tls: ServerTlsInput; files: Record<string, string> }> {
  const cert = await issueServerCert({ caCertPem: ca.certPem, caKeyPem: ca.keyPem, names: serverCertNames(m), days: 30 });
  const at = (f: string) => path.join(m.storeDir, f);
  return {
    tls: { tls: { certFile: at("tls/cert.pem"), keyFile: at("tls/key.pem"), caFile: at("tls/ca.pem") }, clusterAuth: { include: "cluster-auth.conf" } },
    files: { "tls/cert.pem": cert.certPem, "tls/key.pem": cert.keyPem, "tls/ca.pem": ca.certPem, "cluster-auth.conf": renderClusterAuth(topology, m, ROUTE_USER, PASSWORD) },
  };
}

beforeAll(async () => {
  root = tempDir("cim-transport-roll-");
  topology = smallTopology({ prefix: PREFIX, hubs: 3 }, path.join(root, "stores"));
  ca = await issueCa({ commonName: "transport-roll test CA", days: 30 });
  for (const [i, m] of members().entries()) {
    const { outs } = await createLocalServer(inputs(m, i));
    states.set(m.serverName, outs);
  }
}, 120_000);

afterAll(async () => {
  for (const s of states.values()) await stopNatsServer(s.pid, 5_000).catch(() => undefined);
  fs.rmSync(root, { recursive: true, force: true });
});

describe("a route transport change on a running hub", () => {
  it("rolls all three members in one pass; the R3 stream keeps every message and takes new ones over TLS", async () => {
    const urls = members().map((m) => instanceEndpoints(m).clientUrl);
    const plain = await connect({ servers: urls });
    const jsm = await jetstreamManager(plain);
    await jsm.streams.add({ name: "ROLL", subjects: ["roll.>"], num_replicas: 3 });
    const js = jetstream(plain);
    for (let i = 0; i < 20; i++) await js.publish(`roll.${i}`, `m${i}`);
    await plain.close();

    for (const [i, m] of members().entries()) {
      const next = inputs(m, i, await withTls(m));
      const plan = planLocalServerUpdate(states.get(m.serverName)!, next);
      expect(plan.action).toBe("restart");
      expect(plan.transportChange).toEqual(["route TLS turned on", "route authorization turned on"]);
      const before = states.get(m.serverName)!.pid;
      const after = await updateLocalServer(states.get(m.serverName)!, next);
      states.set(m.serverName, after);
      expect(after.pid).not.toBe(before);
    }

    // Every member routes to both others over the new transport (TLS required on routes).
    for (const m of members()) {
      const varz = (await (await fetch(`${instanceEndpoints(m).monitoringUrl}/varz`)).json()) as { cluster: { tls_required?: boolean; tls_verify?: boolean } };
      expect(varz.cluster.tls_required).toBe(true);
      const routez = (await (await fetch(`${instanceEndpoints(m).monitoringUrl}/routez`)).json()) as { routes: { remote_name: string }[] };
      expect(new Set(routez.routes.map((r) => r.remote_name))).toEqual(new Set(members().filter((x) => x !== m).map((x) => x.serverName)));
    }
    const nc = await connect({ servers: urls, tls: natsClientTls(ca.certPem, urls) });
    try {
      // Its stream leader is elected once all three speak the new transport (the stack's own
      // JetStream requests are asked again meanwhile: components/jetstream/api.ts).
      const jsm = await jetstreamManager(nc);
      const info = (await eventually("ROLL has a leader and two current replicas again", () => jsm.streams.info("ROLL").catch(() => undefined), (i) => (i?.cluster?.replicas?.filter((r) => r.current).length ?? 0) === 2, 45_000))!;
      expect(info.state.messages).toBe(20);
      expect(info.cluster?.replicas?.filter((r) => r.current)).toHaveLength(2);
      const ack = await jetstream(nc).publish("roll.after", "after");
      expect(ack.seq).toBe(21);
    } finally {
      await nc.close();
    }
  }, 240_000);
});
