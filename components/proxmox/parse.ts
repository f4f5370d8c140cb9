/**
 * Stack config (`cim-nats:proxmox` + the secrets `cim-nats:proxmoxApiToken`,
 * `cim-nats:sshPrivateKey`) → validated ProxmoxSpec, checked against the topology: every host's
 * node, network, address, vmid and template. Pure. Every problem is collected and thrown as one
 * ConfigError before any resource is declared. Errors never echo a secret value.
 */
import { deepFreeze } from "../topology/freeze";
import { ConfigError, type ConfigIssue } from "../config/errors";
import { fieldsOf, networkSchema, proxmoxSchema, sshNodeSchema, sshSchema, templateDownloadSchema } from "../config/schema";
import { Topology } from "../topology/types";
import {
  CHECKSUM_ALGORITHMS,
  DEFAULT_DATA_MOUNT_PATH,
  DEFAULT_TEMPLATE_DATASTORE,
  ProxmoxNetwork,
  ProxmoxSecrets,
  ProxmoxSpec,
  ProxmoxSsh,
  ProxmoxSshNode,
  TemplateSource,
} from "./config";
import { inSubnet, ipv4ToNumber, isSubnetEdge, parseCidr } from "./ipv4";
import { OPENSSH_PUBLIC_KEY } from "./container-host-key";
import { parseNixos } from "./parse-nixos";
import { openSshPublicKey } from "./ssh-public-key";
import { type At, type Raw, bool, int, isObject, optString, requiredString, stringList, unknownKeys as unknownFields } from "../config/fields";

const ROOT = "proxmox";
// Field lists come from the declared schema (components/config/schema.ts), which the docs and the editor JSON Schema share.
const TOP_KEYS = fieldsOf(proxmoxSchema);
const NETWORK_KEYS = fieldsOf(networkSchema);
const SSH_KEYS = fieldsOf(sshSchema);
const DOWNLOAD_KEYS = fieldsOf(templateDownloadSchema);
/** Keys that would put a secret in plaintext YAML, and the secret config value to use instead. */
const PLAINTEXT_SECRETS: Readonly<Record<string, string>> = {
  apiToken: "cim-nats:proxmoxApiToken",
  password: "cim-nats:proxmoxApiToken",
  privateKey: "cim-nats:sshPrivateKey",
};
/** Unknown fields, but a plaintext secret, which plaintextSecrets reports with its fix. */
const unknownKeys = (v: Raw, allowed: readonly string[], path: string, at: At) => unknownFields(v, allowed, path, at, Object.keys(PLAINTEXT_SECRETS));
/** `USER@REALM!TOKENID=SECRET`, the only form the provider's `apiToken` accepts. */
const API_TOKEN = /^[^@\s]+@[^!\s]+![^=\s]+=\S+$/;
const FILE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*:vztmpl\/\S+$/;
const NODE_NAME = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** Parses and validates the Proxmox settings against the topology; throws ConfigError listing every problem. */
export function parseProxmox(raw: unknown, topology: Topology, secrets: ProxmoxSecrets): ProxmoxSpec {
  const issues: ConfigIssue[] = [];
  const at: At = (propertyPath, reason) => issues.push({ propertyPath, reason });

  if (!isObject(raw)) {
    throw new ConfigError([
      { propertyPath: ROOT, reason: "missing: set `cim-nats:proxmox` (endpoint, nodes, templates, datastore, networks) in Pulumi.<stack>.yaml; see Pulumi.prod.yaml" },
    ]);
  }
  plaintextSecrets(raw, ROOT, at);
  unknownKeys(raw, TOP_KEYS, ROOT, at);

  const endpoint = parseEndpoint(raw.endpoint, at);
  const apiToken = parseApiToken(secrets.apiToken, at);
  const insecure = bool(raw.insecure, `${ROOT}.insecure`, false, at);
  const nodes = parseNodes(raw.nodes, at);
  const templates = parseTemplates(raw.templates, nodes, at);
  const datastore = requiredString(raw.datastore, `${ROOT}.datastore`, "the storage for root disks and data volumes, e.g. local-lvm", at);
  const networks = parseNetworks(raw.networks, at);
  const ssh = parseSsh(raw.ssh, secrets.sshPrivateKey, at);
  const dataMountPath = absolutePath(raw.dataMountPath, `${ROOT}.dataMountPath`, DEFAULT_DATA_MOUNT_PATH, at);
  const protect = bool(raw.protect, `${ROOT}.protect`, true, at);
  const nixos = parseNixos(raw.nixos, `${ROOT}.nixos`, at);
  if (ssh.verifyHostKeys) checkNodeHostKeys(topology, nodes, ssh.nodes, at);

  checkHosts(topology, { nodes, templates, networks, dataMountPath }, at);

  if (issues.length > 0) throw new ConfigError(issues);
  return deepFreeze({ endpoint, apiToken, insecure, nodes, templates, datastore, networks, ssh, dataMountPath, protect, nixos });
}

