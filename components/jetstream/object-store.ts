/**
 * An object bucket (stream `OBJ_<bucket>`) as a Pulumi resource: the dynamic provider and the
 * Resource class. Its config, stream mapping and input checks are in object-store-config.ts
 * (pure); the provider functions are the one store resource definition (store-resource.ts) for
 * an object bucket. Everything but the bucket name and storage changes in place.
 *
 * Id: `object-store:<domain>/<bucket>`.
 */
import * as pulumi from "@pulumi/pulumi";
import { OBJECT_STORE_KIND } from "./object-store-config";
import { dynamicProvider, providerExports } from "../provider/provider-loader";
import { storeResource, type StoreArgs, type StoreOutputs } from "./store-resource";
import type { ObjectStoreConfig, ObjectStoreInput } from "./object-store-config";

export type ObjectStoreArgs = StoreArgs<ObjectStoreInput>;
export type ObjectStoreOutputs = StoreOutputs<ObjectStoreConfig>;

export const {
  check: checkObjectStore,
  diff: diffObjectStore,
  create: createObjectStore,
  read: readObjectStore,
  update: updateObjectStore,
  delete: deleteObjectStore,
} = storeResource(OBJECT_STORE_KIND);

export const objectStoreProvider = dynamicProvider(__filename, providerExports("ObjectStore"));

export type ObjectStoreResourceArgs = { [K in keyof ObjectStoreArgs]: pulumi.Input<ObjectStoreArgs[K]> };

/** An object bucket; id `object-store:<domain>/<bucket>`. Take over an existing one with `adopt: true`. */
export class ObjectStore extends pulumi.dynamic.Resource {
  public readonly bucket!: pulumi.Output<string>;
  public readonly replicas!: pulumi.Output<number>;

  constructor(name: string, args: ObjectStoreResourceArgs, opts?: pulumi.CustomResourceOptions) {
    super(objectStoreProvider, name, { replicas: undefined, ...args }, { ...opts, additionalSecretOutputs: ["target", ...(opts?.additionalSecretOutputs ?? [])] }, "jetstream", "ObjectStore");
  }
}
