/**
 * `IssuedJwt`: an operator, account or user JWT signed by its issuer's seed. Re-issued only when
 * what it says changes — name, signer, claims — never because encoding again would give a new
 * `iat`/`jti`; so a no-change `pulumi up` stays no-change.
 *
 * Removing a user: every user JWT is signed by a signing key of its own (`issuerAccount` set),
 * and the account JWT lists the signing keys of exactly the users declared now. A removed
 * user's signing key leaves that list, so servers that load the new account JWT refuse its creds
 * and close its connections (measured on nats-server 2.15.2 with a SIGHUP reload). A user whose
 * key comes back (a refused removal, then a revert) is valid again: nothing sticky to forget,
 * and the account JWT is a function of the config alone — which keeps `pulumi preview` exact.
 *
 * The provider is serialized as a closure (DESIGN.md, pulumi/pulumi#10480): its methods use only
 * the plain functions of this file and `require` their packages inside.
 */
import * as pulumi from "@pulumi/pulumi";
import type { Claims } from "./claims";

export const JwtKind = { Operator: "operator", Account: "account", User: "user" } as const;
export type JwtKind = (typeof JwtKind)[keyof typeof JwtKind];

export type IssuedJwtInputs = {
  readonly kind: JwtKind;
  /** JWT `name`. */
  readonly name: string;
  /** Public key of the identity the JWT describes (`sub`). */
  readonly subjectPublicKey: string;
  /**
   * Seed that signs: the operator's (operator and account JWTs), or the user's own signing key
   * (user JWTs; an account signing key listed in the account JWT). Secret.
   */
  readonly signerSeed: string;
  /** Users: public key of the account the signing key belongs to (`issuer_account`). */
  readonly issuerAccount?: string;
  /** The `nats` claims (claims.ts); an account's include its users' `signing_keys`. */
  readonly claims: Claims;
  /**
   * Accounts: a fixed `iat` (seconds). The bootstrap JWTs servers preload use 1, older than any
   * pushed JWT. Default: now, and always later than the JWT it replaces (the full resolver keeps
   * the newer of two JWTs by `iat`, to the second).
   */
  readonly issuedAt?: number;
};

export type IssuedJwtOutputs = {
  readonly kind: JwtKind;
  readonly name: string;
  readonly subjectPublicKey: string;
  /** Public key of the signer (`iss`). */
  readonly issuerPublicKey: string;
  /** Users: the account public key (`issuer_account`); "" otherwise. */
  readonly issuerAccount: string;
  readonly claims: Claims;
  readonly jwt: string;
};

/** JSON with sorted object keys: equal claims compare equal whatever order they were built in. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/**
 * Public key of a seed, without keeping the key pair around. Memoized per process under the
 * seed's hash (never the seed itself): a few signing keys sign every JWT, and each derivation is
 * an ed25519 scalar multiplication in JS (~1 ms; a dev preview's diffs made ~100 of them).
 * Inside the function, and on globalThis, because Pulumi serializes this module's provider.
 */
