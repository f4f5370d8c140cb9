/**
 * The `cim-nats:tls` section as validated data: how the stack gets the certificates of every
 * nats-server listener (clients, routes, leafnodes) and of the leaf links. Pure.
 *
 * - `generated` (default): the stack issues a private CA once (kept in Pulumi state, its key a
 *   secret) and a certificate per server from it.
 * - `provided`: the operator hands over a CA certificate (config) and its key (secret config
 *   `cim-nats:tlsCaKey`); the stack issues the server certificates from that CA.
 * - `off`: no TLS anywhere (an explicit opt-out; prod policy flags it).
 */

export const TlsMode = { Generated: "generated", Provided: "provided", Off: "off" } as const;
export type TlsMode = (typeof TlsMode)[keyof typeof TlsMode];

/** Certificate lifetimes and the renewal window, in days. */
export type TlsValidity = {
  /** A generated CA's lifetime. Default 3650 (~10 years). */
  readonly caDays: number;
  /** A server certificate's lifetime. Default 365. */
  readonly serverDays: number;
  /** A server certificate this close to its end is re-issued by `up` (and shown by `preview`). Default 30. */
  readonly renewBeforeDays: number;
};

export type TlsSpec =
  | { readonly mode: "off" }
  | ({ readonly mode: "generated" } & TlsValidity)
  | ({
      readonly mode: "provided";
      /** The operator's CA certificate (PEM, public). */
      readonly caCertPem: string;
      /** Its private key (PKCS#8 PEM, secret: `cim-nats:tlsCaKey`). */
      readonly caKeyPem: string;
    } & TlsValidity);

export const DEFAULT_TLS_VALIDITY: TlsValidity = { caDays: 3650, serverDays: 365, renewBeforeDays: 30 };

/** The user the hub members authenticate their routes as (`cluster.authorization.user`). */
export const ROUTE_USER = "cim-route";
