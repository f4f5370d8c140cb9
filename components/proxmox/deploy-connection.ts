/** How the deploy logs into the containers, from the Proxmox settings. Pure. */
import type { DeployConnection } from "../deploy/nixos-deployment";
import { ProxmoxSpec } from "./config";

export function deployConnection(spec: ProxmoxSpec): DeployConnection {
  return {
    user: spec.ssh.containerUser,
    port: spec.ssh.containerPort,
    // The deploy makes it secret before it reaches a resource.
    ...(spec.ssh.privateKey !== undefined ? { privateKey: spec.ssh.privateKey } : {}),
  };
}
