/**
 * `NKey`: an operator, account or user key pair generated once and kept in Pulumi state, its
 * seed a secret output. Re-running `pulumi up` never regenerates it: the diff replaces only when
 * the kind changes, or when its `rotation` changes — a user's signing key rotates with the
 * record of what it signs (signed-permissions.ts), which is replaced when those permissions
 * narrow. Deleting the resource forgets the key (removing a user revokes it through its
 * account's JWT, see jwt.ts).
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
};
export type NKeyOutputs = {
  readonly kind: NKeyKind;
  readonly rotation?: string;
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
    return { id: `nkey:${publicKey}`, outs: { kind: inputs.kind, publicKey, seed, ...(inputs.rotation ? { rotation: inputs.rotation } : {}) } };
  },

  async diff(_id, olds, news) {
    // The key itself is state, not configuration: a different kind needs a new one, and so does
    // a new rotation (the permissions it signs narrowed: old creds must stop working). A signing
    // key recorded before rotations (it kept what it signs itself) rotates once.
    if (olds.kind !== news.kind) return { changes: true, replaces: ["kind"] };
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
      { kind: args.kind, ...(args.rotation !== undefined ? { rotation: args.rotation } : {}), publicKey: undefined, seed: undefined },
      { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "seed"] },
      "cim-nats",
      "NKey",
    );
  }
}
