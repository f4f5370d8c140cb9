/**
 * Stack config (`cim-nats:proxmox` + the secrets `cim-nats:proxmoxApiToken`,
 * `cim-nats:sshPrivateKey`) → validated ProxmoxSpec, checked against the topology: every host's
 * node, network, address, vmid and template. Pure. Every problem is collected and thrown as one
 * ConfigError before any resource is declared. Errors never echo a secret value.
 */
import { deepFreeze } from "../topology/freeze";
import { ConfigError, type ConfigIssue } from "../config/errors";
import { DEFAULT_INSECURE, DEFAULT_PROTECT, DEFAULT_SSH, proxmoxSchema } from "./schema";
import { checkSection, type Loose } from "../config/validate";
import { Topology } from "../topology/types";
import { DEFAULT_DATA_MOUNT_PATH, DEFAULT_TEMPLATE_DATASTORE, ProxmoxNetwork, ProxmoxSecrets, ProxmoxSpec, ProxmoxSsh, ProxmoxSshNode, TemplateSource } from "./config";
import { inSubnet, ipv4ToNumber, isSubnetEdge, parseCidr } from "./ipv4";
import { nixosSpec } from "./parse-nixos";
import { openSshPublicKey } from "./ssh-public-key";
import { type At, type Raw, isObject } from "../config/fields";
import type { z } from "zod";

const ROOT = "proxmox";
type Section = Loose<z.output<typeof proxmoxSchema>>;
/** Keys that would put a secret in plaintext YAML, and the secret config value to use instead. */
const PLAINTEXT_SECRETS: Readonly<Record<string, string>> = {
  apiToken: "cim-nats:proxmoxApiToken",
  password: "cim-nats:proxmoxApiToken",
  privateKey: "cim-nats:sshPrivateKey",
};
/** `USER@REALM!TOKENID=SECRET`, the only form the provider's `apiToken` accepts. */
const API_TOKEN = /^[^@\s]+@[^!\s]+![^=\s]+=\S+$/;
const defined = <T>(list: readonly (T | undefined)[] | undefined): T[] => (list ?? []).filter((x): x is T => x !== undefined);

/**
 * Parses and validates the Proxmox settings against the topology; throws ConfigError listing every
 * problem. Field shapes and defaults are the schema's (schema.ts); here: secrets, defaults from
 * other fields, and the rules across fields and against the topology.
 */
export function parseProxmox(raw: unknown, topology: Topology, secrets: ProxmoxSecrets): ProxmoxSpec {
  const issues: ConfigIssue[] = [];
  const at: At = (propertyPath, reason) => issues.push({ propertyPath, reason });

  if (!isObject(raw)) {
    throw new ConfigError([
      { propertyPath: ROOT, reason: "missing: set `cim-nats:proxmox` (endpoint, nodes, templates, datastore, networks) in Pulumi.<stack>.yaml; see Pulumi.prod.yaml" },
    ]);
  }
  plaintextSecrets(raw, ROOT, at);
  if (isObject(raw.ssh)) plaintextSecrets(raw.ssh, `${ROOT}.ssh`, at);
  const checked = checkSection(proxmoxSchema, raw, ROOT);
  // A plaintext secret is reported above with its own fix, not as an unknown field.
  issues.push(...checked.issues.filter((i) => !Object.keys(PLAINTEXT_SECRETS).some((k) => i.propertyPath === `${ROOT}.${k}` || i.propertyPath === `${ROOT}.ssh.${k}`)));
  const p: Section = checked.value;

  const apiToken = parseApiToken(secrets.apiToken, at);
  const nodes = defined(p.nodes);
  const templates = parseTemplates(p.templates, nodes, at);
  const networks = parseNetworks(p.networks, at);
  const ssh = parseSsh(p.ssh, secrets.sshPrivateKey, at);
  const dataMountPath = p.dataMountPath ?? DEFAULT_DATA_MOUNT_PATH;
  if (ssh.verifyHostKeys) checkNodeHostKeys(topology, nodes, ssh.nodes, at);

  checkHosts(topology, { nodes, templates, networks, dataMountPath }, at);
  const adopt = defined(p.adopt);
  adopt.forEach((host, i) => {
    if (!topology.hosts.some((h) => h.name === host)) {
      at(`${ROOT}.adopt[${i}]`, `'${host}' is not a host of the topology: list the hosts whose containers existed before the stack (${topology.hosts.map((h) => h.name).join(", ")})`);
    }
  });

  if (issues.length > 0) throw new ConfigError(issues);
  return deepFreeze({
    endpoint: p.endpoint ?? "",
    apiToken,
    insecure: p.insecure ?? DEFAULT_INSECURE,
    nodes,
    templates,
    datastore: p.datastore ?? "",
    networks,
    ssh,
    dataMountPath,
    protect: p.protect ?? DEFAULT_PROTECT,
    adopt,
    nixos: nixosSpec(p.nixos),
  });
}

