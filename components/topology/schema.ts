/**
 * The `cim-nats:topology` section as declared data: every field's type, default and one line of
 * documentation (zod; stack/config-schema.ts puts it into the stack schema, the docs and the
 * JSON Schema), and the defaults parse.ts fills in. The rules across fields (uniqueness, port
 * clashes, capacity, replicas vs members) are parse.ts's. Pure.
 */
import { z } from "zod";
import { because, duration as durationOf, intIn, ipv4, IPV4, matching, names, opt, port as portField, record, req, size as sizeOf, text, token } from "../config/atoms";
import { HUB_SYNC_DEFAULT, LEAF_SYNC_DEFAULT } from "../config/durability";
import { parseDurationNanos } from "../config/units";
import type { HostResources, HubPorts, JetStreamLimits, LeafPorts, MonitoringListen } from "./types";

/** Defaults (DESIGN.md "Two tiers"). */
export const DEFAULT_LEAF_PORTS: LeafPorts = { client: 4222, monitoring: 8222 };
export const DEFAULT_HUB_PORTS: HubPorts = { client: 4223, monitoring: 8223, routes: 6222, leafnodes: 7422 };
export const DEFAULT_LEAF_JETSTREAM: JetStreamLimits = { maxMemory: "256M", maxFile: "10G", syncInterval: LEAF_SYNC_DEFAULT };
// 48G, not 50G: with a 10G leaf it fits the default 64 GiB data volume of a leaf + hub host (capacity.ts).
export const DEFAULT_HUB_JETSTREAM: JetStreamLimits = { maxMemory: "1G", maxFile: "48G", syncInterval: HUB_SYNC_DEFAULT };
/** Container sizing of a host without the hub role, and of one with it. */
export const DEFAULT_LEAF_HOST_RESOURCES: HostResources = { cores: 2, memoryMiB: 2048, swapMiB: 512, rootDiskGiB: 16, dataDiskGiB: 32 };
export const DEFAULT_HUB_HOST_RESOURCES: HostResources = { ...DEFAULT_LEAF_HOST_RESOURCES, memoryMiB: 4096, dataDiskGiB: 64 };
/** Monitoring stays on the host unless the config exposes it (monitoring.ts). */
export const DEFAULT_MONITORING_LISTEN: MonitoringListen = "loopback";
export const DEFAULT_NETWORK = "default";
export const DEFAULT_DATA_DIR = "/var/lib/cim-nats";
export const DEFAULT_HUB_CLUSTER = "cim-hub";
export const DEFAULT_HUB_DOMAIN = "hub";
export const DEFAULT_HUB_REPLICAS = 3;
/** Lame duck duration of every server; the dev stack sets a short one (Pulumi.dev.yaml). */
export const DEFAULT_LAME_DUCK_SECONDS = 30;
/** Upper bound of the default grace period (nats-server's own default is 10 s). */
export const DEFAULT_LAME_DUCK_GRACE_SECONDS = 10;

const size = sizeOf();
const port = portField();
const name = text();

const leafPorts = record({
  client: opt(port, "client port", { default: DEFAULT_LEAF_PORTS.client }),
  monitoring: opt(port, "HTTP monitoring port", { default: DEFAULT_LEAF_PORTS.monitoring }),
}, "{ client, monitoring }");
const hubPorts = record({
  client: opt(port, "client port", { default: DEFAULT_HUB_PORTS.client }),
  monitoring: opt(port, "HTTP monitoring port", { default: DEFAULT_HUB_PORTS.monitoring }),
  routes: opt(port, "cluster route port", { default: DEFAULT_HUB_PORTS.routes }),
  leafnodes: opt(port, "port leaves connect to", { default: DEFAULT_HUB_PORTS.leafnodes }),
}, "{ client, monitoring, routes, leafnodes }");
/** `always` (fsync every write) or a positive duration between background fsyncs (`jetstream.sync_interval`); 0 would never flush. */
const syncInterval = z
  .union([z.literal("always"), durationOf(", or 'always' to flush every write")], because((v) => `${parseDurationNanos(v)}, or 'always' to flush every write`))
  .refine((v) => v === "always" || Number(parseDurationNanos(v)) > 0, because((v) => `${JSON.stringify(v)} would never flush: write 'always' or a positive duration such as 1s`))
  .meta({ title: "always or duration" });
