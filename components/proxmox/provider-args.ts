/**
 * ProxmoxSpec → the `proxmoxve.Provider` inputs, as plain data. Pure. The edge (nats-container.ts)
 * wraps `apiToken` and `ssh.privateKey` in `pulumi.secret` before the provider sees them: the
 * provider JSON-encodes `ssh` into one input, and only a secret input stays encrypted in state.
 */
import { ProxmoxSpec } from "./config";

export type ProviderArgs = {
  endpoint: string;
  /** Secret. */
  apiToken: string;
  insecure: boolean;
  ssh: {
    username: string;
    agent: boolean;
    /** Secret; absent when the agent is used. */
    privateKey?: string;
    nodes?: { name: string; address: string; port?: number }[];
  };
};

export function providerArgs(spec: ProxmoxSpec): ProviderArgs {
  return {
    endpoint: spec.endpoint,
    apiToken: spec.apiToken,
    insecure: spec.insecure,
    ssh: {
      username: spec.ssh.username,
      agent: spec.ssh.agent,
      ...(spec.ssh.privateKey !== undefined ? { privateKey: spec.ssh.privateKey } : {}),
      // The provider's own node connections take name, address and port only.
      ...(spec.ssh.nodes.length > 0 ? { nodes: spec.ssh.nodes.map(({ name, address, port }) => ({ name, address, ...(port !== undefined ? { port } : {}) })) } : {}),
    },
  };
}
