/**
 * `IssuedJwt`: an operator, account or user JWT signed by its issuer's seed. Re-issued only when
 * what it says changes — name, issuer, claims, or (accounts) the set of users it issued — never
 * because encoding again would give a new `iat`/`jti`; so a no-change `pulumi up` stays
 * no-change.
 *
 * Revoking: an account JWT remembers the public keys of the users it issued (`issuedUsers`, in
 * its state). When a user disappears from the config, its key leaves that set and the account
 * JWT is re-issued with `revocations[<user key>] = now`: servers that load the new account JWT
 * refuse the removed user's creds (issued before that time) and disconnect it.
 *
 * The provider is serialized as a closure (DESIGN.md, pulumi/pulumi#10480): its methods use only
 * the plain functions of this file and `require` their packages inside.
 */
import * as pulumi from "@pulumi/pulumi";
import type { Claims } from "./claims";

export const JwtKind = { Operator: "operator", Account: "account", User: "user" } as const;
export type JwtKind = (typeof JwtKind)[keyof typeof JwtKind];

/** Public key → unix seconds: that user's JWTs issued at or before then are refused. */
export type Revocations = Readonly<Record<string, number>>;

export type IssuedJwtInputs = {
  readonly kind: JwtKind;
  /** JWT `name`. */
  readonly name: string;
  /** Public key of the identity the JWT describes (`sub`). */
  readonly subjectPublicKey: string;
  /** Seed that signs: the operator's (operator and account JWTs) or the account's (user JWTs). Secret. */
  readonly signerSeed: string;
  /** The `nats` claims (claims.ts), without revocations. */
  readonly claims: Claims;
  /** Accounts: user name → public key of every user this account issues now. */
  readonly issuedUsers?: Readonly<Record<string, string>>;
};

export type IssuedJwtOutputs = {
  readonly kind: JwtKind;
  readonly name: string;
  readonly subjectPublicKey: string;
  /** Public key of the signer (`iss`). */
  readonly issuerPublicKey: string;
  readonly claims: Claims;
  /** Accounts: user name → public key of every user issued and not revoked; {} otherwise. */
  readonly issuedUsers: Readonly<Record<string, string>>;
  /** Accounts: every revoked user key; {} otherwise. */
  readonly revocations: Revocations;
  readonly jwt: string;
};

/**
 * Revocations after an account's issued users changed: every key issued before and not now is
 * revoked at `nowSeconds`; earlier revocations stay (the removed user's creds file is a valid,
 * non-expiring JWT for as long as it exists somewhere).
 */
export function nextRevocations(
  previous: Revocations,
  previouslyIssued: readonly string[],
  nowIssued: readonly string[],
  nowSeconds: number,
): Revocations {
  const next: Record<string, number> = { ...previous };
  for (const key of previouslyIssued) {
    if (!nowIssued.includes(key)) next[key] = nowSeconds;
  }
  return next;
}

/** JSON with sorted object keys: equal claims compare equal whatever order they were built in. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/** Public key of a seed, without keeping the key pair around. */
function publicKeyOf(seed: string): string {
  const nkeys = require("@nats-io/nkeys");
  const kp = nkeys.fromSeed(new TextEncoder().encode(seed));
  try {
    return kp.getPublicKey();
  } finally {
    kp.clear();
  }
}

/** Public key of a seed; "" when the seed is not known yet (a preview of a new issuer). */
function issuerOrUnknown(seed: string): string {
  try {
    return publicKeyOf(seed);
  } catch {
    return "";
  }
}

/** Signs the JWT of `inputs` with `revocations` (accounts only). */
async function encodeJwt(inputs: IssuedJwtInputs, revocations: Revocations): Promise<string> {
  const jwt = require("@nats-io/jwt");
  const nkeys = require("@nats-io/nkeys");
  // The encoders add `type`/`version` to the object they get: hand them a copy.
  const claims = JSON.parse(JSON.stringify(inputs.claims));
  const signer = nkeys.fromSeed(new TextEncoder().encode(inputs.signerSeed));
  try {
    switch (inputs.kind) {
      case "operator":
        if (signer.getPublicKey() !== inputs.subjectPublicKey) {
          throw new Error(`operator JWT '${inputs.name}' must be self-signed: the signer seed belongs to ${signer.getPublicKey()}, not ${inputs.subjectPublicKey}`);
        }
        return await jwt.encodeOperator(inputs.name, signer, claims);
      case "account":
        if (Object.keys(revocations).length > 0) claims.revocations = { ...revocations };
        return await jwt.encodeAccount(inputs.name, inputs.subjectPublicKey, claims, { signer });
      case "user":
        return await jwt.encodeUser(inputs.name, inputs.subjectPublicKey, signer, claims);
      default:
        throw new Error(`cannot issue a JWT of kind ${JSON.stringify(inputs.kind)}: use operator, account or user`);
    }
  } finally {
    signer.clear();
  }
}

