/**
 * NATS security as data: the validated operator, accounts and users a stack declares in
 * `cim-nats:security`, plus the users the topology implies (one leaf-link user per leaf, the
 * JetStream admin, the system monitor). Produced only by `parseSecurity` (parse.ts). Plain
 * readonly data: no keys, no JWTs, no Pulumi — those live at the edge (nats-security.ts).
 */

/** Why a user exists: declared by a service owner, or implied by the topology. */
export const UserRole = {
  /** Declared in `security.users` (a domain service). */
  Service: "service",
  /** Binds one leaf's application account to the hub's over the leafnode link. */
  LeafLink: "leaf-link",
  /**
   * Binds one leaf's system account to the hub's: account JWT updates reach the leaf, and a leaf
   * that was cut off fetches what it missed (resolver lookups and sync) when it links again.
   */
  SystemLink: "system-link",
  /** Full access to the application account: what the JetStream providers and `nats` contexts use. */
  JetStreamAdmin: "jetstream-admin",
  /** Full access to the system account: `nats server ls/report` and monitoring. */
  SystemMonitor: "system-monitor",
} as const;
export type UserRole = (typeof UserRole)[keyof typeof UserRole];

/** Names of the users the topology implies; declared users may not take them. */
export const JETSTREAM_ADMIN_USER = "jetstream-admin";
export const SYSTEM_MONITOR_USER = "sys-monitor";
/** Derived leaf-link user of a leaf server: `leaf-nats-1`. */
export const leafLinkUserName = (leafServerName: string): string => `leaf-${leafServerName}`;
/** Derived system-link user of a leaf server: `leaf-nats-1-sys`. */
export const systemLinkUserName = (leafServerName: string): string => `leaf-${leafServerName}-sys`;

/**
 * What an account is for. Isolation is by account (docs/security.md): data lives in the data
 * account (JetStream on), each service in a service account of its own (JetStream off) that
 * reaches the data only through imports derived from its bindings.
 */
export const AccountKind = {
  /** The system account: server events, monitoring, account JWT updates. */
  System: "system",
  /** Holds streams and buckets (JetStream on): the application account leaves bind. */
  Data: "data",
  /** Declared without bindings in mind: plain users with explicit permissions. */
  Plain: "plain",
  /** A service's own account (or a trust group's), derived from bindings; JetStream off. */
  Service: "service",
} as const;
export type AccountKind = (typeof AccountKind)[keyof typeof AccountKind];

/**
 * Account-wide JetStream limits, in bytes and counts as the account JWT carries them
 * (`limits.mem_storage`, `disk_storage`, `streams`, `consumer`); -1 is unlimited.
 */
export type AccountJetStreamLimits = {
  /** Bytes of memory storage; from `maxMemory` ("256M"). */
  readonly memoryBytes: number;
  /** Bytes of file storage; from `maxFile` ("2G"). */
  readonly fileBytes: number;
  /** Streams; from `maxStreams`. Default -1. */
  readonly streams: number;
  /** Consumers; from `maxConsumers`. Default -1. */
  readonly consumers: number;
};

export type AccountSpec = {
  /** Account name (JWT `name`); a subject token, or a service user's name. */
  readonly name: string;
  /** The system account (`SYS`): no JetStream, server events and monitoring. */
  readonly system: boolean;
  readonly kind: AccountKind;
  /** JetStream limits; undefined: JetStream disabled for this account. */
  readonly jetstream?: AccountJetStreamLimits;
  /** What it imports from other accounts and exports to them (account-links.ts); empty for most. */
  readonly imports: readonly AccountImport[];
  readonly exports: readonly AccountExport[];
};

/** How many responses a service export may send per request (JWT `response_type`). */
export type ResponseType = "Singleton" | "Stream";

/**
 * One import: requests (service) or messages (stream) on `subject` in account `from` appear in
 * this account as `localSubject`. A service import's responses come back through nats-server's
 * reply mapping, so a reply subject can name only subjects of the importing account.
 */
export type AccountImport = {
  readonly type: "service" | "stream";
  /** Name of the exporting account. */
  readonly from: string;
  /** The subject in the exporting account. */
  readonly subject: string;
  /** What this account's clients use (`$JS.hub.API…` where the exporter has `$JS.API…`). */
  readonly localSubject: string;
  /** The binding it comes from, for reviews and docs. */
  readonly why: string;
  /**
   * Services: the exporter learns who asked (nats-server's `Nats-Request-Info`: account, server,
   * connection id), e.g. to keep each client's uploads its own. Default false.
   */
  readonly share?: boolean;
};

