/**
 * The stack outputs domain services read, as plain data: where to connect (per leaf, the hub)
 * and which streams and buckets exist in which JetStream domain. Pure; the names are a contract
 * documented in docs/prod.md, so change them only together with it. Credentials and NATS
 * contexts are secret outputs: see secret-outputs.ts.
 */
import { serverEndpoints, type MonitoringScope } from "../topology/endpoints";
import { Role, Topology } from "../topology/types";

/** Where a service on one leaf connects. */
export type LeafOutput = {
  /** Host (container) the leaf server runs on. */
  readonly host: string;
  /** `nats://<address>:<leaf client port>`. */
  readonly clientUrl: string;
  /** `http://<monitoring address>:<leaf monitoring port>`: `http://127.0.0.1:8222` unless monitoring is exposed. */
  readonly monitoringUrl: string;
  /** `host`: monitoring answers on the host only (ssh in, or an SSH tunnel); `network`: from other machines. */
  readonly monitoringScope: MonitoringScope;
  /** The leaf's own JetStream domain (its streams: `$JS.<domain>.API`). */
  readonly jetstreamDomain: string;
};

/** The hub cluster's endpoints, in member (host) order. */
export type HubOutput = {
  /** `cluster.name`. */
  readonly cluster: string;
  readonly jetstreamDomain: string;
  /** Replicas of the hub's streams. */
  readonly replicas: number;
  /** Client URLs, what cluster-level services pass as `servers`. */
  readonly clientUrls: readonly string[];
  /** `nats-route://` URLs of the route mesh. */
  readonly routeUrls: readonly string[];
  /** `nats-leaf://` URLs leaves connect to. */
  readonly leafnodeUrls: readonly string[];
  readonly monitoringUrls: readonly string[];
  /** Per member, as monitoringUrls: `host` (loopback, on that host only) or `network`. */
  readonly monitoringScopes: readonly MonitoringScope[];
};

/** Where one stream or bucket exists: the JetStream domains holding it (a leaf's, or `hub`). */
export type JetStreamPlacement = {
  readonly name: string;
  readonly domains: readonly string[];
};

/** The declared JetStream state, reduced to names and domains (from the parsed JetStream spec). */
export type JetStreamNames = {
  readonly streams: readonly JetStreamPlacement[];
  readonly kv: readonly JetStreamPlacement[];
  readonly objects: readonly JetStreamPlacement[];
};

/** The public stack outputs. Each top-level key is one `pulumi stack output` name. */
export type StackOutputs = {
  /** Topology (stack) name. */
  readonly stack: string;
  /** Leaf server name → its endpoints. */
  readonly leaves: Readonly<Record<string, LeafOutput>>;
  readonly hub: HubOutput;
  /** Kind → name → JetStream domains holding it. */
  readonly jetstream: {
    readonly streams: Readonly<Record<string, readonly string[]>>;
    readonly kv: Readonly<Record<string, readonly string[]>>;
    readonly objects: Readonly<Record<string, readonly string[]>>;
  };
};

const byName = (placements: readonly JetStreamPlacement[]) =>
  Object.fromEntries(placements.map((p) => [p.name, [...p.domains]]));

export function stackOutputs(topology: Topology, jetstream: JetStreamNames): StackOutputs {
  const endpoints = serverEndpoints(topology);
  const leaves = endpoints.filter((e) => e.kind === Role.Leaf);
  const hub = endpoints.filter((e) => e.kind === Role.Hub);
  return {
    stack: topology.name,
    leaves: Object.fromEntries(
      leaves.map((e) => [e.serverName, { host: e.host, clientUrl: e.clientUrl, monitoringUrl: e.monitoringUrl, monitoringScope: e.monitoringScope, jetstreamDomain: e.jetstreamDomain }]),
    ),
    hub: {
      cluster: topology.hub.name,
      jetstreamDomain: topology.hub.jetstreamDomain,
      replicas: topology.hub.replicas,
      clientUrls: hub.map((e) => e.clientUrl),
      routeUrls: hub.map((e) => e.routeUrl!),
      leafnodeUrls: hub.map((e) => e.leafnodeUrl!),
      monitoringUrls: hub.map((e) => e.monitoringUrl),
      monitoringScopes: hub.map((e) => e.monitoringScope),
    },
    jetstream: { streams: byName(jetstream.streams), kv: byName(jetstream.kv), objects: byName(jetstream.objects) },
  };
}
