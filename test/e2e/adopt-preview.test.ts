/**
 * Taking over containers made by hand (docs/adopt.md, steps 3–4), through the real CLI and the
 * real Proxmox provider plugin, offline:
 *
 * 1. the `up` that `npm run adopt:containers` prints (the parents of the containers: root,
 *    inventory, its provider, each NatsContainer) runs for real and creates nothing on Proxmox:
 *    no container, no download, no deploy command;
 * 2. `pulumi import` itself reads Proxmox, which is not here: its outcome is written instead —
 *    each container in the state under the URN, parent and provider of the import file, with what
 *    a hand-made container reports (privileged, its data volume's id and another size, its own
 *    description and tags) and without the program's ignoreChanges. With `proxmox.adopt` listing
 *    the hosts, `preview` plans no container replacement and no data-volume change; without it,
 *    the same state plans replacing every container (what the option is for); the two previews
 *    run side by side, the control in a copy of the state (cloneProdProject).
 * Skipped where the plugins are not built, like prod-preview.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONTAINER_TYPE, containerImportFile, importParentTargets } from "../../components/proxmox/import-file";
import { parseTopology } from "../../components/topology/parse";
import { readStackConfig } from "../support/stack-config";
import { cloneProdProject, createProdProject, missingProdPlugins, nameOf, preview, writePriorState, type Preview, type ProdProject } from "./prod-project";

const SKIP = missingProdPlugins();
if (SKIP) console.warn(`adopt-preview: skipped: ${SKIP}`);

const HOSTS = ["nats-1", "nats-2", "nats-3", "cimstor"];
const ADDRESS: Readonly<Record<string, string>> = { "nats-1": "10.0.0.41", "nats-2": "10.0.0.42", "nats-3": "10.0.0.43", cimstor: "172.16.0.2" };
const topology = parseTopology(readStackConfig("prod").topology, { name: "prod" });

const containerSteps = (p: Preview) => p.steps.filter((s) => s.urn.includes(`$${CONTAINER_TYPE}::`));
const errors = (p: Preview) => p.diagnostics.filter((d) => d.severity === "error").map((d) => d.message.trim());

/** What a container made by hand reports that the stack would not have declared (replace-only fields among them). */
function handMade(props: Record<string, any>, vmid: number): Record<string, any> {
  return {
    ...props,
    description: "nats leaf, set up by hand",
    tags: ["nats"],
    unprivileged: false,
    mountPoints: (props.mountPoints ?? []).map((m: Record<string, unknown>) => ({ ...m, volume: `local-lvm:vm-${vmid}-disk-1`, size: "64G" })),
  };
}