/** The outputs for `inputs`, re-signing only when the JWT's content differs from `previous`. */
async function issue(inputs: IssuedJwtInputs, previous: IssuedJwtOutputs | undefined): Promise<IssuedJwtOutputs> {
  const issuedUsers = inputs.kind === "account" ? { ...(inputs.issuedUsers ?? {}) } : {};
  const revocations =
    inputs.kind === "account"
      ? nextRevocations(
          previous?.revocations ?? {},
          Object.values(previous?.issuedUsers ?? {}),
          Object.values(issuedUsers),
          Math.floor(Date.now() / 1000),
        )
      : {};
  const issuerPublicKey = publicKeyOf(inputs.signerSeed);
  const same =
    previous !== undefined &&
    previous.name === inputs.name &&
    previous.subjectPublicKey === inputs.subjectPublicKey &&
    previous.issuerPublicKey === issuerPublicKey &&
    canonicalJson(previous.claims) === canonicalJson(inputs.claims) &&
    canonicalJson(previous.revocations) === canonicalJson(revocations);
  return {
    kind: inputs.kind,
    name: inputs.name,
    subjectPublicKey: inputs.subjectPublicKey,
    issuerPublicKey,
    claims: inputs.claims,
    issuedUsers,
    revocations,
    jwt: same ? previous.jwt : await encodeJwt(inputs, revocations),
  };
}

/** CRUD of an issued JWT, callable directly (tests) and through Pulumi (serialized). */
export const issuedJwtProvider: pulumi.dynamic.ResourceProvider<IssuedJwtInputs, IssuedJwtOutputs> = {
  async create(inputs) {
    const outs = await issue(inputs, undefined);
    return { id: `${inputs.kind}:${inputs.subjectPublicKey}`, outs };
  },

  async diff(_id, olds, news) {
    if (olds.kind !== news.kind || olds.subjectPublicKey !== news.subjectPublicKey) {
      return { changes: true, replaces: olds.kind !== news.kind ? ["kind"] : ["subjectPublicKey"] };
    }
    const changed: string[] = [];
    if (olds.name !== news.name) changed.push("name");
    if (olds.issuerPublicKey !== issuerOrUnknown(news.signerSeed)) changed.push("signerSeed");
    if (canonicalJson(olds.claims) !== canonicalJson(news.claims)) changed.push("claims");
    const nowIssued = news.kind === "account" ? (news.issuedUsers ?? {}) : {};
    if (canonicalJson(olds.issuedUsers) !== canonicalJson(nowIssued)) changed.push("issuedUsers");
    return { changes: changed.length > 0 };
  },

  async update(_id, olds, news) {
    return { outs: await issue(news, olds) };
  },

  async read(id, props) {
    // A JWT lives nowhere but in state (servers get it through rendered configs).
    return { id, props };
  },

  async delete() {
    // Nothing to undo: a removed user's JWT is revoked by its account's update.
  },
};

export type IssuedJwtArgs = {
  /** operator, account or user; changing it replaces the resource. */
  readonly kind: pulumi.Input<JwtKind>;
  /** JWT `name`. */
  readonly name: pulumi.Input<string>;
  /** Public key of the identity described; changing it replaces the resource. */
  readonly subjectPublicKey: pulumi.Input<string>;
  /** The issuer's seed (a secret Output of an NKey). */
  readonly signerSeed: pulumi.Input<string>;
  /** The `nats` claims from claims.ts. */
  readonly claims: pulumi.Input<Claims>;
  /** Accounts only: user name → public key of every user the account issues now. Default {}. */
  readonly issuedUsers?: pulumi.Input<Record<string, pulumi.Input<string>>>;
};

/** A JWT re-issued only when its content changes. `jwt` is public. */
export class IssuedJwt extends pulumi.dynamic.Resource {
  declare public readonly issuerPublicKey: pulumi.Output<string>;
  declare public readonly revocations: pulumi.Output<Revocations>;
  declare public readonly jwt: pulumi.Output<string>;

  constructor(name: string, args: IssuedJwtArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      issuedJwtProvider,
      name,
      { ...args, issuedUsers: args.issuedUsers ?? {}, issuerPublicKey: undefined, revocations: undefined, jwt: undefined },
      opts,
      "cim-nats",
      "IssuedJwt",
    );
  }
}
