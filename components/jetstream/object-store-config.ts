/**
 * An object bucket's canonical config (stream `OBJ_<bucket>`) and its rules, pure: the stream
 * config is derived the way the object store clients (nats.js, nats.go) derive it. Everything
 * but the bucket name and storage changes in place.
 */
import { bucketFieldFailures, bucketFieldsFromStream, bucketStreamFields, normalizeBucketFields } from "./bucket-config";
import type { InputFailure } from "./input-checks";
import { formatId } from "./resource-id";
import type { StoreKind } from "./store-kind";
import { normalizeStreamConfig, replaceOnlyReasons } from "./stream-config";
import { OBJECT_REPLACE_ONLY, type ObjectStoreConfig, type ObjectStoreInput, type StreamConfig } from "./types";

export const OBJECT_STREAM_PREFIX = "OBJ_";

export const OBJECT_STORE_KEYS = ["bucket", "description", "ttl", "max_bytes", "storage", "replicas", "placement", "compression", "metadata"] as const satisfies readonly (keyof ObjectStoreConfig)[];

export function normalizeObjectStoreConfig(input: ObjectStoreInput): ObjectStoreConfig {
  return normalizeBucketFields(input);
}

/** The bucket's stream config, as the object store clients derive it. */
export function objectStreamConfig(o: ObjectStoreConfig): StreamConfig {
  return normalizeStreamConfig({ ...bucketStreamFields(OBJECT_STREAM_PREFIX, o), subjects: [`$O.${o.bucket}.C.>`, `$O.${o.bucket}.M.>`] });
}

export function objectStoreConfigFromStream(cfg: StreamConfig): ObjectStoreConfig {
  return normalizeObjectStoreConfig(bucketFieldsFromStream(OBJECT_STREAM_PREFIX, cfg));
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
