/**
 * A KV bucket (stream `KV_<bucket>`) as a Pulumi resource: the dynamic provider and the Resource
 * class. Its config, stream mapping, diff rules and input checks are in kv-config.ts (pure); the
 * provider functions are the one store resource definition (store-resource.ts) for a KV bucket.
 *
 * Id: `kv:<domain>/<bucket>`.
 */
import * as pulumi from "@pulumi/pulumi";
import { KV_STORE_KIND } from "./kv-config";
import { dynamicProvider, providerExports } from "../provider/provider-loader";
import { storeResource, type StoreArgs, type StoreOutputs } from "./store-resource";
import type { KvConfig, KvInput } from "./kv-config";

export type KvArgs = StoreArgs<KvInput>;
export type KvOutputs = StoreOutputs<KvConfig>;

export const { check: checkKv, diff: diffKv, create: createKv, read: readKv, update: updateKv, delete: deleteKv } = storeResource(KV_STORE_KIND);

export const kvProvider = dynamicProvider(__filename, providerExports("Kv"));

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
