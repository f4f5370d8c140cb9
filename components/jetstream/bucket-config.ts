/**
 * What KV buckets and object buckets share, pure: the bucket name rule, the fields both have
 * (BucketConfig) with their defaults, their part of the bucket's stream config as both clients
 * derive it, and their checks (replicas, storage, compression, durations, metadata).
 */
import { compact, userMetadata } from "../provider/canonical";
import { durationFailures, enumFailures, metadataFailures, propertyPath, replicasFailures, unknownKeyFailures, type InputFailure } from "./input-checks";
import { Compression, Discard, Storage, toNanos, type BucketConfig, type BucketInput, type StreamConfig, type StreamInput } from "./types";

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

/** Problems with the fields every bucket has; `what` names the bucket kind ("KV bucket"). */
export function bucketFieldFailures(
  input: Record<string, unknown>,
  known: readonly string[],
  durationKeys: readonly string[],
  what: string,
  extraKeys: readonly string[],
  path: string,
): InputFailure[] {
  const f = unknownKeyFailures(input, known, extraKeys, what, path);
  const br = bucketNameReason(typeof input.bucket === "string" ? input.bucket : "");
  if (br) f.push({ property: propertyPath(path, "bucket"), reason: br });
  f.push(...replicasFailures(input, "replicas", path), ...enumFailures(input, { storage: Object.values(Storage) }, path));
  if (input.compression !== undefined && typeof input.compression !== "boolean") f.push({ property: propertyPath(path, "compression"), reason: "compression must be true (s2) or false" });
  f.push(...durationFailures(input, durationKeys, path), ...metadataFailures(input.metadata, path, false));
  return f;
}

/** The fields every bucket has, defaults filled in; `placement` only when set. */
export function normalizeBucketFields(input: BucketInput): BucketConfig {
  const cfg: BucketConfig = {
    bucket: input.bucket,
    description: input.description ?? "",
    ttl: input.ttl === undefined ? 0 : toNanos(input.ttl, "ttl"),
    max_bytes: input.max_bytes ?? -1,
    storage: input.storage ?? Storage.File,
    replicas: input.replicas ?? 1,
    compression: input.compression ?? false,
    metadata: userMetadata(input.metadata),
  };
  const placement = compact(input.placement);
  return placement ? { ...cfg, placement } : cfg;
}

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
