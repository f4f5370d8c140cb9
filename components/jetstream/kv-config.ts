/**
 * A KV bucket's canonical config (stream `KV_<bucket>`) and its rules, pure: the bucket's stream
 * config is derived the way the nats CLI (nats.go) derives it, so buckets made with `nats kv add`
 * import cleanly; and the key rule of KV entries.
 *
 * Diff rules: `replicas`, `history`, `ttl`, limits, compression, metadata, sources change in
 * place — never a replace (terraform-provider-jetstream users lost data to a forced KV
 * replacement on a replicas change). KV_REPLACE_ONLY keys replace; a set `limit_marker_ttl`
 * cannot be unset (the stream's allow_msg_ttl is one-way).
 */
import { compact, containsUnknown, deepEqual } from "../provider/canonical";
import { bucketFieldFailures, bucketFieldsFromStream, bucketNameReason, bucketStreamFields, normalizeBucketFields, withoutPrefix } from "./bucket-config";
import { propertyPath, type InputFailure } from "./input-checks";
import { formatId } from "./resource-id";
import type { StoreKind } from "./store-kind";
import { DEFAULT_DUPLICATE_WINDOW, normalizeSource, normalizeStreamConfig, replaceOnlyReasons, sourcingFailures } from "./stream-config";
import { KV_REPLACE_ONLY, toNanos, type KvConfig, type KvInput, type StreamConfig, type StreamSource, type StreamSourceInput } from "./types";

export const KV_STREAM_PREFIX = "KV_";

export const KV_KEYS = [
  "bucket", "description", "history", "ttl", "max_value_size", "max_bytes", "storage", "replicas",
  "placement", "compression", "metadata", "mirror", "sources", "republish", "limit_marker_ttl",
] as const satisfies readonly (keyof KvConfig)[];

/** A source/mirror bucket name without the `KV_` stream prefix. */
const bucketOf = (streamName: string) => withoutPrefix(KV_STREAM_PREFIX, streamName);

function normalizeBucketSource(s: StreamSourceInput): StreamSource {
  return normalizeSource({ ...s, name: bucketOf(s.name) });
}
/** The full KV config with defaults filled in. */
export function normalizeKvConfig(input: KvInput): KvConfig {
  const cfg: KvConfig = {
    ...normalizeBucketFields(input),
    history: input.history ?? 1,
    max_value_size: input.max_value_size ?? -1,
    sources: (input.sources ?? []).map(normalizeBucketSource),
    limit_marker_ttl: input.limit_marker_ttl === undefined ? 0 : toNanos(input.limit_marker_ttl, "limit_marker_ttl"),
  };
  const mirror = input.mirror ? normalizeBucketSource(input.mirror) : undefined;
  const republish = compact(input.republish);
  return { ...cfg, ...(mirror ? { mirror } : {}), ...(republish ? { republish } : {}) };
}

/** The bucket's stream config, as nats.go's KV create derives it. */
export function kvStreamConfig(kv: KvConfig): StreamConfig {
  const subject = `$KV.${kv.bucket}.>`;
  const mirror = kv.mirror ? { ...kv.mirror, name: KV_STREAM_PREFIX + kv.mirror.name } : undefined;
  const sources = kv.sources.map((s) => ({
    ...s,
    name: KV_STREAM_PREFIX + s.name,
    // Keys of another bucket land under this bucket's prefix; a same-named external bucket needs no transform.
    ...(s.external && s.name === kv.bucket ? {} : { subject_transforms: [{ src: `$KV.${s.name}.>`, dest: subject }] }),
  }));
  return normalizeStreamConfig({
    ...bucketStreamFields(KV_STREAM_PREFIX, kv),
    subjects: mirror ? [] : [subject],
    max_msgs_per_subject: kv.history,
    max_msg_size: kv.max_value_size,
    deny_delete: true,
    duplicate_window: kv.ttl > 0 && kv.ttl < DEFAULT_DUPLICATE_WINDOW ? kv.ttl : DEFAULT_DUPLICATE_WINDOW,
    max_msgs: -1,
    max_consumers: -1,
    mirror_direct: mirror !== undefined,
    mirror,
    sources,
    republish: kv.republish,
    allow_msg_ttl: kv.limit_marker_ttl > 0,
    subject_delete_marker_ttl: kv.limit_marker_ttl,
  });
}

