/**
 * A durable consumer's canonical config and its rules, pure: the server's defaults (ack_wait
 * 30s, max_ack_pending 1000, max_waiting 512…), the request form, which changes replace, and the
 * input checks.
 *
 * Diff rules: CONSUMER_REPLACE_ONLY keys (and switching between pull and push) replace, since
 * the server refuses them on update; everything else updates in place.
 */
import { compact, deepEqual, userMetadata } from "../provider/canonical";
import { durationFailures, enumFailures, propertyPath, unknownKeyFailures, type InputFailure } from "./input-checks";
import { formatId } from "./resource-id";
import { describeAt } from "./target";
import {
  AckPolicy,
  CONSUMER_DURATION_KEYS,
  CONSUMER_REPLACE_ONLY,
  DeliverPolicy,
  durationReason,
  PriorityPolicy,
  ReplayPolicy,
  toNanos,
  type ConnectionTarget,
  type ConsumerConfig,
  type ConsumerInput,
} from "./types";
import { nameReason, subjectReason } from "../subjects";

export const CONSUMER_KEYS = [
  "name", "durable_name", "description", "deliver_policy", "opt_start_seq", "opt_start_time", "ack_policy",
  "ack_wait", "max_deliver", "backoff", "filter_subject", "filter_subjects", "replay_policy", "rate_limit_bps",
  "sample_freq", "max_waiting", "max_ack_pending", "headers_only", "max_batch", "max_expires", "max_bytes",
  "inactive_threshold", "num_replicas", "mem_storage", "metadata", "deliver_subject", "deliver_group",
  "idle_heartbeat", "flow_control", "priority_groups", "priority_policy", "priority_timeout",
] as const;

const ACK_WAIT_DEFAULT = 30e9;
const MAX_ACK_PENDING_DEFAULT = 1000;
const MAX_WAITING_DEFAULT = 512;

const nanosOrZero = (v: string | number | undefined, what: string) => (v === undefined ? 0 : toNanos(v, what));

/** The full consumer config with the server's defaults filled in. */
export function normalizeConsumerConfig(input: ConsumerInput): ConsumerConfig {
  const name = input.durable_name ?? input.name ?? "";
  const ack = input.ack_policy ?? AckPolicy.None;
  const acked = ack !== AckPolicy.None;
  const push = !!input.deliver_subject;
  const filters = input.filter_subjects ?? [];
  const backoff = (input.backoff ?? []).map((b, i) => toNanos(b, `backoff[${i}]`));
  const cfg: ConsumerConfig = {
    durable_name: name,
    description: input.description ?? "",
    deliver_policy: input.deliver_policy ?? DeliverPolicy.All,
    opt_start_seq: input.opt_start_seq || undefined,
    opt_start_time: input.opt_start_time ? new Date(input.opt_start_time).toISOString() : undefined,
    ack_policy: ack,
    // With a backoff the server takes its first step as ack_wait.
    ack_wait: nanosOrZero(input.ack_wait, "ack_wait") || (acked ? (backoff[0] ?? ACK_WAIT_DEFAULT) : 0),
    max_deliver: input.max_deliver ?? -1,
    backoff,
    // A single filter is the same consumer either way; keep one spelling.
    filter_subject: input.filter_subject || (filters.length === 1 ? filters[0] : undefined),
    filter_subjects: filters.length > 1 ? [...filters] : [],
    replay_policy: input.replay_policy ?? ReplayPolicy.Instant,
    rate_limit_bps: input.rate_limit_bps ?? 0,
    sample_freq: input.sample_freq ?? "",
    max_waiting: input.max_waiting ?? (push ? 0 : MAX_WAITING_DEFAULT),
    max_ack_pending: input.max_ack_pending ?? (acked ? MAX_ACK_PENDING_DEFAULT : 0),
    headers_only: input.headers_only ?? false,
    max_batch: input.max_batch ?? 0,
    max_expires: nanosOrZero(input.max_expires, "max_expires"),
    max_bytes: input.max_bytes ?? 0,
    inactive_threshold: nanosOrZero(input.inactive_threshold, "inactive_threshold"),
    num_replicas: input.num_replicas ?? 0,
    mem_storage: input.mem_storage ?? false,
    metadata: userMetadata(input.metadata),
    deliver_subject: input.deliver_subject || undefined,
    deliver_group: input.deliver_group || undefined,
    idle_heartbeat: nanosOrZero(input.idle_heartbeat, "idle_heartbeat"),
    flow_control: input.flow_control ?? false,
    priority_groups: [...(input.priority_groups ?? [])],
    priority_policy: input.priority_policy && input.priority_policy !== PriorityPolicy.None ? input.priority_policy : undefined,
    priority_timeout: nanosOrZero(input.priority_timeout, "priority_timeout") || undefined,
  };
  // Unset optional settings are dropped, so outputs and comparisons carry no undefined keys.
  return Object.fromEntries(Object.entries(cfg).filter(([, v]) => v !== undefined)) as ConsumerConfig;
}

