/**
 * Reads the Proxmox part of the stack config at the edge: the `cim-nats:proxmox` object and the
 * two secret values, as plain data for `parseProxmox`. `Config.get` returns a secret's plaintext
 * without marking it; the values stay in memory and are wrapped in `pulumi.secret` before any
 * resource sees them (inventory.ts, deploy connection).
 */
import * as pulumi from "@pulumi/pulumi";
import { ProxmoxSecrets } from "./config";

export function readProxmoxConfig(config: pulumi.Config = new pulumi.Config("cim-nats")): {
  readonly raw: unknown;
  readonly secrets: ProxmoxSecrets;
} {
  const apiToken = config.get("proxmoxApiToken");
  const sshPrivateKey = config.get("sshPrivateKey");
  return {
    raw: config.getObject<unknown>("proxmox"),
    secrets: { ...(apiToken !== undefined ? { apiToken } : {}), ...(sshPrivateKey !== undefined ? { sshPrivateKey } : {}) },
  };
}
