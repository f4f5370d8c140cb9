/**
 * Host → the exact inputs of its `proxmoxve.ContainerLegacy` (@muhlba91/pulumi-proxmoxve 8.6.0),
 * as plain data. Pure: the component hands this object to the resource unchanged (except the
 * template id, which becomes the download resource's output when the stack downloads it).
 * Field names are the provider's; docs/prod.md explains the choice of ContainerLegacy.
 */
import { Host } from "../topology/types";
import { ProxmoxSpec, TemplateSource } from "./config";

/** The subset of ContainerLegacyArgs cim-nats sets, with concrete values. */
export type ContainerArgs = {
  nodeName: string;
  vmId: number;
  description: string;
  /** Lower-case, sorted and unique: Proxmox normalizes tags that way and would otherwise show a diff forever. */
  tags: string[];
  /** Container root is mapped to an unprivileged host uid. */
  unprivileged: boolean;
  /** `nesting`: NixOS's systemd needs it for its own namespaces (units fail to start without it). */
  features: { nesting: boolean };
  operatingSystem: { templateFileId: string; type: "nixos" };
  cpu: { cores: number };
  memory: { dedicated: number; swap: number };
  /** Root disk size in GiB on the stack's datastore. */
  disk: { datastoreId: string; size: number };
  /** The JetStream data volume; `backup` so vzdump covers leaf R1 streams (their only copy). */
  mountPoints: { volume: string; size: string; path: string; backup: boolean }[];
  networkInterfaces: { name: string; bridge: string }[];
  initialization: {
    hostname: string;
    ipConfigs: { ipv4: { address: string; gateway: string } }[];
    dns?: { servers: string[] };
    userAccount: { keys: string[] };
  };
  startOnBoot: boolean;
  started: boolean;
  /** Proxmox's protection flag: the API refuses to remove the container or its disks. */
  protection: boolean;
};

/**
 * Container inputs the Proxmox provider can only change by re-creating the container: `ForceNew`
 * in bpg/terraform-provider-proxmox v0.111.1 proxmoxtf/resource/container/container.go (the schema
 * pulumi-proxmoxve 8.6.0 bridges), as Pulumi spells them. Read by the policy pack's replacement rule
 * and the routine-edits test; CONTAINER_IGNORE_CHANGES below keeps routine edits off them.
 */
export const CONTAINER_FORCE_NEW = [
  "clone",
  "disk.datastoreId",
  "initialization.userAccount",
  "mountPoints",
  "nodeName",
  "operatingSystem",
  "poolId",
  "template",
  "unprivileged",
  "vmId",
] as const;

/**
 * Input paths of the container that the Proxmox provider can only change by replacing the
 * container (force-new in its schema) and that change in routine operation. Pulumi ignores
 * changes to them once the container exists, so a key rotation or a template bump never destroys
 * a container (and the only copy of a leaf's R1 streams on its data volume):
 * - the deploy key is installed at creation only; afterwards the NixOS config
 *   (`/etc/nixos/cim-nats/access.nix`, deploy/nixos-files.ts) owns root's authorized keys;
 * - a new template applies to containers created from then on; existing ones upgrade through
 *   their NixOS configuration, not by re-imaging.
 */
export const CONTAINER_IGNORE_CHANGES = ["initialization.userAccount.keys", "operatingSystem.templateFileId"] as const;

/**
 * The container's ignoreChanges. An adopted container (made before the stack, `proxmox.adopt`)
 * also ignores every replace-only input: what `pulumi import` read from Proxmox (a privileged
 * container, the data volume's id and size, another template) stays as it is instead of planning
 * a replacement that would destroy the only copy of a leaf's streams.
 */
export function containerIgnoreChanges(adopted: boolean): string[] {
  return adopted ? [...new Set([...CONTAINER_IGNORE_CHANGES, ...CONTAINER_FORCE_NEW])] : [...CONTAINER_IGNORE_CHANGES];
}

/** The `proxmoxve.download.File` inputs for a downloaded template (content type `vztmpl`). */
export type TemplateDownloadArgs = {
  nodeName: string;
  contentType: "vztmpl";
  datastoreId: string;
  url: string;
  fileName: string;
  checksum?: string;
  checksumAlgorithm?: string;
  /** Keep a template that containers were created from, even if the upstream file changes size. */
  overwrite: boolean;
};

/** The file id a container's `operatingSystem.templateFileId` refers to. */
export function templateFileId(source: TemplateSource): string {
  return source.kind === "file" ? source.fileId : `${source.datastore}:vztmpl/${source.fileName}`;
}

/** Download inputs for a node's template, or undefined when the template is an existing file. */
export function templateDownloadArgs(node: string, source: TemplateSource): TemplateDownloadArgs | undefined {
  if (source.kind === "file") return undefined;
  return {
    nodeName: node,
    contentType: "vztmpl",
    datastoreId: source.datastore,
    url: source.url,
    fileName: source.fileName,
    ...(source.checksum !== undefined ? { checksum: source.checksum } : {}),
    ...(source.checksumAlgorithm !== undefined ? { checksumAlgorithm: source.checksumAlgorithm } : {}),
    overwrite: false,
  };
}

/** Proxmox tags of a host's container: project, stack, roles and the host's own tags. */
export function containerTags(host: Host, stack: string): string[] {
  const all = ["cim-nats", stack, ...host.roles, ...host.tags].map((t) => t.toLowerCase());
  return [...new Set(all)].sort();
}

/** The exact container inputs for one host. `stack` is the topology name (prod). */
export function containerArgs(host: Host, stack: string, spec: ProxmoxSpec): ContainerArgs {
  const net = spec.networks[host.network];
  const template = spec.templates[host.node];
  if (!net || !template) {
    // parseProxmox rejects both; reaching here means the spec was not built by it.
    throw new Error(`host '${host.name}': no ${net ? `template for node '${host.node}'` : `network '${host.network}'`} in the Proxmox spec; build it with parseProxmox`);
  }
  return {
    nodeName: host.node,
    vmId: host.vmid,
    description: `cim-nats ${stack}: ${host.instances.map((i) => i.serverName).join(", ")} (managed by Pulumi)`,
    tags: containerTags(host, stack),
    unprivileged: true,
    features: { nesting: true },
    operatingSystem: { templateFileId: templateFileId(template), type: "nixos" },
    cpu: { cores: host.resources.cores },
    memory: { dedicated: host.resources.memoryMiB, swap: host.resources.swapMiB },
    disk: { datastoreId: spec.datastore, size: host.resources.rootDiskGiB },
    mountPoints: [{ volume: spec.datastore, size: `${host.resources.dataDiskGiB}G`, path: spec.dataMountPath, backup: true }],
    networkInterfaces: [{ name: "eth0", bridge: net.bridge }],
    initialization: {
      hostname: host.name,
      ipConfigs: [{ ipv4: { address: `${host.address}/${net.prefixLength}`, gateway: net.gateway } }],
      ...(net.dns.length > 0 ? { dns: { servers: [...net.dns] } } : {}),
      userAccount: { keys: [...spec.ssh.authorizedKeys] },
    },
    startOnBoot: true,
    started: true,
    protection: spec.protect,
  };
}
