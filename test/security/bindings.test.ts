/**
 * Service bindings → derived permissions (pure): the reference services' exact permissions, the
 * inbox rules, the contexts per place, and every bad binding named by field, value and fix.
 */
import { describe, expect, it } from "vitest";
import { parseJetStream } from "../../components/jetstream/spec";
import { serviceContexts } from "../../components/security/contexts";
import { parseSecurity } from "../../components/security/parse";
import { loadStackModel } from "../../components/stack/stack-model";
import { parseTopology } from "../../components/topology/parse";
import { readStackConfig } from "../support/stack-config";
import { configIssues } from "./support/config-issues";

const dev = readStackConfig("dev");
const topology = parseTopology(dev.topology, { name: "dev" });
const jetstream = parseJetStream(dev.jetstream, topology);
type Raw = Record<string, any>;
const rawSecurity = dev.security as Raw;

/** The dev security section with PLATFORM limits that fit the leaves and `users` replaced. */
function security(users: Raw[]): Raw {
  return { ...rawSecurity, users };
}
const devSpec = parseSecurity(rawSecurity, topology, jetstream);
const user = (name: string) => devSpec.users.find((u) => u.name === name)!;

describe("the reference services' derived permissions (Pulumi.dev.yaml)", () => {
  it("person-service at the leaves: its stream's subjects, its local metadata bucket, its commands, its inbox", () => {
    const u = user("person-service");
    expect(u.inboxPrefix).toBe("_INBOX_person-service");
    expect(u.places?.map((p) => `${p.name}:${p.domain}`)).toEqual(["nats-1:nats-1", "nats-2:nats-2", "nats-3:nats-3", "cimstor:cimstor"]);
    expect(u.publish).toEqual({
      allow: [
        "person.events.>",
        "$JS.API.STREAM.INFO.KV_PERSON_METADATA",
        "$JS.API.DIRECT.GET.KV_PERSON_METADATA.>",
        "$JS.API.STREAM.MSG.GET.KV_PERSON_METADATA",
        "$JS.API.CONSUMER.CREATE.KV_PERSON_METADATA.>",
        "$JS.FC.KV_PERSON_METADATA.>",
        "$JS.API.INFO",
      ],
      deny: [],
    });
    expect(u.subscribe).toEqual({ allow: ["person.commands.>", "_INBOX_person-service.>"], deny: [] });
    expect(u.responses).toEqual({ max: 1, ttlMs: 0 });
  });

  it.each([
    ["projection-service", "person-projection", "person.projections.>"],
    ["pattern-service", "pattern-detection", "patterns.>"],
  ])("%s at the hub: exactly its consumer %s, its output stream %s, its inbox", (name, consumer, out) => {
    const u = user(name);
    expect(u.publish.allow).toEqual([
      out,
      `$JS.API.CONSUMER.INFO.CLUSTER_PERSON_EVENTS.${consumer}`,
      `$JS.API.CONSUMER.MSG.NEXT.CLUSTER_PERSON_EVENTS.${consumer}`,
      `$JS.ACK.CLUSTER_PERSON_EVENTS.${consumer}.>`,
    ]);
    expect(u.subscribe.allow).toEqual([`_INBOX_${name}.>`]);
    expect(u.responses).toBeUndefined();
    expect(u.grants?.find((g) => g.subject.includes("MSG.NEXT"))?.why).toBe(`consumes CLUSTER_PERSON_EVENTS/${consumer}`);
  });

  it("no service may subscribe to the shared _INBOX.> or another user's inbox", () => {
    for (const u of devSpec.users.filter((x) => x.inboxPrefix)) {
      expect(u.subscribe.allow.filter((s) => s.startsWith("_INBOX")), u.name).toEqual([`${u.inboxPrefix}.>`]);
    }
  });

  it("prod derives the same set (its leaves are the same names)", () => {
    const prod = readStackConfig("prod");
    const m = loadStackModel("prod", { substrate: "local", topology: prod.topology, jetstream: prod.jetstream, security: prod.security });
    for (const name of ["person-service", "projection-service", "pattern-service"]) {
      expect(m.security.users.find((u) => u.name === name)!.publish, name).toEqual(user(name).publish);
    }
  });

  it("a service at the leaves reaching a hub resource uses the hub's API prefix; a hub service reaching a single-host bucket uses that host's", () => {
    const spec = parseSecurity(
      security([
        { name: "leafy", account: "PLATFORM", at: ["nats-1"], consumes: ["person-projection"], reads: { kv: ["CLUSTER_METADATA"] }, writes: { kv: ["CLUSTER_METADATA"] } },
        { name: "hubby", account: "PLATFORM", at: "hub", reads: { objects: ["CLUSTER_OBJECTS"] }, writes: { objects: ["CLUSTER_OBJECTS"] } },
      ]),
      topology,
      jetstream,
    );
    const leafy = spec.users.find((u) => u.name === "leafy")!;
    expect(leafy.publish.allow).toEqual([
      "$JS.hub.API.CONSUMER.INFO.CLUSTER_PERSON_EVENTS.person-projection",
      "$JS.hub.API.CONSUMER.MSG.NEXT.CLUSTER_PERSON_EVENTS.person-projection",
      "$JS.ACK.CLUSTER_PERSON_EVENTS.person-projection.>",
      "$JS.hub.API.STREAM.INFO.KV_CLUSTER_METADATA",
      "$JS.hub.API.DIRECT.GET.KV_CLUSTER_METADATA.>",
      "$JS.hub.API.STREAM.MSG.GET.KV_CLUSTER_METADATA",
      "$JS.hub.API.CONSUMER.CREATE.KV_CLUSTER_METADATA.>",
      "$JS.FC.KV_CLUSTER_METADATA.>",
      "$KV.CLUSTER_METADATA.>",
      "$JS.hub.API.INFO",
    ]);
    const hubby = spec.users.find((u) => u.name === "hubby")!;
    expect(hubby.publish.allow).toContain("$JS.cimstor.API.STREAM.INFO.OBJ_CLUSTER_OBJECTS");
    expect(hubby.publish.allow).toContain("$O.CLUSTER_OBJECTS.>");
    expect(hubby.publish.allow).toContain("$JS.cimstor.API.STREAM.PURGE.OBJ_CLUSTER_OBJECTS");
  });

  it("plain allow lists are kept beside the bindings; users without bindings keep their lists", () => {
    const spec = parseSecurity(
      security([
        { name: "mixed", account: "PLATFORM", at: "hub", publishes: ["PATTERNS"], publish: { allow: ["audit.>"] }, subscribe: { deny: ["secret.>"] } },
        { name: "plain", account: "PLATFORM", publish: { allow: ["a.>"] }, subscribe: { allow: ["b.>"] }, requestReply: true },
      ]),
      topology,
      jetstream,
    );
    const mixed = spec.users.find((u) => u.name === "mixed")!;
    expect(mixed.publish.allow).toEqual(["audit.>", "patterns.>"]);
    expect(mixed.subscribe).toEqual({ allow: ["_INBOX_mixed.>"], deny: ["secret.>"] });
    expect(spec.users.find((u) => u.name === "plain")!.subscribe.allow).toEqual(["b.>", "_INBOX_plain.>"]);
  });

  it("contexts: one per service and place, with creds, URLs, domain and inbox prefix", () => {
    const contexts = serviceContexts(topology, devSpec.users, "/secrets");
    expect(Object.keys(contexts)).toEqual([
      "person-service@nats-1",
      "person-service@nats-2",
      "person-service@nats-3",
      "person-service@cimstor",
      "projection-service@hub",
      "pattern-service@hub",
      "cid-service@cimstor",
    ]);
    expect(JSON.parse(contexts["projection-service@hub"])).toMatchObject({
      url: "nats://127.0.0.41:4223,nats://127.0.0.42:4223,nats://127.0.0.43:4223",
      creds: "/secrets/projection-service.creds",
      jetstream_domain: "hub",
      inbox_prefix: "_INBOX_projection-service",
      user_seed: "",
    });
    expect(JSON.parse(contexts["person-service@cimstor"])).toMatchObject({ url: "nats://127.0.0.2:4222", jetstream_domain: "cimstor" });
  });
});

