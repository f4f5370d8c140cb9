/**
 * The seam between the security capability and the renderers: what a server's config needs to
 * run in operator mode. Produced by components/security (from the declared operator, accounts
 * and users); consumed by the nats-server and NixOS renderers. All of it is public material
 * (JWTs and public keys) except the creds files, which are referenced by path only: the
 * renderers never see a seed.
 *
 * Account JWTs are not here: servers run nats-server's full resolver and get every account JWT
 * pushed through the system account (security/jwt-push.ts), so adding a service, a user or a
 * permission changes no server's config. Only the bootstrap JWTs of the system and application
 * accounts are preloaded: what a new (or wiped) server needs before the first push reaches it.
 */
export type ServerSecurity = {
  /** Operator JWT (public). Rendered as `operator: <jwt>`. */
  readonly operatorJwt: string;
  /** Public key (A…) of the system account. Rendered as `system_account`. */
  readonly systemAccount: string;
  /**
   * Account public key → its bootstrap JWT (`iat` 1: a pushed JWT always wins), rendered as
   * `resolver_preload` beside `resolver: { type: full }`.
   */
  readonly bootstrapJwts: Readonly<Record<string, string>>;
  /**
   * Leaf instances: per leaf server name, the creds file (a path on the target, 0600, outside the
   * Nix store) and local account of each of its two links: `application` binds the data account
   * (sourcing, services' cross-place traffic), `system` the system account (JWT updates, resolver sync).
   */
  readonly leafLinks: Readonly<Record<string, LeafLinks>>;
};

/** The two leafnode links of one leaf. */
export type LeafLinks = { readonly application: LinkCredentials; readonly system: LinkCredentials };
export type LinkCredentials = { readonly credentialsPath: string; readonly account: string };
