/**
 * `cim-nats:jetstream` (streams, kv, objects, consumers, in the shape operators write) →
 * concrete, validated resources per JetStream domain. Pure: no I/O, no Pulumi.
 *
 * The config's names are mapped to the wire names here, once (`replicas` → `num_replicas`,
 * `allow_rollup` → `allow_rollup_hdrs`); durations stay strings until the resources normalize
 * them. Every problem is collected and thrown as one ConfigError.
 */
import { z } from "zod";
import { checkSection } from "../config/validate";
import { ConfigError, type ConfigIssue, type Topology } from "../topology/types";
import { subjectsOverlap } from "../subjects";
import { aggregateSources, isEpochSpelling, type AggregatedStream, type SourceRewind } from "./aggregate";
import { CONSUMER_FIELDS, consumerSchema, type ConsumerInput } from "./consumer-config";
import { accepting, wireNames, type Table } from "./fields";
import { KV_STREAM_PREFIX, kvKeyReason, kvSchema, type KvInput } from "./kv-config";
import { atIssues, isLeafLocal, leafDomains, resolveAt, type At, type Location } from "./locations";
import { OBJECT_STREAM_PREFIX, objectStoreSchema, type ObjectStoreInput } from "./object-store-config";
import { STREAM_FIELDS, streamSchema, type StreamInput } from "./stream-config";

/** A stream in one domain. */
export type StreamSpec = {
  readonly at: At;
  readonly location: Location;
  /** Wire-named stream config. */
  readonly config: StreamInput;
};

/** What an aggregate republishes by default: every sourced event on its original subject. */
export const AGGREGATE_REPUBLISH = { src: ">", dest: ">" } as const;

/** The hub aggregate of a leaf-level stream. */
export type AggregateSpec = {
  readonly location: Location;
  readonly leafStream: AggregatedStream;
  /** Wire-named config, sources filled in from the topology, no subjects. */
  readonly config: StreamInput;
};

export type KvSpec = {
  readonly at: At;
  readonly location: Location;
  readonly config: KvInput;
  /** Entries to put: key → value. */
  readonly entries: Readonly<Record<string, string>>;
};

export type ObjectStoreSpec = {
  readonly at: At;
  readonly location: Location;
  readonly config: ObjectStoreInput;
};

export type ConsumerSpec = {
  readonly at: At;
  readonly location: Location;
  readonly stream: string;
  /** Wire-named consumer config; `name` is the durable name. */
  readonly config: ConsumerInput;
};

/** Everything the stack declares, expanded per JetStream domain. */
export type JetStreamSpec = {
  readonly streams: readonly StreamSpec[];
  readonly aggregates: readonly AggregateSpec[];
  readonly kv: readonly KvSpec[];
  readonly objects: readonly ObjectStoreSpec[];
  readonly consumers: readonly ConsumerSpec[];
  /**
   * `jetstream.adopt`: every declared stream, aggregate, bucket and consumer takes over an
   * existing one of its name on create (updated in place, messages kept). Default false.
   */
  readonly adopt?: boolean;
};

type Raw = Record<string, unknown>;
const isObject = (v: unknown): v is Raw => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * The section's declarations are checked against the resources' own field tables as the stack
 * config spells them (durations need a unit, `replicas` for num_replicas); the keys a declaration
 * adds (`at`, `aggregate`…) are checked here, against the topology.
 */
const STREAM_DECLARATION = streamSchema("config", accepting(["at", "aggregate"]));
const AGGREGATE_DECLARATION = streamSchema("config", accepting(["rewinds"]));
const KV_DECLARATION = kvSchema("config", accepting(["at", "entries"]));
const OBJECT_DECLARATION = objectStoreSchema("config", accepting(["at"]));
const CONSUMER_DECLARATION = consumerSchema("config", accepting(["at", "stream"]));

/** Problems with declaration `raw` at `path`, pushed to `issues`; its wire-named config, without the `drop` keys. */
function declaration(schema: z.ZodType, table: Table, raw: Raw, path: string, noun: string, drop: readonly string[], issues: ConfigIssue[]): Raw {
  issues.push(...checkSection(schema, raw, path, `${noun} setting`).issues);
  return wireNames(table, Object.fromEntries(Object.entries(raw).filter(([k]) => !drop.includes(k))));
}

