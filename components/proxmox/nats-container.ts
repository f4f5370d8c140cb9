/**
 * One NixOS LXC container for one host of the topology. Thin edge: the inputs are
 * `containerArgs(...)` (container-args.ts) unchanged, except the template id when the stack
 * downloads the template. The Proxmox provider comes from the parent (ProxmoxInventory) or
 * from `opts.provider`/`opts.providers`.
 */
import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import { Host } from "../topology/types";
import { ProxmoxSpec } from "./config";
import { containerArgs, containerIgnoreChanges } from "./container-args";

export interface NatsContainerArgs {
  /** The host this container runs, from the validated topology. */
  readonly host: Host;
  /** Validated Proxmox settings (`parseProxmox`). */
  readonly spec: ProxmoxSpec;
  /** Stack name used in tags and the description. Default: `pulumi.getStack()`. */
  readonly stack?: string;
  /**
   * Template file id. Default: the spec's template for the host's node. Pass the download
   * resource's `id` so the container is created only once its template exists.
   */
  readonly templateFileId?: pulumi.Input<string>;
}

export class NatsContainer extends pulumi.ComponentResource {
  /** The LXC container (`${name}-container`). */
  public readonly container!: proxmoxve.ContainerLegacy;
  /** Proxmox VM id. */
  public readonly vmId!: pulumi.Output<number>;
  /** Proxmox node the container runs on. */
  public readonly nodeName!: pulumi.Output<string>;
  /** The host's static IPv4 address (what the deploy connects to). */
  public readonly address!: pulumi.Output<string>;

  constructor(name: string, args: NatsContainerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cim-nats:proxmox:NatsContainer", name, {}, opts);
    const result = createNatsContainer(this, name, args);
    this.container = result.container;
    this.vmId = result.vmId;
    this.nodeName = result.nodeName;
    this.address = result.address;
    this.registerOutputs({ vmId: this.vmId, nodeName: this.nodeName, address: this.address });
  }
}

function createNatsContainer(parent: NatsContainer, name: string, args: NatsContainerArgs) {
  const plain = containerArgs(args.host, args.stack ?? pulumi.getStack(), args.spec);
  const inputs: proxmoxve.ContainerLegacyArgs = {
    ...plain,
    operatingSystem: { ...plain.operatingSystem, templateFileId: args.templateFileId ?? plain.operatingSystem.templateFileId },
  };
  // protect: a destroy or a removed host fails instead of deleting a container (and its data
  // volume); ignoreChanges: routine edits never force a replacement (CONTAINER_IGNORE_CHANGES),
  // and a container taken over from before the stack is never replaced at all (containerIgnoreChanges).
  const container = new proxmoxve.ContainerLegacy(`${name}-container`, inputs, {
    parent,
    protect: args.spec.protect,
    ignoreChanges: containerIgnoreChanges(args.spec.adopt.includes(args.host.name)),
  });
  return {
    container,
    vmId: pulumi.output(plain.vmId),
    nodeName: pulumi.output(plain.nodeName),
    address: pulumi.output(args.host.address),
  };
}
