/**
 * Service endpoints derived from the topology: what stack outputs hand to domain services and
 * what the substrates health-check. Pure.
 */
import { monitoringExposed } from "./monitoring";
import { Role, ServerInstance, Topology } from "./types";

/** Who reaches a server's monitoring: the host itself only, or the network. */
export type MonitoringScope = "host" | "network";

export type InstanceEndpoints = {
  readonly serverName: string;
  readonly host: string;
  readonly kind: ServerInstance["kind"];
  readonly jetstreamDomain: string;
  /** `nats://<address>:<client port>` */
  readonly clientUrl: string;
  /** `http://<monitoring address>:<monitoring port>`: 127.0.0.1 (reachable on the host only) unless exposed. */
  readonly monitoringUrl: string;
  /** `host`: only from the host itself (loopback); `network`: from other machines too. */
  readonly monitoringScope: MonitoringScope;
  /** Hub only: `nats-route://<address>:<route port>` */
  readonly routeUrl?: string;
  /** Hub only: `nats-leaf://<address>:<leafnode port>` */
  readonly leafnodeUrl?: string;
};

export function instanceEndpoints(i: ServerInstance): InstanceEndpoints {
  return {
    serverName: i.serverName,
    host: i.host,
    kind: i.kind,
    jetstreamDomain: i.jetstreamDomain,
    clientUrl: `nats://${i.address}:${i.clientPort}`,
    monitoringUrl: `http://${i.monitoringAddress}:${i.monitoringPort}`,
    monitoringScope: monitoringExposed(i.monitoringAddress) ? "network" : "host",
    ...(i.kind === Role.Hub
      ? { routeUrl: `nats-route://${i.address}:${i.routePort}`, leafnodeUrl: `nats-leaf://${i.address}:${i.leafnodePort}` }
      : {}),
  };
}

/** Endpoints of every instance, leaves first then hub members, in host order. */
export function serverEndpoints(topology: Topology): readonly InstanceEndpoints[] {
  return [...topology.leaves, ...topology.hub.members].map(instanceEndpoints);
}

/** Looks an instance up by server name, with an error that lists the known ones. */
export function instanceByName(topology: Topology, serverName: string): ServerInstance {
  const all = topology.hosts.flatMap((h) => h.instances);
  const found = all.find((i) => i.serverName === serverName);
  if (!found) {
    throw new Error(`unknown server '${serverName}': known servers are ${all.map((i) => i.serverName).join(", ")}`);
  }
  return found;
}
