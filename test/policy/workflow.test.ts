/**
 * .github/workflows/preview.yml, read: the preview job runs on pull requests on a hosted runner
 * without root, installs the pinned Pulumi CLI and plugins (setup.sh's pins) and restores the
 * toolchain cache (keyed on the pins) before setup, and gets only what a preview needs (no SSH
 * key; a read-only Proxmox token); the deploy job is approval-gated (an environment), runs on the
 * management network and holds the deploy key in an ssh-agent only. Every script it names exists.
 * workflow-runner.test.ts runs the preview job's steps as a runner would.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { load } from "js-yaml";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../support/stack-config";

type Step = { name?: string; uses?: string; run?: string; with?: Record<string, unknown>; env?: Record<string, string>; if?: string };
type Job = { if?: string; "runs-on": unknown; environment?: unknown; permissions?: Record<string, string>; concurrency?: { "cancel-in-progress"?: boolean }; env: Record<string, string>; steps: Step[] };
const text = fs.readFileSync(path.join(PROJECT_ROOT, ".github", "workflows", "preview.yml"), "utf8");
const workflow = load(text) as { on: Record<string, unknown>; permissions: Record<string, string>; env: Record<string, string>; jobs: Record<string, Job> };
const setup = fs.readFileSync(path.join(PROJECT_ROOT, "scripts", "setup.sh"), "utf8");
/** A pin of scripts/setup.sh (`NAME=value`, the first of an array). */
const pin = (name: string) => new RegExp(`^${name}=\\(?v?([\\d.]+)`, "m").exec(setup)![1];

const preview = workflow.jobs.preview;
const deploy = workflow.jobs.deploy;
const at = (job: Job, test: (s: Step) => boolean) => job.steps.findIndex(test);
const setupStep = (job: Job) => at(job, (s) => s.run?.includes("bash scripts/setup.sh") === true);

describe("the PR preview job", () => {
  it("runs on pull requests, on a GitHub-hosted runner, and may comment on them", () => {
    expect(workflow.on.pull_request).toBeDefined();
    expect(preview.if).toBe("github.event_name == 'pull_request'");
    expect(preview["runs-on"]).toBe("ubuntu-latest");
    expect(preview.permissions).toEqual({ contents: "read", "pull-requests": "write" });
    expect(workflow.permissions).toEqual({ contents: "read" });
  });

  it("installs the pinned Pulumi CLI and provider plugins, then restores the cache keyed on the pins, before setup", () => {
    const cli = at(preview, (s) => s.uses?.startsWith("pulumi/actions@") === true && s.with?.command === undefined);
    const plugins = at(preview, (s) => s.run?.includes("pulumi plugin install") === true);
    const cache = at(preview, (s) => s.uses?.startsWith("actions/cache@") === true);
    expect([cli, plugins, cache].every((i) => i >= 0 && i < setupStep(preview))).toBe(true);
    expect(cli).toBeLessThan(plugins);
    // The versions setup.sh pins: installed the normal way, setup links them instead of building.
    expect(workflow.env.PULUMI_VERSION).toBe(pin("PULUMI_VERSIONS"));
    expect(preview.steps[cli].with?.["pulumi-version"]).toBe("${{ env.PULUMI_VERSION }}");
    expect(preview.steps[plugins].run).toContain(`pulumi plugin install resource command ${pin("COMMAND_PROVIDER_VERSION")}`);
    expect(preview.steps[plugins].run).toContain(`pulumi plugin install resource proxmoxve ${pin("PROXMOX_PROVIDER_VERSION")} --server github://api.github.com/muhlba91/pulumi-proxmoxve`);
    const c = preview.steps[cache].with!;
    expect(String(c.path).split("\n").filter(Boolean)).toEqual([".tools", "node_modules", "policy/node_modules", "~/go/pkg/mod", "~/.cache/go-build"]);
    expect(c.key).toBe("cim-nats-toolchain-${{ runner.os }}-${{ hashFiles('scripts/setup.sh', 'scripts/toolchain/**', 'package-lock.json', 'policy/package-lock.json') }}");
  });

  it("runs without root: no sudo, and setup skips the Debian packages only the tests use", () => {
    expect(text).not.toMatch(/\bsudo\b/);
    expect(preview.env.CIM_NATS_SKIP_SYSTEM_PACKAGES).toBe("1");
  });

  it("previews prod with the policy pack and comments on the PR, after setup, offline (a hosted runner cannot reach prod)", () => {
    const i = at(preview, (s) => s.uses?.startsWith("pulumi/actions@") === true && s.with?.command !== undefined);
    expect(i).toBeGreaterThan(setupStep(preview));
    expect(preview.steps[i].with).toMatchObject({ command: "preview", "stack-name": "prod", "comment-on-pr": true, policyPacks: "policy" });
    expect(preview.env.CIM_NATS_OFFLINE).toBe("1");
    expect(fs.existsSync(path.join(PROJECT_ROOT, "policy", "PulumiPolicy.yaml"))).toBe(true);
  });

  it("gets only what a preview needs: the backend, the passphrase, a read-only Proxmox token; no SSH key", () => {
    expect(preview.env.PULUMI_CONFIG_PASSPHRASE).toBe("${{ secrets.PULUMI_CONFIG_PASSPHRASE }}");
    expect(preview.env.PULUMI_BACKEND_URL).toMatch(/^\$\{\{ (vars|secrets)\.PULUMI_BACKEND_URL \}\}$/);
    const token = preview.steps.find((s) => s.env?.PROXMOX_API_TOKEN);
    expect(token?.env?.PROXMOX_API_TOKEN).toBe("${{ secrets.PROXMOX_API_TOKEN_READONLY }}");
    expect(token?.run).toContain("pulumi config set --secret -s prod cim-nats:proxmoxApiToken");
    const secretsUsed = [...JSON.stringify(preview).matchAll(/secrets\.(\w+)/g)].map((m) => m[1]).sort();
    expect([...new Set(secretsUsed)]).toEqual(
      ["GITHUB_TOKEN", "PROXMOX_API_TOKEN_READONLY", "PULUMI_CONFIG_PASSPHRASE", "PULUMI_PREVIEW_ACCESS_TOKEN", "STATE_PREVIEW_ACCESS_KEY_ID", "STATE_PREVIEW_SECRET_ACCESS_KEY"].sort(),
    );
    expect(JSON.stringify(preview)).not.toMatch(/SSH_PRIVATE_KEY|sshPrivateKey|ssh-add/);
  });
});

