/**
 * Service endpoints derived from the topology: what stack outputs hand to domain services and
 * what the substrates health-check. Pure.
 */
import { Role, ServerInstance, Topology } from "./types";

export type InstanceEndpoints = {
  readonly serverName: string;
  readonly host: string;
  readonly kind: ServerInstance["kind"];
  readonly jetstreamDomain: string;
  /** `nats://<address>:<client port>` */
  readonly clientUrl: string;
  /** `http://<address>:<monitoring port>` */
  readonly monitoringUrl: string;
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
    monitoringUrl: `http://${i.address}:${i.monitoringPort}`,
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
