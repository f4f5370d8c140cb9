/**
 * `cim-nats:security` → SecuritySpec: what the stack config declares, what the topology implies
 * (leaf-link users, JetStream admin, system monitor), and every bad input named by its path.
 */
import { describe, expect, it } from "vitest";
import { parseJetStream } from "../../components/jetstream/spec";
import { parseSecurity } from "../../components/security/parse";
import { DEFAULT_CONNECTION_TYPES } from "../../components/security/schema";
import { JETSTREAM_ADMIN_USER, SYSTEM_MONITOR_USER, UserRole } from "../../components/security/types";
import { parseTopology } from "../../components/topology/parse";
import { serverHash } from "../../components/security/leaf-links";
import { readStackConfig } from "../support/stack-config";
import { configIssues } from "./support/config-issues";

const topology = parseTopology(readStackConfig("dev").topology, { name: "dev" });
const leafNames = topology.leaves.map((l) => l.serverName);

/** A valid config in the dev stack's shape; each case changes one thing. */
function base(): Record<string, any> {
  return {
    operator: "COWBOY_AI",
    systemAccount: "SYS",
    accounts: [{ name: "PLATFORM", jetstream: { maxMemory: "32M", maxFile: "512M", maxStreams: -1, maxConsumers: -1 } }],
    users: [
      { name: "person-service", account: "PLATFORM", publish: { allow: ["person.events.>"] }, subscribe: { allow: ["person.commands.>"] }, allowResponses: true },
      { name: "projection-service", account: "PLATFORM", publish: { allow: ["*.projections.>"] }, subscribe: { allow: ["*.events.>"] } },
    ],
  };
}

