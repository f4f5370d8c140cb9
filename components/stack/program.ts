/**
 * The Pulumi program, both substrates: stack config → validated model → security, servers
 * (local processes or Proxmox containers + NixOS), JetStream state, and the stack outputs.
 * Thin: every decision lives in the pure core; this only hands its data to resources.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { NixosDeployment } from "../deploy/nixos-deployment";
import { nixosHostFiles } from "../deploy/nixos-files";
import { stackOutputs } from "../deploy/outputs";
import { secretStackOutputs } from "../deploy/secret-outputs";
import { LocalTopology, localServerFilePath } from "../local/local-topology";
import { deployAccess, deployConnection } from "../proxmox/deploy-connection";
import { ProxmoxInventory } from "../proxmox/inventory";
import { readProxmoxConfig } from "../proxmox/stack-config";
import { renderServerConfig } from "../render/nats-server-config";
import { renderNixosHost } from "../render/nixos-host";
import type { ServerSecurity } from "../render/server-security";
import { DEFAULT_LEAF_CREDENTIALS_DIR, NatsSecurity } from "../security/nats-security";
import { leafLinkCredentialsPath } from "../security/server-security";
import { JETSTREAM_ADMIN_USER } from "../security/types";
import { withDataDir } from "../topology/rebase";
import { ConfigError } from "../config/errors";
import { type Topology } from "../topology/types";
import { declareJetStream, declareRemovalGuard, jetstreamNames } from "./jetstream-resources";
import { bundleCidService } from "../cid/bundle";
import { CID_SERVICE_IMPORT, cidServiceHostFiles } from "../cid/prod";
import { cidServiceOutput, parseCidService, type CidServiceSpec } from "../cid/spec";
import { declareLocalCidService } from "../cid/stack";
import { declaredJetStream } from "../verify/declared";
import { loadStackModel, Substrate, type StackModel } from "./stack-model";

/** The dev stack's passphrase (scripts/with-env.sh): fine for loopback-only throwaway keys, never for prod. */
export const DEV_PASSPHRASE = "cim-nats-dev";

/** Reads and validates the stack config; a config problem ends the run with every problem listed, no stack trace. */
function model(config: pulumi.Config, stack: string): StackModel {
  const proxmox = readProxmoxConfig(config);
  try {
    return loadStackModel(
      stack,
      {
        substrate: config.get("substrate"),
        topology: config.getObject("topology"),
        jetstream: config.getObject("jetstream"),
        security: config.getObject("security"),
        proxmox: proxmox.raw,
      },
      proxmox.secrets,
    );
  } catch (e) {
    if (e instanceof ConfigError) throw new pulumi.RunError(e.message);
    throw e;
  }
}

/** Leaf-link creds live beside each local leaf's config, so the rendered path points there. */
function localLeafLinks(topology: Topology, security: ServerSecurity): ServerSecurity {
  const leafLinks = Object.fromEntries(
    Object.entries(security.leafLinks).map(([leaf, link]) => {
      const instance = topology.leaves.find((l) => l.serverName === leaf)!;
      return [leaf, { ...link, credentialsPath: localServerFilePath(instance, "leaf-link.creds") }];
    }),
  );
  return { ...security, leafLinks };
}

/** The stack's root component, every resource's ancestor (same type and name as before: same URNs). */
class Backbone extends pulumi.ComponentResource {
  constructor(stack: string) {
    super("cim-nats:index:Backbone", stack);
  }

  /** Records the stack's outputs as the root's, once every child is declared. */
  complete(outputs: pulumi.Inputs): void {
    this.registerOutputs(outputs);
  }
}

