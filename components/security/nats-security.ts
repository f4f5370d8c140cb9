/**
 * `NatsSecurity`: the declared operator, accounts and users as Pulumi resources — an NKey per
 * identity (generated once, seed secret) and an IssuedJwt per identity (re-issued only when its
 * claims change) — and what the rest of the stack needs from them: the ServerSecurity the
 * renderers take, creds per user, leaf-link creds per leaf, `nats` contexts.
 */
import * as pulumi from "@pulumi/pulumi";
import type { ServerSecurity } from "../render/server-security";
import { ConfigError } from "../config/errors";
import { Topology } from "../topology/types";
import { accountClaims, operatorClaims, userClaims, withSigningKeys } from "./claims";
import { natsContexts } from "./contexts";
import { credsFileName, credsText } from "./creds";
import { IssuedJwt } from "./jwt";
import { NKey } from "./nkey";
import { parseSecurity } from "./parse";
import type { JetStreamSpec } from "../jetstream/spec";
import { buildServerSecurity, IssuedIdentities } from "./server-security";
import { JETSTREAM_ADMIN_USER, SecuritySpec, SYSTEM_MONITOR_USER } from "./types";

/** Default directory of the leaf-link creds file on each leaf's machine. */
export const DEFAULT_LEAF_CREDENTIALS_DIR = "/var/lib/cim-nats/secrets";

export interface NatsSecurityArgs {
  /** The validated declaration: `parseSecurity(config, topology)` (or `securitySpecOrInputError`). */
  readonly spec: SecuritySpec;
  /** The validated topology: contexts need its leaves' and hub members' client URLs. */
  readonly topology: Topology;
  /**
   * Directory on each leaf's machine where its leaf-link creds file lives (mode 0600, outside
   * the Nix store); rendered into `leafnodes.remotes[].credentials`. Default
   * "/var/lib/cim-nats/secrets".
   */
  readonly leafCredentialsDir?: string;
  /**
   * Directory where `nats` users keep the JetStream admin and system monitor creds files
   * (`<dir>/jetstream-admin.creds`, `<dir>/sys-monitor.creds`); the contexts point there.
   * Default "~/.config/cim-nats/<topology name>" (natscli expands `~`).
   */
  readonly contextCredentialsDir?: string;
  /** Whether the servers require TLS: contexts then name `<contextCredentialsDir>/ca.pem` as their `ca`. Default false. */
  readonly contextCa?: boolean;
  /**
   * What every JWT waits for before it is issued or re-issued, except those of `issueFirst`
   * users. The stack passes the JetStream removal guard: a change the guard refuses (at preview,
   * or before any step of `up`) then re-signs nothing, so a revert finds nothing to undo.
   * Default none.
   */
  readonly issueAfter?: readonly pulumi.Input<pulumi.Resource>[];
  /** Users whose JWTs do not wait for `issueAfter` (the guard connects as the JetStream admin). Default none. */
  readonly issueFirst?: readonly string[];
}

/** Public keys of every identity: safe to show, handy for `nats account info` and audits. */
export type SecurityPublicKeys = {
  readonly operator: string;
  readonly accounts: Readonly<Record<string, string>>;
  readonly users: Readonly<Record<string, string>>;
};

/** What createNatsSecurity returns: the component copies these onto itself. */
export type NatsSecurityOutputs = {
  readonly serverSecurity: pulumi.Output<ServerSecurity>;
  readonly userCreds: pulumi.Output<Readonly<Record<string, string>>>;
  readonly credsByUser: Readonly<Record<string, pulumi.Output<string>>>;
  readonly leafLinkCreds: Readonly<Record<string, pulumi.Output<string>>>;
  readonly jetstreamAdminCreds: pulumi.Output<string>;
  readonly natsContexts: pulumi.Output<Readonly<Record<string, string>>>;
  readonly publicKeys: pulumi.Output<SecurityPublicKeys>;
};

