/**
 * A KV bucket (stream `KV_<bucket>`) as a Pulumi resource. The bucket's stream config is derived
 * the way the nats CLI (nats.go) derives it, so buckets made with `nats kv add` import cleanly.
 *
 * Diff rules: `replicas`, `history`, `ttl`, limits, compression, metadata, sources change in
 * place — never a replace (terraform-provider-jetstream users lost data to a forced KV
 * replacement on a replicas change). KV_REPLACE_ONLY keys replace; a set `limit_marker_ttl`
 * cannot be unset (the stream's allow_msg_ttl is one-way).
 *
 * Id: `kv:<domain>/<bucket>`.
 */
import * as pulumi from "@pulumi/pulumi";
import { changedKeys, compact, containsUnknown, deepEqual, knownInputs, userMetadata } from "./canonical";
import { needsEnsure } from "./liveness";
import { dynamicProvider } from "./provider-loader";
import { formatId, parseIdForRead } from "./resource-id";
import {
  adoptStream,
  createStreamFromConfig,
  deleteStreamGuarded,
  guardReplacement,
  normalizeSource,
  normalizeStreamConfig,
  sourceFailures,
  streamInfo,
  targetChange,
  targetFailures,
  updateStreamFromConfig,
  type InputFailure,
} from "./stream";
import {
  Compression,
  Discard,
  durationReason,
  KV_REPLACE_ONLY,
  Storage,
  toNanos,
  type ConnectionTarget,
  type KvConfig,
  type KvInput,
  type StreamConfig,
  type StreamSource,
  type StreamSourceInput,
} from "./types";

export const KV_STREAM_PREFIX = "KV_";
const DEFAULT_DUPLICATE_WINDOW = 120e9;

export const KV_KEYS = [
  "bucket", "description", "history", "ttl", "max_value_size", "max_bytes", "storage", "replicas",
  "placement", "compression", "metadata", "mirror", "sources", "republish", "limit_marker_ttl",
] as const satisfies readonly (keyof KvConfig)[];

/** KV bucket names: letters, digits, `-` and `_` (what the KV clients accept). */
export function bucketNameReason(bucket: string, what = "bucket name"): string {
  if (!bucket) return `${what} cannot be empty`;
  if (!/^[-\w]+$/.test(bucket)) return `${what} ('${bucket}') may contain only letters, digits, '-' and '_'`;
  return "";
}

/** A source/mirror bucket name without the `KV_` stream prefix. */
function bucketOf(streamName: string): string {
  return streamName.startsWith(KV_STREAM_PREFIX) ? streamName.slice(KV_STREAM_PREFIX.length) : streamName;
}

function normalizeBucketSource(s: StreamSourceInput): StreamSource {
  return normalizeSource({ ...s, name: bucketOf(s.name) });
}

/** The full KV config with defaults filled in. */
export function normalizeKvConfig(input: KvInput): KvConfig {
  const cfg: KvConfig = {
    bucket: input.bucket,
    description: input.description ?? "",
    history: input.history ?? 1,
    ttl: input.ttl === undefined ? 0 : toNanos(input.ttl, "ttl"),
    max_value_size: input.max_value_size ?? -1,
    max_bytes: input.max_bytes ?? -1,
    storage: input.storage ?? Storage.File,
    replicas: input.replicas ?? 1,
    placement: compact(input.placement),
    compression: input.compression ?? false,
    metadata: userMetadata(input.metadata),
    mirror: input.mirror ? normalizeBucketSource(input.mirror) : undefined,
    sources: (input.sources ?? []).map(normalizeBucketSource),
    republish: compact(input.republish),
    limit_marker_ttl: input.limit_marker_ttl === undefined ? 0 : toNanos(input.limit_marker_ttl, "limit_marker_ttl"),
  };
  for (const k of ["placement", "mirror", "republish"] as const) if (cfg[k] === undefined) delete (cfg as Record<string, unknown>)[k];
  return cfg;
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
    name: KV_STREAM_PREFIX + kv.bucket,
    description: kv.description,
    subjects: mirror ? [] : [subject],
    max_msgs_per_subject: kv.history,
    max_bytes: kv.max_bytes,
    max_age: kv.ttl,
    max_msg_size: kv.max_value_size,
    storage: kv.storage,
    num_replicas: kv.replicas,
    placement: kv.placement,
    allow_rollup_hdrs: true,
    deny_delete: true,
    duplicate_window: kv.ttl > 0 && kv.ttl < DEFAULT_DUPLICATE_WINDOW ? kv.ttl : DEFAULT_DUPLICATE_WINDOW,
    max_msgs: -1,
    max_consumers: -1,
    allow_direct: true,
    mirror_direct: mirror !== undefined,
    mirror,
    sources,
    republish: kv.republish,
    compression: kv.compression ? Compression.S2 : Compression.None,
    discard: Discard.New,
    metadata: kv.metadata,
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
    bucket,
    description: cfg.description,
    history: cfg.max_msgs_per_subject,
    ttl: cfg.max_age,
    max_value_size: cfg.max_msg_size,
    max_bytes: cfg.max_bytes,
    storage: cfg.storage,
    replicas: cfg.num_replicas,
    placement: cfg.placement,
    compression: cfg.compression === Compression.S2,
    metadata: cfg.metadata,
    mirror: cfg.mirror ? { ...cfg.mirror, name: bucketOf(cfg.mirror.name) } : undefined,
    sources,
    republish: cfg.republish,
    limit_marker_ttl: cfg.subject_delete_marker_ttl,
  });
}

