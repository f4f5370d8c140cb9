/**
 * Deploys the rendered NixOS configuration to every host the way deploy-rs and colmena do: build
 * once where the deploy runs, copy the closure, activate, roll back when unhealthy. Per host:
 *   `${name}-<host>-build`         local.Command on the deploying machine: writes the host's public
 *                                  NixOS files into a private temp dir, builds the system against
 *                                  the pinned nixpkgs (or on a declared build host), copies its
 *                                  closure to the container over SSH; prints the store path
 *   `${name}-<host>-stage`         remote.Command: private staging dir (0700) for the secrets
 *   `${name}-<host>-copy-<file>`   remote.CopyToRemote: each secret file into the staging dir
 *   `${name}-<host>-switch`        remote.Command: installs the secrets (staged copies removed),
 *                                  makes the built system the profile's generation, switches to
 *                                  it, waits for health, re-activates the previous generation if
 *                                  it is not healthy in time (and fails naming the host)
 * The containers need no internet and no compiler. A host's switch re-runs only when its system or
 * a secret changes, and then as an *update* (the full /healthz wait: the member is JetStream-current
 * before the next one starts), never as a replacement: no `triggers`, which @pulumi/command marks
 * replaceOnChanges. Hub members switch one at a time (each waits for the previous one's switch);
 * across a route transport change (route-roll.ts) each waits for its own server only, the last one
 * for the whole cluster. Builds and copies run ahead, in parallel: only activation is ordered.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, type ConfigIssue } from "../config/errors";
import { Topology } from "../topology/types";
import { HostFiles, RenderedFile } from "./files";
import { hostDeployment } from "./host-deployment";
import { lastHubHost, rebuildOrder } from "./rebuild-order";
import type { HubRoll } from "./route-roll";
import { DEFAULT_DEPLOY_OPTIONS, DeployOptions, stagedPath, SWITCH_CREATE, SWITCH_UPDATE, switchScript } from "./scripts";

/** How the deploy reaches the containers. */
export interface DeployConnection {
  /** SSH user. Default "root". */
  readonly user?: string;
  /** SSH port. Default 22. */
  readonly port?: number;
  /**
   * Private key (made secret here). Unset: the SSH agent at `agentSocketPath`, or the one
   * SSH_AUTH_SOCK names where the deploy runs, so no key enters the config or the state.
   */
  readonly privateKey?: pulumi.Input<string>;
  readonly agentSocketPath?: pulumi.Input<string>;
  /** Dial attempts before giving up; fresh containers need a moment for sshd. Default 20. */
  readonly dialErrorLimit?: number;
  /** Seconds per dial attempt. Default 15. */
  readonly perDialTimeout?: number;
  /**
   * Host name → the SSH host public key (`<type> <base64>`) its connections must see; the
   * provider pins it (ssh.FixedHostKey), and the closure copy pins it too (known_hosts of one
   * line), so another key fails the key exchange, before the deploy authenticates or copies
   * anything. A host without one is not verified.
   */
  readonly hostKeys?: Readonly<Record<string, pulumi.Input<string>>>;
}

export interface NixosDeploymentArgs {
  /** The validated topology. Every host gets a deployment. */
  readonly topology: Topology;
  /** The rendered files of every host (renderers' output); content may be a secret Output. */
  readonly hosts: readonly HostFiles<pulumi.Input<string>>[];
  readonly connection: DeployConnection;
  /** Host name → what its deployment waits for first (its container). Default: nothing. */
  readonly dependsOn?: Readonly<Record<string, pulumi.Input<pulumi.Resource> | readonly pulumi.Input<pulumi.Resource>[]>>;
  /** Staging dir, entry point, nixpkgs pin, build host, health bound. Defaults: DEFAULT_DEPLOY_OPTIONS. */
  readonly options?: Partial<DeployOptions>;
}

export class NixosDeployment extends pulumi.ComponentResource {
  /** Host name → its switch command (what a later step can depend on). */
  public readonly switches!: Readonly<Record<string, command.remote.Command>>;
  /** Host name → its build command; its stdout is the system's store path. */
  public readonly builds!: Readonly<Record<string, command.local.Command>>;
  /** Host name → content hash of its files (`sha256:<hex>`); public, see files.ts. */
  public readonly contentHashes!: Readonly<Record<string, pulumi.Output<string>>>;

