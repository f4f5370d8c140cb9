/**
 * `pulumi preview -s prod` through the real CLI with the real provider plugins
 * (pulumi-resource-command 1.2.1, pulumi-resource-proxmoxve 8.6.0), offline, with placeholder
 * secrets, on a throwaway copy of the project (test/e2e/prod-project.ts). What mocks cannot see:
 * the providers' own checks, and whether a change *updates* or *replaces* (the command SDK's
 * replaceOnChanges, the Proxmox schema's force-new fields). Nothing reaches Proxmox or a container.
 *
 * Day 2 starts from a prior state written with `pulumi stack import` (writePriorState): the
 * state an `up` would leave, checked first by an unchanged config planning no change at all.
 * A stack deployed by the release before prod TLS (its program from git, withProgramAt) adopts
 * TLS and route authorization by creating them and updating files and switches, never a container.
 * Skipped, with the reason printed, where the plugins are not built (npm run setup builds them).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { embeddedFiles } from "../../components/deploy/build-script";
import { generateOpenSshKey } from "../proxmox/ssh-key";
import {
  BEFORE_PROD_TLS,
  createProdProject,
  missingProdPlugins,
  missingRevision,
  nameOf,
  PLACEHOLDER_API_TOKEN,
  needsServers,
  preview,
  withProgramAt,
  writePriorState,
  type Preview,
  type ProdProject,
} from "./prod-project";

const SKIP = missingProdPlugins();
if (SKIP) console.warn(`prod-preview: skipped: ${SKIP}`);

const HOSTS = ["nats-1", "nats-2", "nats-3", "cimstor"] as const;
const ADDRESS: Readonly<Record<string, string>> = { "nats-1": "10.0.0.41", "nats-2": "10.0.0.42", "nats-3": "10.0.0.43", cimstor: "172.16.0.2", "leaf-04": "10.0.0.44" };
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
/** What the release before build-once copied to every host, one CopyToRemote per file. */
const OLD_PUBLIC_COPIES = [
  "etc-nixos-cim-nats-access.nix",
  "etc-nixos-cim-nats-host.nix",
  "etc-nixos-cim-nats-modules-cim-nats.nix",
  "etc-nixos-cim-nats-modules-nats-server.nix",
  "etc-nixos-cim-nats-nixpkgs.nix",
  "etc-nixos-cim-nats-system.nix",
  "etc-nixos-configuration.nix",
];
/** The hosts that also run a hub member (`<host>-hub`); cimstor and an added leaf-04 run a leaf only. */
const HUB_HOSTS = ["nats-1", "nats-2", "nats-3"];
/** TLS: each server's certificate, key and CA, and a hub member's route authorization (0600 secrets). */
const tlsFiles = (host: string): string[] => [
  ...["ca.pem", "cert.pem", "key.pem"].map((f) => `${host}-${f}`),
  ...(HUB_HOSTS.includes(host) ? ["ca.pem", "cert.pem", "cluster-auth.conf", "key.pem"].map((f) => `${host}-hub-${f}`) : []),
];
const CONTAINER = "proxmoxve:index/containerLegacy:ContainerLegacy";
/** The stack's TLS resources (components/tls/resources.ts). */
const TLS_TYPE = /\$pulumi-nodejs:dynamic\/cim-nats:(TlsCa|ServerCert|RoutePassword)::/;
/** Every nats-server of a host (prod: a leaf per host, a hub member on nats-1..3). */
const serversOf = (host: string): string[] => (HUB_HOSTS.includes(host) ? [host, `${host}-hub`] : [host]);
const timings: Record<string, number> = {};
/**
 * docs/prod.md's counts: what a fresh `pulumi preview -s prod` creates, and the deploy commands
 * among them (per host: host-key read, build, stage, copies, switch; 9 copies on a hub host, 6 on cimstor).
 */
const FRESH_PREVIEW_CREATES = 173;
const DEPLOY_COMMANDS = 3 * (4 + 9) + (4 + 6);

/** cimstor also runs the CID service: its unit module, program bundle and enabling file (built), and creds (copied). */
const CID_FILES = ["/etc/nixos/cim-nats/cid-service.js", "/etc/nixos/cim-nats/cid-service.nix", "/etc/nixos/cim-nats/modules/cim-cid-service.nix"];
const OLD_CID_COPIES = ["etc-nixos-cim-nats-cid-service.js", "etc-nixos-cim-nats-cid-service.nix", "etc-nixos-cim-nats-modules-cim-cid-service.nix"];
const CID_HOST = "cimstor";

