/**
 * Stack config (`cim-nats:topology`) → validated, frozen Topology. Pure: no I/O, no Pulumi.
 * Every problem is collected and thrown as one ConfigError, so the user fixes them in one pass.
 */
import { tokenReason } from "../subjects/subject";
import { ConfigError, type ConfigIssue } from "../config/errors";
import {
  Host,
  HostResources,
  HubPorts,
  JetStreamLimits,
  LameDuck,
  LeafPorts,
  MonitoringListen,
  Role,
  ServerInstance,
  Topology,
} from "./types";
import { deepFreeze } from "./freeze";
import { parseByteSize, parseDurationNanos } from "../config/units";
import { HUB_SYNC_DEFAULT, LEAF_SYNC_DEFAULT } from "../config/durability";
import { fieldsOf, hostJetstreamSchema, hostPortsSchema, hostResourcesSchema, hostSchema, hubSchema, jetstreamLimits, lameDuckSchema, leafSchema, monitoringSchema, topologySchema } from "../config/schema";
import { hostCapacityIssues } from "./capacity";
import { monitoringAddress } from "./monitoring";
import { type At, int, isObject, objOrEmpty, unknownKeys, optString, requiredString, stringList } from "../config/fields";

/** Defaults (DESIGN.md "Two tiers"). */
export const DEFAULT_LEAF_PORTS: LeafPorts = { client: 4222, monitoring: 8222 };
export const DEFAULT_HUB_PORTS: HubPorts = { client: 4223, monitoring: 8223, routes: 6222, leafnodes: 7422 };
export const DEFAULT_LEAF_JETSTREAM: JetStreamLimits = { maxMemory: "256M", maxFile: "10G", syncInterval: LEAF_SYNC_DEFAULT };
// 48G, not 50G: with a 10G leaf it fits the default 64 GiB data volume of a leaf + hub host (capacity.ts).
export const DEFAULT_HUB_JETSTREAM: JetStreamLimits = { maxMemory: "1G", maxFile: "48G", syncInterval: HUB_SYNC_DEFAULT };
/** Monitoring stays on the host unless the config exposes it (monitoring.ts). */
export const DEFAULT_MONITORING_LISTEN: MonitoringListen = "loopback";
export const DEFAULT_DATA_DIR = "/var/lib/cim-nats";
export const DEFAULT_HUB_CLUSTER = "cim-hub";
export const DEFAULT_HUB_DOMAIN = "hub";
export const DEFAULT_HUB_REPLICAS = 3;
/** Lame duck duration of every server; the dev stack sets a short one (Pulumi.dev.yaml). */
export const DEFAULT_LAME_DUCK_SECONDS = 30;
/** Upper bound of the default grace period (nats-server's own default is 10 s). */
export const DEFAULT_LAME_DUCK_GRACE_SECONDS = 10;

