/**
 * The values JetStream's fields are made of, as the pinned nats-server (v2.15) spells them on the
 * wire: enums, sources, placement, the connection target, and duration parsing. The fields
 * themselves — type, default, mutability, doc — are declared once per resource in its table
 * (STREAM_FIELDS in stream-config.ts, bucket-config.ts, kv-config.ts, consumer-config.ts), and
 * the config types are derived from those tables. Plain readonly data and pure functions.
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
