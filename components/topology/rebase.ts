/**
 * Topology transforms for running the same topology elsewhere on one machine: another loopback
 * block (tests run several topologies side by side) or another data directory (the dev stack
 * and tests keep stores under their own folder).
 */
import { deepFreeze } from "./freeze";
import { monitoringAddress } from "./monitoring";
import { Host, ServerInstance, Topology } from "./types";

/** Moves every host to `${prefix}.<last octet of its address>`, e.g. "127.0.3": 127.0.0.41 → 127.0.3.41. */
export function rebaseAddresses(topology: Topology, prefix: string): Topology {
  if (!/^\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(prefix)) {
    throw new Error(`address prefix '${prefix}' must be three octets, e.g. '127.0.3'`);
  }
  const moved = (address: string) => `${prefix}.${address.split(".")[3]}`;
  const seen = new Set<string>();
  for (const h of topology.hosts) {
    const a = moved(h.address);
    if (seen.has(a)) throw new Error(`rebasing to '${prefix}' maps two hosts to ${a}: their addresses share a last octet`);
    seen.add(a);
  }
  // Monitoring follows the host: `loopback` on a moved 127/8 address is that address (monitoring.ts).
  const listenOf = new Map(topology.hosts.map((h) => [h.name, h.monitoringListen]));
  return mapInstances(
    topology,
    (h) => ({ address: moved(h.address) }),
    (i) => ({ address: moved(i.address), monitoringAddress: monitoringAddress(listenOf.get(i.host) ?? "loopback", moved(i.address)) }),
  );
}

/** Re-roots every instance's JetStream store directory under `dir`. */
export function withDataDir(topology: Topology, dir: string): Topology {
  const root = dir.replace(/\/+$/, "");
  return mapInstances(topology, () => ({}), (i) => ({ storeDir: `${root}/${i.serverName}` }));
}

/** Replaces the subjects leaves deny importing (derived from the declared leaf-level stores). */
export function withLeafDenyImports(topology: Topology, subjects: readonly string[]): Topology {
  return deepFreeze({ ...topology, leafDenyImports: [...subjects] });
}

function mapInstances(
  topology: Topology,
  host: (h: Host) => Partial<Host>,
  instance: (i: ServerInstance) => Partial<ServerInstance>,
): Topology {
  const hosts = topology.hosts.map((h) => ({
    ...h,
    ...host(h),
    instances: h.instances.map((i) => ({ ...i, ...instance(i) })),
  }));
  const all = hosts.flatMap((h) => h.instances);
  const pick = (names: readonly ServerInstance[]) => names.map((n) => all.find((i) => i.serverName === n.serverName)!);
  return deepFreeze({
    ...topology,
    hosts,
    hub: { ...topology.hub, members: pick(topology.hub.members) },
    leaves: pick(topology.leaves),
  });
}