function list(raw: Raw, key: string, issues: ConfigIssue[]): Raw[] {
  const v = raw[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    issues.push({ propertyPath: `jetstream.${key}`, reason: `must be a list of ${key} declarations` });
    return [];
  }
  return v.map((x, i) => {
    if (isObject(x)) return x;
    issues.push({ propertyPath: `jetstream.${key}[${i}]`, reason: "must be a mapping" });
    return {};
  });
}

/** Parses and validates `cim-nats:jetstream` against the topology; throws ConfigError. */
export function parseJetStream(raw: unknown, topology: Topology): JetStreamSpec {
  const issues: ConfigIssue[] = [];
  if (raw === undefined || raw === null) return { streams: [], aggregates: [], kv: [], objects: [], consumers: [] };
  if (!isObject(raw)) throw new ConfigError([{ propertyPath: "jetstream", reason: "must be a mapping with streams, kv, objects and consumers lists" }]);
  for (const k of Object.keys(raw)) {
    if (!["streams", "kv", "objects", "consumers", "adopt"].includes(k)) issues.push({ propertyPath: `jetstream.${k}`, reason: `unknown key '${k}'; known: streams, kv, objects, consumers, adopt` });
  }
  const hubServers = topology.hub.members.length;
  /** One issue per declaration when its replicas exceed the servers of a domain it lands in. */
  const replicaIssue = (replicas: unknown, locations: readonly Location[], path: string): ConfigIssue[] => {
    const short = locations.filter((l) => typeof replicas === "number" && replicas > l.serverNames.length);
    if (!short.length) return [];
    const leaf = short.filter((l) => l.level === "leaf");
    const reason = leaf.length
      ? `replicas ${String(replicas)} > 1 server in leaf domain${leaf.length > 1 ? "s" : ""} ${leaf.map((l) => `'${l.domain}'`).join(", ")}: leaf domains have one server, use replicas: 1`
      : `replicas ${String(replicas)} > ${hubServers} hub member${hubServers === 1 ? "" : "s"} in domain '${short[0].domain}': use at most ${hubServers}`;
    return [{ propertyPath: path, reason }];
  };

  const streams: StreamSpec[] = [];
  const aggregates: AggregateSpec[] = [];
  list(raw, "streams", issues).forEach((s, i) => {
    const path = `jetstream.streams[${i}]`;
    const wire = declaration(STREAM_DECLARATION, STREAM_FIELDS, s, path, "stream", ["at", "aggregate"], issues);
    const ai = atIssues(s.at, `${path}.at`, topology);
    issues.push(...ai);
    if (ai.length) return;
    const at = s.at as At;
    const locations = resolveAt(at, topology);
    issues.push(...replicaIssue(wire.num_replicas, locations, `${path}.${s.num_replicas !== undefined ? "num_replicas" : "replicas"}`));
    for (const location of locations) streams.push({ at, location, config: wire as StreamInput });
    if (s.aggregate === undefined) return;
    const ap = `${path}.aggregate`;
    if (!isObject(s.aggregate)) {
      issues.push({ propertyPath: ap, reason: "must be a mapping: { name, replicas, storage, max_age, … }" });
      return;
    }
    if (at === "hub") {
      issues.push({ propertyPath: ap, reason: "only a leaf-level stream (at: leaves or hosts) can be aggregated at the hub; this one is at: hub" });
      return;
    }
    for (const k of ["subjects", "sources", "mirror"]) {
      if (s.aggregate[k] !== undefined) {
        issues.push({
          propertyPath: `${ap}.${k}`,
          reason: `an aggregate has no ${k}: its sources are the leaf streams, derived from the topology; a hub stream on the leaf subjects would capture leaf publications twice. Remove ${k}`,
        });
      }
    }
    const own = Object.fromEntries(Object.entries(s.aggregate).filter(([k]) => !["subjects", "sources", "mirror"].includes(k)));
    // Leaf deny_imports keep leaf stores local but, on nats-server 2.15, also stop those subjects
    // crossing leafnode links towards the hub. Hub subscribers see leaf events through the
    // aggregate instead: it republishes each sourced event on its own subject, once, once stored.
    // `republish: false` opts out; an explicit republish block replaces the default.
    if (own.republish === false) delete own.republish;
    else if (own.republish === undefined) own.republish = { ...AGGREGATE_REPUBLISH };
    const agWire = declaration(AGGREGATE_DECLARATION, STREAM_FIELDS, own, ap, "stream", ["rewinds"], issues);
    if (!topology.hub.members.length) {
      issues.push({ propertyPath: ap, reason: "the topology has no hub members to hold the aggregate: give hosts the `hub` role" });
      return;
    }
    const [location] = resolveAt("hub", topology);
    issues.push(...replicaIssue(agWire.num_replicas, [location], `${ap}.${own.num_replicas !== undefined ? "num_replicas" : "replicas"}`));
    const leafStream: AggregatedStream = { name: String(s.name), at };
    const rewinds = parseRewinds(s.aggregate.rewinds, `${ap}.rewinds`, leafDomains(at, topology), issues);
    aggregates.push({ location, leafStream, config: { ...(agWire as StreamInput), sources: aggregateSources(leafStream, topology, rewinds) } });
  });

  const kv: KvSpec[] = [];
  list(raw, "kv", issues).forEach((b, i) => {
    const path = `jetstream.kv[${i}]`;
    const wire = declaration(KV_DECLARATION, {}, b, path, "KV bucket", ["at", "entries"], issues);
    const entries: Record<string, string> = {};
    if (b.entries !== undefined) {
      if (!isObject(b.entries)) issues.push({ propertyPath: `${path}.entries`, reason: "must be a mapping of key → value" });
      else {
        for (const [k, v] of Object.entries(b.entries)) {
          const r = kvKeyReason(k);
          if (r) issues.push({ propertyPath: `${path}.entries.${k}`, reason: r });
          if (typeof v !== "string") issues.push({ propertyPath: `${path}.entries.${k}`, reason: `value must be a string; quote it ("${String(v)}")` });
          else entries[k] = v;
        }
      }
    }
    const ai = atIssues(b.at, `${path}.at`, topology);
    issues.push(...ai);
    if (ai.length) return;
    const locations = resolveAt(b.at as At, topology);
    issues.push(...replicaIssue(wire.replicas, locations, `${path}.replicas`));
    for (const location of locations) kv.push({ at: b.at as At, location, config: wire as KvInput, entries });
  });

  const objects: ObjectStoreSpec[] = [];
  list(raw, "objects", issues).forEach((o, i) => {
    const path = `jetstream.objects[${i}]`;
    const wire = declaration(OBJECT_DECLARATION, {}, o, path, "object bucket", ["at"], issues);
    const ai = atIssues(o.at, `${path}.at`, topology);
    issues.push(...ai);
    if (ai.length) return;
    const locations = resolveAt(o.at as At, topology);
    issues.push(...replicaIssue(wire.replicas, locations, `${path}.replicas`));
    for (const location of locations) objects.push({ at: o.at as At, location, config: wire as ObjectStoreInput });
  });

  // Which domains hold which stream names and which subjects they can hold, for consumers and
  // duplicate checks. An aggregate holds its leaf stream's subjects (sources keep subjects).
  const streamDomains = new Map<string, { at: At; domains: Set<string>; subjects: readonly string[] }>();
  for (const s of streams) {
    const e = streamDomains.get(s.config.name) ?? { at: s.at, domains: new Set<string>(), subjects: streamSubjects(s.config) };
    e.domains.add(s.location.domain);
    streamDomains.set(s.config.name, e);
  }
  for (const a of aggregates) {
    const leaf = streams.find((s) => s.config.name === a.leafStream.name);
    const e = streamDomains.get(String(a.config.name)) ?? { at: "hub" as At, domains: new Set<string>(), subjects: leaf ? streamSubjects(leaf.config) : [] };
    e.domains.add(a.location.domain);
    streamDomains.set(String(a.config.name), e);
  }

  const consumers: ConsumerSpec[] = [];
  list(raw, "consumers", issues).forEach((c, i) => {
    const path = `jetstream.consumers[${i}]`;
    // `name` stays `name` (the resource sends it as both name and durable_name); only replicas is renamed.
    const wire = declaration(CONSUMER_DECLARATION, { num_replicas: CONSUMER_FIELDS.num_replicas }, c, path, "consumer", ["at", "stream"], issues);
    const streamName = c.stream;
    const known = typeof streamName === "string" ? streamDomains.get(streamName) : undefined;
    if (!known) {
      issues.push({
        propertyPath: `${path}.stream`,
        reason: `unknown stream '${String(streamName)}'; declared streams: ${[...streamDomains.keys()].join(", ") || "none"}. Declare it under jetstream.streams (or as an aggregate) or fix the name`,
      });
      return;
    }
    // A filter no subject of the stream can match selects nothing, forever: the server accepts it.
    const filters = [
      ...(typeof wire.filter_subject === "string" ? [{ key: "filter_subject", subject: wire.filter_subject }] : []),
      ...(Array.isArray(wire.filter_subjects) ? wire.filter_subjects.map((f, n) => ({ key: `filter_subjects[${n}]`, subject: String(f) })) : []),
    ];
    // A rewind's epoch filters select every subject unchanged: not a transform.
    const transformed = [...streams, ...aggregates].some(
      (s) => s.config.name === streamName && (s.config.subject_transform || s.config.sources?.some((x) => x.subject_transforms?.length && !isEpochSpelling(x.subject_transforms))),
    );
    if (known.subjects.length && !transformed) {
      for (const f of filters) {
        if (!known.subjects.some((s) => subjectsOverlap(s, f.subject))) {
          issues.push({
            propertyPath: `${path}.${f.key}`,
            reason: `filter '${f.subject}' matches no subject stream '${streamName}' can hold (${known.subjects.join(", ")}): the consumer would never deliver anything; use a filter within those subjects`,
          });
        }
      }
    }
    const at = (c.at ?? known.at) as At;
    const ai = atIssues(at, `${path}.at`, topology);
    issues.push(...ai);
    if (ai.length) return;
    // A consumer's replicas, like its stream's, cannot exceed the servers of its domain.
    issues.push(...replicaIssue(wire.num_replicas, resolveAt(at, topology), `${path}.${c.num_replicas !== undefined ? "num_replicas" : "replicas"}`));
    for (const location of resolveAt(at, topology)) {
      if (!known.domains.has(location.domain)) {
        issues.push({ propertyPath: `${path}.at`, reason: `stream '${streamName}' does not exist in domain '${location.domain}' (it lives in ${[...known.domains].join(", ")}); change at or the stream's at` });
        continue;
      }
      consumers.push({ at, location, stream: streamName as string, config: wire as ConsumerInput });
    }
  });

  issues.push(...domainConflicts(streams, aggregates, kv, objects, consumers));
  if (raw.adopt !== undefined && typeof raw.adopt !== "boolean") issues.push({ propertyPath: "jetstream.adopt", reason: `must be true or false, got ${JSON.stringify(raw.adopt)}` });
  if (issues.length) throw new ConfigError(issues);
  return { streams, aggregates, kv, objects, consumers, ...(raw.adopt === true ? { adopt: true } : {}) };
}

