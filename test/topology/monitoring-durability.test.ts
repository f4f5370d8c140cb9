/**
 * Monitoring where the config puts it and sync_interval as rendered, on a running topology of
 * real nats-servers: two leaf + hub hosts on 127.0.87.x whose monitoring listens on separate
 * addresses (127.0.88.x), so a reader that used the host address instead of the rendered
 * monitoring address would fail. The topology's readiness (routes, leafnode links) is read
 * through the rendered addresses too. Loopback 127.0.87.x and 127.0.88.x only.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { instanceEndpoints } from "../../components/topology/endpoints";
import { parseTopology } from "../../components/topology/parse";
import type { Topology } from "../../components/topology/types";
import { startTopology, type RunningTopology } from "../../harness/local-topology";

function twoHosts(): Topology {
  const host = (i: number) => ({
    name: `md${i}`,
    vmid: 870 + i,
    node: "pve1",
    address: `127.0.87.${i}`,
    roles: ["leaf", "hub"],
    monitoring: { listen: `127.0.88.${i}` },
    ...(i === 2 ? { jetstream: { leaf: { syncInterval: "1s" } } } : {}),
  });
  return parseTopology(
    {
      hub: { replicas: 1, jetstream: { maxMemory: "32M", maxFile: "256M", syncInterval: "5s" } },
      leaf: { jetstream: { maxMemory: "32M", maxFile: "256M" } },
      hosts: [host(1), host(2)],
    },
    { name: "mondur", leafDenyImports: ["person.events.>"] },
  );
}

type Varz = { server_name: string; http_host: string; jetstream: { config: { sync_interval?: number; sync_always?: boolean } } };

let running: RunningTopology;
beforeAll(async () => {
  running = await startTopology(twoHosts(), { timeoutMs: 60_000 });
}, 90_000);
afterAll(async () => running?.stop());

async function varz(serverName: string): Promise<Varz> {
  return (await (await fetch(`${running.monitoringUrl(serverName)}/varz`, { signal: AbortSignal.timeout(2_000) })).json()) as Varz;
}

describe("a running topology with monitoring on its own addresses", () => {
  it.each(["md1", "md1-hub", "md2", "md2-hub"])("%s: monitoring answers at the rendered address, not at the client address", async (server) => {
    const instance = running.topology.hosts.flatMap((h) => h.instances).find((i) => i.serverName === server)!;
    expect(running.monitoringUrl(server)).toBe(`http://127.0.88.${instance.host.slice(2)}:${instance.monitoringPort}`);
    expect((await varz(server)).server_name).toBe(server);
    // Nothing listens for HTTP on the host (client) address.
    await expect(fetch(`http://${instance.address}:${instance.monitoringPort}/varz`, { signal: AbortSignal.timeout(2_000) })).rejects.toThrow();
    expect(instanceEndpoints(instance).monitoringScope).toBe("host");
  });

  it.each([
    ["md1", 120e9, true], // the default, `always`: nats-server keeps its 2m timer and flushes every write
    ["md2", 1e9, false], // an opt-in interval on one host
    ["md1-hub", 5e9, false],
  ] as const)("%s runs the rendered sync_interval", async (server, nanos, always) => {
    const js = (await varz(server)).jetstream.config;
    expect([js.sync_interval, js.sync_always ?? false]).toEqual([nanos, always]);
  });
});
