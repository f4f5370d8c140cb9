/**
 * An object bucket's fields (the bucket fields, bucket-config.ts) and its stream config (stream
 * `OBJ_<bucket>`), pure: derived the way the object store clients (nats.js, nats.go) derive it.
 * Everything but the bucket name and storage changes in place.
 */
import { z } from "zod";
import { BUCKET_FIELDS, bucketFieldsFromStream, bucketStreamFields, type BucketConfig, type BucketInput } from "./bucket-config";
import { accepting, canonicalConfig, inputFailures, replaceKeys, replaceReasons, tableSchema, type Source } from "./fields";
import type { StoreKind } from "./store-kind";
import { normalizeStreamConfig, type StreamConfig } from "./stream-config";

export const OBJECT_STREAM_PREFIX = "OBJ_";

/** An object bucket has the bucket fields only. */
export const OBJECT_STORE_FIELDS = BUCKET_FIELDS;
export type ObjectStoreConfig = BucketConfig;
export type ObjectStoreInput = BucketInput;

/** The schema of an object bucket's fields from `source`, with `extra` keys the resource or section adds. */
export const objectStoreSchema = (source: Source, extra: Readonly<Record<string, z.ZodType>> = {}) => tableSchema(OBJECT_STORE_FIELDS, source, [], extra);
const OBJECT_STORE_INPUTS = objectStoreSchema("inputs");

export function normalizeObjectStoreConfig(input: ObjectStoreInput): ObjectStoreConfig {
  return canonicalConfig(OBJECT_STORE_FIELDS, input);
}

/** The bucket's stream config, as the object store clients derive it. */
export function objectStreamConfig(o: ObjectStoreConfig): StreamConfig {
  return normalizeStreamConfig({ ...bucketStreamFields(OBJECT_STREAM_PREFIX, o), subjects: [`$O.${o.bucket}.C.>`, `$O.${o.bucket}.M.>`] });
}

export function objectStoreConfigFromStream(cfg: StreamConfig): ObjectStoreConfig {
  return normalizeObjectStoreConfig(bucketFieldsFromStream(OBJECT_STREAM_PREFIX, cfg));
}

/** An object bucket as a store in stream `OBJ_<bucket>`. */
export const OBJECT_STORE_KIND: StoreKind<ObjectStoreConfig, ObjectStoreInput> = {
  idKind: "object-store",
  noun: "object bucket",
  nameKey: "bucket",
  replaceOnly: replaceKeys(OBJECT_STORE_FIELDS),
  streamName: (bucket) => OBJECT_STREAM_PREFIX + bucket,
  normalize: normalizeObjectStoreConfig,
  toStream: objectStreamConfig,
  fromStream: objectStoreConfigFromStream,
  replaceReasons: (current, desired) => replaceReasons(OBJECT_STORE_FIELDS, current, desired),
  oneWayViolations: () => [],
  inputFailures: (input, extraKeys = []) =>
    inputFailures(extraKeys.length ? objectStoreSchema("inputs", accepting(extraKeys)) : OBJECT_STORE_INPUTS, input, "object bucket"),
};