/**
 * The subjects a stream captures: the declared ones, else its name (unless it is sourced) — as
 * nats-server defaults them. Leaf-local subjects and service grants both read this.
 */
export function streamSubjects(c: StreamInput): readonly string[] {
  if (c.subjects?.length) return c.subjects;
  return c.mirror || c.sources?.length ? [] : [c.name];
}

/** One JetStream stream name and its subjects in a domain, for conflict checks. */
type Occupant = { readonly domain: string; readonly streamName: string; readonly subjects: readonly string[]; readonly what: string };

/** Duplicate stream names and overlapping subjects between streams of one domain (one account). */
function domainConflicts(
  streams: readonly StreamSpec[],
  aggregates: readonly AggregateSpec[],
  kv: readonly KvSpec[],
  objects: readonly ObjectStoreSpec[],
  consumers: readonly ConsumerSpec[],
): ConfigIssue[] {
  const occupants: Occupant[] = [
    ...streams.map((s) => ({ domain: s.location.domain, streamName: s.config.name, subjects: streamSubjects(s.config), what: `stream ${s.config.name}` })),
    ...aggregates.map((a) => ({ domain: a.location.domain, streamName: String(a.config.name), subjects: [], what: `aggregate ${String(a.config.name)}` })),
    ...kv.map((b) => ({ domain: b.location.domain, streamName: KV_STREAM_PREFIX + b.config.bucket, subjects: [`$KV.${b.config.bucket}.>`], what: `kv bucket ${b.config.bucket}` })),
    ...objects.map((o) => ({ domain: o.location.domain, streamName: OBJECT_STREAM_PREFIX + o.config.bucket, subjects: [`$O.${o.config.bucket}.C.>`, `$O.${o.config.bucket}.M.>`], what: `object bucket ${o.config.bucket}` })),
  ];
  const issues: ConfigIssue[] = [];
  const reported = new Set<string>();
  const report = (path: string, reason: string) => {
    if (reported.has(path + reason)) return;
    reported.add(path + reason);
    issues.push({ propertyPath: path, reason });
  };
  for (let i = 0; i < occupants.length; i++) {
    for (let j = 0; j < i; j++) {
      const a = occupants[j];
      const b = occupants[i];
      if (a.domain !== b.domain) continue;
      if (a.streamName === b.streamName) {
        report("jetstream", `${b.what} and ${a.what} are both the stream '${b.streamName}' in domain '${b.domain}': rename one`);
      }
      for (const x of b.subjects) {
        for (const y of a.subjects) {
          if (subjectsOverlap(x, y)) {
            report("jetstream", `${b.what} subject '${x}' overlaps ${a.what} subject '${y}' in domain '${b.domain}': the server refuses overlapping streams in one account; narrow one of them`);
          }
        }
      }
    }
  }
  const seen = new Set<string>();
  for (const c of consumers) {
    const key = `${c.location.domain}/${c.stream}/${c.config.durable_name ?? c.config.name}`;
    if (seen.has(key)) report("jetstream.consumers", `consumer '${c.config.durable_name ?? c.config.name}' on stream '${c.stream}' is declared twice in domain '${c.location.domain}'`);
    seen.add(key);
  }
  return issues;
}

