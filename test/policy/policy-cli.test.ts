/**
 * The policy pack through the real CLI: `pulumi preview --policy-pack policy` on a copy of the
 * dev project (own file backend, addresses moved to 127.0.95.x; a preview starts no server), run
 * by the pinned CLI and the upstream nodejs language host. One config that passes, one with what
 * the program's own validation lets through to the resources: a user allowed to publish under
 * the shared `_INBOX` (replicas beyond a domain's servers the program itself refuses at config
 * time; the pack's rule for them is covered in rules.test.ts). Then the prod
 * stack offline: containers, TLS in host.nix and a replacement against a prior state.
 *
 * Every preview runs in its own project copy and backend (a prod one in a copy of the prior
 * state, cloneProdProject), all chains started at once: no case depends on another's order.
 * A fresh prod stack passing the pack is workflow-runner.test.ts's preview (the PR job's).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { dump, load } from "js-yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyProject, DEV_PASSPHRASE } from "../../harness/dev-project";
import { ADDRESS } from "../e2e/prod-plan";
import { cloneProdProject, createProdProject, inParallel, missingProdPlugins, sharedPriorState, type ProdProject } from "../e2e/prod-project";
import { PROJECT_ROOT, pulumiEnv, runPulumi, type PulumiRun } from "../../harness/pulumi-cli";

const PACK = path.join(PROJECT_ROOT, "policy");
const SKIP = !fs.existsSync(path.join(PACK, "node_modules", "@pulumi", "policy"))
  ? "policy/node_modules is not installed (npm run setup)"
  : !fs.existsSync(path.join(PROJECT_ROOT, ".tools", "bin", "pulumi"))
    ? "the pinned Pulumi CLI is missing (npm run setup)"
    : "";
if (SKIP) console.warn(`policy-cli: skipped: ${SKIP}`);
const PROD_SKIP = SKIP || missingProdPlugins();
if (PROD_SKIP && !SKIP) console.warn(`policy-cli (prod): skipped: ${PROD_SKIP}`);

/** `work` started now; awaited later (a rejection before then is not an unhandled one). */
function started<T>(work: () => Promise<T>): Promise<T> {
  const p = work();
  p.catch(() => undefined);
  return p;
}

const dirs: string[] = [];
const prodProjects: ProdProject[] = [];

/** `pulumi preview -s dev --policy-pack policy` on a fresh copy of the dev project whose Pulumi.dev.yaml is `edit`ed. */
async function devPreview(edit: (config: Record<string, any>) => void = () => undefined): Promise<PulumiRun> {
  const copy = copyProject("cim-nats-policy-");
  dirs.push(copy.dir);
  const yamlPath = path.join(copy.projectDir, "Pulumi.dev.yaml");
  // This test's loopback range (127.0.95.x), never the dev stack's.
  const doc = load(fs.readFileSync(yamlPath, "utf8").replace(/127\.0\.0\./g, "127.0.95.")) as { config: Record<string, any> };
  edit(doc.config);
  fs.writeFileSync(yamlPath, dump(doc, { lineWidth: -1 }));
  const context = { cwd: copy.projectDir, env: pulumiEnv(copy.stateDir, { PULUMI_CONFIG_PASSPHRASE: DEV_PASSPHRASE, CIM_NATS_ROOT: copy.projectDir }) };
  await runPulumi(context, ["stack", "init", "dev"]);
  return runPulumi(context, ["preview", "-s", "dev", "--policy-pack", PACK], { allowFailure: true });
}

const policyPreview = (project: ProdProject, extra: readonly string[] = []) => project.pulumi(["preview", "--policy-pack", PACK, ...extra], true);
const cimstor = "urn:pulumi:prod::cim-nats::cim-nats:index:Backbone$cim-nats:proxmox:Inventory$cim-nats:proxmox:NatsContainer$proxmoxve:index/containerLegacy:ContainerLegacy::cimstor-container";

let devPass: Promise<PulumiRun>;
let devInbox: Promise<PulumiRun>;
let prodUnprotected: Promise<PulumiRun>;
/** From the prior state: cimstor moved (flagged, then approved) and TLS off. */
let fromPrior: Promise<{ readonly moved: PulumiRun; readonly approved: PulumiRun; readonly tlsOff: PulumiRun }>;

