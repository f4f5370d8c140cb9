/**
 * The policy pack through the real CLI: `pulumi preview --policy-pack policy` on a copy of the
 * dev project (own file backend, addresses moved to 127.0.95.x; a preview starts no server), run
 * by the pinned CLI and the upstream nodejs language host. One config that passes, one with what
 * the program's own validation lets through to the resources: a user allowed to publish under
 * the shared `_INBOX` (replicas beyond a domain's servers the program itself refuses at config
 * time; the pack's rule for them is covered in rules.test.ts). Then the prod
 * stack offline: containers, TLS in host.nix and a replacement against a prior state.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { dump, load } from "js-yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyProject, DEV_PASSPHRASE } from "../../harness/dev-project";
import { createProdProject, missingProdPlugins, writePriorState, type ProdProject } from "../e2e/prod-project";
import { PROJECT_ROOT, pulumiEnv, runPulumi, type PulumiContext, type PulumiRun } from "../../harness/pulumi-cli";

const PACK = path.join(PROJECT_ROOT, "policy");
const SKIP = !fs.existsSync(path.join(PACK, "node_modules", "@pulumi", "policy"))
  ? "policy/node_modules is not installed (npm run setup)"
  : !fs.existsSync(path.join(PROJECT_ROOT, ".tools", "bin", "pulumi"))
    ? "the pinned Pulumi CLI is missing (npm run setup)"
    : "";
if (SKIP) console.warn(`policy-cli: skipped: ${SKIP}`);

describe.skipIf(SKIP !== "")("pulumi preview --policy-pack policy (real CLI, dev-shaped stack)", () => {
  let dir: string;
  let yamlPath: string;
  let original: string;
  let context: PulumiContext;
  const preview = (): Promise<PulumiRun> => runPulumi(context, ["preview", "-s", "dev", "--policy-pack", PACK], { allowFailure: true });

  beforeAll(async () => {
    const copy = copyProject("cim-nats-policy-");
    dir = copy.dir;
    yamlPath = path.join(copy.projectDir, "Pulumi.dev.yaml");
    // This test's loopback range (127.0.95.x), never the dev stack's.
    original = fs.readFileSync(yamlPath, "utf8").replace(/127\.0\.0\./g, "127.0.95.");
    fs.writeFileSync(yamlPath, original);
    context = { cwd: copy.projectDir, env: pulumiEnv(copy.stateDir, { PULUMI_CONFIG_PASSPHRASE: DEV_PASSPHRASE, CIM_NATS_ROOT: copy.projectDir }) };
    await runPulumi(context, ["stack", "init", "dev"]);
  }, 120_000);
  afterAll(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("passes the dev config: exit 0, the pack loaded and no mandatory violation", async () => {
    fs.writeFileSync(yamlPath, original);
    const run = await preview();
    expect(run.stdout).toContain("cim-nats@v0.1.0");
    expect(run.stdout).not.toContain("[mandatory]");
    expect(run.code).toBe(0);
  }, 300_000);

  it("fails a config granting _INBOX.>, naming the resource and the fix", async () => {
    const doc = load(original) as { config: Record<string, any> };
    doc.config["cim-nats:security"].users.push({ name: "audit-tap", account: "PLATFORM", publish: { allow: ["_INBOX.>"] }, subscribe: { allow: ["audit.>"] } });
    fs.writeFileSync(yamlPath, dump(doc, { lineWidth: -1 }));
    const run = await preview();
    const out = run.stdout.replace(/\s+/g, " ");
    expect(out).toContain("[mandatory] no-shared-inbox-grants (pulumi-nodejs:dynamic/cim-nats:IssuedJwt: security-user-audit-tap-jwt)");
    expect(out).toContain("user 'audit-tap'");
    expect(out).toContain("is allowed to publish '_INBOX.>'");
    expect(out).toContain("Fix: remove it from cim-nats:security users[name=audit-tap].publish.allow");
    expect(`${run.stdout}${run.stderr}`).toContain("preview failed");
    expect(run.code).not.toBe(0);
  }, 300_000);
});

const PROD_SKIP = SKIP || missingProdPlugins();
if (PROD_SKIP && !SKIP) console.warn(`policy-cli (prod): skipped: ${PROD_SKIP}`);

/**
 * The prod stack offline (test/e2e/prod-project.ts: real provider plugins, placeholder secrets,
 * nothing reaches Proxmox): what the rules see from an empty state, and from the state an `up`
 * would leave (writePriorState), where host.nix is known and a replacement can be detected.
 */
