/**
 * A stream's fields, each declared once in STREAM_FIELDS (type and checks, default, whether the
 * server changes it in place, doc line), and what comes from them, pure (no I/O, no Pulumi): the
 * canonical config with the server's defaults filled in, the wire form of a request, the diff
 * rules and the input checks. stream.ts runs them against the server; KV and object buckets
 * derive their stream configs through them; jetstream/schema.ts puts the same fields into the
 * stack schema (docs/config.md, the JSON Schema).
 *
 * The mutability was taken from what the pinned server (v2.15.2) refuses on `STREAM.UPDATE`,
 * not from documentation. Both sides of a diff are compared in canonical form, so an unchanged
 * stream never shows a diff and an out-of-band edit of any setting does.
 */
import { z } from "zod";
import { compact, deepEqual } from "../provider/canonical";
import { nameReason, subjectReason } from "../subjects";
import {
  accepting,
  canonicalConfig,
  count,
  duration,
  durationSchema,
  flag,
  inputFailures,
  limit,
  metadata,
  name,
  natural,
  nested,
  nestedDefaulted,
  oneOf,
  oneWayViolations,
  optionalKeys,
  replaceKeys,
  replaceReasons,
  subjects,
  tableSchema,
  text,
  wireConfig,
  type ConfigOf,
  type CrossRule,
  type InputFailure,
  type InputOf,
  type Source,
} from "./fields";
import type { StoreKind } from "./store-kind";
import {
  Compression,
  Discard,
  PersistMode,
  Retention,
  Storage,
  toNanos,
  type ConsumerLimits,
  type Duration,
  type Placement,
  type Republish,
  type StreamSource,
  type StreamSourceInput,
  type SubjectTransform,
} from "./types";

/** The server's duplicate window when none is set (2 minutes). */
export const DEFAULT_DUPLICATE_WINDOW = 120e9;

type Raw = Record<string, unknown>;
const nanosOf = (v: unknown) => (v === undefined ? 0 : toNanos(v as Duration));
const sourced = (i: Raw) => i.mirror !== undefined || (Array.isArray(i.sources) && i.sources.length > 0);
const show = (v: unknown) => JSON.stringify(v);

// ---------------------------------------------------------------- nested settings

const str = (key: string) => z.string(`${key} must be a string`);
/** A nested part's doc line (docs/config.md, the JSON Schema). */
const described = <S extends z.ZodType>(schema: S, description: string): S => schema.meta({ description });
const transformSchema = (key: string) =>
  z.strictObject({ src: described(str(`${key}.src`), "subjects it applies to (default `>`)").optional(), dest: described(str(`${key}.dest`), "what they become") }, `${key} must be { src, dest }`);

/** A source or mirror: `domain` is a shorthand for `external.api = $JS.<domain>.API` (not both). */
export function sourceSchema(key: string): z.ZodType {
  return z
    .strictObject(
      {
        name: described(
          str(`${key}.name`).refine((s) => !nameReason(s, "source stream name"), { error: (iss) => nameReason(String(iss.input), "source stream name") }),
          "the stream it reads",
        ),
        opt_start_seq: described(z.number().int().min(0), "first sequence to read").optional(),
        opt_start_time: described(
          str(`${key}.opt_start_time`).refine((t) => !Number.isNaN(Date.parse(t)), { error: (iss) => `opt_start_time ('${String(iss.input)}') is not an RFC 3339 time like 2026-01-01T00:00:00Z` }),
          "first message time to read (RFC 3339)",
        ).optional(),
        filter_subject: described(
          str(`${key}.filter_subject`).refine((s) => !subjectReason(s, true, "filter_subject"), { error: (iss) => subjectReason(String(iss.input), true, "filter_subject") }),
          "only these subjects",
        ).optional(),
        subject_transforms: described(z.array(transformSchema(`${key}.subject_transforms[]`)), "transforms of the subjects read").optional(),
        external: described(
          z.strictObject({ api: described(str(`${key}.external.api`), "API prefix of the other domain or account: `$JS.<domain>.API`"), deliver: described(str(`${key}.external.deliver`), "delivery prefix (cross-account)").optional() }),
          "where the stream is, in another domain or account",
        ).optional(),
        domain: described(str(`${key}.domain`).refine((d) => !nameReason(d, "domain"), { error: (iss) => nameReason(String(iss.input), "domain") }), "the JetStream domain it is in (not with `external`)").optional(),
      },
      `${key} must be an object with at least \`name\``,
    )
    .superRefine((s, ctx) => {
      if (s.domain !== undefined && s.external !== undefined) {
        ctx.addIssue({ code: "custom", path: ["domain"], input: s.domain, message: "set `domain` or `external`, not both (`domain` becomes external.api = $JS.<domain>.API)" });
      }
    });
}

