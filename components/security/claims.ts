/**
 * The `nats` section of operator, account and user JWTs, as plain data computed from the spec:
 * what `nsc add/edit` would write. Pure and deterministic, so the JWT resources can compare
 * claims (not the JWT, whose `iat`/`jti` change on every encoding) to decide whether to re-issue.
 * Field names are the wire names nats-server reads (github.com/nats-io/jwt/v2).
 */
import type { AccountExport, AccountImport, AccountSpec, SubjectRule, UserSpec } from "./types";

/** JSON-able claim data (what a dynamic resource can carry as an input). */
export type ClaimValue = string | number | boolean | readonly ClaimValue[] | { readonly [key: string]: ClaimValue };
export type Claims = { readonly [key: string]: ClaimValue };

/** No limit, as the JWT spells it. */
const NO_LIMIT = -1;

/** Operator claims: the system account is part of the trust chain the servers load. */
export function operatorClaims(systemAccountPublicKey: string): Claims {
  return { system_account: systemAccountPublicKey };
}

/**
 * Account claims without signing keys (withSigningKeys adds its users' keys): limits, and the
 * imports and exports its links need (account-links.ts), each import naming its exporter by
 * public key (`accountKeys`: account name → public key). Every limit is written out: nats-server
 * reads an omitted limit as 0, and `conn: 0` would refuse every connection.
 */
export function accountClaims(account: AccountSpec, accountKeys: Readonly<Record<string, string>> = {}): Claims {
  return {
    ...limitClaims(account),
    ...(account.imports.length ? { imports: sortedBy(account.imports.map((i) => importClaim(i, accountKeys)), (c) => `${c.type} ${c.account} ${c.local_subject ?? c.subject}`) } : {}),
    ...(account.exports.length ? { exports: sortedBy(account.exports.map(exportClaim), (c) => `${c.type} ${c.subject}`) } : {}),
  };
}

/**
 * The account JWT every server's config preloads: only what a server needs before the first
 * push reaches it (limits; JetStream on, unlimited, for an account that has it, so each server's
 * own limits apply until the pushed JWT sets the account's). A function of the account's name
 * and kind alone, so adding a service, a user or a permission never changes a server's config;
 * issued with an `iat` older than any pushed JWT, so nats-server's full resolver keeps a pushed
 * JWT over it at every restart (DirJWTStore.saveIfNewer).
 */
export function bootstrapAccountClaims(account: Pick<AccountSpec, "jetstream">): Claims {
  const unlimited = account.jetstream ? { memoryBytes: NO_LIMIT, fileBytes: NO_LIMIT, streams: NO_LIMIT, consumers: NO_LIMIT } : undefined;
  return limitClaims({ ...(unlimited ? { jetstream: unlimited } : {}) });
}

/** What a deleted service account becomes: no connections, no leaf links, every user revoked, nothing imported or exported. */
export function tombstoneAccountClaims(revokedAt: number): Claims {
  const limits = limitClaims({}) as { limits: Record<string, ClaimValue> };
  return { limits: { ...limits.limits, conn: 0, leaf: 0 }, revocations: { "*": revokedAt } };
}

type ImportClaim = { readonly name: string; readonly subject: string; readonly account: string; readonly type: string; readonly local_subject?: string; readonly share?: boolean };
function importClaim(i: AccountImport, accountKeys: Readonly<Record<string, string>>): ImportClaim {
  const account = accountKeys[i.from];
  if (!account) throw new Error(`account '${i.from}' (imported from for '${i.subject}') has no public key: issue every account of the spec`);
  return { name: i.subject, subject: i.subject, account, type: i.type, ...(i.localSubject !== i.subject ? { local_subject: i.localSubject } : {}), ...(i.share ? { share: true } : {}) };
}

type ExportClaim = { readonly name: string; readonly subject: string; readonly type: string; readonly response_type?: string };
function exportClaim(e: AccountExport): ExportClaim {
  return { name: e.subject, subject: e.subject, type: e.type, ...(e.type === "service" ? { response_type: e.responseType ?? "Singleton" } : {}) };
}

function sortedBy<T>(list: readonly T[], key: (t: T) => string): T[] {
  return [...list].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

function limitClaims(account: Pick<AccountSpec, "jetstream">): Claims {
  const js = account.jetstream;
  return {
    limits: {
      subs: NO_LIMIT,
      data: NO_LIMIT,
      payload: NO_LIMIT,
      imports: NO_LIMIT,
      exports: NO_LIMIT,
      wildcards: true,
      conn: NO_LIMIT,
      leaf: NO_LIMIT,
      // 0/0 disables JetStream for the account (the system account, or none declared).
      mem_storage: js ? js.memoryBytes : 0,
      disk_storage: js ? js.fileBytes : 0,
      streams: js ? js.streams : 0,
      consumer: js ? js.consumers : 0,
    },
  };
}

/** Account claims listing `keys` (public account signing keys, one per user) in a stable order. */
export function withSigningKeys(claims: Claims, keys: readonly string[]): Claims {
  return { ...claims, signing_keys: [...keys].sort() };
}

/** User claims: permissions, response permissions, connection types; no size limits. */
export function userClaims(user: UserSpec): Claims {
  return {
    pub: permission(user.publish),
    sub: permission(user.subscribe),
    ...(user.responses
      ? // The JWT carries the TTL as a Go time.Duration: nanoseconds.
        { resp: { max: user.responses.max, ttl: user.responses.ttlMs * 1_000_000 } }
      : {}),
    ...(user.connectionTypes.length > 0 ? { allowed_connection_types: [...user.connectionTypes] } : {}),
    subs: NO_LIMIT,
    data: NO_LIMIT,
    payload: NO_LIMIT,
  };
}

function permission(rule: SubjectRule): Claims {
  return {
    ...(rule.allow.length > 0 ? { allow: [...rule.allow] } : {}),
    ...(rule.deny.length > 0 ? { deny: [...rule.deny] } : {}),
  };
}
