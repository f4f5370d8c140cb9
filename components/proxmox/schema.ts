/**
 * The `cim-nats:proxmox` section as declared data: API, nodes, templates, networks, SSH and the
 * containers' NixOS — each field's type, default and documentation (parse.ts runs it;
 * stack/config-schema.ts puts it into the stack schema, the docs and the JSON Schema). Secrets,
 * defaults from other fields and the rules against the topology are parse.ts's. Pure.
 */
import { z } from "zod";
import { because, flag, IPV4, matching, names, opt, port as portField, record, req, text } from "../config/atoms";
import { DEFAULT_NIX_GC, NIX_GC_AGE_PATTERN, NIX_SHA256_PATTERN } from "../deploy/nixos-system";
import { CHECKSUM_ALGORITHMS, DEFAULT_DATA_MOUNT_PATH, DEFAULT_TEMPLATE_DATASTORE } from "./config";
import { OPENSSH_PUBLIC_KEY } from "./container-host-key";
import { parseCidr } from "./ipv4";

export const DEFAULT_INSECURE = false;
export const DEFAULT_PROTECT = true;
/** SSH settings a stack leaves unset. */
export const DEFAULT_SSH = { username: "root", nodePort: 22, agent: false, containerUser: "root", containerPort: 22, verifyHostKeys: true } as const;

const port = portField();
const name = text();

const show = (v: unknown) => JSON.stringify(v);
const httpUrl = (bad: (s: string) => string, required: string) => matching(/^https?:\/\/\S+$/, bad, required);
const templateDownloadSchema = record({
  url: req(httpUrl((s) => `'${s}' is not an http(s) URL`, "the http(s) URL of the NixOS LXC template (.tar.xz)"), "http(s) URL of the NixOS LXC template (.tar.xz)"),
  fileName: opt(name, "file name on the node", { derived: "the URL's last path segment" }),
  datastore: opt(name, "storage to download to", { default: DEFAULT_TEMPLATE_DATASTORE }),
  checksum: opt(name, "expected checksum (with checksumAlgorithm)"),
  checksumAlgorithm: opt(z.enum(CHECKSUM_ALGORITHMS, because((v) => `${show(v)} is not supported: use one of ${CHECKSUM_ALGORITHMS.join(", ")}`)), "checksum algorithm"),
}, "{ url, fileName?, datastore?, checksum?, checksumAlgorithm? }");
const FILE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*:vztmpl\/\S+$/;
const templateReason = (v: unknown) =>
  typeof v === "string"
    ? `'${v}' is not a container template file id: write <storage>:vztmpl/<file>, e.g. local:vztmpl/nixos-25.11-x86_64-linux.tar.xz`
    : `must be a file id (local:vztmpl/<file>) or { url, fileName?, datastore?, checksum?, checksumAlgorithm? }; got ${show(v)}`;
const template = z.union([matching(FILE_ID, templateReason), templateDownloadSchema], because(templateReason));

