import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ProxmoxSecrets } from "../../components/proxmox/config";
import { parseProxmox } from "../../components/proxmox/parse";
import { openSshPublicKey } from "../../components/proxmox/ssh-public-key";
import { parseTopology } from "../../components/topology/parse";
import { ConfigError, Topology } from "../../components/topology/types";
import { readStackConfig } from "../support/stack-config";
import { clone, prodAgentFixture, prodFixture, TEST_API_TOKEN } from "./fixtures";
import { generateOpenSshKey } from "./ssh-key";

type Raw = Record<string, any>;

/** Runs parseProxmox on the prod config after `change`, returning the ConfigError's issues. */
function issuesAfter(change: (c: { proxmox: Raw; topology: Raw; secrets: { -readonly [K in keyof ProxmoxSecrets]: ProxmoxSecrets[K] } }) => { topology?: (t: Topology) => Topology } | void) {
  const config = readStackConfig("prod");
  // The key-mode prod config (prodFixture): the errors about the key need one.
  const fixture = prodFixture();
  const c = { proxmox: clone(fixture.rawProxmox) as Raw, topology: clone(config.topology) as Raw, secrets: { ...fixture.secrets } };
  const result = change(c);
  let topology = parseTopology(c.topology, { name: "prod" });
  if (result && result.topology) topology = result.topology(topology);
  try {
    parseProxmox(c.proxmox, topology, c.secrets);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return { error: e as ConfigError, issues: (e as ConfigError).issues };
  }
  throw new Error("expected a ConfigError");
}

/** The example node host keys of Pulumi.prod.yaml. */
const PVE_KEYS = {
  pve1: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPdDPmOhoM7QsPD27uStGCQOd47WiiKlG2IDSRAtDQZQ",
  pve2: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILKBmG+PsXuwf/bIa9fHOKay154Vp1IZt8H8Zhv7nTW7",
  pve3: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGhFN/Rxixhbx5pl6RAenIJvKp8okF8Qa+Z7ldQHSroJ",
};
const NODES = [
  { name: "pve1", address: "10.0.0.11", hostKey: PVE_KEYS.pve1 },
  { name: "pve2", address: "10.0.0.12", hostKey: PVE_KEYS.pve2 },
  { name: "pve3", address: "10.0.0.13", hostKey: PVE_KEYS.pve3 },
];

describe("parseProxmox on the prod stack config", () => {
  it("yields the exact spec, with the deploy key's public half as authorized key", () => {
    const { spec, key } = prodFixture();
    expect(spec).toEqual({
      endpoint: "https://10.0.0.11:8006/",
      apiToken: TEST_API_TOKEN,
      insecure: false,
      nodes: ["pve1", "pve2", "pve3"],
      templates: {
        pve1: { kind: "file", fileId: "local:vztmpl/nixos-25.11-x86_64-linux.tar.xz" },
        pve2: { kind: "file", fileId: "local:vztmpl/nixos-25.11-x86_64-linux.tar.xz" },
        pve3: { kind: "file", fileId: "local:vztmpl/nixos-25.11-x86_64-linux.tar.xz" },
      },
      datastore: "local-lvm",
      networks: {
        default: { name: "default", cidr: "10.0.0.0/24", prefixLength: 24, gateway: "10.0.0.1", bridge: "vmbr0", dns: ["10.0.0.1"] },
        storage: { name: "storage", cidr: "172.16.0.0/24", prefixLength: 24, gateway: "172.16.0.1", bridge: "vmbr1", dns: ["10.0.0.1"] },
      },
      ssh: {
        username: "root",
        agent: false,
        privateKey: key.privateKey,
        authorizedKeys: [key.publicKey.split(" ").slice(0, 2).join(" ")],
        containerUser: "root",
        containerPort: 22,
        // The nodes' addresses and host keys: each container's key is read through its node.
        nodes: NODES,
        verifyHostKeys: true,
      },
      dataMountPath: "/var/lib/cim-nats",
      protect: true,
      adopt: [],
      nixos: {
        nixpkgs: { url: "https://github.com/NixOS/nixpkgs/archive/8fd9daa3db09ced9700431c5b7ad0e8ba199b575.tar.gz", sha256: "sha256-Ti+ZBvW6yrWWAg2szExVTwCd4qOJ3KlVr1tFHfyfi8Q=" },
        gc: { dates: "weekly", deleteOlderThan: "30d" },
      },
    });
    expect(Object.isFrozen(spec.networks.default)).toBe(true);
  });

  it("keeps configured authorized keys and adds the derived one once", () => {
    const { rawProxmox, topology, secrets, key } = prodFixture();
    const other = generateOpenSshKey("ops@laptop").publicKey;
    const withKeys = { ...rawProxmox, ssh: { ...(rawProxmox.ssh as object), username: "root", authorizedKeys: [other, key.publicKey] } };
    expect(parseProxmox(withKeys, topology, secrets).ssh.authorizedKeys).toEqual([other, key.publicKey]);
  });

  it("accepts a downloaded template per node", () => {
    const { rawProxmox, topology, secrets } = prodFixture();
    const url = "https://hydra.example/nixos-image-lxc-proxmox-25.11-x86_64-linux.tar.xz";
    const templates = { pve1: { url, checksum: "ab12", checksumAlgorithm: "sha256" }, pve2: { url, datastore: "tmpl" }, pve3: "local:vztmpl/x.tar.xz" };
    const spec = parseProxmox({ ...rawProxmox, templates }, topology, secrets);
    expect(spec.templates).toEqual({
      pve1: { kind: "download", url, fileName: "nixos-image-lxc-proxmox-25.11-x86_64-linux.tar.xz", datastore: "local", checksum: "ab12", checksumAlgorithm: "sha256" },
      pve2: { kind: "download", url, fileName: "nixos-image-lxc-proxmox-25.11-x86_64-linux.tar.xz", datastore: "tmpl" },
      pve3: { kind: "file", fileId: "local:vztmpl/x.tar.xz" },
    });
  });

  it("works with the SSH agent and explicit keys instead of a private key", () => {
    const { rawProxmox, topology, key } = prodFixture();
    const spec = parseProxmox({ ...rawProxmox, ssh: { agent: true, authorizedKeys: [key.publicKey], verifyHostKeys: false } }, topology, { apiToken: TEST_API_TOKEN });
    expect(spec.ssh).toEqual({ username: "root", agent: true, authorizedKeys: [key.publicKey], containerUser: "root", containerPort: 22, nodes: [], verifyHostKeys: false });
  });
});

