/**
 * `pulumi preview -s prod` through the real CLI with the real provider plugins
 * (pulumi-resource-command 1.2.1, pulumi-resource-proxmoxve 8.6.0), offline, with placeholder
 * secrets, on a throwaway copy of the project (test/e2e/prod-project.ts). What mocks cannot see:
 * the providers' own checks, and whether a change *updates* or *replaces* (the command SDK's
 * replaceOnChanges, the Proxmox schema's force-new fields). Nothing reaches Proxmox or a container.
 *
 * Day 2 starts from a prior state written with `pulumi stack import` (writePriorState): the
 * state an `up` would leave, checked first by an unchanged config planning no change at all.
 * Each day-2 edit is previewed in its own copy of that stack (cloneProdProject), a few side by
 * side; the fresh preview, the bad token's and the prior state are made at once, each in its own
 * project copy and backend (nothing here depends on another case's order). Adopting host-key
 * pinning and TLS on older stacks: prod-preview-adoption.test.ts.
 * Skipped, with the reason printed, where the plugins are not built (npm run setup builds them).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { embeddedFiles } from "../../components/deploy/build-script";
import { generateOpenSshKey } from "../proxmox/ssh-key";
import { ADDRESS, CID_HOST, changed, errors, HOSTS, hostResources, machineOps, machineResources, secretCopies } from "./prod-plan";
import {
  cloneProdProject,
  createProdProject,
  inParallel,
  missingProdPlugins,
  nameOf,
  needsServers,
  preview,
  sharedPriorState,
  type Preview,
  type ProdProject,
} from "./prod-project";

const SKIP = missingProdPlugins();
if (SKIP) console.warn(`prod-preview: skipped: ${SKIP}`);

/** The public files each host's system is built from (carried by its build, never copied to it). */
const FILES = [
  "/etc/nixos/cim-nats/access.nix",
  "/etc/nixos/cim-nats/host.nix",
  "/etc/nixos/cim-nats/modules/cim-nats.nix",
  // The pinned nats-server, the nixpkgs pin and Nix's settings (nixos-system.ts).
  "/etc/nixos/cim-nats/modules/nats-server.nix",
  "/etc/nixos/cim-nats/nixpkgs.nix",
  "/etc/nixos/cim-nats/secret-hashes.nix",
  "/etc/nixos/cim-nats/system.nix",
  "/etc/nixos/configuration.nix",
];
const timings: Record<string, number> = {};
/**
 * docs/prod.md's counts: what a fresh `pulumi preview -s prod` creates, and the deploy commands
 * among them (per host: host-key read, build, stage, copies, switch; 9 copies on a hub host, 6 on cimstor).
 */
const FRESH_PREVIEW_CREATES = 173;
const DEPLOY_COMMANDS = 3 * (4 + 9) + (4 + 6);

/** cimstor also runs the CID service: its unit module, program bundle and enabling file (built), and creds (copied). */
const CID_FILES = ["/etc/nixos/cim-nats/cid-service.js", "/etc/nixos/cim-nats/cid-service.nix", "/etc/nixos/cim-nats/modules/cim-cid-service.nix"];

/** Our parser takes USER@REALM!TOKENID=SECRET; the provider wants the secret to be a UUID. */
const BAD_TOKEN = "pulumi@pve!deploy=s3cr3t_not_a_uuid";

/** The day-2 edits of Pulumi.prod.yaml, each previewed against the prior state in its own copy of the stack. */
const EDITS = {
  // nats-2's leaf monitoring port: rendered into nats-2's host file (and its health wait) only.
  hostFile: (c: Record<string, any>) => (c["cim-nats:topology"].hosts[1].ports = { leaf: { monitoring: 8224 } }),
  // Step 1 of docs/prod.md's rotation: the new key authorized beside the old one; the agent then gets the new key.
  keyRotation: (c: Record<string, any>) => c["cim-nats:proxmox"].ssh.authorizedKeys.push(generateOpenSshKey("deploy-rotated@cim-nats-test").publicKey),
  nixpkgsBump: (c: Record<string, any>) => {
    c["cim-nats:proxmox"].nixos.nixpkgs = { url: "https://github.com/NixOS/nixpkgs/archive/0c88e1f2bdb93d5999019e99cb0e61e1fe2af4c5.tar.gz", sha256: "sha256-q/nkKLDtHIyLjZpKhWk3cSK5IYsFqtMd6UtXF3ddjgA=" };
  },
  templateBump: (c: Record<string, any>) => {
    for (const node of ["pve1", "pve2", "pve3"]) c["cim-nats:proxmox"].templates[node] = "local:vztmpl/nixos-26.05-x86_64-linux.tar.xz";
  },
  removeHost: (c: Record<string, any>) => {
    c["cim-nats:topology"].hosts = c["cim-nats:topology"].hosts.filter((h: { name: string }) => h.name !== "cimstor");
    // The object bucket declared only at cimstor goes with it, and so does its CID service and user.
    c["cim-nats:jetstream"].objects = c["cim-nats:jetstream"].objects.filter((o: { at: unknown }) => JSON.stringify(o.at) !== JSON.stringify(["cimstor"]));
    delete c["cim-nats:cidService"];
    c["cim-nats:security"].users = c["cim-nats:security"].users.filter((u: { name: string }) => u.name !== "cid-service");
  },
  addHost: (c: Record<string, any>) => c["cim-nats:topology"].hosts.push({ name: "leaf-04", vmid: 205, node: "pve2", address: "10.0.0.44", roles: ["leaf"] }),
} as const;
type EditName = keyof typeof EDITS;

