import { describe, expect, it } from "vitest";
import { serverConfigTree } from "../../components/render/nats-server-config";
import { nixosInstanceOptions, nixosRunningSettings, renderNixosHost } from "../../components/render/nixos-host";
import { instanceByName } from "../../components/topology/endpoints";
import { stackTopology } from "./stack-topology";
import { testSecurity } from "./test-security";

describe("renderNixosHost", () => {
  const prod = stackTopology("prod");

  it("imports the module, names the host and enables one instance per server on it", () => {
    const text = renderNixosHost(prod, "nats-1");
    expect(text).toContain("imports = [ ./modules/cim-nats.nix ];");
    expect(text).toContain('networking.hostName = "nats-1";');
    expect(text).toMatch(/instances = \{\n\s+leaf = \{[\s\S]+\n\s+hub = \{/);
    expect(renderNixosHost(prod, "cimstor")).not.toContain("hub = {");
  });

  it.each([
    ["nats-1", { serverName: "nats-1", host: "10.0.0.41", port: 4222, monitorHost: "127.0.0.1", monitorPort: 8222, dataDir: "/var/lib/cim-nats/nats-1" }],
    [
      "nats-2-hub",
      {
        serverName: "nats-2-hub",
        host: "10.0.0.42",
        port: 4223,
        monitorHost: "127.0.0.1",
        monitorPort: 8223,
        dataDir: "/var/lib/cim-nats/nats-2-hub",
        clusterPort: 6222,
        leafnodePort: 7422,
        // The firewall lets in only the other hub members (routes) and the leaf hosts (leafnodes).
        routePeers: ["10.0.0.41", "10.0.0.43"],
        leafnodePeers: ["10.0.0.41", "10.0.0.42", "10.0.0.43", "172.16.0.2"],
      },
    ],
    ["cimstor", { serverName: "cimstor", host: "172.16.0.2", port: 4222, monitorHost: "127.0.0.1", monitorPort: 8222, dataDir: "/var/lib/cim-nats/cimstor" }],
  ])("sets %s's typed options from the topology and settings from the config tree", (server, typed) => {
    const options = nixosInstanceOptions(prod, instanceByName(prod, server));
    expect(options).toMatchObject({ ...typed, openFirewall: true });
    expect(options.settings).toEqual(serverConfigTree(prod, server));
    expect(options.leafnodeCredentialsFile).toBeUndefined();
    if (!server.endsWith("-hub")) expect([options.routePeers, options.leafnodePeers]).toEqual([undefined, undefined]);
  });

  it("in operator mode moves the leaf-link creds path to leafnodeCredentialsFile and never inlines a seed", async () => {
    const { security, files } = await testSecurity(prod, "/var/lib/cim-nats/secrets");
    const leaf = nixosInstanceOptions(prod, instanceByName(prod, "nats-1"), security);
    expect(leaf.leafnodeCredentialsFile).toBe("/var/lib/cim-nats/secrets/leaf-nats-1.creds");
    expect(leaf.settings).toEqual(nixosRunningSettings(prod, instanceByName(prod, "nats-1"), security));
    // Each remote reads its link's creds from the unit's runtime dir (root copies them there; the app link's, the system link's), never a path under /var/lib.
    const remotes = (leaf.settings as { leafnodes: { remotes: { account: string; credentials: string }[] } }).leafnodes.remotes;
    expect(remotes.map((r) => [r.account, r.credentials])).toEqual([
      [security.leafLinks["nats-1"].application.account, "/run/cim-nats-leaf/leafnode.creds"],
      [security.systemAccount, "/run/cim-nats-leaf/system-link.creds"],
    ]);
    expect(leaf.leafnodeCredentialsFile).toBe(security.leafLinks["nats-1"].application.credentialsPath);
    expect(leaf.systemLinkCredentialsFile).toBe(security.leafLinks["nats-1"].system.credentialsPath);
    const hub = nixosInstanceOptions(prod, instanceByName(prod, "nats-1-hub"), security);
    expect(hub.settings).toEqual(serverConfigTree(prod, "nats-1-hub", security));
    const text = renderNixosHost(prod, "nats-1", security);
    expect(text).toContain(`operator = "${security.operatorJwt}";`);
    for (const creds of Object.values(files)) expect(text).not.toContain(/SU[A-Z2-7]{56}/.exec(creds)![0]);
    expect(text).not.toMatch(/S[OAU][A-Z2-7]{56}/);
  });

  it("names the unknown host and the known ones", () => {
    expect(() => renderNixosHost(prod, "nats-9")).toThrow("unknown host 'nats-9' in topology 'prod': known hosts are nats-1, nats-2, nats-3, cimstor");
  });

  it.each(["/etc/nixos/cim-nats.nix", "modules/cim-nats.nix", "./x.nix ]; evil = [", "./module.txt"])(
    "refuses module path %j",
    (modulePath) => {
      expect(() => renderNixosHost(prod, "nats-1", undefined, { modulePath })).toThrow(`modulePath '${modulePath}' must be a relative path`);
    },
  );
});