function parseApiToken(v: string | undefined, at: At): string {
  const fix = "set it with `pulumi config set --secret cim-nats:proxmoxApiToken 'USER@REALM!TOKENID=SECRET'`";
  if (v === undefined || v === "") {
    at("proxmoxApiToken", `missing: the Proxmox API token; ${fix}`);
    return "";
  }
  // The value is a secret: describe its shape, never echo it.
  if (!API_TOKEN.test(v)) at("proxmoxApiToken", `is not of the form USER@REALM!TOKENID=SECRET (e.g. pulumi@pve!deploy=<uuid>); ${fix}`);
  return v;
}

/** Templates by node: keys must be declared nodes; a download's file name defaults from its URL. */
function parseTemplates(v: Section["templates"], nodes: readonly string[], at: At): Readonly<Record<string, TemplateSource>> {
  const out: Record<string, TemplateSource> = {};
  for (const [node, t] of Object.entries(v ?? {})) {
    const p = `${ROOT}.templates.${node}`;
    if (nodes.length > 0 && !nodes.includes(node)) {
      at(p, `template for unknown node '${node}': proxmox.nodes lists ${nodes.join(", ")}; fix the key or add the node`);
      continue;
    }
    if (t === undefined) continue;
    if (typeof t === "string") {
      out[node] = { kind: "file", fileId: t };
      continue;
    }
    const url = t.url ?? "";
    const fileName = t.fileName ?? url.split("?")[0].split("/").pop() ?? "";
    if (url && !fileName) at(`${p}.fileName`, `cannot be derived from url '${url}': set fileName, e.g. nixos-25.11-x86_64-linux.tar.xz`);
    if ((t.checksum === undefined) !== (t.checksumAlgorithm === undefined)) {
      at(p, "checksum and checksumAlgorithm go together: set both (e.g. sha256 and its hex digest) or neither");
    }
    out[node] = {
      kind: "download",
      url,
      fileName,
      datastore: t.datastore ?? DEFAULT_TEMPLATE_DATASTORE,
      ...(t.checksum !== undefined ? { checksum: t.checksum } : {}),
      ...(t.checksumAlgorithm !== undefined ? { checksumAlgorithm: t.checksumAlgorithm } : {}),
    };
  }
  return out;
}

/** Networks by name; the gateway must sit in the subnet. */
function parseNetworks(v: Section["networks"], at: At): Readonly<Record<string, ProxmoxNetwork>> {
  const out: Record<string, ProxmoxNetwork> = {};
  for (const [name, n] of Object.entries(v ?? {})) {
    if (!n) continue;
    const cidr = n.cidr ?? "";
    const subnet = cidr ? parseCidr(cidr).subnet : undefined;
    const gateway = n.gateway ?? "";
    const gw = gateway ? ipv4ToNumber(gateway) : undefined;
    if (gw !== undefined && subnet && !inSubnet(gw, subnet)) at(`${ROOT}.networks.${name}.gateway`, `gateway ${gateway} is outside ${cidr}: containers could not reach it`);
    out[name] = { name, cidr, prefixLength: subnet?.prefixLength ?? NaN, gateway, bridge: n.bridge ?? "", dns: defined(n.dns) };
  }
  return out;
}

