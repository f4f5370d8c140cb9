import { describe, expect, it } from "vitest";
import { containerArgs, containerTags, templateDownloadArgs, templateFileId } from "../../components/proxmox/container-args";
import { providerArgs } from "../../components/proxmox/provider-args";
import { expectedProdContainers } from "./expected-prod";
import { prodFixture, TEST_API_TOKEN } from "./fixtures";

describe("containerArgs for the prod stack", () => {
  const { topology, spec, key } = prodFixture();
  const authorizedKey = key.publicKey.split(" ").slice(0, 2).join(" ");
  const expected = expectedProdContainers(authorizedKey);

  it.each(topology.hosts.map((h) => [h.name, h] as const))("%s: exact container inputs", (name, host) => {
    expect(containerArgs(host, "prod", spec)).toEqual(expected[name]);
  });

  it("places 201→pve1, 202→pve2, 203→pve3, 204→pve1", () => {
    expect(topology.hosts.map((h) => { const a = containerArgs(h, "prod", spec); return `${a.vmId}→${a.nodeName}`; })).toEqual([
      "201→pve1",
      "202→pve2",
      "203→pve3",
      "204→pve1",
    ]);
  });

  it("tags are lower-case, sorted and unique (Proxmox normalizes them)", () => {
    const host = { ...topology.hosts[3], tags: ["Storage", "storage", "Backup"] };
    expect(containerTags(host, "prod")).toEqual(["backup", "cim-nats", "leaf", "prod", "storage"]);
  });

  it("refuses a spec not built by parseProxmox", () => {
    const bad = { ...spec, templates: {} };
    expect(() => containerArgs(topology.hosts[0], "prod", bad)).toThrow("host 'nats-1': no template for node 'pve1' in the Proxmox spec");
  });
});

describe("templates and provider", () => {
  it("a file template has no download; a download template's file id is datastore:vztmpl/name", () => {
    expect(templateDownloadArgs("pve1", { kind: "file", fileId: "local:vztmpl/a.tar.xz" })).toBeUndefined();
    const source = { kind: "download", url: "https://h/n.tar.xz", fileName: "n.tar.xz", datastore: "local", checksum: "ab", checksumAlgorithm: "sha256" } as const;
    expect(templateDownloadArgs("pve2", source)).toEqual({
      nodeName: "pve2",
      contentType: "vztmpl",
      datastoreId: "local",
      url: "https://h/n.tar.xz",
      fileName: "n.tar.xz",
      checksum: "ab",
      checksumAlgorithm: "sha256",
      overwrite: false,
    });
    expect(templateFileId(source)).toBe("local:vztmpl/n.tar.xz");
  });

  it("provider args carry endpoint, token, TLS flag and SSH settings", () => {
    const { spec, key } = prodFixture();
    expect(providerArgs(spec)).toEqual({
      endpoint: "https://10.0.0.11:8006/",
      apiToken: TEST_API_TOKEN,
      insecure: false,
      // The nodes' SSH addresses; their host keys are the deploy's, not the provider's.
      ssh: {
        username: "root",
        agent: false,
        privateKey: key.privateKey,
        nodes: [
          { name: "pve1", address: "10.0.0.11" },
          { name: "pve2", address: "10.0.0.12" },
          { name: "pve3", address: "10.0.0.13" },
        ],
      },
    });
  });
});
