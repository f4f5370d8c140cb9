/**
 * Issues a SecuritySpec the way `pulumi up` does, without Pulumi: the real NKey and IssuedJwt
 * provider functions, driven by a tiny engine (create what is new, diff + update what exists,
 * forget what is gone). Lets real-server tests run the exact code the stack runs, including a
 * re-issue after a user is removed.
 */
import { accountClaims, operatorClaims, userClaims, withSigningKeys } from "../../../components/security/claims";
import { credsText } from "../../../components/security/creds";
import { IssuedJwtInputs, IssuedJwtOutputs, issuedJwtProvider } from "../../../components/security/jwt";
import { NKeyKind, NKeyOutputs, nkeyProvider } from "../../../components/security/nkey";
import { buildServerSecurity, IssuedIdentities } from "../../../components/security/server-security";
import type { SecuritySpec } from "../../../components/security/types";
import type { ServerSecurity } from "../../../components/render/server-security";

export type TestIssue = {
  readonly spec: SecuritySpec;
  /** `operator`, `account:<name>`, `user:<name>`, `signing:<user>` → key (seed included). */
  readonly keys: Readonly<Record<string, NKeyOutputs>>;
  /** Same ids → issued JWT state. */
  readonly jwts: Readonly<Record<string, IssuedJwtOutputs>>;
  /** User name → creds text. */
  readonly creds: Readonly<Record<string, string>>;
  readonly issued: IssuedIdentities;
  /** Ids whose JWT was (re-)encoded by this run, e.g. ["account:PLATFORM"]. */
  readonly encoded: readonly string[];
};

async function key(id: string, kind: NKeyKind, previous?: TestIssue): Promise<NKeyOutputs> {
  const old = previous?.keys[id];
  if (old && !(await nkeyProvider.diff!(id, old, { kind })).changes) return old;
  return (await nkeyProvider.create({ kind })).outs!;
}

async function jwt(id: string, inputs: IssuedJwtInputs, previous: TestIssue | undefined, encoded: string[]): Promise<IssuedJwtOutputs> {
  const old = previous?.jwts[id];
  if (old) {
    const diff = await issuedJwtProvider.diff!(id, old, inputs);
    if (!diff.changes) return old;
    if (!diff.replaces || diff.replaces.length === 0) {
      const outs = (await issuedJwtProvider.update!(id, old, inputs)).outs!;
      if (outs.jwt !== old.jwt) encoded.push(id);
      return outs;
    }
  }
  encoded.push(id);
  return (await issuedJwtProvider.create(inputs)).outs!;
}

/** Issues `spec`, keeping keys and JWTs of `previous` where nothing changed. */
export async function issueForTest(spec: SecuritySpec, previous?: TestIssue): Promise<TestIssue> {
  const keys: Record<string, NKeyOutputs> = {};
  const jwts: Record<string, IssuedJwtOutputs> = {};
  const encoded: string[] = [];
  keys.operator = await key("operator", "operator", previous);
  for (const a of spec.accounts) keys[`account:${a.name}`] = await key(`account:${a.name}`, "account", previous);
  for (const u of spec.users) keys[`user:${u.name}`] = await key(`user:${u.name}`, "user", previous);
  for (const u of spec.users) keys[`signing:${u.name}`] = await key(`signing:${u.name}`, "account", previous);

  jwts.operator = await jwt(
    "operator",
    {
      kind: "operator",
      name: spec.operator,
      subjectPublicKey: keys.operator.publicKey,
      signerSeed: keys.operator.seed,
      claims: operatorClaims(keys[`account:${spec.systemAccount}`].publicKey),
    },
    previous,
    encoded,
  );
  for (const a of spec.accounts) {
    jwts[`account:${a.name}`] = await jwt(
      `account:${a.name}`,
      {
        kind: "account",
        name: a.name,
        subjectPublicKey: keys[`account:${a.name}`].publicKey,
        signerSeed: keys.operator.seed,
        claims: withSigningKeys(
          accountClaims(a),
          spec.users.filter((u) => u.account === a.name).map((u) => keys[`signing:${u.name}`].publicKey),
        ),
      },
      previous,
      encoded,
    );
  }
  const creds: Record<string, string> = {};
  for (const u of spec.users) {
    const id = `user:${u.name}`;
    jwts[id] = await jwt(
      id,
      {
        kind: "user",
        name: u.name,
        subjectPublicKey: keys[id].publicKey,
        signerSeed: keys[`signing:${u.name}`].seed,
        issuerAccount: keys[`account:${u.account}`].publicKey,
        claims: userClaims(u),
      },
      previous,
      encoded,
    );
    creds[u.name] = credsText(jwts[id].jwt, keys[id].seed);
  }
  const issued: IssuedIdentities = {
    operatorJwt: jwts.operator.jwt,
    accounts: Object.fromEntries(spec.accounts.map((a) => [a.name, { publicKey: keys[`account:${a.name}`].publicKey, jwt: jwts[`account:${a.name}`].jwt }])),
  };
  return { spec, keys, jwts, creds, issued, encoded };
}

/** ServerSecurity with leaf-link creds under `creds/` (relative: startTopology resolves it in its dir). */
export function testServerSecurity(issue: TestIssue): ServerSecurity {
  return buildServerSecurity(issue.spec, issue.issued, "creds");
}

/** The leaf-link creds files startTopology writes (0600) before starting the servers. */
export function leafLinkFiles(issue: TestIssue): Record<string, string> {
  return Object.fromEntries(Object.values(issue.spec.leafLinks).map((user) => [`creds/${user}.creds`, issue.creds[user]]));
}
