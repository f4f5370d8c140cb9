/**
 * One NATS connection per (servers, credentials, domain, tls) inside a process, reused by every
 * call of every JetStream resource type (terraform-provider-jetstream connects on every call).
 *
 * The pool lives on `globalThis`: Pulumi deserializes a dynamic provider per resource type, and
 * the module may be loaded more than once in the provider process, but globalThis is one.
 */
import { createHash } from "node:crypto";
import { connect } from "@nats-io/transport-node";
import { credsAuthenticator, nkeyAuthenticator, type NatsConnection } from "@nats-io/nats-core";
import type { ConnectionTarget } from "./types";
import { natsClientTls } from "../tls/client";

/** A pooled connection and the JetStream API prefix of its target's domain. */
export type JetStreamConnection = {
  readonly nc: NatsConnection;
  /** `$JS.<domain>.API`, or `$JS.API` without a domain. */
  readonly apiPrefix: string;
  /** The target's domain, "" when none. */
  readonly domain: string;
};

type Pool = Map<string, Promise<JetStreamConnection>>;
const POOL_KEY = Symbol.for("cim-nats.jetstream.connection-pool");

function pool(): Pool {
  const g = globalThis as unknown as Record<symbol, Pool | undefined>;
  return (g[POOL_KEY] ??= new Map());
}

/** The JetStream API prefix of a domain. */
export function apiPrefix(domain?: string): string {
  return domain ? `$JS.${domain}.API` : "$JS.API";
}

/** Pool key: a hash, so secrets are not kept around as map keys in plain text. */
function poolKey(target: ConnectionTarget): string {
  const material = JSON.stringify([target.servers, target.credentials ?? {}, target.domain ?? "", target.tls ?? {}]);
  return createHash("sha256").update(material).digest("hex");
}

/** The pooled connection for `target`, connecting on first use. */
export function jetStreamConnection(target: ConnectionTarget): Promise<JetStreamConnection> {
  const key = poolKey(target);
  const p = pool();
  let conn = p.get(key);
  if (!conn) {
    conn = openConnection(target);
    p.set(key, conn);
    // A failed or later-closed connection leaves the pool, so the next call reconnects.
    conn.then(
      (c) => void c.nc.closed().then(() => p.get(key) === conn && p.delete(key)),
      () => p.get(key) === conn && p.delete(key),
    );
  }
  return conn;
}

async function openConnection(target: ConnectionTarget): Promise<JetStreamConnection> {
  if (target.servers.length === 0) throw new Error("JetStream target has no servers: set target.servers to the client URLs of the domain's servers");
  const c = target.credentials ?? {};
  const authenticator = c.creds
    ? credsAuthenticator(new TextEncoder().encode(c.creds))
    : c.seed
      ? nkeyAuthenticator(new TextEncoder().encode(c.seed))
      : undefined;
  // With the stack's CA: trust only it, and accept a certificate naming the address dialled (tls/client.ts).
  const tls =
    target.tls && (target.tls.ca || target.tls.cert)
      ? { ...(target.tls.ca ? natsClientTls(target.tls.ca, target.servers) : {}), cert: target.tls.cert, key: target.tls.key }
      : undefined;
  try {
    const nc = await connect({
      servers: [...target.servers],
      name: "cim-nats-jetstream-provider",
      authenticator,
      user: c.user,
      pass: c.password,
      token: c.token,
      tls,
      timeout: 10_000,
      maxReconnectAttempts: 10,
    });
    return { nc, apiPrefix: apiPrefix(target.domain), domain: target.domain ?? "" };
  } catch (e) {
    throw new UnreachableError(
      `cannot connect to ${target.servers.join(", ")}${target.domain ? ` (JetStream domain ${target.domain})` : ""}: ${(e as Error).message}; ` +
        "check that the servers run and that target.servers and target.credentials are right",
    );
  }
}

/** No server of a target answered: the store cannot be asked (its host is down, or leaving). */
export class UnreachableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UnreachableError";
  }
}

/** Closes every pooled connection (tests, benchmarks, process end). */
export async function closeJetStreamConnections(): Promise<void> {
  const p = pool();
  const all = [...p.values()];
  p.clear();
  await Promise.all(all.map((c) => c.then((x) => x.nc.drain().catch(() => x.nc.close()), () => undefined)));
}

/** How many connections the pool holds (tests assert reuse). */
export function pooledConnectionCount(): number {
  return pool().size;
}
