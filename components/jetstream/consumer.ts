/**
 * A durable JetStream consumer (pull, or push with `deliver_subject`) as a Pulumi resource, for
 * projections and pattern services.
 *
 * Diff rules: CONSUMER_REPLACE_ONLY keys (and switching between pull and push) replace, since
 * the server refuses them on update; everything else updates in place. Both sides are compared
 * with the server's defaults filled in (ack_wait 30s, max_ack_pending 1000, max_waiting 512…).
 *
 * Id: `consumer:<domain>/<stream>/<name>`.
 */
import * as pulumi from "@pulumi/pulumi";
import { isNotFound, jsApi } from "./api";
import { changedKeys, compact, containsUnknown, deepEqual, knownInputs, userMetadata } from "./canonical";
import { jetStreamConnection } from "./connection-pool";
import { needsEnsure } from "./liveness";
import { dynamicProvider } from "./provider-loader";
import { formatId, parseIdForRead } from "./resource-id";
import { targetChange, targetFailures, type InputFailure } from "./stream";
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

export function consumerInputFailures(input: Record<string, unknown>, extraKeys: readonly string[] = [], path = ""): InputFailure[] {
  const p = (k: string) => (path ? `${path}.${k}` : k);
  const f: InputFailure[] = [];
  const known = new Set<string>([...CONSUMER_KEYS, ...extraKeys]);
  for (const k of Object.keys(input)) if (!known.has(k)) f.push({ property: p(k), reason: `unknown consumer setting '${k}'; known: ${CONSUMER_KEYS.join(", ")}` });
  const i = input as ConsumerInput & Record<string, unknown>;
  const name = i.durable_name ?? i.name;
  if (i.durable_name !== undefined && i.name !== undefined && i.durable_name !== i.name) f.push({ property: p("durable_name"), reason: "name and durable_name differ: set one" });
  const nr = nameReason(typeof name === "string" ? name : "", "consumer name");
  if (nr) f.push({ property: p("name"), reason: nr });
  const enums: Record<string, readonly string[]> = {
    ack_policy: Object.values(AckPolicy),
    deliver_policy: Object.values(DeliverPolicy),
    replay_policy: Object.values(ReplayPolicy),
    priority_policy: Object.values(PriorityPolicy),
  };
  for (const [k, allowed] of Object.entries(enums)) {
    if (i[k] !== undefined && !allowed.includes(i[k] as string)) f.push({ property: p(k), reason: `${k} ('${String(i[k])}') must be one of ${allowed.join(", ")}` });
  }
  for (const k of CONSUMER_DURATION_KEYS) if (i[k] !== undefined && durationReason(i[k], k)) f.push({ property: p(k), reason: durationReason(i[k], k) });
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

export type ConsumerArgs = ConsumerInput & {
  readonly target: ConnectionTarget;
  /** The stream the consumer reads. Changing it replaces. */
  readonly stream: string;
  /** Take over an existing consumer of this name on create, updating it in place (see StreamArgs.adopt). */
  readonly adopt?: boolean;
};
export type ConsumerOutputs = ConsumerConfig & { readonly target: ConnectionTarget; readonly stream: string };

function configOf(a: ConsumerArgs | ConsumerOutputs): ConsumerInput {
  const { target: _t, stream: _s, adopt: _o, __provider: _p, ...cfg } = a as ConsumerArgs & Record<string, unknown>;
  return cfg as ConsumerInput;
}

type ConsumerInfoResponse = { config: ConsumerInput & Record<string, unknown> };

const describe = (target: ConnectionTarget, stream: string, name: string) => `consumer ${target.domain ? `${target.domain}/` : ""}${stream}/${name}`;

export function consumerId(domain: string | undefined, stream: string, name: string): string {
  return formatId("consumer", domain, stream, name);
}

/** Live consumer info, or undefined when the consumer or its stream does not exist. */
export async function consumerInfo(target: ConnectionTarget, stream: string, name: string): Promise<ConsumerInfoResponse | undefined> {
  const conn = await jetStreamConnection(target);
  try {
    return await jsApi<ConsumerInfoResponse>(conn, `CONSUMER.INFO.${stream}.${name}`, undefined, describe(target, stream, name));
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

async function writeConsumer(target: ConnectionTarget, stream: string, cfg: ConsumerConfig, action: "create" | "update"): Promise<ConsumerConfig> {
  const conn = await jetStreamConnection(target);
  const r = await jsApi<ConsumerInfoResponse>(
    conn,
    `CONSUMER.CREATE.${stream}.${cfg.durable_name}`,
    { stream_name: stream, config: consumerWireConfig(cfg), action },
    describe(target, stream, cfg.durable_name),
  );
  return normalizeConsumerConfig(r.config);
}

const outputs = (cfg: ConsumerConfig, a: { target: ConnectionTarget; stream: string }): ConsumerOutputs => ({ ...cfg, target: a.target, stream: a.stream });

export async function checkConsumer(_olds: unknown, news: ConsumerArgs): Promise<pulumi.dynamic.CheckResult> {
  const input = news as unknown as Record<string, unknown>;
  const cfg = knownInputs(input);
  const failures = [...targetFailures(input.target), ...consumerInputFailures(cfg, ["target", "stream", "adopt"])];
  if (typeof input.stream === "string" && nameReason(input.stream, "stream name")) failures.push({ property: "stream", reason: nameReason(input.stream, "stream name") });
  return { inputs: news, failures };
}

export async function diffConsumer(_id: string, olds: ConsumerOutputs, news: ConsumerArgs): Promise<pulumi.dynamic.DiffResult> {
  if (containsUnknown(news)) {
    const replaces = [...CONSUMER_REPLACE_ONLY, "stream", "name"].filter((k) => containsUnknown((news as Record<string, unknown>)[k]));
    return { changes: true, replaces, deleteBeforeReplace: true };
  }
  const current = normalizeConsumerConfig(configOf(olds));
  const desired = normalizeConsumerConfig(configOf(news));
  const changed = changedKeys(current, desired) as string[];
  const replaces = Object.keys(consumerReplaceReasons(current, desired));
  if (olds.stream !== news.stream) replaces.push("stream");
  const t = targetChange(olds.target, news.target);
  if (t === "replace") replaces.push("target");
  const changes =
    changed.length > 0 || replaces.length > 0 || t !== "none" || (await needsEnsure(news.target, () => consumerInfo(news.target, news.stream, desired.durable_name)));
  return { changes, replaces: [...new Set(replaces)], deleteBeforeReplace: true };
}

export async function createConsumer(args: ConsumerArgs): Promise<{ id: string; outs: ConsumerOutputs }> {
  const desired = normalizeConsumerConfig(configOf(args));
  let cfg: ConsumerConfig | undefined;
  if (args.adopt) {
    const live = await consumerInfo(args.target, args.stream, desired.durable_name);
    if (live) {
      const current = normalizeConsumerConfig(live.config);
      const reasons = Object.values(consumerReplaceReasons(current, desired));
      if (reasons.length) throw new Error(reasons.map((r) => `${describe(args.target, args.stream, desired.durable_name)}: cannot adopt: ${r}; declare the existing value`).join("\n"));
      cfg = deepEqual(current, desired) ? current : await writeConsumer(args.target, args.stream, desired, "update");
    }
  }
  cfg ??= await writeConsumer(args.target, args.stream, desired, "create");
  return { id: consumerId(args.target.domain, args.stream, cfg.durable_name), outs: outputs(cfg, args) };
}

export async function readConsumer(id: string, props?: Partial<ConsumerOutputs> | ConsumerArgs): Promise<pulumi.dynamic.ReadResult<ConsumerOutputs>> {
  const { names, target } = parseIdForRead("consumer", id, props?.target);
  const [stream, name] = names;
  const info = await consumerInfo(target, stream, name);
  if (!info) return {};
  return { id, props: outputs(normalizeConsumerConfig(info.config), { target, stream }) };
}

export async function updateConsumer(_id: string, olds: ConsumerOutputs, news: ConsumerArgs): Promise<{ outs: ConsumerOutputs }> {
  const current = normalizeConsumerConfig(configOf(olds));
  const desired = normalizeConsumerConfig(configOf(news));
  // Gone (its server's store was wiped): create it again.
  if (!(await consumerInfo(news.target, news.stream, desired.durable_name))) return { outs: outputs(await writeConsumer(news.target, news.stream, desired, "create"), news) };
  if (deepEqual(current, desired)) return { outs: outputs(current, news) };
  return { outs: outputs(await writeConsumer(news.target, news.stream, desired, "update"), news) };
}

export async function deleteConsumer(_id: string, props: ConsumerOutputs): Promise<void> {
  const conn = await jetStreamConnection(props.target);
  try {
    await jsApi(conn, `CONSUMER.DELETE.${props.stream}.${props.durable_name}`, undefined, describe(props.target, props.stream, props.durable_name));
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
}

export const consumerProvider = dynamicProvider(__filename, {
  check: "checkConsumer",
  diff: "diffConsumer",
  create: "createConsumer",
  read: "readConsumer",
  update: "updateConsumer",
  delete: "deleteConsumer",
});

export type ConsumerResourceArgs = { [K in keyof ConsumerArgs]: pulumi.Input<ConsumerArgs[K]> };

/** A durable consumer; id `consumer:<domain>/<stream>/<name>`. Take over an existing one with `adopt: true`. */
export class Consumer extends pulumi.dynamic.Resource {
  public readonly durable_name!: pulumi.Output<string>;
  public readonly stream!: pulumi.Output<string>;

  constructor(name: string, args: ConsumerResourceArgs, opts?: pulumi.CustomResourceOptions) {
    super(consumerProvider, name, { durable_name: undefined, ...args }, { ...opts, additionalSecretOutputs: ["target", ...(opts?.additionalSecretOutputs ?? [])] }, "jetstream", "Consumer");
  }
}
