/**
 * Where a declared stream, bucket or consumer lives: `at: leaves` (every leaf's own domain),
 * `at: hub` (the hub domain) or `at: [host names]` (those hosts' leaf domains), resolved against
 * the topology into concrete JetStream domains and their servers.
 */
import { instanceByName, instanceEndpoints } from "../topology/endpoints";
import type { ConfigIssue, Topology } from "../topology/types";
import type { ConnectionTarget } from "./types";

export type At = "leaves" | "hub" | readonly string[];

/**
 * Whether a store declared `at` is leaf-local: at several leaves (`at: leaves`, or two or more
 * hosts), a copy per leaf that is never reached across the links, its subjects denied on the
 * leaves' imports (spec.ts leafLocalSubjects). A store at one host is the one store for its
 * subjects and is reached from everywhere (security/service-grants.ts routes to it).
 */
export function isLeafLocal(at: At): boolean {
  return at === "leaves" || (Array.isArray(at) && at.length > 1);
}

/** One JetStream domain a resource is created in. */
export type Location = {
  readonly level: "leaf" | "hub";
  /** The JetStream domain (a leaf's jetstreamDomain, or the hub's). */
  readonly domain: string;
  /** Server names of the domain's instances: one for a leaf, every member for the hub. */
  readonly serverNames: readonly string[];
};

/** Problems with an `at` value; empty when it resolves. */
export function atIssues(value: unknown, path: string, topology: Topology): ConfigIssue[] {
  const fix = "use `leaves`, `hub`, or a list of host names";
  if (value === undefined) return [{ propertyPath: path, reason: `missing: say where it lives; ${fix}` }];
  if (value === "leaves") return topology.leaves.length ? [] : [{ propertyPath: path, reason: "the topology has no leaf servers: give a host the `leaf` role or use `hub`" }];
  if (value === "hub") return topology.hub.members.length ? [] : [{ propertyPath: path, reason: "the topology has no hub members: give hosts the `hub` role or use `leaves`" }];
  if (!Array.isArray(value)) return [{ propertyPath: path, reason: `'${String(value)}' is not a place; ${fix}` }];
  if (value.length === 0) return [{ propertyPath: path, reason: `the host list is empty; ${fix}` }];
  const issues: ConfigIssue[] = [];
  const seen = new Set<string>();
  value.forEach((h, i) => {
    const p = `${path}[${i}]`;
    const host = topology.hosts.find((x) => x.name === h);
    if (!host) issues.push({ propertyPath: p, reason: `unknown host '${String(h)}'; hosts are ${topology.hosts.map((x) => x.name).join(", ")}` });
    else if (!host.instances.some((x) => x.kind === "leaf")) issues.push({ propertyPath: p, reason: `host '${host.name}' runs no leaf server (roles: ${host.roles.join(", ")}); use at: hub for the hub domain` });
    if (seen.has(String(h))) issues.push({ propertyPath: p, reason: `host '${String(h)}' is listed twice` });
    seen.add(String(h));
  });
  return issues;
}

/** The domains `at` names (assumes atIssues found nothing), in topology order. */
export function resolveAt(at: At, topology: Topology): Location[] {
  if (at === "hub") {
    return [{ level: "hub", domain: topology.hub.jetstreamDomain, serverNames: topology.hub.members.map((m) => m.serverName) }];
  }
  const leaves = at === "leaves" ? topology.leaves : topology.leaves.filter((l) => at.includes(l.host));
  return leaves.map((l) => ({ level: "leaf", domain: l.jetstreamDomain, serverNames: [l.serverName] }));
}

/** The leaf domains a leaf-level `at` names. */
export function leafDomains(at: At, topology: Topology): string[] {
  return at === "hub" ? [] : resolveAt(at, topology).map((l) => l.domain);
}

/** The connection target of a location: its servers' client URLs and its domain. */
export function locationTarget(location: Location, topology: Topology, credentials?: ConnectionTarget["credentials"], tls?: ConnectionTarget["tls"]): ConnectionTarget {
  return {
    servers: location.serverNames.map((s) => instanceEndpoints(instanceByName(topology, s)).clientUrl),
    domain: location.domain,
    ...(credentials ? { credentials } : {}),
    ...(tls ? { tls } : {}),
  };
}
