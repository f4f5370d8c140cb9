/**
 * One nats-server's configuration, rendered from the validated topology: frozen data in, a
 * config tree (or its text) out, nothing else. The same tree feeds the NixOS `settings`.
 */
import { instanceByName, instanceEndpoints } from "../topology/endpoints";
import type { ServerInstance, Topology } from "../topology/types";
import { formatNatsConf, type NatsConfTree, type NatsConfValue } from "./nats-conf";
import type { ServerSecurity } from "./server-security";

export { formatNatsConf, type NatsConfTree, type NatsConfValue } from "./nats-conf";

function requiredPort(instance: ServerInstance, port: number | undefined, field: string): number {
  if (port === undefined) {
    throw new Error(`server '${instance.serverName}' (${instance.kind}) has no ${field}; only hub members listen for routes and leafnodes`);
  }
  return port;
}

/** `cluster` block of a hub member: a full route mesh to every other member. */
export function renderHubCluster(topology: Topology, member: ServerInstance): NatsConfTree {
  return {
    name: topology.hub.name,
    listen: `${member.address}:${requiredPort(member, member.routePort, "routePort")}`,
    routes: topology.hub.members
      .filter((m) => m.serverName !== member.serverName)
      .map((m) => instanceEndpoints(m).routeUrl!),
  };
}

/**
 * `leafnodes.remotes` of a leaf: one remote listing every hub member, so the link survives any
 * single member going down. `deny_imports` keeps leaf-local streams from capturing other
 * leaves' messages through the hub (DESIGN.md, "Leaf stores stay local"). nats-server 2.15
 * enforces it both ways (test/topology/running-topology.test.ts): the leaf's own messages on
 * those subjects leave it only through JetStream sourcing, not as core messages.
 */
export function renderLeafRemotes(topology: Topology, leaf: ServerInstance, security?: ServerSecurity): NatsConfTree[] {
  const remote: Record<string, NatsConfValue> = { urls: topology.hub.members.map((m) => instanceEndpoints(m).leafnodeUrl!) };
  if (topology.leafDenyImports.length > 0) remote.deny_imports = [...topology.leafDenyImports];
  if (security) {
    const link = security.leafLinks[leaf.serverName];
    if (!link) {
      throw new Error(
        `security.leafLinks has no entry for leaf '${leaf.serverName}'; ` +
          "the security capability must issue one leaf-link user per leaf server",
      );
    }
    remote.credentials = link.credentialsPath;
    remote.account = link.account;
  }
  return [remote];
}

/** Operator-mode block: the trust chain and a memory resolver preloaded with account JWTs. */
export function renderOperatorMode(security: ServerSecurity): NatsConfTree {
  return {
    operator: security.operatorJwt,
    system_account: security.systemAccount,
    resolver: "MEMORY",
    resolver_preload: { ...security.resolverPreload },
  };
}

/**
 * The config tree of one server, keys spelled as nats-server spells them. Without `security`
 * the server runs without auth (the foundation); with it, in operator mode.
 */
export function serverConfigTree(topology: Topology, serverName: string, security?: ServerSecurity): NatsConfTree {
  const instance = instanceByName(topology, serverName);
  const tree: Record<string, NatsConfValue> = {
    server_name: instance.serverName,
    listen: `${instance.address}:${instance.clientPort}`,
    // Monitoring names every client, account and stream: loopback unless the config exposes it.
    http: `${instance.monitoringAddress}:${instance.monitoringPort}`,
    jetstream: {
      store_dir: instance.storeDir,
      domain: instance.jetstreamDomain,
      max_mem: confSize(instance.jetstream.maxMemory),
      max_file: confSize(instance.jetstream.maxFile),
      // How much acked data a machine crash can lose (docs/prod.md, "Durability").
      sync_interval: instance.jetstream.syncInterval,
    },
    // Stops are lame duck (SIGUSR2): clients move to other servers before this one exits.
    lame_duck_duration: `${topology.lameDuck.durationSeconds}s`,
    lame_duck_grace_period: `${topology.lameDuck.gracePeriodSeconds}s`,
  };
  switch (instance.kind) {
    case "hub":
      // A lone hub member is a standalone JetStream server: nats-server exits at start when a
      // clustered JetStream has no routes to anyone.
      if (topology.hub.members.length > 1) tree.cluster = renderHubCluster(topology, instance);
      tree.leafnodes = { listen: `${instance.address}:${requiredPort(instance, instance.leafnodePort, "leafnodePort")}` };
      break;
    case "leaf":
      tree.leafnodes = { remotes: renderLeafRemotes(topology, instance, security) };
      break;
    default: {
      const never: never = instance.kind;
      throw new Error(`unknown instance kind '${String(never)}'`);
    }
  }
  return security ? { ...tree, ...renderOperatorMode(security) } : tree;
}

/** nats-server config text for one server of the topology. */
export function renderServerConfig(topology: Topology, serverName: string, security?: ServerSecurity): string {
  const instance = instanceByName(topology, serverName);
  const header =
    `# ${instance.serverName}: ${instance.kind} server on ${instance.host} (topology '${topology.name}').\n` +
    "# Generated by cim-nats from the stack config; edit the config, not this file.\n";
  return header + formatNatsConf(serverConfigTree(topology, serverName, security));
}

/** A size as nats-server takes it: a bare number of bytes, or quoted with its unit ("1G"); quoted digits alone are refused. */
function confSize(size: string): NatsConfValue {
  return /^\d+$/.test(size) ? Number(size) : size;
}
