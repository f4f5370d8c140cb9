/**
 * Stack config (`cim-nats:topology`) → validated, frozen Topology. Pure: no I/O, no Pulumi.
 * Shapes, per-field rules and defaults are the declared schema's (schema.ts, run by checkSection);
 * this file adds what a schema cannot say: defaults from other fields, uniqueness, port clashes,
 * capacity, leaf domains, replicas vs members. Every problem is thrown as one ConfigError.
 */
import { ConfigError, type ConfigIssue } from "../config/errors";
import { Host, JetStreamLimits, LameDuck, Role, ServerInstance, Topology } from "./types";
import { deepFreeze } from "./freeze";
import {
  DEFAULT_DATA_DIR,
  DEFAULT_HUB_CLUSTER,
  DEFAULT_HUB_DOMAIN,
  DEFAULT_HUB_HOST_RESOURCES,
  DEFAULT_HUB_JETSTREAM,
  DEFAULT_HUB_PORTS,
  DEFAULT_HUB_REPLICAS,
  DEFAULT_LAME_DUCK_GRACE_SECONDS,
  DEFAULT_LAME_DUCK_SECONDS,
  DEFAULT_LEAF_HOST_RESOURCES,
  DEFAULT_LEAF_JETSTREAM,
  DEFAULT_LEAF_PORTS,
  DEFAULT_MONITORING_LISTEN,
  DEFAULT_NETWORK,
  topologySchema,
} from "./schema";
import { checkSection, type Loose } from "../config/validate";
import { hostCapacityIssues } from "./capacity";
import { monitoringAddress } from "./monitoring";
import { type At, isObject } from "../config/fields";
import type { z } from "zod";

type Raw = Loose<z.output<typeof topologySchema>>;

export type ParseTopologyOptions = {
  /** Topology name (the stack), used in tags and paths. Default "cim". */
  readonly name?: string;
  /** Subjects leaves deny importing (from the declared leaf-level streams and buckets). */
  readonly leafDenyImports?: readonly string[];
};

/** Parses and validates `cim-nats:topology`; throws ConfigError listing every problem. */
export function parseTopology(raw: unknown, options: ParseTopologyOptions = {}): Topology {
  const issues: ConfigIssue[] = [];
  const at = (propertyPath: string, reason: string) => issues.push({ propertyPath, reason });
  const root = "topology";

  if (!isObject(raw)) {
    throw new ConfigError([{ propertyPath: root, reason: "missing: set `cim-nats:topology` in Pulumi.<stack>.yaml (see Pulumi.prod.yaml)" }]);
  }
  const checked = checkSection(topologySchema, raw, root);
  issues.push(...checked.issues);
  const t: Raw = checked.value;

  const dataDir = t.dataDir ?? DEFAULT_DATA_DIR;
  const hubDomain = t.hub?.domain ?? DEFAULT_HUB_DOMAIN;
  const hubReplicas = t.hub?.replicas ?? DEFAULT_HUB_REPLICAS;
  const hubPorts = { ...DEFAULT_HUB_PORTS, ...t.hub?.ports };
  const leafPorts = { ...DEFAULT_LEAF_PORTS, ...t.leaf?.ports };
  const hubJs = { ...DEFAULT_HUB_JETSTREAM, ...t.hub?.jetstream } as JetStreamLimits;
  const leafJs = { ...DEFAULT_LEAF_JETSTREAM, ...t.leaf?.jetstream } as JetStreamLimits;
  const lameDuck = parseLameDuck(t.lameDuck, `${root}.lameDuck`, at);
  const monitoring = t.monitoring?.listen ?? DEFAULT_MONITORING_LISTEN;
  if (!t.hosts) throw new ConfigError(issues);

  const hosts: Host[] = [];
  t.hosts.forEach((h, i) => {
    const path = `${root}.hosts[${i}]`;
    if (!h) return;
    const name = h.name ?? "";
    const vmid = h.vmid ?? NaN;
    const address = h.address ?? "";
    const roles = ([Role.Leaf, Role.Hub] as const).filter((r) => h.roles?.includes(r)); // leaf first: stable instance order
    const leafDomain = h.leafDomain ?? name;
    const both = roles.includes(Role.Hub);
    const resources = { ...(both ? DEFAULT_HUB_HOST_RESOURCES : DEFAULT_LEAF_HOST_RESOURCES), ...h.resources };
    const lp = { ...leafPorts, ...h.ports?.leaf };
    const hp = { ...hubPorts, ...h.ports?.hub };
    const monitoringListen = h.monitoring?.listen ?? monitoring;
    const monitorAt = monitoringAddress(monitoringListen, address);

    const instances: ServerInstance[] = [];
    if (roles.includes(Role.Leaf)) {
      instances.push({
        serverName: name,
        kind: Role.Leaf,
        host: name,
        address,
        jetstreamDomain: leafDomain,
        clientPort: lp.client,
        monitoringAddress: monitorAt,
        monitoringPort: lp.monitoring,
        jetstream: { ...leafJs, ...h.jetstream?.leaf } as JetStreamLimits,
        storeDir: `${dataDir}/${name}`,
      });
    }
    if (roles.includes(Role.Hub)) {
      instances.push({
        serverName: `${name}-hub`,
        kind: Role.Hub,
        host: name,
        address,
        jetstreamDomain: hubDomain,
        clientPort: hp.client,
        monitoringAddress: monitorAt,
        monitoringPort: hp.monitoring,
        routePort: hp.routes,
        leafnodePort: hp.leafnodes,
        jetstream: { ...hubJs, ...h.jetstream?.hub } as JetStreamLimits,
        storeDir: `${dataDir}/${name}-hub`,
      });
    }
    portClashes(instances, path, at);
    const host: Host = { name, vmid, node: h.node ?? "", address, network: h.network ?? DEFAULT_NETWORK, roles, resources, monitoringListen, tags: (h.tags ?? []).filter((x) => x !== undefined), instances };
    for (const issue of hostCapacityIssues(host, path)) at(issue.propertyPath, issue.reason);
    hosts.push(host);
  });

  uniques(hosts, (h) => h.name, "name", "host names must be unique: rename one", at);
  uniques(hosts, (h) => h.vmid, "vmid", "each container needs its own Proxmox VM id: pick an unused one", at);
  uniques(hosts, (h) => h.address, "address", "each host needs its own address", at);

  const members = hosts.flatMap((h) => h.instances.filter((i) => i.kind === Role.Hub));
  const leaves = hosts.flatMap((h) => h.instances.filter((i) => i.kind === Role.Leaf));

  hosts.forEach((h, i) => {
    const leaf = h.instances.find((x) => x.kind === Role.Leaf);
    if (!leaf) return;
    if (leaf.jetstreamDomain === hubDomain) {
      at(`${root}.hosts[${i}].leafDomain`, `leaf domain '${leaf.jetstreamDomain}' equals the hub domain: each leaf needs its own JetStream domain; set leafDomain or rename the host`);
    }
    const twin = leaves.findIndex((l) => l.jetstreamDomain === leaf.jetstreamDomain);
    if (leaves[twin] !== leaf) {
      at(`${root}.hosts[${i}].leafDomain`, `leaf domain '${leaf.jetstreamDomain}' is used by leaf '${leaves[twin].serverName}' too: leaf domains must be unique`);
    }
  });
  // A hub server name is `<host>-hub`: it must not collide with another host's leaf name.
  for (const m of members) {
    const j = hosts.findIndex((h) => h.name === m.serverName);
    if (j >= 0) at(`${root}.hosts[${j}].name`, `host name '${m.serverName}' collides with the hub server of host '${m.host}': rename the host`);
  }
  if (leaves.length > 0 && members.length === 0) {
    at(`${root}.hosts`, `leaf '${leaves[0].serverName}' has no hub to connect to: give at least one host the 'hub' role (roles: [leaf, hub])`);
  }
  if (members.length > 0 && hubReplicas > members.length) {
    at(`${root}.hub.replicas`, `replicas ${hubReplicas} needs at least ${hubReplicas} hub members, found ${members.length} (${members.map((m) => m.host).join(", ")}): add hosts with the 'hub' role or lower hub.replicas`);
  }

  if (issues.length > 0) throw new ConfigError(issues);

  return deepFreeze({
    name: options.name ?? "cim",
    hosts,
    hub: { name: t.hub?.cluster ?? DEFAULT_HUB_CLUSTER, jetstreamDomain: hubDomain, replicas: hubReplicas, members },
    leaves,
    leafDenyImports: [...(options.leafDenyImports ?? [])],
    lameDuck,
  });
}

