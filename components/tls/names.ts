/**
 * What each server's certificate names (its SANs), from the topology. Pure. Clients, routes and
 * leaf links dial servers by IP address (the topology's URLs), so the address is what they check;
 * the server and host names are there for people and for DNS later.
 */
import type { ServerInstance } from "../topology/types";
import type { CertNames } from "./certs";

export function serverCertNames(instance: ServerInstance): CertNames {
  return {
    commonName: instance.serverName,
    ips: [instance.address],
    dnsNames: [...new Set([instance.serverName, instance.host])],
  };
}