describe("bad Proxmox config: one ConfigError naming field, value and fix", () => {
  it.each([
    ["missing endpoint", (c: Raw) => void delete c.proxmox.endpoint, "proxmox.endpoint", /is required: the Proxmox API URL/],
    ["adopting a host the topology lacks", (c: Raw) => void (c.proxmox.adopt = ["nats-1", "nats-9"]), "proxmox.adopt[1]", /'nats-9' is not a host of the topology: list the hosts whose containers existed before the stack \(nats-1, nats-2, nats-3, cimstor\)/],
    ["endpoint not a URL", (c: Raw) => void (c.proxmox.endpoint = "10.0.0.11:8006"), "proxmox.endpoint", /'10.0.0.11:8006' is not an http\(s\) URL/],
    ["missing API token", (c: Raw) => void delete c.secrets.apiToken, "proxmoxApiToken", /missing: .*pulumi config set --secret cim-nats:proxmoxApiToken/],
    ["API token in the wrong form", (c: Raw) => void (c.secrets.apiToken = "hunter2-not-a-token"), "proxmoxApiToken", /is not of the form USER@REALM!TOKENID=SECRET/],
    ["API token in plaintext YAML", (c: Raw) => void (c.proxmox.apiToken = "x@pve!t=y"), "proxmox.apiToken", /never go in plaintext YAML.*cim-nats:proxmoxApiToken/],
    ["SSH key in plaintext YAML", (c: Raw) => void (c.proxmox.ssh.privateKey = "-----BEGIN"), "proxmox.ssh.privateKey", /never go in plaintext YAML.*cim-nats:sshPrivateKey/],
    ["missing SSH key", (c: Raw) => void delete c.secrets.sshPrivateKey, "sshPrivateKey", /missing: the key the deploy and the provider log in with/],
    ["SSH key that is no key", (c: Raw) => void (c.secrets.sshPrivateKey = "ssh-ed25519 AAAA"), "sshPrivateKey", /is not a private key/],
    ["host on an unknown node", (c: Raw) => void (c.topology.hosts[1].node = "pve9"), "topology.hosts[1].node", /host 'nats-2' is on Proxmox node 'pve9', which is not in proxmox.nodes \(pve1, pve2, pve3\)/],
    ["template missing for a node", (c: Raw) => void delete c.proxmox.templates.pve3, "proxmox.templates.pve3", /no template for node 'pve3', which hosts nats-3/],
    ["template for an unknown node", (c: Raw) => void (c.proxmox.templates.pve7 = "local:vztmpl/a.tar.xz"), "proxmox.templates.pve7", /unknown node 'pve7'/],
    ["template not a vztmpl id", (c: Raw) => void (c.proxmox.templates.pve1 = "local:iso/nixos.iso"), "proxmox.templates.pve1", /'local:iso\/nixos.iso' is not a container template file id/],
    ["download checksum without algorithm", (c: Raw) => void (c.proxmox.templates.pve1 = { url: "https://x/t.tar.xz", checksum: "ab" }), "proxmox.templates.pve1", /checksum and checksumAlgorithm go together/],
    ["address outside its network", (c: Raw) => void (c.topology.hosts[0].address = "10.0.1.41"), "topology.hosts[0].address", /10.0.1.41 of host 'nats-1' is outside network 'default' \(10.0.0.0\/24\)/],
    ["storage host on the default network", (c: Raw) => void delete c.topology.hosts[3].network, "topology.hosts[3].address", /172.16.0.2 of host 'cimstor' is outside network 'default'/],
    ["address is the gateway", (c: Raw) => void (c.topology.hosts[0].address = "10.0.0.1"), "topology.hosts[0].address", /is the gateway of network 'default'/],
    ["address is the broadcast", (c: Raw) => void (c.topology.hosts[0].address = "10.0.0.255"), "topology.hosts[0].address", /is the broadcast address of 10.0.0.0\/24/],
    ["unknown network", (c: Raw) => void (c.topology.hosts[3].network = "san"), "topology.hosts[3].network", /network 'san', which is not in proxmox.networks \(default, storage\)/],
    ["gateway outside the subnet", (c: Raw) => void (c.proxmox.networks.storage.gateway = "172.16.1.1"), "proxmox.networks.storage.gateway", /gateway 172.16.1.1 is outside 172.16.0.0\/24/],
    ["cidr with host bits", (c: Raw) => void (c.proxmox.networks.default.cidr = "10.0.0.5/24"), "proxmox.networks.default.cidr", /has host bits set: the subnet is 10.0.0.0\/24/],
    ["missing bridge", (c: Raw) => void delete c.proxmox.networks.default.bridge, "proxmox.networks.default.bridge", /is required: the Proxmox bridge/],
    ["missing datastore", (c: Raw) => void delete c.proxmox.datastore, "proxmox.datastore", /is required/],
    ["no nodes", (c: Raw) => void (c.proxmox.nodes = []), "proxmox.nodes", /is required: the Proxmox node names/],
    ["node listed twice", (c: Raw) => void c.proxmox.nodes.push("pve1"), "proxmox.nodes[3]", /node 'pve1' is listed twice/],
    ["unknown field", (c: Raw) => void (c.proxmox.datastor = "x"), "proxmox.datastor", /unknown field 'datastor'/],
    ["insecure not a boolean", (c: Raw) => void (c.proxmox.insecure = "yes"), "proxmox.insecure", /must be true or false/],
    ["nixpkgs pin without sha256", (c: Raw) => void delete c.proxmox.nixos.nixpkgs.sha256, "proxmox.nixos.nixpkgs.sha256", /is required: the sha256 of the unpacked tree/],
    ["nixpkgs pin with a hex sha256", (c: Raw) => void (c.proxmox.nixos.nixpkgs.sha256 = "4e2f9906f5bacab596020daccc4c554f009de2a389dca955af5b451dfc9f8bc4"), "proxmox.nixos.nixpkgs.sha256", /is neither a Nix base32 sha256 \(52 characters\) nor an SRI hash/],
    ["nixpkgs pin not a URL", (c: Raw) => void (c.proxmox.nixos.nixpkgs.url = "nixos-25.11"), "proxmox.nixos.nixpkgs.url", /'nixos-25.11' is not an http\(s\) URL of a nixpkgs tarball/],
    ["gc age not in days", (c: Raw) => void (c.proxmox.nixos.gc.deleteOlderThan = "2w"), "proxmox.nixos.gc.deleteOlderThan", /'2w' is not a number of days like '30d'/],
    ["unknown nixos field", (c: Raw) => void (c.proxmox.nixos.channel = "nixos-25.11"), "proxmox.nixos.channel", /unknown field 'channel'/],
    ["a node hosting containers without a host key", (c: Raw) => void delete c.proxmox.ssh.nodes[1].hostKey, "proxmox.ssh.nodes", /node 'pve2' runs nats-2 but has no entry with a hostKey: .*ssh-keyscan -t ed25519.*ssh.verifyHostKeys: false/],
    ["a node host key that is no public key", (c: Raw) => void (c.proxmox.ssh.nodes[0].hostKey = "SHA256:abc"), "proxmox.ssh.nodes[0].hostKey", /is not an OpenSSH public key line.*ssh-keyscan -t ed25519 10.0.0.11/],
    ["store dir outside the data volume", (c: Raw) => void (c.topology.dataDir = "/srv/nats"), "proxmox.dataMountPath", /JetStream store '\/srv\/nats\/nats-1' of server 'nats-1' is not under the data volume \/var\/lib\/cim-nats/],
  ])("%s", (_name, change, propertyPath, reason) => {
    const { issues } = issuesAfter((c) => change(c as unknown as Raw));
    expect(issues).toContainEqual({ propertyPath, reason: expect.stringMatching(reason) });
  });

  it("vmid clash (a topology not built by parseTopology)", () => {
    const { issues } = issuesAfter(() => ({
      topology: (t) => ({ ...t, hosts: t.hosts.map((h) => (h.name === "nats-3" ? { ...h, vmid: 201 } : h)) }),
    }));
    expect(issues).toEqual([
      { propertyPath: "topology.hosts[2].vmid", reason: "duplicate vmid 201 (also topology.hosts[0] 'nats-1'): each container needs its own Proxmox VM id: pick an unused one" },
    ]);
  });

  it("vmid clash wording matches parseTopology's", () => {
    const config = readStackConfig("prod");
    const t = clone(config.topology) as Raw;
    t.hosts[2].vmid = 201;
    expect(() => parseTopology(t, { name: "prod" })).toThrow(
      "topology.hosts[2].vmid: duplicate vmid 201 (also topology.hosts[0] 'nats-1'): each container needs its own Proxmox VM id: pick an unused one",
    );
  });

  it("collects every problem at once", () => {
    const { issues } = issuesAfter((c) => {
      delete c.proxmox.endpoint;
      delete c.secrets.apiToken;
      c.topology.hosts[1].node = "pve9";
      delete c.proxmox.templates.pve3;
      c.topology.hosts[0].address = "10.0.1.41";
    });
    expect(issues.map((i) => i.propertyPath)).toEqual([
      "proxmox.endpoint",
      "proxmoxApiToken",
      "topology.hosts[0].address",
      "topology.hosts[1].node",
      "proxmox.templates.pve3",
    ]);
  });

  it("never echoes a secret value in an error", () => {
    const token = "root@pam!ci=SUPERSECRETVALUE extra";
    const { error } = issuesAfter((c) => {
      c.secrets.apiToken = token;
      c.secrets.sshPrivateKey = "PRIVATEKEYMATERIAL";
    });
    expect(error.message).not.toContain("SUPERSECRETVALUE");
    expect(error.message).not.toContain("PRIVATEKEYMATERIAL");
  });

  it("missing proxmox section", () => {
    const { topology, secrets } = prodFixture();
    expect(() => parseProxmox(undefined, topology, secrets)).toThrow(/proxmox: missing: set `cim-nats:proxmox`/);
  });
});

