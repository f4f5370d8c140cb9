/**
 * A KV bucket's fields (KV_FIELDS: the bucket fields and the KV ones, each declared once) and its
 * stream config (stream `KV_<bucket>`), pure: derived the way the nats CLI (nats.go) derives it,
 * so buckets made with `nats kv add` import cleanly; and the key rule of KV entries.
 *
 * Diff rules: `replicas`, `history`, `ttl`, limits, compression, metadata, sources change in
 * place; `bucket`, `storage` and adding or changing a mirror replace; a set `limit_marker_ttl`
 * cannot be unset (the stream's allow_msg_ttl is one-way).
 */
import { compact, containsUnknown, deepEqual } from "../provider/canonical";
import { BUCKET_FIELDS, bucketFieldsFromStream, bucketNameReason, bucketStreamFields, withoutPrefix } from "./bucket-config";
import { accepting, canonicalConfig, count, duration, inputFailures, limit, oneWayViolations, replaceKeys, replaceReasons, tableSchema, type ConfigOf, type InputFailure, type InputOf, type Source } from "./fields";
import { formatId } from "./resource-id";
import type { StoreKind } from "./store-kind";
import { DEFAULT_DUPLICATE_WINDOW, mirrorField, mirrorRule, normalizeSource, normalizeStreamConfig, republishField, sourcesField, type StreamConfig } from "./stream-config";
import type { StreamSource, StreamSourceInput } from "./types";
import { z } from "zod";

export const KV_STREAM_PREFIX = "KV_";

/** A source/mirror bucket name without the `KV_` stream prefix. */
const bucketOf = (streamName: string) => withoutPrefix(KV_STREAM_PREFIX, streamName);

function normalizeBucketSource(s: StreamSourceInput): StreamSource {
  return normalizeSource({ ...s, name: bucketOf(s.name) });
}

/** Every KV bucket field, in the KV API's terms. */
export const KV_FIELDS = {
  bucket: BUCKET_FIELDS.bucket,
  description: BUCKET_FIELDS.description,
  history: count("values kept per key (the stream's max_msgs_per_subject)", 1, 64, 1),
  ttl: BUCKET_FIELDS.ttl,
  max_value_size: limit("largest value, in bytes (the stream's max_msg_size; -1: none)"),
  max_bytes: BUCKET_FIELDS.max_bytes,
  storage: BUCKET_FIELDS.storage,
  replicas: BUCKET_FIELDS.replicas,
  placement: BUCKET_FIELDS.placement,
  compression: BUCKET_FIELDS.compression,
  metadata: BUCKET_FIELDS.metadata,
  mirror: mirrorField("a bucket it is a read replica of (name without `KV_`)", normalizeBucketSource),
  sources: sourcesField("buckets it sources (names without `KV_`)", normalizeBucketSource),
  republish: republishField("republish stored values: { src, dest, headers_only }"),
  limit_marker_ttl: duration("TTL of the markers left for keys removed by ttl or limits (0: none)", 0, { change: "one-way", keepOn: "keep a limit_marker_ttl" }),
};

export type KvConfig = ConfigOf<typeof KV_FIELDS>;
export type KvInput = InputOf<typeof KV_FIELDS>;

export const KV_KEYS = Object.keys(KV_FIELDS) as (keyof KvConfig)[];

/** The schema of a KV bucket's fields from `source`, with `extra` keys the resource or section adds. */
export const kvSchema = (source: Source, extra: Readonly<Record<string, z.ZodType>> = {}) => tableSchema(KV_FIELDS, source, [mirrorRule("a mirror bucket")], extra);

/** The full KV config with defaults filled in. */
export function normalizeKvConfig(input: KvInput): KvConfig {
  return canonicalConfig(KV_FIELDS, input);
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

const KV_INPUTS = kvSchema("inputs");

/** A KV bucket as a store in stream `KV_<bucket>`. */
export const KV_STORE_KIND: StoreKind<KvConfig, KvInput> = {
  idKind: "kv",
  noun: "kv bucket",
  nameKey: "bucket",
  replaceOnly: replaceKeys(KV_FIELDS),
  streamName: (bucket) => KV_STREAM_PREFIX + bucket,
  normalize: normalizeKvConfig,
  toStream: kvStreamConfig,
  fromStream: kvConfigFromStream,
  replaceReasons: (current, desired) => replaceReasons(KV_FIELDS, current, desired),
  oneWayViolations: (current, desired, what) => oneWayViolations(KV_FIELDS, current, desired, what, "bucket"),
  inputFailures: (input: Record<string, unknown>, extraKeys: readonly string[] = []): InputFailure[] =>
    inputFailures(extraKeys.length ? kvSchema("inputs", accepting(extraKeys)) : KV_INPUTS, input, "KV bucket"),
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
