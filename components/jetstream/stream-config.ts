/**
 * A stream's canonical config (StreamConfig in types.ts) and its rules, pure (no I/O, no
 * Pulumi): the server's defaults, the wire form of a request, which changes replace and which
 * settings are one-way, and the input checks. stream.ts runs them against the server; KV and
 * object buckets derive their stream configs through them.
 *
 * Both sides of a diff are compared in canonical form with every server default filled in, so
 * an unchanged stream never shows a diff and an out-of-band edit of any setting does.
 */
import { compact, deepEqual, userMetadata } from "../provider/canonical";
import { durationFailures, enumFailures, metadataFailures, propertyPath, replicasFailures, unknownKeyFailures, type InputFailure } from "./input-checks";
import { formatId } from "./resource-id";
import type { StoreKind } from "./store-kind";
import {
  Compression,
  Discard,
  PersistMode,
  Retention,
  Storage,
  STREAM_DURATION_KEYS,
  STREAM_ONE_WAY,
  STREAM_REPLACE_ONLY,
  toNanos,
  type StreamConfig,
  type StreamInput,
  type StreamSource,
  type StreamSourceInput,
} from "./types";
import { nameReason, subjectReason } from "../subjects";

export type { InputFailure } from "./input-checks";

/** The server's duplicate window when none is set (2 minutes). */
export const DEFAULT_DUPLICATE_WINDOW = 120e9;

/** Every StreamConfig key, in the server's order; also the set of keys inputs may carry. */
export const STREAM_KEYS = [
  "name", "description", "subjects", "retention", "max_consumers", "max_msgs", "max_bytes", "max_age",
  "max_msgs_per_subject", "max_msg_size", "discard", "discard_new_per_subject", "storage", "num_replicas",
  "no_ack", "duplicate_window", "placement", "mirror", "sources", "subject_transform", "republish",
  "sealed", "deny_delete", "deny_purge", "allow_rollup_hdrs", "allow_direct", "mirror_direct", "compression",
  "first_seq", "metadata", "consumer_limits", "allow_msg_ttl", "subject_delete_marker_ttl",
  "allow_msg_counter", "allow_msg_schedules", "allow_atomic", "allow_batched", "persist_mode",
] as const satisfies readonly (keyof StreamConfig)[];

/** Keys the server omits when unset and older servers do not know: left out of requests then. */
const OMIT_WHEN_DEFAULT = [
  "first_seq", "allow_msg_ttl", "subject_delete_marker_ttl", "allow_msg_counter", "allow_msg_schedules",
  "allow_atomic", "allow_batched", "persist_mode", "no_ack", "discard_new_per_subject",
] as const satisfies readonly (keyof StreamConfig)[];

// ---------------------------------------------------------------- canonical form

/** A source in canonical form: `domain` becomes `external.api`, empty parts dropped. */
export function normalizeSource(s: StreamSourceInput): StreamSource {
  const { domain, ...rest } = s;
  const withExternal: StreamSource = domain ? { ...rest, external: { api: `$JS.${domain}.API` } } : rest;
  const c = compact(withExternal) ?? { name: s.name };
  return c.opt_start_time ? { ...c, opt_start_time: new Date(c.opt_start_time).toISOString() } : c;
}

function num(v: unknown, dflt: number): number {
  return typeof v === "number" ? v : dflt;
}

/**
 * The full stream config with every server default filled in, from user input or from what the
 * server reports (same shape). Durations become nanoseconds; `_nats.*` metadata is dropped.
 */