/** Why changing a bucket needs a replacement, per key. */
export function kvReplaceReasons(current: KvConfig, desired: KvConfig): Partial<Record<keyof KvConfig, string>> {
  const out: Partial<Record<keyof KvConfig, string>> = {};
  for (const k of KV_REPLACE_ONLY) {
    if (deepEqual(current[k], desired[k])) continue;
    if (k === "mirror" && desired.mirror === undefined) continue;
    out[k] = `${k} cannot change after creation (${JSON.stringify(current[k] ?? null)} → ${JSON.stringify(desired[k] ?? null)})`;
  }
  return out;
}

/** Problems with KV inputs. */
export function kvInputFailures(input: Record<string, unknown>, extraKeys: readonly string[] = [], path = ""): InputFailure[] {
  const p = (k: string) => (path ? `${path}.${k}` : k);
  const f: InputFailure[] = [];
  const known = new Set<string>([...KV_KEYS, ...extraKeys]);
  for (const k of Object.keys(input)) if (!known.has(k)) f.push({ property: p(k), reason: `unknown KV bucket setting '${k}'; known: ${KV_KEYS.join(", ")}` });
  const i = input as KvInput & Record<string, unknown>;
  const br = bucketNameReason(typeof i.bucket === "string" ? i.bucket : "");
  if (br) f.push({ property: p("bucket"), reason: br });
  if (i.history !== undefined && (!Number.isInteger(i.history) || i.history < 1 || i.history > 64)) f.push({ property: p("history"), reason: `history (${i.history}) must be 1 to 64` });
  if (i.replicas !== undefined && (!Number.isInteger(i.replicas) || i.replicas < 1 || i.replicas > 5)) f.push({ property: p("replicas"), reason: `replicas (${i.replicas}) must be 1 to 5` });
  if (i.storage !== undefined && !Object.values(Storage).includes(i.storage)) f.push({ property: p("storage"), reason: `storage ('${i.storage}') must be one of file, memory` });
  if (i.compression !== undefined && typeof i.compression !== "boolean") f.push({ property: p("compression"), reason: "compression must be true (s2) or false" });
  for (const k of ["ttl", "limit_marker_ttl"] as const) {
    if (i[k] !== undefined) {
      const r = durationReason(i[k], k);
      if (r) f.push({ property: p(k), reason: r });
    }
  }
  if (i.mirror) {
    f.push(...sourceFailures(i.mirror, p("mirror")));
    if (i.sources?.length) f.push({ property: p("sources"), reason: "a mirror bucket cannot have sources: remove `sources` or the mirror" });
  }
  (i.sources ?? []).forEach((s, n) => f.push(...sourceFailures(s, p(`sources[${n}]`))));
  for (const k of Object.keys(i.metadata ?? {})) if (k.startsWith("_nats")) f.push({ property: p(`metadata.${k}`), reason: `metadata keys starting with '_nats' ('${k}') are reserved for the server` });
  return f;
}

export type KvArgs = KvInput & {
  readonly target: ConnectionTarget;
  /** Allow delete/replace of the bucket while it holds entries. Default false. */
  readonly allowDataLoss?: boolean;
  /** Take over an existing bucket of this name on create, updating it in place (see StreamArgs.adopt). */
  readonly adopt?: boolean;
};
export type KvOutputs = KvConfig & { readonly target: ConnectionTarget; readonly allowDataLoss: boolean };

function configOf(args: KvArgs | KvOutputs): KvInput {
  const { target: _t, allowDataLoss: _a, adopt: _o, __provider: _p, ...cfg } = args as KvArgs & Record<string, unknown>;
  return cfg as KvInput;
}

const describe = (target: ConnectionTarget, bucket: string) => `kv bucket ${target.domain ? `${target.domain}/` : ""}${bucket}`;
const outputs = (cfg: KvConfig, a: { target: ConnectionTarget; allowDataLoss?: boolean }): KvOutputs => ({ ...cfg, target: a.target, allowDataLoss: a.allowDataLoss === true });

export function kvId(domain: string | undefined, bucket: string): string {
  return formatId("kv", domain, bucket);
}

