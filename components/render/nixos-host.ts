/**
 * The generated per-host NixOS file: imports the reusable module (nix/modules/cim-nats.nix) and
 * sets one instance per nats-server on the host, with `settings` from the same config tree that
 * renderServerConfig writes. Pure: topology in, Nix text out.
 */
import type { Host, ServerInstance, Topology } from "../topology/types";
import type { NatsConfTree } from "./nats-conf";
import { serverConfigTree } from "./nats-server-config";
import { restartOnlyView } from "./reload-rules";
import type { ServerSecurity } from "./server-security";
import type { ServerTlsInput } from "./server-tls";
import { nixString, toNix, type NixValue } from "./to-nix";

/** What a prod host's servers secure their listeners and routes with (files the deploy places). */
export type NixosTlsOptions = {
  /** TLS on every listener and link: each server's certificate, key and the CA. */
  readonly tls: boolean;
  /** Route authorization of the hub members (a hub of 2+ members): their cluster include. */
  readonly routeAuth: boolean;
};

export type NixosHostOptions = {
  /**
   * Import path of the cim-nats module, relative to the generated file. Default
   * "./modules/cim-nats.nix": deploy the host file beside a `modules/` copy of nix/modules.
   */
  readonly modulePath?: string;
} & Partial<NixosTlsOptions>;

/** Where the deploy places a server's secret files on its host: root-owned 0600, outside the Nix store. */
export const NIXOS_SECRETS_DIR = "/var/lib/cim-nats/secrets";

/** A server's TLS files and route authorization on its host (what the deploy writes). */
export function nixosSecretPaths(serverName: string) {
  const dir = `${NIXOS_SECRETS_DIR}/${serverName}`;
  return { certFile: `${dir}/cert.pem`, keyFile: `${dir}/key.pem`, caFile: `${dir}/ca.pem`, clusterAuthFile: `${dir}/cluster-auth.conf` } as const;
}

/**
 * Where the unit's nats-server reads them: the module copies the config and these files into its
 * runtime dir (nix/modules/cim-nats.nix `runtimeDir`), so the config names them there and the
 * cluster include resolves beside the config.
 */
export function nixosRuntimeDir(kind: ServerInstance["kind"]): string {
  return `/run/cim-nats-${kind}`;
}

/** What one instance's config references (its runtime dir's files), per the TLS options. */
export function nixosTlsInput(topology: Topology, instance: ServerInstance, options: Partial<NixosTlsOptions>): ServerTlsInput {
  const dir = nixosRuntimeDir(instance.kind);
  return {
    ...(options.tls ? { tls: { certFile: `${dir}/cert.pem`, keyFile: `${dir}/key.pem`, caFile: `${dir}/ca.pem` } } : {}),
    ...(options.routeAuth && instance.kind === "hub" && topology.hub.members.length > 1 ? { clusterAuth: { include: "cluster-auth.conf" } } : {}),
  };
}

/** The host named `hostName`, or an error listing the hosts that exist. */
function hostByName(topology: Topology, hostName: string): Host {
  const host = topology.hosts.find((h) => h.name === hostName);
  if (!host) {
    throw new Error(`unknown host '${hostName}' in topology '${topology.name}': known hosts are ${topology.hosts.map((h) => h.name).join(", ")}`);
  }
  return host;
}

/** The names a leaf's unit reads its link creds under: the application and the system link's. */
export const NIXOS_LINK_CREDENTIALS = { application: "leafnode.creds", system: "system-link.creds" } as const;

/**
 * Where the unit finds a link's creds: the copy root places in its runtime dir before start
 * (nix/modules/cim-nats.nix; not systemd's LoadCredential, which LXC's service override resets).
 */
export function nixosLeafCredentialTarget(kind: ServerInstance["kind"], credential: string = NIXOS_LINK_CREDENTIALS.application): string {
  return `${nixosRuntimeDir(kind)}/${credential}`;
}

/**
 * The config tree the instance's unit runs: its settings, each leaf remote reading its link's
 * creds (the remote bound to the system account the system link's, the other the application
 * link's) from the copy root places in the unit's runtime dir. The creds files themselves never
 * enter the Nix store.
 */
