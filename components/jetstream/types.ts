/**
 * JetStream configuration as the pinned nats-server (v2.15) spells it on the wire: stream,
 * consumer, KV and object bucket settings, which of them can change after creation, and
 * duration parsing. Plain readonly data and pure functions; no I/O, no Pulumi.
 *
 * Mutability is encoded in the types (`StreamConfig = StreamUpdatable & { name; storage; … }`)
 * and in the key lists beside them, which the providers' `diff` reads. The lists were taken
 * from what the pinned server refuses on `STREAM.UPDATE` / `CONSUMER.CREATE` with action
 * `update` (probed against v2.15.2), not from documentation.
 */
import { parseDurationNanos as parseGoDuration } from "../config/units";

/** Nanoseconds, the unit JetStream uses for every duration on the wire. */
export type Nanos = number;

/**
 * A duration as users write it: a string in the stack config's one duration grammar, Go's as
 * nats-server reads it (`"720h"`, `"2m30s"`, `"1.5s"`; components/config/units.ts), or a number
 * of nanoseconds (the wire form).
 */
export type Duration = string | number;

export const Storage = { File: "file", Memory: "memory" } as const;
export type Storage = (typeof Storage)[keyof typeof Storage];

export const Retention = { Limits: "limits", Interest: "interest", WorkQueue: "workqueue" } as const;
export type Retention = (typeof Retention)[keyof typeof Retention];

export const Discard = { Old: "old", New: "new" } as const;
export type Discard = (typeof Discard)[keyof typeof Discard];

export const Compression = { None: "none", S2: "s2" } as const;
export type Compression = (typeof Compression)[keyof typeof Compression];

/** 2.12+: whether a publish ack waits for the disk sync. Cannot change after creation. */
export const PersistMode = { Default: "default", Async: "async" } as const;
export type PersistMode = (typeof PersistMode)[keyof typeof PersistMode];

export const AckPolicy = { None: "none", All: "all", Explicit: "explicit", FlowControl: "flow_control" } as const;
export type AckPolicy = (typeof AckPolicy)[keyof typeof AckPolicy];

export const DeliverPolicy = {
  All: "all",
  Last: "last",
  New: "new",
  StartSequence: "by_start_sequence",
  StartTime: "by_start_time",
  LastPerSubject: "last_per_subject",
} as const;
export type DeliverPolicy = (typeof DeliverPolicy)[keyof typeof DeliverPolicy];

export const ReplayPolicy = { Instant: "instant", Original: "original" } as const;
export type ReplayPolicy = (typeof ReplayPolicy)[keyof typeof ReplayPolicy];

export const PriorityPolicy = { None: "none", Overflow: "overflow", PinnedClient: "pinned_client", Prioritized: "prioritized" } as const;
export type PriorityPolicy = (typeof PriorityPolicy)[keyof typeof PriorityPolicy];

/** Where a stream, bucket or consumer lives and how to reach it. Credentials are secrets. */
export type ConnectionTarget = {
  /** Client URLs of the servers of the target's JetStream domain (`nats://127.0.0.41:4222`). */
  readonly servers: readonly string[];
  /** One way to authenticate; all of it is secret material. Default: no credentials. */
  readonly credentials?: {
    /** Content of a `.creds` file (user JWT + seed). */
    readonly creds?: string;
    /** An nkey user seed (`SU…`). */
    readonly seed?: string;
    readonly user?: string;
    readonly password?: string;
    readonly token?: string;
  };
  /** PEM contents (not paths). `key` is secret. */
  readonly tls?: { readonly ca?: string; readonly cert?: string; readonly key?: string };
  /**
   * JetStream domain the resource lives in; the API prefix becomes `$JS.<domain>.API`.
   * Default: none (`$JS.API`, the domain of the server connected to). Changing it replaces.
   */
  readonly domain?: string;
  /**
   * Identity of the JetStream store(s) the target's servers keep (dev: each local server's store
   * marker, comma-joined). When it changes the store was wiped or replaced: the resource is updated,
   * which creates its object again. Default: none.
   */
  readonly storeId?: string;
};

export type Placement = {
  /** Cluster to place the stream in. */
  readonly cluster?: string;
  /** Server tags every replica's server must carry. */
  readonly tags?: readonly string[];
};

export type SubjectTransform = {
  /** Source filter; default `>`. */
  readonly src?: string;
  readonly dest: string;
};

export type ExternalStream = {
  /** API prefix of the other domain or account: `$JS.<domain>.API`. */
  readonly api: string;
  /** Delivery prefix for cross-account sourcing. */
  readonly deliver?: string;
};

