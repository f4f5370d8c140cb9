/**
 * Account JWTs reach servers the way `nsc push` sends them: a `$SYS.REQ.ACCOUNT.<key>.CLAIMS.UPDATE`
 * request in the system account, which nats-server's full resolver stores and applies at once —
 * no config change, no reload. `AccountJwtPush` sends its account's JWT to every server
 * directly (each confirms "jwt updated" with its own name), so `up` knows which servers have it;
 * a server it cannot reach catches up through its system link (resolver sync, seconds after it
 * links again) and is named in `pending`, which the next preview shows as an update. The pushes
 * of one run share a system connection per server (withSystemConnection).
 *
 * Removing a service account pushes its tombstone: a newer JWT of that account with no
 * connections, no leaf links, every user revoked, no imports. Newer wins in the resolvers' sync,
 * so no stale server can bring the old account back (deletes would not spread that way).
 */
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { credsAuthenticator, type NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { tombstoneAccountClaims } from "./claims";
import { encodeAccountJwtAt, jwtIssuedAt } from "./jwt";
import { containsUnknown } from "../provider/canonical";
import { dynamicProvider, providerExports } from "../provider/provider-loader";
import { natsClientTls } from "../tls/client";
import { nudgeStalledHubSources } from "../jetstream/source-nudge";

/** One server to push to: its name (as it reports it) and client URL. */
export type PushServer = { readonly name: string; readonly url: string };

export type AccountPushInputs = {
  /** Account name (for messages and the tombstone's JWT name). */
  readonly account: string;
  readonly accountPublicKey: string;
  /** The account JWT to deliver. */
  readonly jwt: string;
  /** Every server of the topology. Not diffed: a new server fetches the JWTs it lacks itself. */
  readonly servers: readonly PushServer[];
  /** `.creds` of a system-account user (sys-monitor). Secret. */
  readonly creds: string;
  /** The stack CA (servers require TLS). */
  readonly caCertPem?: string;
  /** Service accounts: a delete pushes the account's tombstone. */
  readonly tombstone: boolean;
  /** Signs the tombstone. Secret. */
  readonly operatorSeed: string;
  /**
   * Leaves whose link in this account authenticates with a key this JWT lists (the application
   * and system accounts): after a push, wait (bounded) until each has linked to a hub member, so
   * what depends on the push (an aggregate sourcing them) finds the links up. Not diffed.
   */
  readonly linkedLeaves?: readonly string[];
  /**
   * `.creds` of a user of the data account with the JetStream API at the hub (the JetStream
   * admin). Secret. With `linkedLeaves`: once their links are up, the hub streams whose sources
   * of them stalled meanwhile are nudged (jetstream/source-nudge.ts), not left in nats-server's retry
   * backoff. Not diffed.
   */
  readonly sourceNudgeCreds?: string;
};

export type AccountPushOutputs = AccountPushInputs & {
  /** Servers that confirmed the JWT. */
  readonly confirmed: readonly string[];
  /** Servers that did not (unreachable): they catch up by resolver sync; the next `up` pushes again. */
  readonly pending: readonly string[];
};

/** What one server answered to a push. */
type ServerAnswer = { readonly server: string; readonly ok: boolean; readonly message: string };

const PUSH_TIMEOUT_MS = 5_000;
/** How long a push keeps asking servers that did not answer before leaving them pending. */
const PUSH_RETRY_MS = 20_000;

/** Connects to one server as the system user (TLS with the stack CA when given). */
async function connectSystem(server: PushServer, creds: string, caCertPem: string | undefined): Promise<NatsConnection> {
  return connect({
    servers: [server.url],
    name: "cim-nats-jwt-push",
    authenticator: credsAuthenticator(new TextEncoder().encode(creds)),
    ...(caCertPem ? { tls: natsClientTls(caCertPem, [server.url]) } : {}),
    timeout: PUSH_TIMEOUT_MS,
    reconnect: false,
  });
}

type PooledSystemConnection = { readonly nc: Promise<NatsConnection>; users: number; idle?: ReturnType<typeof setTimeout> };
type SystemPool = Map<string, PooledSystemConnection>;
const SYSTEM_POOL_KEY = Symbol.for("cim-nats.jwt-push.system-connections");
/** An idle pooled connection closes after this long: a run's pushes come close together. */
const SYSTEM_IDLE_MS = 5_000;

function systemPool(): SystemPool {
  const g = globalThis as unknown as Record<symbol, SystemPool | undefined>;
  return (g[SYSTEM_POOL_KEY] ??= new Map());
}

/**
 * The system user's connection to one server, shared by every push and link wait in this process
 * (on globalThis: the module may be loaded once per resource type). One TLS handshake and one
 * authentication per server and run, not per account: at 48 leaves an `up` from nothing pushes 6
 * accounts to 51 servers, and 306 handshakes at once on a loaded machine left servers pending.
 * A connection that closes (its server restarted) or has been idle for SYSTEM_IDLE_MS leaves the
 * pool; `use` returns it to the pool.
 */
async function withSystemConnection<T>(server: PushServer, creds: string, caCertPem: string | undefined, use: (nc: NatsConnection) => Promise<T>): Promise<T> {
  const pool = systemPool();
  const key = createHash("sha256").update(JSON.stringify([server.url, creds, caCertPem ?? ""])).digest("hex");
  let entry = pool.get(key);
  if (!entry) {
    const created: PooledSystemConnection = { nc: connectSystem(server, creds, caCertPem), users: 0 };
    pool.set(key, created);
    const evict = () => pool.get(key) === created && pool.delete(key);
    created.nc.then((nc) => void nc.closed().then(evict), evict);
    entry = created;
  }
  const e = entry;
  if (e.idle) clearTimeout(e.idle);
  e.idle = undefined;
  e.users++;
  try {
    return await use(await e.nc);
  } finally {
    if (--e.users === 0) {
      e.idle = setTimeout(() => void e.nc.then((nc) => nc.close()).catch(() => undefined), SYSTEM_IDLE_MS);
      e.idle.unref();
    }
  }
}

/** Closes every pooled system connection (tests; the provider process closes them by exiting). */
export async function closeSystemConnections(): Promise<void> {
  const pool = systemPool();
  const all = [...pool.values()];
  pool.clear();
  await Promise.all(
    all.map(async (e) => {
      if (e.idle) clearTimeout(e.idle);
      await e.nc.then((nc) => nc.close(), () => undefined).catch(() => undefined);
    }),
  );
}

/**
 * Sends `jwt` to `server` and waits for that server's own answer (linked servers may answer the
 * same request too; only the one dialled counts). Undefined when the server cannot be reached.
 */
async function pushToServer(server: PushServer, accountPublicKey: string, jwt: string, creds: string, caCertPem: string | undefined): Promise<ServerAnswer | undefined> {
  try {
    return await withSystemConnection(server, creds, caCertPem, async (nc) => {
      const inbox = `_INBOX.jwt-push.${Math.random().toString(36).slice(2)}`;
      let timer: ReturnType<typeof setTimeout> | undefined;
      let sub: ReturnType<NatsConnection["subscribe"]> | undefined;
      const answer = new Promise<ServerAnswer | undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), PUSH_TIMEOUT_MS);
        sub = nc.subscribe(inbox, {
          callback: (_err, m) => {
            let r: { server?: { name?: string }; data?: { message?: string }; error?: { description?: string } };
            try {
              r = m.json();
            } catch {
              return;
            }
            if (r.server?.name !== server.name) return;
            resolve({ server: server.name, ok: !r.error, message: r.error?.description ?? r.data?.message ?? "" });
          },
        });
      });
      try {
        await nc.flush();
        nc.publish(`$SYS.REQ.ACCOUNT.${accountPublicKey}.CLAIMS.UPDATE`, new TextEncoder().encode(jwt), { reply: inbox });
        const a = await answer;
        // No answer on a connection that looked open: drop it, so the next attempt dials again.
        if (!a) await nc.close().catch(() => undefined);
        return a;
      } finally {
        clearTimeout(timer);
        sub?.unsubscribe();
      }
    });
  } catch {
    return undefined;
  }
}