export function normalizeStreamConfig(input: StreamInput): StreamConfig {
  const i = input as StreamInput & Record<string, unknown>;
  const mirror = i.mirror ? normalizeSource(i.mirror) : undefined;
  const sources = (i.sources ?? []).map(normalizeSource);
  const sourced = mirror !== undefined || sources.length > 0;
  const maxAge = i.max_age === undefined ? 0 : toNanos(i.max_age, "max_age");
  const markerTtl = i.subject_delete_marker_ttl === undefined ? 0 : toNanos(i.subject_delete_marker_ttl, "subject_delete_marker_ttl");
  const dupDefault = sourced ? 0 : maxAge > 0 && maxAge < DEFAULT_DUPLICATE_WINDOW ? maxAge : DEFAULT_DUPLICATE_WINDOW;
  const limits = compact({
    inactive_threshold: i.consumer_limits?.inactive_threshold === undefined ? undefined : toNanos(i.consumer_limits.inactive_threshold, "consumer_limits.inactive_threshold"),
    max_ack_pending: i.consumer_limits?.max_ack_pending,
  });
  const cfg: StreamConfig = {
    name: i.name,
    description: i.description ?? "",
    subjects: i.subjects && i.subjects.length ? [...i.subjects] : sourced ? [] : [i.name],
    retention: i.retention ?? Retention.Limits,
    max_consumers: num(i.max_consumers, -1),
    max_msgs: num(i.max_msgs, -1),
    max_bytes: num(i.max_bytes, -1),
    max_age: maxAge,
    max_msgs_per_subject: num(i.max_msgs_per_subject, -1),
    max_msg_size: num(i.max_msg_size, -1),
    discard: i.discard ?? Discard.Old,
    discard_new_per_subject: i.discard_new_per_subject ?? false,
    storage: i.storage ?? Storage.File,
    num_replicas: num(i.num_replicas, 1) || 1,
    no_ack: i.no_ack ?? false,
    duplicate_window: i.duplicate_window === undefined ? dupDefault : toNanos(i.duplicate_window, "duplicate_window") || dupDefault,
    sources,
    sealed: i.sealed ?? false,
    deny_delete: i.deny_delete ?? false,
    deny_purge: i.deny_purge ?? false,
    // The server turns rollups on itself when delete markers are enabled (they roll up purges).
    allow_rollup_hdrs: i.allow_rollup_hdrs ?? markerTtl > 0,
    allow_direct: i.allow_direct ?? false,
    mirror_direct: i.mirror_direct ?? false,
    compression: i.compression || Compression.None,
    first_seq: num(i.first_seq, 0),
    metadata: userMetadata(i.metadata),
    consumer_limits: limits ?? {},
    // Delete markers are TTL'd messages, so the server enables per-message TTLs for them.
    allow_msg_ttl: i.allow_msg_ttl ?? markerTtl > 0,
    subject_delete_marker_ttl: markerTtl,
    allow_msg_counter: i.allow_msg_counter ?? false,
    allow_msg_schedules: i.allow_msg_schedules ?? false,
    allow_atomic: i.allow_atomic ?? false,
    allow_batched: i.allow_batched ?? false,
    persist_mode: i.persist_mode || PersistMode.Default,
  };
  // Optional settings are added only when set (no `delete`: it would slow every later access).
  const placement = compact(i.placement);
  const subjectTransform = compact(i.subject_transform);
  const republish = compact(i.republish);
  const c = cfg as { -readonly [K in keyof StreamConfig]: StreamConfig[K] };
  if (placement) c.placement = placement;
  if (mirror) c.mirror = mirror;
  if (subjectTransform) c.subject_transform = subjectTransform;
  if (republish) c.republish = republish;
  return cfg;
}

/**
 * Lists the server keeps as absent when empty (`omitempty`). A clustered create compares the
 * request with the stored assignment, which went through JSON: an empty list there is nil, so a
 * repeated identical create that sends `sources: []` (every plain stream) or `subjects: []` (a
 * sourced one) is refused as "already in use with a different configuration" (10058; measured on
 * 2.15.2, R3). That repeat is what a create whose answer timed out sends.
 */
const OMIT_WHEN_EMPTY = ["sources", "subjects"] as const satisfies readonly (keyof StreamConfig)[];

/**
 * The request body for `cfg`: defaults the server omits (and older servers reject) and empty
 * lists are left out, unless `live` carries the key (then the default must be sent to reset it).
 */
export function streamWireConfig(cfg: StreamConfig, live: Record<string, unknown> = {}): Record<string, unknown> {
  const defaults = normalizeStreamConfig({ name: cfg.name });
  const body: Record<string, unknown> = { ...cfg };
  for (const k of OMIT_WHEN_DEFAULT) if (deepEqual(cfg[k], defaults[k]) && !(k in live)) delete body[k];
  for (const k of OMIT_WHEN_EMPTY) if (cfg[k].length === 0 && !(k in live)) delete body[k];
  return body;
}

// ---------------------------------------------------------------- diff rules

/**
 * Why each changed replace-only key needs a replacement; removing a mirror promotes it to a
 * normal stream in place, so only adding or changing one counts.
 */
export function replaceOnlyReasons<C extends object>(keys: readonly (keyof C & string)[], current: C, desired: C): Partial<Record<keyof C, string>> {
  const out: Partial<Record<keyof C, string>> = {};
  for (const k of keys) {
    if (deepEqual(current[k], desired[k])) continue;
    if (k === "mirror" && desired[k] === undefined) continue;
    out[k] = `${k} cannot change after creation (${JSON.stringify(current[k] ?? null)} → ${JSON.stringify(desired[k] ?? null)})`;
  }
  return out;
}

/** Why changing `current` into `desired` needs a replacement, per key; empty when in place. */
export function streamReplaceReasons(current: StreamConfig, desired: StreamConfig): Partial<Record<keyof StreamConfig, string>> {
  const out = replaceOnlyReasons(STREAM_REPLACE_ONLY, current, desired);
  if (current.retention !== desired.retention && (current.retention === Retention.WorkQueue || desired.retention === Retention.WorkQueue)) {
    out.retention = `retention cannot change to or from workqueue (${current.retention} → ${desired.retention})`;
  }
  return out;
}

/** One-way settings `desired` turns back off: each a message naming the setting and the fix. */
export function streamOneWayViolations(current: StreamConfig, desired: StreamConfig, what: string): string[] {
  return STREAM_ONE_WAY.filter((k) => current[k] === true && desired[k] === false).map(
    (k) => `${what}: ${k} is on and the server can never turn it off; keep ${k}: true (or delete the stream, which loses its data, and create a new one)`,
  );
}