/** Previews at once beside the rest of the file (each a CPU-bound CLI run: more would only queue on 2 cores). */
const EDIT_PREVIEWS_AT_ONCE = 3;

/** `work` started now; awaited later (a rejection before then is not an unhandled one). */
function started<T>(work: () => Promise<T>): Promise<T> {
  const p = work();
  p.catch(() => undefined);
  return p;
}

type Fresh = { readonly project: ProdProject; readonly fresh: Preview };
type BadToken = { readonly project: ProdProject; readonly bad: Preview };
type Day2 = { readonly project: ProdProject; readonly baseline: Preview; readonly edits: Readonly<Record<EditName, Promise<Preview>>> };
let freshSetup: Promise<Fresh>;
let badTokenSetup: Promise<BadToken>;
let day2Setup: Promise<Day2>;
const projects: ProdProject[] = [];
const created = async (prefix?: string) => {
  const p = await createProdProject(prefix);
  projects.push(p);
  return p;
};

beforeAll(() => {
  if (SKIP) return;
  // Three chains at once, each in its own project copy and backend.
  freshSetup = started(async () => {
    const project = await created();
    const fresh = await preview(project);
    timings.freshPreview = fresh.run.ms;
    return { project, fresh };
  });
  badTokenSetup = started(async () => {
    const project = await created("cim-nats-prod-token-");
    await project.setSecret("cim-nats:proxmoxApiToken", BAD_TOKEN);
    return { project, bad: await preview(project) };
  });
  day2Setup = started(async () => {
    // Written by this file or policy-cli, whichever asks first (sharedPriorState).
    const { project, prior, shared } = await sharedPriorState("cim-nats-prod-day2-", ADDRESS);
    projects.push(project);
    timings[shared ? "priorStateCopied" : "priorState"] = prior.ms;
    const baseline = await preview(project);
    timings.day2Preview = baseline.run.ms;
    // Each edit in its own copy of the prior state (what it is checked against: the baseline's no change).
    const names = Object.keys(EDITS) as EditName[];
    const runs = inParallel(EDIT_PREVIEWS_AT_ONCE, names.map((name) => () => previewWith(project, EDITS[name])));
    const edits = Object.fromEntries(names.map((name, i) => [name, started(() => runs.then((r) => r[i]))])) as Record<EditName, Promise<Preview>>;
    return { project, baseline, edits };
  });
});
afterAll(async () => {
  // Every run done before its folder goes.
  const day2 = await day2Setup?.catch(() => undefined);
  if (day2) await Promise.allSettled(Object.values(day2.edits));
  await Promise.allSettled([freshSetup, badTokenSetup]);
  for (const p of projects) p.cleanup();
  console.log(`prod-preview timings (ms): ${JSON.stringify(timings)}`);
}, 600_000);

/** `edit` previewed in a copy of `project`'s stack (the copy then goes). */
async function previewWith(project: ProdProject, edit: (config: Record<string, any>) => void): Promise<Preview> {
  const copy = cloneProdProject(project);
  try {
    copy.editConfig(edit);
    return await preview(copy);
  } finally {
    copy.cleanup();
  }
}