/**
 * Pushes `jwt` to every server; throws when a server refuses it (a JWT the stack should never
 * issue) or when no server at all confirmed it. Returns who confirmed and who could not be asked.
 */
export async function pushAccountJwt(
  args: Pick<AccountPushInputs, "account" | "accountPublicKey" | "jwt" | "servers" | "creds" | "caCertPem"> & {
    /** How long servers that cannot be asked are asked again (default PUSH_RETRY_MS). */
    readonly retryMs?: number;
  },
): Promise<{ confirmed: string[]; pending: string[] }> {
  // A server that cannot be asked now (starting, busy, briefly cut off) is asked again for a
  // while: what stays pending makes the next preview show an update, so a transient must not.
  const deadline = Date.now() + (args.retryMs ?? PUSH_RETRY_MS);
  const answers: (ServerAnswer | undefined)[] = args.servers.map(() => undefined);
  for (;;) {
    const asking = args.servers.map((s, i) => (answers[i] ? undefined : s));
    const got = await Promise.all(asking.map((s) => (s ? pushToServer(s, args.accountPublicKey, args.jwt, args.creds, args.caCertPem) : undefined)));
    got.forEach((a, i) => a && (answers[i] = a));
    if (answers.every((a) => a) || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 1_000));
  }
  const refused = answers.filter((a): a is ServerAnswer => a !== undefined && !a.ok);
  if (refused.length) {
    throw new Error(`account '${args.account}': ${refused.map((r) => `server '${r.server}' refused its JWT: ${r.message}`).join("; ")}`);
  }
  const confirmed = answers.filter((a): a is ServerAnswer => a?.ok === true).map((a) => a.server);
  const pending = args.servers.map((s) => s.name).filter((n) => !confirmed.includes(n));
  if (args.servers.length && !confirmed.length) {
    throw new Error(
      `account '${args.account}': no server confirmed its JWT (tried ${args.servers.map((s) => `${s.name} ${s.url}`).join(", ")}): ` +
        "check that they run and that this machine reaches their client ports, then run `pulumi up` again",
    );
  }
  return { confirmed, pending };
}

