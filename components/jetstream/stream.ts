/**
 * A JetStream stream as a Pulumi resource: the dynamic provider and the Resource class. Its
 * config, defaults, diff rules and input checks are in stream-config.ts (pure); the provider
 * functions are the one store resource definition (store-resource.ts) for a stream.
 *
 * Diff rules (each field's `change` in STREAM_FIELDS): every setting the server changes in place
 * is an update; replace fields (and retention to/from workqueue, adding or changing a mirror)
 * replace; one-way fields turned back off fail at preview.
 *
 * Id: `stream:<domain>/<name>` (see resource-id.ts).
 */
import * as pulumi from "@pulumi/pulumi";
import { dynamicProvider, providerExports } from "../provider/provider-loader";
import { storeResource, type StoreArgs, type StoreOutputs } from "./store-resource";
import { STREAM_STORE_KIND, type StreamConfig, type StreamInput } from "./stream-config";
import type { StreamSource } from "./types";

/** Inputs of a Stream resource: the stream config (wire names) plus where and how. */
export type StreamArgs = StoreArgs<StreamInput>;

/** Outputs: the full canonical config as the server reports it, plus the inputs' target. */
export type StreamOutputs = StoreOutputs<StreamConfig>;

export const {
  check: checkStream,
  diff: diffStream,
  create: createStream,
  read: readStream,
  update: updateStream,
  delete: deleteStream,
} = storeResource(STREAM_STORE_KIND);

/** The dynamic provider: small closures that load this module in the provider process. */
export const streamProvider = dynamicProvider(__filename, providerExports("Stream"));

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