const jetstreamLimits = (leaf: boolean) =>
  record({
    maxMemory: opt(size, "`jetstream.max_mem` of each server", { default: (leaf ? DEFAULT_LEAF_JETSTREAM : DEFAULT_HUB_JETSTREAM).maxMemory }),
    maxFile: opt(size, "`jetstream.max_file` of each server; with the other servers on a host it must fit the data volume", { default: (leaf ? DEFAULT_LEAF_JETSTREAM : DEFAULT_HUB_JETSTREAM).maxFile }),
    syncInterval: opt(syncInterval, "`jetstream.sync_interval`: `always` fsyncs every write before its ack; a duration is an opt-in loss window — a power failure can lose that much acked data, and the preview says so (docs/durability.md)", { default: (leaf ? DEFAULT_LEAF_JETSTREAM : DEFAULT_HUB_JETSTREAM).syncInterval }),
  }, "{ maxMemory, maxFile, syncInterval }");
/** Where a server's HTTP monitoring listens: the host's loopback, the host's address, or this IPv4. */
const listenReason = (v: unknown): string =>
  typeof v === "string" && /^\d/.test(v)
    ? `'${v}' is not an IPv4 address: write four numbers 0-255 separated by dots, e.g. 10.0.0.41 (no prefix length here)`
    : `${JSON.stringify(v)} is not a monitoring address: write 'loopback' (the default: only the host itself reaches /varz, /connz, /jsz), 'host' (its address, reachable from the network) or an IPv4 address`;
const monitoringListen = z
  .union([z.enum(["loopback", "host"]), matching(IPV4, listenReason)], because(listenReason))
  .meta({ title: "loopback | host | IPv4" });
const monitoringSchema = record({
  listen: opt(monitoringListen, "where /varz, /connz, /jsz listen: `loopback` (127.0.0.1, or the host's own address when it is a 127/8 one), `host` (the host's address, opened in the firewall) or an IPv4", { default: DEFAULT_MONITORING_LISTEN }),
}, "{ listen }");
const hostJetstreamSchema = record({ leaf: opt(jetstreamLimits(true), "this host's leaf JetStream settings, over `leaf.jetstream`"), hub: opt(jetstreamLimits(false), "this host's hub member JetStream settings, over `hub.jetstream`") }, "{ leaf, hub }");

const hostResourcesSchema = record({
  cores: opt(intIn(1, 128), "CPU cores", { default: DEFAULT_LEAF_HOST_RESOURCES.cores }),
  memoryMiB: opt(intIn(256, 1_048_576), "memory in MiB", { derived: `${DEFAULT_LEAF_HOST_RESOURCES.memoryMiB} (leaf), ${DEFAULT_HUB_HOST_RESOURCES.memoryMiB} (hub or both)` }),
  swapMiB: opt(intIn(0, 1_048_576), "swap in MiB", { default: DEFAULT_LEAF_HOST_RESOURCES.swapMiB }),
  rootDiskGiB: opt(intIn(4, 65_536), "root disk in GiB", { default: DEFAULT_LEAF_HOST_RESOURCES.rootDiskGiB }),
  dataDiskGiB: opt(intIn(1, 1_048_576), "JetStream data mount in GiB", { derived: `${DEFAULT_LEAF_HOST_RESOURCES.dataDiskGiB} (leaf), ${DEFAULT_HUB_HOST_RESOURCES.dataDiskGiB} (hub or both)` }),
}, "{ cores, memoryMiB, swapMiB, rootDiskGiB, dataDiskGiB }");
const hostPortsSchema = record({ leaf: opt(leafPorts, "this host's leaf ports"), hub: opt(hubPorts, "this host's hub ports") }, "{ leaf, hub }");

const ROLES_FIX = "a non-empty list of roles, each 'leaf' or 'hub', e.g. [leaf, hub]";
/** Roles as a list of strings, so an unknown or repeated one is reported at `roles` with its fix; JSON Schema still lists the two. */
const roles = z
  .array(z.string(), because((v) => `is required: ${ROLES_FIX}; got ${JSON.stringify(v)}`))
  .min(1, because((v) => `is required: ${ROLES_FIX}; got ${JSON.stringify(v)}`))
  .superRefine((list, ctx) => {
    list.forEach((r, i) => {
      if (r !== "leaf" && r !== "hub") ctx.addIssue({ code: "custom", input: r, message: `unknown role ${JSON.stringify(r)}: use 'leaf' and/or 'hub'` });
      else if (list.indexOf(r) !== i) ctx.addIssue({ code: "custom", input: r, message: `role '${r}' is listed twice` });
    });
  })
  .meta({ items: { type: "string", enum: ["leaf", "hub"] }, uniqueItems: true });