/** A source in canonical form: `domain` becomes `external.api`, empty parts dropped. */
export function normalizeSource(s: StreamSourceInput): StreamSource {
  const { domain, ...rest } = s;
  const withExternal: StreamSource = domain ? { ...rest, external: { api: `$JS.${domain}.API` } } : rest;
  const c = compact(withExternal) ?? { name: s.name };
  return c.opt_start_time ? { ...c, opt_start_time: new Date(c.opt_start_time).toISOString() } : c;
}

/** A mirror: adding or changing one replaces; removing it promotes the mirror to a normal stream in place. */
export const mirrorField = (doc: string, normalize: (s: StreamSourceInput) => StreamSource) =>
  nested<StreamSource, StreamSourceInput>(doc, sourceSchema, (v) => (v ? normalize(v) : undefined), {
    replaceReason: (c, d) => (d !== undefined && !deepEqual(c, d) ? `mirror cannot change after creation (${show(c ?? null)} → ${show(d)})` : ""),
  });

/**
 * Sources. A clustered create compares the request with the stored assignment, which went
 * through JSON, where an empty list is absent: a repeated identical create (what a create whose
 * answer timed out sends) with `sources: []` was refused as "already in use with a different
 * configuration" (10058, measured on 2.15.2, R3). So an empty list is left out of requests.
 */
export const sourcesField = (doc: string, normalize: (s: StreamSourceInput) => StreamSource) =>
  nestedDefaulted<readonly StreamSource[], readonly StreamSourceInput[]>(doc, (key) => z.array(sourceSchema(`${key}[]`), `${key} must be a list of sources`), (v) => (v ?? []).map(normalize), [], { omitWhenEmpty: true });

export const republishField = (doc: string) =>
  nested<Republish>(doc, (key) => z.strictObject(
        { src: described(str(`${key}.src`), "stored subjects it applies to (default `>`)").optional(), dest: described(str(`${key}.dest`), "subject they are published again on"), headers_only: described(z.boolean(), "headers only, no payload").optional() },
        `${key} must be { src, dest, headers_only }`,
      ), (v) => compact(v));

export const placementField = (doc: string) =>
  nested<Placement>(doc, (key) => z.strictObject({ cluster: described(str(`${key}.cluster`), "cluster to place it in").optional(), tags: described(z.array(str(`${key}.tags[]`)), "tags every replica's server carries").optional() }, `${key} must be { cluster, tags }`), (v) => compact(v));

type ConsumerLimitsInput = { readonly inactive_threshold?: Duration; readonly max_ack_pending?: number };
const consumerLimitsSchema = (key: string, source: Source) =>
  z.strictObject(
    {
      inactive_threshold: described(durationSchema(`${key}.inactive_threshold`, source), "idle time after which the server deletes a consumer").optional(),
      max_ack_pending: described(z.number().int().min(-1), "unacknowledged messages at once (-1: none)").optional(),
    },
    `${key} must be { inactive_threshold, max_ack_pending }`,
  );

// ---------------------------------------------------------------- the fields

