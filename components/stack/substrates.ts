/**
 * Where the servers run, as a table: each substrate (`local` processes, `proxmox` LXC + NixOS)
 * answers the same few questions for the program (program.ts), so a new substrate is a new row,
 * not another branch. Resource names and parents are the ones the program always used: same URNs.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { bundleCidService } from "../cid/bundle";
import { CID_SERVICE_IMPORT, cidServiceHostFiles } from "../cid/prod";
import type { CidServiceSpec } from "../cid/spec";
import { declareLocalCidService } from "../cid/stack";
import { NixosDeployment } from "../deploy/nixos-deployment";
import { nixosHostFiles } from "../deploy/nixos-files";
import { ROUTE_TRANSPORT_MARKER, routeTransportMarker } from "../deploy/route-roll";
import { NIXPKGS_PIN_PATH } from "../deploy/nixos-system";
import { LocalTopology, localServerFilePath } from "../local/local-topology";
import { deployAccess, deployConnection } from "../proxmox/deploy-connection";
import { readContainerHostKeys } from "../proxmox/container-host-keys";
import { ProxmoxInventory } from "../proxmox/inventory";
import { renderServerConfig } from "../render/nats-server-config";
import { nixosRunningSettings, nixosSecretPaths, nixosTlsInput, renderNixosHost, type NixosTlsOptions } from "../render/nixos-host";
import { routeTransport } from "../render/route-transport";
import type { ServerSecurity } from "../render/server-security";
import { DEFAULT_LEAF_CREDENTIALS_DIR, type NatsSecurity } from "../security/nats-security";
import { leafLinkCredentialsPath } from "../security/server-security";
import { withDataDir } from "../topology/rebase";
import type { Topology } from "../topology/types";
import { Substrate, type StackModel } from "./stack-model";
import { renderClusterAuth } from "../render/cluster-auth";
import type { ServerTlsInput } from "../render/server-tls";
import type { StackTls } from "../tls/resources";
import { ROUTE_USER } from "../tls/types";
import type { ServerInstance } from "../topology/types";

/** What every substrate is given. */
export type SubstrateContext = {
  readonly root: pulumi.Resource;
  readonly stack: string;
  readonly model: StackModel;
  readonly security: NatsSecurity;
  /** Every server waits for it: a data-losing removal fails before any server changes. */
  readonly removalGuard: pulumi.Resource;
  /** Absolute data directory of a stack on this machine (local substrate). */
  readonly dataDir: string;
  readonly cid: CidServiceSpec | undefined;
  /** The CA, server certificates and route password (components/tls). */
  readonly tls: StackTls;
};

/** The servers a substrate declared: what the JetStream resources wait for and connect to. */
export type SubstrateServers = {
  /** The topology as the servers run it (local: store paths under the stack's data directory). */
  readonly topology: Topology;
  /** Per server name, the resource that makes it ready. */
  readonly servers: Record<string, pulumi.Resource>;
  /** Per server name, its store's identity (local servers report one). */
  readonly storeIds?: Record<string, pulumi.Output<string>>;
};

export interface SubstrateRunner {
  /** Whether its servers are real machines (their secrets must not use the dev passphrase). */
  readonly realMachines: boolean;
  /** Where nats contexts point for creds, if the stack writes them on this machine. */
  contextCredentialsDir(dataDir: string): string | undefined;
  /** Declares the servers (and the machines they run on). */
  declareServers(ctx: SubstrateContext): SubstrateServers;
  /** Declares the CID service where it is a resource of its own; `after`: what it waits for (its object bucket, its account's JWT push). */
  declareCidService(ctx: SubstrateContext, servers: SubstrateServers, cid: CidServiceSpec, after: readonly pulumi.Resource[]): void;
}

/** A local leaf's two link creds files, beside its config. */
const LOCAL_LINK_CREDS = { application: "leaf-link.creds", system: "system-link.creds" } as const;

/** Link creds live beside each local leaf's config, so the rendered paths point there. */
function localLeafLinks(topology: Topology, security: ServerSecurity): ServerSecurity {
  const leafLinks = Object.fromEntries(
    Object.entries(security.leafLinks).map(([leaf, links]) => {
      const instance = topology.leaves.find((l) => l.serverName === leaf)!;
      return [
        leaf,
        {
          application: { ...links.application, credentialsPath: localServerFilePath(instance, LOCAL_LINK_CREDS.application) },
          system: { ...links.system, credentialsPath: localServerFilePath(instance, LOCAL_LINK_CREDS.system) },
        },
      ];
    }),
  );
  return { ...security, leafLinks };
}

/** Where a local server's TLS files and cluster include live: inside its folder, beside its config. */
const LOCAL_TLS = { cert: "tls/cert.pem", key: "tls/key.pem", ca: "tls/ca.pem", clusterAuth: "cluster-auth.conf" } as const;

