/** How the deploy logs into the containers, from the Proxmox settings. Pure. */
import type { DeployConnection } from "../deploy/nixos-deployment";
import type { DeployAccess } from "../deploy/nixos-files";
import { ProxmoxSpec } from "./config";

export function deployConnection(spec: ProxmoxSpec): DeployConnection {
  return {
    user: spec.ssh.containerUser,
    port: spec.ssh.containerPort,
    // The deploy makes it secret before it reaches a resource.
    ...(spec.ssh.privateKey !== undefined ? { privateKey: spec.ssh.privateKey } : {}),
  };
}

/** Who the deploy logs in as and with which keys, written into each container's NixOS config (access.nix). */
export function deployAccess(spec: ProxmoxSpec): DeployAccess {
  return { user: spec.ssh.containerUser, port: spec.ssh.containerPort, authorizedKeys: [...spec.ssh.authorizedKeys] };
}
