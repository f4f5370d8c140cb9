/**
 * TLS options for the stack's own NATS clients (JetStream providers, verify, the CID service,
 * leader handoff): trust only the stack's CA, and accept a server certificate that names the
 * address dialled.
 *
 * Why a custom identity check: nats.js (transport-node 3.4) leaves the TLS server name empty
 * when a URL's host is an IP address, so Node checks the certificate against "localhost" and
 * refuses certificates that name the IP (measured: "Host: localhost. is not in the cert's
 * altnames: IP Address:127.0.80.2"). The chain is still verified against the CA by Node; this
 * only replaces the name check with "names one of the servers this client was given".
 */
import * as tls from "node:tls";

export type NatsClientTls = {
  readonly ca: string;
  readonly checkServerIdentity: (host: string, cert: tls.PeerCertificate) => Error | undefined;
};

/** Hosts of a list of NATS URLs (`nats://10.0.0.41:4222` → `10.0.0.41`). */
function hostsOf(servers: readonly string[]): string[] {
  return servers.map((s) => new URL(s.includes("://") ? s : `nats://${s}`).hostname.replace(/^\[|\]$/g, ""));
}

/** nats.js `tls` options: the CA, and a certificate must name one of `servers`' hosts. */
export function natsClientTls(caPem: string, servers: readonly string[]): NatsClientTls {
  const hosts = hostsOf(servers);
  return {
    ca: caPem,
    checkServerIdentity(_host, cert) {
      const errors = hosts.map((h) => tls.checkServerIdentity(h, cert));
      if (errors.some((e) => e === undefined)) return undefined;
      return new Error(`server certificate (${cert.subjectaltname ?? "no SANs"}) names none of ${hosts.join(", ")}: ${errors[0]?.message ?? ""}`);
    },
  };
}
