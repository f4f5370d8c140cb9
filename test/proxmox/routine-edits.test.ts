/**
 * Routine edits never replace a container (issue 9 item 6), under Pulumi's mocks. What each edit
 * plans is modelled from what the SDK registered (ignoreChanges, replaceOnChanges) plus the
 * fields the Proxmox provider itself forces new (CONTAINER_FORCE_NEW, from its schema), never
 * picked by the test; test/e2e/prod-day2.test.ts asks the real provider the same questions.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { CONTAINER_FORCE_NEW, CONTAINER_IGNORE_CHANGES } from "../../components/proxmox/container-args";
import { ProxmoxInventory } from "../../components/proxmox/inventory";
import { parseProxmox } from "../../components/proxmox/parse";
import { plannedOperation } from "../deploy/engine-plan";
import { clone, prodFixture } from "./fixtures";
import { installMocks, MockRecorder, Registered, registered } from "./mocks";
import { generateOpenSshKey } from "./ssh-key";

const CONTAINER = "proxmoxve:index/containerLegacy:ContainerLegacy";
const HOSTS = ["nats-1", "nats-2", "nats-3", "cimstor"];


/** Registers the inventory for `raw`/`sshPrivateKey` and returns its containers by host. */
async function declare(name: string, raw: Record<string, unknown>, sshPrivateKey: string): Promise<{ mocks: MockRecorder; containers: Record<string, Registered> }> {
  const fixture = prodFixture();
  const mocks = await installMocks("prod");
  const spec = parseProxmox(raw, fixture.topology, { ...fixture.secrets, sshPrivateKey });
  const inventory = new ProxmoxInventory(name, { topology: fixture.topology, spec });
  await registered(Object.values(inventory.containers).map((c) => c.container));
  return { mocks, containers: Object.fromEntries(HOSTS.map((h) => [h, mocks.byName(`${h}-container`)])) };
}

describe("containers under routine edits (mocked)", () => {
  const fixture = prodFixture();
  let base: Record<string, Registered>;

  beforeAll(async () => {
    base = (await declare("prod", fixture.rawProxmox, fixture.secrets.sshPrivateKey!)).containers;
  });

  it("every container is protected (Pulumi protect and Proxmox protection) and ignores its key and template fields", () => {
    for (const h of HOSTS) {
      expect(base[h].type).toBe(CONTAINER);
      expect(base[h].options).toEqual({ replaceOnChanges: [], ignoreChanges: [...CONTAINER_IGNORE_CHANGES], protect: true, retainOnDelete: false });
      expect(base[h].inputs.protection).toBe(true);
    }
  });

  it("an adopted host's container ignores every replace-only input as well (proxmox.adopt), the others as before", async () => {
    const { containers } = await declare("adopted", { ...fixture.rawProxmox, adopt: ["nats-2", "cimstor"] }, fixture.secrets.sshPrivateKey!);
    for (const h of HOSTS) {
      const adopted = h === "nats-2" || h === "cimstor";
      expect([...containers[h].options.ignoreChanges].sort(), h).toEqual(adopted ? [...new Set([...CONTAINER_IGNORE_CHANGES, ...CONTAINER_FORCE_NEW])].sort() : [...CONTAINER_IGNORE_CHANGES]);
    }
    // A hand-made container's data volume and privileges differ from the declaration: the same, not a replacement.
    const handMade = (r: Registered): Registered => ({ ...r, inputs: { ...r.inputs, unprivileged: false, mountPoints: [{ ...r.inputs.mountPoints[0], volume: "local-lvm:vm-202-disk-1", size: "64G" }] } });
    expect(await plannedOperation(handMade(containers["nats-2"]), containers["nats-2"], CONTAINER_FORCE_NEW)).toBe("same");
    expect(await plannedOperation(handMade(containers["nats-1"]), containers["nats-1"], CONTAINER_FORCE_NEW)).toBe("replace");
  });

  it("protect: false lifts both guards, for a deliberate removal", async () => {
    const { containers } = await declare("unprotected", { ...fixture.rawProxmox, protect: false }, fixture.secrets.sshPrivateKey!);
    for (const h of HOSTS) {
      expect(containers[h].options.protect).toBe(false);
      expect(containers[h].inputs.protection).toBe(false);
    }
  });

  it("a deploy key rotation plans no container change", async () => {
    const rotated = generateOpenSshKey("deploy-2026@cim-nats");
    const { containers } = await declare("rotated", fixture.rawProxmox, rotated.privateKey);
    // The new key is what a new container would get...
    expect(containers["nats-1"].inputs.initialization.userAccount.keys).toEqual([rotated.publicKey.split(" ").slice(0, 2).join(" ")]);
    // ...and existing ones keep theirs: the NixOS config delivers keys from now on.
    for (const h of HOSTS) expect(await plannedOperation(base[h], containers[h], CONTAINER_FORCE_NEW)).toBe("same");
  });

  it("a template bump plans no container change", async () => {
    const raw = clone(fixture.rawProxmox) as any;
    for (const node of ["pve1", "pve2", "pve3"]) raw.templates[node] = "local:vztmpl/nixos-26.05-x86_64-linux.tar.xz";
    const { containers } = await declare("bumped", raw, fixture.secrets.sshPrivateKey!);
    expect(containers["nats-2"].inputs.operatingSystem.templateFileId).toBe("local:vztmpl/nixos-26.05-x86_64-linux.tar.xz");
    for (const h of HOSTS) expect(await plannedOperation(base[h], containers[h], CONTAINER_FORCE_NEW)).toBe("same");
  });

  it("without ignoreChanges the same edits would replace every container (the model is not vacuous)", async () => {
    const rotated = generateOpenSshKey();
    const raw = clone(fixture.rawProxmox) as any;
    raw.templates.pve1 = "local:vztmpl/nixos-26.05-x86_64-linux.tar.xz";
    const { containers } = await declare("unguarded", raw, rotated.privateKey);
    const unguarded = (r: Registered): Registered => ({ ...r, options: { ...r.options, ignoreChanges: [] } });
    for (const h of HOSTS) expect(await plannedOperation(base[h], unguarded(containers[h]), CONTAINER_FORCE_NEW)).toBe("replace");
  });

  it("a memory change is an in-place update", async () => {
    const fixtureRaw = prodFixture();
    const mocks = await installMocks("prod");
    const host = { ...fixtureRaw.topology.hosts[0], resources: { ...fixtureRaw.topology.hosts[0].resources, memoryMiB: 8192 } };
    const topology = { ...fixtureRaw.topology, hosts: [host, ...fixtureRaw.topology.hosts.slice(1)] };
    const spec = parseProxmox(fixture.rawProxmox, fixtureRaw.topology, fixture.secrets);
    const inventory = new ProxmoxInventory("bigger", { topology, spec });
    await registered(Object.values(inventory.containers).map((c) => c.container));
    expect(await plannedOperation(base["nats-1"], mocks.byName("nats-1-container"), CONTAINER_FORCE_NEW)).toBe("update");
  });
});