  constructor(name: string, args: NixosDeploymentArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cim-nats:deploy:NixosDeployment", name, {}, opts);
    const result = createDeployment(this, name, args);
    this.switches = result.switches;
    this.builds = result.builds;
    this.contentHashes = result.contentHashes;
    this.registerOutputs({ contentHashes: this.contentHashes });
  }
}

function createDeployment(parent: NixosDeployment, name: string, args: NixosDeploymentArgs) {
  const options: DeployOptions = { ...DEFAULT_DEPLOY_OPTIONS, ...args.options };
  const filesByHost = hostFilesByName(args.topology, args.hosts);
  const lastHub = lastHubHost(args.topology);
  const user = args.connection.user ?? "root";
  const port = args.connection.port ?? 22;
  const connection = (host: string, address: string): command.types.input.remote.ConnectionArgs => ({
    host: address,
    user,
    port,
    ...(args.connection.privateKey !== undefined ? { privateKey: pulumi.secret(args.connection.privateKey) } : {}),
    ...(args.connection.agentSocketPath !== undefined ? { agentSocketPath: args.connection.agentSocketPath } : {}),
    dialErrorLimit: args.connection.dialErrorLimit ?? 20,
    perDialTimeout: args.connection.perDialTimeout ?? 15,
    ...(args.connection.hostKeys?.[host] !== undefined ? { hostKey: args.connection.hostKeys[host] } : {}),
  });
  const buildOf = (host: string) => ({ user, port, gcRootName: `${args.topology.name}-${host}`, pinHostKey: args.connection.hostKeys?.[host] !== undefined });

  // Every host's plan first, so invalid files fail the deployment before any resource exists.
  // Paths, modes and the scripts' shape are known now; only the contents may be Outputs.
  const plans = rebuildOrder(args.topology).map((step) => {
    const host = args.topology.hosts.find((h) => h.name === step.host)!;
    const { files, routeTransport, systemProfile } = filesByHost.get(host.name)!;
    const hub = host.instances.find((i) => i.kind === "hub");
    const roll: HubRoll | undefined = routeTransport && hub && lastHub ? { ...routeTransport, hubServer: hub.serverName, lastHubHost: lastHub } : undefined;
    const plan = hostDeployment(host, files.map((f) => ({ ...f, content: "" })), options, buildOf(host.name));
    return { step, host, files, roll, systemProfile, plan };
  });

  const switches: Record<string, command.remote.Command> = {};
  const builds: Record<string, command.local.Command> = {};
  const contentHashes: Record<string, pulumi.Output<string>> = {};
  for (const { step, host, files, roll, systemProfile, plan } of plans) {
    const conn = connection(host.name, host.address);
    const prefix = `${name}-${host.name}`;
    const deps = args.dependsOn?.[host.name];
    const hostDeps: pulumi.Input<pulumi.Resource>[] = deps === undefined ? [] : Array.isArray(deps) ? [...deps] : [deps as pulumi.Input<pulumi.Resource>];

    // The whole plan again once the contents are known. The build script holds the public files
    // and hashes of the secrets; the switch script paths and hashes: neither holds a secret, so
    // both are unsecret and the preview shows what changed.
    const known = pulumi
      .all(files.map((f) => f.content))
      .apply((contents) => hostDeployment(host, files.map((f, i): RenderedFile => ({ ...f, content: contents[i] })), options, buildOf(host.name)));
    const hostKey = args.connection.hostKeys?.[host.name];
    const environment = {
      // The key the closure copy pins (the build runs before a container's key may be known in a preview).
      ...(hostKey !== undefined ? { CIM_NATS_HOST_KEY: hostKey } : {}),
      // Without an agent, the copy logs in with the stack's key, loaded into a throwaway agent.
      ...(args.connection.privateKey !== undefined ? { CIM_NATS_DEPLOY_KEY: pulumi.secret(args.connection.privateKey) } : {}),
    };

    const build = new command.local.Command(
      `${prefix}-build`,
      {
        create: "bash -s",
        update: "bash -s",
        stdin: pulumi.unsecret(known.apply((d) => d.buildScript)),
        ...(Object.keys(environment).length > 0 ? { environment } : {}),
        addPreviousOutputInEnv: false,
      },
      { parent, dependsOn: hostDeps },
    );
    builds[host.name] = build;

    const stage = new command.remote.Command(
      `${prefix}-stage`,
      { connection: conn, create: plan.stageCommand, addPreviousOutputInEnv: false },
      { parent, dependsOn: hostDeps },
    );
    const copies = plan.secrets.map((staged) => {
      const file = files.find((f) => f.path === staged.path)!;
      return new command.remote.CopyToRemote(
        `${prefix}-copy-${staged.stagingName}`,
        { connection: conn, source: copySource(pulumi.secret(file.content), staged.path), remotePath: stagedPath(staged, options) },
        { parent, dependsOn: [stage] },
      );
    });

    const system = build.stdout.apply((out) => out.trim());
    const script = pulumi
      .all([known, system])
      .apply(([d, s]) => switchScript(host.name, d.secrets, d.servers, options, { system: s, ...(systemProfile ? { profile: systemProfile } : {}) }, roll));
    const previous = step.after !== undefined ? [switches[step.after]] : [];

    switches[host.name] = new command.remote.Command(
      `${prefix}-switch`,
      {
        connection: conn,
        create: SWITCH_CREATE,
        update: SWITCH_UPDATE,
        stdin: pulumi.unsecret(script),
        addPreviousOutputInEnv: false,
      },
      { parent, dependsOn: [build, ...copies, ...previous] },
    );
    contentHashes[host.name] = pulumi.unsecret(known.apply((d) => d.trigger.contentHash));
  }
  return { switches, builds, contentHashes };
}