// ---------------------------------------------------------------- input checks

const ENUMS: Readonly<Record<string, readonly string[]>> = {
  storage: Object.values(Storage),
  retention: Object.values(Retention),
  discard: Object.values(Discard),
  compression: Object.values(Compression),
  persist_mode: Object.values(PersistMode),
};

/** Problems with a source or mirror declaration. */
export function sourceFailures(s: StreamSourceInput | undefined, path: string): InputFailure[] {
  const f: InputFailure[] = [];
  if (!s || typeof s !== "object") return [{ property: path, reason: "must be an object with at least `name`" }];
  const r = nameReason(String(s.name ?? ""), "source stream name");
  if (r) f.push({ property: `${path}.name`, reason: r });
  if (s.domain !== undefined && s.external !== undefined) f.push({ property: `${path}.domain`, reason: "set `domain` or `external`, not both (`domain` becomes external.api = $JS.<domain>.API)" });
  if (s.domain !== undefined && nameReason(s.domain, "domain")) f.push({ property: `${path}.domain`, reason: nameReason(s.domain, "domain") });
  if (s.filter_subject) {
    const fr = subjectReason(s.filter_subject, true, "filter_subject");
    if (fr) f.push({ property: `${path}.filter_subject`, reason: fr });
  }
  if (s.opt_start_time !== undefined && Number.isNaN(Date.parse(s.opt_start_time))) {
    f.push({ property: `${path}.opt_start_time`, reason: `opt_start_time ('${s.opt_start_time}') is not an RFC 3339 time like 2026-01-01T00:00:00Z` });
  }
  return f;
}

/** Problems with a mirror and sources: each checked, and a mirror has neither `subjects` nor sources. */
export function sourcingFailures(i: { readonly mirror?: StreamSourceInput; readonly sources?: readonly StreamSourceInput[] }, path: string, mirrorNoun: string): InputFailure[] {
  const f: InputFailure[] = [];
  if (i.mirror) {
    f.push(...sourceFailures(i.mirror, propertyPath(path, "mirror")));
    if (i.sources?.length) f.push({ property: propertyPath(path, "sources"), reason: `${mirrorNoun} cannot have sources: remove \`sources\` or the mirror` });
  }
  (i.sources ?? []).forEach((s, n) => f.push(...sourceFailures(s, propertyPath(path, `sources[${n}]`))));
  return f;
}

/** Problems with stream inputs (wire names); `extraKeys` are resource-level keys to accept. */
export function streamInputFailures(input: Record<string, unknown>, extraKeys: readonly string[] = [], path = ""): InputFailure[] {
  const p = (k: string) => propertyPath(path, k);
  const f: InputFailure[] = unknownKeyFailures(input, STREAM_KEYS, extraKeys, "stream", path);
  const i = input as StreamInput & Record<string, unknown>;
  const name = typeof i.name === "string" ? i.name : "";
  const nr = nameReason(name, "stream name");
  if (nr) f.push({ property: p("name"), reason: nr });
  (i.subjects ?? []).forEach((s, n) => {
    const r = subjectReason(String(s), true, "subject");
    if (r) f.push({ property: p(`subjects[${n}]`), reason: r });
  });
  f.push(...enumFailures(i, ENUMS, path), ...durationFailures(i, [...STREAM_DURATION_KEYS, "consumer_limits.inactive_threshold"], path));
  f.push(...replicasFailures(i, "num_replicas", path));
  if (i.mirror && i.subjects?.length) f.push({ property: p("subjects"), reason: "a mirror cannot have subjects: remove `subjects` or the mirror" });
  f.push(...sourcingFailures(i, path, "a mirror"));
  if (i.mirror_direct && !i.mirror) f.push({ property: p("mirror_direct"), reason: "mirror_direct needs a mirror: remove it or declare `mirror`" });
  if (i.discard_new_per_subject && (i.discard !== Discard.New || !(Number(i.max_msgs_per_subject) > 0))) {
    f.push({ property: p("discard_new_per_subject"), reason: "discard_new_per_subject needs discard: new and max_msgs_per_subject > 0" });
  }
  f.push(...metadataFailures(i.metadata, path, true));
  return f;
}

export function streamId(domain: string | undefined, name: string): string {
  return formatId("stream", domain, name);
}

/** A stream as a store of itself. */
export const STREAM_STORE_KIND: StoreKind<StreamConfig, StreamInput> = {
  idKind: "stream",
  noun: "stream",
  nameKey: "name",
  replaceOnly: STREAM_REPLACE_ONLY,
  streamName: (name) => name,
  normalize: normalizeStreamConfig,
  toStream: (c) => c,
  fromStream: (s) => s,
  replaceReasons: streamReplaceReasons,
  oneWayViolations: streamOneWayViolations,
  inputFailures: streamInputFailures,
};
