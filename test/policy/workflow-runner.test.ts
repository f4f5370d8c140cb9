/**
 * The PR preview job of .github/workflows/preview.yml run the way a GitHub-hosted runner runs it,
 * here: as a user without root (nobody), in a fresh copy of the project with no ../shared beside
 * it, every `run:` step executed as written, in order, by bash (`bash -eo pipefail`, GITHUB_ENV
 * and GITHUB_PATH honoured), with the job's env and the step's. The `uses:` steps, and the one
 * `run:` step that downloads, are stood in for:
 * - actions/checkout: the copy; actions/setup-go, setup-node: this machine's Go and Node on PATH;
 * - pulumi/actions installing the pinned CLI: the pinned CLI (built here) where it puts it, ~/.pulumi/bin;
 * - `pulumi plugin install` (a download from GitHub): the pinned plugins (built here) in the
 *   plugin cache it fills, ~/.pulumi/plugins;
 * - actions/cache: what a previous run saved (Node, nats-server, the nats CLI, nsc, node_modules, the
 *   policy pack's node_modules; hard links of this checkout's), as on a cache hit;
 * - pulumi/actions previewing: `pulumi preview -s prod --policy-pack policy` in the job's env.
 * The shared backend is a file backend outside the copy; the step that refuses a local one is run
 * with both. The secrets the job gets are a read-only token and the passphrase: no SSH key.
 * About a minute (setup's smoke test and the preview).
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { load } from "js-yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { missingProdPlugins, PLACEHOLDER_API_TOKEN } from "../e2e/prod-project";
import { PROJECT_ROOT } from "../support/stack-config";

type Step = { name?: string; uses?: string; run?: string; with?: Record<string, string>; env?: Record<string, string> };
type Job = { env: Record<string, string>; steps: Step[]; "runs-on": unknown };
const workflow = load(fs.readFileSync(path.join(PROJECT_ROOT, ".github", "workflows", "preview.yml"), "utf8")) as { env: Record<string, string>; jobs: Record<string, Job> };

const NOBODY = 65534;
const ROOT_RUN = process.getuid?.() === 0;
const SKIP = missingProdPlugins() || (ROOT_RUN && !fs.existsSync("/usr/bin/setpriv") ? "setpriv is missing (util-linux)" : "");
if (SKIP) console.warn(`workflow-runner: skipped: ${SKIP}`);

/** This checkout's pinned toolchain, where setup put it (the worktree links main's). */
const tools = () => fs.realpathSync(path.join(PROJECT_ROOT, ".tools"));
const PASSPHRASE = "cim-nats-runner-test";
const secrets: Record<string, string> = { PULUMI_CONFIG_PASSPHRASE: PASSPHRASE, PROXMOX_API_TOKEN_READONLY: PLACEHOLDER_API_TOKEN, GITHUB_TOKEN: "" };

