/**
 * A durable consumer's fields, each declared once in CONSUMER_FIELDS (type and checks, the
 * server's default — ack_wait 30s, max_ack_pending 1000, max_waiting 512… —, whether the server
 * changes it in place, doc line), and what comes from them, pure: the canonical config, the
 * request form, the diff rules and the input checks.
 *
 * Mutability from what the pinned server (v2.15.2) refuses on `CONSUMER.CREATE` with action
 * update; switching between pull and push (adding or removing deliver_subject) replaces too.
 */
import { z } from "zod";
import { compact } from "../provider/canonical";
import { nameReason, subjectReason } from "../subjects";
import {
  accepting,
  canonicalConfig,
  count,
  duration,
  durations,
  flag,
  inputFailures,
  limit,
  metadata,
  name,
  natural,
  nested,
  nestedDefaulted,
  oneOf,
  optionalDuration,
  optionalOneOf,
  optionalText,
  replaceKeys,
  replaceReasons,
  sequence,
  subjects,
  tableSchema,
  text,
  type ConfigOf,
  type CrossRule,
  type InputFailure,
  type InputOf,
  type Source,
} from "./fields";
import { formatId } from "./resource-id";
import { describeAt } from "./target";
import { AckPolicy, DeliverPolicy, PriorityPolicy, ReplayPolicy, toNanos, type ConnectionTarget, type Duration } from "./types";

const ACK_WAIT_DEFAULT = 30e9;
const MAX_ACK_PENDING_DEFAULT = 1000;
const MAX_WAITING_DEFAULT = 512;

type Raw = Record<string, unknown>;
const acked = (i: Raw) => (i.ack_policy ?? AckPolicy.None) !== AckPolicy.None;
const push = (i: Raw) => !!i.deliver_subject;
const filtersOf = (i: Raw) => (Array.isArray(i.filter_subjects) ? (i.filter_subjects as string[]) : []);
const filterReason = (s: string) => subjectReason(s, true, "filter subject");

const optStartTime = (doc: string) =>
  nested<string>(
    doc,
    (key) =>
      z
        .string(`${key} must be an RFC 3339 time like 2026-01-01T00:00:00Z`)
        .refine((t) => !Number.isNaN(Date.parse(t)), { error: (iss) => `${key} ('${String(iss.input)}') is not an RFC 3339 time like 2026-01-01T00:00:00Z` }),
    (v) => (v ? new Date(v).toISOString() : undefined),
    { change: "replace" },
  );

const filterSubjects = subjects("subjects it delivers (one filter is kept as filter_subject)", filterReason);

/** Every consumer field, in the server's order. */
export const CONSUMER_FIELDS = {
  durable_name: name("durable name", (s) => nameReason(s, "consumer name"), { alias: "name" }),
  description: text("what the consumer is for"),
  deliver_policy: oneOf(DeliverPolicy, "where delivery starts", DeliverPolicy.All, { change: "replace" }),
  opt_start_seq: sequence("first stream sequence (deliver_policy by_start_sequence)", { change: "replace" }),
  opt_start_time: optStartTime("first message time (deliver_policy by_start_time)"),
  ack_policy: oneOf(AckPolicy, "acknowledgement policy", AckPolicy.None, { change: "replace" }),
  ack_wait: duration("redelivery after no ack", {
    derived: "30s when acks are required (the first backoff step when there is one), else 0",
    // With a backoff the server takes its first step as ack_wait.
    from: (i) => (acked(i) ? (Array.isArray(i.backoff) && i.backoff.length ? toNanos(i.backoff[0] as Duration, "backoff[0]") : ACK_WAIT_DEFAULT) : 0),
  }),
  max_deliver: limit("deliveries of one message (-1: none)"),
  backoff: durations("redelivery delays (needs max_deliver greater than its steps)"),
  filter_subject: {
    ...optionalText("the subject it delivers", filterReason),
    // A single filter is the same consumer either way: one spelling.
    canonical: (v: string | undefined, i: Raw) => v || (filtersOf(i).length === 1 ? filtersOf(i)[0] : undefined),
  },
  filter_subjects: { ...filterSubjects, canonical: (v: readonly string[] | undefined) => (v && v.length > 1 ? [...v] : []) },
  replay_policy: oneOf(ReplayPolicy, "replay speed", ReplayPolicy.Instant, { change: "replace" }),
  rate_limit_bps: natural("delivery rate limit in bits per second (0: none)", { only: "push" }),
  sample_freq: text("sampling of ack metrics, e.g. 50%"),
  max_waiting: limit("pull requests waiting at once", { derived: "512 for pull, 0 for push", from: (i) => (push(i) ? 0 : MAX_WAITING_DEFAULT) }, 0, { change: "replace", only: "pull" }),
  max_ack_pending: limit("unacknowledged messages at once (a stream's consumer_limits lowers the default: declare it then; -1: none)", {
    derived: "1000 when acks are required, else 0",
    from: (i) => (acked(i) ? MAX_ACK_PENDING_DEFAULT : 0),
  }),
  headers_only: flag("deliver headers only"),
  max_batch: limit("largest pull batch (0: none)", 0, 0, { only: "pull" }),
  max_expires: duration("longest pull request wait (0: none)", 0, { only: "pull" }),
  max_bytes: limit("largest pull request in bytes (0: none)", 0, 0, { only: "pull" }),
  inactive_threshold: duration("idle time after which the server deletes it (0: durables never expire)"),
  num_replicas: count("replicas (0: its stream's)", 0, 5, 0, { alias: "replicas" }),
  mem_storage: flag("keep its state in memory", false, { change: "replace" }),
  metadata: metadata("user metadata (keys starting with `_nats` are the server's)", false),
  deliver_subject: {
    ...optionalText("push consumers: where messages go (none: a pull consumer)", (s) => subjectReason(s, false, "deliver_subject")),
    replaceReason: (c: string | undefined, d: string | undefined) => (!!c !== !!d ? "a consumer cannot switch between pull and push" : ""),
  },
  deliver_group: optionalText("push consumers: queue group", () => "", { only: "push" }),
  idle_heartbeat: duration("push consumers: heartbeat when idle (0: none)", 0, { change: "replace", only: "push" }),
  flow_control: flag("push consumers: flow control", false, { change: "replace", only: "push" }),
  priority_groups: nestedDefaulted<readonly string[]>(
    "pull consumers: priority group names",
    (key) => z.array(z.string(`${key}[] must be a group name`), `${key} must be a list of group names`),
    (v) => [...(v ?? [])],
    [],
  ),
  priority_policy: optionalOneOf(PriorityPolicy, "how pull requests of its groups are served", PriorityPolicy.None),
  priority_timeout: optionalDuration("pinned client timeout"),
};

