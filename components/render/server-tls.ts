/**
 * The seam between the TLS capability (components/tls) and the renderers: where one server finds
 * its certificate, key and CA on its machine, and — for a hub member — the file holding its route
 * password. Paths only: the renderers never see a key or a password, so rendered configs stay
 * public. Plain data.
 */
export type ServerTls = {
  /** The server's certificate (PEM), presented on every listener and on its outgoing links. */
  readonly certFile: string;
  /** Its private key (PEM, 0600 on the machine). */
  readonly keyFile: string;
  /** The CA every peer's certificate must chain to. */
  readonly caFile: string;
};

/**
 * A hub member's route authorization: `cluster { include "<file>" }`, where the file (0600,
 * rendered by renderClusterAuth) holds `authorization { user, password }` and the `routes` with
 * the password in their URLs. nats-server resolves an include relative to the folder of the
 * config file, so this is a relative path.
 */
export type ClusterAuthRef = {
  readonly include: string;
};

/** What renderServerConfig takes next to `security`: either part may be absent (TLS off, or a leaf). */
export type ServerTlsInput = {
  readonly tls?: ServerTls;
  readonly clusterAuth?: ClusterAuthRef;
};
