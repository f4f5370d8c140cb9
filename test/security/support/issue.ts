/**
 * Issues a SecuritySpec the way `pulumi up` does, without Pulumi: the identity plan
 * (components/security/identity-plan.ts) driven through the real NKey and IssuedJwt provider
 * functions by a tiny engine (create what is new, diff + update or replace what exists, forget
 * what is gone). Lets real-server tests run the exact code the stack runs, including a re-issue
 * after a user is removed or narrowed.
 */
import { credsText } from "../../../components/security/creds";
import { identityPlan } from "../../../components/security/identity-plan";
import { type IssuedJwtOutputs, issuedJwtProvider } from "../../../components/security/jwt";
import { type NKeyInputs, type NKeyOutputs, nkeyProvider } from "../../../components/security/nkey";
import type { ProvidedIdentities } from "../../../components/security/provided-identities";
import { type SignedPermissionsOutputs, signedPermissionsProvider } from "../../../components/security/signed-permissions";
import { buildServerSecurity, type IssuedIdentities } from "../../../components/security/server-security";
import { type SecuritySpec, SYSTEM_MONITOR_USER } from "../../../components/security/types";
import type { ServerSecurity } from "../../../components/render/server-security";
import type { AccountPushes } from "../../../harness/local-topology";

export type TestIssue = {
  readonly spec: SecuritySpec;
  /** `operator`, `account:<name>`, `user:<name>`, `signing:<user>` → key (seed included). */
  readonly keys: Readonly<Record<string, NKeyOutputs>>;
  /** The inputs each key was last issued with (what the engine hands the NKey provider's check as olds). */
  readonly keyInputs: Readonly<Record<string, NKeyInputs>>;
  /** `operator`, `account:<name>`, `bootstrap:<name>`, `user:<name>` → issued JWT state. */
  readonly jwts: Readonly<Record<string, IssuedJwtOutputs>>;
  /** `signing:<user>` → the record of what that signing key signs (its id rotates the key). */
  readonly records: Readonly<Record<string, { readonly id: string; readonly outs: SignedPermissionsOutputs }>>;
  /** User name → creds text. */
  readonly creds: Readonly<Record<string, string>>;
  readonly issued: IssuedIdentities;
  /** Ids whose JWT was (re-)encoded by this run, e.g. ["account:PLATFORM"]. */
  readonly encoded: readonly string[];
  /** Key ids replaced by this run (a narrowing rotates a user's signing key). */
  readonly rotated: readonly string[];
};

/**
 * Issues `spec`, keeping keys and JWTs of `previous` where nothing changed. `provided`: keys a
 * site already had (provided-identities.ts), as the program hands them to NatsSecurity; a key
 * switch the NKey provider's check refuses throws its reason.
 */
