/**
 * `NKey`: an operator, account or user key pair generated once and kept in Pulumi state, its
 * seed a secret output. Re-running `pulumi up` never regenerates it: the diff replaces only when
 * the kind changes — or, for a user's signing key, when the permissions of the user it signs
 * narrow: the new key replaces the old one in the account JWT, so every creds file signed with
 * the old key (the earlier, wider permissions) is refused and its live connections are closed
 * the moment servers get the account JWT. Widening keeps the key (older creds can do less, not
 * more). Deleting the resource forgets the key (removing a user revokes it through its
 * account's JWT, see jwt.ts).
 *
 * The provider is serialized as a closure (DESIGN.md, pulumi/pulumi#10480): its methods capture
 * nothing from this module and `require` what they need.
 */
import * as pulumi from "@pulumi/pulumi";

export const NKeyKind = { Operator: "operator", Account: "account", User: "user" } as const;
export type NKeyKind = (typeof NKeyKind)[keyof typeof NKeyKind];

/** What a signing key signs: the user's permission claims (claims.ts userClaims), compared for narrowing. */
export type SignedPermissions = { readonly [key: string]: unknown };

export type NKeyInputs = {
  readonly kind: NKeyKind;
  /** A user's signing key: the permissions it signs; a narrowing replaces the key. */
  readonly signs?: SignedPermissions;
};
export type NKeyOutputs = {
  readonly kind: NKeyKind;
  readonly signs?: SignedPermissions;
  /** O…, A… or U…: public. */
  readonly publicKey: string;
  /** SO…, SA… or SU…: secret (additionalSecretOutputs). */
  readonly seed: string;
};

/** CRUD of an NKey, callable directly (tests) and through Pulumi (serialized). */
export const nkeyProvider: pulumi.dynamic.ResourceProvider<NKeyInputs, NKeyOutputs> = {
  async check(_olds, news) {
    const kinds = ["operator", "account", "user"];
    if (!kinds.includes(news.kind)) {
      return { inputs: news, failures: [{ property: "kind", reason: `kind ${JSON.stringify(news.kind)} is not one of ${kinds.join(", ")}` }] };
    }
    return { inputs: news };
  },

  async create(inputs) {
    const nkeys = require("@nats-io/nkeys");
    const make = { operator: nkeys.createOperator, account: nkeys.createAccount, user: nkeys.createUser }[inputs.kind];
    if (!make) throw new Error(`cannot create an NKey of kind ${JSON.stringify(inputs.kind)}: use operator, account or user`);
    const kp = make();
    const publicKey: string = kp.getPublicKey();
    const seed = new TextDecoder().decode(kp.getSeed());
    kp.clear();
    return { id: `nkey:${publicKey}`, outs: { kind: inputs.kind, publicKey, seed, ...(inputs.signs ? { signs: inputs.signs } : {}) } };
  },

  async diff(_id, olds, news) {
    // The key itself is state, not configuration: a different kind needs a new one, and so do
    // narrower permissions (old creds must stop working); wider ones are only recorded.
    if (olds.kind !== news.kind) return { changes: true, replaces: ["kind"] };
    if (JSON.stringify(olds.signs ?? null) === JSON.stringify(news.signs ?? null)) return { changes: false };
    // A signing key from before permissions were recorded: what it signed is unknown, so it goes.
    if (!olds.signs && news.signs) return { changes: true, replaces: ["signs"] };
    if (olds.signs && news.signs && permissionsNarrowed(olds.signs, news.signs)) return { changes: true, replaces: ["signs"] };
    return { changes: true };
  },

  async update(_id, olds, news) {
    // Wider (or first recorded) permissions: the same key.
    return { outs: { kind: olds.kind, publicKey: olds.publicKey, seed: olds.seed, ...(news.signs ? { signs: news.signs } : {}) } };
  },

  async read(id, props) {
    // Nothing outside Pulumi's state holds the key: the state is the truth.
    return { id, props };
  },

  async delete() {
    // Forgetting the key is all there is; its JWTs are revoked by their issuer's resource.
  },
};

/**
 * Whether `next` takes away anything `prev` allowed: an allowed subject no longer listed (or
 * "everything" becoming a list), a new deny, response permissions reduced, a connection type
 * dropped. Literal comparison: a subject rewritten under a wider wildcard counts as narrowed
 * (the safe side: one key rotation too many, never one too few).
 */
export function permissionsNarrowed(prev: SignedPermissions, next: SignedPermissions): boolean {
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

export type NKeyArgs = {
  /** operator, account or user. Changing it replaces the key (and so every JWT it signs). */
  readonly kind: pulumi.Input<NKeyKind>;
  /** A user's signing key: that user's permission claims. Narrowing them replaces the key. Default none. */
  readonly signs?: pulumi.Input<SignedPermissions>;
};

/** A key pair generated once; `seed` is a secret Output. */
export class NKey extends pulumi.dynamic.Resource {
  declare public readonly kind: pulumi.Output<NKeyKind>;
  declare public readonly publicKey: pulumi.Output<string>;
  declare public readonly seed: pulumi.Output<string>;

  constructor(name: string, args: NKeyArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      nkeyProvider,
      name,
      { kind: args.kind, ...(args.signs !== undefined ? { signs: args.signs } : {}), publicKey: undefined, seed: undefined },
      { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "seed"] },
      "cim-nats",
      "NKey",
    );
  }
}