/** What a local server's config references: its own folder's files. (Also placed so by test/local/rolling-cli.test.ts's program.) */
export function localTlsInput(instance: ServerInstance, tls: StackTls): ServerTlsInput {
  return {
    ...(tls.caCertPem
      ? {
          tls: {
            certFile: localServerFilePath(instance, LOCAL_TLS.cert),
            keyFile: localServerFilePath(instance, LOCAL_TLS.key),
            caFile: localServerFilePath(instance, LOCAL_TLS.ca),
          },
        }
      : {}),
    // Relative: nats-server resolves an include against the config file's folder.
    ...(instance.kind === "hub" && tls.routePassword ? { clusterAuth: { include: LOCAL_TLS.clusterAuth } } : {}),
  };
}

/** A local server's secret files: certificate, key, CA, and a hub member's route authorization. */
export function localTlsFiles(topology: Topology, instance: ServerInstance, tls: StackTls): Record<string, pulumi.Output<string>> {
  const files: Record<string, pulumi.Output<string>> = {};
  const own = tls.servers[instance.serverName];
  if (tls.caCertPem && own) {
    files[LOCAL_TLS.cert] = own.certPem;
    files[LOCAL_TLS.key] = own.keyPem;
    files[LOCAL_TLS.ca] = tls.caCertPem;
  }
  if (instance.kind === "hub" && tls.routePassword) {
    files[LOCAL_TLS.clusterAuth] = tls.routePassword.apply((p) => renderClusterAuth(topology, instance, ROUTE_USER, p));
  }
  return files;
}

/** Dev: every server a local nats-server process on a loopback address. */
const local: SubstrateRunner = {
  realMachines: false,
  // Dev contexts point at the creds scripts/dev-try-it.sh writes under .cim-dev/<stack>/clients.
  contextCredentialsDir: (dataDir) => path.join(dataDir, "clients"),
  declareServers({ root, model, security, removalGuard, dataDir, tls }) {
    const t = withDataDir(model.topology, dataDir);
    const serverSecurity = security.serverSecurity.apply((s) => localLeafLinks(t, s));
    const instances = [...t.leaves, ...t.hub.members];
    const byName = (s: string) => instances.find((i) => i.serverName === s)!;
    const localServers = new LocalTopology(
      "servers",
      {
        topology: t,
        renderConfig: (serverName) => serverSecurity.apply((s) => renderServerConfig(t, serverName, s, localTlsInput(byName(serverName), tls))),
        files: Object.fromEntries(
          instances.map((i) => [
            i.serverName,
            {
              ...(i.kind === "leaf"
                ? { [LOCAL_LINK_CREDS.application]: security.leafLinkCreds[i.serverName], [LOCAL_LINK_CREDS.system]: security.systemLinkCreds[i.serverName] }
                : {}),
              ...localTlsFiles(t, i, tls),
            },
          ]),
        ),
        dependsOn: [removalGuard],
        // A hub member about to restart first hands its stream/consumer leaderships to its peers.
        leaderHandoffCreds: security.jetstreamAdminCreds,
      },
      { parent: root },
    );
    const storeIds = Object.fromEntries(Object.entries(localServers.servers).map(([s, r]) => [s, r.storeId]));
    return { topology: t, servers: localServers.servers, storeIds };
  },
  // cimstor's CID object service: a local process, once its leaf and bucket are there.
  declareCidService({ root, security, dataDir, tls }, { servers }, cid, after) {
    declareLocalCidService(root, {
      spec: cid,
      creds: security.credsByUser[cid.user],
      dataDir,
      dependsOn: [servers[cid.leaf], ...after],
      ...(tls.caCertPem ? { caCertPem: tls.caCertPem } : {}),
    });
  },
};

