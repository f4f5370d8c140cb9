/**
 * Adopting on an older prod stack, through the real CLI and the real provider plugins, offline
 * (like prod-preview.test.ts): a stack deployed without host-key pinning adopts it by creating
 * each host's key read and updating its commands; a stack deployed by the release before prod TLS
 * (its program from git, withProgramAt) adopts TLS and route authorization by creating them and
 * updating files and switches, never a container. Both prior states are written at once, each in
 * its own project copy and backend.
 * Skipped, with the reason printed, where the plugins are not built (npm run setup builds them).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADDRESS, CID_HOST, changed, errors, HOSTS, machineOps, serversOf, tlsFiles } from "./prod-plan";
import { BEFORE_PROD_TLS, createProdProject, missingProdPlugins, missingRevision, nameOf, preview, withProgramAt, writePriorState, type Preview, type ProdProject } from "./prod-project";

const SKIP = missingProdPlugins();
if (SKIP) console.warn(`prod-preview-adoption: skipped: ${SKIP}`);
const BEFORE_TLS_SKIP = SKIP || missingRevision(BEFORE_PROD_TLS);
if (BEFORE_TLS_SKIP && !SKIP) console.warn(`prod-preview-adoption (TLS adoption): skipped: ${BEFORE_TLS_SKIP}`);

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
const OLD_CID_COPIES = ["etc-nixos-cim-nats-cid-service.js", "etc-nixos-cim-nats-cid-service.nix", "etc-nixos-cim-nats-modules-cim-cid-service.nix"];
/** The stack's TLS resources (components/tls/resources.ts). */
const TLS_TYPE = /\$pulumi-nodejs:dynamic\/cim-nats:(TlsCa|ServerCert|RoutePassword)::/;
const timings: Record<string, number> = {};

/** `work` started now; awaited later (a rejection before then is not an unhandled one). */
function started<T>(work: () => Promise<T>): Promise<T> {
  const p = work();
  p.catch(() => undefined);
  return p;
}

let hostKeySetup: Promise<Preview> | undefined;
let tlsSetup: Promise<Preview> | undefined;
const projects: ProdProject[] = [];
const created = async (prefix: string) => {
  const p = await createProdProject(prefix);
  projects.push(p);
  return p;
};

beforeAll(() => {
  // Both prior states at once, each in its own project copy and backend.
  if (!SKIP) {
    hostKeySetup = started(async () => {
      const project = await created("cim-nats-prod-hostkey-");
      // What a stack deployed before host-key pinning has: no host-key reads, no pinned keys.
      project.editConfig((c) => (c["cim-nats:proxmox"].ssh.verifyHostKeys = false));
      await writePriorState(project, ADDRESS);
      project.restoreConfig();
      const p = await preview(project);
      timings.hostKeyAdoptionPreview = p.run.ms;
      return p;
    });
  }
  if (!BEFORE_TLS_SKIP) {
    tlsSetup = started(async () => {
      const project = await created("cim-nats-prod-tls-");
      // The state the release before prod TLS leaves (its own program, this stack config): no CA,
      // certificates or route password, no TLS files on the hosts, host files without TLS.
      const prior = await withProgramAt(project, BEFORE_PROD_TLS, () => writePriorState(project, ADDRESS, { tls: false }));
      timings.priorStateBeforeTls = prior.ms;
      const p = await preview(project);
      timings.tlsAdoptionPreview = p.run.ms;
      return p;
    });
  }
});
afterAll(async () => {
  // Every run done before its folder goes.
  await Promise.allSettled([hostKeySetup, tlsSetup]);
  for (const p of projects) p.cleanup();
  console.log(`prod-preview-adoption timings (ms): ${JSON.stringify(timings)}`);
}, 600_000);

describe.skipIf(SKIP !== "")("adopting host-key pinning on a stack deployed without it (real providers)", () => {
  it("creates each host's key read and updates its commands (they now pin the key); no container is touched", async () => {
    const p = await hostKeySetup!;
    expect(errors(p)).toEqual([]);
    const ops = changed(machineOps(p));
    expect(Object.entries(ops).filter(([n]) => n.endsWith("-container"))).toEqual([]);
    expect(Object.entries(ops).filter(([, op]) => op === "create").map(([n]) => n).sort()).toEqual(HOSTS.map((h) => `deploy-${h}-hostkey`).sort());
    // Every build, stage, copy and switch updates (its connection or copy gains the key): one rolling re-run, no replacement.
    expect(Object.entries(ops).filter(([, op]) => op !== "create" && op !== "update")).toEqual([]);
    for (const h of HOSTS) expect(ops[`deploy-${h}-switch`]).toBe("update");
  }, 900_000);
});

describe.skipIf(BEFORE_TLS_SKIP !== "")("adopting TLS and route authorization on a stack deployed before them (real providers)", () => {
  let p: Preview;

  beforeAll(async () => {
    p = await tlsSetup!;
  }, 900_000);

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
