/**
 * A durable JetStream consumer (pull, or push with `deliver_subject`) as a Pulumi resource, for
 * projections and pattern services: CRUD over a pooled connection and the Resource class. Its
 * config, defaults, diff rules and input checks are in consumer-config.ts (pure).
 *
 * Id: `consumer:<domain>/<stream>/<name>`.
 */
import * as pulumi from "@pulumi/pulumi";
import { isNotFound, jsApi } from "./api";
import { changedKeys, containsUnknown, deepEqual, knownInputs, resourceConfig } from "../provider/canonical";
import { jetStreamConnection, UnreachableError } from "./connection-pool";
import { domainGoing } from "./data-loss";
import {
  CONSUMER_REPLACE_KEYS,
  consumerId,
  consumerInputFailures,
  consumerReplaceReasons,
  consumerWireConfig,
  describeConsumer as describe,
  normalizeConsumerConfig,
  type ConsumerConfig,
  type ConsumerInput,
} from "./consumer-config";
import { needsEnsure } from "./liveness";
import { dynamicProvider, providerExports } from "../provider/provider-loader";
import { parseIdForRead } from "./resource-id";
import { targetChange, targetFailures } from "./target";
import type { ConnectionTarget } from "./types";
import { nameReason } from "../subjects";

export type ConsumerArgs = ConsumerInput & {
  readonly target: ConnectionTarget;
  /** The stream the consumer reads. Changing it replaces. */
  readonly stream: string;
  /** Take over an existing consumer of this name on create, updating it in place (see StreamArgs.adopt). */
  readonly adopt?: boolean;
};
export type ConsumerOutputs = ConsumerConfig & { readonly target: ConnectionTarget; readonly stream: string };

const configOf = (a: ConsumerArgs | ConsumerOutputs) => resourceConfig<ConsumerInput>(a, ["target", "stream", "adopt"]);

type ConsumerInfoResponse = { config: ConsumerInput & Record<string, unknown> };

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
    const replaces = [...CONSUMER_REPLACE_KEYS, "stream", "name"].filter((k) => containsUnknown((news as Record<string, unknown>)[k]));
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
  let conn;
  try {
    conn = await jetStreamConnection(props.target);
  } catch (e) {
    // Its servers are down and removed in this run: the consumer goes with their data directory.
    if (e instanceof UnreachableError && domainGoing(props.target.domain)) return;
    throw e;
  }
  try {
    await jsApi(conn, `CONSUMER.DELETE.${props.stream}.${props.durable_name}`, undefined, describe(props.target, props.stream, props.durable_name));
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
}

export const consumerProvider = dynamicProvider(__filename, providerExports("Consumer"));

export type ConsumerResourceArgs = { [K in keyof ConsumerArgs]: pulumi.Input<ConsumerArgs[K]> };

/** A durable consumer; id `consumer:<domain>/<stream>/<name>`. Take over an existing one with `adopt: true`. */
export class Consumer extends pulumi.dynamic.Resource {
  public readonly durable_name!: pulumi.Output<string>;
  public readonly stream!: pulumi.Output<string>;

  constructor(name: string, args: ConsumerResourceArgs, opts?: pulumi.CustomResourceOptions) {
    super(consumerProvider, name, { durable_name: undefined, ...args }, { ...opts, additionalSecretOutputs: ["target", ...(opts?.additionalSecretOutputs ?? [])] }, "jetstream", "Consumer");
  }
}