/** What a copy's source holds in a preview whose file content is not known yet. */
export const PREVIEW_PLACEHOLDER = "# cim-nats: known once the resources this file is rendered from exist (placeholder of a preview)\n";

/**
 * A copy's source as a real text asset in every run (secret when the content is). The command
 * provider refuses an unknown asset ("either asset or archive must be set"), which failed every
 * preview whose contents were not known yet (the creds of users created in the same run). Only a
 * preview sees unknown contents (`up` resolves every input before it registers a resource): there
 * the source is a placeholder asset, so the copy plans its create or update and the preview goes
 * on. `apply`'s second argument (run with unknowns) is the SDK's own way to see one.
 */
export function copySource(content: pulumi.Output<string>, path: string): pulumi.Output<pulumi.asset.Asset> {
  const applyWithUnknowns = content.apply as unknown as (f: (c: string) => pulumi.asset.Asset, runWithUnknowns: boolean) => pulumi.Output<pulumi.asset.Asset>;
  return applyWithUnknowns.call(
    content,
    (c) => {
      if (c !== undefined && !pulumi.isUnknown(c)) return new pulumi.asset.StringAsset(c);
      // An `up` knows every content unless a resource the file is rendered from is left out of a targeted up.
      if (!pulumi.runtime.isDryRun()) {
        throw new Error(
          `${path}: its content is still unknown in an update; nothing may be copied in its place. ` +
            "A targeted up (--target) must include the resources it is rendered from when they do not exist yet (e.g. the TLS CA, certificates and route password)",
        );
      }
      return new pulumi.asset.StringAsset(PREVIEW_PLACEHOLDER);
    },
    true,
  );
}

/** Indexes the files by host; every topology host needs files, and no others may have any. */
function hostFilesByName(
  topology: Topology,
  hosts: readonly HostFiles<pulumi.Input<string>>[],
): Map<string, Omit<HostFiles<pulumi.Input<string>>, "host">> {
  const issues: ConfigIssue[] = [];
  const known = topology.hosts.map((h) => h.name);
  const byName = new Map<string, Omit<HostFiles<pulumi.Input<string>>, "host">>();
  hosts.forEach((h, i) => {
    if (!known.includes(h.host)) issues.push({ propertyPath: `deploy.hosts[${i}].host`, reason: `unknown host '${h.host}': the topology has ${known.join(", ")}` });
    else if (byName.has(h.host)) issues.push({ propertyPath: `deploy.hosts[${i}].host`, reason: `host '${h.host}' has two file sets: merge them` });
    else byName.set(h.host, { files: h.files, ...(h.routeTransport ? { routeTransport: h.routeTransport } : {}), ...(h.systemProfile ? { systemProfile: h.systemProfile } : {}) });
  });
  for (const name of known) {
    if (!byName.has(name)) issues.push({ propertyPath: "deploy.hosts", reason: `host '${name}' has no rendered files: render its NixOS module, host file and credentials` });
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return byName;
}