/** SSH: the private key secret (or the agent), and the deploy key's public half among the authorized keys. */
function parseSsh(ssh: Section["ssh"], privateKey: string | undefined, at: At): ProxmoxSsh {
  const path = `${ROOT}.ssh`;
  const agent = ssh?.agent ?? DEFAULT_SSH.agent;
  const configured = defined(ssh?.authorizedKeys);
  const hasKey = privateKey !== undefined && privateKey !== "";
  if (!hasKey && !agent) {
    at("sshPrivateKey", "missing: the key the deploy and the provider log in with; set it with `pulumi config set --secret cim-nats:sshPrivateKey < ~/.ssh/id_ed25519` (or set proxmox.ssh.agent: true)");
  }
  // One way to log in: with the agent, no key belongs in the config (or, through it, in the state).
  if (hasKey && agent) {
    at("sshPrivateKey", "is set, but proxmox.ssh.agent is true: the deploy and the provider log in through the SSH agent (SSH_AUTH_SOCK); remove the secret (`pulumi config rm cim-nats:sshPrivateKey`) or set proxmox.ssh.agent: false");
  }
  const derived = hasKey ? openSshPublicKey(privateKey) : undefined;
  if (hasKey && !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(privateKey)) {
    at("sshPrivateKey", "is not a private key (no '-----BEGIN ... PRIVATE KEY-----' line): store the key file's whole content, unencrypted");
  }
  const known = configured.map((k) => k.split(" ").slice(0, 2).join(" "));
  const authorizedKeys = derived && !known.includes(derived) ? [...configured, derived] : configured;
  if (authorizedKeys.length === 0 && (hasKey || agent)) {
    at(`${path}.authorizedKeys`, "is required: the deploy logs into containers with a key installed here, and cim-nats:sshPrivateKey is not in OpenSSH format (its public half cannot be derived); add the .pub line");
  }
  const nodes: ProxmoxSshNode[] = defined(ssh?.nodes).map((n) => ({
    name: n.name ?? "",
    address: n.address ?? "",
    ...(n.port !== undefined ? { port: n.port } : {}),
    ...(n.hostKey ? { hostKey: n.hostKey.split(" ").slice(0, 2).join(" ") } : {}),
  }));
  return {
    username: ssh?.username ?? DEFAULT_SSH.username,
    agent,
    ...(hasKey ? { privateKey } : {}),
    authorizedKeys,
    containerUser: ssh?.containerUser ?? DEFAULT_SSH.containerUser,
    containerPort: ssh?.containerPort ?? DEFAULT_SSH.containerPort,
    nodes,
    verifyHostKeys: ssh?.verifyHostKeys ?? DEFAULT_SSH.verifyHostKeys,
  };
}

