/**
 * The `pulumi import --file` JSON for containers made before the stack (docs/adopt.md, step 3):
 * each host's container under the resource the program declares, id `<node>/<vmid>`; the
 * targeted up's parents. Pure; adopt-preview.test.ts runs both through the real CLI and plugin.
 */
import { describe, expect, it } from "vitest";
import { containerImportFile, importParentTargets } from "../../components/proxmox/import-file";
import { parseTopology } from "../../components/topology/parse";
import { readStackConfig } from "../support/stack-config";

const topology = parseTopology(readStackConfig("prod").topology, { name: "prod" });
const inventory = "urn:pulumi:prod::cim-nats::cim-nats:index:Backbone$cim-nats:proxmox:Inventory";

describe("containerImportFile", () => {
  it("names each container as the program does, under its NatsContainer and the inventory's provider", () => {
    expect(containerImportFile(topology, ["nats-2", "cimstor"])).toEqual({
      nameTable: {
        proxmox: `${inventory}$pulumi:providers:proxmoxve::prod-provider`,
        "nats-2": `${inventory}$cim-nats:proxmox:NatsContainer::nats-2`,
        cimstor: `${inventory}$cim-nats:proxmox:NatsContainer::cimstor`,
      },
      resources: [
        { type: "proxmoxve:index/containerLegacy:ContainerLegacy", name: "nats-2-container", id: "pve2/202", parent: "nats-2", provider: "proxmox" },
        { type: "proxmoxve:index/containerLegacy:ContainerLegacy", name: "cimstor-container", id: "pve1/204", parent: "cimstor", provider: "proxmox" },
      ],
    });
  });

  it("refuses a host the topology lacks, naming the hosts it has", () => {
    expect(() => containerImportFile(topology, ["nats-9"])).toThrow("'nats-9' is not a host of the topology: use one of nats-1, nats-2, nats-3, cimstor");
  });

  it("targets the parents and what the deploy's files are rendered from, never a container or a command", () => {
    const targets = importParentTargets(topology, ["nats-1"]);
    expect(targets.slice(0, 4)).toEqual([
      "urn:pulumi:prod::cim-nats::cim-nats:index:Backbone::prod",
      `${inventory}::prod`,
      `${inventory}$pulumi:providers:proxmoxve::prod-provider`,
      `${inventory}$cim-nats:proxmox:NatsContainer::nats-1`,
    ]);
    expect(targets.filter((t) => /ContainerLegacy|command:/.test(t))).toEqual([]);
  });
});
