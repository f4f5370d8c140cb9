/**
 * Whether a host's servers fit the host: the JetStream `max_file` of its instances against its
 * data volume, their `max_mem` against its memory. A store that outgrows its volume fails writes
 * for every stream on the host (and the hub member's R3 peers lose a replica) long after the
 * config was accepted, so the check runs at preview, on the declared figures. Pure.
 */
import type { ConfigIssue } from "../config/errors";
import { serverLimitBytes } from "../config/units";
import type { Host, ServerInstance } from "./types";

/**
 * Share of a data volume the stores cannot use. Proxmox formats an LXC mount point with
 * mkfs.ext4 defaults: 5% of the blocks are reserved for root (nats-server runs as the
 * unprivileged cim-nats user, so it cannot use them), and inode tables (one 256-byte inode per
 * 16 KiB: 1.6%), the journal (at most 1 GiB) and group descriptors take about 2% more.
 */
export const DATA_VOLUME_RESERVE_PERCENT = 7;
/**
 * Memory one nats-server needs besides its JetStream memory store: Go runtime and GC headroom,
 * connection buffers, file store block caches. bench/sync-cost.ts prints a leaf's RSS after its
 * publish runs (docs/durability.md, "Cost"); this leaves room above that.
 */
export const SERVER_PROCESS_MIB = 384;
/** The container's own processes (systemd, journald, sshd, the deploy's nixos-rebuild). */
export const CONTAINER_BASE_MIB = 256;

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;

const gib = (bytes: number) => `${+(bytes / GIB).toFixed(1)} GiB`;
const mib = (bytes: number) => `${Math.round(bytes / MIB)} MiB`;

function bytesOf(size: string): number {
  const b = serverLimitBytes(size);
  return typeof b === "number" ? b : 0; // a bad size is reported by the parser already
}

/** `leaf 10G + hub 48G`: each instance's limit as written. */
function breakdown(instances: readonly ServerInstance[], key: "maxFile" | "maxMemory"): string {
  return instances.map((i) => `${i.kind} ${i.jetstream[key]}`).join(" + ");
}

/** The instance with the largest limit: the one to lower first. */
function largest(instances: readonly ServerInstance[], key: "maxFile" | "maxMemory"): ServerInstance {
  return instances.reduce((a, b) => (bytesOf(b.jetstream[key]) > bytesOf(a.jetstream[key]) ? b : a));
}

/** Problems of one host (at `path`, e.g. `topology.hosts[3]`): stores that do not fit its volume or memory. */
export function hostCapacityIssues(host: Host, path: string): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const instances = host.instances;
  if (instances.length === 0) return issues;

  const files = instances.reduce((n, i) => n + bytesOf(i.jetstream.maxFile), 0);
  const usableDisk = (host.resources.dataDiskGiB * GIB * (100 - DATA_VOLUME_RESERVE_PERCENT)) / 100;
  if (files > usableDisk) {
    const big = largest(instances, "maxFile");
    const room = Math.floor((usableDisk - (files - bytesOf(big.jetstream.maxFile))) / GIB);
    const lower = room > 0 ? `lower ${path}.jetstream.${big.kind}.maxFile to ${room}G or less, or ` : "";
    issues.push({
      propertyPath: `${path}.resources.dataDiskGiB`,
      reason:
        `host '${host.name}': its servers' max_file adds up to ${gib(files)} (${breakdown(instances, "maxFile")}), but its ${host.resources.dataDiskGiB} GiB data volume ` +
        `holds ${gib(usableDisk)} for stores after the ${DATA_VOLUME_RESERVE_PERCENT}% ext4 reserve (5% root-reserved blocks, ~2% inode tables and journal): ` +
        `${lower}raise ${path}.resources.dataDiskGiB to ${Math.ceil((files * 100) / GIB / (100 - DATA_VOLUME_RESERVE_PERCENT))} or more`,
    });
  }

  const mems = instances.reduce((n, i) => n + bytesOf(i.jetstream.maxMemory), 0);
  const overhead = (CONTAINER_BASE_MIB + SERVER_PROCESS_MIB * instances.length) * MIB;
  const usableMem = host.resources.memoryMiB * MIB - overhead;
  if (mems > usableMem) {
    const big = largest(instances, "maxMemory");
    const room = Math.floor((usableMem - (mems - bytesOf(big.jetstream.maxMemory))) / MIB);
    const lower = room > 0 ? `lower ${path}.jetstream.${big.kind}.maxMemory to ${room}M or less, or ` : "";
    issues.push({
      propertyPath: `${path}.resources.memoryMiB`,
      reason:
        `host '${host.name}': its servers' max_mem adds up to ${mib(mems)} (${breakdown(instances, "maxMemory")}), but ${host.resources.memoryMiB} MiB of memory ` +
        `leaves ${mib(Math.max(0, usableMem))} after ${SERVER_PROCESS_MIB} MiB per nats-server process and ${CONTAINER_BASE_MIB} MiB for the container: ` +
        `${lower}raise ${path}.resources.memoryMiB to ${Math.ceil((mems + overhead) / MIB)} or more`,
    });
  }
  return issues;
}