/** Cross-checks every host of the topology against the Proxmox settings. */
function checkHosts(
  topology: Topology,
  spec: Pick<ProxmoxSpec, "nodes" | "templates" | "networks" | "dataMountPath">,
  at: At,
): void {
  const firstVmid = new Map<number, number>();
  const missingTemplate = new Map<string, string[]>();
  topology.hosts.forEach((h, i) => {
    const path = `topology.hosts[${i}]`;
    if (spec.nodes.length > 0 && !spec.nodes.includes(h.node)) {
      at(`${path}.node`, `host '${h.name}' is on Proxmox node '${h.node}', which is not in proxmox.nodes (${spec.nodes.join(", ")}): fix the host's node or add the node`);
    } else if (!spec.templates[h.node]) {
      missingTemplate.set(h.node, [...(missingTemplate.get(h.node) ?? []), h.name]);
    }
    // Same rule and wording as parseTopology, for topologies that did not come through it.
    const j = firstVmid.get(h.vmid);
    if (j === undefined) firstVmid.set(h.vmid, i);
    else at(`${path}.vmid`, `duplicate vmid ${h.vmid} (also topology.hosts[${j}] '${topology.hosts[j].name}'): each container needs its own Proxmox VM id: pick an unused one`);

    const net = spec.networks[h.network];
    const names = Object.keys(spec.networks);
    if (!net) {
      if (names.length > 0) at(`${path}.network`, `host '${h.name}' is on network '${h.network}', which is not in proxmox.networks (${names.join(", ")}): fix the host's network or declare it`);
    } else {
      addressInNetwork(h.name, h.address, net, `${path}.address`, at);
    }
    for (const inst of h.instances) {
      if (!isUnder(inst.storeDir, spec.dataMountPath)) {
        at(`${ROOT}.dataMountPath`, `JetStream store '${inst.storeDir}' of server '${inst.serverName}' is not under the data volume ${spec.dataMountPath}: it would fill the root disk; set topology.dataDir under ${spec.dataMountPath} or move dataMountPath`);
      }
    }
  });
  for (const [node, hosts] of missingTemplate) {
    at(`${ROOT}.templates.${node}`, `no template for node '${node}', which hosts ${hosts.join(", ")}: add templates.${node}: local:vztmpl/<nixos template>.tar.xz (local storage is per node)`);
  }
}

function addressInNetwork(host: string, address: string, net: ProxmoxNetwork, path: string, at: At): void {
  const a = ipv4ToNumber(address);
  const { subnet } = parseCidr(net.cidr);
  if (a === undefined || !subnet) return; // reported by the topology or network parser
  if (!inSubnet(a, subnet)) {
    at(path, `${address} of host '${host}' is outside network '${net.name}' (${net.cidr}): pick an address in ${net.cidr} or set the host's network`);
  } else if (isSubnetEdge(a, subnet)) {
    at(path, `${address} of host '${host}' is the ${a === subnet.network ? "network" : "broadcast"} address of ${net.cidr}: pick a host address`);
  } else if (address === net.gateway) {
    at(path, `${address} of host '${host}' is the gateway of network '${net.name}': pick another address`);
  }
}

function plaintextSecrets(v: Raw, path: string, at: At): void {
  for (const [key, configKey] of Object.entries(PLAINTEXT_SECRETS)) {
    if (key in v) {
      at(`${path}.${key}`, `secrets never go in plaintext YAML: remove it and run \`pulumi config set --secret ${configKey} ...\``);
    }
  }
}

function isUnder(dir: string, base: string): boolean {
  const b = base.replace(/\/+$/, "");
  return dir === b || dir.startsWith(`${b}/`);
}

/** With host-key verification, every node hosting a container needs an `ssh.nodes` entry with its host key. */
function checkNodeHostKeys(topology: Topology, known: readonly string[], nodes: readonly ProxmoxSshNode[], at: At): void {
  // An unknown node is reported by checkHosts already.
  const hosting = [...new Set(topology.hosts.map((h) => h.node))].filter((n) => known.includes(n)).sort();
  for (const node of hosting) {
    if (nodes.some((n) => n.name === node && n.hostKey !== undefined)) continue;
    const hosts = topology.hosts.filter((h) => h.node === node).map((h) => h.name);
    at(
      `${ROOT}.ssh.nodes`,
      `node '${node}' runs ${hosts.join(", ")} but has no entry with a hostKey: the deploy reads each container's SSH host key through its node and pins it; add { name: ${node}, address: <its SSH address>, hostKey: "<ssh-keyscan -t ed25519 <address>, checked on the node's console>" } (or set ssh.verifyHostKeys: false to trust the network instead)`,
    );
  }
}
