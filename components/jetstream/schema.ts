/**
 * The `cim-nats:jetstream` section as declared data, for the stack schema, the docs and the JSON
 * Schema (stack/config-schema.ts). The section is checked by spec.ts's parser, with the
 * resources' own input checks. Pure.
 */
import { z } from "zod";
import { duration as durationOf, flag, names as namesOf, opt, req, text } from "../config/atoms";
import { CONSUMER_KEYS } from "./consumer-config";
import { KV_KEYS } from "./kv-config";
import { OBJECT_STORE_KEYS } from "./object-store-config";
import { STREAM_KEYS } from "./stream-config";

const duration = durationOf();
const name = text();
const names = namesOf();
/** Where a JetStream store or a service lives: every leaf, the hub, or these hosts' leaves. */
const at = z.union([z.enum(["leaves", "hub"]), z.array(name).min(1)]).meta({ title: "leaves | hub | [host, …]" });

/** Stream, bucket and consumer fields keep the JetStream wire names; the docs table lists the ones with meaning here. */
const wireFields = (keys: readonly string[], documented: Record<string, z.ZodType>): Record<string, z.ZodType> =>
  Object.fromEntries(keys.map((k) => [k, documented[k] ?? opt(z.unknown(), `JetStream \`${k}\` (wire name)`)]));

const streamFields: Record<string, z.ZodType> = {
  ...wireFields(STREAM_KEYS, {
    name: req(name, "stream name"),
    subjects: opt(names, "subjects it stores"),
    storage: opt(z.enum(["file", "memory"]), "storage", { default: "file" }),
    retention: opt(z.enum(["limits", "interest", "workqueue"]), "retention policy", { default: "limits" }),
    max_age: opt(z.union([duration, z.literal(0)]), "oldest message kept (0: no limit)", { default: "0" }),
    duplicate_window: opt(z.union([duration, z.literal(0)]), "de-duplication window", { default: "2m" }),
    subject_delete_marker_ttl: opt(z.union([duration, z.literal(0)]), "TTL of delete markers"),
    max_bytes: opt(z.number().int().min(-1), "byte limit (-1: none)", { default: -1 }),
    max_msgs: opt(z.number().int().min(-1), "message limit (-1: none)", { default: -1 }),
  }),
  num_replicas: opt(z.number().int().min(1).max(5), "replicas (wire name; write `replicas`)"),
  replicas: opt(z.number().int().min(1).max(5), "replicas: 1 at a leaf, up to the hub members at the hub", { default: 1 }),
  allow_rollup: opt(z.boolean(), "allow rollup headers (`allow_rollup_hdrs`)"),
};
/** An aggregate's sources are derived from the topology: no subjects, sources or mirror of its own. */
const aggregateFields = Object.fromEntries(Object.entries(streamFields).filter(([k]) => !["name", "subjects", "sources", "mirror"].includes(k)));

export const jetstreamSchema = z.strictObject({
  streams: opt(
    z.array(
      z.strictObject({
        ...streamFields,
        at: req(at, "where: leaves (one per leaf), hub, or a list of hosts"),
        aggregate: opt(
          z.strictObject({
            ...aggregateFields,
            name: req(name, "name of the hub stream"),
            republish: opt(z.unknown(), "republish block, or false", { derived: "every event again on its own subject ({ src: '>', dest: '>' })" }),
            rewinds: opt(
              z.array(z.strictObject({ domain: req(name, "the leaf's JetStream domain"), fromSeq: req(z.number().int().min(1), "first leaf sequence to source again") })),
              "repaired sequence rewinds, oldest first: each re-sources that leaf's stream from `fromSeq` under a fresh source identity (what `npm run verify` prints after a leaf lost its tail; docs/durability.md)",
              { default: [] },
            ),
          }),
          "a hub stream sourcing this stream from every leaf (leaf-level streams only)",
        ),
      }),
    ),
    "streams; names and settings as JetStream spells them",
  ),
  kv: opt(
    z.array(
      z.strictObject({
        ...wireFields(KV_KEYS, {
          bucket: req(name, "bucket name"),
          history: opt(z.number().int().min(1).max(64), "values kept per key", { default: 1 }),
          ttl: opt(z.union([duration, z.literal(0)]), "age at which values expire"),
          replicas: opt(z.number().int().min(1).max(5), "replicas", { default: 1 }),
        }),
        at: req(at, "where: leaves, hub, or a list of hosts"),
        entries: opt(z.record(z.string(), z.string()), "keys and values to put"),
      }),
    ),
    "key-value buckets",
  ),
  objects: opt(
    z.array(
      z.strictObject({
        ...wireFields(OBJECT_STORE_KEYS, { bucket: req(name, "bucket name"), replicas: opt(z.number().int().min(1).max(5), "replicas", { default: 1 }) }),
        at: req(at, "where: leaves, hub, or a list of hosts"),
      }),
    ),
    "object store buckets",
  ),
  consumers: opt(
    z.array(
      z.strictObject({
        ...wireFields(CONSUMER_KEYS, {
          name: req(name, "durable name"),
          ack_policy: opt(z.enum(["none", "all", "explicit"]), "acknowledgement policy", { default: "explicit" }),
          deliver_policy: opt(z.enum(["all", "last", "new", "by_start_sequence", "by_start_time", "last_per_subject"]), "where delivery starts", { default: "all" }),
          ack_wait: opt(z.union([duration, z.literal(0)]), "redelivery after", { default: "30s" }),
          filter_subjects: opt(names, "subjects it delivers"),
        }),
        replicas: opt(z.number().int().min(1).max(5), "replicas (`num_replicas`)"),
        stream: req(name, "stream it reads"),
        at: opt(at, "where its stream is", { derived: "where its stream is" }),
      }),
    ),
    "durable pull consumers",
  ),
  adopt: opt(flag(), "take over streams, aggregates, buckets and consumers that already exist (made by hand, the nats CLI, another tool) on their first up, in place and with their messages, instead of failing on them (docs/adopt.md)", { default: false }),
});