export async function issueForTest(spec: SecuritySpec, previous?: TestIssue, provided?: ProvidedIdentities): Promise<TestIssue> {
  const plan = identityPlan(spec, provided ? { provided: Object.keys(provided.seeds), accounts: provided.accounts } : undefined);
  const allowSwitch = provided?.allowSwitch ?? spec.identities.allowSwitch;
  const keys: Record<string, NKeyOutputs> = {};
  const keyInputs: Record<string, NKeyInputs> = {};
  const jwts: Record<string, IssuedJwtOutputs> = {};
  const encoded: string[] = [];
  const rotated: string[] = [];
  const records: Record<string, { id: string; outs: SignedPermissionsOutputs }> = {};
  for (const k of plan.keys) {
    if (k.signs) {
      const was = previous?.records[k.id];
      const diff = was && (await signedPermissionsProvider.diff!(was.id, was.outs, { signs: k.signs }));
      if (was && diff && !diff.replaces?.length) {
        records[k.id] = diff.changes ? { id: was.id, outs: (await signedPermissionsProvider.update!(was.id, was.outs, { signs: k.signs })).outs! } : was;
      } else {
        const made = await signedPermissionsProvider.create({ signs: k.signs });
        records[k.id] = { id: made.id, outs: made.outs! };
      }
    }
    const inputs: NKeyInputs = {
      kind: k.kind,
      ...(records[k.id] ? { rotation: records[k.id].id } : {}),
      ...(k.provided && provided ? { seed: provided.seeds[k.id] } : {}),
      ...(allowSwitch && (k.kind === "operator" || k.id.startsWith("account:")) ? { allowSwitch: true } : {}),
    };
    const old = previous?.keys[k.id];
    const checked = await nkeyProvider.check!((old ? previous!.keyInputs[k.id] : undefined) ?? ({} as NKeyInputs), inputs);
    if (checked.failures?.length) throw new Error(`${k.id}: ${checked.failures.map((f) => `${f.property}: ${f.reason}`).join("; ")}`);
    keyInputs[k.id] = inputs;
    if (old) {
      const diff = await nkeyProvider.diff!(k.id, old, inputs);
      if (!diff.changes) {
        keys[k.id] = old;
        continue;
      }
      rotated.push(k.id);
    }
    keys[k.id] = (await nkeyProvider.create(inputs)).outs!;
  }
  for (const j of plan.jwts) {
    const inputs = {
      kind: j.kind,
      name: j.name,
      subjectPublicKey: keys[j.subject].publicKey,
      signerSeed: keys[j.signer].seed,
      ...(j.issuerAccount ? { issuerAccount: keys[j.issuerAccount].publicKey } : {}),
      claims: j.claims((id) => keys[id].publicKey),
      ...(j.issuedAt !== undefined ? { issuedAt: j.issuedAt } : {}),
    };
    const old = previous?.jwts[j.id];
    if (old) {
      const diff = await issuedJwtProvider.diff!(j.id, old, inputs);
      if (!diff.changes) {
        jwts[j.id] = old;
        continue;
      }
      if (!diff.replaces?.length) {
        const outs = (await issuedJwtProvider.update!(j.id, old, inputs)).outs!;
        if (outs.jwt !== old.jwt) encoded.push(j.id);
        jwts[j.id] = outs;
        continue;
      }
    }
    encoded.push(j.id);
    jwts[j.id] = (await issuedJwtProvider.create(inputs)).outs!;
  }
  const creds: Record<string, string> = Object.fromEntries(spec.users.map((u) => [u.name, credsText(jwts[`user:${u.name}`].jwt, keys[`user:${u.name}`].seed)]));
  const issued: IssuedIdentities = {
    operatorJwt: jwts.operator.jwt,
    accounts: Object.fromEntries(
      spec.accounts.map((a) => [
        a.name,
        { publicKey: keys[`account:${a.name}`].publicKey, jwt: jwts[`account:${a.name}`].jwt, ...(jwts[`bootstrap:${a.name}`] ? { bootstrapJwt: jwts[`bootstrap:${a.name}`].jwt } : {}) },
      ]),
    ),
  };
  return { spec, keys, keyInputs, jwts, records, creds, issued, encoded, rotated };
}

/** ServerSecurity with link creds under `creds/` (relative: startTopology resolves it in its dir). */
export function testServerSecurity(issue: TestIssue): ServerSecurity {
  return buildServerSecurity(issue.spec, issue.issued, "creds");
}

/** The link creds files (application and system) startTopology writes (0600) before starting the servers. */
export function leafLinkFiles(issue: TestIssue): Record<string, string> {
  const users = [...Object.values(issue.spec.leafLinks), ...Object.values(issue.spec.systemLinks)];
  return Object.fromEntries(users.map((user) => [`creds/${user}.creds`, issue.creds[user]]));
}

/**
 * Every account JWT to push, the data account last (as the stack orders its pushes), with the
 * system monitor's creds. `only`: just these accounts (what a day-2 change re-issued).
 */
export function accountPushes(issue: TestIssue, only?: readonly string[]): AccountPushes {
  const names = issue.spec.accounts.map((a) => a.name).filter((n) => !only || only.includes(n));
  const ordered = [...names.filter((n) => n !== issue.spec.applicationAccount), ...names.filter((n) => n === issue.spec.applicationAccount)];
  return {
    creds: issue.creds[SYSTEM_MONITOR_USER],
    accounts: ordered.map((name) => ({ account: name, publicKey: issue.issued.accounts[name].publicKey, jwt: issue.issued.accounts[name].jwt })),
  };
}

/** The accounts whose JWT this run re-encoded (what the stack's pushes would update). */
export function changedAccounts(issue: TestIssue): string[] {
  return issue.encoded.filter((id) => id.startsWith("account:")).map((id) => id.slice("account:".length));
}
