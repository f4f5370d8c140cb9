/**
 * NATS CLI contexts (`nats context save` JSON, natscli v0.5): one per leaf and one for the hub, so
 * `nats --context nats-1 stream ls` works, and one per service and place it connects
 * (`person-service@nats-1`, `projection-service@hub`) with its creds, JetStream domain and inbox
 * prefix, so `nats --context person-service@nats-1 pub --jetstream …` works with no flags. A
 * context names a creds file by path and never holds a seed itself (`user_seed` stays empty).
 */
import type { Topology } from "../topology/types";
import { credsFileName } from "./creds";
import type { UserSpec } from "./types";

/** The fields natscli writes for a context, in its order. */
export type NatsContextFile = {
  readonly description: string;
  /** Comma-separated server URLs. */
  readonly url: string;
  readonly socks_proxy: string;
  readonly token: string;
  readonly user: string;
  readonly password: string;
  /** Path of the creds file on the machine running `nats`. */
  readonly creds: string;
  readonly nkey: string;
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
  readonly nsc: string;
  readonly jetstream_domain: string;
  readonly jetstream_api_prefix: string;
  readonly jetstream_event_prefix: string;
  readonly inbox_prefix: string;
  readonly user_jwt: string;
  readonly user_seed: string;
  readonly color_scheme: string;
  readonly tls_first: boolean;
  readonly windows_cert_store: string;
  readonly windows_cert_match_by: string;
  readonly windows_cert_match: string;
  readonly windows_ca_certs_match: null;
};

/** The name of the hub's context; leaves' contexts are named after their server. */
export const HUB_CONTEXT = "hub";
/** The hub's context as the system account (`nats server ls`, `nats server report jetstream`). */
export const HUB_SYSTEM_CONTEXT = "hub-system";

/** One context's JSON text, as `nats context save --server ... --creds ... --js-domain ...` writes it. */
export function natsContext(fields: {
  readonly description: string;
  readonly urls: readonly string[];
  readonly credsPath: string;
  readonly jetstreamDomain: string;
  /** Prefix of the client's reply subjects; "" is natscli's default `_INBOX`. */
  readonly inboxPrefix?: string;
  /** Path of the stack's CA certificate on the machine running `nats` (servers require TLS). Default "" (plain). */
  readonly caPath?: string;
}): string {
  const context: NatsContextFile = {
    description: fields.description,
    url: fields.urls.join(","),
    socks_proxy: "",
    token: "",
    user: "",
    password: "",
    creds: fields.credsPath,
    nkey: "",
    cert: "",
    key: "",
    ca: fields.caPath ?? "",
    nsc: "",
    jetstream_domain: fields.jetstreamDomain,
    jetstream_api_prefix: "",
    jetstream_event_prefix: "",
    inbox_prefix: fields.inboxPrefix ?? "",
    user_jwt: "",
    user_seed: "",
    color_scheme: "",
    tls_first: false,
    windows_cert_store: "",
    windows_cert_match_by: "",
    windows_cert_match: "",
    windows_ca_certs_match: null,
  };
  return JSON.stringify(context, null, 2) + "\n";
}

/**
 * Context name → JSON text: one per leaf (its client URL and JetStream domain) and `hub` (every
 * member's client URL, domain of the hub), all with the creds file at `credsPath` (the JetStream
 * admin's); with `systemCredsPath`, also `hub-system` for the server commands.
 */
export function natsContexts(
  topology: Topology,
  credsPath: string,
  systemCredsPath?: string,
  services?: { readonly users: readonly UserSpec[]; readonly credsDir: string },
  caPath?: string,
): Readonly<Record<string, string>> {
  const contexts: Record<string, string> = {};
  const ca = caPath ? { caPath } : {};
  for (const leaf of topology.leaves) {
    contexts[leaf.serverName] = natsContext({
      description: `cim-nats ${topology.name}: leaf ${leaf.serverName} (JetStream domain ${leaf.jetstreamDomain})`,
      urls: [`nats://${leaf.address}:${leaf.clientPort}`],
      credsPath,
      jetstreamDomain: leaf.jetstreamDomain,
      ...ca,
    });
  }
  if (topology.hub.members.length > 0) {
    contexts[HUB_CONTEXT] = natsContext({
      description: `cim-nats ${topology.name}: hub cluster ${topology.hub.name} (JetStream domain ${topology.hub.jetstreamDomain})`,
      urls: topology.hub.members.map((m) => `nats://${m.address}:${m.clientPort}`),
      credsPath,
      jetstreamDomain: topology.hub.jetstreamDomain,
      ...ca,
    });
    if (systemCredsPath !== undefined) {
      contexts[HUB_SYSTEM_CONTEXT] = natsContext({
        description: `cim-nats ${topology.name}: hub cluster ${topology.hub.name} as the system account`,
        urls: topology.hub.members.map((m) => `nats://${m.address}:${m.clientPort}`),
        credsPath: systemCredsPath,
        jetstreamDomain: "",
        ...ca,
      });
    }
  }
  if (services) Object.assign(contexts, serviceContexts(topology, services.users, services.credsDir, caPath));
  return contexts;
}

/** The context name of a service at a place: `person-service@nats-1`, `projection-service@hub`. */
export const serviceContextName = (user: string, place: string): string => `${user}@${place}`;

/**
 * One context per service user and place it connects to (its `at`): `<user>@<leaf>` with that
 * leaf's URL and domain, `<user>@hub` with every member's URL and the hub domain; each with the
 * user's creds file (`<credsDir>/<user>.creds`) and inbox prefix. Users without `at` get none.
 */
export function serviceContexts(topology: Topology, users: readonly UserSpec[], credsDir: string, caPath?: string): Readonly<Record<string, string>> {
  const contexts: Record<string, string> = {};
  const dir = credsDir.replace(/\/+$/, "");
  for (const u of users) {
    for (const place of u.places ?? []) {
      const leaf = topology.leaves.find((l) => l.serverName === place.name);
      const urls = place.level === "hub" ? topology.hub.members.map((m) => `nats://${m.address}:${m.clientPort}`) : leaf ? [`nats://${leaf.address}:${leaf.clientPort}`] : [];
      contexts[serviceContextName(u.name, place.name)] = natsContext({
        description: `cim-nats ${topology.name}: ${u.name} at ${place.level === "hub" ? `hub cluster ${topology.hub.name}` : `leaf ${place.name}`} (JetStream domain ${place.domain})`,
        urls,
        credsPath: `${dir}/${credsFileName(u.name)}`,
        jetstreamDomain: place.domain,
        inboxPrefix: u.inboxPrefix ?? "",
        ...(caPath ? { caPath } : {}),
      });
    }
  }
  return contexts;
}