function parseEndpoint(v: unknown, at: At): string {
  const path = `${ROOT}.endpoint`;
  const s = requiredString(v, path, "the Proxmox API URL, e.g. https://10.0.0.11:8006/", at);
  if (!s) return s;
  let url: URL | undefined;
  try {
    url = new URL(s);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "https:" && url.protocol !== "http:") || !url.hostname) {
    at(path, `'${s}' is not an http(s) URL: write the API address, e.g. https://10.0.0.11:8006/`);
  }
  return s;
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

function parseNodes(v: unknown, at: At): readonly string[] {
  const path = `${ROOT}.nodes`;
  if (!Array.isArray(v) || v.length === 0) {
    at(path, `is required: the Proxmox node names, e.g. [pve1, pve2, pve3]; got ${JSON.stringify(v)}`);
    return [];
  }
  const out: string[] = [];
  v.forEach((n: unknown, i: number) => {
    if (typeof n !== "string" || !NODE_NAME.test(n)) at(`${path}[${i}]`, `${JSON.stringify(n)} is not a node name: use the name Proxmox shows, e.g. pve1`);
    else if (out.includes(n)) at(`${path}[${i}]`, `node '${n}' is listed twice`);
    else out.push(n);
  });
  return out;
}

function parseTemplates(v: unknown, nodes: readonly string[], at: At): Readonly<Record<string, TemplateSource>> {
  const path = `${ROOT}.templates`;
  if (!isObject(v)) {
    at(path, `is required: the NixOS LXC template per node, e.g. { pve1: local:vztmpl/nixos-25.11-x86_64-linux.tar.xz }; got ${JSON.stringify(v)}`);
    return {};
  }
  const out: Record<string, TemplateSource> = {};
  for (const [node, t] of Object.entries(v)) {
    const p = `${path}.${node}`;
    if (nodes.length > 0 && !nodes.includes(node)) {
      at(p, `template for unknown node '${node}': proxmox.nodes lists ${nodes.join(", ")}; fix the key or add the node`);
      continue;
    }
    const source = parseTemplate(t, p, at);
    if (source) out[node] = source;
  }
  return out;
}

