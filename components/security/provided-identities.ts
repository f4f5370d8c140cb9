/**
 * Bring your own identities: the operator and account keys a site already has (an nsc store, or
 * the secret `cim-nats:identitySeeds`) checked against the SecuritySpec and turned into what the
 * identity plan takes — which keys are provided (their seeds), and what each adopted account's
 * JWT keeps from before: the signing keys nsc users were signed with, nsc's own revocations, and
 * the revocations the stack's rules add (an nsc user declared with narrower permissions, or not
 * declared at all with `undeclaredUsers: revoke`). Pure: the store is read by nsc-store.ts.
 *
 * Seeds pass through here as plain strings: the edge wraps them in `pulumi.secret` and no message
 * built here ever includes one (they name key ids, files and public keys).
 */
import * as nkeys from "@nats-io/nkeys";
import { ConfigError, type ConfigIssue } from "../config/errors";
import { type ClaimValue, type Claims, userClaims } from "./claims";
import type { KeyId } from "./identity-plan";
import { permissionsNarrowed } from "./permissions";
import { AccountKind, CONNECTION_TYPES, type SecuritySpec } from "./types";

/** A signing key as an account JWT lists it: a public key, or a scope (nsc `edit signing-key`). */
export type SigningKeyClaim = string | { readonly kind: string; readonly key: string; readonly [field: string]: ClaimValue };

/** What an adopted account's JWT keeps besides what the spec derives. */
export type AdoptedAccount = {
  /** Signing keys listed as before, so creds they signed keep working. */
  readonly signingKeys: readonly SigningKeyClaim[];
  /** User public key → `iat` at or before which its JWTs are refused (nsc's, plus the stack's rules). */
  readonly revocations: Readonly<Record<string, number>>;
  /**
   * The account's `default_permissions` (what its users without permissions of their own get),
   * kept when nsc set any: dropping them would widen what those users' nsc creds may do.
   */
  readonly defaultPermissions?: Claims;
};

/** The identities the stack signs with instead of generating (the identity plan's input). */
export type ProvidedIdentities = {
  /** Where they come from, for messages: `nsc store /srv/nsc` or `cim-nats:identitySeeds`. */
  readonly origin: string;
  /** Key id (`operator`, `account:<name>`) → seed. Secret: never printed. */
  readonly seeds: Readonly<Record<KeyId, string>>;
  /** Account name → what its JWT keeps (adopted accounts only). */
  readonly accounts: Readonly<Record<string, AdoptedAccount>>;
  /** A key may be replaced (generated ↔ provided, or another provided key). */
  readonly allowSwitch: boolean;
  /** What the stack decided about the store's users, for the preview's warnings: `PLATFORM/legacy: kept (not declared)`. */
  readonly notes: readonly string[];
};

/** A user JWT found in an nsc store: public material only. */
export type NscUser = {
  readonly name: string;
  readonly publicKey: string;
  /** The JWT's `iat` (seconds). */
  readonly issuedAt: number;
  /** Its `nats` claims (permissions, connection types, limits). */
  readonly claims: Claims;
};

/** An account of an nsc store. */
export type NscAccount = {
  readonly name: string;
  readonly publicKey: string;
  /** From the keystore; undefined when the keystore lacks it. */
  readonly seed?: string;
  /** The account JWT's `signing_keys`. */
  readonly signingKeys: readonly SigningKeyClaim[];
  /** The account JWT's `revocations`. */
  readonly revocations: Readonly<Record<string, number>>;
  /** The account JWT's `default_permissions`, when it sets any subject. */
  readonly defaultPermissions?: Claims;
  readonly users: readonly NscUser[];
};

/** An nsc store as nsc-store.ts reads it: one operator and its accounts. */
export type NscStore = {
  /** Where it was read from (stores dir), for messages. */
  readonly dir: string;
  /** Where the seeds were looked for. */
  readonly keysDir: string;
  readonly operator: { readonly name: string; readonly publicKey: string; readonly systemAccount?: string; readonly seed?: string };
  readonly accounts: readonly NscAccount[];
};

const KEY_PREFIX = { operator: "O", account: "A" } as const;

