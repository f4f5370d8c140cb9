/**
 * Pulumi edge of container-host-key.ts: per host a `command.remote.Command` on the container's
 * Proxmox node (connection pinned to the node's configured host key) that prints the container's
 * SSH host key, and that key checked and ready to pin (`<type> <base64>`). The read runs when the
 * container is created or replaced (`triggers`: its id), never on a routine `up`.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { Topology } from "../topology/types";
import type { ProxmoxSpec } from "./config";
import { pinnedHostKey, readHostKeyScript } from "./container-host-key";
import type { NatsContainer } from "./nats-container";

/** Host name → its container's pinned host key. */
export function readContainerHostKeys(
  parent: pulumi.Resource,
  name: string,
  topology: Topology,
  spec: ProxmoxSpec,
  containers: Readonly<Record<string, NatsContainer>>,
): Record<string, pulumi.Output<string>> {
  const keys: Record<string, pulumi.Output<string>> = {};
  for (const host of topology.hosts) {
    // parseProxmox has checked that every node hosting a container has one (verifyHostKeys).
    const node = spec.ssh.nodes.find((n) => n.name === host.node && n.hostKey !== undefined)!;
    const container = containers[host.name];
    const read = new command.remote.Command(
      `${name}-${host.name}-hostkey`,
      {
        connection: {
          host: node.address,
          port: node.port ?? 22,
          user: spec.ssh.username,
          ...(spec.ssh.privateKey !== undefined ? { privateKey: pulumi.secret(spec.ssh.privateKey) } : {}),
          hostKey: node.hostKey,
          dialErrorLimit: 10,
          perDialTimeout: 15,
        },
        create: readHostKeyScript(host.vmid),
        // A new container has a new key: read it again (a replaced command runs `create`).
        triggers: [container.container.id],
        addPreviousOutputInEnv: false,
      },
      { parent, dependsOn: [container] },
    );
    keys[host.name] = read.stdout.apply((printed) => pinnedHostKey(host.name, printed));
  }
  return keys;
}