/** The KV view of a bucket's (live) stream config. */
export function kvConfigFromStream(cfg: StreamConfig): KvConfig {
  const bucket = bucketOf(cfg.name);
  const sources = (cfg.sources ?? []).map((s) => {
    const name = bucketOf(s.name);
    const { subject_transforms, ...rest } = s;
    const derived = s.external && name === bucket ? undefined : [{ src: `$KV.${name}.>`, dest: `$KV.${bucket}.>` }];
    return deepEqual(compact(subject_transforms), derived) ? { ...rest, name } : { ...s, name };
  });
  return normalizeKvConfig({
    ...bucketFieldsFromStream(KV_STREAM_PREFIX, cfg),
    history: cfg.max_msgs_per_subject,
    max_value_size: cfg.max_msg_size,
    mirror: cfg.mirror ? { ...cfg.mirror, name: bucketOf(cfg.mirror.name) } : undefined,
    sources,
    republish: cfg.republish,
    limit_marker_ttl: cfg.subject_delete_marker_ttl,
  });
}

/** Why changing a bucket needs a replacement, per key. */
export function kvReplaceReasons(current: KvConfig, desired: KvConfig): Partial<Record<keyof KvConfig, string>> {
  return replaceOnlyReasons(KV_REPLACE_ONLY, current, desired);
}

/** Problems with KV inputs. */
export function kvInputFailures(input: Record<string, unknown>, extraKeys: readonly string[] = [], path = ""): InputFailure[] {
  const f = bucketFieldFailures(input, KV_KEYS, ["ttl", "limit_marker_ttl"], "KV bucket", extraKeys, path);
  const i = input as KvInput & Record<string, unknown>;
  if (i.history !== undefined && (!Number.isInteger(i.history) || i.history < 1 || i.history > 64)) f.push({ property: propertyPath(path, "history"), reason: `history (${i.history}) must be 1 to 64` });
  f.push(...sourcingFailures(i, path, "a mirror bucket"));
  return f;
}

/** A set limit_marker_ttl turned off: the server can never turn the stream's message TTLs off. */
export function kvOneWayViolations(current: KvConfig, desired: KvConfig, what: string): string[] {
  if (!(current.limit_marker_ttl > 0 && desired.limit_marker_ttl === 0)) return [];
  return [`${what}: limit_marker_ttl is set and the server can never turn the bucket's message TTLs off again; keep a limit_marker_ttl (or delete the bucket, which loses its entries)`];
}

export function kvId(domain: string | undefined, bucket: string): string {
  return formatId("kv", domain, bucket);
}

/** A KV bucket as a store in stream `KV_<bucket>`. */
export const KV_STORE_KIND: StoreKind<KvConfig, KvInput> = {
  idKind: "kv",
  noun: "kv bucket",
  nameKey: "bucket",
  replaceOnly: KV_REPLACE_ONLY,
  streamName: (bucket) => KV_STREAM_PREFIX + bucket,
  normalize: normalizeKvConfig,
  toStream: kvStreamConfig,
  fromStream: kvConfigFromStream,
  replaceReasons: kvReplaceReasons,
  oneWayViolations: kvOneWayViolations,
  inputFailures: kvInputFailures,
};

// ---------------------------------------------------------------- entries

/** Why `key` is not a KV key, or "" (the KV clients' rule). */
export function kvKeyReason(key: string): string {
  if (!key) return "key cannot be empty";
  if (!/^[-/=.\w]+$/.test(key)) return `key ('${key}') may contain only letters, digits and - / _ = .`;
  if (key.startsWith(".") || key.endsWith(".")) return `key ('${key}') cannot start or end with '.'`;
  if (key.startsWith("_kv")) return `key ('${key}') cannot start with '_kv' (reserved)`;
  return "";
}

export function kvEntryInputFailures(input: Record<string, unknown>): InputFailure[] {
  const f: InputFailure[] = [];
  for (const k of Object.keys(input)) if (!["target", "bucket", "key", "value", "__provider"].includes(k)) f.push({ property: k, reason: `unknown KV entry setting '${k}'; known: target, bucket, key, value` });
  if (typeof input.bucket === "string" && bucketNameReason(input.bucket)) f.push({ property: "bucket", reason: bucketNameReason(input.bucket) });
  if (typeof input.key === "string" && kvKeyReason(input.key)) f.push({ property: "key", reason: kvKeyReason(input.key) });
  if (input.value !== undefined && !containsUnknown(input.value) && typeof input.value !== "string") f.push({ property: "value", reason: "value must be a string" });
  return f;
}

export function kvEntryId(domain: string | undefined, bucket: string, key: string): string {
  return formatId("kv-entry", domain, bucket, key);
}