/**
 * Subjects the leaves must deny importing over their leafnode links so leaf stores stay local:
 * those of stores declared at several leaves (`at: leaves` or two or more hosts) — streams,
 * KV buckets (`$KV.<bucket>.>`) and object buckets (`$O.<bucket>.>`). Without it every leaf's
 * copy also captures the other leaves' messages through the hub. A store at exactly one host
 * is the one store for its subjects and stays reachable from everywhere, so it is left out.
 */
export function leafLocalSubjects(spec: JetStreamSpec): string[] {
  const out: string[] = [];
  const add = (s: string) => {
    if (!out.includes(s)) out.push(s);
  };
  for (const s of spec.streams) if (s.location.level === "leaf" && isLeafLocal(s.at)) streamSubjects(s.config).forEach(add);
  for (const b of spec.kv) if (b.location.level === "leaf" && isLeafLocal(b.at)) add(`$KV.${b.config.bucket}.>`);
  for (const o of spec.objects) if (o.location.level === "leaf" && isLeafLocal(o.at)) add(`$O.${o.config.bucket}.>`);
  return out;
}

/**
 * `aggregate.rewinds`: a list of `{ domain, fromSeq }`, each naming one of the aggregate's leaf
 * domains (docs/durability.md, "Sequence rewind"). Problems go to `issues`; valid entries are returned.
 */