/** Why `seed` is not a seed of `kind` ("" when it is). Never includes the seed. */
export function seedReason(seed: unknown, kind: "operator" | "account"): string {
  if (typeof seed !== "string" || seed.trim() === "") return `is not a seed: write the ${kind}'s seed (S${KEY_PREFIX[kind]}…)`;
  try {
    const kp = nkeys.fromSeed(new TextEncoder().encode(seed.trim()));
    const pub = kp.getPublicKey();
    kp.clear();
    return pub.startsWith(KEY_PREFIX[kind]) ? "" : `is the seed of ${pub}, not of an ${kind} key (S${KEY_PREFIX[kind]}…)`;
  } catch {
    return `is not a valid NKey seed (S${KEY_PREFIX[kind]}… followed by base32): copy it whole from the .nk file or \`nsc export keys\``;
  }
}

/** Accounts whose keys may be provided: every account of the spec (declared, system, and services' own). */
const accountNames = (spec: SecuritySpec) => spec.accounts.map((a) => a.name);

/**
 * `cim-nats:identitySeeds` ({ operator, accounts: { NAME: seed } }) for `source: config`. Every
 * seed must be the right kind; accounts must be declared; the operator seed is required (an
 * account key alone would be signed by a new operator the servers do not trust yet).
 */