/** The secret files copied to a host: its creds (application and system link) and its servers' TLS files (docs/prod.md, "File copies per host"). */
function secretCopies(host: string): string[] {
  return [...[...(host === CID_HOST ? ["cid-service"] : []), `leaf-${host}`, `leaf-${host}-sys`].map((u) => `${u}.creds`), ...tlsFiles(host)].map(
    (f) => `deploy-${host}-copy-var-lib-cim-nats-secrets-${f}`,
  );
}

/** The deploy's resources for a host on the host: stage, one copy per secret, switch. */
function hostResources(host: string): string[] {
  return [`deploy-${host}-stage`, ...secretCopies(host), `deploy-${host}-switch`];
}

/** Everything a host's deployment declares: the read of its container's host key on its node, its build here, then stage, copies, switch. */
function machineResources(host: string): string[] {
  return [`deploy-${host}-hostkey`, `deploy-${host}-build`, ...hostResources(host)];
}

/** Resource name → planned op, for containers and deploy commands (`preview --json` lists no `same` step). */
function machineOps(p: Preview): Record<string, string> {
  return Object.fromEntries(
    p.steps.filter((s) => s.urn.includes(`$${CONTAINER}::`) || s.urn.includes("$command:")).map((s) => [nameOf(s.urn), s.op]),
  );
}

/** Only what is not `same`. */
function changed(ops: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(ops).filter(([, op]) => op !== "same"));
}

function errors(p: Preview): string[] {
  return p.diagnostics.filter((d) => d.severity === "error").map((d) => d.message.trim());
}

describe.skipIf(SKIP !== "")("pulumi preview -s prod from an empty state (real plugins, placeholder secrets)", () => {
  let project: ProdProject;
  let fresh: Preview;

  beforeAll(async () => {
    project = await createProdProject();
    fresh = await preview(project);
    timings.freshPreview = fresh.run.ms;
  }, 300_000);
  afterAll(() => {
    project?.cleanup();
    console.log(`prod-preview timings (ms): ${JSON.stringify(timings)}`);
  });

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
    // Our parser takes USER@REALM!TOKENID=SECRET; the provider wants the secret to be a UUID.
    await project.setSecret("cim-nats:proxmoxApiToken", "pulumi@pve!deploy=s3cr3t_not_a_uuid");
    try {
      const bad = await preview(project);
      expect(bad.run.code).not.toBe(0);
      expect(errors(bad).join("\n")).toContain("the API token must be in the format 'USER@REALM!TOKENID=UUID'");
      expect(bad.run.stdout + bad.run.stderr).not.toContain("s3cr3t_not_a_uuid");
    } finally {
      await project.setSecret("cim-nats:proxmoxApiToken", PLACEHOLDER_API_TOKEN);
    }
  }, 120_000);
});

