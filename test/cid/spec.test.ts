/**
 * The CID service's declaration (Pulumi.dev.yaml `cim-nats:cidService` and its `cid-service`
 * user): the spec the stack derives, the user's least-privilege permissions, bad sections named
 * by path. Pure.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { load } from "js-yaml";
import { describe, expect, it } from "vitest";
import { cidServiceOutput, parseCidService } from "../../components/cid/spec";
import { parseJetStream } from "../../components/jetstream/spec";
import { parseSecurity } from "../../components/security/parse";
import { parseTopology } from "../../components/topology/parse";
import { ConfigError } from "../../components/topology/types";
import { PROJECT_ROOT, readStackConfig } from "../support/stack-config";

const dev = readStackConfig("dev");
const doc = load(readFileSync(join(PROJECT_ROOT, "Pulumi.dev.yaml"), "utf8")) as { config: Record<string, unknown> };
const rawCid = doc.config["cim-nats:cidService"] as Record<string, unknown>;
const topology = parseTopology(dev.topology, { name: "dev" });
const jetstream = parseJetStream(dev.jetstream, topology);
const security = parseSecurity(dev.security, topology, jetstream);

function issues(raw: unknown): string[] {
  try {
    parseCidService(raw, topology, jetstream, security);
    return [];
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return e.issues.map((i) => `${i.propertyPath}: ${i.reason}`);
  }
}

describe("cidService in the dev stack", () => {
  it("serves at cimstor with its own user, bucket and subjects", () => {
    const spec = parseCidService(rawCid, topology, jetstream, security)!;
    expect(cidServiceOutput(spec)).toEqual({
      leaf: "cimstor",
      host: "cimstor",
      address: "127.0.0.2",
      clientUrl: "nats://127.0.0.2:4222",
      jetstreamDomain: "cimstor",
      user: "cid-service",
      inboxPrefix: "_INBOX_cid-service",
      bucket: "CLUSTER_OBJECTS",
      subjectPrefix: "cimstor.objects",
      healthPort: 8290,
      maxPendingBytes: 256 * 1024 * 1024,
      healthUrl: "http://127.0.0.2:8290/healthz",
      putSubject: "cimstor.objects.put",
      getSubject: "cimstor.objects.get.<cid>",
    });
  });

  it("its user may do exactly what the service does: its bucket at cimstor, its subjects, its inbox", () => {
    const u = security.users.find((x) => x.name === "cid-service")!;
    // Gets by message (never a consumer it could leave behind), writes, purges of its own bucket;
    // each API subject in both forms (its account has no JetStream to map cimstor's prefix).
    const both = (rest: string) => [`$JS.API.${rest}`, `$JS.cimstor.API.${rest}`];
    expect([...u.publish.allow].sort()).toEqual(
      [
        ...both("INFO"),
        ...both("STREAM.INFO.OBJ_CLUSTER_OBJECTS"),
        ...both("DIRECT.GET.OBJ_CLUSTER_OBJECTS.>"),
        ...both("STREAM.MSG.GET.OBJ_CLUSTER_OBJECTS"),
        "$O.CLUSTER_OBJECTS.>",
        ...both("STREAM.PURGE.OBJ_CLUSTER_OBJECTS"),
      ].sort(),
    );
    expect(u.account).toBe("cid-service");
    expect(u.subscribe.allow).toEqual(["cimstor.objects.>", "_INBOX_cid-service.>"]);
    expect(u.inboxPrefix).toBe("_INBOX_cid-service");
    expect(u.places).toEqual([{ level: "leaf", name: "cimstor", domain: "cimstor" }]);
  });

  it.each([
    ["a leaf that does not exist", { ...rawCid, at: "nats-9" }, "cidService.at: 'nats-9' is not a leaf server"],
    ["a bucket not at that leaf", { ...rawCid, bucket: "PERSON_OBJECTS", at: "nats-1", user: "cid-service" }, "cidService.user: user 'cid-service' lacks what the CID service does: add at: [nats-1], reads: { objects: [PERSON_OBJECTS] }"],
    ["an unknown user", { ...rawCid, user: "nobody" }, "cidService.user: 'nobody' is not a security user"],
    ["a user without the bindings", { ...rawCid, user: "person-service" }, "lacks what the CID service does"],
    ["an unknown key", { ...rawCid, port: 1 }, "cidService.port: unknown setting 'port'"],
    ["a bad prefix", { ...rawCid, subjectPrefix: "cimstor.>" }, "cidService.subjectPrefix"],
  ])("%s is refused, named by its path", (_what, raw, expected) => {
    expect(issues(raw).join("\n")).toContain(expected);
  });

  it("no section: no CID service", () => {
    expect(parseCidService(undefined, topology, jetstream, security)).toBeUndefined();
  });
});
