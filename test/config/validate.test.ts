/**
 * checkSection (components/config/validate.ts): the declared schema as the validator. Both stack
 * files pass every section it validates; a typo, a bad value and a union's chosen branch come back
 * as ConfigIssues with the parsers' paths and messages; issues sort into config order.
 */
import { describe, expect, it } from "vitest";
import { proxmoxSchema } from "../../components/proxmox/schema";
import { securitySchema } from "../../components/security/schema";
import { tlsSchema } from "../../components/tls/schema";
import { topologySchema } from "../../components/topology/schema";
import { checkSection, inConfigOrder, nearest } from "../../components/config/validate";
import { readStackConfig } from "../support/stack-config";

const sections = [
  ["topology", topologySchema],
  ["security", securitySchema],
  ["proxmox", proxmoxSchema],
  ["tls", tlsSchema],
] as const;

describe("checkSection", () => {
  it.each(["dev", "prod"] as const)("Pulumi.%s.yaml passes every schema-validated section, unchanged", (stack) => {
    const config = readStackConfig(stack) as Record<string, unknown>;
    const checked = sections.filter(([key]) => config[key] !== undefined).map(([key, schema]) => [key, checkSection(schema, config[key], key)] as const);
    expect(checked.map(([key]) => key)).toEqual(expect.arrayContaining(["topology", "security"]));
    for (const [key, { issues, value }] of checked) {
      expect(issues, key).toEqual([]);
      expect(value, key).toEqual(config[key]);
    }
  });

  it("flags a typo'd field with the known keys and a near match, and leaves it out of the value", () => {
    const topology = structuredClone(readStackConfig("prod").topology) as { hosts: Record<string, unknown>[] };
    topology.hosts[2].adress = topology.hosts[2].address;
    const { issues, value } = checkSection(topologySchema, topology, "topology");
    expect(issues).toEqual([{ propertyPath: "topology.hosts[2].adress", reason: expect.stringMatching(/^unknown field 'adress' \(did you mean 'address'\?\): allowed are name, vmid, node, address, /) }]);
    expect(value.hosts?.[2]).not.toHaveProperty("adress");
    expect(value.hosts?.[2]?.address).toBe(topology.hosts[2].address);
  });

  it("names the value and the fix, and drops only the bad field", () => {
    const topology = structuredClone(readStackConfig("prod").topology) as { hosts: Record<string, unknown>[] };
    topology.hosts[1].vmid = 12.5;
    const { issues, value } = checkSection(topologySchema, topology, "topology");
    expect(issues).toEqual([{ propertyPath: "topology.hosts[1].vmid", reason: "12.5 is not an integer between 100 and 999999999" }]);
    expect(value.hosts?.[1]).not.toHaveProperty("vmid");
    expect(value.hosts?.[1]?.name).toBe("nats-2");
  });

  it("reports the fields of the union branch a value's type selects", () => {
    const proxmox = structuredClone(readStackConfig("prod").proxmox) as { templates: Record<string, unknown> };
    proxmox.templates.pve1 = { url: "ftp://x/t.tar.xz", checksumAlgorithm: "crc" };
    const { issues } = checkSection(proxmoxSchema, proxmox, "proxmox");
    expect(issues).toEqual([
      { propertyPath: "proxmox.templates.pve1.url", reason: "'ftp://x/t.tar.xz' is not an http(s) URL" },
      { propertyPath: "proxmox.templates.pve1.checksumAlgorithm", reason: '"crc" is not supported: use one of md5, sha1, sha224, sha256, sha384, sha512' },
    ]);
  });

  it("reads a YAML null as unset", () => {
    expect(checkSection(tlsSchema, { mode: "generated", caDays: null }, "tls").issues).toEqual([]);
  });

  it("suggests a key in another case or one or two edits away, not a far one", () => {
    expect(nearest("vmId", ["vmid", "node"])).toBe("vmid");
    expect(nearest("adress", ["address", "name"])).toBe("address");
    expect(nearest("colour", ["name", "node"])).toBeUndefined();
  });

  it("sorts issues into the order the config lists the fields", () => {
    const raw = { users: [{ name: "a", account: "X", publish: {} }] };
    const issues = [
      { propertyPath: "security.users[0].publish.allow[0]", reason: "3" },
      { propertyPath: "elsewhere", reason: "4" },
      { propertyPath: "security.users[0].account", reason: "2" },
      { propertyPath: "security.users", reason: "1" },
    ];
    expect(inConfigOrder(issues, raw, "security").map((i) => i.reason)).toEqual(["1", "2", "3", "4"]);
  });
});