describe("parseSecurity: what the config declares", () => {
  const spec = parseSecurity(base(), topology);

  it("keeps operator, system account and the application account, with JetStream limits in bytes", () => {
    expect(spec.operator).toBe("COWBOY_AI");
    expect(spec.systemAccount).toBe("SYS");
    expect(spec.applicationAccount).toBe("PLATFORM");
    expect(spec.accounts).toEqual([
      { name: "PLATFORM", system: false, kind: "data", jetstream: { memoryBytes: 32_000_000, fileBytes: 512_000_000, streams: -1, consumers: -1 }, imports: [], exports: [] },
      { name: "SYS", system: true, kind: "system", imports: [], exports: [] },
    ]);
  });

  it("keeps declared permissions and response permissions; services connect as clients only", () => {
    const person = spec.users.find((u) => u.name === "person-service")!;
    expect(person).toEqual({
      name: "person-service",
      account: "PLATFORM",
      role: UserRole.Service,
      signedBy: "signing-key",
      publish: { allow: ["person.events.>"], deny: [] },
      subscribe: { allow: ["person.commands.>"], deny: [] },
      responses: { max: 1, ttlMs: 0 },
      connectionTypes: ["STANDARD", "WEBSOCKET"],
      inboxPrefix: "_INBOX_person-service",
      grants: [],
    });
    expect(spec.users.find((u) => u.name === "projection-service")!.responses).toBeUndefined();
  });

  it("derives a leaf-link and a system-link user per leaf (LEAFNODE only), the JetStream admin and the system monitor", () => {
    const derived = spec.users.filter((u) => u.role !== UserRole.Service);
    expect(derived.map((u) => [u.name, u.account, u.role, u.leafLink ?? "", u.connectionTypes.join(","), u.signedBy])).toEqual([
      ...leafNames.map((l) => [`leaf-${l}`, "PLATFORM", UserRole.LeafLink, l, "LEAFNODE", "signing-key"]),
      ...leafNames.map((l) => [`leaf-${l}-sys`, "SYS", UserRole.SystemLink, l, "LEAFNODE", "signing-key"]),
      [JETSTREAM_ADMIN_USER, "PLATFORM", UserRole.JetStreamAdmin, "", DEFAULT_CONNECTION_TYPES.join(","), "account"],
      [SYSTEM_MONITOR_USER, "SYS", UserRole.SystemMonitor, "", DEFAULT_CONNECTION_TYPES.join(","), "account"],
    ]);
    // Leaf links carry only what bindings need (none here, no JetStream declared): deny-all.
    for (const u of derived.filter((x) => x.role === UserRole.LeafLink)) expect([u.publish, u.subscribe]).toEqual([{ allow: [], deny: [">"] }, { allow: [], deny: [">"] }]);
    // System links: JWT updates in, the leaf's own resolver requests out, replies on its own system inbox only.
    const sys1 = derived.find((u) => u.name === "leaf-nats-1-sys")!;
    expect([sys1.publish, sys1.subscribe]).toEqual([
      { allow: ["$SYS.REQ.CLAIMS.PACK", "$SYS.REQ.ACCOUNT.*.CLAIMS.LOOKUP"], deny: [] },
      { allow: ["$SYS.REQ.CLAIMS.UPDATE", "$SYS.REQ.ACCOUNT.*.CLAIMS.UPDATE", `$SYS._INBOX.${serverHash("nats-1")}.*`], deny: [] },
    ]);
    for (const u of derived.filter((x) => x.role === UserRole.JetStreamAdmin || x.role === UserRole.SystemMonitor)) expect([u.publish, u.subscribe]).toEqual([{ allow: [], deny: [] }, { allow: [], deny: [] }]);
    expect(spec.leafLinks).toEqual(Object.fromEntries(leafNames.map((l) => [l, `leaf-${l}`])));
    expect(spec.systemLinks).toEqual(Object.fromEntries(leafNames.map((l) => [l, `leaf-${l}-sys`])));
  });

  it("serverHash is nats-server's: the system inbox token it uses for a server name", () => {
    // events.go getHash: sha256, first 8 bytes each mapped onto 62 digits (checked against a real server's $SYS._INBOX in the leaf-links test).
    expect(serverHash("nats-1")).toMatch(/^[0-9A-Za-z]{8}$/);
    expect(serverHash("nats-1")).not.toBe(serverHash("nats-2"));
  });

  it("returns frozen data", () => {
    expect(Object.isFrozen(spec)).toBe(true);
    expect(Object.isFrozen(spec.users[0].publish.allow)).toBe(true);
  });

  it.each([
    ["requestReply adds the user's own inbox (never _INBOX.>)", { requestReply: true }, ["person.commands.>", "_INBOX_person-service.>"]],
    ["requestReply takes a declared inbox prefix", { requestReply: true, inboxPrefix: "_INBOX_people" }, ["person.commands.>", "_INBOX_people.>"]],
    ["requestReply keeps an inbox already allowed", { requestReply: true, subscribe: { allow: ["_INBOX_person-service.>", "x.>"] } }, ["_INBOX_person-service.>", "x.>"]],
    ["requestReply adds nothing when subscribe has no allow list (all allowed)", { requestReply: true, subscribe: { deny: ["secret.>"] } }, []],
  ])("%s", (_what, change, allow) => {
    const raw = base();
    raw.users[0] = { ...raw.users[0], ...change };
    expect(parseSecurity(raw, topology).users[0].subscribe.allow).toEqual(allow);
  });

  it.each([
    [true, { max: 1, ttlMs: 0 }],
    [false, undefined],
    [{ max: 3, ttl: "5s" }, { max: 3, ttlMs: 5_000 }],
    [{ ttl: "250ms" }, { max: 1, ttlMs: 250 }],
  ])("allowResponses %j → %j", (allowResponses, responses) => {
    const raw = base();
    raw.users[0] = { ...raw.users[0], allowResponses };
    expect(parseSecurity(raw, topology).users[0].responses).toEqual(responses);
  });

  it("takes declared leaf-link users instead of derived ones, with their own permissions", () => {
    const raw = base();
    raw.users.push(
      ...leafNames.map((l) => ({ name: `link-${l}`, account: "PLATFORM", leafLink: l, subscribe: { deny: ["secret.>"] } })),
    );
    const spec = parseSecurity(raw, topology);
    expect(spec.leafLinks).toEqual(Object.fromEntries(leafNames.map((l) => [l, `link-${l}`])));
    expect(spec.users.filter((u) => u.role === UserRole.LeafLink).map((u) => u.name)).toEqual(leafNames.map((l) => `link-${l}`));
    const link = spec.users.find((u) => u.name === "link-nats-1")!;
    expect(link.connectionTypes).toEqual(["LEAFNODE"]);
    expect(link.subscribe.deny).toEqual(["secret.>"]);
  });

  it("takes declared connection types", () => {
    const raw = base();
    raw.users[0] = { ...raw.users[0], connectionTypes: ["STANDARD", "MQTT"] };
    expect(parseSecurity(raw, topology).users[0].connectionTypes).toEqual(["STANDARD", "MQTT"]);
  });

  it("needs applicationAccount only with several accounts", () => {
    const raw = base();
    raw.accounts.push({ name: "BILLING" });
    raw.applicationAccount = "PLATFORM";
    const spec = parseSecurity(raw, topology);
    expect(spec.accounts.map((a) => a.name)).toEqual(["PLATFORM", "BILLING", "SYS"]);
    expect(spec.accounts[1].jetstream).toBeUndefined();
    expect(spec.users.find((u) => u.name === JETSTREAM_ADMIN_USER)!.account).toBe("PLATFORM");
  });
});