describe.skipIf(SKIP !== "")("pulumi preview -s prod from an empty state (real plugins, placeholder secrets)", () => {
  let fresh: Preview;

  beforeAll(async () => {
    ({ fresh } = await freshSetup);
  }, 600_000);

  it("exits 0 with nothing but creates", () => {
    expect(errors(fresh)).toEqual([]);
    expect(fresh.run.code).toBe(0);
    expect(Object.keys(fresh.changeSummary)).toEqual(["create"]);
  });

  it("plans exactly the four containers and, per host, its host-key read, build, stage, secret copies and switch (the counts docs/prod.md states)", () => {
    const ops = machineOps(fresh);
    expect(Object.keys(ops).filter((n) => n.endsWith("-container")).sort()).toEqual(HOSTS.map((h) => `${h}-container`).sort());
    expect(Object.keys(ops).filter((n) => n.startsWith("deploy-")).sort()).toEqual(HOSTS.flatMap(machineResources).sort());
    expect(new Set(Object.values(ops))).toEqual(new Set(["create"]));
    // docs/prod.md: 9 copies per hub host (two link creds + 2 × 3 TLS files + the route authorization), 6 on cimstor.
    expect(Object.fromEntries(HOSTS.map((h) => [h, secretCopies(h).length]))).toEqual({ "nats-1": 9, "nats-2": 9, "nats-3": 9, cimstor: 6 });
    expect(fresh.changeSummary.create).toBe(FRESH_PREVIEW_CREATES);
    expect(Object.keys(ops).filter((n) => n.startsWith("deploy-")).length).toBe(DEPLOY_COMMANDS);
  });

  it("each build carries exactly its host's public files (never a secret) and copies to its container", () => {
    for (const host of HOSTS) {
      const build = fresh.steps.find((s) => nameOf(s.urn) === `deploy-${host}-build`)!;
      const stdin = build.newState!.inputs!.stdin;
      // Unknown until the stack's keys exist (host.nix carries the account JWTs): the fresh plan cannot show it.
      if (typeof stdin !== "string" || stdin.startsWith("04da6b54")) continue;
      expect(Object.keys(embeddedFiles(stdin)).sort()).toEqual([...FILES, ...(host === CID_HOST ? CID_FILES : [])].sort());
      expect(stdin).toContain(`nix-copy-closure --to root@${ADDRESS[host]}`);
    }
  });

  it("orders them as docs/prod.md states: container → build; container → stage → copies; build + copies → switch, hub switches one after another", () => {
    const deps = (name: string) => fresh.steps.find((s) => nameOf(s.urn) === name)!.newState!.dependencies!.map(nameOf);
    for (const host of HOSTS) {
      const [stage, ...rest] = hostResources(host);
      const copies = rest.slice(0, -1);
      expect(deps(stage)).toContain(`${host}-container`);
      expect(deps(`deploy-${host}-build`)).toContain(`${host}-container`);
      for (const copy of copies) expect(deps(copy)).toContain(stage);
      expect(deps(`deploy-${host}-switch`)).toEqual(expect.arrayContaining([...copies, `deploy-${host}-build`]));
      // The container's host key is read on its node once the container exists, and every
      // connection to the container waits for it (it pins that key).
      expect(deps(`deploy-${host}-hostkey`)).toContain(`${host}-container`);
      for (const r of [`deploy-${host}-build`, ...hostResources(host)]) expect(deps(r), r).toContain(`deploy-${host}-hostkey`);
    }
    const switches = (host: string) => deps(`deploy-${host}-switch`).filter((d) => d.endsWith("-switch"));
    expect([switches("nats-1"), switches("nats-2"), switches("nats-3"), switches("cimstor")]).toEqual([[], ["deploy-nats-1-switch"], ["deploy-nats-2-switch"], []]);
    // And the engine's plan lists each host's stage before its copies, its build and copies before its switch.
    const at = (name: string) => fresh.steps.findIndex((s) => nameOf(s.urn) === name);
    for (const host of HOSTS) {
      const order = hostResources(host).map(at);
      expect(order[0]).toBeLessThan(Math.min(...order.slice(1)));
      expect(order[order.length - 1]).toBeGreaterThan(Math.max(...order.slice(0, -1), at(`deploy-${host}-build`)));
    }
  });

  it("the leaf-link creds, unknown until their users exist, reach the command provider as secret assets", () => {
    for (const host of HOSTS) {
      const copy = fresh.steps.find((s) => nameOf(s.urn) === `deploy-${host}-copy-var-lib-cim-nats-secrets-leaf-${host}.creds`)!;
      expect(copy.op).toBe("create");
      expect(copy.newState!.inputs!.source).toBe("[secret]");
    }
  });

  it("containers are protected, in Pulumi and in Proxmox, and ignore their key and template fields", () => {
    for (const host of HOSTS) {
      const s = fresh.steps.find((x) => nameOf(x.urn) === `${host}-container`)!.newState as any;
      expect([s.protect, s.inputs.protection, s.ignoreChanges]).toEqual([true, true, ["initialization.userAccount.keys", "operatingSystem.templateFileId"]]);
    }
  });

  it("a token only the Proxmox provider refuses fails the preview with the provider's message", async () => {
    // Its own project copy: this stack's token is the placeholder, that one's the bad token.
    const { bad } = await badTokenSetup;
    expect(bad.run.code).not.toBe(0);
    expect(errors(bad).join("\n")).toContain("the API token must be in the format 'USER@REALM!TOKENID=UUID'");
    expect(bad.run.stdout + bad.run.stderr).not.toContain("s3cr3t_not_a_uuid");
  }, 600_000);
});

