import { describe, expect, it } from "vitest";
import { loadStackModel } from "../../components/stack";
import { ConfigError } from "../../components/topology";
import { readStackConfig } from "../support/stack-config";

// Pulumi.prod.yaml logs in through the SSH agent: the token is its only secret.
const secrets = { apiToken: "root@pam!pulumi=00000000-0000-0000-0000-000000000000" };

describe("loadStackModel", () => {
  it("builds the dev model: local substrate, leaves deny importing their local stores' subjects", () => {
    const m = loadStackModel("dev", readStackConfig("dev"));
    expect(m.substrate).toBe("local");
    expect(m.proxmox).toBeUndefined();
    expect(m.topology.leafDenyImports).toEqual(expect.arrayContaining(["person.events.>", "$KV.PERSON_METADATA.>", "$O.PERSON_OBJECTS.>"]));
    expect(m.topology.leafDenyImports).not.toContain("$KV.CLUSTER_METADATA.>");
  });

  it("builds the prod model with its Proxmox spec", () => {
    const m = loadStackModel("prod", readStackConfig("prod"), secrets);
    expect(m.substrate).toBe("proxmox");
    expect(m.proxmox?.ssh).toMatchObject({ agent: true, authorizedKeys: [expect.stringMatching(/^ssh-ed25519 \S+ deploy@cim-nats$/)] });
    expect(m.topology.hosts.map((h) => h.vmid)).toEqual([201, 202, 203, 204]);
  });

  it("reports problems of every section in one error", () => {
    const c = structuredClone(readStackConfig("dev")) as any;
    c.substrate = "docker";
    c.jetstream.streams[0].subjects = ["person..events"];
    // A service in the data account: refused (its replies could write any stream there).
    c.security.users[0].account = "PLATFORM";
    try {
      loadStackModel("dev", c);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      const paths = (e as ConfigError).issues.map((i) => i.propertyPath);
      expect(paths).toContain("substrate");
      expect(paths.some((p) => p.startsWith("jetstream.streams[0].subjects"))).toBe(true);
      expect(paths.some((p) => p.startsWith("security.users[0].account"))).toBe(true);
    }
  });

  it("stops at topology problems (other sections need a valid topology)", () => {
    const c = structuredClone(readStackConfig("dev")) as any;
    c.topology.hosts[1].vmid = 201;
    expect(() => loadStackModel("dev", c)).toThrow(/topology.hosts\[1\].vmid: duplicate vmid 201/);
  });
});
