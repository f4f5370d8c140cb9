/**
 * The `cim-nats:jetstream` section as declared data, for the stack schema, the docs and the JSON
 * Schema (stack/config-schema.ts). Stream, bucket and consumer fields come from the resources'
 * field tables (fields.ts), as spec.ts checks them; this file adds where each lives. Pure.
 */
import { z } from "zod";
import { flag, opt, req, text } from "../config/atoms";
import { consumerSchema } from "./consumer-config";
import { tableSchema } from "./fields";
import { kvSchema } from "./kv-config";
import { objectStoreSchema } from "./object-store-config";
import { STREAM_FIELDS, streamSchema } from "./stream-config";

const name = text();
/** Where a JetStream store or a service lives: every leaf, the hub, or these hosts' leaves. */
const at = z.union([z.enum(["leaves", "hub"]), z.array(name).min(1)]).meta({ title: "leaves | hub | [host, …]" });

/** An aggregate's sources are derived from the topology: no subjects, sources or mirror of its own. */
const AGGREGATE_FIELDS = Object.fromEntries(Object.entries(STREAM_FIELDS).filter(([k]) => !["subjects", "sources", "mirror"].includes(k)));

export const jetstreamSchema = z.strictObject({
  streams: opt(
    z.array(
      streamSchema("config", {
        at: req(at, "where: leaves (one per leaf), hub, or a list of hosts"),
        aggregate: opt(
          tableSchema(AGGREGATE_FIELDS, "config", [], {
            republish: opt(z.unknown(), "republish block, or false", { derived: "every event again on its own subject ({ src: '>', dest: '>' })" }),
            rewinds: opt(
              z.array(z.strictObject({ domain: req(name, "the leaf's JetStream domain"), fromSeq: req(z.number().int().min(1), "first leaf sequence to source again") })),
              "repaired sequence rewinds, oldest first: each re-sources that leaf's stream from `fromSeq` under a fresh source identity (what `npm run verify` prints after a leaf lost its tail; docs/durability.md)",
              { default: [] },
            ),
          }),
          "a hub stream sourcing this stream from every leaf (leaf-level streams only)",
        ),
      }),
    ),
    "streams; names and settings as JetStream spells them",
  ),
  kv: opt(
    z.array(kvSchema("config", { at: req(at, "where: leaves, hub, or a list of hosts"), entries: opt(z.record(z.string(), z.string()), "keys and values to put") })),
    "key-value buckets",
  ),
  objects: opt(z.array(objectStoreSchema("config", { at: req(at, "where: leaves, hub, or a list of hosts") })), "object store buckets"),
  consumers: opt(
    z.array(consumerSchema("config", { stream: req(name, "stream it reads"), at: opt(at, "where its stream is", { derived: "where its stream is" }) })),
    "durable consumers (pull, or push with deliver_subject)",
  ),
  adopt: opt(flag(), "take over streams, aggregates, buckets and consumers that already exist (made by hand, the nats CLI, another tool) on their first up, in place and with their messages, instead of failing on them (docs/adopt.md)", { default: false }),
});