/** Operator, accounts and users of one stack as keys, JWTs, creds and contexts. */
export class NatsSecurity extends pulumi.ComponentResource {
  /** Operator JWT, system account, resolver preload, leaf links: public material for the renderers. */
  declare public readonly serverSecurity: pulumi.Output<ServerSecurity>;
  /** User name → `.creds` text, every user (declared and derived). Secret. */
  declare public readonly userCreds: pulumi.Output<Readonly<Record<string, string>>>;
  /**
   * User name → its `.creds` text, one Output each: what a resource that needs one user's creds
   * takes (a change to another user then leaves it known at preview). Secret.
   */
  declare public readonly credsByUser: Readonly<Record<string, pulumi.Output<string>>>;
  /** Leaf server name → its leaf-link `.creds` text (one Output each, so leaves change independently). Secret. */
  declare public readonly leafLinkCreds: Readonly<Record<string, pulumi.Output<string>>>;
  /** `.creds` text of `jetstream-admin` (the JetStream providers connect with it). Secret. */
  declare public readonly jetstreamAdminCreds: pulumi.Output<string>;
  /**
   * Context name (leaf server names, `hub`, `hub-system`) → `nats context` JSON. Secret, though
   * it holds only a creds path, never a seed.
   */
  declare public readonly natsContexts: pulumi.Output<Readonly<Record<string, string>>>;
  /** Public keys of operator, accounts and users. Not secret. */
  declare public readonly publicKeys: pulumi.Output<SecurityPublicKeys>;

  constructor(name: string, args: NatsSecurityArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cim-nats:security:NatsSecurity", name, {}, opts);
    const out = createNatsSecurity(name, args, this);
    this.serverSecurity = out.serverSecurity;
    this.userCreds = out.userCreds;
    this.credsByUser = out.credsByUser;
    this.leafLinkCreds = out.leafLinkCreds;
    this.jetstreamAdminCreds = out.jetstreamAdminCreds;
    this.natsContexts = out.natsContexts;
    this.publicKeys = out.publicKeys;
    this.registerOutputs({ ...out, credsByUser: undefined, leafLinkCreds: pulumi.secret(pulumi.all(out.leafLinkCreds)) });
  }
}

