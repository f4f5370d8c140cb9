/**
 * What KV buckets and object buckets share, pure: the bucket name rule and the checks of the
 * fields both have (replicas, storage, compression, durations, metadata).
 */
import { durationFailures, enumFailures, metadataFailures, propertyPath, replicasFailures, unknownKeyFailures, type InputFailure } from "./input-checks";
import { Storage } from "./types";

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
