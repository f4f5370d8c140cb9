/**
 * One nats-server's configuration, rendered from the validated topology: frozen data in, a
 * config tree (or its text) out, nothing else. The same tree feeds the NixOS `settings`.
 */
import { instanceByName, instanceEndpoints } from "../topology/endpoints";
import type { ServerInstance, Topology } from "../topology/types";
import { formatNatsConf, type NatsConfTree, type NatsConfValue } from "./nats-conf";
import { withDenyImportsTag } from "./remote-identity";
import type { ServerSecurity } from "./server-security";
import type { ServerTls, ServerTlsInput } from "./server-tls";

export { formatNatsConf, type NatsConfTree, type NatsConfValue } from "./nats-conf";

function requiredPort(instance: ServerInstance, port: number | undefined, field: string): number {
  if (port === undefined) {
    throw new Error(`server '${instance.serverName}' (${instance.kind}) has no ${field}; only hub members listen for routes and leafnodes`);
  }
  return port;
}

/** Route URLs of a hub member: every other member. */
export function hubRouteUrls(topology: Topology, member: ServerInstance): string[] {
  return topology.hub.members.filter((m) => m.serverName !== member.serverName).map((m) => instanceEndpoints(m).routeUrl!);
}

/**
 * A listener's or a link's `tls` block; `verify`: the peer must present a certificate from the CA
 * too; `map`: and that certificate must name the listener's authorization user (routes: only a
 * hub member's certificate names the route identity).
 */
export function renderTlsBlock(tls: ServerTls, verify: boolean, map = false): NatsConfTree {
  return { cert_file: tls.certFile, key_file: tls.keyFile, ca_file: tls.caFile, ...(map ? { verify_and_map: true } : verify ? { verify: true } : {}) };
}

/**
 * `cluster` block of a hub member: a full route mesh to every other member. With TLS, routes
 * are mutual TLS (`verify`: each side presents a certificate from the CA). With route
 * authorization the routes and the password move to an included 0600 file (renderClusterAuth):
 * nats-server dials an explicit route with the credentials in its URL only, so the URLs are
 * secret too, and the public config keeps just the include. With both, the route peer's
 * certificate must also name the route user (`verify_and_map`; only hub members' certificates
 * do, tls/names.ts): a certificate of the same CA issued to a leaf no longer gets a route.
 */
export function renderHubCluster(topology: Topology, member: ServerInstance, input: ServerTlsInput = {}): NatsConfTree {
  return {
    name: topology.hub.name,
    listen: `${member.address}:${requiredPort(member, member.routePort, "routePort")}`,
    ...(input.tls ? { tls: renderTlsBlock(input.tls, true, input.clusterAuth !== undefined) } : {}),
    ...(input.clusterAuth ? { include: input.clusterAuth.include } : { routes: hubRouteUrls(topology, member) }),
  };
}

/**
 * `leafnodes.remotes` of a leaf: one remote listing every hub member, so the link survives any
 * single member going down. `deny_imports` keeps leaf-local streams from capturing other
 * leaves' messages through the hub (DESIGN.md, "Leaf stores stay local"). nats-server 2.15
 * enforces it both ways (test/topology/running-topology.test.ts): the leaf's own messages on
 * those subjects leave it only through JetStream sourcing, not as core messages.
 */
export function renderLeafRemotes(topology: Topology, leaf: ServerInstance, security?: ServerSecurity, tls?: ServerTls): NatsConfTree[] {
  // The deny set's digest tags each URL: a new set is a new remote to nats-server, which reloads (remote-identity.ts).
  const deny = topology.leafDenyImports;
  const remote: Record<string, NatsConfValue> = { urls: topology.hub.members.map((m) => withDenyImportsTag(instanceEndpoints(m).leafnodeUrl!, deny)) };
  if (deny.length > 0) remote.deny_imports = [...deny];
  // The leaf checks the hub's certificate against the CA and presents its own (the hub verifies).
  if (tls) remote.tls = renderTlsBlock(tls, false);
  if (!security) return [remote];
  const links = security.leafLinks[leaf.serverName];
  if (!links) {
    throw new Error(
      `security.leafLinks has no entry for leaf '${leaf.serverName}'; ` +
        "the security capability must issue one leaf-link and one system-link user per leaf server",
    );
  }
  remote.credentials = links.application.credentialsPath;
  remote.account = links.application.account;
  // The system accounts linked too: account JWT updates reach the leaf, and a leaf that was cut
  // off fetches what it missed when it links again (resolver lookup and sync).
  const system: Record<string, NatsConfValue> = {
    urls: topology.hub.members.map((m) => instanceEndpoints(m).leafnodeUrl!),
    ...(tls ? { tls: renderTlsBlock(tls, false) } : {}),
    credentials: links.system.credentialsPath,
    account: links.system.account,
  };
  return [remote, system];
}

