/**
 * An object bucket's canonical config (stream `OBJ_<bucket>`) and its rules, pure: the stream
 * config is derived the way the object store clients (nats.js, nats.go) derive it. Everything
 * but the bucket name and storage changes in place.
 */
import { compact, userMetadata } from "./canonical";
import { bucketFieldFailures, withoutPrefix } from "./bucket-config";
import type { InputFailure } from "./input-checks";
import { formatId } from "./resource-id";
import type { StoreKind } from "./store-kind";
import { normalizeStreamConfig, replaceOnlyReasons } from "./stream-config";
import { Compression, Discard, OBJECT_REPLACE_ONLY, Storage, toNanos, type ObjectStoreConfig, type ObjectStoreInput, type StreamConfig } from "./types";

export const OBJECT_STREAM_PREFIX = "OBJ_";

export const OBJECT_STORE_KEYS = ["bucket", "description", "ttl", "max_bytes", "storage", "replicas", "placement", "compression", "metadata"] as const satisfies readonly (keyof ObjectStoreConfig)[];

export function normalizeObjectStoreConfig(input: ObjectStoreInput): ObjectStoreConfig {
  const cfg: ObjectStoreConfig = {
    bucket: input.bucket,
    description: input.description ?? "",
    ttl: input.ttl === undefined ? 0 : toNanos(input.ttl, "ttl"),
    max_bytes: input.max_bytes ?? -1,
    storage: input.storage ?? Storage.File,
    replicas: input.replicas ?? 1,
    placement: compact(input.placement),
    compression: input.compression ?? false,
    metadata: userMetadata(input.metadata),
  };
  if (cfg.placement === undefined) delete (cfg as Record<string, unknown>).placement;
  return cfg;
}

/** The bucket's stream config, as the object store clients derive it. */
export function objectStreamConfig(o: ObjectStoreConfig): StreamConfig {
  return normalizeStreamConfig({
    name: OBJECT_STREAM_PREFIX + o.bucket,
    description: o.description,
    subjects: [`$O.${o.bucket}.C.>`, `$O.${o.bucket}.M.>`],
    max_age: o.ttl,
    max_bytes: o.max_bytes,
    storage: o.storage,
    num_replicas: o.replicas,
    placement: o.placement,
    discard: Discard.New,
    allow_rollup_hdrs: true,
    allow_direct: true,
    compression: o.compression ? Compression.S2 : Compression.None,
    metadata: o.metadata,
  });
}

export function objectStoreConfigFromStream(cfg: StreamConfig): ObjectStoreConfig {
  return normalizeObjectStoreConfig({
    bucket: withoutPrefix(OBJECT_STREAM_PREFIX, cfg.name),
    description: cfg.description,
    ttl: cfg.max_age,
    max_bytes: cfg.max_bytes,
    storage: cfg.storage,
    replicas: cfg.num_replicas,
    placement: cfg.placement,
    compression: cfg.compression === Compression.S2,
    metadata: cfg.metadata,
  });
}

export function objectStoreInputFailures(input: Record<string, unknown>, extraKeys: readonly string[] = [], path = ""): InputFailure[] {
  return bucketFieldFailures(input, OBJECT_STORE_KEYS, ["ttl"], "object bucket", extraKeys, path);
}

export function objectStoreId(domain: string | undefined, bucket: string): string {
  return formatId("object-store", domain, bucket);
}

/** An object bucket as a store in stream `OBJ_<bucket>`. */
export const OBJECT_STORE_KIND: StoreKind<ObjectStoreConfig, ObjectStoreInput> = {
  idKind: "object-store",
  noun: "object bucket",
  nameKey: "bucket",
  replaceOnly: OBJECT_REPLACE_ONLY,
  streamName: (bucket) => OBJECT_STREAM_PREFIX + bucket,
  normalize: normalizeObjectStoreConfig,
  toStream: objectStreamConfig,
  fromStream: objectStoreConfigFromStream,
  replaceReasons: (current, desired) => replaceOnlyReasons(OBJECT_REPLACE_ONLY, current, desired),
  oneWayViolations: () => [],
  inputFailures: objectStoreInputFailures,
};