describe("openSshPublicKey", () => {
  it("matches `ssh-keygen -y` for a key ssh-keygen generated", () => {
    const dir = mkdtempSync(join(tmpdir(), "cim-h5-key-"));
    try {
      execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "c", "-f", join(dir, "k")]);
      const fromTool = execFileSync("ssh-keygen", ["-y", "-f", join(dir, "k")], { encoding: "utf8" }).trim().split(" ").slice(0, 2).join(" ");
      expect(openSshPublicKey(readFileSync(join(dir, "k"), "utf8"))).toBe(fromTool);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("is undefined for PEM keys, which carry no public blob", () => {
    const pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIBq=\n-----END PRIVATE KEY-----\n";
    expect(openSshPublicKey(pem)).toBeUndefined();
    expect(openSshPublicKey("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----")).toBeUndefined();
  });

  it("Pulumi.prod.yaml logs in through the agent: no key in the spec, the configured deploy key authorized", () => {
    const { spec } = prodAgentFixture();
    expect(spec.ssh).toEqual({
      username: "root",
      agent: true,
      authorizedKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOb3/vv8Ut5cJsZzWnnzPjYt2+eNZCPJqaaFqyc1uXfO deploy@cim-nats"],
      containerUser: "root",
      containerPort: 22,
      nodes: NODES,
      verifyHostKeys: true,
    });
  });

  it("a key in the config besides the agent: one way to log in, the fix named", () => {
    const { rawProxmox, topology } = prodAgentFixture();
    let error: unknown;
    try {
      parseProxmox(rawProxmox, topology, { apiToken: TEST_API_TOKEN, sshPrivateKey: prodFixture().key.privateKey });
    } catch (e) {
      error = e;
    }
    expect((error as ConfigError).issues).toEqual([
      { propertyPath: "sshPrivateKey", reason: expect.stringMatching(/is set, but proxmox.ssh.agent is true: .*`pulumi config rm cim-nats:sshPrivateKey`\) or set proxmox.ssh.agent: false$/) },
    ]);
    expect(String(error)).not.toContain("PRIVATE KEY");
  });

  it("asks for authorizedKeys when the key's public half cannot be derived", () => {
    const { issues } = issuesAfter((c) => {
      c.secrets.sshPrivateKey = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIBq=\n-----END PRIVATE KEY-----\n";
    });
    expect(issues).toEqual([{ propertyPath: "proxmox.ssh.authorizedKeys", reason: expect.stringMatching(/not in OpenSSH format/) }]);
  });
});
