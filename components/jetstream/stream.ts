/**
 * A JetStream stream as a Pulumi resource: its schema (StreamConfig in types.ts), the server's
 * defaults, diff rules, CRUD over a pooled connection, and the dynamic provider around them.
 *
 * Diff rules: every setting the server changes in place is an update; only STREAM_REPLACE_ONLY
 * keys (and retention to/from workqueue, adding or changing a mirror) replace; STREAM_ONE_WAY
 * keys turned back off fail at preview. Both sides are compared in canonical form with every
 * server default filled in, so an unchanged stream never shows a diff and an out-of-band edit
 * of any setting does.
 *
 * Id: `stream:<domain>/<name>` (see resource-id.ts).
 */
import * as pulumi from "@pulumi/pulumi";
import { jsApi, isNotFound } from "./api";
import { changedKeys, compact, containsUnknown, deepEqual, knownInputs, userMetadata } from "./canonical";
import { jetStreamConnection } from "./connection-pool";
import { needsEnsure } from "./liveness";
import { approveReplacement, consumeApproval, dataLossAllowed, DataLossError } from "./data-loss";
import { dynamicProvider } from "./provider-loader";
import { formatId, parseIdForRead } from "./resource-id";
import {
  Compression,
  Discard,
  durationReason,
  PersistMode,
  Retention,
  Storage,
  STREAM_DURATION_KEYS,
  STREAM_ONE_WAY,
  STREAM_REPLACE_ONLY,
  toNanos,
  type ConnectionTarget,
  type StreamConfig,
  type StreamInput,
  type StreamSource,
  type StreamSourceInput,
} from "./types";
import { nameReason, subjectReason } from "../subjects";

/** The server's duplicate window when none is set (2 minutes). */
const DEFAULT_DUPLICATE_WINDOW = 120e9;

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

// ---------------------------------------------------------------- canonical form (pure)

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
 * The request body for `cfg`: defaults the server omits (and older servers reject) are left
 * out, unless `live` carries the key (then the default must be sent to reset it).
 */
export function streamWireConfig(cfg: StreamConfig, live: Record<string, unknown> = {}): Record<string, unknown> {
  const defaults = normalizeStreamConfig({ name: cfg.name });
  const body: Record<string, unknown> = { ...cfg };
  for (const k of OMIT_WHEN_DEFAULT) if (deepEqual(cfg[k], defaults[k]) && !(k in live)) delete body[k];
  return body;
}

// ---------------------------------------------------------------- diff rules (pure)

