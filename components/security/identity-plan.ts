/**
 * Every key and JWT a SecuritySpec needs, as plain data: which key signs which JWT, what each
 * JWT claims (as a function of the public keys it names). The Pulumi edge (nats-security.ts)
 * turns each entry into an NKey or IssuedJwt resource; real-server tests issue the same plan
 * without Pulumi. One plan, so the two cannot drift. Pure: no I/O, no Pulumi.
 */
import { accountClaims, bootstrapAccountClaims, type Claims, operatorClaims, userClaims, withSigningKeys } from "./claims";
import type { AdoptedAccount, SigningKeyClaim } from "./provided-identities";
import type { SecuritySpec, UserSpec } from "./types";

/** What a key or JWT is (the NKey and IssuedJwt resources take the same words). */
type IdentityKind = "operator" | "account" | "user";

/** Key ids: `operator`, `account:<name>`, `user:<name>`, `signing:<user>`. */
export type KeyId = string;

export type KeyPlan = {
  readonly id: KeyId;
  /** Resource name after the component's: `user-person-service-signing-key`. */
  readonly resource: string;
  readonly kind: IdentityKind;
  /** A signing key: the permissions of the user it signs (a narrowing replaces the key). */
  readonly signs?: Claims;
  /** Provided (an nsc store, or the secret identitySeeds), not generated: its seed comes from the ProvidedIdentities. */
  readonly provided?: true;
};

/** What the plan takes from identities a site already had (provided-identities.ts), as public data. */
export type AdoptedIdentities = {
  /** Key ids whose seeds are provided. */
  readonly provided: readonly KeyId[];
  /** Account name → signing keys and revocations its JWT keeps. */
  readonly accounts: Readonly<Record<string, AdoptedAccount>>;
};

const NOTHING_ADOPTED: AdoptedIdentities = { provided: [], accounts: {} };

export type JwtPlan = {
  /** `operator`, `account:<name>`, `bootstrap:<name>`, `user:<name>`. */
  readonly id: string;
  readonly resource: string;
  readonly kind: IdentityKind;
  readonly name: string;
  readonly subject: KeyId;
  readonly signer: KeyId;
  /** Users signed by a signing key: the account the key belongs to. */
  readonly issuerAccount?: KeyId;
  /** Keys whose public keys `claims` reads. */
  readonly needs: readonly KeyId[];
  readonly claims: (publicKey: (id: KeyId) => string) => Claims;
  /** A fixed `iat` (bootstrap JWTs: 1). */
  readonly issuedAt?: number;
};

export type IdentityPlan = { readonly keys: readonly KeyPlan[]; readonly jwts: readonly JwtPlan[] };

/** The `iat` of every bootstrap JWT: older than anything pushed, so a server never prefers it. */
export const BOOTSTRAP_ISSUED_AT = 1;

/** Accounts whose bootstrap JWT every server's config preloads: the system and the application account. */
export function bootstrapAccounts(spec: SecuritySpec): string[] {
  return [spec.systemAccount, spec.applicationAccount];
}

const signed = (u: UserSpec) => u.signedBy === "signing-key";

export function identityPlan(spec: SecuritySpec, adopted: AdoptedIdentities = NOTHING_ADOPTED): IdentityPlan {
  const given = (id: KeyId) => (adopted.provided.includes(id) ? { provided: true as const } : {});
  const keys: KeyPlan[] = [
    { id: "operator", resource: "operator-key", kind: "operator", ...given("operator") },
    ...spec.accounts.map((a) => ({ id: `account:${a.name}`, resource: `account-${a.name}-key`, kind: "account" as const, ...given(`account:${a.name}`) })),
    ...spec.users.map((u) => ({ id: `user:${u.name}`, resource: `user-${u.name}-key`, kind: "user" as const })),
    // One signing key per user it signs: the account JWT lists exactly the declared users' keys,
    // so removing a user (dropping its key) refuses its creds; a narrowing replaces the key.
    ...spec.users.filter(signed).map((u) => ({ id: `signing:${u.name}`, resource: `user-${u.name}-signing-key`, kind: "account" as const, signs: userClaims(u) })),
  ];
  const jwts: JwtPlan[] = [
    {
      id: "operator",
      resource: "operator-jwt",
      kind: "operator",
      name: spec.operator,
      subject: "operator",
      signer: "operator",
      needs: [`account:${spec.systemAccount}`],
      claims: (pub) => operatorClaims(pub(`account:${spec.systemAccount}`)),
    },
    ...spec.accounts.map((a): JwtPlan => {
      const signers = spec.users.filter((u) => u.account === a.name && signed(u)).map((u) => `signing:${u.name}`);
      // Only the accounts it imports from: a new service elsewhere leaves this claim known at preview.
      const exporters = [...new Set(a.imports.map((i) => i.from))];
      const keysOf = (pub: (id: KeyId) => string) => Object.fromEntries(exporters.map((x) => [x, pub(`account:${x}`)]));
      return {
        id: `account:${a.name}`,
        resource: `account-${a.name}-jwt`,
        kind: "account",
        name: a.name,
        subject: `account:${a.name}`,
        signer: "operator",
        needs: [...exporters.map((x) => `account:${x}`), ...signers],
        claims: (pub) => withAdopted(withSigningKeys(accountClaims(a, keysOf(pub)), signers.map(pub)), adopted.accounts[a.name]),
      };
    }),
    ...bootstrapAccounts(spec).map((name): JwtPlan => {
      const a = spec.accounts.find((x) => x.name === name)!;
      return {
        id: `bootstrap:${name}`,
        resource: `account-${name}-bootstrap-jwt`,
        kind: "account",
        name,
        subject: `account:${name}`,
        signer: "operator",
        needs: [],
        claims: () => bootstrapAccountClaims(a),
        issuedAt: BOOTSTRAP_ISSUED_AT,
      };
    }),
    ...spec.users.map(
      (u): JwtPlan => ({
        id: `user:${u.name}`,
        resource: `user-${u.name}-jwt`,
        kind: "user",
        name: u.name,
        subject: `user:${u.name}`,
        signer: signed(u) ? `signing:${u.name}` : `account:${u.account}`,
        ...(signed(u) ? { issuerAccount: `account:${u.account}` } : {}),
        needs: [],
        claims: () => userClaims(u),
      }),
    ),
  ];
  return { keys, jwts };
}

/**
 * An account's claims plus what it keeps from before the stack: the signing keys earlier creds
 * were signed with (after the stack's own, sorted by key), the revocations (sorted by user key)
 * and nsc's default permissions.
 * Nothing adopted: the claims unchanged, so a generated stack's JWTs stay as they were.
 */
function withAdopted(claims: Claims, kept: AdoptedAccount | undefined): Claims {
  if (!kept || (kept.signingKeys.length === 0 && Object.keys(kept.revocations).length === 0 && !kept.defaultPermissions)) return claims;
  const keyOf = (k: SigningKeyClaim) => (typeof k === "string" ? k : k.key);
  const own = (claims.signing_keys ?? []) as readonly string[];
  const extra = kept.signingKeys.filter((k) => !own.includes(keyOf(k))).sort((x, y) => (keyOf(x) < keyOf(y) ? -1 : 1));
  const revoked = Object.keys(kept.revocations).sort();
  return {
    ...claims,
    ...(extra.length ? { signing_keys: [...own, ...extra] } : {}),
    ...(revoked.length ? { revocations: Object.fromEntries(revoked.map((k) => [k, kept.revocations[k]])) } : {}),
    ...(kept.defaultPermissions ? { default_permissions: kept.defaultPermissions } : {}),
  } as Claims;
}