function parseRewinds(raw: unknown, path: string, domains: readonly string[], issues: ConfigIssue[]): SourceRewind[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    issues.push({ propertyPath: path, reason: "must be a list of { domain, fromSeq } (what `npm run verify` prints after a sequence rewind)" });
    return [];
  }
  const out: SourceRewind[] = [];
  raw.forEach((r, i) => {
    const at = `${path}[${i}]`;
    if (!isObject(r)) {
      issues.push({ propertyPath: at, reason: "must be a mapping { domain, fromSeq }" });
      return;
    }
    for (const k of Object.keys(r)) if (k !== "domain" && k !== "fromSeq") issues.push({ propertyPath: `${at}.${k}`, reason: `unknown key '${k}'; a rewind has domain and fromSeq` });
    if (typeof r.domain !== "string" || !domains.includes(r.domain)) {
      issues.push({ propertyPath: `${at}.domain`, reason: `${JSON.stringify(r.domain)} is not a leaf domain this aggregate sources; its domains are ${domains.join(", ")}` });
      return;
    }
    if (typeof r.fromSeq !== "number" || !Number.isSafeInteger(r.fromSeq) || r.fromSeq < 1) {
      issues.push({ propertyPath: `${at}.fromSeq`, reason: `${JSON.stringify(r.fromSeq)} is not a sequence: write the whole number ≥ 1 that \`npm run verify\` reported` });
      return;
    }
    out.push({ domain: r.domain, fromSeq: r.fromSeq });
  });
  return out;
}
