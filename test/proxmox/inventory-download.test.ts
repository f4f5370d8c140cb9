/**
 * A stack that downloads its NixOS template: one download per node, each on its node through
 * the stack's provider, and every container created from (and after) its node's download.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ProxmoxInventory } from "../../components/proxmox/inventory";
import { parseProxmox } from "../../components/proxmox/parse";
import { prodFixture } from "./fixtures";
import { installMocks, MockRecorder, registered } from "./mocks";

const URL = "https://hydra.example/build/nixos-image-lxc-proxmox-25.11-x86_64-linux.tar.xz";
const FILE = "proxmoxve:download/file:File";

describe("ProxmoxInventory with downloaded templates (mocked)", () => {
  let mocks: MockRecorder;
  const fixture = prodFixture();

  beforeAll(async () => {
    mocks = await installMocks("prod");
    const template = { url: URL, checksum: "0123abcd", checksumAlgorithm: "sha256" };
    const raw = { ...fixture.rawProxmox, templates: { pve1: template, pve2: template, pve3: template } };
    const spec = parseProxmox(raw, fixture.topology, fixture.secrets);
    const inventory = new ProxmoxInventory("dl", { topology: fixture.topology, spec });
    await registered([...Object.values(inventory.templates), ...Object.values(inventory.containers).map((c) => c.container)]);
  });

  it("declares one template download per node, exact inputs", () => {
    expect(mocks.ofType(FILE).map((f) => [f.name, f.inputs])).toEqual(
      ["pve1", "pve2", "pve3"].map((node) => [
        `dl-template-${node}`,
        {
          nodeName: node,
          contentType: "vztmpl",
          datastoreId: "local",
          url: URL,
          fileName: "nixos-image-lxc-proxmox-25.11-x86_64-linux.tar.xz",
          checksum: "0123abcd",
          checksumAlgorithm: "sha256",
          overwrite: false,
        },
      ]),
    );
    const providerRef = `${mocks.urnOf("dl-provider")}::dl-provider-id`;
    for (const f of mocks.ofType(FILE)) expect(f.provider).toBe(providerRef);
  });

  it("creates each container from its node's download, after it", () => {
    const node = { "nats-1": "pve1", "nats-2": "pve2", "nats-3": "pve3", cimstor: "pve1" } as const;
    for (const [host, n] of Object.entries(node)) {
      const c = mocks.byName(`${host}-container`);
      // The mock id of the download is `<name>-id`: the container's input is that resource's output.
      expect(c.inputs.operatingSystem).toEqual({ templateFileId: `dl-template-${n}-id`, type: "nixos" });
      expect(c.dependencies).toContain(mocks.urnOf(`dl-template-${n}`));
    }
  });
});