/** The request config: unset and zero values left out (the server fills them). */
export function consumerWireConfig(cfg: ConsumerConfig): Record<string, unknown> {
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
  const out: Record<string, string> = {};
  for (const k of CONSUMER_REPLACE_ONLY) {
    if (!deepEqual(current[k], desired[k])) out[k] = `${k} cannot change on an existing consumer (${JSON.stringify(current[k] ?? null)} → ${JSON.stringify(desired[k] ?? null)})`;
  }
  if (!!current.deliver_subject !== !!desired.deliver_subject) out.deliver_subject = "a consumer cannot switch between pull and push";
  return out;
}

const CONSUMER_ENUMS: Readonly<Record<string, readonly string[]>> = {
  ack_policy: Object.values(AckPolicy),
  deliver_policy: Object.values(DeliverPolicy),
  replay_policy: Object.values(ReplayPolicy),
  priority_policy: Object.values(PriorityPolicy),
};

export function consumerInputFailures(input: Record<string, unknown>, extraKeys: readonly string[] = [], path = ""): InputFailure[] {
  const p = (k: string) => propertyPath(path, k);
  const f = unknownKeyFailures(input, CONSUMER_KEYS, extraKeys, "consumer", path);
  const i = input as ConsumerInput & Record<string, unknown>;
  const name = i.durable_name ?? i.name;
  if (i.durable_name !== undefined && i.name !== undefined && i.durable_name !== i.name) f.push({ property: p("durable_name"), reason: "name and durable_name differ: set one" });
  const nr = nameReason(typeof name === "string" ? name : "", "consumer name");
  if (nr) f.push({ property: p("name"), reason: nr });
  f.push(...enumFailures(i, CONSUMER_ENUMS, path), ...durationFailures(i, CONSUMER_DURATION_KEYS, path));
  (i.backoff ?? []).forEach((b, n) => {
    const r = durationReason(b, `backoff[${n}]`);
    if (r) f.push({ property: p(`backoff[${n}]`), reason: r });
  });
  if (i.backoff?.length && !(Number(i.max_deliver) > i.backoff.length)) f.push({ property: p("max_deliver"), reason: `backoff needs max_deliver greater than its ${i.backoff.length} steps` });
  if (i.filter_subject && i.filter_subjects?.length) f.push({ property: p("filter_subjects"), reason: "set filter_subject or filter_subjects, not both" });
  [...(i.filter_subject ? [i.filter_subject] : []), ...(i.filter_subjects ?? [])].forEach((s, n) => {
    const r = subjectReason(String(s), true, "filter subject");
    if (r) f.push({ property: p(i.filter_subject && n === 0 ? "filter_subject" : `filter_subjects[${i.filter_subject ? n - 1 : n}]`), reason: r });
  });
  if (i.deliver_policy === DeliverPolicy.StartSequence && !i.opt_start_seq) f.push({ property: p("opt_start_seq"), reason: "deliver_policy by_start_sequence needs opt_start_seq" });
  if (i.deliver_policy === DeliverPolicy.StartTime && !i.opt_start_time) f.push({ property: p("opt_start_time"), reason: "deliver_policy by_start_time needs opt_start_time" });
  if (i.deliver_subject) {
    const r = subjectReason(i.deliver_subject, false, "deliver_subject");
    if (r) f.push({ property: p("deliver_subject"), reason: r });
    for (const k of ["max_waiting", "max_batch", "max_expires", "max_bytes"] as const) if (i[k]) f.push({ property: p(k), reason: `${k} is for pull consumers; remove it or deliver_subject` });
  } else {
    for (const k of ["deliver_group", "idle_heartbeat", "flow_control", "rate_limit_bps"] as const) if (i[k]) f.push({ property: p(k), reason: `${k} is for push consumers: set deliver_subject or remove it` });
  }
  return f;
}

export function consumerId(domain: string | undefined, stream: string, name: string): string {
  return formatId("consumer", domain, stream, name);
}

export function describeConsumer(target: ConnectionTarget, stream: string, name: string): string {
  return describeAt("consumer", target, `${stream}/${name}`);
}
