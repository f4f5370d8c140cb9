/**
 * The validated, immutable topology: what every renderer, substrate and resource reads.
 * Produced only by `parseTopology` (parse.ts) from the stack config; never built by hand
 * outside tests. Everything here is plain readonly data: no I/O, no Pulumi.
 */

/** A role a host plays. A host may be both (nats-1..3 in prod). */
export const Role = { Leaf: "leaf", Hub: "hub" } as const;
export type Role = (typeof Role)[keyof typeof Role];

/** Which nats-server instance on a host: the leaf server or the hub member. */
export type InstanceKind = Role;

/** Ports of a leaf instance. Defaults: client 4222, monitoring 8222. */
export type LeafPorts = {
  readonly client: number;
  readonly monitoring: number;
};

/** Ports of a hub instance. Defaults: client 4223, monitoring 8223, routes 6222, leafnodes 7422. */
export type HubPorts = {
  readonly client: number;
  readonly monitoring: number;
  readonly routes: number;
  readonly leafnodes: number;
};

/** Container sizing, per host (defaults per role, see parse.ts). */
export type HostResources = {
  /** CPU cores. Default 2. */
  readonly cores: number;
  /** Memory in MiB. Default 2048 (leaf), 4096 (hub or both). */
  readonly memoryMiB: number;
  /** Swap in MiB. Default 512. */
  readonly swapMiB: number;
  /** Root disk in GiB. Default 16. */
  readonly rootDiskGiB: number;
  /** JetStream data mount in GiB. Default 32 (leaf), 64 (hub or both). */
  readonly dataDiskGiB: number;
};

/** JetStream server limits and flush policy of one instance, as nats-server spells them ("1G", "1s"). */
export type JetStreamLimits = {
  /** `jetstream.max_mem`. Default "256M" (leaf), "1G" (hub). */
  readonly maxMemory: string;
  /** `jetstream.max_file`. Default "10G" (leaf), "48G" (hub). */
  readonly maxFile: string;
  /** `jetstream.sync_interval`: "always" or a duration (config/durability.ts has the defaults). */
  readonly syncInterval: string;
};

/**
 * Where a host's HTTP monitoring listens (`topology.monitoring.listen`): `loopback` (default;
 * 127.0.0.1, or the host's own address when that is already a 127/8 one, as in the dev stack),
 * `host` (the host's address), or an explicit IPv4.
 */
export type MonitoringListen = "loopback" | "host" | string;

/** One nats-server process: the leaf server of a host, or its hub member. */
export type ServerInstance = {
  /** `server_name`: the host name for a leaf (`nats-1`), `<host>-hub` for a hub member. */
  readonly serverName: string;
  readonly kind: InstanceKind;
  /** Host this instance runs on. */
  readonly host: string;
  /** Address it listens on (the host's address). */
  readonly address: string;
  /** JetStream domain: the leaf domain (default: host name) or the hub domain. */
  readonly jetstreamDomain: string;
  readonly clientPort: number;
  /** Address the HTTP monitoring listens on (`http`), resolved from the host's MonitoringListen. */
  readonly monitoringAddress: string;
  readonly monitoringPort: number;
  /** Hub only: route port; undefined on a leaf. */
  readonly routePort?: number;
  /** Hub only: leafnode listener port; undefined on a leaf. */
  readonly leafnodePort?: number;
  readonly jetstream: JetStreamLimits;
  /** JetStream store directory on the target (substrate-specific base + server name). */
  readonly storeDir: string;
};

/** One machine: a Proxmox LXC container in prod, a loopback address in dev. */
export type Host = {
  /** Container hostname; a valid subject token (used as leaf server name and domain). */
  readonly name: string;
  /** Proxmox VM id (unique). */
  readonly vmid: number;
  /** Proxmox node the container lives on (`pve1`). */
  readonly node: string;
  /** IPv4 address (unique); loopback 127.x.y.z in the dev stack. */
  readonly address: string;
  /** Named network the address belongs to (prod: picks bridge, gateway, subnet). Default "default". */
  readonly network: string;
  readonly roles: readonly Role[];
  readonly resources: HostResources;
  /** Where its servers' monitoring listens; kept so a moved address re-resolves it (rebase.ts). */
  readonly monitoringListen: MonitoringListen;
  /** Free-form Proxmox tags. */
  readonly tags: readonly string[];
  /** The nats-server instances on this host, leaf first. */
  readonly instances: readonly ServerInstance[];
};

/** The hub cluster (route mesh of every host with the `hub` role). */
export type HubCluster = {
  /** `cluster.name`. Default "cim-hub". */
  readonly name: string;
  /** JetStream domain of the hub. Default "hub". */
  readonly jetstreamDomain: string;
  /** Replicas the hub's streams use; validated against the member count. Default 3. */
  readonly replicas: number;
  /** Hub instances in host order. */
  readonly members: readonly ServerInstance[];
};

/**
 * How a server stops: lame duck mode (SIGUSR2) stops accepting clients, waits the grace period,
 * then closes existing clients spread over the rest of the duration, and exits. Stops must allow
 * more than `durationSeconds` before they kill (prod: systemd `TimeoutStopSec`).
 */
export type LameDuck = {
  /** `lame_duck_duration` in seconds. Default 30 (stack config `topology.lameDuck.durationSeconds`). */
  readonly durationSeconds: number;
  /** `lame_duck_grace_period` in seconds, below the duration. Default min(10, duration / 2). */
  readonly gracePeriodSeconds: number;
};

/** The whole validated topology. */
export type Topology = {
  /** Stack-level name used in tags and paths (e.g. "prod", "dev"). */
  readonly name: string;
  readonly hosts: readonly Host[];
  readonly hub: HubCluster;
  /** Leaf instances in host order. */
  readonly leaves: readonly ServerInstance[];
  /**
   * Subjects each leaf denies importing over its leafnode link, so leaf-local streams and
   * buckets capture only their own leaf's messages (DESIGN.md, "Leaf stores stay local").
   * Derived from the declared leaf-level streams, KV and object buckets.
   */
  readonly leafDenyImports: readonly string[];
  /** Lame duck stop of every server (rendered `lame_duck_duration`, `lame_duck_grace_period`). */
  readonly lameDuck: LameDuck;
};

// The config error type lives in the config layer; re-exported so existing imports keep working.
export { ConfigError, type ConfigIssue } from "../config/errors";
