/**
 * What the stack declares about JetStream, reduced to what `npm run verify` compares with the
 * live servers: per domain, every stream (KV_/OBJ_ buckets as their streams), consumer and
 * aggregate source, with the settings a reviewer would notice drifting. Pure: the stack output
 * `declared` is this, so verify needs nothing but the stack's outputs.
 */
import type { JetStreamSpec } from "../jetstream/spec";
import { toNanos } from "../jetstream/types";

/** One stream as declared; fields absent here are not compared. */
export type DeclaredStream = {
  /** `stream`, `aggregate`, `kv` or `objects`: what the user declared. */
  readonly kind: "stream" | "aggregate" | "kv" | "objects";
  /** Declared name (bucket name for kv/objects). */
  readonly name: string;
  /** The JetStream stream name (`KV_<b>`, `OBJ_<b>`, or the stream's). */
  readonly stream: string;
  readonly domain: string;
  /** Servers of the domain (leaf server name, or every hub member). */
  readonly servers: readonly string[];
  readonly config: {
    readonly subjects?: readonly string[];
    readonly storage?: string;
    readonly num_replicas?: number;
    readonly max_age?: number;
    readonly retention?: string;
    /** kv: history = max_msgs_per_subject. */
    readonly max_msgs_per_subject?: number;
  };
  /** Aggregate: the sourced stream's name and the API prefix of each source (`$JS.<leaf>.API`). */
  readonly sources?: readonly { readonly name: string; readonly api: string }[];
};

export type DeclaredConsumer = {
  readonly stream: string;
  readonly name: string;
  readonly domain: string;
  readonly servers: readonly string[];
  readonly config: { readonly ack_policy?: string; readonly deliver_policy?: string; readonly filter_subjects?: readonly string[] };
};

export type DeclaredJetStream = { readonly streams: readonly DeclaredStream[]; readonly consumers: readonly DeclaredConsumer[] };

const defined = <T extends Record<string, unknown>>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

export function declaredJetStream(spec: JetStreamSpec): DeclaredJetStream {
  const streams: DeclaredStream[] = [
    ...spec.streams.map((s) => ({
      kind: "stream" as const,
      name: s.config.name,
      stream: s.config.name,
      domain: s.location.domain,
      servers: s.location.serverNames,
      config: defined({
        subjects: s.config.subjects ? [...s.config.subjects].sort() : undefined,
        storage: s.config.storage,
        num_replicas: s.config.num_replicas,
        max_age: s.config.max_age === undefined ? undefined : toNanos(s.config.max_age, "max_age"),
        retention: s.config.retention,
      }),
    })),
    ...spec.aggregates.map((a) => ({
      kind: "aggregate" as const,
      name: a.config.name,
      stream: a.config.name,
      domain: a.location.domain,
      servers: a.location.serverNames,
      config: defined({
        storage: a.config.storage,
        num_replicas: a.config.num_replicas,
        max_age: a.config.max_age === undefined ? undefined : toNanos(a.config.max_age, "max_age"),
      }),
      sources: (a.config.sources ?? []).map((s) => ({ name: s.name, api: s.external?.api ?? "" })),
    })),
    ...spec.kv.map((k) => ({
      kind: "kv" as const,
      name: k.config.bucket,
      stream: `KV_${k.config.bucket}`,
      domain: k.location.domain,
      servers: k.location.serverNames,
      config: defined({ storage: k.config.storage, num_replicas: k.config.replicas, max_msgs_per_subject: k.config.history }),
    })),
    ...spec.objects.map((o) => ({
      kind: "objects" as const,
      name: o.config.bucket,
      stream: `OBJ_${o.config.bucket}`,
      domain: o.location.domain,
      servers: o.location.serverNames,
      config: defined({ storage: o.config.storage, num_replicas: o.config.replicas }),
    })),
  ];
  const consumers = spec.consumers.map((c) => ({
    stream: c.stream,
    name: c.config.durable_name ?? c.config.name ?? "",
    domain: c.location.domain,
    servers: c.location.serverNames,
    config: defined({ ack_policy: c.config.ack_policy, deliver_policy: c.config.deliver_policy, filter_subjects: c.config.filter_subjects ? [...c.config.filter_subjects] : undefined }),
  }));
  return { streams, consumers };
}
