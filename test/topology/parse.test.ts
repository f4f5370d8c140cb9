import { HUB_SYNC_DEFAULT, LEAF_SYNC_DEFAULT } from "../../components/config/durability";
import { describe, expect, it } from "vitest";
import { ConfigError, parseTopology, rebaseAddresses, serverEndpoints, withDataDir } from "../../components/topology";
import { readStackConfig } from "../support/stack-config";

const prod = () => structuredClone(readStackConfig("prod").topology) as any;

function issuesOf(raw: unknown): { propertyPath: string; reason: string }[] {
  try {
    parseTopology(raw);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return [...(e as ConfigError).issues];
  }
  throw new Error("expected a ConfigError");
}

describe("parseTopology: the prod inventory", () => {
  const t = parseTopology(prod(), { name: "prod", leafDenyImports: ["person.events.>"] });

  it("places containers 201-203 on pve1-3 at 10.0.0.41-43 and cimstor at 172.16.0.2", () => {
    expect(t.hosts.map((h) => [h.name, h.vmid, h.node, h.address, h.roles])).toEqual([
      ["nats-1", 201, "pve1", "10.0.0.41", ["leaf", "hub"]],
      ["nats-2", 202, "pve2", "10.0.0.42", ["leaf", "hub"]],
      ["nats-3", 203, "pve3", "10.0.0.43", ["leaf", "hub"]],
      ["cimstor", 204, "pve1", "172.16.0.2", ["leaf"]],
    ]);
  });

  it("derives leaves with their own domains and a 3-member hub in domain 'hub'", () => {
    expect(t.leaves.map((l) => [l.serverName, l.jetstreamDomain, l.clientPort, l.monitoringPort])).toEqual([
      ["nats-1", "nats-1", 4222, 8222],
      ["nats-2", "nats-2", 4222, 8222],
      ["nats-3", "nats-3", 4222, 8222],
      ["cimstor", "cimstor", 4222, 8222],
    ]);
    expect(t.hub).toMatchObject({ name: "cim-hub", jetstreamDomain: "hub", replicas: 3 });
    expect(t.hub.members.map((m) => [m.serverName, m.clientPort, m.monitoringPort, m.routePort, m.leafnodePort])).toEqual([
      ["nats-1-hub", 4223, 8223, 6222, 7422],
      ["nats-2-hub", 4223, 8223, 6222, 7422],
      ["nats-3-hub", 4223, 8223, 6222, 7422],
    ]);
    expect(t.leafDenyImports).toEqual(["person.events.>"]);
  });

  it("keeps monitoring on loopback: 127.0.0.1 on a LAN host", () => {
    expect(t.hosts.flatMap((h) => h.instances.map((i) => i.monitoringAddress))).toEqual(Array(7).fill("127.0.0.1"));
    expect(t.hosts.map((h) => h.monitoringListen)).toEqual(Array(4).fill("loopback"));
  });

  it("gives cimstor's leaf its volume and the others the tier's JetStream settings", () => {
    expect(t.leaves.map((l) => [l.serverName, l.jetstream.maxFile, l.jetstream.syncInterval])).toEqual([
      ["nats-1", "10G", LEAF_SYNC_DEFAULT],
      ["nats-2", "10G", LEAF_SYNC_DEFAULT],
      ["nats-3", "10G", LEAF_SYNC_DEFAULT],
      ["cimstor", "450G", LEAF_SYNC_DEFAULT],
    ]);
    expect(t.hub.members.map((m) => [m.jetstream.maxFile, m.jetstream.syncInterval])).toEqual(Array(3).fill(["48G", HUB_SYNC_DEFAULT]));
  });

  it("applies per-role defaults and per-host overrides to resources", () => {
    expect(t.hosts[0].resources).toEqual({ cores: 2, memoryMiB: 4096, swapMiB: 512, rootDiskGiB: 16, dataDiskGiB: 64 });
    expect(t.hosts[3].resources).toEqual({ cores: 2, memoryMiB: 4096, swapMiB: 512, rootDiskGiB: 16, dataDiskGiB: 500 });
    expect(t.hosts[3].network).toBe("storage");
  });

  it("is frozen", () => {
    expect(Object.isFrozen(t.hosts[0].instances[0])).toBe(true);
    expect(() => ((t.hosts as any)[0].vmid = 9)).toThrow();
  });

  it("a new leaf is one config entry", () => {
    const raw = prod();
    raw.hosts.push({ name: "leaf-04", vmid: 205, node: "pve2", address: "10.0.0.44", roles: ["leaf"] });
    const t2 = parseTopology(raw);
    expect(t2.leaves.map((l) => l.serverName)).toContain("leaf-04");
    expect(t2.hub.members).toHaveLength(3);
  });

  it("rebases addresses and data dirs for side-by-side local runs", () => {
    const r = withDataDir(rebaseAddresses(t, "127.0.9"), "/tmp/x");
    expect(r.hosts.map((h) => h.address)).toEqual(["127.0.9.41", "127.0.9.42", "127.0.9.43", "127.0.9.2"]);
    expect(r.hub.members[1]).toMatchObject({ address: "127.0.9.42", storeDir: "/tmp/x/nats-2-hub" });
    expect(serverEndpoints(r).find((e) => e.serverName === "nats-2-hub")).toMatchObject({
      clientUrl: "nats://127.0.9.42:4223",
      routeUrl: "nats-route://127.0.9.42:6222",
      leafnodeUrl: "nats-leaf://127.0.9.42:7422",
      monitoringUrl: "http://127.0.9.42:8223",
    });
  });
});

