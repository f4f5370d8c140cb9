/**
 * The ServerSecurity seam (components/render/server-security.ts) built from the spec and the
 * issued public material: operator JWT, system account, bootstrap JWTs, leaf links. Pure; never
 * sees a seed — link credentials are referenced by their path on the target.
 */
import type { ServerSecurity } from "../render/server-security";
import { credsFileName } from "./creds";
import { bootstrapAccounts } from "./identity-plan";
import type { SecuritySpec } from "./types";

/** Public results of issuing: what the servers need to verify every identity. */
export type IssuedIdentities = {
  readonly operatorJwt: string;
  /** Account name → its public key, current JWT (pushed) and, for the bootstrap accounts, the preloaded one. */
  readonly accounts: Readonly<Record<string, { readonly publicKey: string; readonly jwt: string; readonly bootstrapJwt?: string }>>;
};

/** Where a link user's creds file lives on its leaf's machine (0600, outside the Nix store). */
export function leafLinkCredentialsPath(credentialsDir: string, linkUser: string): string {
  return `${credentialsDir.replace(/\/+$/, "")}/${credsFileName(linkUser)}`;
}

/**
 * What every server's config needs for operator mode. `credentialsDir`: the directory on each
 * leaf's machine holding its link creds files.
 */
export function buildServerSecurity(spec: SecuritySpec, issued: IssuedIdentities, credentialsDir: string): ServerSecurity {
  const account = (name: string) => {
    const a = issued.accounts[name];
    if (!a) throw new Error(`account '${name}' was not issued: issue every account of the spec (${spec.accounts.map((x) => x.name).join(", ")})`);
    return a;
  };
  const bootstrapJwts: Record<string, string> = {};
  for (const name of bootstrapAccounts(spec)) {
    const a = account(name);
    if (!a.bootstrapJwt) throw new Error(`account '${name}' has no bootstrap JWT: issue the identity plan's bootstrap JWTs`);
    bootstrapJwts[a.publicKey] = a.bootstrapJwt;
  }
  const link = (userName: string, leaf: string) => {
    const user = spec.users.find((u) => u.name === userName);
    if (!user) throw new Error(`leaf '${leaf}' names link user '${userName}', which the spec does not declare`);
    return { credentialsPath: leafLinkCredentialsPath(credentialsDir, userName), account: account(user.account).publicKey };
  };
  const leafLinks = Object.fromEntries(
    Object.entries(spec.leafLinks).map(([leaf, userName]) => {
      const system = spec.systemLinks[leaf];
      if (!system) throw new Error(`leaf '${leaf}' has no system-link user: the spec derives one per leaf`);
      return [leaf, { application: link(userName, leaf), system: link(system, leaf) }];
    }),
  );
  return { operatorJwt: issued.operatorJwt, systemAccount: account(spec.systemAccount).publicKey, bootstrapJwts, leafLinks };
}