/** The children of a NatsSecurity and what it exposes. */
export function createNatsSecurity(name: string, args: NatsSecurityArgs, parent: pulumi.Resource): NatsSecurityOutputs {
  const { spec, topology } = args;
  const opts = { parent };
  const after = { parent, dependsOn: [...(args.issueAfter ?? [])] };
  const userOpts = (user: string) => ((args.issueFirst ?? []).includes(user) ? opts : after);

  const operatorKey = new NKey(`${name}-operator-key`, { kind: "operator" }, opts);
  const accountKeys = Object.fromEntries(
    spec.accounts.map((a) => [a.name, new NKey(`${name}-account-${a.name}-key`, { kind: "account" }, opts)]),
  );
  const userKeys = Object.fromEntries(spec.users.map((u) => [u.name, new NKey(`${name}-user-${u.name}-key`, { kind: "user" }, opts)]));
  // One account signing key per user: the account JWT lists exactly the declared users' keys, so
  // removing a user (dropping its key) refuses its creds, and adding it back accepts them again.
  const signingKeys = Object.fromEntries(
    spec.users.map((u) => [u.name, new NKey(`${name}-user-${u.name}-signing-key`, { kind: "account" }, opts)]),
  );

  const operatorJwt = new IssuedJwt(
    `${name}-operator-jwt`,
    {
      kind: "operator",
      name: spec.operator,
      subjectPublicKey: operatorKey.publicKey,
      signerSeed: operatorKey.seed,
      claims: accountKeys[spec.systemAccount].publicKey.apply(operatorClaims),
    },
    after,
  );
  const accountJwts = Object.fromEntries(
    spec.accounts.map((a) => {
      const users = spec.users.filter((u) => u.account === a.name);
      const claims = pulumi
        .all(users.map((u) => signingKeys[u.name].publicKey))
        .apply((keys) => withSigningKeys(accountClaims(a), keys));
      return [
        a.name,
        new IssuedJwt(
          `${name}-account-${a.name}-jwt`,
          { kind: "account", name: a.name, subjectPublicKey: accountKeys[a.name].publicKey, signerSeed: operatorKey.seed, claims },
          after,
        ),
      ];
    }),
  );
  const userJwts = Object.fromEntries(
    spec.users.map((u) => [
      u.name,
      new IssuedJwt(
        `${name}-user-${u.name}-jwt`,
        {
          kind: "user",
          name: u.name,
          subjectPublicKey: userKeys[u.name].publicKey,
          signerSeed: signingKeys[u.name].seed,
          issuerAccount: accountKeys[u.account].publicKey,
          claims: userClaims(u),
        },
        userOpts(u.name),
      ),
    ]),
  );

  // JWTs and public keys are public: drop any secrecy inherited from the signing seed.
  const issued: pulumi.Output<IssuedIdentities> = pulumi.unsecret(
    pulumi.output({
      operatorJwt: operatorJwt.jwt,
      accounts: Object.fromEntries(
        spec.accounts.map((a) => [a.name, { publicKey: accountKeys[a.name].publicKey, jwt: accountJwts[a.name].jwt }]),
      ),
    }),
  );
  const serverSecurity = issued.apply((i) => buildServerSecurity(spec, i, args.leafCredentialsDir ?? DEFAULT_LEAF_CREDENTIALS_DIR));

  // Each user's creds depend on that user's JWT and seed only: a change to one user leaves every
  // other creds value (and what consumes it: JetStream targets, leaf-link files) known at preview.
  const credsOf: Record<string, pulumi.Output<string>> = Object.fromEntries(
    spec.users.map((u) => [u.name, pulumi.secret(pulumi.all([userJwts[u.name].jwt, userKeys[u.name].seed]).apply(([jwt, seed]) => credsText(jwt, seed)))]),
  );
  const userCreds = pulumi.secret(pulumi.all(credsOf));
  const leafLinkCreds = Object.fromEntries(Object.entries(spec.leafLinks).map(([leaf, user]) => [leaf, credsOf[user]]));
  const jetstreamAdminCreds = credsOf[JETSTREAM_ADMIN_USER];
  const contextDir = (args.contextCredentialsDir ?? `~/.config/cim-nats/${topology.name}`).replace(/\/+$/, "");
  const contexts = pulumi.secret(
    pulumi.output(
      natsContexts(topology, `${contextDir}/${credsFileName(JETSTREAM_ADMIN_USER)}`, `${contextDir}/${credsFileName(SYSTEM_MONITOR_USER)}`, {
        users: spec.users,
        credsDir: contextDir,
      }, args.contextCa ? `${contextDir}/ca.pem` : undefined),
    ),
  );

  const publicKeys: pulumi.Output<SecurityPublicKeys> = pulumi.unsecret(
    pulumi.output({
      operator: operatorKey.publicKey,
      accounts: Object.fromEntries(spec.accounts.map((a) => [a.name, accountKeys[a.name].publicKey])),
      users: Object.fromEntries(spec.users.map((u) => [u.name, userKeys[u.name].publicKey])),
    }),
  );

  return { serverSecurity, userCreds, credsByUser: credsOf, leafLinkCreds, jetstreamAdminCreds, natsContexts: contexts, publicKeys };
}

/**
 * parseSecurity for the Pulumi edge: a ConfigError becomes the InputPropertiesError Pulumi shows
 * at preview, one entry per problem with its path.
 */
export function securitySpecOrInputError(raw: unknown, topology: Topology, jetstream?: JetStreamSpec): SecuritySpec {
  try {
    return parseSecurity(raw, topology, jetstream);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw new pulumi.InputPropertiesError({
      message: err.message,
      errors: err.issues.map((i) => ({ propertyPath: i.propertyPath, reason: i.reason })),
    });
  }
}