const bound = (over: Raw): Raw[] => [{ name: "svc", account: "PLATFORM", at: "hub", ...over }];

describe("bad bindings: a preview error naming field, value and fix", () => {
  it.each<[string, Raw[], string, RegExp]>([
    ["an undeclared stream", bound({ publishes: ["PERSON_EVENT"] }), "security.users[0].publishes[0]", /unknown stream 'PERSON_EVENT': declared streams are PERSON_EVENTS, PERSON_PROJECTIONS, PATTERNS; declare it/],
    ["publishing to an aggregate", bound({ publishes: ["CLUSTER_PERSON_EVENTS"] }), "security.users[0].publishes[0]", /has no subjects of its own .*publish to 'PERSON_EVENTS' instead/],
    ["an undeclared consumer", bound({ consumes: ["person-projections"] }), "security.users[0].consumes[0]", /unknown consumer 'person-projections': declared consumers are CLUSTER_PERSON_EVENTS\/person-projection, CLUSTER_PERSON_EVENTS\/pattern-detection/],
    ["a consumer on the wrong stream", bound({ consumes: ["PERSON_EVENTS/person-projection"] }), "security.users[0].consumes[0]", /unknown consumer 'PERSON_EVENTS\/person-projection'/],
    ["an undeclared kv bucket", bound({ reads: { kv: ["NOPE"] } }), "security.users[0].reads.kv[0]", /unknown kv bucket 'NOPE': declared are PERSON_METADATA, CLUSTER_METADATA/],
    ["an undeclared object bucket", bound({ writes: { objects: ["NOPE"] } }), "security.users[0].writes.objects[0]", /unknown object bucket 'NOPE'.*PERSON_OBJECTS, CLUSTER_OBJECTS/],
    ["an unknown bucket kind", bound({ reads: { streams: ["X"] } }), "security.users[0].reads.streams", /unknown field 'streams'.*kv, objects/],
    ["publishing from the hub to a leaf-local stream", bound({ publishes: ["PERSON_EVENTS"] }), "security.users[0].publishes[0]", /stream 'PERSON_EVENTS' does not exist at the hub where 'svc' connects.*deny importing.*Change the user's `at` to nats-1, nats-2, nats-3, cimstor/],
    ["reading a leaf-local bucket from the hub", bound({ reads: { kv: ["PERSON_METADATA"] } }), "security.users[0].reads.kv[0]", /kv bucket \('PERSON_METADATA'\) does not exist at the hub.*leaf-local/],
    ["consuming a hub consumer is fine from a leaf, but a leaf service at one leaf may not publish to another leaf's copy", [{ name: "svc", account: "PLATFORM", at: ["nats-1"], publishes: ["PERSON_EVENTS"], consumes: ["person-projection"] }], "", /^$/],
    ["bindings without at", [{ name: "svc", account: "PLATFORM", publishes: ["PATTERNS"] }], "security.users[0].at", /is required with bindings \(publishes\): say where 'svc' connects/],
    ["an at that is not a place", bound({ at: "everywhere", publishes: ["PATTERNS"] }), "security.users[0].at", /'everywhere' is not a place/],
    ["names that are not a list", bound({ publishes: "PATTERNS" }), "security.users[0].publishes", /must be a list of names/],
    ["a bad served subject", bound({ serves: ["a..b"] }), "security.users[0].serves[0]", /empty token/],
    [
      "one consumer bound to two users (refused: each would silently get part of the stream)",
      [...bound({ consumes: ["person-projection"] }), { name: "svc2", account: "PLATFORM", at: "hub", consumes: ["person-projection"] }],
      "security.users[1].consumes",
      /consumer 'person-projection' on CLUSTER_PERSON_EVENTS \(domain hub\) is bound to users 'svc' and 'svc2'.*Declare one consumer per service/,
    ],
    ["the shared inbox as a prefix", bound({ inboxPrefix: "_INBOX", publishes: ["PATTERNS"] }), "security.users[0].inboxPrefix", /under the shared '_INBOX'.*use '_INBOX_<user>'/],
    ["an inbox prefix with a wildcard", bound({ inboxPrefix: "_INBOX_x.*" }), "security.users[0].inboxPrefix", /must be a literal subject/],
    [
      "inbox prefixes that collide",
      [...bound({ inboxPrefix: "replies.svc" }), { name: "svc2", account: "PLATFORM", at: "hub", inboxPrefix: "replies.svc.two" }],
      "security.users[1].inboxPrefix",
      /'replies.svc.two' of 'svc2' collides with 'replies.svc' of 'svc': each could read the other's replies/,
    ],
    [
      "another user's default inbox taken as a prefix",
      [...bound({}), { name: "svc2", account: "PLATFORM", at: "hub", inboxPrefix: "_INBOX_svc" }],
      "security.users[1].inboxPrefix",
      /collides with '_INBOX_svc' of 'svc'/,
    ],
    ["_INBOX.> in a plain allow list", bound({ subscribe: { allow: ["_INBOX.>"] } }), "security.users[0].subscribe.allow", /shared inbox.*could read every service's replies/],
    [
      "a plain allow list covering another user's inbox",
      [...bound({ subscribe: { allow: [">"] } }), { name: "svc2", account: "PLATFORM", at: "hub" }],
      "security.users[0].subscribe.allow",
      /'>' covers the inbox of 'svc2' \('_INBOX_svc2.>'\).*add '_INBOX_svc2.>' to subscribe.deny/,
    ],
    ["bindings on a leaf-link user", [{ name: "link", account: "PLATFORM", leafLink: "nats-1", at: "leaves" }], "security.users[0].leafLink", /links a leaf; it connects nowhere as a service/],
  ])("%s → %s", (_what, users, propertyPath, reason) => {
    const issues = configIssues(() => parseSecurity(security(users), topology, jetstream));
    if (propertyPath === "") {
      expect(issues).toEqual([]);
      return;
    }
    const issue = issues.find((i) => i.propertyPath === propertyPath);
    expect(issue, JSON.stringify(issues, null, 2)).toBeDefined();
    expect(issue!.reason).toMatch(reason);
  });

  it("an invalid jetstream section is reported once, not again as unknown names in every binding", () => {
    const broken = { ...(dev.jetstream as Raw), streams: [...(dev.jetstream as Raw).streams, { name: "BAD", at: "hub", subjects: ["x.>"], max_bytes: -5 }] };
    const issues = configIssues(() => loadStackModel("dev", { substrate: "local", topology: dev.topology, jetstream: broken, security: rawSecurity }));
    expect(issues.map((i) => i.propertyPath)).toEqual(["jetstream.streams[3].max_bytes"]);
  });
});
