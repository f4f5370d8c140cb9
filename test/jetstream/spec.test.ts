/**
 * `cim-nats:jetstream` → resources per domain: the reference set of both stacks, the subjects
 * leaves must deny importing, and every validation rule (one ConfigError with all issues).
 */
import { describe, expect, it } from "vitest";
import { aggregateSources } from "../../components/jetstream/aggregate";
import { locationTarget } from "../../components/jetstream/locations";
import { leafLocalSubjects, parseJetStream } from "../../components/jetstream/spec";
import { parseTopology } from "../../components/topology/parse";
import { ConfigError, type ConfigIssue } from "../../components/topology/types";
import { readStackConfig } from "../support/stack-config";

const dev = readStackConfig("dev");
const devTopology = parseTopology(dev.topology, { name: "dev" });

function issuesOf(raw: unknown, topology = devTopology): readonly ConfigIssue[] {
  try {
    parseJetStream(raw, topology);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).issues;
  }
  throw new Error("expected a ConfigError");
}

describe("the reference set (Pulumi.dev.yaml)", () => {
  const spec = parseJetStream(dev.jetstream, devTopology);

  it("puts PERSON_EVENTS (R1, file, 720h) in every leaf domain", () => {
    const pe = spec.streams.filter((s) => s.config.name === "PERSON_EVENTS");
    expect(pe.map((s) => s.location.domain)).toEqual(["nats-1", "nats-2", "nats-3", "cimstor"]);
    expect(pe.map((s) => s.location.serverNames)).toEqual([["nats-1"], ["nats-2"], ["nats-3"], ["cimstor"]]);
    expect(pe[0].config).toEqual({ name: "PERSON_EVENTS", subjects: ["person.events.>"], storage: "file", retention: "limits", max_age: "720h", num_replicas: 1, allow_atomic: true });
  });

  it("aggregates them at the hub as CLUSTER_PERSON_EVENTS: R3, 2160h, no subjects, one source per leaf, republished", () => {
    expect(spec.aggregates).toHaveLength(1);
    const a = spec.aggregates[0];
    expect(a.location).toEqual({ level: "hub", domain: "hub", serverNames: ["nats-1-hub", "nats-2-hub", "nats-3-hub"] });
    expect(a.config).toEqual({
      name: "CLUSTER_PERSON_EVENTS",
      num_replicas: 3,
      storage: "file",
      max_age: "2160h",
      republish: { src: ">", dest: ">" },
      sources: ["nats-1", "nats-2", "nats-3", "cimstor"].map((d) => ({ name: "PERSON_EVENTS", external: { api: `$JS.${d}.API` } })),
    });
    expect(a.config.subjects).toBeUndefined();
  });

  it.each([
    [false, undefined],
    [{ src: "person.events.>", dest: "hub.person.events.>" }, { src: "person.events.>", dest: "hub.person.events.>" }],
  ])("aggregate republish %j → %j", (given, want) => {
    const raw = structuredClone(readStackConfig("dev").jetstream) as any;
    raw.streams[0].aggregate.republish = given;
    const a = parseJetStream(raw, devTopology).aggregates[0];
    expect(a.config.republish).toEqual(want);
  });

  it("declares the KV buckets, object buckets and the hub consumer where they belong", () => {
    expect(spec.kv.map((b) => `${b.config.bucket}@${b.location.domain}`)).toEqual([
      "PERSON_METADATA@nats-1", "PERSON_METADATA@nats-2", "PERSON_METADATA@nats-3", "PERSON_METADATA@cimstor", "CLUSTER_METADATA@hub",
    ]);
    expect(spec.kv[0].entries).toEqual({ "domain.name": "Person Domain" });
    expect(spec.kv[4].config.replicas).toBe(3);
    expect(spec.objects.map((o) => `${o.config.bucket}@${o.location.domain}`)).toEqual([
      "PERSON_OBJECTS@nats-1", "PERSON_OBJECTS@nats-2", "PERSON_OBJECTS@nats-3", "PERSON_OBJECTS@cimstor", "CLUSTER_OBJECTS@cimstor",
    ]);
    expect(spec.consumers).toEqual([
      {
        at: "hub",
        location: expect.objectContaining({ domain: "hub" }),
        stream: "CLUSTER_PERSON_EVENTS",
        config: { name: "person-projection", ack_policy: "explicit", deliver_policy: "all", filter_subjects: ["person.events.>"] },
      },
      {
        at: "hub",
        location: expect.objectContaining({ domain: "hub" }),
        stream: "CLUSTER_PERSON_EVENTS",
        config: { name: "pattern-detection", ack_policy: "explicit", deliver_policy: "all", filter_subjects: ["person.events.>"] },
      },
    ]);
    // The seed's cluster-level outputs: R3 streams at the hub.
    expect(spec.streams.filter((s) => s.location.level === "hub").map((s) => [s.config.name, s.config.subjects, s.config.num_replicas])).toEqual([
      ["PERSON_PROJECTIONS", ["person.projections.>"], 3],
      ["PATTERNS", ["patterns.>"], 3],
    ]);
  });

  it("names the subjects leaves must deny importing: leaf streams, KV and object buckets at every leaf", () => {
    // CLUSTER_OBJECTS lives at cimstor only: it stays reachable from the hub, so it is not denied.
    expect(leafLocalSubjects(spec)).toEqual(["person.events.>", "$KV.PERSON_METADATA.>", "$O.PERSON_OBJECTS.>"]);
  });

  it("turns a location into a connection target: the domain's client URLs and its domain", () => {
    expect(locationTarget(spec.streams[1].location, devTopology)).toEqual({ servers: ["nats://127.0.0.42:4222"], domain: "nats-2" });
    expect(locationTarget(spec.aggregates[0].location, devTopology, { token: "t" })).toEqual({
      servers: ["nats://127.0.0.41:4223", "nats://127.0.0.42:4223", "nats://127.0.0.43:4223"],
      domain: "hub",
      credentials: { token: "t" },
    });
  });

  it("parses the prod stack's reference set the same way", () => {
    const prod = readStackConfig("prod");
    const p = parseJetStream(prod.jetstream, parseTopology(prod.topology, { name: "prod" }));
    expect(p.streams.map((s) => `${s.config.name}@${s.location.domain}`)).toEqual([
      "PERSON_EVENTS@nats-1", "PERSON_EVENTS@nats-2", "PERSON_EVENTS@nats-3", "PERSON_EVENTS@cimstor", "PERSON_PROJECTIONS@hub", "PATTERNS@hub",
    ]);
    expect(p.consumers.map((c) => c.config.name)).toEqual(["person-projection", "pattern-detection"]);
    expect(p.aggregates[0].config.sources).toHaveLength(4);
    expect(leafLocalSubjects(p)).toEqual(["person.events.>", "$KV.PERSON_METADATA.>", "$O.PERSON_OBJECTS.>"]);
  });

  it("re-sources a rewound leaf under the next epoch's identity, from the last entry's fromSeq; the other leaves keep theirs", () => {
    const raw = JSON.parse(JSON.stringify(dev.jetstream));
    raw.streams[0].aggregate.rewinds = [{ domain: "nats-2", fromSeq: 684 }, { domain: "nats-2", fromSeq: 1201 }, { domain: "cimstor", fromSeq: 9 }];
    const sources = parseJetStream(raw, devTopology).aggregates[0].config.sources!;
    expect(sources).toEqual([
      { name: "PERSON_EVENTS", external: { api: "$JS.nats-1.API" } },
      { name: "PERSON_EVENTS", external: { api: "$JS.nats-2.API" }, opt_start_seq: 1201, subject_transforms: [{ src: "*", dest: "" }, { src: "*.*", dest: "" }, { src: "*.*.>", dest: "" }] },
      { name: "PERSON_EVENTS", external: { api: "$JS.nats-3.API" } },
      { name: "PERSON_EVENTS", external: { api: "$JS.cimstor.API" }, opt_start_seq: 9, subject_transforms: [{ src: "*", dest: "" }, { src: "*.>", dest: "" }] },
    ]);
  });

  it("adds a source when the topology gains a leaf", () => {
    const raw = dev.topology as { hosts: unknown[] };
    const grown = parseTopology({ ...raw, hosts: [...raw.hosts, { name: "leaf-04", vmid: 205, node: "pve2", address: "127.0.0.44", roles: ["leaf"] }] });
    expect(aggregateSources({ name: "PERSON_EVENTS", at: "leaves" }, grown).map((s) => s.external?.api)).toEqual([
      "$JS.nats-1.API", "$JS.nats-2.API", "$JS.nats-3.API", "$JS.cimstor.API", "$JS.leaf-04.API",
    ]);
  });
});