/** How long a push waits for the leaves' links it enabled; after that they link on their own (retry every second). */
const LINK_WAIT_MS = 15_000;

/**
 * Waits until every leaf of `leaves` has a leafnode connection in `accountPublicKey` at some hub
 * member (`$SYS.REQ.SERVER.PING.LEAFZ`, asked at the first hub member that answers). Returns the
 * leaves still unlinked after LINK_WAIT_MS (a leaf that is down, or cut off, links later by itself).
 */
export async function awaitLeafLinks(args: {
  readonly hubs: readonly PushServer[];
  readonly leaves: readonly string[];
  readonly accountPublicKey: string;
  readonly creds: string;
  readonly caCertPem?: string;
}): Promise<string[]> {
  if (!args.leaves.length || !args.hubs.length) return [];
  for (const hub of args.hubs) {
    const missing = await withSystemConnection(hub, args.creds, args.caCertPem, (nc) => leavesStillUnlinked(nc, args)).catch(() => undefined);
    if (missing) return missing;
  }
  return [...args.leaves];
}

/** Asks every server's LEAFZ for the account until each leaf shows a link or LINK_WAIT_MS is over; the leaves still missing. */
async function leavesStillUnlinked(nc: NatsConnection, args: { readonly leaves: readonly string[]; readonly accountPublicKey: string }): Promise<string[]> {
  const deadline = Date.now() + LINK_WAIT_MS;
  for (;;) {
    const linked = new Set<string>();
    const inbox = `_INBOX.jwt-push-leafz.${Math.random().toString(36).slice(2)}`;
    const sub = nc.subscribe(inbox, {
      callback: (_err, m) => {
        try {
          for (const l of (m.json() as { data?: { leafs?: { name?: string }[] } }).data?.leafs ?? []) if (l.name) linked.add(l.name);
        } catch {
          // not a leafz answer
        }
      },
    });
    nc.publish("$SYS.REQ.SERVER.PING.LEAFZ", new TextEncoder().encode(JSON.stringify({ account: args.accountPublicKey })), { reply: inbox });
    await nc.flush();
    await new Promise((r) => setTimeout(r, 300));
    sub.unsubscribe();
    const missing = args.leaves.filter((l) => !linked.has(l));
    if (!missing.length || Date.now() > deadline) return missing;
  }
}

/** The tombstone of a removed account, pushed to whoever answers; unreachable servers get it by resolver sync. */
export async function pushTombstone(props: AccountPushOutputs): Promise<void> {
  const iat = Math.max(Math.floor(Date.now() / 1000), jwtIssuedAt(props.jwt) + 1);
  const jwt = encodeAccountJwtAt(props.account, props.accountPublicKey, tombstoneAccountClaims(iat), props.operatorSeed, iat);
  await Promise.all(props.servers.map((s) => pushToServer(s, props.accountPublicKey, jwt, props.creds, props.caCertPem)));
}