const ipv4Short = (required?: string) => matching(IPV4, (s) => `'${s}' is not an IPv4 address`, required);
const networkSchema = record({
  cidr: req(text("the IPv4 subnet, e.g. 10.0.0.0/24").refine((c) => !parseCidr(c).reason, because((v) => parseCidr(String(v)).reason)), "subnet, e.g. 10.0.0.0/24"),
  gateway: req(ipv4Short("the default gateway, e.g. 10.0.0.1"), "gateway address"),
  bridge: req(text("the Proxmox bridge, e.g. vmbr0"), "Proxmox bridge, e.g. vmbr0"),
  dns: opt(z.array(ipv4Short(), because((v) => `must be a list of strings, got ${show(v)}`)), "DNS servers"),
}, "{ cidr, gateway, bridge, dns }");
/** A host key line's fix names the node's address, so the check sits on the node entry. */
const sshNodeSchema = record({
  name: req(text("the node name, e.g. pve1"), "node name"),
  address: req(text("the node's SSH address"), "its SSH address"),
  port: opt(port, "its SSH port", { default: DEFAULT_SSH.nodePort }),
  hostKey: opt(text("the node's SSH host public key line").meta({ pattern: OPENSSH_PUBLIC_KEY.source }), "the node's SSH host public key (`ssh-ed25519 AAAA…`, checked on its console); pins the node, through which each container's host key is read"),
}, "{ name, address, port? }").refine((n) => n.hostKey === undefined || OPENSSH_PUBLIC_KEY.test(n.hostKey), {
  path: ["hostKey"],
  when: (p) => typeof (p.value as { hostKey?: unknown } | undefined)?.hostKey === "string",
  error: (iss) => `is not an OpenSSH public key line ('<type> <base64> [comment]'): take \`ssh-keyscan -t ed25519 ${(iss.input as { address?: string }).address || "<node>"}\` and check it against \`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub\` on the node's console`,
});
const authorizedKey = matching(/^(ssh-|ecdsa-|sk-)\S+ [A-Za-z0-9+/=]+( .*)?$/, () => "is not an OpenSSH public key line ('<type> <base64> [comment]', as in a .pub file)");
const sshSchema = record({
  username: opt(name, "user on the Proxmox nodes", { default: DEFAULT_SSH.username }),
  agent: opt(flag(), "use the SSH agent instead of cim-nats:sshPrivateKey", { default: DEFAULT_SSH.agent }),
  authorizedKeys: opt(z.array(authorizedKey, because((v) => `must be a list of strings, got ${show(v)}`)), "keys allowed into the containers (the deploy key is added)"),
  containerUser: opt(name, "user the deploy logs into containers as", { default: DEFAULT_SSH.containerUser }),
  containerPort: opt(port, "SSH port of the containers", { default: DEFAULT_SSH.containerPort }),
  nodes: opt(z.array(sshNodeSchema, because((v) => `must be a list of { name, address, port? }, got ${show(v)}`)), "SSH addresses (and host keys) of the nodes"),
  verifyHostKeys: opt(flag(), "pin every container's SSH host key, read through its node (needs ssh.nodes[].hostKey of every node hosting a container)", { default: DEFAULT_SSH.verifyHostKeys }),
}, "{ username, agent, authorizedKeys, containerUser, containerPort, nodes }");

/** The sha256's fix names the pin's URL, so the check sits on the pin. */
const nixpkgsPinSchema = record({
  url: req(httpUrl((s) => `'${s}' is not an http(s) URL of a nixpkgs tarball`, "a nixpkgs tarball URL, e.g. https://github.com/NixOS/nixpkgs/archive/<rev>.tar.gz"), "http(s) URL of a nixpkgs tarball, e.g. https://github.com/NixOS/nixpkgs/archive/<rev>.tar.gz"),
  sha256: req(text("the sha256 of the unpacked tree (`nix-prefetch-url --unpack <url>`, or the narHash of a flake.lock)").meta({ pattern: NIX_SHA256_PATTERN.source }), "sha256 of the unpacked tree (fetchTarball's; a flake.lock narHash): Nix base32 or sha256-… SRI"),
}, "{ url, sha256 }").refine((p) => NIX_SHA256_PATTERN.test(p.sha256), {
  path: ["sha256"],
  when: (p) => typeof (p.value as { sha256?: unknown } | undefined)?.sha256 === "string",
  error: (iss) => {
    const pin = iss.input as { url?: unknown; sha256: string };
    return `'${pin.sha256}' is neither a Nix base32 sha256 (52 characters) nor an SRI hash (sha256-<44 base64>); take the output of \`nix-prefetch-url --unpack ${typeof pin.url === "string" && pin.url ? pin.url : "<url>"}\``;
  },
});
const nixGcSchema = record({
  dates: opt(name, "when `nix.gc` runs (systemd calendar)", { default: DEFAULT_NIX_GC.dates }),
  deleteOlderThan: opt(matching(NIX_GC_AGE_PATTERN, (s) => `'${s}' is not a number of days like '30d' (nix-collect-garbage --delete-older-than)`), "generations younger than this are kept, e.g. 30d", { default: DEFAULT_NIX_GC.deleteOlderThan }),
}, "{ dates, deleteOlderThan }");
export const nixosSchema = record({
  nixpkgs: opt(nixpkgsPinSchema, "the nixpkgs every host's system is built against", { derived: "nixos-25.11 at 8fd9daa3db09 (components/deploy/nixos-system.ts)" }),
  builders: opt(
    text("a Nix builders line, e.g. 'ssh://nix@builder x86_64-linux'"),
    "a build host for the hosts' systems, as Nix's --builders line (e.g. ssh://nix@builder x86_64-linux); unset: the machine running the deploy builds",
  ),
  gc: opt(nixGcSchema, "automatic garbage collection of the Nix store"),
}, "{ nixpkgs: { url, sha256 }, builders, gc: { dates, deleteOlderThan } }");

