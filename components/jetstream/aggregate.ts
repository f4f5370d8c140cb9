/**
 * The hub aggregate of a leaf-level stream (DESIGN.md, "Event flow"): one source per leaf domain
 * the stream lives in, reached through `$JS.<domain>.API`, and no subjects of its own — a hub
 * stream listening on the leaf subjects would also capture leaf publications directly across
 * the leafnode links (double acks, duplicates).
 */
import type { Topology } from "../topology/types";
import { leafDomains, type At } from "./locations";
import type { StreamSource } from "./types";

/** The leaf stream an aggregate sources: its name and where it is declared. */
export type AggregatedStream = {
  readonly name: string;
  readonly at: At;
};

/** One source per leaf domain of `stream`, derived from the topology; adding a leaf adds one. */
export function aggregateSources(stream: AggregatedStream, topology: Topology): StreamSource[] {
  return leafDomains(stream.at, topology).map((domain) => ({ name: stream.name, external: { api: `$JS.${domain}.API` } }));
}
