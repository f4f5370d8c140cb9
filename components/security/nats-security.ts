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
import { natsContexts } from "./contexts";
import { credsFileName, credsText } from "./creds";
import { IssuedJwt } from "./jwt";
import { NKey, type NKeyArgs } from "./nkey";
import { SignedPermissions } from "./signed-permissions";
import { identityPlan } from "./identity-plan";
import { parseSecurity } from "./parse";
import type { ProvidedIdentities } from "./provided-identities";
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
   * What every key, signing record and JWT waits for before it is made, rotated or re-issued,
   * except those the `issueFirst` users' JWTs need. The stack passes the JetStream removal
   * guard: a change the guard refuses (at preview, or before any step of `up`) then creates,
   * rotates and re-signs nothing, so a revert finds nothing to undo.
   * Default none.
   */
  readonly issueAfter?: readonly pulumi.Input<pulumi.Resource>[];
  /** Users whose JWTs do not wait for `issueAfter` (the guard connects as the JetStream admin). Default none. */
  readonly issueFirst?: readonly string[];
  /**
   * Keys a site already has (an nsc store, or the secret identitySeeds: provided-identities.ts)
   * and what adopted accounts keep (signing keys, revocations). Default: every key generated.
   */
  readonly provided?: ProvidedIdentities;
}

/** Public keys of every identity: safe to show, handy for `nats account info` and audits. */
export type SecurityPublicKeys = {
  readonly operator: string;
  readonly accounts: Readonly<Record<string, string>>;
  readonly users: Readonly<Record<string, string>>;
};

/** One account as the push resources need it: its public key and current JWT (both public). */
export type IssuedAccount = { readonly publicKey: pulumi.Output<string>; readonly jwt: pulumi.Output<string> };

/** What createNatsSecurity returns: the component copies these onto itself. */
export type NatsSecurityOutputs = {
  readonly serverSecurity: pulumi.Output<ServerSecurity>;
  readonly userCreds: pulumi.Output<Readonly<Record<string, string>>>;
  readonly credsByUser: Readonly<Record<string, pulumi.Output<string>>>;
  readonly leafLinkCreds: Readonly<Record<string, pulumi.Output<string>>>;
  readonly systemLinkCreds: Readonly<Record<string, pulumi.Output<string>>>;
  readonly jetstreamAdminCreds: pulumi.Output<string>;
  readonly natsContexts: pulumi.Output<Readonly<Record<string, string>>>;
  readonly publicKeys: pulumi.Output<SecurityPublicKeys>;
  readonly accounts: Readonly<Record<string, IssuedAccount>>;
  readonly operatorSeed: pulumi.Output<string>;
};

/** Operator, accounts and users of one stack as keys, JWTs, creds and contexts. */
export class NatsSecurity extends pulumi.ComponentResource {
  /** Operator JWT, system account, bootstrap JWTs, leaf links: public material for the renderers. */
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
  /** Leaf server name → its system-link `.creds` text. Secret. */
  declare public readonly systemLinkCreds: Readonly<Record<string, pulumi.Output<string>>>;
  /** `.creds` text of `jetstream-admin` (the JetStream providers connect with it). Secret. */
  declare public readonly jetstreamAdminCreds: pulumi.Output<string>;
  /**
   * Context name (leaf server names, `hub`, `hub-system`) → `nats context` JSON. Secret, though
   * it holds only a creds path, never a seed.
   */
  declare public readonly natsContexts: pulumi.Output<Readonly<Record<string, string>>>;
  /** Public keys of operator, accounts and users. Not secret. */
  declare public readonly publicKeys: pulumi.Output<SecurityPublicKeys>;
  /** Account name → public key and current JWT: what the JWT pushes (jwt-push.ts) deliver. Public. */
  declare public readonly accounts: Readonly<Record<string, IssuedAccount>>;
  /** The operator's seed: signs the tombstone of a removed service account. Secret. */
  declare public readonly operatorSeed: pulumi.Output<string>;

  constructor(name: string, args: NatsSecurityArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cim-nats:security:NatsSecurity", name, {}, opts);
    const out = createNatsSecurity(name, args, this);
    this.serverSecurity = out.serverSecurity;
    this.userCreds = out.userCreds;
    this.credsByUser = out.credsByUser;
    this.leafLinkCreds = out.leafLinkCreds;
    this.systemLinkCreds = out.systemLinkCreds;
    this.jetstreamAdminCreds = out.jetstreamAdminCreds;
    this.natsContexts = out.natsContexts;
    this.publicKeys = out.publicKeys;
    this.accounts = out.accounts;
    this.operatorSeed = out.operatorSeed;
    this.registerOutputs({
      serverSecurity: out.serverSecurity,
      userCreds: out.userCreds,
      natsContexts: out.natsContexts,
      publicKeys: out.publicKeys,
      jetstreamAdminCreds: out.jetstreamAdminCreds,
      leafLinkCreds: pulumi.secret(pulumi.all(out.leafLinkCreds)),
      systemLinkCreds: pulumi.secret(pulumi.all(out.systemLinkCreds)),
    });
  }
}