/** `lameDuck`: the schema checks each number; the grace period defaults from, and stays below, the duration. */
function parseLameDuck(r: Raw["lameDuck"], path: string, at: At): LameDuck {
  const durationSeconds = r?.durationSeconds ?? DEFAULT_LAME_DUCK_SECONDS;
  const gracePeriodSeconds = r?.gracePeriodSeconds ?? Math.min(DEFAULT_LAME_DUCK_GRACE_SECONDS, durationSeconds / 2);
  if (gracePeriodSeconds >= durationSeconds) {
    at(`${path}.gracePeriodSeconds`, `grace period ${gracePeriodSeconds}s must be below the duration ${durationSeconds}s (nats-server refuses to start otherwise): lower it or leave it out`);
  }
  return { durationSeconds, gracePeriodSeconds };
}

function portClashes(instances: readonly ServerInstance[], path: string, at: At): void {
  const seen = new Map<number, string>();
  for (const i of instances) {
    const named: [string, number | undefined][] = [
      [`${i.kind} client`, i.clientPort],
      [`${i.kind} monitoring`, i.monitoringPort],
      [`${i.kind} routes`, i.routePort],
      [`${i.kind} leafnodes`, i.leafnodePort],
    ];
    for (const [what, port] of named) {
      if (port === undefined) continue;
      const other = seen.get(port);
      if (other) at(`${path}.ports`, `port ${port} is used by both the ${other} and the ${what} port on host '${i.host}': give one of them another port`);
      else seen.set(port, what);
    }
  }
}

function uniques<T>(hosts: readonly Host[], key: (h: Host) => T, field: string, fix: string, at: At): void {
  const first = new Map<T, number>();
  hosts.forEach((h, i) => {
    const k = key(h);
    if (k === "" || (typeof k === "number" && Number.isNaN(k))) return;
    const j = first.get(k);
    if (j === undefined) first.set(k, i);
    else at(`topology.hosts[${i}].${field}`, `duplicate ${field} ${JSON.stringify(k)} (also topology.hosts[${j}] '${hosts[j].name}'): ${fix}`);
  });
}