describe.skipIf(SKIP !== "")("containers made by hand, imported: preview through the real Proxmox plugin", () => {
  let project: ProdProject;
  let targeted: string[];

  beforeAll(async () => {
    project = await createProdProject("cim-nats-adopt-");
    project.editConfig((c) => (c["cim-nats:proxmox"].adopt = HOSTS));
  }, 300_000);
  afterAll(() => project?.cleanup());

  it("step 1: the printed up creates the containers' parents and the provider, nothing on Proxmox", async () => {
    const run = await project.pulumi(["up", "--yes", "--skip-preview", ...importParentTargets(topology, HOSTS).flatMap((t) => ["--target", t])], true);
    expect(run.code, `${run.stdout}\n${run.stderr}`.split("\n").filter((l) => /error|rror:/.test(l)).join("\n")).toBe(0);
    const resources: { type: string; urn: string }[] = JSON.parse((await project.pulumi(["stack", "export"])).stdout).deployment.resources;
    targeted = resources.map((r) => r.type);
    // The containers' parents and the provider; nothing that reaches Proxmox or a host.
    for (const t of ["cim-nats:index:Backbone", "cim-nats:proxmox:Inventory", "pulumi:providers:proxmoxve"]) expect(targeted).toContain(t);
    expect(targeted.filter((t) => t === "cim-nats:proxmox:NatsContainer")).toHaveLength(HOSTS.length);
    expect(targeted.filter((t) => t.startsWith("proxmoxve:") || t.startsWith("command:"))).toEqual([]);
    // The import file names exactly these parents and provider.
    const file = containerImportFile(topology, HOSTS);
    const urns = new Set(resources.map((r) => r.urn));
    for (const urn of Object.values(file.nameTable)) expect(urns.has(urn), urn).toBe(true);
  }, 300_000);

  it("steps 2–4: imported hand-made containers (privileged, other data volume) plan no replacement and no data-volume change", async () => {
    await writePriorState(project, ADDRESS);
    const exported = JSON.parse((await project.pulumi(["stack", "export", "--show-secrets"])).stdout);
    const file = containerImportFile(topology, HOSTS);
    let imported = 0;
    for (const r of exported.deployment.resources) {
      if (r.type !== CONTAINER_TYPE) continue;
      const entry = file.resources.find((x) => x.name === nameOf(r.urn))!;
      // Where `pulumi import --file` puts it: the import file's parent and provider.
      expect(r.parent).toBe(file.nameTable[entry.parent]);
      expect(r.provider.split("::").slice(0, -1).join("::")).toBe(file.nameTable[entry.provider]);
      const vmid = Number(entry.id.split("/")[1]);
      r.inputs = handMade(r.inputs, vmid);
      r.outputs = handMade(r.outputs, vmid);
      delete r.ignoreChanges;
      r.protect = true;
      imported++;
    }
    expect(imported).toBe(HOSTS.length);
    const stateFile = path.join(project.dir, "imported.json");
    fs.writeFileSync(stateFile, JSON.stringify(exported), { mode: 0o600 });
    await project.pulumi(["stack", "import", "--file", stateFile]);
    fs.rmSync(stateFile);

    // Control, beside it in a copy of the same state: without proxmox.adopt, every container is destroyed and recreated.
    const plainCopy = cloneProdProject(project, "cim-nats-adopt-plain-");
    plainCopy.editConfig((c) => delete c["cim-nats:proxmox"].adopt);
    const [adopted, plain] = await Promise.all([preview(project), preview(plainCopy).finally(() => plainCopy.cleanup())]);
    expect(errors(adopted)).toEqual([]);
    const steps = containerSteps(adopted);
    expect(steps.map((s) => nameOf(s.urn)).sort()).toEqual(HOSTS.map((h) => `${h}-container`).sort());
    for (const s of steps) {
      // Description and tags become the stack's, in place; nothing replace-only is compared:
      // neither the data volume nor the privileges (the hand-made values stay).
      expect(s.op, nameOf(s.urn)).toBe("update");
      const keys = Object.keys(s.detailedDiff ?? {});
      expect(keys, nameOf(s.urn)).toEqual(expect.arrayContaining(["description"]));
      expect(keys.some((k) => k.startsWith("tags")), nameOf(s.urn)).toBe(true);
      // (The bridge also reports fields the state keeps that the program leaves unset, e.g.
      // initialization.userAccount.password: updates, not replacements: the op says so.)
      const dataOrPrivileges = keys.filter((k) => ["mountPoints", "unprivileged", "disk", "operatingSystem", "nodeName", "vmId"].some((f) => k === f || k.startsWith(`${f}.`) || k.startsWith(`${f}[`)));
      expect(dataOrPrivileges, nameOf(s.urn)).toEqual([]);
      expect(s.replaceReasons ?? [], nameOf(s.urn)).toEqual([]);
    }
    expect(Object.keys(adopted.changeSummary).filter((k) => /replace|delete/.test(k))).toEqual([]);

    // Control: the same imported state without proxmox.adopt plans destroying every container.
    expect(containerSteps(plain).map((s) => nameOf(s.urn)).sort()).toEqual(HOSTS.map((h) => `${h}-container`).sort());
    for (const s of containerSteps(plain)) {
      expect(s.op, nameOf(s.urn)).toBe("replace");
      expect(s.replaceReasons, nameOf(s.urn)).toEqual(expect.arrayContaining(["unprivileged"]));
    }
  }, 900_000);
});