function parseTemplate(v: unknown, path: string, at: At): TemplateSource | undefined {
  if (typeof v === "string") {
    if (!FILE_ID.test(v)) {
      at(path, `'${v}' is not a container template file id: write <storage>:vztmpl/<file>, e.g. local:vztmpl/nixos-25.11-x86_64-linux.tar.xz`);
      return undefined;
    }
    return { kind: "file", fileId: v };
  }
  if (!isObject(v)) {
    at(path, `must be a file id (local:vztmpl/<file>) or { url, fileName?, datastore?, checksum?, checksumAlgorithm? }; got ${JSON.stringify(v)}`);
    return undefined;
  }
  unknownKeys(v, DOWNLOAD_KEYS, path, at);
  const url = requiredString(v.url, `${path}.url`, "the http(s) URL of the NixOS LXC template (.tar.xz)", at);
  if (url && !/^https?:\/\/\S+$/.test(url)) at(`${path}.url`, `'${url}' is not an http(s) URL`);
  const fromUrl = url.split("?")[0].split("/").pop() ?? "";
  const fileName = optString(v.fileName, `${path}.fileName`, fromUrl, at);
  if (url && !fileName) at(`${path}.fileName`, `cannot be derived from url '${url}': set fileName, e.g. nixos-25.11-x86_64-linux.tar.xz`);
  const datastore = optString(v.datastore, `${path}.datastore`, DEFAULT_TEMPLATE_DATASTORE, at);
  const checksum = v.checksum === undefined ? undefined : optString(v.checksum, `${path}.checksum`, "", at);
  const algorithm = v.checksumAlgorithm === undefined ? undefined : optString(v.checksumAlgorithm, `${path}.checksumAlgorithm`, "", at);
  if (algorithm !== undefined && !(CHECKSUM_ALGORITHMS as readonly string[]).includes(algorithm)) {
    at(`${path}.checksumAlgorithm`, `'${algorithm}' is not supported: use one of ${CHECKSUM_ALGORITHMS.join(", ")}`);
  }
  if ((checksum === undefined) !== (algorithm === undefined)) {
    at(path, "checksum and checksumAlgorithm go together: set both (e.g. sha256 and its hex digest) or neither");
  }
  return {
    kind: "download",
    url,
    fileName,
    datastore,
    ...(checksum !== undefined ? { checksum } : {}),
    ...(algorithm !== undefined ? { checksumAlgorithm: algorithm } : {}),
  };
}

function parseNetworks(v: unknown, at: At): Readonly<Record<string, ProxmoxNetwork>> {
  const path = `${ROOT}.networks`;
  if (!isObject(v) || Object.keys(v).length === 0) {
    at(path, `is required: named networks, e.g. { default: { cidr: 10.0.0.0/24, gateway: 10.0.0.1, bridge: vmbr0, dns: [10.0.0.1] } }; got ${JSON.stringify(v)}`);
    return {};
  }
  const out: Record<string, ProxmoxNetwork> = {};
  for (const [name, n] of Object.entries(v)) {
    const p = `${path}.${name}`;
    if (!isObject(n)) {
      at(p, `must be an object { cidr, gateway, bridge, dns }, got ${JSON.stringify(n)}`);
      continue;
    }
    unknownKeys(n, NETWORK_KEYS, p, at);
    const cidr = requiredString(n.cidr, `${p}.cidr`, "the IPv4 subnet, e.g. 10.0.0.0/24", at);
    const { subnet, reason } = cidr ? parseCidr(cidr) : { subnet: undefined, reason: "" };
    if (reason) at(`${p}.cidr`, reason);
    const gateway = requiredString(n.gateway, `${p}.gateway`, "the default gateway, e.g. 10.0.0.1", at);
    const gw = gateway ? ipv4ToNumber(gateway) : undefined;
    if (gateway && gw === undefined) at(`${p}.gateway`, `'${gateway}' is not an IPv4 address`);
    else if (gw !== undefined && subnet && !inSubnet(gw, subnet)) at(`${p}.gateway`, `gateway ${gateway} is outside ${cidr}: containers could not reach it`);
    const bridge = requiredString(n.bridge, `${p}.bridge`, "the Proxmox bridge, e.g. vmbr0", at);
    const dns = ipv4List(n.dns, `${p}.dns`, at);
    out[name] = { name, cidr, prefixLength: subnet?.prefixLength ?? NaN, gateway, bridge, dns };
  }
  return out;
}