/** A stream to source or mirror from, as the server stores it. */
export type StreamSource = {
  readonly name: string;
  readonly opt_start_seq?: number;
  /** RFC 3339 time to start from. */
  readonly opt_start_time?: string;
  readonly filter_subject?: string;
  readonly subject_transforms?: readonly SubjectTransform[];
  readonly external?: ExternalStream;
};

/**
 * A source as users write it: `domain` is a shorthand neither nats.js nor the server accept on
 * the wire; it becomes `external.api = $JS.<domain>.API`. Set `domain` or `external`, not both.
 */
export type StreamSourceInput = StreamSource & { readonly domain?: string };

export type Republish = {
  readonly src?: string;
  readonly dest: string;
  readonly headers_only?: boolean;
};

export type ConsumerLimits = {
  readonly inactive_threshold?: Nanos;
  readonly max_ack_pending?: number;
};

/** Stream settings the server changes in place on `STREAM.UPDATE`. */
export type StreamUpdatable = {
  /** Subjects captured; default `[name]` without sources/mirror, `[]` with them. */
  readonly subjects: readonly string[];
  /** Default "". */
  readonly description: string;
  /** limits ⇄ interest in place; to or from workqueue replaces. Default "limits". */
  readonly retention: Retention;
  /** Default -1 (unlimited). */
  readonly max_consumers: number;
  /** Default -1. */
  readonly max_msgs: number;
  /** Default -1. */
  readonly max_bytes: number;
  /** Default 0 (no limit). */
  readonly max_age: Nanos;
  /** Default -1. */
  readonly max_msgs_per_subject: number;
  /** Default -1. */
  readonly max_msg_size: number;
  /** Default "old". */
  readonly discard: Discard;
  /** Needs discard "new" and max_msgs_per_subject > 0. Default false. */
  readonly discard_new_per_subject: boolean;
  /** Default 1; > 1 needs a clustered domain (the hub). */
  readonly num_replicas: number;
  /** Default false. */
  readonly no_ack: boolean;
  /** Default 2m, max_age when shorter, 0 for sourced/mirrored streams. */
  readonly duplicate_window: Nanos;
  readonly placement?: Placement;
  /** Default []. */
  readonly sources: readonly StreamSource[];
  readonly subject_transform?: SubjectTransform;
  readonly republish?: Republish;
  /** Default false; forced true by the server when subject_delete_marker_ttl is set. */
  readonly allow_rollup_hdrs: boolean;
  /** ONE-WAY: can be turned on, never off. Default false. */
  readonly deny_delete: boolean;
  /** ONE-WAY. Default false. */
  readonly deny_purge: boolean;
  /** Default false. */
  readonly allow_direct: boolean;
  /** Only with a mirror. Default false. */
  readonly mirror_direct: boolean;
  /** Default "none". */
  readonly compression: Compression;
  /** The stream's first sequence; the server accepts changes in place. Default 0 (unset). */
  readonly first_seq: number;
  /** User metadata; the server's own `_nats.*` keys are never part of it. Default {}. */
  readonly metadata: Readonly<Record<string, string>>;
  /** Default {}. */
  readonly consumer_limits: ConsumerLimits;
  /** ONE-WAY (2.11+): per-message TTLs via the Nats-TTL header. Default false. */
  readonly allow_msg_ttl: boolean;
  /** 2.11+: TTL of delete markers left by limits; 0 disables. Default 0. */
  readonly subject_delete_marker_ttl: Nanos;
  /** ONE-WAY (2.12+). Default false. */
  readonly allow_msg_schedules: boolean;
  /** 2.12+: atomic batch publish. Default false. */
  readonly allow_atomic: boolean;
  /** 2.14+: batched publish. Default false. */
  readonly allow_batched: boolean;
  /** ONE-WAY: a sealed stream accepts no writes or deletes. The server refuses it at create,
   * so create runs an update right after. Default false. */
  readonly sealed: boolean;
};

/** The whole stream config. Fields outside StreamUpdatable replace the stream when changed. */
export type StreamConfig = StreamUpdatable & {
  /** REPLACE-ONLY. */
  readonly name: string;
  /** REPLACE-ONLY. Default "file". */
  readonly storage: Storage;
  /** REPLACE-ONLY to add or change; removing it promotes the mirror in place. */
  readonly mirror?: StreamSource;
  /** REPLACE-ONLY (2.12+). Default false. */
  readonly allow_msg_counter: boolean;
  /** REPLACE-ONLY (2.12+). Default "default". */
  readonly persist_mode: PersistMode;
};

