/**
 * One KV entry as a Pulumi resource, for declared metadata like
 * `PERSON_METADATA domain.name = "Person Domain"`. Put on create/update, the latest revision
 * on read (a delete or purge marker counts as gone), a delete marker on delete.
 *
 * Id: `kv-entry:<domain>/<bucket>/<key>`.
 */
import * as pulumi from "@pulumi/pulumi";
import { headers } from "@nats-io/nats-core";
import type { ApiError } from "@nats-io/jetstream";
import { isNotFound, jsApi, JsErrCode, JetStreamApiError, throwIfApiError } from "./api";
import { jetStreamConnection, UnreachableError } from "./connection-pool";
import { domainGoing } from "./data-loss";
import { kvEntryId, kvEntryInputFailures, KV_STREAM_PREFIX } from "./kv-config";
import { needsEnsure } from "./liveness";
import { dynamicProvider, providerExports } from "../provider/provider-loader";
import { parseIdForRead } from "./resource-id";
import { describeAt, targetChange, targetFailures } from "./target";
import type { ConnectionTarget } from "./types";

export type KvEntryArgs = {
  readonly target: ConnectionTarget;
  readonly bucket: string;
  readonly key: string;
  /** UTF-8 value. Wrap it in pulumi.secret when it is one. */
  readonly value: string;
};
export type KvEntryOutputs = KvEntryArgs & {
  /** The entry's revision (stream sequence) as last written or read. */
  readonly revision: number;
};

const describe = (a: { target: ConnectionTarget; bucket: string; key: string }) => describeAt("kv entry", a.target, `${a.bucket}/${a.key}`);

/** How long a put keeps retrying "no responders" (interest still propagating in a cluster). */
const NO_RESPONDERS_GRACE_MS = 5_000;