describe.skipIf(SKIP !== "")("the PR preview job on a simulated hosted runner (no root, no ../shared)", () => {
  let dir: string;
  let home: string;
  let work: string;
  let backend: string;
  const ran: { step: string; code: number; out: string }[] = [];
  let preview: { code: number; out: string };

  /** Runs `args` as the runner's user, in the workspace. */
  function asRunner(args: string[], env: NodeJS.ProcessEnv, input?: string) {
    const cmd = ROOT_RUN ? ["setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", ...args] : args;
    const r = spawnSync(cmd[0], cmd.slice(1), { cwd: work, env, encoding: "utf8", input, timeout: 600_000 });
    return { code: r.status ?? -1, out: `${r.stdout ?? ""}${r.stderr ?? ""}` };
  }

  /** `${{ secrets.X }}`, `${{ vars.X }}`, `${{ env.X }}`, `${{ github.* }}` as the runner fills them in. */
  const expand = (value: string, env: Record<string, string | undefined>, vars: Record<string, string>) =>
    String(value).replace(/\$\{\{\s*(secrets|vars|env|github)\.([\w.]+)\s*\}\}/g, (_m, ctx: string, key: string) =>
      ctx === "secrets" ? (secrets[key] ?? "") : ctx === "vars" ? (vars[key] ?? "") : ctx === "env" ? (env[key] ?? "") : "",
    );

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "cim-runner-"));
    fs.chmodSync(dir, 0o755);
    home = path.join(dir, "home");
    // No ../shared beside the clone: the workspace's parent holds nothing else.
    work = path.join(dir, "work", "cim-nats");
    backend = path.join(dir, "backend");
    for (const d of [home, work, backend, path.join(dir, "runner-temp")]) fs.mkdirSync(d, { recursive: true });

    // actions/checkout: the project's files (committed and not), as a clone has them.
    const files = spawnSync("git", ["ls-files", "-co", "--exclude-standard", "-z"], { cwd: PROJECT_ROOT, encoding: "utf8" }).stdout.split("\0").filter(Boolean);
    for (const f of files) {
      const from = path.join(PROJECT_ROOT, f);
      if (!fs.existsSync(from) || fs.lstatSync(from).isSymbolicLink()) continue;
      fs.mkdirSync(path.dirname(path.join(work, f)), { recursive: true });
      fs.copyFileSync(from, path.join(work, f));
      fs.chmodSync(path.join(work, f), fs.statSync(from).mode & 0o777);
    }
    // actions/cache (a hit): hard links of this checkout's (setup only reads them when they are
    // current, node_modules' lock stamps included; .tools' stamps are not linked: setup writes them).
    const link = (from: string, to: string) => {
      fs.mkdirSync(path.dirname(to), { recursive: true });
      // Hard links where the file system allows, else a copy.
      if (spawnSync("cp", ["-al", from, to]).status !== 0) expect(spawnSync("cp", ["-a", from, to]).status).toBe(0);
    };
    link(path.join(tools(), "node"), path.join(work, ".tools", "node"));
    for (const b of ["nats-server", "nats", "nsc"]) link(path.join(tools(), "bin", b), path.join(work, ".tools", "bin", b));
    link(fs.realpathSync(path.join(PROJECT_ROOT, "node_modules")), path.join(work, "node_modules"));
    link(fs.realpathSync(path.join(PROJECT_ROOT, "policy", "node_modules")), path.join(work, "policy", "node_modules"));
    if (ROOT_RUN) {
      // Everything the runner's user owns: its home, the workspace (directories; the linked files stay the cache's).
      spawnSync("chown", ["-R", `${NOBODY}:${NOBODY}`, home, backend, path.join(dir, "runner-temp")]);
      spawnSync("find", [path.join(dir, "work"), "-type", "d", "-exec", "chown", `${NOBODY}:${NOBODY}`, "{}", "+"]);
      spawnSync("find", [path.join(dir, "work"), "-type", "f", "-links", "1", "-exec", "chown", `${NOBODY}:${NOBODY}`, "{}", "+"]);
    }

    const job = workflow.jobs.preview;
    const vars = { PULUMI_BACKEND_URL: `file://${backend}` };
    const base: NodeJS.ProcessEnv = {
      HOME: home,
      USER: "runner",
      LANG: "C.UTF-8",
      CI: "true",
      GITHUB_ACTIONS: "true",
      RUNNER_TEMP: path.join(dir, "runner-temp"),
      // The machine's own trust store for its network (a hosted runner has its own).
      ...Object.fromEntries(["NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE", "SSL_CERT_DIR", "CURL_CA_BUNDLE", "GIT_SSL_CAINFO"].filter((k) => process.env[k]).map((k) => [k, process.env[k]])),
      // actions/setup-go and setup-node: this machine's Go and Node.
      PATH: ["/usr/local/go/bin", "/usr/local/bin", "/usr/bin", "/bin"].join(":"),
    };
    let env: Record<string, string | undefined> = { ...base };
    for (const [k, v] of Object.entries({ ...workflow.env, ...job.env })) env[k] = expand(v, env, vars);

    // The stack exists in the shared backend (its encryption salt then lands in Pulumi.prod.yaml, as committed).
    const pulumi = path.join(tools(), "bin", "pulumi");
    const init = asRunner([pulumi, "stack", "init", "prod", "--non-interactive"], { ...env, PULUMI_HOME: path.join(home, ".pulumi") } as NodeJS.ProcessEnv);
    expect(init.code, init.out).toBe(0);

    for (const step of job.steps) {
      const label = step.name ?? step.uses ?? "step";
      const stepEnv: Record<string, string | undefined> = { ...env };
      for (const [k, v] of Object.entries(step.env ?? {})) stepEnv[k] = expand(v, env, vars);
      if (step.uses?.startsWith("actions/checkout@") || step.uses?.startsWith("actions/setup-go@") || step.uses?.startsWith("actions/setup-node@") || step.uses?.startsWith("actions/cache@")) {
        ran.push({ step: label, code: 0, out: "(stood in for, above)" });
        continue;
      }
      if (step.uses?.startsWith("pulumi/actions@") && !step.with?.command) {
        // The pinned CLI and its language host where the action installs them.
        const bin = path.join(home, ".pulumi", "bin");
        fs.mkdirSync(bin, { recursive: true });
        for (const b of ["pulumi", "pulumi-language-nodejs"]) fs.symlinkSync(path.join(tools(), "bin", b), path.join(bin, b));
        if (ROOT_RUN) spawnSync("chown", ["-R", `${NOBODY}:${NOBODY}`, path.join(home, ".pulumi")]);
        env.PATH = `${bin}:${env.PATH}`;
        ran.push({ step: label, code: 0, out: `installed ${expand(step.with?.["pulumi-version"] ?? "", env, vars)}` });
        continue;
      }
      if (step.run?.trim().startsWith("pulumi plugin install")) {
        // What the download puts in the plugin cache: the pinned plugins.
        for (const m of step.run.matchAll(/pulumi plugin install resource (\S+) (\S+)/g)) {
          const to = path.join(home, ".pulumi", "plugins", `resource-${m[1]}-v${m[2]}`);
          fs.mkdirSync(to, { recursive: true });
          fs.symlinkSync(path.join(tools(), "bin", `pulumi-resource-${m[1]}`), path.join(to, `pulumi-resource-${m[1]}`));
        }
        if (ROOT_RUN) spawnSync("chown", ["-R", `${NOBODY}:${NOBODY}`, path.join(home, ".pulumi")]);
        ran.push({ step: label, code: 0, out: "(plugins in the cache)" });
        continue;
      }
      if (step.uses?.startsWith("pulumi/actions@")) {
        // The action logs in to cloud-url and runs the command in work-dir, on the job's PATH.
        const w = step.with ?? {};
        expect(w.command).toBe("preview");
        preview = asRunner(["pulumi", "preview", "--stack", w["stack-name"], "--policy-pack", w.policyPacks, "--diff", "--non-interactive"], stepEnv as NodeJS.ProcessEnv);
        ran.push({ step: label, code: preview.code, out: preview.out });
        continue;
      }
      if (step.uses) throw new Error(`no stand-in for ${step.uses}`);
      const script = path.join(dir, "runner-temp", `step-${ran.length}.sh`);
      fs.writeFileSync(script, step.run!, { mode: 0o755 });
      const githubEnv = path.join(dir, "runner-temp", `env-${ran.length}`);
      const githubPath = path.join(dir, "runner-temp", `path-${ran.length}`);
      for (const f of [githubEnv, githubPath]) {
        fs.writeFileSync(f, "");
        if (ROOT_RUN) fs.chownSync(f, NOBODY, NOBODY);
      }
      const exec = (e: Record<string, string | undefined>) => asRunner(["bash", "--noprofile", "--norc", "-eo", "pipefail", script], { ...e, GITHUB_ENV: githubEnv, GITHUB_PATH: githubPath } as NodeJS.ProcessEnv);
      if (step.name === "Refuse a local file backend") {
        // Refuses the local file, passes the shared backend; the rest of this run uses the file one.
        ran.push({ step: `${label} (file://)`, ...exec(stepEnv) });
        ran.push({ step: `${label} (s3://)`, ...exec({ ...stepEnv, PULUMI_BACKEND_URL: "s3://cim-nats-state?endpoint=cimstor.lan:9000&s3ForcePathStyle=true" }) });
        continue;
      }
      const result = exec(stepEnv);
      ran.push({ step: label, ...result });
      if (result.code !== 0) break;
      for (const line of fs.readFileSync(githubEnv, "utf8").split("\n").filter(Boolean)) env[line.slice(0, line.indexOf("="))] = line.slice(line.indexOf("=") + 1);
      const added = fs.readFileSync(githubPath, "utf8").split("\n").filter(Boolean).reverse();
      if (added.length > 0) env.PATH = [...added, env.PATH].join(":");
    }
  }, 900_000);

  afterAll(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const stepRun = (name: string) => ran.find((r) => r.step === name);

  it("every step ran in order as the runner's user; the local backend is refused, the shared one passes", () => {
    expect(ran.map((r) => `${r.step}: ${r.code}`)).toEqual([
      "actions/checkout@v4: 0",
      "actions/setup-go@v5: 0",
      "actions/setup-node@v4: 0",
      "Pulumi CLI (pinned): 0",
      "Provider plugins (pinned): 0",
      "Toolchain cache (keyed on the pins): 0",
      "Refuse a local file backend (file://): 1",
      "Refuse a local file backend (s3://): 0",
      "Setup (pinned toolchain, npm dependencies, policy pack dependencies): 0",
      "Put the pinned toolchain on PATH for the action: 0",
      "Read-only Proxmox token into the stack config (this runner only): 0",
      "pulumi/actions@v6: 0",
    ]);
    expect(stepRun("Refuse a local file backend (file://)")!.out).toContain("::error::set the repository variable PULUMI_BACKEND_URL");
    const id = asRunner(["id", "-u"], { PATH: "/usr/bin:/bin" });
    expect(Number(id.out.trim())).toBe(ROOT_RUN ? NOBODY : process.getuid?.());
  });

  it("setup took the installed CLI, language host and plugins, built nothing, and needed neither root nor ../shared", () => {
    const out = stepRun("Setup (pinned toolchain, npm dependencies, policy pack dependencies)")!.out;
    expect(out).toMatch(/==> pulumi v3\.274\.1: using the installed \S+\/\.pulumi\/bin\/pulumi/);
    expect(out).toMatch(/==> pulumi-language-nodejs v3\.274\.1: using the installed \S+\/\.pulumi\/bin\/pulumi-language-nodejs/);
    expect(out).toContain("==> pulumi-resource-command v1.2.1: using the installed plugin");
    expect(out).toContain("==> pulumi-resource-proxmoxve v8.6.0: using the installed plugin");
    expect(out).toContain("==> debian packages (nix-bin openssh-server curl nftables): skipped (CIM_NATS_SKIP_SYSTEM_PACKAGES=1");
    expect(out).toContain("==> pulumi smoke test (up with a dynamic provider): passed");
    expect(out).not.toMatch(/built in|source snapshot|WARNING/);
    expect(fs.existsSync(path.join(dir, "work", "shared"))).toBe(false);
  });

  it("the preview passes the policy pack and plans the fresh stack docs/prod.md counts, with no SSH key anywhere", () => {
    expect(preview.code, preview.out.slice(-3000)).toBe(0);
    // The policy pack ran (preview --diff lists it as <name>|local|<dir> <version>) and found nothing.
    expect(preview.out).toMatch(/cim-nats\|local\|policy +0\.1\.0/);
    expect(preview.out).not.toContain("[mandatory]");
    expect(preview.out).toMatch(/\+ 173 to create/);
    // Nothing of a key reached the job: not its env, not the stack config.
    const config = fs.readFileSync(path.join(work, "Pulumi.prod.yaml"), "utf8");
    expect(config).not.toContain("sshPrivateKey");
    expect(JSON.stringify(workflow.jobs.preview)).not.toMatch(/SSH_PRIVATE_KEY|sshPrivateKey|ssh-add/);
  });
});