// Field lists come from the declared schema (components/config/schema.ts), which the docs and the editor JSON Schema share.
const HOST_KEYS = fieldsOf(hostSchema);
const TOP_KEYS = fieldsOf(topologySchema);
const RESOURCE_KEYS = fieldsOf(hostResourcesSchema);

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
  unknownKeys(raw, TOP_KEYS, root, at);

  const dataDir = optString(raw.dataDir, `${root}.dataDir`, DEFAULT_DATA_DIR, at);
  const hubRaw = objOrEmpty(raw.hub, `${root}.hub`, at);
  const leafRaw = objOrEmpty(raw.leaf, `${root}.leaf`, at);
  unknownKeys(hubRaw, fieldsOf(hubSchema), `${root}.hub`, at);
  unknownKeys(leafRaw, fieldsOf(leafSchema), `${root}.leaf`, at);

  const hubCluster = token(hubRaw.cluster, `${root}.hub.cluster`, DEFAULT_HUB_CLUSTER, "cluster name", at);
  const hubDomain = token(hubRaw.domain, `${root}.hub.domain`, DEFAULT_HUB_DOMAIN, "JetStream domain", at);
  const hubReplicas = int(hubRaw.replicas, `${root}.hub.replicas`, DEFAULT_HUB_REPLICAS, 1, 5, at);
  const hubPorts = ports(hubRaw.ports, `${root}.hub.ports`, DEFAULT_HUB_PORTS, at);
  const leafPorts = ports(leafRaw.ports, `${root}.leaf.ports`, DEFAULT_LEAF_PORTS, at);
  const hubJs = limits(hubRaw.jetstream, `${root}.hub.jetstream`, DEFAULT_HUB_JETSTREAM, at);
  const leafJs = limits(leafRaw.jetstream, `${root}.leaf.jetstream`, DEFAULT_LEAF_JETSTREAM, at);
  const lameDuck = parseLameDuck(raw.lameDuck, `${root}.lameDuck`, at);
  const monitoring = parseMonitoring(raw.monitoring, `${root}.monitoring`, DEFAULT_MONITORING_LISTEN, at);

  if (!Array.isArray(raw.hosts) || raw.hosts.length === 0) {
    at(`${root}.hosts`, "needs at least one host: a list of { name, vmid, node, address, roles }");
    throw new ConfigError(issues);
  }

  const hosts: Host[] = [];
  raw.hosts.forEach((h: unknown, i: number) => {
    const path = `${root}.hosts[${i}]`;
    if (!isObject(h)) {
      at(path, `must be an object { name, vmid, node, address, roles }, got ${JSON.stringify(h)}`);
      return;
    }
    unknownKeys(h, HOST_KEYS, path, at);
    const name = hostName(h.name, `${path}.name`, at);
    const vmid = int(h.vmid, `${path}.vmid`, undefined, 100, 999_999_999, at);
    const node = requiredString(h.node, `${path}.node`, "the Proxmox node it runs on, e.g. pve1", at);
    const address = ipv4(h.address, `${path}.address`, at);
    const network = optString(h.network, `${path}.network`, "default", at);
    const roles = parseRoles(h.roles, `${path}.roles`, at);
    const leafDomain = token(h.leafDomain, `${path}.leafDomain`, name, "JetStream domain", at);
    const tags = stringList(h.tags, `${path}.tags`, at);
    const both = roles.includes(Role.Hub);
    const resources = parseResources(h.resources, `${path}.resources`, both, at);
    const hostPorts = objOrEmpty(h.ports, `${path}.ports`, at);
    unknownKeys(hostPorts, fieldsOf(hostPortsSchema), `${path}.ports`, at);
    const lp = ports(hostPorts.leaf, `${path}.ports.leaf`, leafPorts, at);
    const hp = ports(hostPorts.hub, `${path}.ports.hub`, hubPorts, at);
    const hostJs = objOrEmpty(h.jetstream, `${path}.jetstream`, at);
    unknownKeys(hostJs, fieldsOf(hostJetstreamSchema), `${path}.jetstream`, at);
    const monitoringListen = parseMonitoring(h.monitoring, `${path}.monitoring`, monitoring, at);
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
        jetstream: limits(hostJs.leaf, `${path}.jetstream.leaf`, leafJs, at),
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
        jetstream: limits(hostJs.hub, `${path}.jetstream.hub`, hubJs, at),
        storeDir: `${dataDir}/${name}-hub`,
      });
    }
    portClashes(instances, path, at);
    const host: Host = { name, vmid, node, address, network, roles, resources, monitoringListen, tags, instances };
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
    hub: { name: hubCluster, jetstreamDomain: hubDomain, replicas: hubReplicas, members },
    leaves,
    leafDenyImports: [...(options.leafDenyImports ?? [])],
    lameDuck,
  });
}

/** nats-server 2.15 refuses a `lame_duck_duration` under 30 s ("minimum is 30 seconds"). */
const MIN_LAME_DUCK_SECONDS = 30;

/** `lameDuck: { durationSeconds, gracePeriodSeconds }`: seconds (fractions allowed), grace below duration. */
function parseLameDuck(v: unknown, path: string, at: At): LameDuck {
  const r = objOrEmpty(v, path, at);
  unknownKeys(r, fieldsOf(lameDuckSchema), path, at);
  const seconds = (x: unknown, key: string, dflt: number): number => {
    if (x === undefined || x === null) return dflt;
    if (typeof x !== "number" || !Number.isFinite(x) || x <= 0 || x > 3600) {
      at(`${path}.${key}`, `${JSON.stringify(x)} is not a number of seconds in (0, 3600], e.g. 30`);
      return dflt;
    }
    return x;
  };
  const durationSeconds = seconds(r.durationSeconds, "durationSeconds", DEFAULT_LAME_DUCK_SECONDS);
  const gracePeriodSeconds = seconds(r.gracePeriodSeconds, "gracePeriodSeconds", Math.min(DEFAULT_LAME_DUCK_GRACE_SECONDS, durationSeconds / 2));
  if (durationSeconds < MIN_LAME_DUCK_SECONDS) {
    at(`${path}.durationSeconds`, `lame duck duration ${durationSeconds}s is below nats-server's minimum of ${MIN_LAME_DUCK_SECONDS}s (it refuses to start): use ${MIN_LAME_DUCK_SECONDS} or more; a server with no clients still stops at once`);
  } else if (gracePeriodSeconds >= durationSeconds) {
    at(`${path}.gracePeriodSeconds`, `grace period ${gracePeriodSeconds}s must be below the duration ${durationSeconds}s (nats-server refuses to start otherwise): lower it or leave it out`);
  }
  return { durationSeconds, gracePeriodSeconds };
}

function token(v: unknown, path: string, dflt: string, what: string, at: At): string {
  const s = optString(v, path, dflt, at);
  const reason = tokenReason(s, what);
  if (reason) at(path, `${reason}: it is used as a subject token; use letters, digits, '-' or '_'`);
  return s;
}