describe.skipIf(PROD_SKIP !== "")("pulumi preview -s prod --policy-pack policy (real CLI and providers, offline)", () => {
  let project: ProdProject;
  const policyPreview = (extra: readonly string[] = []) => project.pulumi(["preview", "--policy-pack", PACK, ...extra], true);
  const cimstor = "urn:pulumi:prod::cim-nats::cim-nats:index:Backbone$cim-nats:proxmox:Inventory$cim-nats:proxmox:NatsContainer$proxmoxve:index/containerLegacy:ContainerLegacy::cimstor-container";

  beforeAll(async () => {
    project = await createProdProject("cim-nats-policy-prod-");
  }, 120_000);
  afterAll(() => project?.cleanup());

  it("passes a fresh prod stack: containers unprivileged and protected, host.nix checked at up", async () => {
    const run = await policyPreview();
    expect(run.stdout).toContain("cim-nats@v0.1.0");
    expect(run.stdout).not.toContain("[mandatory]");
    expect(run.code).toBe(0);
  }, 300_000);

  it("flags every container when cim-nats:proxmox.protect is false", async () => {
    project.editConfig((c) => (c["cim-nats:proxmox"].protect = false));
    try {
      const run = await policyPreview();
      const out = run.stdout.replace(/\s+/g, " ");
      for (const host of ["nats-1", "nats-2", "nats-3", "cimstor"]) {
        expect(out).toContain(`[mandatory] container-unprivileged-protected (proxmoxve:index:ContainerLegacy: ${host}-container)`);
      }
      expect(out).toContain("has protection: false");
      expect(out).toContain("lacks Pulumi's protect option");
      expect(run.code).not.toBe(0);
    } finally {
      project.restoreConfig();
    }
  }, 300_000);

  it("from an up's state: every host.nix server runs TLS (and without it each build is flagged); a container move is flagged until allowReplace approves it", async () => {
    await writePriorState(project, { "nats-1": "10.0.0.41", "nats-2": "10.0.0.42", "nats-3": "10.0.0.43", cimstor: "172.16.0.2" });
    project.editConfig((c) => (c["cim-nats:topology"].hosts.find((h: { name: string }) => h.name === "cimstor").node = "pve2"));
    try {
      const run = await policyPreview();
      const out = run.stdout.replace(/\s+/g, " ");
      expect(out).toContain("[mandatory] no-unapproved-replacement (proxmoxve:index:ContainerLegacy: cimstor-container)");
      expect(out).toContain('would be replaced (nodeName "pve1" → "pve2")');
      // host.nix is known from the state and read: TLS on every listener and link (cim-nats:tls generated).
      expect(out).not.toContain("[mandatory] tls-in-prod");
      expect(out).not.toContain("could not be read");
      expect(run.code).not.toBe(0);

      const approve = path.join(project.dir, "approve.json");
      fs.writeFileSync(approve, JSON.stringify({ "no-unapproved-replacement": { allowReplace: [cimstor] } }));
      const approved = await policyPreview(["--policy-pack-config", approve]);
      expect(approved.stdout).toContain("cim-nats@v0.1.0");
      expect(approved.stdout).not.toContain("no-unapproved-replacement");
    } finally {
      project.restoreConfig();
    }
    // The control: host.nix really is read out of each host's build. Without TLS every build is flagged.
    project.editConfig((c) => (c["cim-nats:tls"] = { mode: "off" }));
    try {
      const run = await policyPreview();
      const out = run.stdout.replace(/\s+/g, " ");
      for (const host of ["nats-1", "nats-2", "nats-3", "cimstor"]) expect(out).toContain(`[mandatory] tls-in-prod (command:local:Command: deploy-${host}-build)`);
      expect(out).toContain("nats-server 'nats-1-hub' in 'deploy-nats-1-build'");
      expect(run.code).not.toBe(0);
    } finally {
      project.restoreConfig();
    }
  }, 600_000);
});
