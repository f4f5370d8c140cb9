/**
 * The Pulumi program, every substrate: stack config → validated model → security, servers
 * (the substrate's: local processes or Proxmox containers + NixOS, substrates.ts), JetStream state, and the stack outputs.
 * Thin: every decision lives in the pure core; this only hands its data to resources.
 */
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { stackOutputs } from "../deploy/outputs";
import { secretStackOutputs } from "../deploy/secret-outputs";
import { NatsSecurity } from "../security/nats-security";
import { JETSTREAM_ADMIN_USER } from "../security/types";
import { loadProvidedIdentities } from "../security/load-identities";
import type { ProvidedIdentities } from "../security/provided-identities";
import { ConfigError } from "../config/errors";
import { readProxmoxConfig } from "../proxmox/stack-config";
import { declareJetStream, declareRemovalGuard, declareTeardownGate, jetstreamNames } from "./jetstream-resources";
import { cidServiceOutput, parseCidService } from "../cid/spec";
import { declaredJetStream } from "../verify/declared";
import { loadStackModel, type StackModel } from "./stack-model";
import { ALLOW_LOCAL_STATE_ENV, stateBackendVerdict } from "./state-backend";
import { SUBSTRATES } from "./substrates";
import { declareStackTls } from "../tls/resources";
import { durabilityPicture } from "./durability-picture";
import { declareAccountPushes } from "../security/account-pushes";

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
        tls: config.getObject("tls"),
        tlsCaKey: config.get("tlsCaKey"),
      },
      proxmox.secrets,
    );
  } catch (e) {
    if (e instanceof ConfigError) throw new pulumi.RunError(e.message);
    throw e;
  }
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
  const substrate = SUBSTRATES[m.substrate];
  if (substrate.realMachines && process.env.PULUMI_CONFIG_PASSPHRASE === DEV_PASSPHRASE) {
    throw new pulumi.RunError(
      `stack '${stack}' runs on real machines but its secrets use the dev stack's well-known passphrase: ` +
        "set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) to your own, and re-key any secrets already set " +
        "with `pulumi stack change-secrets-provider passphrase -s " + stack + "`",
    );
  }
  // Prod state in with-env.sh's default (a git-ignored file in this checkout) is refused, elsewhere on disk warned about.
  if (substrate.realMachines) {
    const verdict = stateBackendVerdict(stack, process.env.PULUMI_BACKEND_URL, process.env.CIM_NATS_ROOT ?? process.cwd(), process.env[ALLOW_LOCAL_STATE_ENV]);
    if (verdict.refuse) throw new pulumi.RunError(verdict.refuse);
    if (verdict.warn) void pulumi.log.warn(verdict.warn);
  }
  // Every opt-in loss window is said in the preview (and kept as the `durability` output).
  const durability = durabilityPicture(m);
  for (const w of durability.warnings) void pulumi.log.warn(w);
  const root = new Backbone(stack);
  // The CA, every server's certificate and the route password: before any server or client.
  const tls = declareStackTls(root, m.tls, m.topology);

  // Dev: data under the project (or wherever topology.dataDir points), absolute for the processes.
  const dataDir = path.resolve(String((config.getObject<{ dataDir?: string }>("topology") ?? {}).dataDir ?? `.cim-dev/${stack}`));
  const contextCredentialsDir = substrate.contextCredentialsDir(dataDir);
  // JWTs (but the JetStream admin's, which the guard connects with) wait for the removal guard
  // below: an update it refuses re-signs nothing. The guard needs those admin creds, so it is
  // created after the component and handed over through a promise.
  let guardCreated!: (r: pulumi.Resource) => void;
  const guardReady = new Promise<pulumi.Resource>((resolve) => (guardCreated = resolve));
  const provided = providedIdentities(m);
  for (const note of provided?.notes ?? []) void pulumi.log.info(`identities (${provided!.origin}): ${note}`);
  const security = new NatsSecurity(
    "security",
    {
      spec: m.security,
      ...(provided ? { provided } : {}),
      topology: m.topology,
      ...(contextCredentialsDir ? { contextCredentialsDir } : {}),
      contextCa: m.tls.mode !== "off",
      issueAfter: [guardReady],
      issueFirst: [JETSTREAM_ADMIN_USER],
    },
    { parent: root },
  );
  // Streams and buckets holding data survive delete/replace unless the stack opts in (dev does).
  const allowDataLoss = config.getBoolean("allowDataLoss") ?? false;
  // Every server waits for the removal guard: a data-losing removal fails before any server
  // changes, and removed leaf stores are gone before the leaves drop their deny_imports.
  const removalGuard = declareRemovalGuard(root, { topology: m.topology, spec: m.jetstream, creds: security.jetstreamAdminCreds, allowDataLoss, ...(tls.caCertPem ? { caCertPem: tls.caCertPem } : {}) });
  guardCreated(removalGuard);

  const where = { root, stack, model: m, security, removalGuard, dataDir, cid, tls };
  const declared = substrate.declareServers(where);
  const { topology, servers, storeIds } = declared;
  // Account JWTs reach the servers through the system account, once they run: no config change.
  const pushes = declareAccountPushes(root, { spec: m.security, topology, security, servers, sourceNudgeCreds: security.jetstreamAdminCreds, ...(tls.caCertPem ? { caCertPem: tls.caCertPem } : {}) });
  const jetstream = declareJetStream(root, {
    topology,
    spec: m.jetstream,
    creds: security.jetstreamAdminCreds,
    servers,
    // Aggregates wait for the data account's push too, which waits for the leaves' links.
    linksUp: [pushes[m.security.applicationAccount]],
    allowDataLoss,
    ...(storeIds ? { storeIds } : {}),
    ...(tls.caCertPem ? { caCertPem: tls.caCertPem } : {}),
  });

  // cimstor's CID object service (components/cid): a resource of its own where the substrate has one.
  if (cid) {
    const bucket = jetstream.objects.filter((_, i) => m.jetstream.objects[i].config.bucket === cid.bucket && m.jetstream.objects[i].location.domain === cid.jetstreamDomain);
    // The service's creds work once its account and the data account it imports from are pushed.
    substrate.declareCidService(where, declared, cid, [...bucket, pushes[m.security.users.find((u) => u.name === cid.user)!.account], pushes[m.security.applicationAccount]]);
  }

  // Declared last and depending on everything above: a destroy deletes it first, and it decides
  // the whole teardown before anything else goes.
  declareTeardownGate(root, { topology: m.topology, spec: m.jetstream, creds: security.jetstreamAdminCreds, allowDataLoss, caCertPem: tls.caCertPem });

  const outputs = stackOutputs(topology, jetstreamNames(m.jetstream));
  // Link creds stay on the leaves: not among the clients' creds outputs.
  const secrets = secretStackOutputs(security.userCreds, security.natsContexts, [...Object.values(m.security.leafLinks), ...Object.values(m.security.systemLinks)]);
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
    // Public: clients verify the servers with this CA (a context's `ca`, nats.js `tls.ca`).
    tls: { mode: m.tls.mode, caCert: tls.caCertPem ?? null },
    // What `npm run verify` compares with the live servers, and where the CID service answers.
    declared: declaredJetStream(m.jetstream),
    // Each server's sync mode and loss window as declared; verify compares the running ones.
    durability: durability.servers,
    // Each account's public key and current JWT (public): verify checks every server enforces it.
    accounts: security.accounts,
    cidService: cid ? cidServiceOutput(cid) : null,
  };
  root.complete(result);
  return result;
}

/** The keys a site already has (security/load-identities.ts); a config problem ends the run listing it. */
function providedIdentities(m: StackModel): ProvidedIdentities | undefined {
  try {
    // Read raw: Config.get would warn that it is a secret; the seeds become Pulumi secrets in NatsSecurity.
    return loadProvidedIdentities(m.security, () => pulumi.runtime.getConfig("cim-nats:identitySeeds"));
  } catch (e) {
    if (e instanceof ConfigError) throw new pulumi.RunError(e.message);
    throw e;
  }
}

function cidServiceOrError(raw: unknown, m: StackModel) {
  try {
    return parseCidService(raw, m.topology, m.jetstream, m.security);
  } catch (e) {
    if (e instanceof ConfigError) throw new pulumi.RunError(e.message);
    throw e;
  }
}