/** Every stream field, in the server's order. */
export const STREAM_FIELDS = {
  name: name("stream name", (s) => nameReason(s, "stream name")),
  description: text("what the stream holds"),
  subjects: subjects("subjects it stores", (s) => subjectReason(s, true, "subject"), { derived: "its name; none when it sources or mirrors", from: (i) => (sourced(i) ? [] : [String(i.name)]) }, { omitWhenEmpty: true }),
  retention: oneOf(Retention, "retention policy: limits ⇄ interest in place", Retention.Limits, {
    replaceReason: (c, d) => (c !== d && (c === Retention.WorkQueue || d === Retention.WorkQueue) ? `retention cannot change to or from workqueue (${c} → ${d})` : ""),
  }),
  max_consumers: limit("consumer limit (-1: none)"),
  max_msgs: limit("message limit (-1: none)"),
  max_bytes: limit("byte limit (-1: none)"),
  max_age: duration("oldest message kept (0: no limit)"),
  max_msgs_per_subject: limit("messages kept per subject (-1: none)"),
  max_msg_size: limit("largest message accepted, in bytes (-1: none)"),
  discard: oneOf(Discard, "what a full stream does: drop old messages, or refuse new ones", Discard.Old),
  discard_new_per_subject: flag("refuse new messages per subject (needs discard: new and max_msgs_per_subject > 0)", false, { omitAtDefault: true }),
  storage: oneOf(Storage, "storage", Storage.File, { change: "replace" }),
  num_replicas: count("replicas: 1 at a leaf, up to the hub members at the hub", 1, 5, 1, { alias: "replicas" }),
  no_ack: flag("publishes are not acknowledged", false, { omitAtDefault: true }),
  duplicate_window: duration("de-duplication window", {
    derived: "2m, or max_age when shorter; 0 when it sources or mirrors",
    from: (i) => {
      const maxAge = nanosOf(i.max_age);
      return sourced(i) ? 0 : maxAge > 0 && maxAge < DEFAULT_DUPLICATE_WINDOW ? maxAge : DEFAULT_DUPLICATE_WINDOW;
    },
  }),
  placement: placementField("cluster and server tags its replicas are placed on"),
  mirror: mirrorField("a stream it mirrors (then no subjects or sources); removing it promotes the mirror in place", normalizeSource),
  sources: sourcesField("streams it sources (`domain: <d>` for another JetStream domain)", normalizeSource),
  subject_transform: nested<SubjectTransform>("a transform of incoming subjects", transformSchema, (v) => compact(v)),
  republish: republishField("republish stored messages: { src, dest, headers_only }"),
  sealed: flag("no more writes or deletes (the server refuses it at create: set after)", false, { change: "one-way" }),
  deny_delete: flag("messages cannot be deleted through the API", false, { change: "one-way" }),
  deny_purge: flag("the stream cannot be purged through the API", false, { change: "one-way" }),
  allow_rollup_hdrs: flag("allow rollup headers", { derived: "true when subject_delete_marker_ttl is set (the server turns it on)", from: (i) => nanosOf(i.subject_delete_marker_ttl) > 0 }, { alias: "allow_rollup" }),
  allow_direct: flag("direct get of messages from any replica"),
  mirror_direct: flag("direct get from the mirror (needs a mirror)"),
  compression: oneOf(Compression, "compression on disk", Compression.None),
  first_seq: natural("the stream's first sequence", { omitAtDefault: true }),
  metadata: metadata("user metadata (keys starting with `_nats` are the server's)", true),
  consumer_limits: nestedDefaulted<ConsumerLimits, ConsumerLimitsInput>(
    "limits its consumers get when they set none: { inactive_threshold, max_ack_pending }",
    consumerLimitsSchema,
    (v) => compact({ inactive_threshold: v?.inactive_threshold === undefined ? undefined : toNanos(v.inactive_threshold), max_ack_pending: v?.max_ack_pending }) ?? {},
    {},
  ),
  allow_msg_ttl: flag("per-message TTLs (the Nats-TTL header)", { derived: "true when subject_delete_marker_ttl is set (markers are TTL'd messages)", from: (i) => nanosOf(i.subject_delete_marker_ttl) > 0 }, { change: "one-way", omitAtDefault: true }),
  subject_delete_marker_ttl: duration("TTL of the delete markers limits leave (0: none)", 0, { omitAtDefault: true }),
  allow_msg_counter: flag("counter streams (CRDT increments)", false, { change: "replace", omitAtDefault: true }),
  allow_msg_schedules: flag("message schedules", false, { change: "one-way", omitAtDefault: true }),
  allow_atomic: flag("atomic batch publish", false, { omitAtDefault: true }),
  allow_batched: flag("batched publish", false, { omitAtDefault: true }),
  persist_mode: oneOf(PersistMode, "whether a publish ack waits for the disk sync (`async`: it does not)", PersistMode.Default, { change: "replace", omitAtDefault: true }),
};