/** Host names become server names, JetStream domains and Linux hostnames: all three rules apply. */
function hostName(v: unknown, path: string, at: At): string {
  const s = requiredString(v, path, "the container hostname, e.g. nats-1", at);
  if (!s) return s;
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(s)) {
    at(path, `host name '${s}' is not a valid hostname and subject token: use lower-case letters, digits and '-' (e.g. 'nats-4'), at most 63 characters`);
  }
  return s;
}


function ipv4(v: unknown, path: string, at: At): string {
  const s = requiredString(v, path, "an IPv4 address, e.g. 10.0.0.41", at);
  if (!s) return s;
  const parts = s.split(".");
  const ok = parts.length === 4 && parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255);
  if (!ok) at(path, `'${s}' is not an IPv4 address: write four numbers 0-255 separated by dots, e.g. 10.0.0.41 (no prefix length here)`);
  return s;
}

function parseRoles(v: unknown, path: string, at: At): readonly Role[] {
  if (!Array.isArray(v) || v.length === 0) {
    at(path, `is required: a non-empty list of roles, each 'leaf' or 'hub', e.g. [leaf, hub]; got ${JSON.stringify(v)}`);
    return [];
  }
  const out: Role[] = [];
  for (const r of v) {
    if (r !== Role.Leaf && r !== Role.Hub) at(path, `unknown role ${JSON.stringify(r)}: use 'leaf' and/or 'hub'`);
    else if (out.includes(r)) at(path, `role '${r}' is listed twice`);
    else out.push(r);
  }
  // Leaf first, so instance order is stable whatever order the config lists.
  return out.sort((a, b) => (a === Role.Leaf ? -1 : b === Role.Leaf ? 1 : 0));
}


function parseResources(v: unknown, path: string, hub: boolean, at: At): HostResources {
  const r = objOrEmpty(v, path, at);
  unknownKeys(r, RESOURCE_KEYS, path, at);
  return {
    cores: int(r.cores, `${path}.cores`, 2, 1, 128, at),
    memoryMiB: int(r.memoryMiB, `${path}.memoryMiB`, hub ? 4096 : 2048, 256, 1_048_576, at),
    swapMiB: int(r.swapMiB, `${path}.swapMiB`, 512, 0, 1_048_576, at),
    rootDiskGiB: int(r.rootDiskGiB, `${path}.rootDiskGiB`, 16, 4, 65_536, at),
    dataDiskGiB: int(r.dataDiskGiB, `${path}.dataDiskGiB`, hub ? 64 : 32, 1, 1_048_576, at),
  };
}

function ports<P extends Record<string, number>>(v: unknown, path: string, dflt: P, at: At): P {
  const r = objOrEmpty(v, path, at);
  unknownKeys(r, Object.keys(dflt), path, at);
  const out: Record<string, number> = {};
  for (const k of Object.keys(dflt)) out[k] = int(r[k], `${path}.${k}`, dflt[k], 1, 65_535, at);
  return out as P;
}

function limits(v: unknown, path: string, dflt: JetStreamLimits, at: At): JetStreamLimits {
  const r = objOrEmpty(v, path, at);
  unknownKeys(r, fieldsOf(jetstreamLimits(true)), path, at);
  // The one size grammar (config/units.ts); the value stays as written, for the rendered config.
  const size = (x: unknown, key: "maxMemory" | "maxFile"): string => {
    const s = x === undefined || x === null ? dflt[key] : x;
    const bytes = parseByteSize(s, { unlimited: false });
    if (typeof bytes === "string") at(`${path}.${key}`, bytes);
    return String(s);
  };
  return { maxMemory: size(r.maxMemory, "maxMemory"), maxFile: size(r.maxFile, "maxFile"), syncInterval: syncInterval(r.syncInterval, `${path}.syncInterval`, dflt.syncInterval, at) };
}

/** `always`, or a positive duration in the one duration grammar (nats-server refuses neither, but 0 would fsync never). */
function syncInterval(v: unknown, path: string, dflt: string, at: At): string {
  if (v === undefined || v === null) return dflt;
  if (v === "always") return v;
  const nanos = parseDurationNanos(v);
  if (typeof nanos === "string") at(path, `${nanos}, or 'always' to flush every write`);
  else if (nanos <= 0) at(path, `${JSON.stringify(v)} would never flush: write 'always' or a positive duration such as 1s`);
  else return v as string;
  return dflt;
}

/** `monitoring: { listen }`: loopback, host, or an IPv4 address; `dflt` when unset. */
function parseMonitoring(v: unknown, path: string, dflt: MonitoringListen, at: At): MonitoringListen {
  const r = objOrEmpty(v, path, at);
  unknownKeys(r, fieldsOf(monitoringSchema), path, at);
  const listen = r.listen;
  if (listen === undefined || listen === null) return dflt;
  if (listen === "loopback" || listen === "host") return listen;
  if (typeof listen === "string" && /^\d/.test(listen)) return ipv4(listen, `${path}.listen`, at);
  at(`${path}.listen`, `${JSON.stringify(listen)} is not a monitoring address: write 'loopback' (the default: only the host itself reaches /varz, /connz, /jsz), 'host' (its address, reachable from the network) or an IPv4 address`);
  return dflt;
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