beforeAll(() => {
  if (SKIP) return;
  devPass = started(() => devPreview());
  devInbox = started(() =>
    devPreview((c) => c["cim-nats:security"].users.push({ name: "audit-tap", account: "PLATFORM", publish: { allow: ["_INBOX.>"] }, subscribe: { allow: ["audit.>"] } })),
  );
  if (PROD_SKIP) return;
  prodUnprotected = started(async () => {
    const project = await createProdProject("cim-nats-policy-prod-");
    prodProjects.push(project);
    project.editConfig((c) => (c["cim-nats:proxmox"].protect = false));
    return policyPreview(project);
  });
  fromPrior = started(async () => {
    // Written by this file or prod-preview, whichever asks first (sharedPriorState).
    const { project } = await sharedPriorState("cim-nats-policy-prior-", ADDRESS);
    prodProjects.push(project);
    /** `edit` previewed with the pack in a copy of the prior state. */
    const edited = (edit: (c: Record<string, any>) => void, extra: (p: ProdProject) => readonly string[] = () => []) => async () => {
      const copy = cloneProdProject(project, "cim-nats-policy-clone-");
      prodProjects.push(copy);
      copy.editConfig(edit);
      return policyPreview(copy, extra(copy));
    };
    const moveCimstor = (c: Record<string, any>) => (c["cim-nats:topology"].hosts.find((h: { name: string }) => h.name === "cimstor").node = "pve2");
    const [moved, approved, tlsOff] = await inParallel(3, [
      edited(moveCimstor),
      edited(moveCimstor, (copy) => {
        const approve = path.join(copy.dir, "approve.json");
        fs.writeFileSync(approve, JSON.stringify({ "no-unapproved-replacement": { allowReplace: [cimstor] } }));
        return ["--policy-pack-config", approve];
      }),
      // The control: host.nix really is read out of each host's build. Without TLS every build is flagged.
      edited((c) => (c["cim-nats:tls"] = { mode: "off" })),
    ]);
    return { moved, approved, tlsOff };
  });
});
afterAll(async () => {
  // Every run done before its folder goes.
  await Promise.allSettled([devPass, devInbox, prodUnprotected, fromPrior]);
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  for (const p of prodProjects) p.cleanup();
}, 600_000);

describe.skipIf(SKIP !== "")("pulumi preview --policy-pack policy (real CLI, dev-shaped stack)", () => {
  it("passes the dev config: exit 0, the pack loaded and no mandatory violation", async () => {
    const run = await devPass;
    expect(run.stdout).toContain("cim-nats@v0.1.0");
    expect(run.stdout).not.toContain("[mandatory]");
    expect(run.code).toBe(0);
  }, 600_000);

  it("fails a config granting _INBOX.>, naming the resource and the fix", async () => {
    const run = await devInbox;
    const out = run.stdout.replace(/\s+/g, " ");
    expect(out).toContain("[mandatory] no-shared-inbox-grants (pulumi-nodejs:dynamic/cim-nats:IssuedJwt: security-user-audit-tap-jwt)");
    expect(out).toContain("user 'audit-tap'");
    expect(out).toContain("is allowed to publish '_INBOX.>'");
    expect(out).toContain("Fix: remove it from cim-nats:security users[name=audit-tap].publish.allow");
    expect(`${run.stdout}${run.stderr}`).toContain("preview failed");
    expect(run.code).not.toBe(0);
  }, 600_000);
});

/**
 * The prod stack offline (test/e2e/prod-project.ts: real provider plugins, placeholder secrets,
 * nothing reaches Proxmox): what the rules see from an empty state, and from the state an `up`
 * would leave (writePriorState), where host.nix is known and a replacement can be detected.
 */
describe.skipIf(PROD_SKIP !== "")("pulumi preview -s prod --policy-pack policy (real CLI and providers, offline)", () => {
  it("flags every container when cim-nats:proxmox.protect is false", async () => {
    const run = await prodUnprotected;
    const out = run.stdout.replace(/\s+/g, " ");
    for (const host of ["nats-1", "nats-2", "nats-3", "cimstor"]) {
      expect(out).toContain(`[mandatory] container-unprivileged-protected (proxmoxve:index:ContainerLegacy: ${host}-container)`);
    }
    expect(out).toContain("has protection: false");
    expect(out).toContain("lacks Pulumi's protect option");
    expect(run.code).not.toBe(0);
  }, 600_000);

  it("from an up's state: every host.nix server runs TLS (and without it each build is flagged); a container move is flagged until allowReplace approves it", async () => {
    const { moved, approved, tlsOff } = await fromPrior;
    const out = moved.stdout.replace(/\s+/g, " ");
    expect(out).toContain("[mandatory] no-unapproved-replacement (proxmoxve:index:ContainerLegacy: cimstor-container)");
    expect(out).toContain('would be replaced (nodeName "pve1" → "pve2")');
    // host.nix is known from the state and read: TLS on every listener and link (cim-nats:tls generated).
    expect(out).not.toContain("[mandatory] tls-in-prod");
    expect(out).not.toContain("could not be read");
    expect(moved.code).not.toBe(0);

    expect(approved.stdout).toContain("cim-nats@v0.1.0");
    expect(approved.stdout).not.toContain("no-unapproved-replacement");

    // The control: host.nix really is read out of each host's build. Without TLS every build is flagged.
    const off = tlsOff.stdout.replace(/\s+/g, " ");
    for (const host of ["nats-1", "nats-2", "nats-3", "cimstor"]) expect(off).toContain(`[mandatory] tls-in-prod (command:local:Command: deploy-${host}-build)`);
    expect(off).toContain("nats-server 'nats-1-hub' in 'deploy-nats-1-build'");
    expect(tlsOff.code).not.toBe(0);
  }, 900_000);
});