export function nixosRunningSettings(topology: Topology, instance: ServerInstance, security?: ServerSecurity, tlsOptions: Partial<NixosTlsOptions> = {}): NatsConfTree {
  const tree = serverConfigTree(topology, instance.serverName, security, nixosTlsInput(topology, instance, tlsOptions));
  const leafnodes = tree.leafnodes as NatsConfTree | undefined;
  const remotes = leafnodes?.remotes as readonly NatsConfTree[] | undefined;
  if (!security?.leafLinks[instance.serverName] || !leafnodes || !remotes) return tree;
  const credentials = (r: NatsConfTree) =>
    nixosLeafCredentialTarget(instance.kind, r.account === security.systemAccount ? NIXOS_LINK_CREDENTIALS.system : NIXOS_LINK_CREDENTIALS.application);
  return { ...tree, leafnodes: { ...leafnodes, remotes: remotes.map((r) => ({ ...r, credentials: credentials(r) })) } };
}

/** Options of one `services.cim-nats.instances.<kind>` entry. */
export function nixosInstanceOptions(
  topology: Topology,
  instance: ServerInstance,
  security?: ServerSecurity,
  tlsOptions: Partial<NixosTlsOptions> = {},
): Record<string, NixValue> {
  const tlsInput = nixosTlsInput(topology, instance, tlsOptions);
  const options: Record<string, NixValue> = {
    serverName: instance.serverName,
    host: instance.address,
    port: instance.clientPort,
    monitorPort: instance.monitoringPort,
    dataDir: instance.storeDir,
  };
  if (instance.routePort !== undefined) options.clusterPort = instance.routePort;
  if (instance.leafnodePort !== undefined) options.leafnodePort = instance.leafnodePort;
  options.monitorHost = instance.monitoringAddress;
  // The module opens each listener only as far as it must be (nix/modules/cim-nats.nix).
  options.openFirewall = true;
  if (instance.kind === "hub") {
    options.routePeers = topology.hub.members.filter((m) => m.serverName !== instance.serverName).map((m) => m.address);
    options.leafnodePeers = [...new Set(topology.leaves.map((l) => l.address))];
  }
  const links = security?.leafLinks[instance.serverName];
  const settings = nixosRunningSettings(topology, instance, security, tlsOptions);
  if (instance.kind === "leaf" && links) {
    options.leafnodeCredentialsFile = links.application.credentialsPath;
    options.systemLinkCredentialsFile = links.system.credentialsPath;
  }
  const secrets = nixosSecretPaths(instance.serverName);
  if (tlsInput.tls) options.tls = { certFile: secrets.certFile, keyFile: secrets.keyFile, caFile: secrets.caFile };
  if (tlsInput.clusterAuth) options.clusterAuthFile = secrets.clusterAuthFile;
  options.settings = settings as NixValue;
  // What the unit restarts for; every other settings change is a SIGHUP reload (nix/modules/cim-nats.nix).
  options.restartSettings = restartOnlyView(settings) as NixValue;
  return options;
}

/** The per-host NixOS module text for `hostName`. */
export function renderNixosHost(topology: Topology, hostName: string, security?: ServerSecurity, options: NixosHostOptions = {}): string {
  const host = hostByName(topology, hostName);
  const instances: Record<string, NixValue> = {};
  for (const instance of host.instances) {
    instances[instance.kind] = nixosInstanceOptions(topology, instance, security, options);
  }
  const modulePath = options.modulePath ?? "./modules/cim-nats.nix";
  if (!/^\.{1,2}\/[A-Za-z0-9._/+-]+\.nix$/.test(modulePath)) {
    throw new Error(`modulePath '${modulePath}' must be a relative path to a .nix file (e.g. './modules/cim-nats.nix')`);
  }
  return [
    `# ${host.name}: ${host.roles.join(" + ")} (topology '${topology.name}'), address ${host.address}.`,
    "# Generated by cim-nats from the stack config; edit the config, not this file.",
    "{ ... }:",
    "{",
    `  imports = [ ${modulePath} ];`,
    "",
    `  networking.hostName = ${nixString(host.name)};`,
    "",
    `  services.cim-nats = ${toNix({ enable: true, instances }, "  ")};`,
    "}",
    "",
  ].join("\n");
}