/** Prod: a Proxmox LXC container per host, NixOS configured over SSH. */
const proxmox: SubstrateRunner = {
  realMachines: true,
  contextCredentialsDir: () => undefined,
  declareServers({ root, stack, model, security, removalGuard, cid, tls }) {
    const spec = model.proxmox!;
    const t = model.topology;
    const inventory = new ProxmoxInventory(stack, { topology: t, spec }, { parent: root });
    const moduleText = readFileSync(path.join(__dirname, "..", "..", "nix", "modules", "cim-nats.nix"), "utf8");
    const natsServerText = readFileSync(path.join(__dirname, "..", "..", "nix", "modules", "nats-server.nix"), "utf8");
    const hosts = t.hosts.map((h) => {
      const leaf = h.instances.find((i) => i.kind === "leaf");
      const hostText = security.serverSecurity.apply((s) => renderNixosHost(t, h.name, s, nixosTls(tls)));
      const credentials: Record<string, pulumi.Output<string>> = {};
      if (leaf) {
        // The same paths the rendered leafnode remotes point at; known at preview, so the plan shows them.
        credentials[leafLinkCredentialsPath(DEFAULT_LEAF_CREDENTIALS_DIR, model.security.leafLinks[leaf.serverName])] = security.leafLinkCreds[leaf.serverName];
        credentials[leafLinkCredentialsPath(DEFAULT_LEAF_CREDENTIALS_DIR, model.security.systemLinks[leaf.serverName])] = security.systemLinkCreds[leaf.serverName];
      }
      for (const instance of h.instances) Object.assign(credentials, nixosTlsFiles(t, instance, tls));
      // The CID service's host also gets its unit, program and creds (components/cid/prod.ts).
      // With TLS it trusts the CA the deploy placed for its leaf, on the same host.
      const extra =
        cid && cid.host === h.name
          ? cidServiceNixosExtra(cid, security.credsByUser[cid.user], tls.caCertPem ? nixosSecretPaths(cid.leaf).caFile : undefined)
          : undefined;
      // What the hub member's routes speak, recorded on the host so the deploy can roll a change of it (deploy/route-roll.ts).
      const hub = h.instances.find((i) => i.kind === "hub");
      const transport = hub ? routeTransport(nixosRunningSettings(t, hub, undefined, nixosTls(tls))) : undefined;
      return {
        host: h.name,
        files: nixosHostFiles<pulumi.Input<string>>({ moduleText, natsServerText, system: spec.nixos, hostText, credentials, access: deployAccess(spec), ...(extra ? { extra } : {}) }),
        ...(transport ? { routeTransport: { markerPath: ROUTE_TRANSPORT_MARKER, transport: routeTransportMarker(transport) } } : {}),
      };
    });
    const deployment = new NixosDeployment(
      "deploy",
      {
        topology: t,
        hosts,
        // Each container's host key, read on its node and pinned on every deploy connection to it.
        connection: { ...deployConnection(spec), ...(spec.ssh.verifyHostKeys ? { hostKeys: readContainerHostKeys(root, "deploy", t, spec, inventory.containers) } : {}) },
        // Each system is built here (or on the declared build host) against the pinned nixpkgs
        // (nixos-system.ts), and only its closure goes to the container.
        options: { nixpkgsPin: NIXPKGS_PIN_PATH, ...(spec.nixos.builders ? { builders: spec.nixos.builders } : {}) },
        dependsOn: Object.fromEntries(Object.entries(inventory.containers).map(([host, c]) => [host, [c, removalGuard]])),
      },
      { parent: root },
    );
    // A server is ready when its host's switch is done.
    const servers = Object.fromEntries(t.hosts.flatMap((h) => h.instances.map((i) => [i.serverName, deployment.switches[h.name]])));
    return { topology: t, servers };
  },
  // The host's NixOS config runs it (declareServers above): no resource of its own.
  declareCidService: () => undefined,
};

/** What a prod host's configs reference: TLS when the stack issued certificates, route authorization when it has a route password. */
function nixosTls(tls: StackTls): NixosTlsOptions {
  return { tls: tls.caCertPem !== undefined, routeAuth: tls.routePassword !== undefined };
}

/** A prod server's secret files at their deploy paths (nixosSecretPaths): certificate, key, CA, a hub member's route authorization. */
function nixosTlsFiles(topology: Topology, instance: ServerInstance, tls: StackTls): Record<string, pulumi.Output<string>> {
  const paths = nixosSecretPaths(instance.serverName);
  const tlsInput = nixosTlsInput(topology, instance, nixosTls(tls));
  const files: Record<string, pulumi.Output<string>> = {};
  const own = tls.servers[instance.serverName];
  if (tlsInput.tls && tls.caCertPem && own) {
    files[paths.certFile] = own.certPem;
    files[paths.keyFile] = own.keyPem;
    files[paths.caFile] = tls.caCertPem;
  }
  if (tlsInput.clusterAuth && tls.routePassword) {
    files[paths.clusterAuthFile] = tls.routePassword.apply((p) => renderClusterAuth(topology, instance, ROUTE_USER, p));
  }
  return files;
}

function cidServiceNixosExtra(cid: CidServiceSpec, creds: pulumi.Output<string>, caFile: string | undefined) {
  const files = cidServiceHostFiles<pulumi.Input<string>>({
    spec: cid,
    ...(caFile ? { caFile } : {}),
    moduleText: readFileSync(path.join(__dirname, "..", "..", "nix", "modules", "cim-cid-service.nix"), "utf8"),
    bundleText: bundleCidService(),
    creds,
  });
  return { files, imports: [CID_SERVICE_IMPORT] };
}

/** Every substrate, by the name `cim-nats:substrate` gives it. */
export const SUBSTRATES: Readonly<Record<Substrate, SubstrateRunner>> = { [Substrate.Local]: local, [Substrate.Proxmox]: proxmox };
