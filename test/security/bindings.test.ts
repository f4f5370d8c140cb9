/**
 * Service bindings → derived permissions (pure): the reference services' exact permissions, the
 * inbox rules, the contexts per place, and every bad binding named by field, value and fix.
 */
import { describe, expect, it } from "vitest";
import { leafLocalSubjects, parseJetStream, streamSubjects } from "../../components/jetstream/spec";
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
  const leafDomains = ["nats-1", "nats-2", "nats-3", "cimstor"];
  /** `$JS.API.<rest>` and each listed domain's `$JS.<domain>.API.<rest>`: what a service in its own account must be granted and import. */
  const bothForms = (rest: string, domains: readonly string[]) => [`$JS.API.${rest}`, ...domains.map((d) => `$JS.${d}.API.${rest}`)];

  it("person-service at the leaves: its stream's subjects, gets on its local metadata bucket (both API forms), its commands, its inbox — no consumer creation", () => {
    const u = user("person-service");
    expect(u.account).toBe("person-service");
    expect(u.inboxPrefix).toBe("_INBOX_person-service");
    expect(u.places?.map((p) => `${p.name}:${p.domain}`)).toEqual(["nats-1:nats-1", "nats-2:nats-2", "nats-3:nats-3", "cimstor:cimstor"]);
    expect(u.publish).toEqual({
      allow: [
        "person.events.>",
        ...bothForms("STREAM.INFO.KV_PERSON_METADATA", leafDomains),
        ...bothForms("DIRECT.GET.KV_PERSON_METADATA.>", leafDomains),
        ...bothForms("STREAM.MSG.GET.KV_PERSON_METADATA", leafDomains),
        ...bothForms("INFO", leafDomains),
      ],
      deny: [],
    });
    expect(u.publish.allow.some((s) => s.includes("CONSUMER.CREATE") || s.startsWith("$JS.FC."))).toBe(false);
    expect(u.subscribe).toEqual({ allow: ["person.commands.>", "_INBOX_person-service.>"], deny: [] });
    expect(u.responses).toEqual({ max: 1, ttlMs: 0 });
  });

  it.each([
    ["projection-service", "person-projection", "person.projections.>"],
    ["pattern-service", "pattern-detection", "patterns.>"],
  ])("%s at the hub: exactly its consumer %s, its output stream %s, its inbox", (name, consumer, out) => {
    const u = user(name);
    expect(u.account).toBe(name);
    expect(u.publish.allow).toEqual([
      out,
      ...bothForms(`CONSUMER.INFO.CLUSTER_PERSON_EVENTS.${consumer}`, ["hub"]),
      ...bothForms(`CONSUMER.MSG.NEXT.CLUSTER_PERSON_EVENTS.${consumer}`, ["hub"]),
      `$JS.ACK.CLUSTER_PERSON_EVENTS.${consumer}.>`,
      ...bothForms("INFO", ["hub"]),
    ]);
    expect(u.subscribe.allow).toEqual([`_INBOX_${name}.>`]);
    expect(u.responses).toBeUndefined();
    expect(u.grants?.find((g) => g.subject.includes("MSG.NEXT"))?.why).toBe(`consumes CLUSTER_PERSON_EVENTS/${consumer}`);
  });

  it("each service lives in an account of its own with JetStream off, importing exactly what its user may send; PLATFORM exports exactly those", () => {
    const platform = devSpec.accounts.find((a) => a.name === "PLATFORM")!;
    for (const name of ["person-service", "projection-service", "pattern-service", "cid-service"]) {
      const account = devSpec.accounts.find((a) => a.name === name)!;
      expect([account.kind, account.jetstream], name).toEqual(["service", undefined]);
      // Every subject its user may publish is imported from PLATFORM under the same name, and nothing else.
      expect(account.imports.map((i) => [i.type, i.from, i.subject, i.localSubject]), name).toEqual(
        user(name).publish.allow.map((s) => ["service", "PLATFORM", s, s]),
      );
      for (const i of account.imports) expect(platform.exports.some((e) => e.type === "service" && e.subject === i.subject), `${name} ${i.subject}`).toBe(true);
    }
    const exported = new Set(platform.exports.map((e) => e.subject));
    const imported = new Set(devSpec.accounts.flatMap((a) => a.imports.filter((i) => i.from === "PLATFORM").map((i) => i.subject)));
    expect([...exported].sort()).toEqual([...imported].sort());
    // Pull requests are answered by a stream of messages; everything else by one.
    expect(platform.exports.filter((e) => e.responseType === "Stream").map((e) => e.subject)).toEqual(
      platform.exports.filter((e) => /MSG\.NEXT|DIRECT\.GET/.test(e.subject)).map((e) => e.subject),
    );
    // What services serve, PLATFORM imports from their accounts (requests are answered where they connect).
    expect(platform.imports.map((i) => [i.from, i.subject])).toEqual([
      ["person-service", "person.commands.>"],
      ["cid-service", "cimstor.objects.>"],
    ]);
    expect(devSpec.accounts.find((a) => a.name === "person-service")!.exports).toEqual([{ type: "service", subject: "person.commands.>", responseType: "Singleton" }]);
  });

  it("the derived admin users are signed by their account's key (they work with the bootstrap JWT alone); everyone else by a signing key of their own", () => {
    const byAccount = devSpec.users.filter((u) => u.signedBy === "account").map((u) => u.name);
    expect(byAccount).toEqual(["jetstream-admin", "sys-monitor"]);
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
        { name: "leafy", at: ["nats-1"], consumes: ["person-projection"], reads: { kv: ["CLUSTER_METADATA"] }, writes: { kv: ["CLUSTER_METADATA"] } },
        { name: "hubby", at: "hub", reads: { objects: ["CLUSTER_OBJECTS"] }, writes: { objects: ["CLUSTER_OBJECTS"] } },
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
      "$KV.CLUSTER_METADATA.>",
      "$JS.hub.API.INFO",
    ]);
    // Every one of them leaves nats-1 over its application link, toward the hub domain.
    expect(leafy.dataImports?.every((i) => i.crossesFrom.join() === "nats-1" && i.targetDomain === "hub")).toBe(true);
    const hubby = spec.users.find((u) => u.name === "hubby")!;
    expect(hubby.publish.allow).toContain("$JS.cimstor.API.STREAM.INFO.OBJ_CLUSTER_OBJECTS");
    expect(hubby.publish.allow).toContain("$O.CLUSTER_OBJECTS.>");
    expect(hubby.publish.allow).toContain("$JS.cimstor.API.STREAM.PURGE.OBJ_CLUSTER_OBJECTS");
    expect(hubby.dataImports?.every((i) => i.crossesFrom.join() === "hub" && i.targetDomain === "cimstor")).toBe(true);
    // cimstor's link lets those in and the replies (through the import mapping: _R_) out; nats-1's lets leafy's out and replies in.
    const link = (leaf: string) => spec.users.find((u) => u.name === `leaf-${leaf}`)!;
    expect(link("cimstor").subscribe.allow).toEqual(expect.arrayContaining(["$JS.cimstor.API.>", "$O.CLUSTER_OBJECTS.>"]));
    expect(link("cimstor").publish.allow).toContain("_R_.>");
    expect(link("nats-1").publish.allow).toEqual(expect.arrayContaining(["$JS.hub.API.CONSUMER.MSG.NEXT.CLUSTER_PERSON_EVENTS.person-projection", "$KV.CLUSTER_METADATA.>"]));
    expect(link("nats-1").subscribe.allow).toContain("_R_.>");
    // A leaf no service crosses from carries no service replies at all.
    expect([...link("nats-2").publish.allow, ...link("nats-2").subscribe.allow].some((s) => s.startsWith("_R_"))).toBe(false);
  });

  it("plain allow lists are kept beside the bindings; users without bindings keep their lists (and name their account)", () => {
    const spec = parseSecurity(
      security([
        { name: "mixed", at: "hub", publishes: ["PATTERNS"], publish: { allow: ["audit.>"] }, subscribe: { deny: ["secret.>"] } },
        { name: "plain", account: "PLATFORM", publish: { allow: ["a.>"] }, subscribe: { allow: ["b.>"] }, requestReply: true },
      ]),
      topology,
      jetstream,
    );
    const mixed = spec.users.find((u) => u.name === "mixed")!;
    expect(mixed.publish.allow).toEqual(["audit.>", "patterns.>"]);
    expect(mixed.subscribe).toEqual({ allow: ["_INBOX_mixed.>"], deny: ["secret.>"] });
    expect(mixed.account).toBe("mixed");
    const plain = spec.users.find((u) => u.name === "plain")!;
    expect([plain.account, plain.subscribe.allow]).toEqual(["PLATFORM", ["b.>", "_INBOX_plain.>"]]);
  });

  it("services naming one trust group share its account, whose imports are the union of theirs", () => {
    const spec = parseSecurity(
      security([
        { name: "reader", account: "TEAM", at: "hub", consumes: ["person-projection"] },
        { name: "writer", account: "TEAM", at: "hub", publishes: ["PATTERNS"] },
      ]),
      topology,
      jetstream,
    );
    const team = spec.accounts.find((a) => a.name === "TEAM")!;
    expect(team.kind).toBe("service");
    expect(team.imports.map((i) => i.subject)).toEqual([...spec.users.find((u) => u.name === "reader")!.publish.allow, "patterns.>"]);
    expect(spec.accounts.map((a) => a.name)).toEqual(["PLATFORM", "TEAM", "SYS"]);
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

const bound = (over: Raw): Raw[] => [{ name: "svc", at: "hub", ...over }];

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
    ["consuming a hub consumer is fine from a leaf, but a leaf service at one leaf may not publish to another leaf's copy", [{ name: "svc", at: ["nats-1"], publishes: ["PERSON_EVENTS"], consumes: ["person-projection"] }], "", /^$/],
    ["bindings without at", [{ name: "svc", publishes: ["PATTERNS"] }], "security.users[0].at", /is required with bindings \(publishes\): say where 'svc' connects/],
    ["an at that is not a place", bound({ at: "everywhere", publishes: ["PATTERNS"] }), "security.users[0].at", /'everywhere' is not a place/],
    ["names that are not a list", bound({ publishes: "PATTERNS" }), "security.users[0].publishes", /must be a list of names/],
    ["a bad served subject", bound({ serves: ["a..b"] }), "security.users[0].serves[0]", /empty token/],
    [
      "one consumer bound to two users (refused: each would silently get part of the stream)",
      [...bound({ consumes: ["person-projection"] }), { name: "svc2", at: "hub", consumes: ["person-projection"] }],
      "security.users[1].consumes",
      /consumer 'person-projection' on CLUSTER_PERSON_EVENTS \(domain hub\) is bound to users 'svc' and 'svc2'.*Declare one consumer per service/,
    ],
    ["the shared inbox as a prefix", bound({ inboxPrefix: "_INBOX", publishes: ["PATTERNS"] }), "security.users[0].inboxPrefix", /under the shared '_INBOX'.*use '_INBOX_<user>'/],
    ["an inbox prefix with a wildcard", bound({ inboxPrefix: "_INBOX_x.*" }), "security.users[0].inboxPrefix", /must be a literal subject/],
    [
      "inbox prefixes that collide",
      [...bound({ inboxPrefix: "replies.svc" }), { name: "svc2", at: "hub", inboxPrefix: "replies.svc.two" }],
      "security.users[1].inboxPrefix",
      /'replies.svc.two' of 'svc2' collides with 'replies.svc' of 'svc': each could read the other's replies/,
    ],
    [
      "another user's default inbox taken as a prefix",
      [...bound({}), { name: "svc2", at: "hub", inboxPrefix: "_INBOX_svc" }],
      "security.users[1].inboxPrefix",
      /collides with '_INBOX_svc' of 'svc'/,
    ],
    ["_INBOX.> in a plain allow list", bound({ subscribe: { allow: ["_INBOX.>"] } }), "security.users[0].subscribe.allow", /shared inbox.*could read every service's replies/],
    [
      "a plain allow list covering another user's inbox",
      [...bound({ subscribe: { allow: [">"] } }), { name: "svc2", at: "hub" }],
      "security.users[0].subscribe.allow",
      /'>' covers the inbox of 'svc2' \('_INBOX_svc2.>'\).*add '_INBOX_svc2.>' to subscribe.deny/,
    ],
    ["bindings on a leaf-link user", [{ name: "link", account: "PLATFORM", leafLink: "nats-1", at: "leaves" }], "security.users[0].leafLink", /links a leaf; it connects nowhere as a service/],
    [
      "a service in the data account (its replies could make JetStream write any stream there)",
      bound({ account: "PLATFORM", publishes: ["PATTERNS"] }),
      "security.users[0].account",
      /'PLATFORM' holds JetStream .* through the reply subject of a request it may send\. Remove `account` \(the service gets an account of its own/,
    ],
    ["a service in the system account", bound({ account: "SYS", publishes: ["PATTERNS"] }), "security.users[0].account", /'SYS' is the system account: services with bindings live in accounts of their own/],
    ["a service whose own account would take a data account's name", [{ name: "PLATFORM", at: "hub", publishes: ["PATTERNS"] }], "security.users[0].name", /would get an account of its own named 'PLATFORM', but that is a declared account with JetStream: rename the user/],
    [
      "two accounts serving overlapping subjects",
      [...bound({ serves: ["orders.>"] }), { name: "svc2", at: "hub", serves: ["orders.create"] }],
      "security.users[1].serves[0]",
      /'orders.create' overlaps 'orders.>' served by 'svc' \(account 'svc'\): each request would reach both services.*trust group/,
    ],
    ["one trust group may serve overlapping subjects (instances of one service)", [...bound({ account: "TEAM", serves: ["orders.>"] }), { name: "svc2", account: "TEAM", at: "hub", serves: ["orders.create"] }], "", /^$/],
    ["a user without bindings and without an account", [{ name: "plain", publish: { allow: ["a.>"] } }], "security.users[0].account", /is required for a user without bindings: use one of PLATFORM, SYS, or declare what it does/],
    ["a plain user joining a service's account", [...bound({ publishes: ["PATTERNS"] }), { name: "tool", account: "svc", publish: { allow: ["x.>"] } }], "", /^$/],
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

describe("leaf-local stores: the leaves' deny-imports and the service grants read one definition", () => {
  // Bare streams (no `subjects`) capture their name, as nats-server defaults them; at several
  // leaves a store is leaf-local (its subjects denied on the leaves' imports), at one host it is not.
  const rawJs = dev.jetstream as Raw;
  const bare = [
    { name: "BARE_LEAVES", at: "leaves", storage: "file", replicas: 1 },
    { name: "BARE_PAIR", at: ["nats-1", "nats-2"], storage: "file", replicas: 1 },
    { name: "BARE_ONE", at: ["cimstor"], storage: "file", replicas: 1 },
  ];
  const js = parseJetStream({ ...rawJs, streams: [...rawJs.streams, ...bare] }, topology);
  const denied = leafLocalSubjects(js);
  const fromHub = (stream: string) => configIssues(() => parseSecurity(security([{ name: "svc", at: "hub", publishes: [stream] }]), topology, js));

  it("a bare stream's subjects default to its name in both: denied at the leaves when leaf-local, granted across the link when at one host", () => {
    expect(denied).toEqual(expect.arrayContaining(["BARE_LEAVES", "BARE_PAIR"]));
    expect(denied).not.toContain("BARE_ONE");
    const svc = parseSecurity(security([{ name: "svc", at: "hub", publishes: ["BARE_ONE"] }]), topology, js).users.find((u) => u.name === "svc")!;
    expect(svc.publish.allow).toEqual(["BARE_ONE"]);
    expect(svc.dataImports?.map((i) => [i.subject, i.targetDomain])).toEqual([["BARE_ONE", "cimstor"]]);
  });

  it.each([...new Set(js.streams.filter((s) => s.location.level === "leaf").map((s) => s.config.name))])(
    "%s: a hub service may publish to it exactly when the leaves do not deny its subjects",
    (name) => {
      const subjects = streamSubjects(js.streams.find((s) => s.config.name === name)!.config);
      const leafLocal = subjects.every((x) => denied.includes(x));
      expect(subjects.some((x) => denied.includes(x))).toBe(leafLocal);
      const refused = fromHub(name).some((i) => i.propertyPath === "security.users[0].publishes[0]" && /leaves deny importing its subjects/.test(i.reason));
      expect(refused).toBe(leafLocal);
    },
  );
});
