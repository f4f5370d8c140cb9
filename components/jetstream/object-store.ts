/**
 * An object bucket (stream `OBJ_<bucket>`) as a Pulumi resource, its stream config derived the
 * way the object store clients (nats.js, nats.go) derive it. Everything but the bucket name and
 * storage changes in place.
 *
 * Id: `object-store:<domain>/<bucket>`.
 */
import * as pulumi from "@pulumi/pulumi";
import { changedKeys, compact, containsUnknown, deepEqual, knownInputs, userMetadata } from "./canonical";
import { bucketNameReason } from "./kv";
import { needsEnsure } from "./liveness";
import { dynamicProvider } from "./provider-loader";
import { formatId, parseIdForRead } from "./resource-id";
import {
  adoptStream,
  createStreamFromConfig,
  deleteStreamGuarded,
  guardReplacement,
  normalizeStreamConfig,
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
  OBJECT_REPLACE_ONLY,
  Storage,
  toNanos,
  type ConnectionTarget,
  type ObjectStoreConfig,
  type ObjectStoreInput,
  type StreamConfig,
} from "./types";

export const OBJECT_STREAM_PREFIX = "OBJ_";

export const OBJECT_STORE_KEYS = ["bucket", "description", "ttl", "max_bytes", "storage", "replicas", "placement", "compression", "metadata"] as const satisfies readonly (keyof ObjectStoreConfig)[];

export function normalizeObjectStoreConfig(input: ObjectStoreInput): ObjectStoreConfig {
  const cfg: ObjectStoreConfig = {
    bucket: input.bucket,
    description: input.description ?? "",
    ttl: input.ttl === undefined ? 0 : toNanos(input.ttl, "ttl"),
    max_bytes: input.max_bytes ?? -1,
    storage: input.storage ?? Storage.File,
    replicas: input.replicas ?? 1,
    placement: compact(input.placement),
    compression: input.compression ?? false,
    metadata: userMetadata(input.metadata),
  };
  if (cfg.placement === undefined) delete (cfg as Record<string, unknown>).placement;
  return cfg;
}

/** The bucket's stream config, as the object store clients derive it. */
export function objectStreamConfig(o: ObjectStoreConfig): StreamConfig {
  return normalizeStreamConfig({
    name: OBJECT_STREAM_PREFIX + o.bucket,
    description: o.description,
    subjects: [`$O.${o.bucket}.C.>`, `$O.${o.bucket}.M.>`],
    max_age: o.ttl,
    max_bytes: o.max_bytes,
    storage: o.storage,
    num_replicas: o.replicas,
    placement: o.placement,
    discard: Discard.New,
    allow_rollup_hdrs: true,
    allow_direct: true,
    compression: o.compression ? Compression.S2 : Compression.None,
    metadata: o.metadata,
  });
}

export function objectStoreConfigFromStream(cfg: StreamConfig): ObjectStoreConfig {
  return normalizeObjectStoreConfig({
    bucket: cfg.name.startsWith(OBJECT_STREAM_PREFIX) ? cfg.name.slice(OBJECT_STREAM_PREFIX.length) : cfg.name,
    description: cfg.description,
    ttl: cfg.max_age,
    max_bytes: cfg.max_bytes,
    storage: cfg.storage,
    replicas: cfg.num_replicas,
    placement: cfg.placement,
    compression: cfg.compression === Compression.S2,
    metadata: cfg.metadata,
  });
}

export function objectStoreInputFailures(input: Record<string, unknown>, extraKeys: readonly string[] = [], path = ""): InputFailure[] {
  const p = (k: string) => (path ? `${path}.${k}` : k);
  const f: InputFailure[] = [];
  const known = new Set<string>([...OBJECT_STORE_KEYS, ...extraKeys]);
  for (const k of Object.keys(input)) if (!known.has(k)) f.push({ property: p(k), reason: `unknown object bucket setting '${k}'; known: ${OBJECT_STORE_KEYS.join(", ")}` });
  const i = input as ObjectStoreInput & Record<string, unknown>;
  const br = bucketNameReason(typeof i.bucket === "string" ? i.bucket : "");
  if (br) f.push({ property: p("bucket"), reason: br });
  if (i.replicas !== undefined && (!Number.isInteger(i.replicas) || i.replicas < 1 || i.replicas > 5)) f.push({ property: p("replicas"), reason: `replicas (${i.replicas}) must be 1 to 5` });
  if (i.storage !== undefined && !Object.values(Storage).includes(i.storage)) f.push({ property: p("storage"), reason: `storage ('${i.storage}') must be one of file, memory` });
  if (i.compression !== undefined && typeof i.compression !== "boolean") f.push({ property: p("compression"), reason: "compression must be true (s2) or false" });
  if (i.ttl !== undefined && durationReason(i.ttl, "ttl")) f.push({ property: p("ttl"), reason: durationReason(i.ttl, "ttl") });
  for (const k of Object.keys(i.metadata ?? {})) if (k.startsWith("_nats")) f.push({ property: p(`metadata.${k}`), reason: `metadata keys starting with '_nats' ('${k}') are reserved for the server` });
  return f;
}

export type ObjectStoreArgs = ObjectStoreInput & {
  readonly target: ConnectionTarget;
  /** Allow delete/replace of the bucket while it holds objects. Default false. */
  readonly allowDataLoss?: boolean;
  /** Take over an existing bucket of this name on create, updating it in place (see StreamArgs.adopt). */
  readonly adopt?: boolean;
};
export type ObjectStoreOutputs = ObjectStoreConfig & { readonly target: ConnectionTarget; readonly allowDataLoss: boolean };