const NODE_NAME = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const nodesFix = (v: unknown) => `is required: the Proxmox node names, e.g. [pve1, pve2, pve3]; got ${show(v)}`;
const nodeNames = z
  .array(matching(NODE_NAME, (_, v) => `${show(v)} is not a node name: use the name Proxmox shows, e.g. pve1`), because(nodesFix))
  .min(1, because(nodesFix))
  .superRefine((list, ctx) => list.forEach((n, i) => list.indexOf(n) !== i && ctx.addIssue({ code: "custom", path: [i], input: n, message: `node '${n}' is listed twice` })));
const endpointReason = (s: string) => `'${s}' is not an http(s) URL: write the API address, e.g. https://10.0.0.11:8006/`;
const hasHost = (s: string) => {
  try {
    return new URL(s).hostname !== "";
  } catch {
    return false;
  }
};
const templatesFix = (v: unknown) => `is required: the NixOS LXC template per node, e.g. { pve1: local:vztmpl/nixos-25.11-x86_64-linux.tar.xz }; got ${show(v)}`;
const networksFix = (v: unknown) => `is required: named networks, e.g. { default: { cidr: 10.0.0.0/24, gateway: 10.0.0.1, bridge: vmbr0, dns: [10.0.0.1] } }; got ${show(v)}`;
export const proxmoxSchema = record({
  endpoint: req(httpUrl(endpointReason, "the Proxmox API URL, e.g. https://10.0.0.11:8006/").refine(hasHost, because((v) => endpointReason(String(v)))), "Proxmox API URL, e.g. https://10.0.0.11:8006/"),
  insecure: opt(flag(), "accept a self-signed API certificate", { default: DEFAULT_INSECURE }),
  nodes: req(nodeNames, "Proxmox node names"),
  templates: req(z.record(z.string(), template, because(templatesFix)), "NixOS LXC template per node: a file id (local:vztmpl/…) or a download"),
  datastore: req(text("the storage for root disks and data volumes, e.g. local-lvm"), "storage for root disks and data volumes, e.g. local-lvm"),
  networks: req(z.record(z.string(), networkSchema, because(networksFix)).refine((o) => Object.keys(o).length > 0, because(networksFix)), "networks by name; hosts pick one with `network`"),
  ssh: opt(sshSchema, "SSH access of the provider and the deploy"),
  dataMountPath: opt(matching(/^\//, (s) => `'${s}' is not an absolute path: write e.g. /var/lib/cim-nats`), "where the data volume is mounted in containers", { default: DEFAULT_DATA_MOUNT_PATH }),
  protect: opt(flag(), "protect containers from deletion (Pulumi and Proxmox)", { default: DEFAULT_PROTECT }),
  adopt: opt(names(), "hosts whose containers existed before the stack (taken over with `pulumi import`, docs/adopt.md): their replace-only inputs are never compared, so no difference from the hand-made container plans a replacement"),
  nixos: opt(nixosSchema, "NixOS of the containers: pinned nixpkgs, garbage collection"),
}, "{ endpoint, nodes, templates, datastore, networks }");