/** Stream keys whose change the server refuses: the stream must be replaced. */
export const STREAM_REPLACE_ONLY = ["name", "storage", "mirror", "allow_msg_counter", "persist_mode"] as const satisfies readonly (keyof StreamConfig)[];
/** Stream keys that may go false → true in place but never back. */
export const STREAM_ONE_WAY = ["sealed", "deny_delete", "deny_purge", "allow_msg_ttl", "allow_msg_schedules"] as const satisfies readonly (keyof StreamConfig)[];
/** Stream keys that take a Duration in inputs. */
export const STREAM_DURATION_KEYS = ["max_age", "duplicate_window", "subject_delete_marker_ttl"] as const satisfies readonly (keyof StreamConfig)[];

/** Stream config as users write it: only `name` is required, durations may be strings. */
export type StreamInput = { readonly name: string } & Partial<
  Omit<StreamConfig, "name" | (typeof STREAM_DURATION_KEYS)[number] | "sources" | "mirror" | "consumer_limits">
> & {
    readonly max_age?: Duration;
    readonly duplicate_window?: Duration;
    readonly subject_delete_marker_ttl?: Duration;
    readonly sources?: readonly StreamSourceInput[];
    readonly mirror?: StreamSourceInput;
    readonly consumer_limits?: { readonly inactive_threshold?: Duration; readonly max_ack_pending?: number };
  };

/** Consumer settings the server changes in place. */
export type ConsumerUpdatable = {
  /** Default "". */
  readonly description: string;
  /** Default 30s when acks are required, else 0. */
  readonly ack_wait: Nanos;
  /** Default -1 (unlimited). */
  readonly max_deliver: number;
  /** Redelivery delays; needs max_deliver > its length. Default []. */
  readonly backoff: readonly Nanos[];
  /** Exclusive with filter_subjects. */
  readonly filter_subject?: string;
  /** Default []. */
  readonly filter_subjects: readonly string[];
  /** Default 1000 when acks are required, else 0 (a stream's consumer_limits lowers it: declare it then). */
  readonly max_ack_pending: number;
  /** Default false. */
  readonly headers_only: boolean;
  /** Pull only. Default 0 (unlimited). */
  readonly max_batch: number;
  /** Pull only. Default 0. */
  readonly max_expires: Nanos;
  /** Pull only. Default 0. */
  readonly max_bytes: number;
  /** Default 0 (durables never expire). */
  readonly inactive_threshold: Nanos;
  /** Default 0 (inherit the stream's). */
  readonly num_replicas: number;
  /** Default {}; `_nats.*` never part of it. */
  readonly metadata: Readonly<Record<string, string>>;
  /** Sampling for ack metrics, e.g. "50%". Default "". */
  readonly sample_freq: string;
  /** Push only: where messages go. Changing it in place is fine; adding/removing replaces. */
  readonly deliver_subject?: string;
  /** Push only: queue group. */
  readonly deliver_group?: string;
  /** Push only. Default 0. */
  readonly rate_limit_bps: number;
  /** Pull only (2.11+). Default []. */
  readonly priority_groups: readonly string[];
  /** Default "none" (absent). */
  readonly priority_policy?: PriorityPolicy;
  readonly priority_timeout?: Nanos;
};

/** The whole durable consumer config. Fields outside ConsumerUpdatable replace when changed. */
export type ConsumerConfig = ConsumerUpdatable & {
  /** REPLACE-ONLY: the durable name (`name` and `durable_name` on the wire). */
  readonly durable_name: string;
  /** REPLACE-ONLY. Default "all". */
  readonly deliver_policy: DeliverPolicy;
  /** REPLACE-ONLY. */
  readonly opt_start_seq?: number;
  /** REPLACE-ONLY. */
  readonly opt_start_time?: string;
  /** REPLACE-ONLY. The server's default is "none". */
  readonly ack_policy: AckPolicy;
  /** REPLACE-ONLY. Default "instant". */
  readonly replay_policy: ReplayPolicy;
  /** REPLACE-ONLY, pull only. Default 512 for pull, 0 for push. */
  readonly max_waiting: number;
  /** REPLACE-ONLY. Default false. */
  readonly mem_storage: boolean;
  /** REPLACE-ONLY, push only. Default 0. */
  readonly idle_heartbeat: Nanos;
  /** REPLACE-ONLY, push only. Default false. */
  readonly flow_control: boolean;
};