function parseSsh(v: unknown, privateKey: string | undefined, at: At): ProxmoxSsh {
  const path = `${ROOT}.ssh`;
  const r = v === undefined || v === null ? {} : v;
  if (!isObject(r)) {
    at(path, `must be an object { username, agent, authorizedKeys, containerUser, containerPort, nodes }, got ${JSON.stringify(v)}`);
  }
  const ssh: Raw = isObject(r) ? r : {};
  plaintextSecrets(ssh, path, at);
  unknownKeys(ssh, SSH_KEYS, path, at);
  const username = optString(ssh.username, `${path}.username`, "root", at);
  const agent = bool(ssh.agent, `${path}.agent`, false, at);
  const containerUser = optString(ssh.containerUser, `${path}.containerUser`, "root", at);
  const containerPort = int(ssh.containerPort, `${path}.containerPort`, 22, 1, 65_535, at);
  const nodes = parseSshNodes(ssh.nodes, `${path}.nodes`, at);
  const verifyHostKeys = bool(ssh.verifyHostKeys, `${path}.verifyHostKeys`, true, at);
  const configured = stringList(ssh.authorizedKeys, `${path}.authorizedKeys`, at);
  configured.forEach((k, i) => {
    if (!/^(ssh-|ecdsa-|sk-)\S+ [A-Za-z0-9+/=]+( .*)?$/.test(k)) {
      at(`${path}.authorizedKeys[${i}]`, `is not an OpenSSH public key line ('<type> <base64> [comment]', as in a .pub file)`);
    }
  });

  const hasKey = privateKey !== undefined && privateKey !== "";
  if (!hasKey && !agent) {
    at("sshPrivateKey", "missing: the key the deploy and the provider log in with; set it with `pulumi config set --secret cim-nats:sshPrivateKey < ~/.ssh/id_ed25519` (or set proxmox.ssh.agent: true)");
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
  return {
    username,
    agent,
    ...(hasKey ? { privateKey } : {}),
    authorizedKeys,
    containerUser,
    containerPort,
    nodes,
    verifyHostKeys,
  };
}

function parseSshNodes(v: unknown, path: string, at: At): readonly ProxmoxSshNode[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    at(path, `must be a list of { name, address, port? }, got ${JSON.stringify(v)}`);
    return [];
  }
  const out: ProxmoxSshNode[] = [];
  v.forEach((n: unknown, i: number) => {
    const p = `${path}[${i}]`;
    if (!isObject(n)) {
      at(p, `must be { name, address, port? }, got ${JSON.stringify(n)}`);
      return;
    }
    unknownKeys(n, fieldsOf(sshNodeSchema), p, at);
    const name = requiredString(n.name, `${p}.name`, "the node name, e.g. pve1", at);
    const address = requiredString(n.address, `${p}.address`, "the node's SSH address", at);
    const port = n.port === undefined ? undefined : int(n.port, `${p}.port`, 22, 1, 65_535, at);
    const hostKey = n.hostKey === undefined ? undefined : requiredString(n.hostKey, `${p}.hostKey`, "the node's SSH host public key line", at);
    if (hostKey && !OPENSSH_PUBLIC_KEY.test(hostKey)) {
      at(`${p}.hostKey`, `is not an OpenSSH public key line ('<type> <base64> [comment]'): take \`ssh-keyscan -t ed25519 ${address || "<node>"}\` and check it against \`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub\` on the node's console`);
    }
    out.push({ name, address, ...(port !== undefined ? { port } : {}), ...(hostKey ? { hostKey: hostKey.split(" ").slice(0, 2).join(" ") } : {}) });
  });
  return out;
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


function absolutePath(v: unknown, path: string, dflt: string, at: At): string {
  const s = optString(v, path, dflt, at);
  if (!s.startsWith("/")) at(path, `'${s}' is not an absolute path: write e.g. /var/lib/cim-nats`);
  return s;
}




function ipv4List(v: unknown, path: string, at: At): readonly string[] {
  const list = stringList(v, path, at);
  list.forEach((s, i) => {
    if (ipv4ToNumber(s) === undefined) at(`${path}[${i}]`, `'${s}' is not an IPv4 address`);
  });
  return list;
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
