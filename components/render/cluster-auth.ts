/**
 * The secret half of a hub member's `cluster` block, as the text of the file its public config
 * includes (`cluster { include "…" }`): the route user and password every member requires of a
 * route (`authorization`), and the routes to every other member with those credentials in their
 * URLs — nats-server 2.15 dials an explicit route with the credentials of its URL only
 * (route.go sendRouteConnect), so the URLs are as secret as the password. Without it, anyone who
 * reaches a route port joins the hub. Pure; the text is secret (0600 on the machine).
 */
import { instanceEndpoints } from "../topology/endpoints";
import type { ServerInstance, Topology } from "../topology/types";
import { formatNatsConf } from "./nats-conf";

/** Characters a route password may use: it sits in a URL's user info unescaped. */
const PASSWORD = /^[A-Za-z0-9_-]{24,}$/;

export function renderClusterAuth(topology: Topology, member: ServerInstance, user: string, password: string): string {
  if (!PASSWORD.test(password)) {
    throw new Error("the route password must be at least 24 characters of [A-Za-z0-9_-] (it is written into route URLs unescaped)");
  }
  const routes = topology.hub.members
    .filter((m) => m.serverName !== member.serverName)
    .map((m) => instanceEndpoints(m).routeUrl!.replace("nats-route://", `nats-route://${user}:${password}@`));
  return (
    `# ${member.serverName}: route authorization and routes (secret; included by its cluster block).\n` +
    formatNatsConf({ authorization: { user, password }, routes })
  );
}
