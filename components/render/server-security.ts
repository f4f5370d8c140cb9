/**
 * The seam between the security capability and the renderers: what a server's config needs to
 * run in operator mode. Produced by components/security (from the declared operator, accounts
 * and users); consumed by the nats-server and NixOS renderers. All of it is public material
 * (JWTs and public keys) except the creds files, which are referenced by path only: the
 * renderers never see a seed.
 */
export type ServerSecurity = {
  /** Operator JWT (public). Rendered as `operator: <jwt>`. */
  readonly operatorJwt: string;
  /** Public key (A…) of the system account. Rendered as `system_account`. */
  readonly systemAccount: string;
  /** Account public key → account JWT, rendered as `resolver: MEMORY` + `resolver_preload`. */
  readonly resolverPreload: Readonly<Record<string, string>>;
  /**
   * Leaf instances: the leaf-link credentials per leaf server name, as a path on the target
   * (0600, outside the Nix store), and the local account public key the link binds.
   */
  readonly leafLinks: Readonly<Record<string, { readonly credentialsPath: string; readonly account: string }>>;
};