export const CONSUMER_REPLACE_ONLY = [
  "durable_name",
  "deliver_policy",
  "opt_start_seq",
  "opt_start_time",
  "ack_policy",
  "replay_policy",
  "max_waiting",
  "mem_storage",
  "idle_heartbeat",
  "flow_control",
] as const satisfies readonly (keyof ConsumerConfig)[];
export const CONSUMER_DURATION_KEYS = ["ack_wait", "max_expires", "inactive_threshold", "idle_heartbeat", "priority_timeout"] as const satisfies readonly (keyof ConsumerConfig)[];

/** Consumer config as users write it: `name` (or `durable_name`) required, durations may be strings. */
export type ConsumerInput = Partial<Omit<ConsumerConfig, (typeof CONSUMER_DURATION_KEYS)[number] | "backoff" | "durable_name">> & {
  readonly name?: string;
  readonly durable_name?: string;
  readonly ack_wait?: Duration;
  readonly max_expires?: Duration;
  readonly inactive_threshold?: Duration;
  readonly idle_heartbeat?: Duration;
  readonly priority_timeout?: Duration;
  readonly backoff?: readonly Duration[];
};

/** What every bucket has, KV or object (stream `KV_<bucket>` or `OBJ_<bucket>`). */
export type BucketConfig = {
  /** REPLACE-ONLY. */
  readonly bucket: string;
  /** Default "". */
  readonly description: string;
  /** Expiry of values or objects (max_age). Default 0 (never). */
  readonly ttl: Nanos;
  /** Default -1. */
  readonly max_bytes: number;
  /** REPLACE-ONLY. Default "file". */
  readonly storage: Storage;
  /** Changes in place (never a replace). Default 1. */
  readonly replicas: number;
  readonly placement?: Placement;
  /** S2 compression. Default false. */
  readonly compression: boolean;
  /** Default {}. */
  readonly metadata: Readonly<Record<string, string>>;
};
/** Bucket fields as users write them: only `bucket` is required, `ttl` may be a string. */
export type BucketInput = { readonly bucket: string } & Partial<Omit<BucketConfig, "bucket" | "ttl">> & { readonly ttl?: Duration };

/** A KV bucket (stream `KV_<bucket>`), in the KV API's terms. */
export type KvConfig = BucketConfig & {
  /** Revisions kept per key (max_msgs_per_subject). Default 1. */
  readonly history: number;
  /** max_msg_size. Default -1. */
  readonly max_value_size: number;
  /** REPLACE-ONLY to add or change: a read replica of another bucket (name without `KV_`). */
  readonly mirror?: StreamSource;
  /** Buckets to source from (names without `KV_`). Default []. */
  readonly sources: readonly StreamSource[];
  readonly republish?: Republish;
  /** ONE-WAY once set (enables allow_msg_ttl): TTL of markers for expired keys. Default 0. */
  readonly limit_marker_ttl: Nanos;
};
export const KV_REPLACE_ONLY = ["bucket", "storage", "mirror"] as const satisfies readonly (keyof KvConfig)[];
export type KvInput = { readonly bucket: string } & Partial<Omit<KvConfig, "bucket" | "ttl" | "limit_marker_ttl" | "mirror" | "sources">> & {
    readonly ttl?: Duration;
    readonly limit_marker_ttl?: Duration;
    readonly mirror?: StreamSourceInput;
    readonly sources?: readonly StreamSourceInput[];
  };

/** An object bucket (stream `OBJ_<bucket>`), in the object store API's terms: the bucket fields only. */
export type ObjectStoreConfig = BucketConfig;
export const OBJECT_REPLACE_ONLY = ["bucket", "storage"] as const satisfies readonly (keyof ObjectStoreConfig)[];
export type ObjectStoreInput = BucketInput;

/**
 * Why `value` is not a duration, or "". Strings are Go durations (`720h`, `2m30s`, config/units.ts);
 * numbers are nanoseconds (the wire form) and must be whole and ≥ 0.
 */
export function durationReason(value: unknown, what = "duration"): string {
  return parseDurationNanos(value, what).reason;
}

/** A duration in nanoseconds; throws with the reason when it is not one. */
export function toNanos(value: Duration, what = "duration"): Nanos {
  const r = parseDurationNanos(value, what);
  if (r.reason) throw new Error(r.reason);
  return r.nanos;
}

function parseDurationNanos(value: unknown, what: string): { nanos: Nanos; reason: string } {
  if (typeof value === "number") {
    if (!Number.isInteger(value) || value < 0) return { nanos: 0, reason: `${what} (${value}) must be a whole number of nanoseconds ≥ 0, or a string like "720h"` };
    return { nanos: value, reason: "" };
  }
  const nanos = parseGoDuration(value, what);
  return typeof nanos === "string" ? { nanos: 0, reason: nanos } : { nanos, reason: "" };
}
