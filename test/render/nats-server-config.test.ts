import * as fs from "node:fs";
import { denyImportsDigest } from "../../components/render/remote-identity";
import { describe, expect, it } from "vitest";
import { formatNatsConf, renderServerConfig, serverConfigTree, type NatsConfTree } from "../../components/render/nats-server-config";
import { instanceByName } from "../../components/topology/endpoints";
import { HUB_SYNC_DEFAULT, LEAF_SYNC_DEFAULT } from "../../components/config/durability";
import { parseTopology } from "../../components/topology/parse";
import { readStackConfig } from "../support/stack-config";
import { checkServerConfig } from "./nats-server-check";
import { LEAF_DENY_IMPORTS, serverNames, stackDenyImports, stackTopology } from "./stack-topology";
import { testSecurity } from "./test-security";

const stacks = ["prod", "dev"] as const;
type Tree = Record<string, any>;
const tree = (stack: (typeof stacks)[number], server: string) => serverConfigTree(stackTopology(stack), server) as Tree;

describe.each(stacks)("rendered %s configs", (stack) => {
  const topology = stackTopology(stack);

  it("denies importing exactly the subjects the declared leaf stores capture", () => {
    expect(stackDenyImports(stack)).toEqual(LEAF_DENY_IMPORTS);
  });

  it("has one config per instance: a leaf per host and a hub member on nats-1..3", () => {
    expect(serverNames(topology)).toEqual(["nats-1", "nats-1-hub", "nats-2", "nats-2-hub", "nats-3", "nats-3-hub", "cimstor"]);
  });

  it.each(topology.hub.members.map((m) => m.serverName))("hub member %s routes to every other member", (server) => {
    const t = tree(stack, server);
    const others = topology.hub.members.filter((m) => m.serverName !== server);
    expect(t.cluster.name).toBe("cim-hub");
    expect(t.cluster.listen).toBe(`${instanceByName(topology, server).address}:6222`);
    expect(t.cluster.routes).toEqual(others.map((m) => `nats-route://${m.address}:6222`));
    expect(t.leafnodes).toEqual({ listen: `${instanceByName(topology, server).address}:7422` });
    expect(t.jetstream.domain).toBe("hub");
  });

  it.each(topology.leaves.map((l) => l.serverName))("leaf %s connects to every hub member and denies leaf-local subjects", (server) => {
    const t = tree(stack, server);
    expect(t.cluster).toBeUndefined();
    expect(t.leafnodes.listen).toBeUndefined();
    expect(t.leafnodes.remotes).toHaveLength(1);
    const [remote] = t.leafnodes.remotes;
    // Each URL carries the deny set's digest: a new set is a new remote, which nats-server reloads.
    expect(remote.urls).toEqual(topology.hub.members.map((m) => `nats-leaf://${m.address}:7422?deny_imports=${denyImportsDigest(LEAF_DENY_IMPORTS)}`));
    expect(remote.deny_imports).toEqual(LEAF_DENY_IMPORTS);
    expect(remote.credentials).toBeUndefined();
    // Each leaf is its own JetStream domain, named after its host.
    expect(t.jetstream.domain).toBe(server);
  });

  it.each(serverNames(topology))("%s listens on its host address with its role's ports and limits", (server) => {
    const instance = instanceByName(topology, server);
    const t = tree(stack, server);
    const [client, monitoring] = instance.kind === "hub" ? [4223, 8223] : [4222, 8222];
    expect(t.server_name).toBe(server);
    expect(t.listen).toBe(`${instance.address}:${client}`);
    // Monitoring on loopback: 127.0.0.1 in prod; a dev host's own 127/8 address (several share a port).
    expect(t.http).toBe(`${stack === "prod" ? "127.0.0.1" : instance.address}:${monitoring}`);
    expect(t.jetstream.store_dir).toBe(`${stack === "prod" ? "/var/lib/cim-nats" : ".cim-dev/dev"}/${server}`);
    expect([t.jetstream.max_mem, t.jetstream.max_file]).toEqual([instance.jetstream.maxMemory, instance.jetstream.maxFile]);
    expect(t.jetstream.sync_interval).toBe(instance.kind === "leaf" ? LEAF_SYNC_DEFAULT : HUB_SYNC_DEFAULT);
    // No auth without security: the foundation runs open on its own addresses.
    expect(t.operator).toBeUndefined();
  });

  it.each(serverNames(topology))("%s passes nats-server -t", (server) => {
    const check = checkServerConfig(renderServerConfig(topology, server));
    expect(check.output).toContain("is valid");
    expect(check.valid).toBe(true);
  });
});

describe("nats-server -t on prod configs", () => {
  it("validates without creating the store dir under /var/lib", () => {
    const existed = fs.existsSync("/var/lib/cim-nats");
    expect(checkServerConfig(renderServerConfig(stackTopology("prod"), "nats-1-hub")).valid).toBe(true);
    // -t neither opens nor creates store_dir, so prod paths need not exist on the checking machine.
    expect(fs.existsSync("/var/lib/cim-nats")).toBe(existed);
  });

  it("rejects a broken config (the check can fail)", () => {
    const broken: NatsConfTree = {
      ...serverConfigTree(stackTopology("prod"), "nats-2"),
      leafnodes: { remotes: [{ urls: ["nats-leaf://10.0.0.41:7422"], deny_imports: ["person..events"] }] },
    };
    const check = checkServerConfig(formatNatsConf(broken));
    expect(check.valid).toBe(false);
    expect(check.output).toContain("person..events");
  });
});

