/**
 * The local substrate: every instance of the topology (leaf servers and hub members) as a
 * LocalNatsServer on its loopback address, each in its own folder under the stack's data dir.
 * Servers start in parallel: hub members need each other for a JetStream meta leader before
 * /healthz answers 200, and leaves keep retrying their leafnode remotes until the hub listens.
 */
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { instanceEndpoints } from "../topology/endpoints";
import type { ConfigIssue, ServerInstance, Topology } from "../topology/types";
import { DEFAULT_HEALTH_TIMEOUT_SECONDS } from "./local-server-crud";
import { LocalNatsServer } from "./local-server";
import { dataDirReason } from "./server-dir";

export type LocalTopologyArgs = {
  /**
   * The validated topology. Every instance's `storeDir` is its server folder and must be
   * absolute and end in the server name — `withDataDir(topology, <absolute .cim-dev/<stack>>)`
   * gives exactly that.
   */
  readonly topology: Topology;
  /** Config text of one server, e.g. `(s) => renderServerConfig(topology, s, security)`; may be a secret Output. */
  readonly renderConfig: (serverName: string) => pulumi.Input<string>;
  /**
   * Extra files per server name: relative path → content (e.g. `{ "nats-1": { "leaf-link.creds": creds } }`),
   * written 0600 into the server folder before it starts; kept secret. Default none.
   */
  readonly files?: Readonly<Record<string, pulumi.Input<Record<string, pulumi.Input<string>>>>>;
  /** nats-server binary for every server. Default: the pinned `.tools/bin/nats-server`. */
  readonly binary?: pulumi.Input<string>;
  /** Seconds each server may take to answer /healthz after a (re)start. Default 60. */
  readonly healthTimeoutSeconds?: number;
};

/** Where LocalTopology writes a server's extra file `relpath` (its `files` entry): inside the server folder. */
export function localServerFilePath(instance: ServerInstance, relpath: string): string {
  return path.join(instance.storeDir, relpath);
}

/** Every instance of a topology, hub members first (the order only affects display). */
function instancesOf(topology: Topology): readonly ServerInstance[] {
  return [...topology.hub.members, ...topology.leaves];
}

/** Every problem that keeps `args` from becoming local servers (empty when none). */
export function localTopologyIssues(args: LocalTopologyArgs): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const instances = instancesOf(args.topology);
  for (const i of instances) {
    const reason = dataDirReason(i.storeDir, i.serverName);
    if (reason) issues.push({ propertyPath: `topology.dataDir (server ${i.serverName})`, reason: `${reason}; pass withDataDir(topology, <absolute dir>)` });
  }
  const known = new Set(instances.map((i) => i.serverName));
  for (const server of Object.keys(args.files ?? {})) {
    if (!known.has(server)) {
      issues.push({ propertyPath: `files.${server}`, reason: `no server '${server}' in the topology; known: ${[...known].join(", ")}` });
    }
  }
  return issues;
}

/** The nats-server processes of one topology on this machine. */
export class LocalTopology extends pulumi.ComponentResource {
  /** One LocalNatsServer per server name (leaves by host name, hub members `<host>-hub`). */
  public readonly servers!: Readonly<Record<string, LocalNatsServer>>;
  /** Server name → pid of its running process. */
  public readonly pids!: pulumi.Output<Record<string, number>>;
  /** Server name → its folder (config, log, creds, JetStream store). */
  public readonly dataDirs!: Readonly<Record<string, string>>;

  constructor(name: string, args: LocalTopologyArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cim-nats:local:LocalTopology", name, {}, opts);
    const created = createLocalTopology(name, args, this);
    Object.assign(this, created);
    this.registerOutputs({ pids: created.pids, dataDirs: created.dataDirs });
  }
}

type LocalTopologyResult = Pick<LocalTopology, "servers" | "pids" | "dataDirs">;

function createLocalTopology(name: string, args: LocalTopologyArgs, parent: pulumi.Resource): LocalTopologyResult {
  const issues = localTopologyIssues(args);
  if (issues.length > 0) {
    throw new pulumi.InputPropertiesError({
      message: `cannot run topology '${args.topology.name}' locally (${issues.length} problem${issues.length === 1 ? "" : "s"})`,
      errors: issues,
    });
  }
  const servers: Record<string, LocalNatsServer> = {};
  const dataDirs: Record<string, string> = {};
  for (const instance of instancesOf(args.topology)) {
    const s = instance.serverName;
    servers[s] = new LocalNatsServer(
      `${name}-${s}`,
      {
        serverName: s,
        configText: args.renderConfig(s),
        dataDir: path.normalize(instance.storeDir),
        monitoringUrl: instanceEndpoints(instance).monitoringUrl,
        healthTimeoutSeconds: args.healthTimeoutSeconds ?? DEFAULT_HEALTH_TIMEOUT_SECONDS,
        ...(args.binary !== undefined ? { binary: args.binary } : {}),
        ...(args.files?.[s] !== undefined ? { files: args.files[s] } : {}),
      },
      { parent },
    );
    dataDirs[s] = instance.storeDir;
  }
  const pids = pulumi
    .all(Object.fromEntries(Object.entries(servers).map(([s, r]) => [s, r.pid])))
    .apply((p) => ({ ...p }) as Record<string, number>);
  return { servers, pids, dataDirs };
}
