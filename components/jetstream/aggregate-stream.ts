/**
 * The hub aggregate of a leaf-level stream as a component (pulumi-eks style): a Stream in the hub
 * domain with no subjects and one source per leaf domain, derived from the topology. Adding a
 * leaf to the topology adds a source in place on the next `pulumi up`; nothing is recreated.
 */
import * as pulumi from "@pulumi/pulumi";
import type { Topology } from "../topology/types";
import { aggregateSources, type AggregatedStream } from "./aggregate";
import { Stream } from "./stream";
import type { StreamInput } from "./stream-config";
import type { ConnectionTarget, StreamSource } from "./types";

export type AggregateStreamArgs = {
  /** Servers, credentials and domain of the hub (the domain defaults to the topology's hub domain). */
  readonly target: pulumi.Input<ConnectionTarget>;
  /** The leaf stream to aggregate: its name and `at` (leaves, or host names). */
  readonly leafStream: AggregatedStream;
  /** The topology whose leaves become sources. */
  readonly topology: Topology;
  /**
   * The aggregate's own settings, wire names (`name`, `num_replicas`, `storage`, `max_age`…).
   * No `subjects`, `sources` or `mirror`: the sources come from the topology.
   */
  readonly config: StreamInput;
  /**
   * The sources as `parseJetStream` already derived them (AggregateSpec.config.sources), so the
   * stack derives them once. Default: one per leaf domain of `leafStream`, from `topology`.
   */
  readonly sources?: readonly StreamSource[];
  /** Allow delete/replace while it holds messages. Default false. */
  readonly allowDataLoss?: pulumi.Input<boolean>;
  /** Take over an existing hub stream of this name on create, in place (its messages and source positions kept). Default false. */
  readonly adopt?: boolean;
};

/** The aggregate's full stream input; throws InputPropertiesError for settings it cannot have. */
export function aggregateStreamConfig(
  config: StreamInput,
  leafStream: AggregatedStream,
  topology: Topology,
  sources: readonly StreamSource[] = aggregateSources(leafStream, topology),
): StreamInput {
  const errors = (["subjects", "sources", "mirror"] as const)
    .filter((k) => config[k] !== undefined && !(Array.isArray(config[k]) && (config[k] as unknown[]).length === 0))
    .map((k) => ({ propertyPath: `config.${k}`, reason: `an aggregate has no ${k}: its sources are ${leafStream.name} in every leaf domain, from the topology; remove ${k}` }));
  if (errors.length) throw new pulumi.InputPropertiesError({ message: `aggregate ${config.name}: invalid config`, errors });
  return { ...config, sources };
}

export class AggregateStream extends pulumi.ComponentResource {
  /** The hub stream. */
  public readonly stream!: Stream;
  /** One source per leaf domain, as applied. */
  public readonly sources!: pulumi.Output<StreamSource[]>;

  constructor(name: string, args: AggregateStreamArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cim-nats:jetstream:AggregateStream", name, {}, opts);
    const made = createAggregateStream(name, args, this, opts?.dependsOn);
    this.stream = made.stream;
    this.sources = made.stream.sources;
    this.registerOutputs({ sources: this.sources });
  }
}

/** Creates the aggregate's children under `parent`. */
function createAggregateStream(
  name: string,
  args: AggregateStreamArgs,
  parent: pulumi.Resource,
  dependsOn: pulumi.ComponentResourceOptions["dependsOn"],
): { stream: Stream } {
  const config = aggregateStreamConfig(args.config, args.leafStream, args.topology, args.sources);
  const target = pulumi.output(args.target).apply((t) => ({ ...t, domain: t.domain ?? args.topology.hub.jetstreamDomain }));
  // The component's dependsOn (its hub servers and source streams) is not inherited by children: pass it on.
  const stream = new Stream(`${name}-stream`, { ...config, target, allowDataLoss: args.allowDataLoss, ...(args.adopt ? { adopt: true } : {}) }, { parent, ...(dependsOn ? { dependsOn } : {}) });
  return { stream };
}
