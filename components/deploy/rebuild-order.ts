/**
 * In which order hosts may rebuild. Pure. Hub members restart one at a time, each waiting until
 * the previous one answers /healthz again, so the R3 cluster never loses more than one of its
 * three members and keeps quorum. Leaf-only hosts have nothing to coordinate with: they
 * rebuild in parallel.
 */
import { Role, Topology } from "../topology/types";

export type RebuildStep = {
  readonly host: string;
  /** The host whose rebuild (health-checked) must finish first; undefined: no wait. */
  readonly after?: string;
};

/** One step per host, in host order; hub hosts chained in host order. */
export function rebuildOrder(topology: Topology): readonly RebuildStep[] {
  let previousHub: string | undefined;
  return topology.hosts.map((h) => {
    if (!h.roles.includes(Role.Hub)) return { host: h.name };
    const step = previousHub === undefined ? { host: h.name } : { host: h.name, after: previousHub };
    previousHub = h.name;
    return step;
  });
}

/** The hub host rebuilt last (the end of the chain); undefined without hub hosts. */
export function lastHubHost(topology: Topology): string | undefined {
  return topology.hosts.filter((h) => h.roles.includes(Role.Hub)).at(-1)?.name;
}