/** Why changing `current` into `desired` needs a replacement, per key; empty when in place. */
export function streamReplaceReasons(current: StreamConfig, desired: StreamConfig): Partial<Record<keyof StreamConfig, string>> {
  const out: Partial<Record<keyof StreamConfig, string>> = {};
  for (const k of STREAM_REPLACE_ONLY) {
    if (deepEqual(current[k], desired[k])) continue;
    // Removing a mirror promotes it to a normal stream in place; adding or changing one replaces.
    if (k === "mirror" && desired.mirror === undefined) continue;
    out[k] = `${k} cannot change after creation (${JSON.stringify(current[k] ?? null)} → ${JSON.stringify(desired[k] ?? null)})`;
  }
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

// ---------------------------------------------------------------- input checks (pure)

/** One problem with resource inputs, in Pulumi's CheckFailure shape. */
export type InputFailure = { readonly property: string; readonly reason: string };

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

/** Problems with stream inputs (wire names); `extraKeys` are resource-level keys to accept. */
export function streamInputFailures(input: Record<string, unknown>, extraKeys: readonly string[] = [], path = ""): InputFailure[] {
  const p = (k: string) => (path ? `${path}.${k}` : k);
  const f: InputFailure[] = [];
  const known = new Set<string>([...STREAM_KEYS, ...extraKeys]);
  for (const k of Object.keys(input)) {
    if (!known.has(k)) f.push({ property: p(k), reason: `unknown stream setting '${k}'; known: ${STREAM_KEYS.join(", ")}` });
  }
  const i = input as StreamInput & Record<string, unknown>;
  const name = typeof i.name === "string" ? i.name : "";
  const nr = nameReason(name, "stream name");
  if (nr) f.push({ property: p("name"), reason: nr });
  (i.subjects ?? []).forEach((s, n) => {
    const r = subjectReason(String(s), true, "subject");
    if (r) f.push({ property: p(`subjects[${n}]`), reason: r });
  });
  for (const [k, allowed] of Object.entries(ENUMS)) {
    const v = i[k];
    if (v !== undefined && !allowed.includes(v as string)) f.push({ property: p(k), reason: `${k} ('${String(v)}') must be one of ${allowed.join(", ")}` });
  }
  for (const k of STREAM_DURATION_KEYS) {
    if (i[k] !== undefined) {
      const r = durationReason(i[k], k);
      if (r) f.push({ property: p(k), reason: r });
    }
  }
  if (i.consumer_limits?.inactive_threshold !== undefined) {
    const r = durationReason(i.consumer_limits.inactive_threshold, "consumer_limits.inactive_threshold");
    if (r) f.push({ property: p("consumer_limits.inactive_threshold"), reason: r });
  }
  if (i.num_replicas !== undefined && (!Number.isInteger(i.num_replicas) || i.num_replicas < 1 || i.num_replicas > 5)) {
    f.push({ property: p("num_replicas"), reason: `num_replicas (${i.num_replicas}) must be 1 to 5` });
  }
  if (i.mirror) {
    f.push(...sourceFailures(i.mirror, p("mirror")));
    if (i.subjects?.length) f.push({ property: p("subjects"), reason: "a mirror cannot have subjects: remove `subjects` or the mirror" });
    if (i.sources?.length) f.push({ property: p("sources"), reason: "a mirror cannot have sources: remove `sources` or the mirror" });
  }
  if (i.mirror_direct && !i.mirror) f.push({ property: p("mirror_direct"), reason: "mirror_direct needs a mirror: remove it or declare `mirror`" });
  (i.sources ?? []).forEach((s, n) => f.push(...sourceFailures(s, p(`sources[${n}]`))));
  if (i.discard_new_per_subject && (i.discard !== Discard.New || !(Number(i.max_msgs_per_subject) > 0))) {
    f.push({ property: p("discard_new_per_subject"), reason: "discard_new_per_subject needs discard: new and max_msgs_per_subject > 0" });
  }
  for (const [k, v] of Object.entries(i.metadata ?? {})) {
    if (k.startsWith("_nats")) f.push({ property: p(`metadata.${k}`), reason: `metadata keys starting with '_nats' ('${k}') are reserved for the server` });
    if (typeof v !== "string") f.push({ property: p(`metadata.${k}`), reason: "metadata values must be strings" });
  }
  return f;
}

/** Problems with a connection target. */
export function targetFailures(target: unknown, path = "target"): InputFailure[] {
  if (containsUnknown(target)) return [];
  const t = target as ConnectionTarget | undefined;
  if (!t || typeof t !== "object") return [{ property: path, reason: "a target is required: { servers: [client URLs], credentials?, tls?, domain? }" }];
  const f: InputFailure[] = [];
  if (!Array.isArray(t.servers) || t.servers.length === 0) f.push({ property: `${path}.servers`, reason: "list at least one client URL, e.g. nats://127.0.0.41:4222" });
  if (t.domain !== undefined && t.domain !== "" && nameReason(t.domain, "domain")) f.push({ property: `${path}.domain`, reason: nameReason(t.domain, "domain") });
  const c = t.credentials ?? {};
  const kinds = (["creds", "seed", "token"] as const).filter((k) => c[k]).length + (c.user ? 1 : 0);
  if (kinds > 1) f.push({ property: `${path}.credentials`, reason: "give one kind of credentials: creds, seed, user/password or token" });
  return f;
}

// ---------------------------------------------------------------- resource (I/O)

/** Inputs of a Stream resource: the stream config (wire names) plus where and how. */
export type StreamArgs = StreamInput & {
  readonly target: ConnectionTarget;
  /** Allow delete/replace of the stream while it holds messages. Default false. */
  readonly allowDataLoss?: boolean;
  /**
   * Take over an existing stream of this name on create (updated in place to these settings,
   * never replaced) instead of failing. This is how to import: Pulumi's `import` option cannot
   * load a dynamic provider (pulumi/pulumi#3550). Default false.
   */
  readonly adopt?: boolean;
};

/** Outputs: the full canonical config as the server reports it, plus the inputs' target. */
export type StreamOutputs = StreamConfig & { readonly target: ConnectionTarget; readonly allowDataLoss: boolean };

/** Raw StreamInfo, the parts used here. */
type StreamInfoResponse = { config: StreamConfig & Record<string, unknown>; state: { messages: number } };

const RESOURCE_KEYS = ["target", "allowDataLoss", "adopt"] as const;

function configOf(args: StreamArgs | StreamOutputs): StreamInput {
  // Destructured away, not deleted: `delete` would slow every later access to the object.
  const { target: _t, allowDataLoss: _a, adopt: _o, __provider: _p, ...cfg } = args as StreamArgs & Record<string, unknown>;
  return cfg as StreamInput;
}

export function streamId(domain: string | undefined, name: string): string {
  return formatId("stream", domain, name);
}

function describe(target: ConnectionTarget, name: string): string {
  return `stream ${target.domain ? `${target.domain}/` : ""}${name}`;
}

function outputs(cfg: StreamConfig, args: { target: ConnectionTarget; allowDataLoss?: boolean }): StreamOutputs {
  return { ...cfg, target: args.target, allowDataLoss: args.allowDataLoss === true };
}

/** Live stream info, or undefined when the stream does not exist. */
export async function streamInfo(target: ConnectionTarget, name: string): Promise<StreamInfoResponse | undefined> {
  const conn = await jetStreamConnection(target);
  try {
    return await jsApi<StreamInfoResponse>(conn, `STREAM.INFO.${name}`, undefined, describe(target, name));
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

/** Creates the stream (idempotent for an identical existing one) and reads it back. */
export async function createStreamFromConfig(target: ConnectionTarget, cfg: StreamConfig): Promise<StreamConfig> {
  const conn = await jetStreamConnection(target);
  const what = describe(target, cfg.name);
  // The server refuses `sealed` at create: create open, then seal with an update.
  let r = await jsApi<StreamInfoResponse>(conn, `STREAM.CREATE.${cfg.name}`, streamWireConfig({ ...cfg, sealed: false }), what);
  if (cfg.sealed) r = await jsApi<StreamInfoResponse>(conn, `STREAM.UPDATE.${cfg.name}`, { ...r.config, sealed: true }, what);
  return normalizeStreamConfig(r.config);
}

/** Updates the stream in place: the desired settings overlaid on the live config. */
export async function updateStreamFromConfig(target: ConnectionTarget, cfg: StreamConfig): Promise<StreamConfig> {
  const conn = await jetStreamConnection(target);
  const what = describe(target, cfg.name);
  const live = await streamInfo(target, cfg.name);
  // Gone (its server's store was wiped): create it again.
  if (!live) return createStreamFromConfig(target, cfg);
  const body: Record<string, unknown> = { ...live.config, ...streamWireConfig(cfg, live.config) };
  // Keys the desired config leaves unset must not survive from the live config.
  for (const k of ["placement", "mirror", "subject_transform", "republish"] as const) if (cfg[k] === undefined) delete body[k];
  const r = await jsApi<StreamInfoResponse>(conn, `STREAM.UPDATE.${cfg.name}`, body, what);
  return normalizeStreamConfig(r.config);
}

/**
 * `adopt: true` on create: an existing stream is taken over and updated in place to `cfg`;
 * settings that would need a replacement or turn a one-way setting off fail instead.
 * Returns undefined when there is nothing to adopt (create it then).
 */
export async function adoptStream(target: ConnectionTarget, cfg: StreamConfig, what = describe(target, cfg.name)): Promise<StreamConfig | undefined> {
  const info = await streamInfo(target, cfg.name);
  if (!info) return undefined;
  const current = normalizeStreamConfig(info.config);
  const problems = [...streamOneWayViolations(current, cfg, what), ...Object.values(streamReplaceReasons(current, cfg)).map((r) => `${what}: cannot adopt: ${r}; declare the existing value`)];
  if (problems.length) throw new Error(problems.join("\n"));
  return deepEqual(current, cfg) ? current : updateStreamFromConfig(target, cfg);
}

/** Deletes the stream behind the data-loss guard; a missing stream counts as deleted. */
export async function deleteStreamGuarded(target: ConnectionTarget, name: string, id: string, allowDataLoss: boolean | undefined, what = describe(target, name)): Promise<void> {
  const conn = await jetStreamConnection(target);
  if (!dataLossAllowed(id, allowDataLoss)) {
    const info = await streamInfo(target, name);
    if (!info) return;
    if (info.state.messages > 0) throw new DataLossError(what, info.state.messages, "delete");
  }
  try {
    await jsApi(conn, `STREAM.DELETE.${name}`, undefined, what);
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
  consumeApproval(id);
}

/**
 * The guard for a replacement diff: throws when the stream holds messages and `allowDataLoss`
 * is not set; records the approval otherwise.
 */
export async function guardReplacement(id: string, target: ConnectionTarget, name: string, allowDataLoss: boolean | undefined, because: string, what: string): Promise<void> {
  const info = await streamInfo(target, name);
  if (!info || info.state.messages === 0) return;
  if (allowDataLoss !== true) throw new DataLossError(what, info.state.messages, "replace", because);
  approveReplacement(id);
}

/** Target changes: a new domain is a different stream (replace); servers/credentials/tls update. */
export function targetChange(olds: ConnectionTarget | undefined, news: ConnectionTarget): "none" | "update" | "replace" {
  if (containsUnknown(news)) return "update";
  if ((olds?.domain ?? "") !== (news.domain ?? "")) return "replace";
  return deepEqual(olds, news) ? "none" : "update";
}

/** Pulumi `check`: input problems, each with its property path. */
export async function checkStream(_olds: unknown, news: StreamArgs): Promise<pulumi.dynamic.CheckResult> {
  const input = news as unknown as Record<string, unknown>;
  const cfg = knownInputs(input);
  const failures = [...targetFailures(input.target), ...streamInputFailures(cfg, RESOURCE_KEYS)];
  return { inputs: news, failures };
}

/** Pulumi `diff`: in-place update whenever the server allows, replace only where it refuses. */
export async function diffStream(id: string, olds: StreamOutputs, news: StreamArgs): Promise<pulumi.dynamic.DiffResult> {
  const what = describe(olds.target, olds.name);
  if (containsUnknown(configOf(news))) {
    const replaces = STREAM_REPLACE_ONLY.filter((k) => containsUnknown((news as Record<string, unknown>)[k]));
    return { changes: true, replaces, deleteBeforeReplace: true };
  }
  const current = normalizeStreamConfig(configOf(olds));
  const desired = normalizeStreamConfig(configOf(news));
  const violations = streamOneWayViolations(current, desired, what);
  if (violations.length) throw new Error(violations.join("\n"));
  const changed = changedKeys(current, desired) as string[];
  const reasons = streamReplaceReasons(current, desired);
  const replaces: string[] = Object.keys(reasons);
  const t = targetChange(olds.target, news.target);
  if (t === "replace") replaces.push("target");
  if (t !== "none") changed.push("target");
  if ((olds.allowDataLoss === true) !== (news.allowDataLoss === true)) changed.push("allowDataLoss");
  if (replaces.length) {
    const because = [...Object.values(reasons), ...(t === "replace" ? [`target.domain changed (${olds.target.domain ?? ""} → ${news.target.domain ?? ""})`] : [])].join("; ");
    await guardReplacement(id, olds.target, olds.name, news.allowDataLoss, because, what);
  }
  if (changed.length === 0 && (await needsEnsure(news.target, () => streamInfo(news.target, news.name)))) changed.push("(gone from the server)");
  return { changes: changed.length > 0, replaces, deleteBeforeReplace: true };
}

/** Pulumi `create`. */
export async function createStream(args: StreamArgs): Promise<{ id: string; outs: StreamOutputs }> {
  const desired = normalizeStreamConfig(configOf(args));
  const cfg = (args.adopt ? await adoptStream(args.target, desired) : undefined) ?? (await createStreamFromConfig(args.target, desired));
  return { id: streamId(args.target.domain, cfg.name), outs: outputs(cfg, args) };
}

/**
 * Pulumi `read` (refresh and import): the live config, or `{}` (no id) when the stream is gone.
 * For import, `props` are the program's inputs and must carry `target`.
 */
export async function readStream(id: string, props?: Partial<StreamOutputs> | StreamArgs): Promise<pulumi.dynamic.ReadResult<StreamOutputs>> {
  const { names, target } = parseIdForRead("stream", id, props?.target);
  const info = await streamInfo(target, names[0]);
  if (!info) return {};
  return { id, props: outputs(normalizeStreamConfig(info.config), { target, allowDataLoss: props?.allowDataLoss }) };
}

/** Pulumi `update`: in place; only a target or allowDataLoss change skips the server call. */
export async function updateStream(_id: string, olds: StreamOutputs, news: StreamArgs): Promise<{ outs: StreamOutputs }> {
  const desired = normalizeStreamConfig(configOf(news));
  const current = normalizeStreamConfig(configOf(olds));
  if (deepEqual(current, desired) && (await streamInfo(news.target, desired.name))) return { outs: outputs(current, news) };
  const cfg = await updateStreamFromConfig(news.target, desired);
  return { outs: outputs(cfg, news) };
}

/** Pulumi `delete`: behind the data-loss guard; not found is success. */
export async function deleteStream(id: string, props: StreamOutputs): Promise<void> {
  await deleteStreamGuarded(props.target, props.name, id, props.allowDataLoss);
}

/** The dynamic provider: small closures that load this module in the provider process. */
export const streamProvider = dynamicProvider(__filename, {
  check: "checkStream",
  diff: "diffStream",
  create: "createStream",
  read: "readStream",
  update: "updateStream",
  delete: "deleteStream",
});

/** Pulumi inputs of a Stream: StreamArgs with every value possibly an Output. */
export type StreamResourceArgs = { [K in keyof StreamArgs]: pulumi.Input<StreamArgs[K]> };

/**
 * A JetStream stream. `target` (servers, credentials, tls, domain) is kept as a secret output.
 * Take over an existing stream with `adopt: true` (Pulumi's `import` option cannot load
 * dynamic providers); refresh reads it by its id `stream:<domain>/<name>`.
 */
export class Stream extends pulumi.dynamic.Resource {
  public readonly name!: pulumi.Output<string>;
  public readonly subjects!: pulumi.Output<string[]>;
  public readonly num_replicas!: pulumi.Output<number>;
  public readonly max_age!: pulumi.Output<number>;
  public readonly sources!: pulumi.Output<StreamSource[]>;

  constructor(name: string, args: StreamResourceArgs, opts?: pulumi.CustomResourceOptions) {
    // Keys listed here become output properties even when the inputs leave them unset.
    const props = { subjects: undefined, num_replicas: undefined, max_age: undefined, sources: undefined, ...args };
    super(streamProvider, name, props, { ...opts, additionalSecretOutputs: ["target", ...(opts?.additionalSecretOutputs ?? [])] }, "jetstream", "Stream");
  }
}