describe("operator mode", () => {
  it.each(stacks)("every %s config with a ServerSecurity from test keys passes nats-server -t", async (stack) => {
    const topology = stackTopology(stack);
    const { security, files } = await testSecurity(topology, "/var/lib/cim-nats/secrets");
    for (const server of serverNames(topology)) {
      const text = renderServerConfig(topology, server, security);
      const check = checkServerConfig(text);
      expect(check.output, server).toContain("is valid");
      const t = serverConfigTree(topology, server, security) as Tree;
      expect(t.operator).toBe(security.operatorJwt);
      expect(t.system_account).toBe(security.systemAccount);
      // The full resolver keeps pushed JWTs beside the store; only the bootstrap JWTs are preloaded.
      expect(t.resolver).toEqual({ type: "full", dir: `${instanceByName(topology, server).storeDir}/jwt`, allow_delete: false, interval: "5s" });
      expect(t.resolver_preload).toEqual(security.bootstrapJwts);
      if (instanceByName(topology, server).kind === "leaf") {
        expect(t.leafnodes.remotes.map((r: Tree) => [r.account, r.credentials])).toEqual([
          [security.leafLinks[server].application.account, `/var/lib/cim-nats/secrets/leaf-${server}.creds`],
          [security.systemAccount, `/var/lib/cim-nats/secrets/leaf-${server}-sys.creds`],
        ]);
        // The system link carries no deny_imports: JWT updates and resolver sync only (its user's permissions).
        expect(t.leafnodes.remotes[1].deny_imports).toBeUndefined();
      }
      // Creds are referenced by path; no seed ever reaches a rendered config.
      for (const creds of Object.values(files)) {
        const seed = /SU[A-Z2-7]{56}/.exec(creds)![0];
        expect(text).not.toContain(seed);
      }
      expect(text).not.toMatch(/S[OAU][A-Z2-7]{56}/);
    }
  });

  it("names the leaf whose leaf-link credentials are missing", async () => {
    const topology = stackTopology("prod");
    const { security } = await testSecurity(topology);
    const { cimstor: _dropped, ...leafLinks } = security.leafLinks;
    expect(() => renderServerConfig(topology, "cimstor", { ...security, leafLinks })).toThrow(
      "security.leafLinks has no entry for leaf 'cimstor'",
    );
  });
});

describe("renderServerConfig", () => {
  it("names the unknown server and the known ones", () => {
    expect(() => renderServerConfig(stackTopology("prod"), "nats-9")).toThrow(/unknown server 'nats-9'.*nats-1, nats-1-hub/);
  });

  it("starts with a generated-file header and ends with the config", () => {
    const text = renderServerConfig(stackTopology("prod"), "nats-1");
    expect(text.split("\n")[0]).toBe("# nats-1: leaf server on nats-1 (topology 'prod').");
    expect(text).toContain('server_name: "nats-1"\n');
    expect(text).toContain('      deny_imports: [\n        "person.events.>"');
  });
});

describe("monitoring, durability and per-host limits as data", () => {
  /** Pulumi.prod.yaml's topology with one edit, rendered for `server`. */
  function prodTree(server: string, edit: (raw: any) => void): any {
    const raw = JSON.parse(JSON.stringify(readStackConfig("prod").topology));
    edit(raw);
    return serverConfigTree(parseTopology(raw, { name: "prod" }), server);
  }

  it("cimstor's leaf gets its own max_file from its host override; the other leaves keep the tier's", () => {
    expect(tree("prod", "cimstor").jetstream.max_file).toBe("450G");
    expect(tree("prod", "nats-1").jetstream.max_file).toBe("10G");
  });

  it.each([
    ["loopback (the default) in prod", (_raw: any) => {}, "127.0.0.1:8223"],
    ["host", (raw: any) => (raw.monitoring = { listen: "host" }), "10.0.0.42:8223"],
    ["an explicit address", (raw: any) => (raw.monitoring = { listen: "0.0.0.0" }), "0.0.0.0:8223"],
    ["host on one host only", (raw: any) => (raw.hosts[1].monitoring = { listen: "host" }), "10.0.0.42:8223"],
  ])("monitoring.listen %s renders http %s", (_name, edit, http) => {
    expect(prodTree("nats-2-hub", edit).http).toBe(http);
  });

  it.each([
    ["always", "always"],
    ["250ms", "250ms"],
    ["1m30s", "1m30s"],
  ])("leaf syncInterval %s renders sync_interval %s, which nats-server -t accepts", (value, rendered) => {
    const raw = JSON.parse(JSON.stringify(readStackConfig("prod").topology));
    raw.leaf.jetstream.syncInterval = value;
    raw.hosts[3].jetstream.leaf.syncInterval = value;
    const topology = parseTopology(raw, { name: "prod" });
    for (const server of ["nats-1", "cimstor"]) {
      expect(serverConfigTree(topology, server).jetstream).toMatchObject({ sync_interval: rendered });
      expect(checkServerConfig(renderServerConfig(topology, server)).output).toContain("is valid");
    }
    // The hub keeps its own tier's interval.
    expect((serverConfigTree(topology, "nats-1-hub").jetstream as NatsConfTree).sync_interval).toBe(HUB_SYNC_DEFAULT);
  });
});
