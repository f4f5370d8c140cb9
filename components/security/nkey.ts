/**
 * `NKey`: an operator, account or user key pair generated once and kept in Pulumi state, its
 * seed a secret output. Re-running `pulumi up` never regenerates it: the diff replaces only when
 * the kind changes, or when its `rotation` changes — a user's signing key rotates with the
 * record of what it signs (signed-permissions.ts), which is replaced when those permissions
 * narrow. Deleting the resource forgets the key (removing a user revokes it through its
 * account's JWT, see jwt.ts). An operator's or account's key can instead be provided (a site's nsc
 * store, docs/adopt.md): created from the seed given; `check` refuses a key that would change
 * (generated ↔ provided, another provided seed) unless `allowSwitch`.
 *
 * The provider is serialized as a closure (DESIGN.md, pulumi/pulumi#10480): its methods capture
 * nothing from this module and `require` what they need.
 */
import * as pulumi from "@pulumi/pulumi";

export const NKeyKind = { Operator: "operator", Account: "account", User: "user" } as const;
export type NKeyKind = (typeof NKeyKind)[keyof typeof NKeyKind];

export type NKeyInputs = {
  readonly kind: NKeyKind;
  /** A user's signing key: the id of the record of what it signs; a new one replaces the key. */
  readonly rotation?: string;
  /**
   * A provided seed (an nsc store's, or the secret identitySeeds): the key is this one, not a
   * generated one. Secret. Default none (generated).
   */
  readonly seed?: string;
  /** Replacing the key (generated ↔ provided, or another provided seed) is allowed. Default false. */
  readonly allowSwitch?: boolean;
};
export type NKeyOutputs = {
  readonly kind: NKeyKind;
  readonly rotation?: string;
  /** O…, A… or U…: public. */
  readonly publicKey: string;
  /** SO…, SA… or SU…: secret (additionalSecretOutputs). */
  readonly seed: string;
  /** The seed was provided, not generated. Absent in states from before provided keys. */
  readonly provided?: boolean;
};

/** CRUD of an NKey, callable directly (tests) and through Pulumi (serialized). */
export const nkeyProvider: pulumi.dynamic.ResourceProvider<NKeyInputs, NKeyOutputs> = {
  async check(olds, news) {
    const kinds = ["operator", "account", "user"];
    if (!kinds.includes(news.kind)) {
      return { inputs: news, failures: [{ property: "kind", reason: `kind ${JSON.stringify(news.kind)} is not one of ${kinds.join(", ")}` }] };
    }
    const nkeys = require("@nats-io/nkeys");
    const publicOf = (seed: string): string | undefined => {
      try {
        const kp = nkeys.fromSeed(new TextEncoder().encode(seed));
        const pub: string = kp.getPublicKey();
        kp.clear();
        return pub;
      } catch {
        return undefined;
      }
    };
    const prefix = { operator: "O", account: "A", user: "U" }[news.kind];
    if (news.seed !== undefined && !publicOf(news.seed)?.startsWith(prefix)) {
      // Never the seed itself in a message: only what it is not. (The engine prints the named
      // property's value beside the reason: name `kind`, never `seed`.)
      return { inputs: news, failures: [{ property: "kind", reason: `the provided seed is not a valid ${news.kind} seed (S${prefix}…): check the key given for it` }] };
    }
    // A key already in the state that would change: every JWT it signed, and so every creds
    // file issued before, stops working. Refused unless the stack says so, before anything runs.
    const existing = olds !== undefined && typeof olds.kind === "string";
    if (existing && !news.allowSwitch) {
      const was = olds.seed !== undefined ? publicOf(olds.seed) : undefined;
      const now = news.seed !== undefined ? publicOf(news.seed) : undefined;
      if ((olds.seed === undefined) !== (news.seed === undefined) || was !== now) {
        const what =
          olds.seed === undefined ? `from its generated key to a provided one (${now})` : news.seed === undefined ? `from the provided key ${was} to a newly generated one` : `from the provided key ${was} to another one (${now})`;
        return {
          inputs: news,
          failures: [
            {
              // Not `seed`: the engine prints the named property's value with the reason.
              property: "allowSwitch",
              reason:
                `this ${news.kind} key would switch ${what}: every JWT it signed is re-issued and every creds file issued before stops working. ` +
                "If that is what you want, set `cim-nats:security.identities.allowSwitch: true` for this up; otherwise restore the previous identities source",
            },
          ],
        };
      }
    }
    return { inputs: news };
  },

  async create(inputs) {
    const nkeys = require("@nats-io/nkeys");
    if (inputs.seed !== undefined) {
      const kp = nkeys.fromSeed(new TextEncoder().encode(inputs.seed));
      const publicKey: string = kp.getPublicKey();
      kp.clear();
      return { id: `nkey:${publicKey}`, outs: { kind: inputs.kind, publicKey, seed: inputs.seed, provided: true, ...(inputs.rotation ? { rotation: inputs.rotation } : {}) } };
    }
    const make = { operator: nkeys.createOperator, account: nkeys.createAccount, user: nkeys.createUser }[inputs.kind];
    if (!make) throw new Error(`cannot create an NKey of kind ${JSON.stringify(inputs.kind)}: use operator, account or user`);
    const kp = make();
    const publicKey: string = kp.getPublicKey();
    const seed = new TextDecoder().decode(kp.getSeed());
    kp.clear();
    return { id: `nkey:${publicKey}`, outs: { kind: inputs.kind, publicKey, seed, ...(inputs.rotation ? { rotation: inputs.rotation } : {}) } };
  },

  async diff(_id, olds, news) {
    // The key itself is state, not configuration: a different kind needs a new one, and so does
    // a new rotation (the permissions it signs narrowed: old creds must stop working). A signing
    // key recorded before rotations (it kept what it signs itself) rotates once.
    if (olds.kind !== news.kind) return { changes: true, replaces: ["kind"] };
    // Another key than the one in the state (check refused it unless allowSwitch).
    if (news.seed !== undefined ? news.seed !== olds.seed : olds.provided === true) return { changes: true, replaces: ["seed"] };
    if ((olds.rotation ?? null) !== (news.rotation ?? null)) return { changes: true, replaces: ["rotation"] };
    return { changes: false };
  },

  async read(id, props) {
    // Nothing outside Pulumi's state holds the key: the state is the truth.
    return { id, props };
  },

  async delete() {
    // Forgetting the key is all there is; its JWTs are revoked by their issuer's resource.
  },
};

export type NKeyArgs = {
  /** operator, account or user. Changing it replaces the key (and so every JWT it signs). */
  readonly kind: pulumi.Input<NKeyKind>;
  /** A user's signing key: the id of the SignedPermissions record; a new id replaces the key. Default none. */
  readonly rotation?: pulumi.Input<string>;
  /** A provided seed (pass a secret): this key instead of a generated one. Default none. */
  readonly seed?: pulumi.Input<string>;
  /** Allow the key to change (generated ↔ provided, another provided seed). Default false. */
  readonly allowSwitch?: boolean;
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
      {
        kind: args.kind,
        ...(args.rotation !== undefined ? { rotation: args.rotation } : {}),
        // A provided seed is an input (secret); otherwise the seed is an output the provider makes.
        seed: args.seed !== undefined ? pulumi.secret(args.seed) : undefined,
        ...(args.allowSwitch ? { allowSwitch: true } : {}),
        publicKey: undefined,
        provided: undefined,
      },
      { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "seed"] },
      "cim-nats",
      "NKey",
    );
  }
}