/** The whole stream config, every default filled in. */
export type StreamConfig = ConfigOf<typeof STREAM_FIELDS>;
/** Stream config as users write it: only `name` is required, durations may be strings. */
export type StreamInput = InputOf<typeof STREAM_FIELDS>;

/** Every StreamConfig key, in the server's order. */
export const STREAM_KEYS = Object.keys(STREAM_FIELDS) as (keyof StreamConfig)[];
/** Keys whose change may replace the stream (also the ones an unknown value at preview may replace). */
export const STREAM_REPLACE_KEYS = replaceKeys(STREAM_FIELDS);
/** Keys absent when unset: an update must not keep the live value of one the config leaves out. */
export const STREAM_OPTIONAL_KEYS = optionalKeys(STREAM_FIELDS);

/** A mirror has neither `subjects` nor sources; the source checks are the field's. */
export const mirrorRule =
  (mirrorNoun: string): CrossRule =>
  (i) =>
    i.mirror && Array.isArray(i.sources) && i.sources.length ? [{ property: "sources", reason: `${mirrorNoun} cannot have sources: remove \`sources\` or the mirror` }] : [];

const STREAM_RULES: readonly CrossRule[] = [
  (i) => (i.mirror && Array.isArray(i.subjects) && i.subjects.length ? [{ property: "subjects", reason: "a mirror cannot have subjects: remove `subjects` or the mirror" }] : []),
  mirrorRule("a mirror"),
  (i) => (i.mirror_direct && !i.mirror ? [{ property: "mirror_direct", reason: "mirror_direct needs a mirror: remove it or declare `mirror`" }] : []),
  (i) =>
    i.discard_new_per_subject && (i.discard !== Discard.New || !(Number(i.max_msgs_per_subject) > 0))
      ? [{ property: "discard_new_per_subject", reason: "discard_new_per_subject needs discard: new and max_msgs_per_subject > 0" }]
      : [],
];

/** The schema of a stream's fields from `source`, with `extra` keys the resource or section adds. */
export const streamSchema = (source: Source, extra: Readonly<Record<string, z.ZodType>> = {}) => tableSchema(STREAM_FIELDS, source, STREAM_RULES, extra);
const STREAM_INPUTS = streamSchema("inputs");

// ---------------------------------------------------------------- canonical form, wire form, diff

/**
 * The full stream config with every server default filled in, from user input or from what the
 * server reports (same shape). Durations become nanoseconds; `_nats.*` metadata is dropped.
 */
export function normalizeStreamConfig(input: StreamInput): StreamConfig {
  return canonicalConfig(STREAM_FIELDS, input);
}

/**
 * The request body for `cfg`: defaults the server omits (and older servers reject) and empty
 * lists are left out, unless `live` carries the key (then the default must be sent to reset it).
 */
export function streamWireConfig(cfg: StreamConfig, live: Raw = {}): Raw {
  return wireConfig(STREAM_FIELDS, cfg, normalizeStreamConfig({ name: cfg.name }), live);
}

/** Why changing `current` into `desired` needs a replacement, per key; empty when in place. */
export function streamReplaceReasons(current: StreamConfig, desired: StreamConfig): Record<string, string> {
  return replaceReasons(STREAM_FIELDS, current, desired);
}

/** One-way settings `desired` turns back off: each a message naming the setting and the fix. */
export function streamOneWayViolations(current: StreamConfig, desired: StreamConfig, what: string): string[] {
  return oneWayViolations(STREAM_FIELDS, current, desired, what, "stream");
}

/** Problems with stream inputs (wire names); `extraKeys` are resource-level keys to accept. */
export function streamInputFailures(input: Raw, extraKeys: readonly string[] = []): InputFailure[] {
  const schema = extraKeys.length ? streamSchema("inputs", accepting(extraKeys)) : STREAM_INPUTS;
  return inputFailures(schema, input, "stream");
}

/** A stream as a store of itself. */
export const STREAM_STORE_KIND: StoreKind<StreamConfig, StreamInput> = {
  idKind: "stream",
  noun: "stream",
  nameKey: "name",
  replaceOnly: STREAM_REPLACE_KEYS,
  streamName: (name) => name,
  normalize: normalizeStreamConfig,
  toStream: (c) => c,
  fromStream: (s) => s,
  replaceReasons: streamReplaceReasons,
  oneWayViolations: streamOneWayViolations,
  inputFailures: streamInputFailures,
};
