/**
 * .github/workflows/preview.yml: it parses, runs on pull requests, runs the project's setup
 * before the preview, previews prod with the policy pack and a PR comment, takes the passphrase,
 * the Proxmox token and the backend from secrets/variables, and every script it names exists.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { load } from "js-yaml";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../support/stack-config";

type Step = { name?: string; uses?: string; run?: string; with?: Record<string, unknown>; env?: Record<string, string> };
const workflow = load(fs.readFileSync(path.join(PROJECT_ROOT, ".github", "workflows", "preview.yml"), "utf8")) as {
  on: { pull_request?: unknown };
  permissions: Record<string, string>;
  jobs: Record<string, { env: Record<string, string>; steps: Step[] }>;
};
const job = workflow.jobs.preview;
const steps = job.steps;
const preview = steps.findIndex((s) => s.uses?.startsWith("pulumi/actions@"));

describe("the PR preview workflow", () => {
  it("runs on pull requests and may comment on them", () => {
    expect(workflow.on.pull_request).toBeDefined();
    expect(workflow.permissions["pull-requests"]).toBe("write");
  });

  it("previews prod with the policy pack and comments on the PR, after setup", () => {
    expect(preview).toBeGreaterThan(0);
    expect(steps[preview].with).toMatchObject({ command: "preview", "stack-name": "prod", "comment-on-pr": true, policyPacks: "policy" });
    const setup = steps.findIndex((s) => s.run?.includes("scripts/setup.sh"));
    expect(setup).toBeGreaterThanOrEqual(0);
    expect(setup).toBeLessThan(preview);
    expect(fs.existsSync(path.join(PROJECT_ROOT, "policy", "PulumiPolicy.yaml"))).toBe(true);
  });

  it("takes the passphrase, the Proxmox token and the backend from secrets and variables, never literals", () => {
    expect(job.env.PULUMI_CONFIG_PASSPHRASE).toBe("${{ secrets.PULUMI_CONFIG_PASSPHRASE }}");
    expect(job.env.PULUMI_BACKEND_URL).toMatch(/^\$\{\{ (vars|secrets)\.PULUMI_BACKEND_URL \}\}$/);
    const token = steps.find((s) => s.env?.PROXMOX_API_TOKEN);
    expect(token?.env?.PROXMOX_API_TOKEN).toBe("${{ secrets.PROXMOX_API_TOKEN }}");
    expect(token?.run).toContain("pulumi config set --secret -s prod cim-nats:proxmoxApiToken");
    expect(steps.findIndex((s) => s === token)).toBeLessThan(preview);
  });

  it("names only scripts that exist", () => {
    const scripts = steps.flatMap((s) => [...(s.run ?? "").matchAll(/scripts\/[\w./-]+/g)].map((m) => m[0]));
    expect(scripts.length).toBeGreaterThan(0);
    for (const s of scripts) expect(fs.existsSync(path.join(PROJECT_ROOT, s)), s).toBe(true);
  });
});