export function identitiesFromConfig(spec: SecuritySpec, raw: unknown): ProvidedIdentities {
  const issues: ConfigIssue[] = [];
  const at = (propertyPath: string, reason: string) => issues.push({ propertyPath, reason });
  const root = "identitySeeds";
  const value = (raw && typeof raw === "object" && !Array.isArray(raw) ? raw : {}) as { operator?: unknown; accounts?: unknown };
  if (raw === undefined) at(root, "is required with security.identities.source: config: `pulumi config set --secret --path 'cim-nats:identitySeeds.operator'` (the seed on stdin), and one `accounts.<NAME>` per account to keep");
  const seeds: Record<KeyId, string> = {};
  if (raw !== undefined) {
    const reason = seedReason(value.operator, "operator");
    if (reason) at(`${root}.operator`, reason);
    else seeds.operator = String(value.operator).trim();
  }
  const accounts = (value.accounts && typeof value.accounts === "object" ? value.accounts : {}) as Record<string, unknown>;
  for (const [name, seed] of Object.entries(accounts)) {
    if (!accountNames(spec).includes(name)) {
      at(`${root}.accounts.${name}`, `'${name}' is not an account of security: use one of ${accountNames(spec).join(", ")}`);
      continue;
    }
    const reason = seedReason(seed, "account");
    if (reason) at(`${root}.accounts.${name}`, reason);
    else seeds[`account:${name}`] = String(seed).trim();
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return {
    origin: "cim-nats:identitySeeds",
    seeds,
    accounts: Object.fromEntries(Object.entries(spec.identities.signingKeys).map(([name, keys]) => [name, { signingKeys: [...keys], revocations: {} }])),
    allowSwitch: spec.identities.allowSwitch,
    notes: [],
  };
}

/**
 * An nsc store → the identities the stack keeps. The store's operator must be the declared one
 * and its system account the declared system account; every store account the spec declares
 * (by name) keeps its key, its signing keys and its revocations; a store account the spec does
 * not declare is refused (the servers would stop knowing it: its users' creds would fail).
 * Store users of an adopted account: one the spec declares in that account with permissions
 * narrower than its nsc JWT is revoked (its old creds could do more than declared — the stack's
 * rule for a narrowing); one the spec does not declare is kept or revoked (`undeclaredUsers`).
 */
export function identitiesFromNsc(spec: SecuritySpec, store: NscStore): ProvidedIdentities {
  const issues: ConfigIssue[] = [];
  const at = (propertyPath: string, reason: string) => issues.push({ propertyPath, reason });
  const path = "security.identities";
  const seeds: Record<KeyId, string> = {};
  const notes: string[] = [];
  const op = store.operator;
  if (op.name !== spec.operator) {
    at("security.operator", `'${spec.operator}' is not the operator of the nsc store at ${store.dir} (it holds '${op.name}'): set security.operator: ${op.name}`);
  }
  if (!op.seed) at(`${path}.keysDir`, `the operator key ${op.publicKey} is not in the keystore ${store.keysDir}: point keysDir at nsc's keystore (NKEYS_PATH), or \`nsc import keys\` it there`);
  else seeds.operator = op.seed;

  const system = store.accounts.find((a) => a.publicKey === op.systemAccount);
  if (op.systemAccount && system && system.name !== spec.systemAccount) {
    at("security.systemAccount", `the nsc operator's system account is '${system.name}' (${system.publicKey}): set security.systemAccount: ${system.name}`);
  }
  const declared = new Map(spec.accounts.map((a) => [a.name, a]));
  const accounts: Record<string, AdoptedAccount> = {};
  for (const a of store.accounts) {
    const mine = declared.get(a.name);
    if (!mine) {
      at(
        "security.accounts",
        `nsc account '${a.name}' (${a.publicKey}, ${a.users.length} user${a.users.length === 1 ? "" : "s"}) is not declared: the servers would stop knowing it and its users' creds would be refused; ` +
          `declare it (\`{ name: ${a.name} }\`), or remove it from the store first (\`nsc delete account ${a.name}\`) if nothing uses it`,
      );
      continue;
    }
    if (!a.seed) {
      at(`${path}.keysDir`, `the key of account '${a.name}' (${a.publicKey}) is not in the keystore ${store.keysDir}: point keysDir at nsc's keystore, or \`nsc import keys\` it there`);
      continue;
    }
    seeds[`account:${a.name}`] = a.seed;
    const revocations: Record<string, number> = { ...a.revocations };
    for (const u of a.users) {
      const user = spec.users.find((x) => x.name === u.name && x.account === a.name);
      if (user) {
        if (permissionsNarrowed(withAnyConnectionType(u.claims), userClaims(user))) {
          revocations[u.publicKey] = Math.max(revocations[u.publicKey] ?? 0, u.issuedAt);
          notes.push(`${a.name}/${u.name}: nsc creds revoked: its nsc JWT allows more than declared (declare the same permissions and connection types to keep them)`);
        } else notes.push(`${a.name}/${u.name}: nsc creds keep working (declared with the same or wider permissions)`);
      } else if (spec.identities.undeclaredUsers === "revoke") {
        revocations[u.publicKey] = Math.max(revocations[u.publicKey] ?? 0, u.issuedAt);
        notes.push(`${a.name}/${u.name}: nsc creds revoked: not declared (undeclaredUsers: revoke)`);
      } else {
        notes.push(`${a.name}/${u.name}: nsc creds keep working, not declared (undeclaredUsers: keep)`);
      }
    }
    const extra = spec.identities.signingKeys[a.name] ?? [];
    const listed = new Set(a.signingKeys.map(signingKeyOf));
    accounts[a.name] = { signingKeys: [...a.signingKeys, ...extra.filter((k) => !listed.has(k))], revocations, ...(a.defaultPermissions ? { defaultPermissions: a.defaultPermissions } : {}) };
    if (mine.kind === AccountKind.Service) notes.push(`${a.name}: an nsc account adopted as service account '${a.name}' (its imports become the derived ones)`);
  }
  if (!seeds[`account:${spec.systemAccount}`] && system === undefined && op.systemAccount) {
    at("security.systemAccount", `the nsc operator names system account ${op.systemAccount}, which is not in the store at ${store.dir}`);
  }
  for (const name of Object.keys(spec.identities.signingKeys)) {
    if (!accounts[name]) accounts[name] = { signingKeys: [...spec.identities.signingKeys[name]], revocations: {} };
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return { origin: `nsc store ${store.dir}`, seeds, accounts, allowSwitch: spec.identities.allowSwitch, notes };
}

/**
 * An nsc user made without `--conn-type` may connect any way: as a list, every type there is
 * (a declaration listing them all is then the same, not narrower).
 */
function withAnyConnectionType(claims: Claims): Claims {
  const types = claims.allowed_connection_types;
  return Array.isArray(types) && types.length > 0 ? claims : { ...claims, allowed_connection_types: [...CONNECTION_TYPES] };
}

/** The public key a signing key claim names. */
export function signingKeyOf(k: SigningKeyClaim): string {
  return typeof k === "string" ? k : k.key;
}

/** No provided identities: every key generated. */
export function generatedIdentities(spec: SecuritySpec): ProvidedIdentities {
  return {
    origin: "generated",
    seeds: {},
    accounts: Object.fromEntries(Object.entries(spec.identities.signingKeys).map(([name, keys]) => [name, { signingKeys: [...keys], revocations: {} }])),
    allowSwitch: spec.identities.allowSwitch,
    notes: [],
  };
}