describe.skipIf(SKIP !== "")("day-2 plans from the real providers, against a prior state", () => {
  let project: ProdProject;
  let baseline: Preview;

  beforeAll(async () => {
    project = await createProdProject();
    const prior = await writePriorState(project, ADDRESS);
    timings.priorState = prior.ms;
    baseline = await preview(project);
    timings.day2Preview = baseline.run.ms;
  }, 600_000);
  afterAll(() => {
    project?.cleanup();
    console.log(`prod-preview timings (ms): ${JSON.stringify(timings)}`);
  });

  /** Preview after `edit`, then put the config back. */
  async function previewWith(edit: (config: Record<string, any>) => void): Promise<Preview> {
    project.editConfig(edit);
    try {
      return await preview(project);
    } finally {
      project.restoreConfig();
    }
  }

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
    // nats-2's leaf monitoring port: rendered into nats-2's host file (and its health wait) only.
    const p = await previewWith((c) => (c["cim-nats:topology"].hosts[1].ports = { leaf: { monitoring: 8224 } }));
    expect(errors(p)).toEqual([]);
    expect(changed(machineOps(p))).toEqual({ "deploy-nats-2-build": "update", "deploy-nats-2-switch": "update" });
    for (const name of ["deploy-nats-2-build", "deploy-nats-2-switch"]) expect(p.steps.find((s) => nameOf(s.urn) === name)!.diffReasons).toEqual(["stdin"]);
  }, 120_000);

  it("a deploy key rotation (a new key in ssh.authorizedKeys) replaces no container; every host's system is rebuilt with it", async () => {
    // Step 1 of docs/prod.md's rotation: the new key authorized beside the old one; the agent then gets the new key.
    const rotated = generateOpenSshKey("deploy-rotated@cim-nats-test").publicKey;
    const p = await previewWith((c) => c["cim-nats:proxmox"].ssh.authorizedKeys.push(rotated));
    expect(errors(p)).toEqual([]);
    const ops = changed(machineOps(p));
    expect(Object.entries(ops).filter(([n]) => n.endsWith("-container"))).toEqual([]);
    // Every host's access.nix (the keys as NixOS config) changes: its build and its switch, nothing else.
    expect(ops).toEqual(Object.fromEntries(HOSTS.flatMap((h) => [[`deploy-${h}-build`, "update"], [`deploy-${h}-switch`, "update"]])));
    timings.keyRotationUpdates = Object.keys(ops).length;
  }, 180_000);

  it("a nixpkgs pin bump updates each host's build and switch, and replaces nothing", async () => {
    const p = await previewWith((c) => {
      c["cim-nats:proxmox"].nixos.nixpkgs = { url: "https://github.com/NixOS/nixpkgs/archive/0c88e1f2bdb93d5999019e99cb0e61e1fe2af4c5.tar.gz", sha256: "sha256-q/nkKLDtHIyLjZpKhWk3cSK5IYsFqtMd6UtXF3ddjgA=" };
    });
    expect(errors(p)).toEqual([]);
    expect(changed(machineOps(p))).toEqual(
      Object.fromEntries(HOSTS.flatMap((h) => [[`deploy-${h}-build`, "update"], [`deploy-${h}-switch`, "update"]])),
    );
  }, 120_000);

  it("a template bump replaces no container", async () => {
    const p = await previewWith((c) => {
      for (const node of ["pve1", "pve2", "pve3"]) c["cim-nats:proxmox"].templates[node] = "local:vztmpl/nixos-26.05-x86_64-linux.tar.xz";
    });
    expect(errors(p)).toEqual([]);
    expect(changed(machineOps(p))).toEqual({});
  }, 120_000);

  it("removing a host fails at preview: its container is protected (the leaf's only copy of its streams)", async () => {
    const p = await previewWith((c) => {
      c["cim-nats:topology"].hosts = c["cim-nats:topology"].hosts.filter((h: { name: string }) => h.name !== "cimstor");
      // The object bucket declared only at cimstor goes with it, and so does its CID service and user.
      c["cim-nats:jetstream"].objects = c["cim-nats:jetstream"].objects.filter((o: { at: unknown }) => JSON.stringify(o.at) !== JSON.stringify(["cimstor"]));
      delete c["cim-nats:cidService"];
      c["cim-nats:security"].users = c["cim-nats:security"].users.filter((u: { name: string }) => u.name !== "cid-service");
    });
    timings.removeHostPreview = p.run.ms;
    expect(p.run.code).not.toBe(0);
    expect(errors(p).join("\n")).toMatch(/ContainerLegacy::cimstor-container" cannot be deleted\s+because it is protected/);
    // (Offline: the JetStream removal guard asks no server here, CIM_NATS_OFFLINE=1.)
  }, 120_000);

  it("adding a host creates its container and commands, and touches no other container", async () => {
    const p = await previewWith((c) => c["cim-nats:topology"].hosts.push({ name: "leaf-04", vmid: 205, node: "pve2", address: "10.0.0.44", roles: ["leaf"] }));
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
  }, 120_000);
});

describe.skipIf(SKIP !== "")("adopting host-key pinning on a stack deployed without it (real providers)", () => {
  let project: ProdProject;

  beforeAll(async () => {
    project = await createProdProject();
    // What a stack deployed before this change has: no host-key reads, no pinned keys.
    project.editConfig((c) => (c["cim-nats:proxmox"].ssh.verifyHostKeys = false));
    await writePriorState(project, ADDRESS);
    project.restoreConfig();
  }, 600_000);
  afterAll(() => project?.cleanup());

  it("creates each host's key read and updates its commands (they now pin the key); no container is touched", async () => {
    const p = await preview(project);
    expect(errors(p)).toEqual([]);
    const ops = changed(machineOps(p));
    expect(Object.entries(ops).filter(([n]) => n.endsWith("-container"))).toEqual([]);
    expect(Object.entries(ops).filter(([, op]) => op === "create").map(([n]) => n).sort()).toEqual(HOSTS.map((h) => `deploy-${h}-hostkey`).sort());
    // Every build, stage, copy and switch updates (its connection or copy gains the key): one rolling re-run, no replacement.
    expect(Object.entries(ops).filter(([, op]) => op !== "create" && op !== "update")).toEqual([]);
    for (const h of HOSTS) expect(ops[`deploy-${h}-switch`]).toBe("update");
  }, 120_000);
});