function configOf(args: ObjectStoreArgs | ObjectStoreOutputs): ObjectStoreInput {
  const { target: _t, allowDataLoss: _a, adopt: _o, __provider: _p, ...cfg } = args as ObjectStoreArgs & Record<string, unknown>;
  return cfg as ObjectStoreInput;
}

const describe = (target: ConnectionTarget, bucket: string) => `object bucket ${target.domain ? `${target.domain}/` : ""}${bucket}`;
const outputs = (cfg: ObjectStoreConfig, a: { target: ConnectionTarget; allowDataLoss?: boolean }): ObjectStoreOutputs => ({ ...cfg, target: a.target, allowDataLoss: a.allowDataLoss === true });

export function objectStoreId(domain: string | undefined, bucket: string): string {
  return formatId("object-store", domain, bucket);
}

export async function checkObjectStore(_olds: unknown, news: ObjectStoreArgs): Promise<pulumi.dynamic.CheckResult> {
  const input = news as unknown as Record<string, unknown>;
  const cfg = knownInputs(input);
  return { inputs: news, failures: [...targetFailures(input.target), ...objectStoreInputFailures(cfg, ["target", "allowDataLoss", "adopt"])] };
}

export async function diffObjectStore(id: string, olds: ObjectStoreOutputs, news: ObjectStoreArgs): Promise<pulumi.dynamic.DiffResult> {
  if (containsUnknown(configOf(news))) {
    return { changes: true, replaces: OBJECT_REPLACE_ONLY.filter((k) => containsUnknown((news as Record<string, unknown>)[k])), deleteBeforeReplace: true };
  }
  const current = normalizeObjectStoreConfig(configOf(olds));
  const desired = normalizeObjectStoreConfig(configOf(news));
  const changed = changedKeys(current, desired) as string[];
  const replaces: string[] = OBJECT_REPLACE_ONLY.filter((k) => !deepEqual(current[k], desired[k]));
  const t = targetChange(olds.target, news.target);
  if (t === "replace") replaces.push("target");
  if (t !== "none") changed.push("target");
  if ((olds.allowDataLoss === true) !== (news.allowDataLoss === true)) changed.push("allowDataLoss");
  if (replaces.length) {
    const because = replaces.map((k) => `${k} cannot change after creation`).join("; ");
    await guardReplacement(id, olds.target, OBJECT_STREAM_PREFIX + olds.bucket, news.allowDataLoss, because, describe(olds.target, olds.bucket));
  }
  if (changed.length === 0 && (await needsEnsure(news.target, () => streamInfo(news.target, OBJECT_STREAM_PREFIX + news.bucket)))) changed.push("(gone from the server)");
  return { changes: changed.length > 0, replaces, deleteBeforeReplace: true };
}

export async function createObjectStore(args: ObjectStoreArgs): Promise<{ id: string; outs: ObjectStoreOutputs }> {
  const desired = objectStreamConfig(normalizeObjectStoreConfig(configOf(args)));
  const what = describe(args.target, args.bucket);
  const cfg = (args.adopt ? await adoptStream(args.target, desired, what) : undefined) ?? (await createStreamFromConfig(args.target, desired));
  const o = objectStoreConfigFromStream(cfg);
  return { id: objectStoreId(args.target.domain, o.bucket), outs: outputs(o, args) };
}

export async function readObjectStore(id: string, props?: Partial<ObjectStoreOutputs> | ObjectStoreArgs): Promise<pulumi.dynamic.ReadResult<ObjectStoreOutputs>> {
  const { names, target } = parseIdForRead("object-store", id, props?.target);
  const info = await streamInfo(target, OBJECT_STREAM_PREFIX + names[0]);
  if (!info) return {};
  return { id, props: outputs(objectStoreConfigFromStream(normalizeStreamConfig(info.config)), { target, allowDataLoss: props?.allowDataLoss }) };
}

export async function updateObjectStore(_id: string, olds: ObjectStoreOutputs, news: ObjectStoreArgs): Promise<{ outs: ObjectStoreOutputs }> {
  const current = normalizeObjectStoreConfig(configOf(olds));
  const desired = normalizeObjectStoreConfig(configOf(news));
  if (deepEqual(current, desired) && (await streamInfo(news.target, OBJECT_STREAM_PREFIX + desired.bucket))) return { outs: outputs(current, news) };
  const cfg = await updateStreamFromConfig(news.target, objectStreamConfig(desired));
  return { outs: outputs(objectStoreConfigFromStream(cfg), news) };
}

export async function deleteObjectStore(id: string, props: ObjectStoreOutputs): Promise<void> {
  await deleteStreamGuarded(props.target, OBJECT_STREAM_PREFIX + props.bucket, id, props.allowDataLoss, describe(props.target, props.bucket));
}

export const objectStoreProvider = dynamicProvider(__filename, {
  check: "checkObjectStore",
  diff: "diffObjectStore",
  create: "createObjectStore",
  read: "readObjectStore",
  update: "updateObjectStore",
  delete: "deleteObjectStore",
});

export type ObjectStoreResourceArgs = { [K in keyof ObjectStoreArgs]: pulumi.Input<ObjectStoreArgs[K]> };

/** An object bucket; id `object-store:<domain>/<bucket>`. Take over an existing one with `adopt: true`. */
export class ObjectStore extends pulumi.dynamic.Resource {
  public readonly bucket!: pulumi.Output<string>;
  public readonly replicas!: pulumi.Output<number>;

  constructor(name: string, args: ObjectStoreResourceArgs, opts?: pulumi.CustomResourceOptions) {
    super(objectStoreProvider, name, { replicas: undefined, ...args }, { ...opts, additionalSecretOutputs: ["target", ...(opts?.additionalSecretOutputs ?? [])] }, "jetstream", "ObjectStore");
  }
}
