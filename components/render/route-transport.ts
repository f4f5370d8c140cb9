/**
 * What two hub members must share to route to each other: the cluster name, TLS on the route
 * listener, and route authorization. A change of any of these cannot roll member by member with
 * each member waiting to be JetStream-current: a restarted member speaks the new transport and
 * its peers the old one (measured on nats-server 2.15.2, routes TLS turned on: "TLS route
 * handshake error: first record does not look like a TLS handshake", the member never saw a meta
 * leader and the roll stopped at the first member). Such a roll waits only for each member's
 * server until the last one, which waits for the whole cluster. Pure: config trees in.
 */
import type { NatsConfTree, NatsConfValue } from "./nats-conf";

function block(value: NatsConfValue | undefined): NatsConfTree | undefined {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as NatsConfTree) : undefined;
}

/** What a member's routes speak: two members route to each other only when these are equal. */
export type RouteTransport = { readonly name: string; readonly tls: boolean; readonly auth: boolean };

/** The route transport of a config: undefined when it is not a cluster member. */
export function routeTransport(tree: NatsConfTree): RouteTransport | undefined {
  const cluster = block(tree.cluster);
  if (!cluster) return undefined;
  return {
    name: String(cluster.name ?? ""),
    tls: cluster.tls !== undefined,
    // The route authorization lives in an included file (render/cluster-auth.ts) or inline.
    auth: cluster.include !== undefined || cluster.authorization !== undefined,
  };
}

/** Why an old and a new config of one member cannot route to each other; empty when they can. */
export function routeTransportChanges(oldTree: NatsConfTree, newTree: NatsConfTree): string[] {
  const before = routeTransport(oldTree);
  const after = routeTransport(newTree);
  if (!before || !after) return [];
  const out: string[] = [];
  if (before.name !== after.name) out.push(`cluster name ${before.name} -> ${after.name}`);
  if (before.tls !== after.tls) out.push(`route TLS turned ${after.tls ? "on" : "off"}`);
  if (before.auth !== after.auth) out.push(`route authorization turned ${after.auth ? "on" : "off"}`);
  return out;
}
