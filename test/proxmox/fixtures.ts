/** The prod stack's topology and Proxmox settings as the tests use them, with throwaway secrets. */
import { parseProxmox } from "../../components/proxmox/parse";
import { ProxmoxSecrets, ProxmoxSpec } from "../../components/proxmox/config";
import { parseTopology } from "../../components/topology/parse";
import { Topology } from "../../components/topology/types";
import { readStackConfig } from "../support/stack-config";
import { generateOpenSshKey, TestSshKey } from "./ssh-key";

export const TEST_API_TOKEN = "pulumi@pve!deploy=3f1c2a9e-6b7d-4e21-9a0b-5c8d7e6f1a2b";

export type ProdFixture = {
  readonly topology: Topology;
  readonly rawProxmox: Record<string, unknown>;
  readonly key: TestSshKey;
  readonly secrets: ProxmoxSecrets;
  readonly spec: ProxmoxSpec;
};

/** Deep copy of plain YAML data, for tests that change it. */
export function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/**
 * The prod stack with its deploy key in the stack config (`cim-nats:sshPrivateKey`, ssh.agent
 * off, the key's public half derived): what most resource tests look at, since the key then shows
 * in every connection. Pulumi.prod.yaml itself logs in through the agent: `prodAgentFixture`.
 */
export function prodFixture(): ProdFixture {
  const config = readStackConfig("prod");
  const topology = parseTopology(config.topology, { name: "prod" });
  const rawProxmox = clone(config.proxmox) as Record<string, any>;
  rawProxmox.ssh = { ...rawProxmox.ssh, agent: false };
  delete rawProxmox.ssh.authorizedKeys;
  const key = generateOpenSshKey("deploy@cim-nats");
  const secrets = { apiToken: TEST_API_TOKEN, sshPrivateKey: key.privateKey };
  return { topology, rawProxmox, key, secrets, spec: parseProxmox(rawProxmox, topology, secrets) };
}

/** The prod stack as Pulumi.prod.yaml configures it: the SSH agent, no key in the config. */
export function prodAgentFixture(): Omit<ProdFixture, "key"> {
  const config = readStackConfig("prod");
  const topology = parseTopology(config.topology, { name: "prod" });
  const rawProxmox = clone(config.proxmox) as Record<string, unknown>;
  const secrets = { apiToken: TEST_API_TOKEN };
  return { topology, rawProxmox, secrets, spec: parseProxmox(rawProxmox, topology, secrets) };
}