const stream = (over: Record<string, unknown>) => ({ streams: [{ name: "S", at: "leaves", subjects: ["s.>"], ...over }] });

describe("validation", () => {
  it.each([
    ["an invalid subject", stream({ subjects: ["s..x"] }), "jetstream.streams[0].subjects[0]", /empty token/],
    ["an invalid name", stream({ name: "a.b" }), "jetstream.streams[0].name", /cannot contain '\.'/],
    ["replicas > 1 at a leaf", stream({ replicas: 3 }), "jetstream.streams[0].replicas", /replicas 3 > 1 server in leaf domains 'nats-1', 'nats-2', 'nats-3', 'cimstor'/],
    ["replicas > hub members", stream({ at: "hub", replicas: 5 }), "jetstream.streams[0].replicas", /replicas 5 > 3 hub members/],
    ["an unknown host", stream({ at: ["nats-1", "nats-9"] }), "jetstream.streams[0].at[1]", /unknown host 'nats-9'; hosts are nats-1, nats-2, nats-3, cimstor/],
    ["no at", { streams: [{ name: "S", subjects: ["s.>"] }] }, "jetstream.streams[0].at", /missing/],
    ["a bad at", stream({ at: "everywhere" }), "jetstream.streams[0].at", /not a place/],
    ["a duration without unit", stream({ max_age: 3600 }), "jetstream.streams[0].max_age", /no unit/],
    ["an unknown stream setting", stream({ maxAge: "1h" }), "jetstream.streams[0].maxAge", /unknown stream setting/],
    ["an aggregate with subjects", stream({ aggregate: { name: "AGG", subjects: ["s.>"] } }), "jetstream.streams[0].aggregate.subjects", /an aggregate has no subjects/],
    ["an aggregate of a hub stream", stream({ at: "hub", aggregate: { name: "AGG" } }), "jetstream.streams[0].aggregate", /only a leaf-level stream/],
    ["an aggregate with too many replicas", stream({ aggregate: { name: "AGG", replicas: 4 } }), "jetstream.streams[0].aggregate.replicas", /replicas 4 > 3 hub members/],
    [
      "overlapping subjects in one domain",
      { streams: [{ name: "A", at: "leaves", subjects: ["person.events.>"] }, { name: "B", at: ["nats-2"], subjects: ["*.events.created"] }] },
      "jetstream",
      /stream B subject '\*\.events\.created' overlaps stream A subject 'person\.events\.>' in domain 'nats-2'/,
    ],
    [
      "a duplicate stream name in one domain",
      { streams: [{ name: "A", at: "hub", subjects: ["a"] }, { name: "A", at: "hub", subjects: ["b"] }] },
      "jetstream",
      /both the stream 'A' in domain 'hub'/,
    ],
    ["a consumer on an unknown stream", { ...stream({}), consumers: [{ name: "c", stream: "NOPE" }] }, "jetstream.consumers[0].stream", /unknown stream 'NOPE'; declared streams: S/],
    ["a consumer where its stream is not", { ...stream({}), consumers: [{ name: "c", stream: "S", at: "hub" }] }, "jetstream.consumers[0].at", /does not exist in domain 'hub'/],
    ["a bad consumer setting", { ...stream({}), consumers: [{ name: "c", stream: "S", ack_policy: "maybe" }] }, "jetstream.consumers[0].ack_policy", /must be one of/],
    [
      "consumer replicas > hub members",
      { ...stream({ aggregate: { name: "AGG" } }), consumers: [{ name: "c", stream: "AGG", at: "hub", replicas: 5 }] },
      "jetstream.consumers[0].replicas",
      /replicas 5 > 3 hub members in domain 'hub': use at most 3/,
    ],
    ["consumer replicas > 1 at a leaf", { ...stream({}), consumers: [{ name: "c", stream: "S", replicas: 3 }] }, "jetstream.consumers[0].replicas", /leaf domains have one server, use replicas: 1/],
    ["a negative size other than -1 (the server stores -1)", stream({ max_bytes: -5 }), "jetstream.streams[0].max_bytes", /-5 is not a limit.*-1 for unlimited.*silently store -1/],
    ["a fractional count", stream({ max_msgs: 1.5 }), "jetstream.streams[0].max_msgs", /1.5 is not a limit/],
    ["a negative bucket size", { kv: [{ bucket: "B", at: "hub", max_bytes: -2 }] }, "jetstream.kv[0].max_bytes", /-2 is not a limit/],
    ["a negative aggregate size", stream({ aggregate: { name: "AGG", max_bytes: -5 } }), "jetstream.streams[0].aggregate.max_bytes", /-5 is not a limit/],
    ["a negative consumer max_batch", { ...stream({}), consumers: [{ name: "c", stream: "S", max_batch: -1 }] }, "jetstream.consumers[0].max_batch", /≥ 0/],
    [
      "a consumer filter the stream can never hold",
      { ...stream({}), consumers: [{ name: "c", stream: "S", filter_subjects: ["s.x", "billing.>"] }] },
      "jetstream.consumers[0].filter_subjects[1]",
      /filter 'billing.>' matches no subject stream 'S' can hold \(s.>\)/,
    ],
    [
      "a filter on an aggregate outside its leaf stream's subjects",
      { ...stream({ aggregate: { name: "AGG" } }), consumers: [{ name: "c", stream: "AGG", filter_subject: "t.>" }] },
      "jetstream.consumers[0].filter_subject",
      /matches no subject stream 'AGG' can hold \(s.>\)/,
    ],
    ["a rewind of a leaf the aggregate does not source", stream({ at: ["nats-1"], aggregate: { name: "AGG", rewinds: [{ domain: "nats-2", fromSeq: 5 }] } }), "jetstream.streams[0].aggregate.rewinds[0].domain", /"nats-2" is not a leaf domain this aggregate sources; its domains are nats-1/],
    ["a rewind without a sequence", stream({ aggregate: { name: "AGG", rewinds: [{ domain: "nats-1", fromSeq: 0 }] } }), "jetstream.streams[0].aggregate.rewinds[0].fromSeq", /0 is not a sequence: write the whole number ≥ 1 that `npm run verify` reported/],
    ["rewinds that are not a list", stream({ aggregate: { name: "AGG", rewinds: { domain: "nats-1" } } }), "jetstream.streams[0].aggregate.rewinds", /must be a list of \{ domain, fromSeq \}/],
    ["a KV entry that is not a string", { kv: [{ bucket: "B", at: "hub", entries: { n: 5 } }] }, "jetstream.kv[0].entries.n", /must be a string/],
    ["a bad KV key", { kv: [{ bucket: "B", at: "hub", entries: { ".x": "v" } }] }, "jetstream.kv[0].entries..x", /cannot start or end/],
    ["KV replicas at a leaf", { kv: [{ bucket: "B", at: "leaves", replicas: 3 }] }, "jetstream.kv[0].replicas", /leaf domains have one server/],
    ["an object bucket at an unknown host", { objects: [{ bucket: "O", at: ["nas"] }] }, "jetstream.objects[0].at[0]", /unknown host 'nas'/],
    ["an unknown top-level key", { topics: [] }, "jetstream.topics", /unknown key 'topics'/],
  ])("rejects %s", (_label, raw, propertyPath, reason) => {
    expect(issuesOf(raw)).toEqual(expect.arrayContaining([{ propertyPath, reason: expect.stringMatching(reason) }]));
  });

  it("rejects a host without a leaf server in `at`", () => {
    const raw = dev.topology as { hosts: unknown[] };
    const t = parseTopology({ ...raw, hosts: [...raw.hosts, { name: "hub-4", vmid: 206, node: "pve3", address: "127.0.0.45", roles: ["hub"] }] });
    expect(issuesOf(stream({ at: ["hub-4"] }), t)).toEqual([{ propertyPath: "jetstream.streams[0].at[0]", reason: expect.stringMatching(/runs no leaf server.*use at: hub/) }]);
  });

  it("reports every problem at once", () => {
    const issues = issuesOf({
      streams: [{ name: "a.b", at: "leaves", subjects: ["x..y"], replicas: 2 }],
      consumers: [{ name: "c", stream: "NOPE" }],
    });
    expect(issues.map((i) => i.propertyPath).sort()).toEqual([
      "jetstream.consumers[0].stream",
      "jetstream.streams[0].name",
      "jetstream.streams[0].replicas",
      "jetstream.streams[0].subjects[0]",
    ]);
  });

  it("accepts an empty or missing jetstream section", () => {
    expect(parseJetStream(undefined, devTopology)).toEqual({ streams: [], aggregates: [], kv: [], objects: [], consumers: [] });
    expect(parseJetStream({}, devTopology).streams).toEqual([]);
  });
});
