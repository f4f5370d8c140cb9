/**
 * The local substrate: every instance of the topology (leaf servers and hub members) as a
 * LocalNatsServer on its loopback address, each in its own folder under the stack's data dir.
 * Hub members form a chain (each depends on the one before), so a restart-only change rolls
 * through them one at a time, each healthy and JetStream-current before the next stops; on
 * create, every member but the last waits only for `/healthz?js-server-only=true` (a lone
 * member has no meta leader yet) and the last one for the full check, which needs the quorum.
 * Leaves are independent of each other and change in parallel; they keep retrying their
 * leafnode remotes until the hub listens. Stops are lame duck (SIGUSR2).
 */
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { instanceEndpoints } from "../topology/endpoints";
import { type ConfigIssue } from "../config/errors";
import type { ServerInstance, Topology } from "../topology/types";
import { DEFAULT_HEALTH_TIMEOUT_SECONDS } from "./local-server-types";
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
  /**
   * What every server waits for before it is created or changed (e.g. the JetStream removal
   * guard, whose update deletes removed leaf stores before the servers drop their deny_imports).
   * Default none.
   */
  readonly dependsOn?: readonly pulumi.Input<pulumi.Resource>[];
  /** Seconds a lame duck stop may take before SIGKILL. Default: the topology's lame duck duration + 10. */
  readonly stopTimeoutSeconds?: number;
  /**
   * Creds of the JetStream admin user (secret): before a hub member restarts, its stream and
   * consumer leaderships are moved away through the API, so no in-flight request is dropped.
   * Default none (lame duck alone moves them).
   */
  readonly leaderHandoffCreds?: pulumi.Input<string>;
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
  /** Server name → identity of its JetStream store (new when the store was wiped). */
  public readonly storeIds!: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: LocalTopologyArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cim-nats:local:LocalTopology", name, {}, opts);
    const created = createLocalTopology(name, args, this);
    Object.assign(this, created);
    this.registerOutputs({ pids: created.pids, dataDirs: created.dataDirs, storeIds: created.storeIds });
  }
}

type LocalTopologyResult = Pick<LocalTopology, "servers" | "pids" | "dataDirs" | "storeIds">;

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
  const members = args.topology.hub.members;
  const stopTimeoutSeconds = args.stopTimeoutSeconds ?? args.topology.lameDuck.durationSeconds + 10;
  let previousMember: LocalNatsServer | undefined;
  for (const instance of instancesOf(args.topology)) {
    const s = instance.serverName;
    const memberIndex = members.findIndex((m) => m.serverName === s);
    const isMember = memberIndex >= 0;
    const server = new LocalNatsServer(
      `${name}-${s}`,
      {
        serverName: s,
        configText: args.renderConfig(s),
        dataDir: path.normalize(instance.storeDir),
        monitoringUrl: instanceEndpoints(instance).monitoringUrl,
        healthTimeoutSeconds: args.healthTimeoutSeconds ?? DEFAULT_HEALTH_TIMEOUT_SECONDS,
        stopTimeoutSeconds,
        // Only the last member can see a meta leader when it is created (the others are up by then).
        createHealthCheck: isMember && memberIndex < members.length - 1 ? "js-server-only" : "full",
        // Creds: a member hands its leaderships off before a restart; a leaf nudges the hub's sources after one.
        ...(args.leaderHandoffCreds !== undefined ? { leaderHandoffCreds: args.leaderHandoffCreds } : {}),
        ...(isMember ? { peerMonitoringUrls: members.filter((m) => m.serverName !== s).map((m) => instanceEndpoints(m).monitoringUrl) } : {}),
        ...(!isMember && members.length > 0 ? { hubClientUrls: members.map((m) => instanceEndpoints(m).clientUrl) } : {}),
        ...(args.binary !== undefined ? { binary: args.binary } : {}),
        ...(args.files?.[s] !== undefined ? { files: args.files[s] } : {}),
      },
      { parent, dependsOn: [...(args.dependsOn ?? []), ...(isMember && previousMember ? [previousMember] : [])] },
    );
    if (isMember) previousMember = server;
    servers[s] = server;
    dataDirs[s] = instance.storeDir;
  }
  const pids = pulumi
    .all(Object.fromEntries(Object.entries(servers).map(([s, r]) => [s, r.pid])))
    .apply((p) => ({ ...p }) as Record<string, number>);
  const storeIds = pulumi
    .all(Object.fromEntries(Object.entries(servers).map(([s, r]) => [s, r.storeId])))
    .apply((p) => ({ ...p }) as Record<string, string>);
  return { servers, pids, dataDirs, storeIds };
}
