/**
 * The `nats` section of operator, account and user JWTs, as plain data computed from the spec:
 * what `nsc add/edit` would write. Pure and deterministic, so the JWT resources can compare
 * claims (not the JWT, whose `iat`/`jti` change on every encoding) to decide whether to re-issue.
 * Field names are the wire names nats-server reads (github.com/nats-io/jwt/v2).
 */
import type { AccountSpec, SubjectRule, UserSpec } from "./types";

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
 * Account claims without signing keys (withSigningKeys adds its users' keys). Every limit is written out: nats-server reads an omitted limit as 0, and `conn: 0`
 * would refuse every connection.
 */
export function accountClaims(account: AccountSpec): Claims {
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
