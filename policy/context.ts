/**
 * What a rule may know beyond the resource it is given: the stack's substrate and the stack's
 * previous state. The engine starts the pack with the stack's config (PULUMI_CONFIG) and name
 * (PULUMI_NODEJS_STACK), which @pulumi/pulumi reads; the previous state comes from the CLI itself
 * (`pulumi stack export`), because the analyzer protocol hands a rule no step op and no old state.
 */

/** One resource of the previous state, as `pulumi stack export` writes it. */
export type StateResource = {
  readonly urn: string;
  readonly type: string;
  readonly id?: string;
  readonly inputs?: Record<string, unknown>;
  readonly outputs?: Record<string, unknown>;
};

export type PolicyContext = {
  /** `cim-nats:substrate` of the stack under review (`proxmox` unless set, as the program reads it). */
  readonly substrate: () => string;
  /** The stack's previous state by URN (empty for a new stack); throws when it cannot be read. */
  readonly priorState: () => ReadonlyMap<string, StateResource>;
  /** Servers of the largest JetStream domain in `cim-nats:topology` (its hub members; 1 with no hub). */
  readonly largestDomain: () => number;
};

/** Hub members of a `cim-nats:topology` value (hosts with the hub role), at least 1 (a leaf domain's one server). */
export function largestDomainOf(topology: unknown): number {
  const hosts = (topology as { hosts?: { roles?: unknown }[] } | undefined)?.hosts ?? [];
  const hub = hosts.filter((h) => Array.isArray(h.roles) && h.roles.includes("hub")).length;
  return Math.max(hub, 1);
}

/** The prior state's resources by URN, from `pulumi stack export` JSON. */
export function stateByUrn(exported: unknown): Map<string, StateResource> {
  const resources = ((exported as { deployment?: { resources?: StateResource[] } })?.deployment?.resources ?? []) as StateResource[];
  return new Map(resources.map((r) => [r.urn, r]));
}
