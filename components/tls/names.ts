/**
 * What each server's certificate names (its SANs), from the topology. Pure. Clients, routes and
 * leaf links dial servers by IP address (the topology's URLs), so the address is what they check;
 * the server and host names are there for people and for DNS later. A hub member's certificate
 * also names the route identity (ROUTE_USER): with `verify_and_map` on the cluster listener, a
 * route peer must present a certificate naming it — a leaf's certificate from the same CA does not.
 */
import type { ServerInstance } from "../topology/types";
import type { CertNames } from "./certs";
import { ROUTE_USER } from "./types";

export function serverCertNames(instance: ServerInstance): CertNames {
  return {
    commonName: instance.serverName,
    ips: [instance.address],
    dnsNames: [...new Set([instance.serverName, instance.host, ...(instance.kind === "hub" ? [ROUTE_USER] : [])])],
  };
}
