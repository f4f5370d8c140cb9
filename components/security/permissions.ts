/**
 * Whether a user's permission claims narrowed: what replaces a signing key's record
 * (signed-permissions.ts) and revokes an adopted nsc user's creds (provided-identities.ts). Pure,
 * no imports: the SignedPermissions provider's closure captures it.
 */

/** A user's permission claims (claims.ts userClaims), compared for narrowing. */
export type Permissions = { readonly [key: string]: unknown };

/**
 * Whether `next` takes away anything `prev` allowed: an allowed subject no longer listed (or
 * "everything" becoming a list), a new deny, response permissions reduced, a connection type
 * dropped. Literal comparison: a subject rewritten under a wider wildcard counts as narrowed
 * (the safe side: one key rotation too many, never one too few).
 */
export function permissionsNarrowed(prev: Permissions, next: Permissions): boolean {
  const list = (v: unknown, key: string): string[] | undefined => {
    const x = (v as Record<string, unknown> | undefined)?.[key];
    return Array.isArray(x) ? x.map(String) : undefined;
  };
  const allowLost = (p: unknown, n: unknown) => {
    const before = list(p, "allow") ?? [];
    const after = list(n, "allow") ?? [];
    if (after.length === 0) return false; // everything is allowed now
    if (before.length === 0) return true; // everything was allowed before
    return before.some((s) => !after.includes(s));
  };
  const denyAdded = (p: unknown, n: unknown) => (list(n, "deny") ?? []).some((s) => !(list(p, "deny") ?? []).includes(s));
  for (const k of ["pub", "sub"]) if (allowLost(prev[k], next[k]) || denyAdded(prev[k], next[k])) return true;
  const resp = (v: unknown) => v as { max?: number; ttl?: number } | undefined;
  const [rp, rn] = [resp(prev.resp), resp(next.resp)];
  if (rp && (!rn || (rn.max ?? 1) < (rp.max ?? 1) || ((rp.ttl ?? 0) === 0 ? (rn.ttl ?? 0) !== 0 : (rn.ttl ?? 0) !== 0 && (rn.ttl ?? 0) < (rp.ttl ?? 0)))) return true;
  const types = (v: unknown) => (Array.isArray(v) ? v.map(String) : []);
  const [tp, tn] = [types(prev.allowed_connection_types), types(next.allowed_connection_types)];
  if (tn.length > 0 && (tp.length === 0 || tp.some((t) => !tn.includes(t)))) return true;
  return false;
}
