/**
 * The `nats` claims of account and user JWTs (what nsc would write), and the units the config
 * writes them in. Pure.
 */
import { describe, expect, it } from "vitest";
import { accountClaims, bootstrapAccountClaims, operatorClaims, tombstoneAccountClaims, userClaims } from "../../components/security/claims";
import { parseByteSize, parseDurationMs } from "../../components/security/units";
import type { AccountSpec, UserSpec } from "../../components/security/types";

const platform: AccountSpec = {
  name: "PLATFORM",
  system: false,
  kind: "data",
  jetstream: { memoryBytes: 64_000_000, fileBytes: 1_000_000_000, streams: -1, consumers: 100 },
  imports: [{ type: "service", from: "person-service", subject: "person.commands.>", localSubject: "person.commands.>", why: "served by person-service" }],
  exports: [
    { type: "service", subject: "person.events.>", responseType: "Singleton" },
    { type: "service", subject: "$JS.API.CONSUMER.MSG.NEXT.S.C", responseType: "Stream" },
    { type: "stream", subject: "patterns.>" },
  ],
};
const sys: AccountSpec = { name: "SYS", system: true, kind: "system", imports: [], exports: [] };
const person: UserSpec = {
  name: "person-service",
  account: "PLATFORM",
  role: "service",
  signedBy: "signing-key",
  publish: { allow: ["person.events.>"], deny: [] },
  subscribe: { allow: ["person.commands.>", "_INBOX.>"], deny: ["person.commands.admin.>"] },
  responses: { max: 1, ttlMs: 2_000 },
  connectionTypes: ["STANDARD", "WEBSOCKET"],
};

describe("claims", () => {
  it("operator claims name the system account", () => {
    expect(operatorClaims("ASYS")).toEqual({ system_account: "ASYS" });
  });

  it("account claims spell out every limit (an omitted `conn` would read as 0 connections), JetStream, and its links sorted", () => {
    expect(accountClaims(platform, { "person-service": "APERSON" })).toEqual({
      limits: {
        subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1,
        mem_storage: 64_000_000, disk_storage: 1_000_000_000, streams: -1, consumer: 100,
      },
      imports: [{ name: "person.commands.>", subject: "person.commands.>", account: "APERSON", type: "service" }],
      exports: [
        { name: "$JS.API.CONSUMER.MSG.NEXT.S.C", subject: "$JS.API.CONSUMER.MSG.NEXT.S.C", type: "service", response_type: "Stream" },
        { name: "person.events.>", subject: "person.events.>", type: "service", response_type: "Singleton" },
        { name: "patterns.>", subject: "patterns.>", type: "stream" },
      ],
    });
  });

  it("an import from an account without a public key is an error naming it", () => {
    expect(() => accountClaims(platform, {})).toThrow("account 'person-service' (imported from for 'person.commands.>') has no public key");
  });

  it("bootstrap claims depend on nothing but whether the account has JetStream (then unlimited: the server's own limits)", () => {
    expect(bootstrapAccountClaims(platform)).toEqual(bootstrapAccountClaims({ jetstream: { memoryBytes: 1, fileBytes: 2, streams: 3, consumers: 4 } }));
    expect(bootstrapAccountClaims(platform)).toMatchObject({ limits: { mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1, conn: -1 } });
    expect(bootstrapAccountClaims(sys)).toMatchObject({ limits: { mem_storage: 0, disk_storage: 0, streams: 0, consumer: 0 } });
    expect(Object.keys(bootstrapAccountClaims(platform))).toEqual(["limits"]);
  });

  it("a tombstone admits no connection or leaf and revokes every user issued before it", () => {
    expect(tombstoneAccountClaims(1_700_000_000)).toMatchObject({ limits: { conn: 0, leaf: 0 }, revocations: { "*": 1_700_000_000 } });
  });

  it("an account without jetstream (the system account) has JetStream disabled: 0/0", () => {
    expect(accountClaims(sys)).toMatchObject({ limits: { conn: -1, mem_storage: 0, disk_storage: 0, streams: 0, consumer: 0 } });
  });

  it("user claims carry allow/deny, response permissions (TTL in nanoseconds) and connection types", () => {
    expect(userClaims(person)).toEqual({
      pub: { allow: ["person.events.>"] },
      sub: { allow: ["person.commands.>", "_INBOX.>"], deny: ["person.commands.admin.>"] },
      resp: { max: 1, ttl: 2_000_000_000 },
      allowed_connection_types: ["STANDARD", "WEBSOCKET"],
      subs: -1,
      data: -1,
      payload: -1,
    });
  });

  it("a full-access user has empty pub/sub and no resp; no connection types means any", () => {
    const admin: UserSpec = { ...person, publish: { allow: [], deny: [] }, subscribe: { allow: [], deny: [] }, responses: undefined, connectionTypes: [] };
    expect(userClaims(admin)).toEqual({ pub: {}, sub: {}, subs: -1, data: -1, payload: -1 });
  });
});

describe("units", () => {
  it.each([
    ["256M", 256_000_000],
    ["2G", 2_000_000_000],
    ["1T", 1e12],
    ["123", 123],
    [4096, 4096],
    [-1, -1],
    ["-1", -1],
  ])("size %j is %d bytes (nats-server's own reading)", (input, bytes) => {
    expect(parseByteSize(input)).toBe(bytes);
  });

  it.each([["1.5G"], ["lots"], ["-2"], [-5], [1.5], [null], ["G"], ["1GB"], ["512KiB"]])("size %j is refused with a reason", (input) => {
    expect(parseByteSize(input)).toEqual(expect.stringMatching(/not a (size|whole number)/));
  });

  it.each([
    ["500ms", 500],
    ["2s", 2_000],
    ["5m", 300_000],
    ["1h", 3_600_000],
    ["1.5s", 1_500],
  ])("duration %s is %d ms", (input, ms) => {
    expect(parseDurationMs(input)).toBe(ms);
  });

  it.each([["2"], ["1d"], [5], ["2sec"]])("duration %j is refused with a reason", (input) => {
    expect(parseDurationMs(input)).toEqual(expect.stringMatching(/not a duration/));
  });
});