describe("the deploy job", () => {
  it("deploys on a push to main or by hand, only after the production environment's reviewers approve, one run at a time", () => {
    expect(workflow.on.push).toEqual({ branches: ["main"] });
    expect(deploy.if).toBe("github.event_name == 'push' || github.event_name == 'workflow_dispatch'");
    expect(deploy.environment).toBe("production");
    expect(deploy.concurrency?.["cancel-in-progress"]).toBe(false);
    // On the management network, with Nix for the builds: a self-hosted runner.
    expect(deploy["runs-on"]).toEqual(["self-hosted", "linux", "cim-nats-deploy"]);
    const up = deploy.steps.find((s) => s.uses?.startsWith("pulumi/actions@") && s.with?.command !== undefined);
    expect(up?.with).toMatchObject({ command: "up", "stack-name": "prod", policyPacks: "policy" });
  });

  it("holds the deploy key in an ssh-agent only (never the stack config or state), stopped at the end whatever happened", () => {
    const uses = deploy.steps.filter((s) => JSON.stringify(s).includes("DEPLOY_SSH_PRIVATE_KEY"));
    expect(uses).toHaveLength(1);
    expect(uses[0].env?.DEPLOY_SSH_PRIVATE_KEY).toBe("${{ secrets.DEPLOY_SSH_PRIVATE_KEY }}");
    expect(uses[0].run).toContain('printf \'%s\\n\' "$DEPLOY_SSH_PRIVATE_KEY" | ssh-add -q -');
    expect(uses[0].run).toContain('echo "SSH_AUTH_SOCK=$SSH_AUTH_SOCK" >>"$GITHUB_ENV"');
    expect(JSON.stringify(deploy)).not.toContain("sshPrivateKey");
    const up = at(deploy, (s) => s.with?.command === "up");
    expect(at(deploy, (s) => s === uses[0])).toBeLessThan(up);
    const stop = deploy.steps[deploy.steps.length - 1];
    expect([stop.if, stop.run?.trim()]).toEqual(["always()", 'if [ -n "${SSH_AGENT_PID:-}" ]; then ssh-agent -k >/dev/null; fi']);
    expect(deploy.steps.find((s) => s.env?.PROXMOX_API_TOKEN)?.env?.PROXMOX_API_TOKEN).toBe("${{ secrets.PROXMOX_API_TOKEN }}");
  });
});

describe("both jobs", () => {
  it("name only scripts that exist", () => {
    const scripts = Object.values(workflow.jobs).flatMap((j) => j.steps.flatMap((s) => [...(s.run ?? "").matchAll(/scripts\/[\w./-]+/g)].map((m) => m[0])));
    expect(scripts.length).toBeGreaterThan(0);
    for (const s of scripts) expect(fs.existsSync(path.join(PROJECT_ROOT, s)), s).toBe(true);
  });
});
