/**
 * Taking over containers made before the stack (docs/adopt.md): the `pulumi import --file` JSON
 * that records each hand-made container under the resource the program declares for its host
 * (same type, name, parent and provider, id `<node>/<vmid>` as the Proxmox provider reads it),
 * and the `--target`s of the `up` that first creates those parents and the provider (nothing on
 * Proxmox: components and a provider only). Pure: topology in, data out.
 */
import type { Topology } from "../topology/types";

export const CONTAINER_TYPE = "proxmoxve:index/containerLegacy:ContainerLegacy";
const PROJECT = "cim-nats";

/** One entry of `pulumi import --file` (Pulumi's import file format). */
export type ImportResource = {
  readonly type: string;
  readonly name: string;
  readonly id: string;
  /** A key of the nameTable: the component the program declares the container under. */
  readonly parent: string;
  /** A key of the nameTable: the inventory's Proxmox provider. */
  readonly provider: string;
};

export type ImportFile = {
  readonly nameTable: Readonly<Record<string, string>>;
  readonly resources: readonly ImportResource[];
};

/** URNs of the stack's Proxmox parents, as the program declares them (stack/program.ts, proxmox/inventory.ts). */
export function proxmoxUrns(stack: string): { readonly root: string; readonly inventory: string; readonly provider: string; readonly container: (host: string) => string } {
  const root = `urn:pulumi:${stack}::${PROJECT}::cim-nats:index:Backbone`;
  const inventory = `${root}$cim-nats:proxmox:Inventory`;
  return {
    root: `${root}::${stack}`,
    inventory: `${inventory}::${stack}`,
    provider: `${inventory}$pulumi:providers:proxmoxve::${stack}-provider`,
    container: (host) => `${inventory}$cim-nats:proxmox:NatsContainer::${host}`,
  };
}

/** The import file for `hosts` (each must be a host of the topology). */
export function containerImportFile(topology: Topology, hosts: readonly string[]): ImportFile {
  const urns = proxmoxUrns(topology.name);
  const chosen = hosts.map((name) => {
    const host = topology.hosts.find((h) => h.name === name);
    if (!host) throw new Error(`'${name}' is not a host of the topology: use one of ${topology.hosts.map((h) => h.name).join(", ")}`);
    return host;
  });
  return {
    nameTable: { proxmox: urns.provider, ...Object.fromEntries(chosen.map((h) => [h.name, urns.container(h.name)])) },
    resources: chosen.map((h) => ({ type: CONTAINER_TYPE, name: `${h.name}-container`, id: `${h.node}/${h.vmid}`, parent: h.name, provider: "proxmox" })),
  };
}

/**
 * `--target`s of the `up` before the import: the inventory, its provider and each adopted host's
 * NatsContainer component (targeting a component creates it alone: its container child is not
 * targeted, so nothing is created on Proxmox), plus what the deploy's files are rendered from and
 * is made locally — the security keys and JWTs, the TLS CA, certificates and route password, the
 * JetStream removal guard, the deployment component — since the program refuses an up that would
 * leave a file's content unknown (deploy/files.ts).
 */
export function importParentTargets(topology: Topology, hosts: readonly string[]): string[] {
  const urns = proxmoxUrns(topology.name);
  const base = urns.root.slice(0, -`::${topology.name}`.length);
  return [
    urns.root,
    urns.inventory,
    urns.provider,
    ...hosts.map(urns.container),
    `${base}$cim-nats:security:NatsSecurity**`,
    `${base}$pulumi-nodejs:dynamic/jetstream:RemovalGuard::jetstream-removal-guard`,
    `${base}$cim-nats:deploy:NixosDeployment::deploy`,
    `${base}$pulumi-nodejs:dynamic/cim-nats:TlsCa::**`,
    `${base}$pulumi-nodejs:dynamic/cim-nats:ServerCert::**`,
    `${base}$pulumi-nodejs:dynamic/cim-nats:RoutePassword::**`,
  ];
}
