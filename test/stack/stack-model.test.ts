import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadStackModel } from "../../components/stack";
import { ConfigError } from "../../components/topology";
import { readStackConfig } from "../support/stack-config";

// A throwaway key made for this test: the parser derives the containers' authorized key from it.
const keyDir = mkdtempSync(join(tmpdir(), "cim-nats-key-"));
execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(keyDir, "id")]);
const secrets = { apiToken: "root@pam!pulumi=00000000-0000-0000-0000-000000000000", sshPrivateKey: readFileSync(join(keyDir, "id"), "utf8") };
afterAll(() => rmSync(keyDir, { recursive: true, force: true }));

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
    expect(m.proxmox).toBeDefined();
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