export async function checkKv(_olds: unknown, news: KvArgs): Promise<pulumi.dynamic.CheckResult> {
  const input = news as unknown as Record<string, unknown>;
  const cfg = knownInputs(input);
  return { inputs: news, failures: [...targetFailures(input.target), ...kvInputFailures(cfg, ["target", "allowDataLoss", "adopt"])] };
}

export async function diffKv(id: string, olds: KvOutputs, news: KvArgs): Promise<pulumi.dynamic.DiffResult> {
  const what = describe(olds.target, olds.bucket);
  if (containsUnknown(configOf(news))) {
    return { changes: true, replaces: KV_REPLACE_ONLY.filter((k) => containsUnknown((news as Record<string, unknown>)[k])), deleteBeforeReplace: true };
  }
  const current = normalizeKvConfig(configOf(olds));
  const desired = normalizeKvConfig(configOf(news));
  if (current.limit_marker_ttl > 0 && desired.limit_marker_ttl === 0) {
    throw new Error(`${what}: limit_marker_ttl is set and the server can never turn the bucket's message TTLs off again; keep a limit_marker_ttl (or delete the bucket, which loses its entries)`);
  }
  const changed = changedKeys(current, desired) as string[];
  const reasons = kvReplaceReasons(current, desired);
  const replaces: string[] = Object.keys(reasons);
  const t = targetChange(olds.target, news.target);
  if (t === "replace") replaces.push("target");
  if (t !== "none") changed.push("target");
  if ((olds.allowDataLoss === true) !== (news.allowDataLoss === true)) changed.push("allowDataLoss");
  if (replaces.length) {
    const because = [...Object.values(reasons), ...(t === "replace" ? ["target.domain changed"] : [])].join("; ");
    await guardReplacement(id, olds.target, KV_STREAM_PREFIX + olds.bucket, news.allowDataLoss, because, what);
  }
  if (changed.length === 0 && (await needsEnsure(news.target, () => streamInfo(news.target, KV_STREAM_PREFIX + news.bucket)))) changed.push("(gone from the server)");
  return { changes: changed.length > 0, replaces, deleteBeforeReplace: true };
}

export async function createKv(args: KvArgs): Promise<{ id: string; outs: KvOutputs }> {
  const desired = kvStreamConfig(normalizeKvConfig(configOf(args)));
  const what = describe(args.target, args.bucket);
  const cfg = (args.adopt ? await adoptStream(args.target, desired, what) : undefined) ?? (await createStreamFromConfig(args.target, desired));
  const kv = kvConfigFromStream(cfg);
  return { id: kvId(args.target.domain, kv.bucket), outs: outputs(kv, args) };
}

export async function readKv(id: string, props?: Partial<KvOutputs> | KvArgs): Promise<pulumi.dynamic.ReadResult<KvOutputs>> {
  const { names, target } = parseIdForRead("kv", id, props?.target);
  const info = await streamInfo(target, KV_STREAM_PREFIX + names[0]);
  if (!info) return {};
  return { id, props: outputs(kvConfigFromStream(normalizeStreamConfig(info.config)), { target, allowDataLoss: props?.allowDataLoss }) };
}

export async function updateKv(_id: string, olds: KvOutputs, news: KvArgs): Promise<{ outs: KvOutputs }> {
  const current = normalizeKvConfig(configOf(olds));
  const desired = normalizeKvConfig(configOf(news));
  if (deepEqual(current, desired) && (await streamInfo(news.target, KV_STREAM_PREFIX + desired.bucket))) return { outs: outputs(current, news) };
  const cfg = await updateStreamFromConfig(news.target, kvStreamConfig(desired));
  return { outs: outputs(kvConfigFromStream(cfg), news) };
}

export async function deleteKv(id: string, props: KvOutputs): Promise<void> {
  await deleteStreamGuarded(props.target, KV_STREAM_PREFIX + props.bucket, id, props.allowDataLoss, describe(props.target, props.bucket));
}

export const kvProvider = dynamicProvider(__filename, { check: "checkKv", diff: "diffKv", create: "createKv", read: "readKv", update: "updateKv", delete: "deleteKv" });

export type KvResourceArgs = { [K in keyof KvArgs]: pulumi.Input<KvArgs[K]> };

/** A KV bucket; id `kv:<domain>/<bucket>`. Take over an existing one with `adopt: true`. */
export class KvBucket extends pulumi.dynamic.Resource {
  public readonly bucket!: pulumi.Output<string>;
  public readonly history!: pulumi.Output<number>;
  public readonly replicas!: pulumi.Output<number>;
  public readonly ttl!: pulumi.Output<number>;

  constructor(name: string, args: KvResourceArgs, opts?: pulumi.CustomResourceOptions) {
    const props = { history: undefined, replicas: undefined, ttl: undefined, ...args };
    super(kvProvider, name, props, { ...opts, additionalSecretOutputs: ["target", ...(opts?.additionalSecretOutputs ?? [])] }, "jetstream", "KvBucket");
  }
}