describe.skipIf(SKIP !== "")("day-2 plans from the real providers, against a prior state", () => {
  let baseline: Preview;
  let edits: Day2["edits"];

  beforeAll(async () => {
    ({ baseline, edits } = await day2Setup);
  }, 900_000);

  it("an unchanged config plans no change to any container or command (the prior state is what an up leaves)", () => {
    expect(errors(baseline)).toEqual([]);
    expect(changed(machineOps(baseline))).toEqual({});
    // The 4 containers and every deploy command are among the unchanged (with the components and security).
    expect(baseline.changeSummary.same).toBeGreaterThanOrEqual(4 + DEPLOY_COMMANDS);
    // What is left to create is the JetStream state the prior state leaves out (it needs servers):
    // the CA, the certificates, the route password and the account pushes the state holds plan
    // no change either.
    expect(baseline.steps.filter((s) => s.op !== "same" && !needsServers(s.urn)).map((s) => nameOf(s.urn))).toEqual([]);
  });

  it("a change to one host's file updates (never replaces) that host's build and switch, and nothing else", async () => {
    const p = await edits.hostFile;
    expect(errors(p)).toEqual([]);
    expect(changed(machineOps(p))).toEqual({ "deploy-nats-2-build": "update", "deploy-nats-2-switch": "update" });
    for (const name of ["deploy-nats-2-build", "deploy-nats-2-switch"]) expect(p.steps.find((s) => nameOf(s.urn) === name)!.diffReasons).toEqual(["stdin"]);
  }, 600_000);

  it("a deploy key rotation (a new key in ssh.authorizedKeys) replaces no container; every host's system is rebuilt with it", async () => {
    const p = await edits.keyRotation;
    expect(errors(p)).toEqual([]);
    const ops = changed(machineOps(p));
    expect(Object.entries(ops).filter(([n]) => n.endsWith("-container"))).toEqual([]);
    // Every host's access.nix (the keys as NixOS config) changes: its build and its switch, nothing else.
    expect(ops).toEqual(Object.fromEntries(HOSTS.flatMap((h) => [[`deploy-${h}-build`, "update"], [`deploy-${h}-switch`, "update"]])));
    timings.keyRotationUpdates = Object.keys(ops).length;
  }, 600_000);

  it("a nixpkgs pin bump updates each host's build and switch, and replaces nothing", async () => {
    const p = await edits.nixpkgsBump;
    expect(errors(p)).toEqual([]);
    expect(changed(machineOps(p))).toEqual(
      Object.fromEntries(HOSTS.flatMap((h) => [[`deploy-${h}-build`, "update"], [`deploy-${h}-switch`, "update"]])),
    );
  }, 600_000);

  it("a template bump replaces no container", async () => {
    const p = await edits.templateBump;
    expect(errors(p)).toEqual([]);
    expect(changed(machineOps(p))).toEqual({});
  }, 600_000);

  it("removing a host fails at preview: its container is protected (the leaf's only copy of its streams)", async () => {
    const p = await edits.removeHost;
    timings.removeHostPreview = p.run.ms;
    expect(p.run.code).not.toBe(0);
    expect(errors(p).join("\n")).toMatch(/ContainerLegacy::cimstor-container" cannot be deleted\s+because it is protected/);
    // (Offline: the JetStream removal guard asks no server here, CIM_NATS_OFFLINE=1.)
  }, 600_000);

  it("adding a host creates its container and commands, and touches no other container", async () => {
    const p = await edits.addHost;
    expect(errors(p)).toEqual([]);
    const ops = changed(machineOps(p));
    const created = Object.entries(ops).filter(([, op]) => op === "create").map(([n]) => n).sort();
    expect(created).toEqual(["leaf-04-container", ...machineResources("leaf-04")].sort());
    // Other hosts' files may change (the account JWT lists the new leaf's link user), but only
    // as updates of their commands: no container is touched, nothing is replaced or deleted.
    const others = Object.entries(ops).filter(([n, op]) => op !== "create" && !n.includes("leaf-04"));
    expect(others.filter(([n]) => n.endsWith("-container"))).toEqual([]);
    expect(others.filter(([, op]) => op !== "update")).toEqual([]);
    timings.addHostOtherUpdates = others.length;
  }, 600_000);
});