/** One export: a service (request/reply) or a stream (messages) other accounts may import. */
export type AccountExport = {
  readonly type: "service" | "stream";
  readonly subject: string;
  /** Services: Singleton (one reply) or Stream (consumer deliveries). */
  readonly responseType?: ResponseType;
};

/**
 * Subjects a user may (allow) or may not (deny) use. Both empty: everything is allowed — the
 * same meaning nats-server gives a user without permissions.
 */
export type SubjectRule = {
  readonly allow: readonly string[];
  readonly deny: readonly string[];
};

/**
 * Response permissions: the user may publish to the reply subject of a request it received,
 * even outside `publish.allow`. The JWT's `resp`.
 */
export type ResponsePermission = {
  /** Replies allowed per request. Default 1. */
  readonly max: number;
  /** How long a reply subject stays allowed, in milliseconds; 0: server default (2 minutes). */
  readonly ttlMs: number;
};

/** nats-server connection types a user may connect with (JWT `allowed_connection_types`). */
export const CONNECTION_TYPES = ["STANDARD", "WEBSOCKET", "LEAFNODE", "LEAFNODE_WS", "MQTT", "MQTT_WS", "IN_PROCESS"] as const;
export type ConnectionType = (typeof CONNECTION_TYPES)[number];

export type UserSpec = {
  /** User name (JWT `name`, creds file name); letters, digits, '-' and '_'. */
  readonly name: string;
  /** Name of the account that issues this user. */
  readonly account: string;
  readonly role: UserRole;
  readonly publish: SubjectRule;
  /** Includes the user's own inbox (`<inboxPrefix>.>`, never `_INBOX.>`) when it was declared with `requestReply: true`. */
  readonly subscribe: SubjectRule;
  /** Undefined: no response permissions. */
  readonly responses?: ResponsePermission;
  /** Leaf-link and system-link users: the leaf server whose `remotes` use these credentials. */
  readonly leafLink?: string;
  /**
   * Who signs its JWT. `signing-key` (services, leaf links): a signing key of its own, listed in
   * the account JWT and replaced whenever the user's permissions narrow, so earlier creds stop
   * working everywhere at once. `account` (the derived admin users): the account key itself, so
   * they work on a server that knows only the account's bootstrap JWT.
   */
  readonly signedBy: "signing-key" | "account";
  /** Empty: any connection type. Leaf-link users: LEAFNODE only, so their creds can't serve a client. */
  readonly connectionTypes: readonly ConnectionType[];
  /**
   * Service users: the prefix of its reply subjects (`_INBOX_person-service`); the client must
   * connect with it (nats.js `inboxPrefix`, the context's `inbox_prefix`). Default
   * `_INBOX_<name>`. Undefined for the derived full-access users.
   */
  readonly inboxPrefix?: string;
  /** Where a service connects (its `at`), resolved; undefined when it did not say. */
  readonly places?: readonly ServicePlace[];
  /** What the service declared it does, when it used bindings. */
  readonly bindings?: ServiceBindings;
  /** Every permission the bindings derived, each with why: the docs tables and reviews read these. Empty or absent without bindings. */
  readonly grants?: readonly Grant[];
  /** What its account imports from the data account for its bindings (service-grants.ts). */
  readonly dataImports?: readonly DataImport[];
  /** With `watches`: consumer deliveries reach its inbox from the data account (a stream import). */
  readonly inboxDeliveries?: InboxDeliveries;
};

/** One server (a leaf) or the hub cluster a service connects to. */
export type ServicePlace = {
  readonly level: "leaf" | "hub";
  /** Context suffix: the leaf's server name, or `hub`. */
  readonly name: string;
  /** JetStream domain of that place. */
  readonly domain: string;
};

/**
 * What a service does, in this stack's terms (`security.users[].publishes` …); the permissions
 * are derived from these (service-grants.ts). Names refer to `cim-nats:jetstream` declarations.
 */
