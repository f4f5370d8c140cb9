/**
 * What KV buckets and object buckets share, pure: the bucket name rule, the fields both have
 * (BUCKET_FIELDS: declared once, with their defaults and mutability), and their part of the
 * bucket's stream config as both clients derive it.
 */
import { count, duration, flag, limit, metadata, name, oneOf, text, type ConfigOf, type InputOf } from "./fields";
import { placementField, type StreamConfig, type StreamInput } from "./stream-config";
import { Compression, Discard, Storage } from "./types";

/** Bucket names: letters, digits, `-` and `_` (what the KV and object store clients accept). */
export function bucketNameReason(bucket: string, what = "bucket name"): string {
  if (!bucket) return `${what} cannot be empty`;
  if (!/^[-\w]+$/.test(bucket)) return `${what} ('${bucket}') may contain only letters, digits, '-' and '_'`;
  return "";
}

/** `name` without a stream prefix (`KV_`, `OBJ_`) when it has it. */
export function withoutPrefix(prefix: string, name: string): string {
  return name.startsWith(prefix) ? name.slice(prefix.length) : name;
}

/** The fields every bucket has, KV or object (stream `KV_<bucket>` or `OBJ_<bucket>`). */
export const BUCKET_FIELDS = {
  bucket: name("bucket name", (s) => bucketNameReason(s)),
  description: text("what the bucket holds"),
  ttl: duration("age at which values or objects expire (the stream's max_age; 0: never)"),
  max_bytes: limit("byte limit (-1: none)"),
  storage: oneOf(Storage, "storage", Storage.File, { change: "replace" }),
  // Changes in place, never a replace: terraform-provider-jetstream users lost data to a forced KV replacement on a replicas change.
  replicas: count("replicas: 1 at a leaf, up to the hub members at the hub", 1, 5, 1),
  placement: placementField("cluster and server tags its replicas are placed on"),
  compression: flag("S2 compression on disk", false, { trueMeans: "s2" }),
  metadata: metadata("user metadata (keys starting with `_nats` are the server's)", false),
};

export type BucketConfig = ConfigOf<typeof BUCKET_FIELDS>;
export type BucketInput = InputOf<typeof BUCKET_FIELDS>;

/** The bucket fields as stream settings of stream `<prefix><bucket>`, as the KV and object store clients both set them. */
export function bucketStreamFields(prefix: string, b: BucketConfig): StreamInput {
  return {
    name: prefix + b.bucket,
    description: b.description,
    max_age: b.ttl,
    max_bytes: b.max_bytes,
    storage: b.storage,
    num_replicas: b.replicas,
    placement: b.placement,
    compression: b.compression ? Compression.S2 : Compression.None,
    metadata: b.metadata,
    discard: Discard.New,
    allow_rollup_hdrs: true,
    allow_direct: true,
  };
}

/** The bucket fields of a bucket's (live) stream `<prefix><bucket>`. */
export function bucketFieldsFromStream(prefix: string, cfg: StreamConfig): BucketInput {
  return {
    bucket: withoutPrefix(prefix, cfg.name),
    description: cfg.description,
    ttl: cfg.max_age,
    max_bytes: cfg.max_bytes,
    storage: cfg.storage,
    replicas: cfg.num_replicas,
    placement: cfg.placement,
    compression: cfg.compression === Compression.S2,
    metadata: cfg.metadata,
  };
}