const hostSchema = record({
  name: req(matching(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, (s) => `host name '${s}' is not a valid hostname and subject token: use lower-case letters, digits and '-' (e.g. 'nats-4'), at most 63 characters`, "the container hostname, e.g. nats-1"), "host name: the leaf server name and the container's hostname"),
  vmid: req(intIn(100, 999_999_999), "Proxmox VM id of the container (unique)"),
  node: req(text("the Proxmox node it runs on, e.g. pve1"), "Proxmox node it runs on, e.g. pve1"),
  address: req(ipv4("an IPv4 address, e.g. 10.0.0.41"), "IPv4 address (unique)"),
  network: opt(name, "network of `proxmox.networks` it sits on", { default: DEFAULT_NETWORK }),
  roles: req(roles, "leaf, hub, or both"),
  resources: opt(hostResourcesSchema, "container sizing"),
  tags: opt(names(), "Proxmox tags, e.g. [storage]"),
  leafDomain: opt(token("JetStream domain"), "JetStream domain of its leaf (unique, not the hub's)", { derived: "the host name" }),
  ports: opt(hostPortsSchema, "ports of this host, over the section defaults"),
  jetstream: opt(hostJetstreamSchema, "JetStream limits of this host's servers, over the section defaults (e.g. a large volume's maxFile)"),
  monitoring: opt(monitoringSchema, "where this host's monitoring listens, over `topology.monitoring`"),
}, "{ name, vmid, node, address, roles }");

const hubSchema = record({
  cluster: opt(token("cluster name"), "cluster name of the hub", { default: DEFAULT_HUB_CLUSTER }),
  domain: opt(token("JetStream domain"), "JetStream domain of the hub", { default: DEFAULT_HUB_DOMAIN }),
  replicas: opt(intIn(1, 5), "replicas of hub streams; at most the hub members", { default: DEFAULT_HUB_REPLICAS }),
  ports: opt(hubPorts, "ports of every hub member"),
  jetstream: opt(jetstreamLimits(false), "JetStream limits of every hub member"),
}, "{ cluster, domain, replicas, ports, jetstream }");
const leafSchema = record({ ports: opt(leafPorts, "ports of every leaf"), jetstream: opt(jetstreamLimits(true), "JetStream limits of every leaf") }, "{ ports, jetstream }");
/** nats-server 2.15 refuses a `lame_duck_duration` under 30 s ("minimum is 30 seconds"). */
const MIN_LAME_DUCK_SECONDS = 30;
const seconds = (min: number) =>
  z.number(because((v) => `${JSON.stringify(v)} is not a number of seconds in (0, 3600], e.g. 30`))
    .positive(because((v) => `${JSON.stringify(v)} is not a number of seconds in (0, 3600], e.g. 30`))
    .max(3600, because((v) => `${JSON.stringify(v)} is not a number of seconds in (0, 3600], e.g. 30`))
    .min(min, because((v) => Number(v) <= 0 ? `${JSON.stringify(v)} is not a number of seconds in (0, 3600], e.g. 30` : `lame duck duration ${String(v)}s is below nats-server's minimum of ${min}s (it refuses to start): use ${min} or more; a server with no clients still stops at once`));
const lameDuckSchema = record({
  durationSeconds: opt(seconds(MIN_LAME_DUCK_SECONDS), "lame duck duration in seconds (nats-server's minimum is 30)", { default: DEFAULT_LAME_DUCK_SECONDS }),
  gracePeriodSeconds: opt(seconds(0), "seconds before clients are moved; below durationSeconds", { derived: `${DEFAULT_LAME_DUCK_GRACE_SECONDS}, at most half of durationSeconds` }),
}, "{ durationSeconds, gracePeriodSeconds }");

export const topologySchema = record({
  hosts: req(z.array(hostSchema, because(() => "needs at least one host: a list of { name, vmid, node, address, roles }")).min(1, because(() => "needs at least one host: a list of { name, vmid, node, address, roles }")), "the machines: each runs a leaf server, a hub member, or both"),
  hub: opt(hubSchema, "the hub cluster"),
  leaf: opt(leafSchema, "every leaf server"),
  dataDir: opt(name, "where servers keep their stores", { default: DEFAULT_DATA_DIR }),
  lameDuck: opt(lameDuckSchema, "how servers stop: clients move to other servers first"),
  monitoring: opt(monitoringSchema, "where every server's HTTP monitoring listens"),
}, "{ hosts, hub, leaf, dataDir, lameDuck, monitoring }");