export type ServiceBindings = {
  /** Streams it writes to with acknowledgements (their subjects). */
  readonly publishes: readonly string[];
  /** Durable consumers it pulls and acks: `name` or `STREAM/name`. */
  readonly consumes: readonly string[];
  /** Core subjects it subscribes to. */
  readonly subscribes: readonly string[];
  /** Subjects it answers requests on (subscribe + response permission). */
  readonly serves: readonly string[];
  /** KV and object buckets it reads (get, watch). */
  readonly reads: { readonly kv: readonly string[]; readonly objects: readonly string[] };
  /** KV and object buckets it writes (put, delete). */
  readonly writes: { readonly kv: readonly string[]; readonly objects: readonly string[] };
  /**
   * KV and object buckets it follows through ordered consumers it creates (nats.js kv watch and
   * object get): consumer creation on the bucket's stream, deliveries to its inbox.
   */
  readonly watches: { readonly kv: readonly string[]; readonly objects: readonly string[] };
};

/** A service whose consumers deliver to its inbox (watches): where those deliveries cross links. */
export type InboxDeliveries = {
  /** Places whose server receives deliveries over a link. */
  readonly crossesFrom: readonly string[];
  /** Domains whose servers send them over a link. */
  readonly fromDomains: readonly string[];
};

/** One subject a service sends into the data account (a service import of the same subject). */
export type DataImport = {
  readonly subject: string;
  /** Singleton (one reply) or Stream (a pull request's deliveries, a direct get's batch). */
  readonly responseType: ResponseType;
  readonly why: string;
  /**
   * Places (context names: a leaf's server name, or `hub`) from whose server this subject leaves
   * over a leafnode link to reach its resource in another domain; empty when it is always
   * answered where the service connects.
   */
  readonly crossesFrom: readonly string[];
  /** The JetStream domain of the resource it reaches from across a link; undefined when it never crosses. */
  readonly targetDomain?: string;
};

/** One derived permission and the binding it comes from. */
export type Grant = {
  readonly op: "pub" | "sub";
  readonly subject: string;
  /** `publishes PERSON_EVENTS`, `inbox`, `consumes person-projection @hub` … */
  readonly why: string;
};

/** Where the operator and account keys come from (`security.identities.source`). */
export const IdentitySource = {
  /** The stack generates every key once and keeps it in its state (the default). */
  Generated: "generated",
  /** An existing nsc store: its operator and account keys, read at every preview and up. */
  Nsc: "nsc",
  /** The secret `cim-nats:identitySeeds`. */
  Config: "config",
} as const;
export type IdentitySource = (typeof IdentitySource)[keyof typeof IdentitySource];

/** `security.identities`, validated: paths and choices only (the keys are read at the edge). */
export type IdentitiesSpec = {
  readonly source: IdentitySource;
  /** nsc: the folder holding `stores/` and `keys/`. */
  readonly dir?: string;
  /** nsc: the keystore; default `<dir>/keys`. */
  readonly keysDir?: string;
  /** Account name → public signing keys its JWT keeps listing (creds signed with them keep working). */
  readonly signingKeys: Readonly<Record<string, readonly string[]>>;
  /** nsc: users in the store that `users` does not declare: their creds keep working, or are revoked. */
  readonly undeclaredUsers: "keep" | "revoke";
  /** A key may be replaced (generated ↔ provided, or another provided key): every creds file issued before stops working. */
  readonly allowSwitch: boolean;
};

/** The whole validated security declaration. */
export type SecuritySpec = {
  /** Operator name (`COWBOY_AI`). */
  readonly operator: string;
  /** Name of the system account (`SYS`); also present in `accounts` with `system: true`. */
  readonly systemAccount: string;
  /**
   * The account leaves bind over their leafnode links and the JetStream admin lives in
   * (`PLATFORM`). Default: the only non-system account.
   */
  readonly applicationAccount: string;
  /** Every account, system account included, in declaration order (system account last). */
  readonly accounts: readonly AccountSpec[];
  /** Declared users first (config order), then the derived ones. Names are unique. */
  readonly users: readonly UserSpec[];
  /** Leaf server name → name of its leaf-link user; one per topology leaf. */
  readonly leafLinks: Readonly<Record<string, string>>;
  /** Leaf server name → name of its system-link user; one per topology leaf. */
  readonly systemLinks: Readonly<Record<string, string>>;
  /** Where the operator and account keys come from; default generated. */
  readonly identities: IdentitiesSpec;
};
