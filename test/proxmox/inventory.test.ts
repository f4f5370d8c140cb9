/**
 * The prod stack's Proxmox resources under Pulumi's mocks: exactly one provider, no template
 * downloads (prod uses existing template files), and one container per host with the exact
 * inputs, placement and provider.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ProxmoxInventory } from "../../components/proxmox/inventory";
import { expectedProdContainers } from "./expected-prod";
import { prodFixture, TEST_API_TOKEN } from "./fixtures";
import { installMocks, MockRecorder, registered, secretInput, valueOf } from "./mocks";

const CONTAINER = "proxmoxve:index/containerLegacy:ContainerLegacy";

describe("ProxmoxInventory on the prod stack (mocked)", () => {
  let mocks: MockRecorder;
  let inventory: ProxmoxInventory;
  const fixture = prodFixture();

  beforeAll(async () => {
    mocks = await installMocks("prod");
    inventory = new ProxmoxInventory("prod", { topology: fixture.topology, spec: fixture.spec });
    await registered([inventory.provider, ...Object.values(inventory.containers).map((c) => c.container)]);
  });

  it("declares one container per host with the exact inputs", () => {
    const expected = expectedProdContainers(fixture.key.publicKey.split(" ").slice(0, 2).join(" "));
    const containers = mocks.ofType(CONTAINER);
    expect(containers.map((c) => c.name)).toEqual(["nats-1-container", "nats-2-container", "nats-3-container", "cimstor-container"]);
    for (const c of containers) expect(c.inputs).toEqual(expected[c.name.replace(/-container$/, "")]);
  });

  it("places each container on its node: 201→pve1, 202→pve2, 203→pve3, 204→pve1", () => {
    expect(mocks.ofType(CONTAINER).map((c) => `${c.inputs.vmId}→${c.inputs.nodeName}`)).toEqual(["201→pve1", "202→pve2", "203→pve3", "204→pve1"]);
  });

  it("builds one provider from the spec, token and SSH key as secrets", () => {
    const providers = mocks.ofType("pulumi:providers:proxmoxve");
    expect(providers.map((p) => p.name)).toEqual(["prod-provider"]);
    const inputs = providers[0].inputs;
    expect(inputs.endpoint).toBe("https://10.0.0.11:8006/");
    expect(inputs.apiToken).toEqual(secretInput(TEST_API_TOKEN));
    expect(inputs.insecure).toBe("false"); // the provider JSON-encodes non-string inputs
    // `ssh` is one JSON string; the secret key inside makes the whole of it secret.
    expect(inputs.ssh).toEqual(secretInput(expect.any(String)));
    expect(JSON.parse(inputs.ssh.value)).toEqual({
      username: "root",
      agent: false,
      privateKey: fixture.key.privateKey,
      nodes: [
        { name: "pve1", address: "10.0.0.11" },
        { name: "pve2", address: "10.0.0.12" },
        { name: "pve3", address: "10.0.0.13" },
      ],
    });
  });

  it("every container uses that provider and sits under its NatsContainer component", () => {
    const providerRef = `${mocks.urnOf("prod-provider")}::prod-provider-id`;
    for (const c of mocks.ofType(CONTAINER)) {
      expect(c.provider).toBe(providerRef);
      expect(c.parent).toBe(mocks.urnOf(c.name.replace(/-container$/, "")));
    }
    for (const host of ["nats-1", "nats-2", "nats-3", "cimstor"]) {
      expect(mocks.byName(host).type).toBe("cim-nats:proxmox:NatsContainer");
      expect(mocks.byName(host).parent).toBe(mocks.urnOf("prod"));
    }
  });

  it("declares no template download when every node has a template file", () => {
    expect(mocks.ofType("proxmoxve:download/file:File")).toEqual([]);
  });

  it("exposes vmId, node and address per container", async () => {
    const c = inventory.containers["nats-2"];
    expect(await valueOf(c.vmId)).toBe(202);
    expect(await valueOf(c.nodeName)).toBe("pve2");
    expect(await valueOf(c.address)).toBe("10.0.0.42");
  });
});
