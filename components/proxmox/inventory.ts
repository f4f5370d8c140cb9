/**
 * The whole Proxmox side of a stack: one provider built from the spec, the NixOS template on
 * every node that downloads one, and one NatsContainer per host of the topology.
 */
import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import { Topology } from "../topology/types";
import { ProxmoxSpec } from "./config";
import { templateDownloadArgs } from "./container-args";
import { NatsContainer } from "./nats-container";
import { providerArgs } from "./provider-args";

export interface ProxmoxInventoryArgs {
  /** The validated topology: one container per host. */
  readonly topology: Topology;
  /** Validated Proxmox settings (`parseProxmox(raw, topology, secrets)`). */
  readonly spec: ProxmoxSpec;
}

export class ProxmoxInventory extends pulumi.ComponentResource {
  /** The Proxmox provider every container and template uses (`${name}-provider`). */
  public readonly provider!: proxmoxve.Provider;
  /** Node → downloaded template (`${name}-template-<node>`); empty when every template is an existing file. */
  public readonly templates!: Readonly<Record<string, proxmoxve.download.File>>;
  /** Host name → its container component (named after the host). */
  public readonly containers!: Readonly<Record<string, NatsContainer>>;

  constructor(name: string, args: ProxmoxInventoryArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cim-nats:proxmox:Inventory", name, {}, opts);
    const result = createInventory(this, name, args);
    this.provider = result.provider;
    this.templates = result.templates;
    this.containers = result.containers;
    this.registerOutputs({
      vmIds: Object.fromEntries(Object.entries(result.containers).map(([host, c]) => [host, c.vmId])),
    });
  }
}

function createInventory(parent: ProxmoxInventory, name: string, { topology, spec }: ProxmoxInventoryArgs) {
  const plain = providerArgs(spec);
  // The provider JSON-encodes `ssh` into one input: only a secret private key keeps it encrypted.
  const provider = new proxmoxve.Provider(
    `${name}-provider`,
    {
      endpoint: plain.endpoint,
      apiToken: pulumi.secret(plain.apiToken),
      insecure: plain.insecure,
      ssh: {
        ...plain.ssh,
        ...(plain.ssh.privateKey !== undefined ? { privateKey: pulumi.secret(plain.ssh.privateKey) } : {}),
      },
    },
    { parent },
  );

  const templates: Record<string, proxmoxve.download.File> = {};
  for (const [node, source] of Object.entries(spec.templates)) {
    const download = templateDownloadArgs(node, source);
    if (download) templates[node] = new proxmoxve.download.File(`${name}-template-${node}`, download, { parent, provider });
  }

  const containers: Record<string, NatsContainer> = {};
  for (const host of topology.hosts) {
    containers[host.name] = new NatsContainer(
      host.name,
      { host, spec, stack: topology.name, ...(templates[host.node] ? { templateFileId: templates[host.node].id } : {}) },
      { parent, providers: { proxmoxve: provider } },
    );
  }
  return { provider, templates, containers };
}