/** Where a server's full resolver keeps the account JWTs it was pushed: beside its JetStream store. */
export function resolverDir(instance: ServerInstance): string {
  return `${instance.storeDir}/jwt`;
}

/**
 * How often a server's resolver asks a peer for the account JWTs it lacks (nats-server's
 * `interval`, default 1 min): a leaf back from a partition catches up within this.
 */
export const RESOLVER_SYNC_INTERVAL = "5s";

/**
 * Operator-mode block: the trust chain and nats-server's full resolver, which keeps every account
 * JWT it is pushed (`$SYS.REQ.CLAIMS.UPDATE`, security/jwt-push.ts) in `dir` and survives
 * restarts with it. Preloaded: only the bootstrap JWTs, stable for the stack's life, so account
 * and user changes never touch this config. Deletes stay off: a removed account is tombstoned
 * by a newer JWT instead, which the resolvers' sync spreads and no stale peer can undo.
 */
export function renderOperatorMode(security: ServerSecurity, instance: ServerInstance): NatsConfTree {
  return {
    operator: security.operatorJwt,
    system_account: security.systemAccount,
    resolver: { type: "full", dir: resolverDir(instance), allow_delete: false, interval: RESOLVER_SYNC_INTERVAL },
    resolver_preload: { ...security.bootstrapJwts },
  };
}

/**
 * The config tree of one server, keys spelled as nats-server spells them. Without `security`
 * the server runs without auth (the foundation); with it, in operator mode. With `tls.tls`, the
 * client listener requires TLS (clients verify the server), routes and the hub's leafnode
 * listener are mutual TLS, and leaf links present the leaf's certificate; monitoring stays
 * plain http.
 */
export function serverConfigTree(topology: Topology, serverName: string, security?: ServerSecurity, tls: ServerTlsInput = {}): NatsConfTree {
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
      // `always` (the default): fsync before every ack; a duration is an opt-in loss window (docs/durability.md).
      sync_interval: instance.jetstream.syncInterval,
    },
    // Stops are lame duck (SIGUSR2): clients move to other servers before this one exits.
    lame_duck_duration: `${topology.lameDuck.durationSeconds}s`,
    lame_duck_grace_period: `${topology.lameDuck.gracePeriodSeconds}s`,
  };
  // The client listener: clients must speak TLS and verify the server against the CA.
  if (tls.tls) tree.tls = renderTlsBlock(tls.tls, false);
  switch (instance.kind) {
    case "hub":
      // A lone hub member is a standalone JetStream server: nats-server exits at start when a
      // clustered JetStream has no routes to anyone.
      if (topology.hub.members.length > 1) tree.cluster = renderHubCluster(topology, instance, tls);
      tree.leafnodes = {
        listen: `${instance.address}:${requiredPort(instance, instance.leafnodePort, "leafnodePort")}`,
        ...(tls.tls ? { tls: renderTlsBlock(tls.tls, true) } : {}),
      };
      break;
    case "leaf":
      tree.leafnodes = { remotes: renderLeafRemotes(topology, instance, security, tls.tls) };
      break;
    default: {
      const never: never = instance.kind;
      throw new Error(`unknown instance kind '${String(never)}'`);
    }
  }
  return security ? { ...tree, ...renderOperatorMode(security, instance) } : tree;
}

/** nats-server config text for one server of the topology. */
export function renderServerConfig(topology: Topology, serverName: string, security?: ServerSecurity, tls: ServerTlsInput = {}): string {
  const instance = instanceByName(topology, serverName);
  const header =
    `# ${instance.serverName}: ${instance.kind} server on ${instance.host} (topology '${topology.name}').\n` +
    "# Generated by cim-nats from the stack config; edit the config, not this file.\n";
  return header + formatNatsConf(serverConfigTree(topology, serverName, security, tls));
}

/** A size as nats-server takes it: a bare number of bytes, or quoted with its unit ("1G"); quoted digits alone are refused. */
function confSize(size: string): NatsConfValue {
  return /^\d+$/.test(size) ? Number(size) : size;
}