export function program(): Record<string, unknown> {
  const config = new pulumi.Config("cim-nats");
  const stack = pulumi.getStack();
  const m = model(config, stack);
  const cid = cidServiceOrError(config.getObject("cidService"), m);
  // scripts/with-env.sh defaults the passphrase to the dev stack's well-known one; a stack with
  // real machines must not keep its secrets (Proxmox token, SSH key, NATS seeds) under it.
  if (m.substrate !== Substrate.Local && process.env.PULUMI_CONFIG_PASSPHRASE === DEV_PASSPHRASE) {
    throw new pulumi.RunError(
      `stack '${stack}' runs on real machines but its secrets use the dev stack's well-known passphrase: ` +
        "set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) to your own, and re-key any secrets already set " +
        "with `pulumi stack change-secrets-provider passphrase -s " + stack + "`",
    );
  }
  const root = new Backbone(stack);

  let topology = m.topology;
  let servers: Record<string, pulumi.Resource>;
  let storeIds: Record<string, pulumi.Output<string>> | undefined;
  const local = m.substrate === Substrate.Local;
  // Dev: data under the project (or wherever topology.dataDir points), absolute for the processes.
  const dataDir = path.resolve(String((config.getObject<{ dataDir?: string }>("topology") ?? {}).dataDir ?? `.cim-dev/${stack}`));
  // Dev contexts point at the creds scripts/dev-try-it.sh writes under .cim-dev/<stack>/clients.
  const contextCredentialsDir = local ? path.join(dataDir, "clients") : undefined;
  // JWTs (but the JetStream admin's, which the guard connects with) wait for the removal guard
  // below: an update it refuses re-signs nothing. The guard needs those admin creds, so it is
  // created after the component and handed over through a promise.
  let guardCreated!: (r: pulumi.Resource) => void;
  const guardReady = new Promise<pulumi.Resource>((resolve) => (guardCreated = resolve));
  const security = new NatsSecurity(
    "security",
    {
      spec: m.security,
      topology,
      ...(contextCredentialsDir ? { contextCredentialsDir } : {}),
      issueAfter: [guardReady],
      issueFirst: [JETSTREAM_ADMIN_USER],
    },
    { parent: root },
  );
  // Streams and buckets holding data survive delete/replace unless the stack opts in (dev does).
  const allowDataLoss = config.getBoolean("allowDataLoss") ?? false;
  // Every server waits for the removal guard: a data-losing removal fails before any server
  // changes, and removed leaf stores are gone before the leaves drop their deny_imports.
  const removalGuard = declareRemovalGuard(root, { topology: m.topology, spec: m.jetstream, creds: security.jetstreamAdminCreds, allowDataLoss });
  guardCreated(removalGuard);

  if (local) {
    topology = withDataDir(topology, dataDir);
    const t = topology;
    const serverSecurity = security.serverSecurity.apply((s) => localLeafLinks(t, s));
    const localServers = new LocalTopology(
      "servers",
      {
        topology: t,
        renderConfig: (serverName) => serverSecurity.apply((s) => renderServerConfig(t, serverName, s)),
        files: Object.fromEntries(
          t.leaves.map((l) => [l.serverName, { "leaf-link.creds": security.leafLinkCreds[l.serverName] }]),
        ),
        dependsOn: [removalGuard],
        // A hub member about to restart first hands its stream/consumer leaderships to its peers.
        leaderHandoffCreds: security.jetstreamAdminCreds,
      },
      { parent: root },
    );
    servers = localServers.servers;
    storeIds = Object.fromEntries(Object.entries(localServers.servers).map(([s, r]) => [s, r.storeId]));
  } else {
    const spec = m.proxmox!;
    const inventory = new ProxmoxInventory(stack, { topology, spec }, { parent: root });
    const moduleText = readFileSync(path.join(__dirname, "..", "..", "nix", "modules", "cim-nats.nix"), "utf8");
    const t = topology;
    const hosts = t.hosts.map((h) => {
      const leaf = h.instances.find((i) => i.kind === "leaf");
      const hostText = security.serverSecurity.apply((s) => renderNixosHost(t, h.name, s));
      const credentials: Record<string, pulumi.Output<string>> = {};
      if (leaf) {
        // The same path the rendered leafnode remote points at; known at preview, so the plan shows it.
        const p = leafLinkCredentialsPath(DEFAULT_LEAF_CREDENTIALS_DIR, m.security.leafLinks[leaf.serverName]);
        credentials[p] = security.leafLinkCreds[leaf.serverName];
      }
      // The CID service's host also gets its unit, program and creds (components/cid/prod.ts).
      const extra = cid && cid.host === h.name ? cidServiceNixosExtra(cid, security.credsByUser[cid.user]) : undefined;
      return { host: h.name, files: nixosHostFiles<pulumi.Input<string>>({ moduleText, hostText, credentials, access: deployAccess(spec), ...(extra ? { extra } : {}) }) };
    });
    const deployment = new NixosDeployment(
      "deploy",
      {
        topology: t,
        hosts,
        connection: deployConnection(spec),
        dependsOn: Object.fromEntries(Object.entries(inventory.containers).map(([host, c]) => [host, [c, removalGuard]])),
      },
      { parent: root },
    );
    // A server is ready when its host's switch is done.
    servers = Object.fromEntries(t.hosts.flatMap((h) => h.instances.map((i) => [i.serverName, deployment.switches[h.name]])));
  }

  const jetstream = declareJetStream(root, { topology, spec: m.jetstream, creds: security.jetstreamAdminCreds, servers, allowDataLoss, ...(storeIds ? { storeIds } : {}) });

  // cimstor's CID object service (components/cid): a local process in dev; prod runs it from the host's NixOS config (above).
  if (cid && local) {
    const bucket = jetstream.objects.filter((_, i) => m.jetstream.objects[i].config.bucket === cid.bucket && m.jetstream.objects[i].location.domain === cid.jetstreamDomain);
    declareLocalCidService(root, { spec: cid, creds: security.credsByUser[cid.user], dataDir, dependsOn: [servers[cid.leaf], ...bucket] });
  }

  const outputs = stackOutputs(topology, jetstreamNames(m.jetstream));
  const secrets = secretStackOutputs(security.userCreds, security.natsContexts, Object.values(m.security.leafLinks));
  const result = {
    stack: outputs.stack,
    substrate: m.substrate,
    leaves: outputs.leaves,
    hub: outputs.hub,
    jetstream: outputs.jetstream,
    publicKeys: security.publicKeys,
    creds: secrets.creds,
    natsContexts: secrets.natsContexts,
    jetstreamAdminCreds: security.jetstreamAdminCreds,
    // What `npm run verify` compares with the live servers, and where the CID service answers.
    declared: declaredJetStream(m.jetstream),
    cidService: cid ? cidServiceOutput(cid) : null,
  };
  root.complete(result);
  return result;
}

function cidServiceNixosExtra(cid: CidServiceSpec, creds: pulumi.Output<string>) {
  const files = cidServiceHostFiles<pulumi.Input<string>>({
    spec: cid,
    moduleText: readFileSync(path.join(__dirname, "..", "..", "nix", "modules", "cim-cid-service.nix"), "utf8"),
    bundleText: bundleCidService(),
    creds,
  });
  return { files, imports: [CID_SERVICE_IMPORT] };
}

function cidServiceOrError(raw: unknown, m: StackModel) {
  try {
    return parseCidService(raw, m.topology, m.jetstream, m.security);
  } catch (e) {
    if (e instanceof ConfigError) throw new pulumi.RunError(e.message);
    throw e;
  }
}
