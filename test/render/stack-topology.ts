/** The stack configs' topologies as the renderers see them, for the render, nix and topology tests. */
import { leafLocalSubjects, parseJetStream } from "../../components/jetstream/spec";
import { parseTopology } from "../../components/topology/parse";
import type { Topology } from "../../components/topology/types";
import { readStackConfig } from "../support/stack-config";

/**
 * Subjects of the leaf-level stores both stack configs declare (PERSON_EVENTS, PERSON_METADATA,
 * PERSON_OBJECTS): what every leaf's remote denies importing. Spelled out so a change to the
 * derivation shows up in a test; stackDenyImports checks it against leafLocalSubjects.
 */
export const LEAF_DENY_IMPORTS: readonly string[] = ["person.events.>", "$KV.PERSON_METADATA.>", "$O.PERSON_OBJECTS.>"];

/** leafDenyImports as the stack derives it: from the declared JetStream stores. */
export function stackDenyImports(stack: "dev" | "prod"): string[] {
  const config = readStackConfig(stack);
  return leafLocalSubjects(parseJetStream(config.jetstream, parseTopology(config.topology, { name: stack })));
}

/** The validated topology of Pulumi.<stack>.yaml. */
export function stackTopology(stack: "dev" | "prod"): Topology {
  return parseTopology(readStackConfig(stack).topology, { name: stack, leafDenyImports: LEAF_DENY_IMPORTS });
}

/** Every server name of a topology, hosts in order, leaf before hub. */
export function serverNames(topology: Topology): string[] {
  return topology.hosts.flatMap((h) => h.instances.map((i) => i.serverName));
}