type Change = (raw: Record<string, any>) => unknown;
const user0 = (change: Record<string, unknown>): Change => (raw) => {
  raw.users[0] = { ...raw.users[0], ...change };
};

describe("parseSecurity: bad input is named by its path", () => {
  it.each<[string, Change, string, RegExp]>([
    ["operator missing", (r) => void delete r.operator, "security.operator", /is required/],
    ["operator not a token", (r) => void (r.operator = "COWBOY.AI"), "security.operator", /cannot contain '\.'/],
    ["unknown field", (r) => void (r.usres = []), "security.usres", /unknown field 'usres'/],
    ["no accounts", (r) => void (r.accounts = []), "security.accounts", /at least one application account/],
    ["duplicate account", (r) => void r.accounts.push({ name: "PLATFORM" }), "security.accounts[1].name", /duplicate account name 'PLATFORM'/],
    ["system account listed as an account", (r) => void r.accounts.push({ name: "SYS" }), "security.accounts[1].name", /is the system account/],
    ["size that is not a size", (r) => void (r.accounts[0].jetstream.maxMemory = "lots"), "security.accounts[0].jetstream.maxMemory", /'lots' is not a size/],
    ["count that is not a count", (r) => void (r.accounts[0].jetstream.maxStreams = 1.5), "security.accounts[0].jetstream.maxStreams", /not a count/],
    [
      "account file limit larger than a leaf's (Pulumi.dev.yaml's 2G vs the dev leaves' 1G)",
      (r) => void (r.accounts[0].jetstream.maxFile = "2G"),
      "security.accounts[0].jetstream.maxFile",
      /2000000000 bytes\) exceeds leaf 'nats-1' JetStream max_file 1G .*10028/,
    ],
    [
      "account memory limit larger than a leaf's (Pulumi.dev.yaml's 256M vs 64M)",
      (r) => void (r.accounts[0].jetstream.maxMemory = "256M"),
      "security.accounts[0].jetstream.maxMemory",
      /exceeds leaf 'nats-1' JetStream max_mem 64M/,
    ],
    ["applicationAccount unknown", (r) => void (r.applicationAccount = "NOPE"), "security.applicationAccount", /"NOPE" is not a declared account/],
    ["several accounts, no applicationAccount", (r) => void r.accounts.push({ name: "BILLING" }), "security.applicationAccount", /is required with several accounts/],
    ["users not a list", (r) => void (r.users = { a: 1 }), "security.users", /must be a list/],
    ["unknown account in a user", user0({ account: "BILLING" }), "security.users[0].account", /unknown account "BILLING": use one of PLATFORM, SYS/],
    ["user without account", (r) => void delete r.users[0].account, "security.users[0].account", /is required/],
    ["user name not usable as a file name", user0({ name: "person service" }), "security.users[0].name", /not a valid user name/],
    ["duplicate user names", (r) => void (r.users[1].name = "person-service"), "security.users[1].name", /duplicate user name 'person-service' \(also security.users\[0\]\)/],
    ["name reserved for the JetStream admin", user0({ name: "jetstream-admin" }), "security.users[0].name", /reserved for the derived jetstream-admin user/],
    ["name reserved for a derived leaf-link user", user0({ name: "leaf-nats-2" }), "security.users[0].name", /leaf 'nats-2'.*leafLink: nats-2/],
    ["empty token in a permission", user0({ publish: { allow: ["person..events"] } }), "security.users[0].publish.allow[0]", /empty token at position 2/],
    ["wildcard inside a token", user0({ subscribe: { allow: ["person.ev*nts"] } }), "security.users[0].subscribe.allow[0]", /wildcards '\*' and '>' must be whole tokens/],
    ["'>' not last", user0({ subscribe: { deny: ["a.>.b"] } }), "security.users[0].subscribe.deny[0]", /'>' only as the last token/],
    ["subject not a string", user0({ publish: { deny: [42] } }), "security.users[0].publish.deny[0]", /must be a subject string/],
    ["subject listed twice", user0({ publish: { allow: ["a.>", "a.>"] } }), "security.users[0].publish.allow[1]", /listed twice/],
    ["unknown permission field", user0({ publish: { allwo: ["a"] } }), "security.users[0].publish.allwo", /did you mean 'allow'\?|allowed are allow, deny/],
    ["bad response TTL", user0({ allowResponses: { ttl: "soon" } }), "security.users[0].allowResponses.ttl", /'soon' is not a duration/],
    ["bad response max", user0({ allowResponses: { max: 0 } }), "security.users[0].allowResponses.max", /positive whole number/],
    ["requestReply not a boolean", user0({ requestReply: "yes" }), "security.users[0].requestReply", /true or false/],
    ["unknown connection type", user0({ connectionTypes: ["TELNET"] }), "security.users[0].connectionTypes[0]", /unknown connection type "TELNET"/],
    ["leafLink to a server that is not a leaf", user0({ leafLink: "nats-1-hub" }), "security.users[0].leafLink", /not a leaf server.*nats-1, nats-2, nats-3, cimstor/],
    ["leaf-link user in the system account", user0({ account: "SYS", leafLink: "nats-1" }), "security.users[0].account", /system account/],
    [
      "a leaf without a leaf-link user (others declared)",
      (r) => void r.users.push(...["nats-1", "nats-2", "nats-3"].map((l) => ({ name: `link-${l}`, account: "PLATFORM", leafLink: l }))),
      "security.users",
      /leaf 'cimstor' has no leaf-link user: add a user with `leafLink: cimstor`/,
    ],
    [
      "two leaf-link users for one leaf",
      (r) => void r.users.push(...[...leafNames, "nats-1"].map((l, i) => ({ name: `link-${i}`, account: "PLATFORM", leafLink: l }))),
      "security.users[6].leafLink",
      /leaf 'nats-1' already has leaf-link user 'link-0'/,
    ],
  ])("%s → %s", (_what, change, propertyPath, reason) => {
    const raw = base();
    change(raw);
    const issues = configIssues(() => parseSecurity(raw, topology));
    const issue = issues.find((i) => i.propertyPath === propertyPath);
    expect(issue, JSON.stringify(issues, null, 2)).toBeDefined();
    expect(issue!.reason).toMatch(reason);
  });

  it("a missing `cim-nats:security` says where to set it", () => {
    expect(configIssues(() => parseSecurity(undefined, topology))).toEqual([
      { propertyPath: "security", reason: expect.stringMatching(/set `cim-nats:security` in Pulumi.<stack>.yaml/) },
    ]);
  });

  it("names a user by its index in the config even after an entry that is not a user", () => {
    const raw = base();
    raw.users = ["oops", { ...raw.users[0], account: "NOPE" }];
    expect(configIssues(() => parseSecurity(raw, topology)).map((i) => i.propertyPath)).toEqual(["security.users[0]", "security.users[1].account"]);
  });

  it("reports every problem at once", () => {
    const raw = base();
    raw.users.push({ name: "person-service", account: "NOPE", publish: { allow: ["bad..subject"] } });
    const issues = configIssues(() => parseSecurity(raw, topology));
    expect(issues.map((i) => i.propertyPath)).toEqual(["security.users[2].name", "security.users[2].account", "security.users[2].publish.allow[0]"]);
  });

  it("parses the dev stack's users and accounts (account limits fitted to the leaves)", () => {
    const raw = readStackConfig("dev").security as Record<string, any>;
    const jetstream = parseJetStream(readStackConfig("dev").jetstream, topology);
    // Pulumi.dev.yaml declared PLATFORM 256M/2G against 64M/1G leaves; nothing else may be wrong.
    const issues = configIssues(() => parseSecurity(raw, topology, jetstream));
    expect(issues.filter((i) => !/^security\.accounts\[0\]\.jetstream\.max(Memory|File)$/.test(i.propertyPath))).toEqual([]);
    const fitted = { ...raw, accounts: [{ ...raw.accounts[0], jetstream: { ...raw.accounts[0].jetstream, maxMemory: "64M", maxFile: "1G" } }] };
    expect(parseSecurity(fitted, topology, jetstream).users.map((u) => u.name)).toEqual([
      "person-service",
      "projection-service",
      "pattern-service",
      "cid-service",
      ...leafNames.map((l) => `leaf-${l}`),
      ...leafNames.map((l) => `leaf-${l}-sys`),
      JETSTREAM_ADMIN_USER,
      SYSTEM_MONITOR_USER,
    ]);
  });
});