/** The whole durable consumer config, every default filled in. */
export type ConsumerConfig = ConfigOf<typeof CONSUMER_FIELDS>;
/** Consumer config as users write it: `name` (or `durable_name`) required, durations may be strings. */
export type ConsumerInput = Omit<InputOf<typeof CONSUMER_FIELDS>, "durable_name"> & { readonly name?: string; readonly durable_name?: string };

/** Every ConsumerConfig key, in the server's order. */
export const CONSUMER_KEYS = Object.keys(CONSUMER_FIELDS) as (keyof ConsumerConfig)[];
/** Keys whose change replaces the consumer (also the ones an unknown value at preview may replace). */
export const CONSUMER_REPLACE_KEYS = replaceKeys(CONSUMER_FIELDS);

const CONSUMER_RULES: readonly CrossRule[] = [
  (i) =>
    Array.isArray(i.backoff) && i.backoff.length && !(Number(i.max_deliver) > i.backoff.length)
      ? [{ property: "max_deliver", reason: `backoff needs max_deliver greater than its ${i.backoff.length} steps` }]
      : [],
  (i) => (i.filter_subject && filtersOf(i).length ? [{ property: "filter_subjects", reason: "set filter_subject or filter_subjects, not both" }] : []),
  (i) => (i.deliver_policy === DeliverPolicy.StartSequence && !i.opt_start_seq ? [{ property: "opt_start_seq", reason: "deliver_policy by_start_sequence needs opt_start_seq" }] : []),
  (i) => (i.deliver_policy === DeliverPolicy.StartTime && !i.opt_start_time ? [{ property: "opt_start_time", reason: "deliver_policy by_start_time needs opt_start_time" }] : []),
];

/** The schema of a consumer's fields from `source`, with `extra` keys the resource or section adds. */
export const consumerSchema = (source: Source, extra: Readonly<Record<string, z.ZodType>> = {}) => tableSchema(CONSUMER_FIELDS, source, CONSUMER_RULES, extra);

/** The full consumer config with the server's defaults filled in. */
export function normalizeConsumerConfig(input: ConsumerInput): ConsumerConfig {
  return canonicalConfig(CONSUMER_FIELDS, input);
}

/** The request config: unset and zero values left out (the server fills them). */
export function consumerWireConfig(cfg: ConsumerConfig): Raw {
  return {
    ...compact(cfg),
    durable_name: cfg.durable_name,
    name: cfg.durable_name,
    deliver_policy: cfg.deliver_policy,
    ack_policy: cfg.ack_policy,
    replay_policy: cfg.replay_policy,
    max_deliver: cfg.max_deliver,
  };
}

/** Why a change needs a new consumer, per key. */
export function consumerReplaceReasons(current: ConsumerConfig, desired: ConsumerConfig): Record<string, string> {
  return replaceReasons(CONSUMER_FIELDS, current, desired, "cannot change on an existing consumer");
}

/** Problems with consumer inputs (wire names); `extraKeys` are resource-level keys to accept. */
export function consumerInputFailures(input: Raw, extraKeys: readonly string[] = []): InputFailure[] {
  return inputFailures(consumerSchema("inputs", accepting(extraKeys)), input, "consumer");
}

export function consumerId(domain: string | undefined, stream: string, name: string): string {
  return formatId("consumer", domain, stream, name);
}

export function describeConsumer(target: ConnectionTarget, stream: string, name: string): string {
  return describeAt("consumer", target, `${stream}/${name}`);
}