/** The children of a NatsSecurity (one NKey or IssuedJwt per entry of the identity plan) and what it exposes. */
export function createNatsSecurity(name: string, args: NatsSecurityArgs, parent: pulumi.Resource): NatsSecurityOutputs {
  const { spec, topology } = args;
  const opts = { parent };
  const after = { parent, dependsOn: [...(args.issueAfter ?? [])] };
  const provided = args.provided;
  const plan = identityPlan(spec, provided ? { provided: Object.keys(provided.seeds), accounts: provided.accounts } : undefined);
  const allowSwitch = provided?.allowSwitch ?? spec.identities.allowSwitch;
  const first = plan.jwts.filter((j) => j.kind === "user" && (args.issueFirst ?? []).includes(j.name));
  const firstKeys = new Set(first.flatMap((j) => [j.subject, j.signer, ...(j.issuerAccount ? [j.issuerAccount] : [])]));

  const keys: Record<string, NKey> = Object.fromEntries(
    plan.keys.map((k) => {
      // Like the JWTs, keys and records wait for `issueAfter` (the data-loss guard), so a refused
      // run creates or rotates nothing; only what the `issueFirst` users' JWTs need does not.
      const o = firstKeys.has(k.id) ? opts : after;
      // A signing key rotates with the record of what it signs (replaced when that narrows).
      const rotation = k.signs ? new SignedPermissions(`${name}-${k.resource.replace(/-signing-key$/, "-signed-permissions")}`, { signs: k.signs }, o).id : undefined;
      const args: NKeyArgs = {
        kind: k.kind,
        ...(rotation ? { rotation } : {}),
        // A provided key (an nsc store's, or the secret identitySeeds): this seed, not a generated one.
        ...(k.provided && provided ? { seed: pulumi.secret(provided.seeds[k.id]) } : {}),
        // Only the operator's and accounts' keys can be provided; only they can switch.
        ...(allowSwitch && (k.kind === "operator" || k.id.startsWith("account:")) ? { allowSwitch: true } : {}),
      };
      return [k.id, new NKey(`${name}-${k.resource}`, args, o)];
    }),
  );
  const publicKeyOf = (id: string) => keys[id].publicKey;
  const jwts: Record<string, IssuedJwt> = Object.fromEntries(
    plan.jwts.map((j) => {
      // User JWTs of `issueFirst` users do not wait for the guard (it connects as one of them).
      const user = j.kind === "user" && (args.issueFirst ?? []).includes(j.name);
      const claims = pulumi.all(Object.fromEntries(j.needs.map((id) => [id, publicKeyOf(id)]))).apply((pubs) => j.claims((id) => pubs[id]));
      return [
        j.id,
        new IssuedJwt(
          `${name}-${j.resource}`,
          {
            kind: j.kind,
            name: j.name,
            subjectPublicKey: publicKeyOf(j.subject),
            signerSeed: keys[j.signer].seed,
            ...(j.issuerAccount ? { issuerAccount: publicKeyOf(j.issuerAccount) } : {}),
            claims,
            ...(j.issuedAt !== undefined ? { issuedAt: j.issuedAt } : {}),
          },
          user ? opts : after,
        ),
      ];
    }),
  );

  // Servers see only what is stable for the stack's life: operator, bootstrap JWTs, link paths
  // (public: drop the secrecy inherited from the signing seeds). Account JWTs are pushed.
  const stable: pulumi.Output<IssuedIdentities> = pulumi.unsecret(
    pulumi.output({
      operatorJwt: jwts.operator.jwt,
      accounts: Object.fromEntries(
        spec.accounts.map((a) => [a.name, { publicKey: publicKeyOf(`account:${a.name}`), jwt: "", ...(jwts[`bootstrap:${a.name}`] ? { bootstrapJwt: jwts[`bootstrap:${a.name}`].jwt } : {}) }]),
      ),
    }),
  );
  const serverSecurity = stable.apply((i) => buildServerSecurity(spec, i, args.leafCredentialsDir ?? DEFAULT_LEAF_CREDENTIALS_DIR));

  // Each user's creds depend on that user's JWT and seed only: a change to one user leaves every
  // other creds value (and what consumes it: JetStream targets, leaf-link files) known at preview.
  const credsOf: Record<string, pulumi.Output<string>> = Object.fromEntries(
    spec.users.map((u) => [u.name, pulumi.secret(pulumi.all([jwts[`user:${u.name}`].jwt, keys[`user:${u.name}`].seed]).apply(([jwt, seed]) => credsText(jwt, seed)))]),
  );
  const userCreds = pulumi.secret(pulumi.all(credsOf));
  const leafLinkCreds = Object.fromEntries(Object.entries(spec.leafLinks).map(([leaf, user]) => [leaf, credsOf[user]]));
  const systemLinkCreds = Object.fromEntries(Object.entries(spec.systemLinks).map(([leaf, user]) => [leaf, credsOf[user]]));
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
      operator: publicKeyOf("operator"),
      accounts: Object.fromEntries(spec.accounts.map((a) => [a.name, publicKeyOf(`account:${a.name}`)])),
      users: Object.fromEntries(spec.users.map((u) => [u.name, publicKeyOf(`user:${u.name}`)])),
    }),
  );
  const accounts = Object.fromEntries(
    // Each its own Outputs: one account's change leaves every other push known at preview.
    spec.accounts.map((a) => [a.name, { publicKey: pulumi.unsecret(publicKeyOf(`account:${a.name}`)), jwt: pulumi.unsecret(jwts[`account:${a.name}`].jwt) }]),
  );

  return {
    serverSecurity,
    userCreds,
    credsByUser: credsOf,
    leafLinkCreds,
    systemLinkCreds,
    jetstreamAdminCreds,
    natsContexts: contexts,
    publicKeys,
    accounts,
    operatorSeed: keys.operator.seed,
  };
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