const BEFORE_TLS_SKIP = SKIP || missingRevision(BEFORE_PROD_TLS);
if (BEFORE_TLS_SKIP && !SKIP) console.warn(`prod-preview (TLS adoption): skipped: ${BEFORE_TLS_SKIP}`);

describe.skipIf(BEFORE_TLS_SKIP !== "")("adopting TLS and route authorization on a stack deployed before them (real providers)", () => {
  let project: ProdProject;
  let p: Preview;

  beforeAll(async () => {
    project = await createProdProject();
    // The state the release before prod TLS leaves (its own program, this stack config): no CA,
    // certificates or route password, no TLS files on the hosts, host files without TLS.
    const prior = await withProgramAt(project, BEFORE_PROD_TLS, () => writePriorState(project, ADDRESS, { tls: false }));
    timings.priorStateBeforeTls = prior.ms;
    p = await preview(project);
    timings.tlsAdoptionPreview = p.run.ms;
  }, 600_000);
  afterAll(() => {
    project?.cleanup();
    console.log(`prod-preview timings (ms): ${JSON.stringify(timings)}`);
  });

  it("creates the CA, every server's certificate and the route password; replaces nothing, deletes only the old file copies", () => {
    expect(errors(p)).toEqual([]);
    expect(p.run.code).toBe(0);
    const tls = p.steps.filter((s) => TLS_TYPE.test(s.urn));
    expect(tls.map((s) => nameOf(s.urn)).sort()).toEqual(["tls-ca", "tls-route-password", ...HOSTS.flatMap(serversOf).map((s) => `tls-cert-${s}`)].sort());
    expect(new Set(tls.map((s) => s.op))).toEqual(new Set(["create"]));
    // The public files are built here now: their copies go from the state (the provider's
    // CopyToRemote has no delete, so nothing happens on the host). Identities only change hands
    // (that release predates accounts per service, docs/security.md): the signing keys of that
    // release are replaced once, the admins' are no longer used.
    const other = p.steps.filter((s) => !["same", "create", "update"].includes(s.op)).map((s) => `${s.op} ${nameOf(s.urn)}`);
    expect(other.filter((o) => !/^(replace|create-replacement|delete-replaced) security-user-.*-signing-key$/.test(o)).sort()).toEqual(
      [
        "delete security-user-jetstream-admin-signing-key",
        "delete security-user-sys-monitor-signing-key",
        ...HOSTS.flatMap((h) => [...OLD_PUBLIC_COPIES, ...(h === CID_HOST ? OLD_CID_COPIES : [])].map((f) => `delete deploy-${h}-copy-${f}`)),
      ].sort(),
    );
  });

  it("builds every host, places each server's TLS files and updates every switch; no container is touched", () => {
    const ops = changed(machineOps(p));
    expect(Object.entries(ops).filter(([n]) => n.endsWith("-container"))).toEqual([]);
    // Each server's TLS files, and each leaf's system-link creds (accounts per service came later too).
    expect(Object.entries(ops).filter(([, op]) => op === "create").map(([n]) => n).sort()).toEqual(
      HOSTS.flatMap((h) => [`deploy-${h}-build`, ...[...tlsFiles(h), `leaf-${h}-sys.creds`].map((f) => `deploy-${h}-copy-var-lib-cim-nats-secrets-${f}`)]).sort(),
    );
    // The switch; with it, the re-keyed link and service creds.
    const updated = HOSTS.flatMap((h) => [
      `deploy-${h}-copy-var-lib-cim-nats-secrets-leaf-${h}.creds`,
      ...(h === CID_HOST ? [`deploy-${h}-copy-var-lib-cim-nats-secrets-cid-service.creds`] : []),
      `deploy-${h}-switch`,
    ]);
    expect(Object.entries(ops).filter(([, op]) => op === "update").map(([n]) => n).sort()).toEqual(updated.sort());
  });
});
