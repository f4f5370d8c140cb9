/**
 * The hub aggregate of a leaf-level stream (DESIGN.md, "Event flow"): one source per leaf domain
 * the stream lives in, reached through `$JS.<domain>.API`, and no subjects of its own — a hub
 * stream listening on the leaf subjects would also capture leaf publications directly across
 * the leafnode links (double acks, duplicates).
 *
 * Sequence rewind (docs/durability.md): a source remembers the last leaf sequence it stored and
 * asks the leaf only for later ones. A leaf stream that comes back shorter (lost tail, restored
 * backup) hands those sequence numbers out again, and the source skips the new events behind
 * them. nats-server keeps that memory per source *identity* (stream, API prefix, filters), so the
 * repair is a source with a fresh identity that starts where the leaf's new events start: each
 * `rewinds` entry of a leaf is one more epoch, spelled as filters that together match every
 * subject once (`*`, `*.>`; then `*`, `*.*`, `*.*.>`; …), with `opt_start_seq` its `fromSeq`.
 */
import type { Topology } from "../topology/types";
import { leafDomains, type At } from "./locations";
import type { StreamSource, SubjectTransform } from "./types";

/** The leaf stream an aggregate sources: its name and where it is declared. */
export type AggregatedStream = {
  readonly name: string;
  readonly at: At;
};

/** A repaired sequence rewind: re-source leaf `domain`'s stream from `fromSeq` (what verify reports). */
export type SourceRewind = {
  readonly domain: string;
  readonly fromSeq: number;
};

/**
 * Epoch `n` ≥ 1 of a source: n+1 filters, disjoint, that together match every subject — `*`
 * (one token), `*.*` (two), … n tokens, and `*.`×n `>` (more). Empty `dest`: no transform.
 */
export function epochTransforms(epoch: number): SubjectTransform[] {
  if (!Number.isInteger(epoch) || epoch < 1) throw new Error(`source epoch must be a whole number ≥ 1, got ${epoch}`);
  const tokens = (k: number) => Array(k).fill("*").join(".");
  return [...Array.from({ length: epoch }, (_, i) => ({ src: tokens(i + 1), dest: "" })), { src: `${tokens(epoch)}.>`, dest: "" }];
}

/** Whether a source's transforms only spell an epoch (they select every subject, unchanged). */
export function isEpochSpelling(transforms: readonly SubjectTransform[] | undefined): boolean {
  if (!transforms?.length) return false;
  const epoch = transforms.length - 1;
  return epoch >= 1 && JSON.stringify(transforms.map((t) => [t.src, t.dest ?? ""])) === JSON.stringify(epochTransforms(epoch).map((t) => [t.src, t.dest]));
}

/**
 * One source per leaf domain of `stream`, derived from the topology; adding a leaf adds one. A
 * leaf with rewinds gets the epoch of their count, starting at the last one's `fromSeq`.
 */
export function aggregateSources(stream: AggregatedStream, topology: Topology, rewinds: readonly SourceRewind[] = []): StreamSource[] {
  return leafDomains(stream.at, topology).map((domain) => {
    const own = rewinds.filter((r) => r.domain === domain);
    const source: StreamSource = { name: stream.name, external: { api: `$JS.${domain}.API` } };
    if (!own.length) return source;
    return { ...source, opt_start_seq: own[own.length - 1].fromSeq, subject_transforms: epochTransforms(own.length) };
  });
}