// ---- provider functions (dynamicProvider loads this module at call time) ----

export async function checkAccountPush(_olds: unknown, news: AccountPushInputs): Promise<pulumi.dynamic.CheckResult> {
  const failures: pulumi.dynamic.CheckFailure[] = [];
  // At preview an input that is not known yet arrives as Pulumi's unknown sentinel: nothing to check.
  if (typeof news.jwt === "string" && !containsUnknown(news.jwt) && news.jwt.split(".").length !== 3) {
    failures.push({ property: "jwt", reason: "is not a JWT: pass the account's IssuedJwt.jwt" });
  }
  return { inputs: news, failures };
}

export async function diffAccountPush(_id: string, olds: AccountPushOutputs, news: AccountPushInputs): Promise<pulumi.dynamic.DiffResult> {
  if (olds.accountPublicKey !== news.accountPublicKey) return { changes: true, replaces: ["accountPublicKey"] };
  const changed: string[] = [];
  if (olds.jwt !== news.jwt) changed.push("jwt");
  if (olds.tombstone !== news.tombstone) changed.push("tombstone");
  // Servers that never confirmed: the next up pushes again.
  if ((olds.pending ?? []).length) changed.push("pending");
  return { changes: changed.length > 0 };
}

/**
 * Push, then (for the link accounts) wait for the links it enabled and nudge the hub's stalled
 * sources: when every server restarted in this run (a resolver change), the hub's sources of the
 * leaves failed while the links waited for this push and sit in nats-server's retry backoff.
 */
async function pushAndLink(inputs: AccountPushInputs): Promise<AccountPushOutputs> {
  const result = await pushAccountJwt(inputs);
  const leaves = inputs.linkedLeaves ?? [];
  const hubs = inputs.servers.filter((s) => !leaves.includes(s.name));
  const unlinked = await awaitLeafLinks({ hubs, leaves, accountPublicKey: inputs.accountPublicKey, creds: inputs.creds, caCertPem: inputs.caCertPem });
  if (leaves.length > 0 && unlinked.length < leaves.length && inputs.sourceNudgeCreds) {
    // A nudge that fails changes nothing: nats-server retries the sources on its own backoff.
    await nudgeStalledHubSources({ servers: hubs.map((h) => h.url), credentials: { creds: inputs.sourceNudgeCreds }, ...(inputs.caCertPem ? { tls: { ca: inputs.caCertPem } } : {}) }).catch(() => undefined);
  }
  return { ...inputs, ...result };
}

export async function createAccountPush(inputs: AccountPushInputs): Promise<{ id: string; outs: AccountPushOutputs }> {
  return { id: `jwt-push:${inputs.accountPublicKey}`, outs: await pushAndLink(inputs) };
}

export async function updateAccountPush(_id: string, _olds: AccountPushOutputs, news: AccountPushInputs): Promise<{ outs: AccountPushOutputs }> {
  return { outs: await pushAndLink(news) };
}

export async function readAccountPush(id: string, props: AccountPushOutputs): Promise<pulumi.dynamic.ReadResult<AccountPushOutputs>> {
  return { id, props };
}

export async function deleteAccountPush(_id: string, props: AccountPushOutputs): Promise<void> {
  // The system and data accounts go with the servers; a removed service account is tombstoned.
  if (props.tombstone) await pushTombstone(props);
}

/** One provider object for every push: Pulumi serializes a provider once per object (its cache is keyed on it). */
const accountPushProvider = dynamicProvider(__filename, providerExports("AccountPush"));

export type AccountJwtPushArgs = { [K in keyof AccountPushInputs]: pulumi.Input<AccountPushInputs[K]> };

/** Delivers one account's JWT to every server (and its tombstone when a service account goes). */
export class AccountJwtPush extends pulumi.dynamic.Resource {
  declare public readonly confirmed: pulumi.Output<string[]>;
  declare public readonly pending: pulumi.Output<string[]>;

  constructor(name: string, args: AccountJwtPushArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      accountPushProvider,
      name,
      { ...args, confirmed: undefined, pending: undefined },
      { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "creds", "operatorSeed", "sourceNudgeCreds"] },
      "cim-nats",
      "AccountJwtPush",
    );
  }
}
