/**
 * The ServerSecurity seam (components/render/server-security.ts) built from the spec and the
 * issued public material: operator JWT, system account, account JWTs, leaf links. Pure; never
 * sees a seed — leaf-link credentials are referenced by their path on the target.
 */
import type { ServerSecurity } from "../render/server-security";
import { credsFileName } from "./creds";
import type { SecuritySpec } from "./types";

/** Public results of issuing: what the servers need to verify every identity. */
export type IssuedIdentities = {
  readonly operatorJwt: string;
  /** Account name → its public key and JWT. */
  readonly accounts: Readonly<Record<string, { readonly publicKey: string; readonly jwt: string }>>;
};

/** Where a leaf-link user's creds file lives on its leaf's machine (0600, outside the Nix store). */
export function leafLinkCredentialsPath(credentialsDir: string, leafLinkUser: string): string {
  return `${credentialsDir.replace(/\/+$/, "")}/${credsFileName(leafLinkUser)}`;
}

/**
 * What every server's config needs for operator mode. `credentialsDir`: the directory on each
 * leaf's machine holding its leaf-link creds file.
 */
export function buildServerSecurity(spec: SecuritySpec, issued: IssuedIdentities, credentialsDir: string): ServerSecurity {
  const account = (name: string) => {
    const a = issued.accounts[name];
    if (!a) throw new Error(`account '${name}' was not issued: issue every account of the spec (${spec.accounts.map((x) => x.name).join(", ")})`);
    return a;
  };
  const resolverPreload: Record<string, string> = {};
  for (const a of spec.accounts) resolverPreload[account(a.name).publicKey] = account(a.name).jwt;
  const leafLinks: Record<string, { credentialsPath: string; account: string }> = {};
  for (const [leaf, userName] of Object.entries(spec.leafLinks)) {
    const user = spec.users.find((u) => u.name === userName);
    if (!user) throw new Error(`leaf '${leaf}' names leaf-link user '${userName}', which the spec does not declare`);
    leafLinks[leaf] = { credentialsPath: leafLinkCredentialsPath(credentialsDir, userName), account: account(user.account).publicKey };
  }
  return {
    operatorJwt: issued.operatorJwt,
    systemAccount: account(spec.systemAccount).publicKey,
    resolverPreload,
    leafLinks,
  };
}