/** Puts `value` under `key`; returns the revision. */
export async function putKvEntry(target: ConnectionTarget, bucket: string, key: string, value: string): Promise<number> {
  const conn = await jetStreamConnection(target);
  const what = describe({ target, bucket, key });
  const data = new TextEncoder().encode(value);
  // Right after a bucket is created in a cluster, the server this connection uses may not have
  // learned the stream's subject interest yet ("no responders"): retry that briefly.
  const deadline = Date.now() + NO_RESPONDERS_GRACE_MS;
  let reply;
  for (;;) {
    try {
      reply = await conn.nc.request(`$KV.${bucket}.${key}`, data, { timeout: 10_000 });
      break;
    } catch (e) {
      const message = (e as Error).message;
      if (/no responders/i.test(message) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      throw new Error(`${what}: put failed: ${message}; check that the bucket exists in domain '${target.domain ?? ""}' and the credentials may publish to $KV.${bucket}.>`);
    }
  }
  const ack = JSON.parse(new TextDecoder().decode(reply.data)) as { seq?: number; error?: ApiError };
  throwIfApiError(ack, what, `$KV.${bucket}.${key}`);
  return ack.seq ?? 0;
}

/** The entry's latest value and revision, or undefined when absent, deleted or purged. */
export async function getKvEntry(target: ConnectionTarget, bucket: string, key: string): Promise<{ value: string; revision: number } | undefined> {
  const conn = await jetStreamConnection(target);
  let r: { message: { seq: number; data?: string; hdrs?: string } };
  try {
    r = await jsApi(conn, `STREAM.MSG.GET.${KV_STREAM_PREFIX}${bucket}`, { last_by_subj: `$KV.${bucket}.${key}` }, describe({ target, bucket, key }));
  } catch (e) {
    if (isNotFound(e) || (e instanceof JetStreamApiError && e.errCode === JsErrCode.NoMessageFound)) return undefined;
    throw e;
  }
  const hdrs = r.message.hdrs ? Buffer.from(r.message.hdrs, "base64").toString("utf8") : "";
  if (/^KV-Operation:\s*(DEL|PURGE)\s*$/im.test(hdrs)) return undefined;
  return { value: Buffer.from(r.message.data ?? "", "base64").toString("utf8"), revision: r.message.seq };
}

/** Leaves a delete marker for `key` (what `kv del` does); history stays per the bucket's limit. */
export async function deleteKvEntryMarker(target: ConnectionTarget, bucket: string, key: string): Promise<void> {
  const conn = await jetStreamConnection(target);
  const h = headers();
  h.set("KV-Operation", "DEL");
  try {
    const reply = await conn.nc.request(`$KV.${bucket}.${key}`, new Uint8Array(0), { timeout: 10_000, headers: h });
    throwIfApiError(JSON.parse(new TextDecoder().decode(reply.data)) as { error?: ApiError }, describe({ target, bucket, key }), `$KV.${bucket}.${key}`);
  } catch (e) {
    // The bucket itself is gone (no responders): nothing left to delete.
    if (/no responders/i.test((e as Error).message)) return;
    throw e;
  }
}

export async function checkKvEntry(_olds: unknown, news: KvEntryArgs): Promise<pulumi.dynamic.CheckResult> {
  const input = news as unknown as Record<string, unknown>;
  return { inputs: news, failures: [...targetFailures(input.target), ...kvEntryInputFailures(input)] };
}

export async function diffKvEntry(_id: string, olds: KvEntryOutputs, news: KvEntryArgs): Promise<pulumi.dynamic.DiffResult> {
  const replaces: string[] = (["bucket", "key"] as const).filter((k) => olds[k] !== news[k]);
  const t = targetChange(olds.target, news.target);
  if (t === "replace") replaces.push("target");
  const changes =
    replaces.length > 0 || t !== "none" || olds.value !== news.value || (await needsEnsure(news.target, () => getKvEntry(news.target, news.bucket, news.key)));
  return { changes, replaces };
}

export async function createKvEntry(args: KvEntryArgs): Promise<{ id: string; outs: KvEntryOutputs }> {
  const revision = await putKvEntry(args.target, args.bucket, args.key, args.value);
  return { id: kvEntryId(args.target.domain, args.bucket, args.key), outs: { target: args.target, bucket: args.bucket, key: args.key, value: args.value, revision } };
}

export async function readKvEntry(id: string, props?: Partial<KvEntryOutputs> | KvEntryArgs): Promise<pulumi.dynamic.ReadResult<KvEntryOutputs>> {
  const { names, target } = parseIdForRead("kv-entry", id, props?.target);
  const [bucket, key] = names;
  const e = await getKvEntry(target, bucket, key);
  if (!e) return {};
  return { id, props: { target, bucket, key, value: e.value, revision: e.revision } };
}

export async function updateKvEntry(_id: string, olds: KvEntryOutputs, news: KvEntryArgs): Promise<{ outs: KvEntryOutputs }> {
  // Same value, but put again when the entry is gone (its server's store was wiped).
  const live = olds.value === news.value ? await getKvEntry(news.target, news.bucket, news.key) : undefined;
  const revision = live ? olds.revision : await putKvEntry(news.target, news.bucket, news.key, news.value);
  return { outs: { target: news.target, bucket: news.bucket, key: news.key, value: news.value, revision } };
}

export async function deleteKvEntry(_id: string, props: KvEntryOutputs): Promise<void> {
  try {
    await deleteKvEntryMarker(props.target, props.bucket, props.key);
  } catch (e) {
    // Its servers are down and removed in this run: the entry goes with their data directory.
    if (e instanceof UnreachableError && domainGoing(props.target.domain)) return;
    throw e;
  }
}

export const kvEntryProvider = dynamicProvider(__filename, providerExports("KvEntry"));

export type KvEntryResourceArgs = { [K in keyof KvEntryArgs]: pulumi.Input<KvEntryArgs[K]> };

/** One KV entry. Import with `{ import: "kv-entry:<domain>/<bucket>/<key>" }`. */
export class KvEntry extends pulumi.dynamic.Resource {
  public readonly value!: pulumi.Output<string>;
  public readonly revision!: pulumi.Output<number>;

  constructor(name: string, args: KvEntryResourceArgs, opts?: pulumi.CustomResourceOptions) {
    super(kvEntryProvider, name, { revision: undefined, ...args }, { ...opts, additionalSecretOutputs: ["target", ...(opts?.additionalSecretOutputs ?? [])] }, "jetstream", "KvEntry");
  }
}