function publicKeyOf(seed: string): string {
  const memo: Map<string, string> = ((globalThis as Record<symbol, unknown>)[Symbol.for("cim-nats.security.public-keys")] ??= new Map()) as Map<string, string>;
  const key: string = require("node:crypto").createHash("sha256").update(seed).digest("base64");
  const known = memo.get(key);
  if (known !== undefined) return known;
  const nkeys = require("@nats-io/nkeys");
  const kp = nkeys.fromSeed(new TextEncoder().encode(seed));
  try {
    const publicKey: string = kp.getPublicKey();
    memo.set(key, publicKey);
    return publicKey;
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

/** The `iat` of a JWT (0 when it cannot be read). */
export function jwtIssuedAt(token: string): number {
  try {
    const claims = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8"));
    return typeof claims.iat === "number" ? claims.iat : 0;
  } catch {
    return 0;
  }
}

/**
 * An account JWT with the `iat` given (the library's encoder always stamps now): the same
 * header, claim layout and v2 `nats` fields as `@nats-io/jwt`'s encodeAccount. `signerSeed`: the
 * operator's (or an operator signing key's) seed.
 */
export function encodeAccountJwtAt(name: string, subjectPublicKey: string, claims: Claims, signerSeed: string, issuedAt: number): string {
  const nkeys = require("@nats-io/nkeys");
  const crypto: typeof import("node:crypto") = require("node:crypto");
  const signer = nkeys.fromSeed(new TextEncoder().encode(signerSeed));
  try {
    const body: Record<string, unknown> = {
      iat: issuedAt,
      iss: signer.getPublicKey(),
      name,
      sub: subjectPublicKey,
      nats: { ...JSON.parse(JSON.stringify(claims)), type: "account", version: 2 },
    };
    const claim = { jti: crypto.createHash("sha512").update(JSON.stringify(body)).digest("base64"), ...body };
    const b64url = (b: Buffer | Uint8Array | string) => Buffer.from(b).toString("base64url");
    const payload = `${b64url(JSON.stringify({ typ: "JWT", alg: "ed25519-nkey" }))}.${b64url(JSON.stringify(claim))}`;
    return `${payload}.${b64url(signer.sign(new TextEncoder().encode(payload)))}`;
  } finally {
    signer.clear();
  }
}

/** Signs the JWT of `inputs`; an account's `iat` is `issuedAt`, or now but later than `previousJwt`'s. */
async function encodeJwt(inputs: IssuedJwtInputs, previousJwt?: string): Promise<string> {
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
      case "account": {
        const now = Math.floor(Date.now() / 1000);
        const iat = inputs.issuedAt ?? Math.max(now, previousJwt ? jwtIssuedAt(previousJwt) + 1 : 0);
        return encodeAccountJwtAt(inputs.name, inputs.subjectPublicKey, inputs.claims, inputs.signerSeed, iat);
      }
      case "user":
        if (!inputs.issuerAccount) return await jwt.encodeUser(inputs.name, inputs.subjectPublicKey, signer, claims);
        return await jwt.encodeUser(inputs.name, inputs.subjectPublicKey, inputs.issuerAccount, claims, { signer });
      default:
        throw new Error(`cannot issue a JWT of kind ${JSON.stringify(inputs.kind)}: use operator, account or user`);
    }
  } finally {
    signer.clear();
  }
}

/** The outputs for `inputs`, re-signing only when the JWT's content differs from `previous`. */
async function issue(inputs: IssuedJwtInputs, previous: IssuedJwtOutputs | undefined): Promise<IssuedJwtOutputs> {
  const issuerPublicKey = publicKeyOf(inputs.signerSeed);
  const issuerAccount = inputs.kind === "user" ? (inputs.issuerAccount ?? "") : "";
  const same =
    previous !== undefined &&
    previous.name === inputs.name &&
    previous.subjectPublicKey === inputs.subjectPublicKey &&
    previous.issuerPublicKey === issuerPublicKey &&
    (previous.issuerAccount ?? "") === issuerAccount &&
    canonicalJson(previous.claims) === canonicalJson(inputs.claims);
  return {
    kind: inputs.kind,
    name: inputs.name,
    subjectPublicKey: inputs.subjectPublicKey,
    issuerPublicKey,
    issuerAccount,
    claims: inputs.claims,
    jwt: same ? previous.jwt : await encodeJwt(inputs, previous?.jwt),
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
    if ((olds.issuerAccount ?? "") !== (news.kind === "user" ? (news.issuerAccount ?? "") : "")) changed.push("issuerAccount");
    if (canonicalJson(olds.claims) !== canonicalJson(news.claims)) changed.push("claims");
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
    // Nothing to undo: a removed user's signing key leaves its account's JWT.
  },
};

export type IssuedJwtArgs = {
  /** operator, account or user; changing it replaces the resource. */
  readonly kind: pulumi.Input<JwtKind>;
  /** JWT `name`. */
  readonly name: pulumi.Input<string>;
  /** Public key of the identity described; changing it replaces the resource. */
  readonly subjectPublicKey: pulumi.Input<string>;
  /** The issuer's seed (a secret Output of an NKey): the operator's, or the user's signing key. */
  readonly signerSeed: pulumi.Input<string>;
  /** Users signed by a signing key: the account's public key. */
  readonly issuerAccount?: pulumi.Input<string>;
  /** The `nats` claims from claims.ts. */
  readonly claims: pulumi.Input<Claims>;
  /** Accounts: a fixed `iat` in seconds (the bootstrap JWTs: 1). Default: now, after the previous JWT's. */
  readonly issuedAt?: number;
};

/** A JWT re-issued only when its content changes. `jwt` is public. */
export class IssuedJwt extends pulumi.dynamic.Resource {
  declare public readonly issuerPublicKey: pulumi.Output<string>;
  declare public readonly jwt: pulumi.Output<string>;

  constructor(name: string, args: IssuedJwtArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      issuedJwtProvider,
      name,
      { ...args, issuerAccount: args.issuerAccount ?? "", issuerPublicKey: undefined, jwt: undefined },
      opts,
      "cim-nats",
      "IssuedJwt",
    );
  }
}