describe("parseTopology: bad input names the field, the value and the fix", () => {
  const cases: [string, (raw: any) => void, string, RegExp][] = [
    ["duplicate host", (r) => (r.hosts[1].name = "nats-1"), "topology.hosts[1].name", /duplicate name "nats-1".*rename/],
    ["duplicate vmid", (r) => (r.hosts[2].vmid = 201), "topology.hosts[2].vmid", /duplicate vmid 201.*unused/],
    ["duplicate address", (r) => (r.hosts[3].address = "10.0.0.41"), "topology.hosts[3].address", /duplicate address "10.0.0.41"/],
    ["malformed address", (r) => (r.hosts[0].address = "10.0.0.256"), "topology.hosts[0].address", /'10.0.0.256' is not an IPv4 address/],
    ["address with prefix", (r) => (r.hosts[0].address = "10.0.0.41/24"), "topology.hosts[0].address", /no prefix length/],
    ["leaf with no hub", (r) => r.hosts.forEach((h: any) => (h.roles = ["leaf"])), "topology.hosts", /has no hub to connect to.*'hub' role/],
    ["R3 with two hub members", (r) => (r.hosts[2].roles = ["leaf"]), "topology.hub.replicas", /replicas 3 needs at least 3 hub members, found 2/],
    ["server name not a token", (r) => (r.hosts[0].name = "nats.1"), "topology.hosts[0].name", /'nats.1' is not a valid hostname and subject token/],
    ["server name with wildcard", (r) => (r.hosts[0].name = "nats*"), "topology.hosts[0].name", /not a valid hostname/],
    ["domain not a token", (r) => (r.hub.domain = "hub.main"), "topology.hub.domain", /JetStream domain \('hub.main'\) cannot contain '.'/],
    ["leaf domain not a token", (r) => (r.hosts[1].leafDomain = "a>"), "topology.hosts[1].leafDomain", /cannot contain '>'/],
    ["leaf domain equals hub", (r) => (r.hosts[1].leafDomain = "hub"), "topology.hosts[1].leafDomain", /equals the hub domain/],
    ["cluster name not a token", (r) => (r.hub.cluster = "cim hub"), "topology.hub.cluster", /cannot contain whitespace/],
    ["port clash on one host", (r) => (r.hub.ports.client = 4222), "topology.hosts[0].ports", /port 4222 is used by both the leaf client and the hub client port on host 'nats-1'/],
    ["port clash by host override", (r) => (r.hosts[3].ports = { leaf: { monitoring: 4222 } }), "topology.hosts[3].ports", /port 4222 is used by both/],
    ["port out of range", (r) => (r.leaf.ports.client = 70000), "topology.leaf.ports.client", /70000 is not an integer between 1 and 65535/],
    ["missing vmid", (r) => delete r.hosts[0].vmid, "topology.hosts[0].vmid", /is required/],
    ["missing node", (r) => delete r.hosts[0].node, "topology.hosts[0].node", /is required: the Proxmox node/],
    ["unknown role", (r) => (r.hosts[0].roles = ["leaf", "router"]), "topology.hosts[0].roles", /unknown role "router"/],
    ["no roles", (r) => (r.hosts[0].roles = []), "topology.hosts[0].roles", /non-empty list of roles/],
    ["typo in a field", (r) => (r.hosts[0].vmId = 1), "topology.hosts[0].vmId", /unknown field 'vmId' \(did you mean 'vmid'\?\)/],
    ["bad size", (r) => (r.leaf.jetstream.maxFile = "lots"), "topology.leaf.jetstream.maxFile", /'lots' is not a size/],
    ["a store larger than its volume", (r) => (r.hosts[3].jetstream.leaf.maxFile = "500G"), "topology.hosts[3].resources.dataDiskGiB", /host 'cimstor': its servers' max_file adds up to 500 GiB \(leaf 500G\), but its 500 GiB data volume holds 465 GiB for stores after the 7% ext4 reserve .*lower topology.hosts\[3\].jetstream.leaf.maxFile to 465G or less, or raise topology.hosts\[3\].resources.dataDiskGiB to 538 or more/],
    ["the old 50G hub tier on a 64 GiB leaf + hub host", (r) => (r.hub.jetstream.maxFile = "50G"), "topology.hosts[0].resources.dataDiskGiB", /host 'nats-1': .* 60 GiB \(leaf 10G \+ hub 50G\), but its 64 GiB data volume holds 59.5 GiB .*lower topology.hosts\[0\].jetstream.hub.maxFile to 49G or less, or raise .*dataDiskGiB to 65 or more/],
    ["a smaller volume than the stores", (r) => (r.hosts[1].resources = { dataDiskGiB: 40 }), "topology.hosts[1].resources.dataDiskGiB", /host 'nats-2': .* 58 GiB \(leaf 10G \+ hub 48G\), but its 40 GiB data volume holds 37.2 GiB/],
    ["memory stores larger than the container", (r) => (r.hosts[0].jetstream = { hub: { maxMemory: "3G" } }), "topology.hosts[0].resources.memoryMiB", /host 'nats-1': its servers' max_mem adds up to 3328 MiB \(leaf 256M \+ hub 3G\), but 4096 MiB of memory leaves 3072 MiB after 384 MiB per nats-server process and 256 MiB for the container: lower topology.hosts\[0\].jetstream.hub.maxMemory to 2816M or less, or raise topology.hosts\[0\].resources.memoryMiB to 4352 or more/],
    ["sync interval in days", (r) => (r.leaf.jetstream.syncInterval = "1d"), "topology.leaf.jetstream.syncInterval", /'1d' is not a duration.*did you mean '24h'.*or 'always'/],
    ["sync interval zero", (r) => (r.hub.jetstream.syncInterval = "0"), "topology.hub.jetstream.syncInterval", /"0" would never flush: write 'always' or a positive duration/],
    ["sync interval on one host", (r) => (r.hosts[2].jetstream = { leaf: { syncInterval: "ALWAYS" } }), "topology.hosts[2].jetstream.leaf.syncInterval", /'ALWAYS' is not a duration/],
    ["host jetstream for no such instance", (r) => (r.hosts[0].jetstream = { edge: {} }), "topology.hosts[0].jetstream.edge", /unknown field 'edge': allowed are leaf, hub/],
    ["monitoring.listen a word", (r) => (r.monitoring = { listen: "lan" }), "topology.monitoring.listen", /"lan" is not a monitoring address: write 'loopback'/],
    ["monitoring.listen a bad address", (r) => (r.hosts[0].monitoring = { listen: "10.0.0.300" }), "topology.hosts[0].monitoring.listen", /'10.0.0.300' is not an IPv4 address/],
    ["hub name collides with a host", (r) => r.hosts.push({ name: "nats-1-hub", vmid: 299, node: "pve1", address: "10.0.0.99", roles: ["leaf"] }), "topology.hosts[4].name", /collides with the hub server/],
  ];

  it.each(cases)("%s", (_, mutate, path, reason) => {
    const raw = prod();
    mutate(raw);
    const issues = issuesOf(raw);
    const hit = issues.find((i) => i.propertyPath === path);
    expect(hit, `issues were: ${JSON.stringify(issues, null, 1)}`).toBeDefined();
    expect(hit!.reason).toMatch(reason);
  });

  it("reports every problem at once", () => {
    const raw = prod();
    raw.hosts[1].vmid = 201;
    raw.hosts[2].address = "bad";
    raw.hub.domain = "a.b";
    const paths = issuesOf(raw).map((i) => i.propertyPath);
    expect(paths).toEqual(expect.arrayContaining(["topology.hosts[1].vmid", "topology.hosts[2].address", "topology.hub.domain"]));
  });

  it("missing topology says where to put it", () => {
    expect(issuesOf(undefined)[0]).toMatchObject({ propertyPath: "topology", reason: expect.stringMatching(/cim-nats:topology/) });
  });

  it("the error message lists each path and reason", () => {
    const raw = prod();
    raw.hosts[1].vmid = 201;
    expect(() => parseTopology(raw)).toThrow(/topology.hosts\[1\].vmid: duplicate vmid 201/);
  });
});

describe("the dev stack mirrors prod on loopback", () => {
  it("has the same hosts, vmids and roles on 127.0.0.x", () => {
    const dev = parseTopology(readStackConfig("dev").topology);
    const p = parseTopology(prod());
    expect(dev.hosts.map((h) => [h.name, h.vmid, h.roles])).toEqual(p.hosts.map((h) => [h.name, h.vmid, h.roles]));
    expect(dev.hosts.every((h) => h.address.startsWith("127."))).toBe(true);
    // Its hosts are loopback already and share port numbers: `loopback` is each host's own address.
    expect(dev.hosts.every((h) => h.instances.every((i) => i.monitoringAddress === h.address))).toBe(true);
  });
});
