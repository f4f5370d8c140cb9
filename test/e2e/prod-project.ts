/**
 * A throwaway copy of this project for running the real Pulumi CLI on the prod stack offline:
 * its own file backend, a fresh `prod` stack with a placeholder secret (a made-up API token; the
 * deploy key is in an SSH agent, as Pulumi.prod.yaml logs in), the same Pulumi.prod.yaml (a
 * copy, so a test may change it). Nothing reaches
 * Proxmox or a container: `preview` plans with the real provider plugins, and a prior state is
 * written with `pulumi stack import` (priorState below), never by a real `up`.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { dump, load } from "js-yaml";
import { renderClusterAuth } from "../../components/render/cluster-auth";
import { JETSTREAM_ADMIN_USER, SYSTEM_MONITOR_USER } from "../../components/security/types";
import { ROUTE_USER } from "../../components/tls/types";
import { parseTopology } from "../../components/topology/parse";
import { copyProject } from "../../harness/dev-project";
import { PROJECT_ROOT, pulumiEnv, runPulumi, type PulumiContext, type PulumiRun } from "../../harness/pulumi-cli";


/** Placeholder secrets: well-formed, worthless. */
/** What a prior state written without servers leaves out: the JetStream state (it lives on servers). */
export function needsServers(urn: string): boolean {
  return urn.includes("pulumi-nodejs:dynamic/jetstream:");
}

export const PLACEHOLDER_API_TOKEN = "pulumi@pve!deploy=00000000-0000-0000-0000-000000000000";
export const PROD_TEST_PASSPHRASE = "cim-nats-prod-preview-test";

/** Provider plugins the prod stack needs, found on PATH (setup builds them into .tools/bin). */
export const PROD_PLUGINS = ["pulumi-resource-command", "pulumi-resource-proxmoxve"] as const;

/** Why the prod tests cannot run here, or "" when they can. */
export function missingProdPlugins(): string {
  const dirs = [path.join(PROJECT_ROOT, ".tools", "bin"), ...(process.env.PATH ?? "").split(":")];
  const missing = PROD_PLUGINS.filter((p) => !dirs.some((d) => d && fs.existsSync(path.join(d, p))));
  if (fs.existsSync(path.join(PROJECT_ROOT, ".tools", "bin", "pulumi")) === false) return "the pinned Pulumi CLI is missing from .tools/bin (npm run setup)";
  return missing.length === 0 ? "" : `provider plugin${missing.length > 1 ? "s" : ""} ${missing.join(", ")} not on PATH (npm run setup builds them from ../shared/plugin-src; see README)`;
}

export type ProdProject = {
  readonly dir: string;
  readonly projectDir: string;
  readonly context: PulumiContext;
  pulumi(args: readonly string[], allowFailure?: boolean): Promise<PulumiRun>;
  /** Edits the copy's Pulumi.prod.yaml (`config:` keys, e.g. `cim-nats:topology`); secrets stay as they are. */
  editConfig(edit: (config: Record<string, any>) => void): void;
  /** Puts Pulumi.prod.yaml back as it was after the stack was created (or, for a clone, cloned). */
  restoreConfig(): void;
  setSecret(key: string, value: string): Promise<void>;
  cleanup(): void;
};

/** Copies the project, creates the `prod` stack on a fresh file backend and sets placeholder secrets. */
export async function createProdProject(prefix = "cim-nats-prod-"): Promise<ProdProject> {
  const project = prodProjectIn(copyProject(prefix));
  await runPulumi(project.context, ["stack", "init", "prod"]);
  await project.setSecret("cim-nats:proxmoxApiToken", PLACEHOLDER_API_TOKEN);
  return prodProjectAsCreated(project);
}

/**
 * Another copy of `project` holding the same `prod` stack: its backend folder and Pulumi.prod.yaml
 * (encryption salt, secrets, any edit in place) copied into a fresh project copy. A preview there
 * plans what one in `project` would, so previews of different edits can run side by side, each in
 * its own copy. Its restoreConfig puts back the Pulumi.prod.yaml it was cloned with.
 */
export function cloneProdProject(project: ProdProject, prefix = "cim-nats-prod-clone-"): ProdProject {
  return projectFrom(path.join(project.dir, "state"), path.join(project.projectDir, "Pulumi.prod.yaml"), prefix);
}

/** A fresh project copy holding the backend folder `stateDir` and the stack config `yamlPath`. */
function projectFrom(stateDir: string, yamlPath: string, prefix: string): ProdProject {
  const copy = copyProject(prefix);
  fs.rmSync(copy.stateDir, { recursive: true, force: true });
  fs.cpSync(stateDir, copy.stateDir, { recursive: true });
  fs.copyFileSync(yamlPath, path.join(copy.projectDir, "Pulumi.prod.yaml"));
  return prodProjectAsCreated(prodProjectIn(copy));
}

/**
 * A prod project holding writePriorState's state of the unchanged stack config at `hostAddresses`.
 * Written once per suite run: prod-preview and policy-cli both start from it, so the first file to
 * ask writes it (4 program runs and 4 state commands) into a folder of the run (keyed by the vitest
 * parent process), and the other waits for it and copies it, as cloneProdProject does. A writer
 * that failed, or a folder gone before it was copied, leaves the caller to write its own.
 */
export async function sharedPriorState(prefix: string, hostAddresses: Readonly<Record<string, string>>): Promise<{ readonly project: ProdProject; readonly prior: PriorState; readonly shared: boolean }> {
  const key = createHash("sha256").update(JSON.stringify([process.ppid, hostAddresses, fs.readFileSync(path.join(PROJECT_ROOT, "Pulumi.prod.yaml"), "utf8")])).digest("hex").slice(0, 16);
  const dir = path.join(os.tmpdir(), `cim-nats-prior-${key}`);
  const write = async () => {
    const project = await createProdProject(prefix);
    return { project, prior: await writePriorState(project, hostAddresses), shared: false };
  };
  try {
    fs.mkdirSync(dir);
  } catch {
    // Another file writes it (or wrote it): wait for the outcome, then copy.
    const deadline = Date.now() + 900_000;
    while (!fs.existsSync(path.join(dir, "done")) && !fs.existsSync(path.join(dir, "failed")) && fs.existsSync(dir) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
    try {
      const prior = JSON.parse(fs.readFileSync(path.join(dir, "done"), "utf8")) as PriorState;
      return { project: projectFrom(path.join(dir, "state"), path.join(dir, "Pulumi.prod.yaml"), prefix), prior, shared: true };
    } catch {
      return write();
    }
  }
  // The folder is this run's: removed when this worker process ends (the suite's last file is done by then or writes its own).
  process.once("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
  try {
    const written = await write();
    fs.cpSync(path.join(written.project.dir, "state"), path.join(dir, "state"), { recursive: true });
    fs.copyFileSync(path.join(written.project.projectDir, "Pulumi.prod.yaml"), path.join(dir, "Pulumi.prod.yaml"));
    fs.writeFileSync(path.join(dir, "done.tmp"), JSON.stringify(written.prior));
    fs.renameSync(path.join(dir, "done.tmp"), path.join(dir, "done"));
    return written;
  } catch (e) {
    fs.writeFileSync(path.join(dir, "failed"), String((e as Error).message));
    throw e;
  }
}

/** Runs `jobs` with at most `limit` at a time (previews in their own project copies), results in order. */
export async function inParallel<T>(limit: number, jobs: readonly (() => Promise<T>)[]): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await jobs[i]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
  return results;
}

/** A ProdProject over a project copy (no stack made here); restoreConfig is bound by prodProjectAsCreated. */
function prodProjectIn({ dir, projectDir, stateDir }: { readonly dir: string; readonly projectDir: string; readonly stateDir: string }): ProdProject {
  const context: PulumiContext = {
    cwd: projectDir,
    // CIM_NATS_OFFLINE: the JetStream resources and the removal guard ask no server. The prod
    // addresses (10.0.0.x, 172.16.0.2) are not this machine's to reach: a test never sends them a packet.
    env: pulumiEnv(stateDir, { PULUMI_CONFIG_PASSPHRASE: PROD_TEST_PASSPHRASE, CIM_NATS_ROOT: projectDir, PULUMI_NODEJS_TRANSPILE_ONLY: "true", CIM_NATS_OFFLINE: "1" }),
  };
  const yamlPath = path.join(projectDir, "Pulumi.prod.yaml");
  return {
    dir,
    projectDir,
    context,
    pulumi: (args, allowFailure = false) => runPulumi(context, [...args, "-s", "prod"], { allowFailure, timeoutMs: 600_000 }),
    editConfig: (edit) => {
      const doc = load(fs.readFileSync(yamlPath, "utf8")) as { config: Record<string, any> };
      edit(doc.config);
      fs.writeFileSync(yamlPath, dump(doc, { lineWidth: -1 }));
    },
    restoreConfig: () => {
      throw new Error("restoreConfig before the stack exists");
    },
    // Through stdin: a value on the command line would show in `ps`.
    setSecret: async (k, value) => {
      await runPulumi(context, ["config", "set", "--secret", "-s", "prod", k], { input: value });
    },
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/** `project` whose restoreConfig puts back Pulumi.prod.yaml as it is now. */
function prodProjectAsCreated(project: ProdProject): ProdProject {
  const yamlPath = path.join(project.projectDir, "Pulumi.prod.yaml");
  const createdYaml = fs.readFileSync(yamlPath, "utf8");
  return { ...project, restoreConfig: () => fs.writeFileSync(yamlPath, createdYaml) };
}

/** One step of `pulumi preview --json`. */
export type PreviewStep = {
  readonly op: string;
  readonly urn: string;
  readonly diffReasons?: readonly string[];
  readonly replaceReasons?: readonly string[];
  readonly detailedDiff?: Record<string, { kind: string; inputDiff?: boolean }> | null;
  readonly newState?: { type: string; inputs?: Record<string, unknown>; outputs?: Record<string, unknown>; parent?: string; provider?: string; custom?: boolean; id?: string; dependencies?: string[]; propertyDependencies?: Record<string, string[]> };
};

export type Preview = {
  readonly steps: readonly PreviewStep[];
  readonly changeSummary: Record<string, number>;
  readonly diagnostics: readonly { message: string; severity: string; urn?: string }[];
  readonly run: PulumiRun;
};

/** `pulumi preview --json` (optionally with secrets shown), parsed; a failed preview still returns its diagnostics. */
export async function preview(project: ProdProject, extra: readonly string[] = []): Promise<Preview> {
  const run = await project.pulumi(["preview", "--json", ...extra], true);
  let parsed: any;
  try {
    parsed = JSON.parse(run.stdout);
  } catch {
    throw new Error(`pulumi preview --json printed no JSON (exit ${run.code}):\n${run.stdout.slice(-3000)}\n${run.stderr.slice(-3000)}`);
  }
  return { steps: parsed.steps ?? [], changeSummary: parsed.changeSummary ?? {}, diagnostics: parsed.diagnostics ?? [], run };
}

/** Resource name (last URN segment) of a step. */
export function nameOf(urn: string): string {
  return urn.slice(urn.lastIndexOf("::") + 2);
}

const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270";
const secretPlaintext = (value: unknown) => ({ [SECRET_SIG]: SECRET_VALUE, plaintext: JSON.stringify(value) });
const fromSecret = (v: any): any => (v && typeof v === "object" && v[SECRET_SIG] === SECRET_VALUE ? JSON.parse(v.plaintext) : v);

/** Drops the bridge's `__defaults` bookkeeping from checked inputs, as the provider's own state does. */
function withoutDefaults(v: any): any {
  if (Array.isArray(v)) return v.map(withoutDefaults);
  if (v && typeof v === "object" && !(SECRET_SIG in v)) {
    return Object.fromEntries(Object.entries(v).filter(([k]) => k !== "__defaults").map(([k, x]) => [k, withoutDefaults(x)]));
  }
  return v;
}

export type PriorState = {
  /** Resources written, by type. */
  readonly counts: Readonly<Record<string, number>>;
  /** Wall time of the targeted up, the preview and the import, ms. */
  readonly ms: number;
};

/**
 * Writes the state a successful `pulumi up -s prod` would leave, without Proxmox or SSH:
 * 1. a real, targeted `up` of the security resources (keys and JWTs are made locally), the TLS
 *    resources (CA, server certificates, route password: made locally too) and the JetStream
 *    removal guard (it only records the declared stores), so every rendered file is known;
 * 2. `preview --json`: the real providers' checked inputs of every container and command;
 * 3. `stack import` of those as created resources (outputs = inputs, the way both providers
 *    echo them; commands with empty stdout/stderr, a host's build with the store path of what it
 *    built). Secret inputs the preview masks are put back from what the stack itself holds: the
 *    deploy connection (address, root, 22, 20 × 15 s; the agent, no key), a build's environment
 *    (the container's host key), each leaf's link creds (the security component's
 *    output) and each server's TLS files (the CA's and its certificate's outputs, its route
 *    authorization rendered with the route password). A resource whose inputs are unknown until
 *    another exists (a switch activates what its build printed) is written from the next preview.
 * JetStream resources are left out (they need running servers); dependencies on them are dropped.
 * The resulting state is checked by the caller: an unchanged config must preview no change.
 */
export async function writePriorState(
  project: ProdProject,
  hostAddresses: Readonly<Record<string, string>>,
  options: { readonly tls?: boolean } = {},
): Promise<PriorState> {
  // `tls: false`: the program has no TLS resources to target (a release before them, see priorRelease).
  const tls = options.tls ?? true;
  const started = Date.now();
  const root = "urn:pulumi:prod::cim-nats::cim-nats:index:Backbone";
  await project.pulumi([
    "up", "--yes", "--skip-preview",
    "--target", `${root}::prod`,
    "--target", `${root}$cim-nats:proxmox:Inventory::prod`,
    "--target", `${root}$cim-nats:deploy:NixosDeployment::deploy`,
    "--target", `${root}$cim-nats:security:NatsSecurity**`,
    // Local too (it only records the declared stores); the servers and security may depend on it.
    "--target", `${root}$pulumi-nodejs:dynamic/jetstream:RemovalGuard::jetstream-removal-guard`,
    // The CA, certificates and route password the deploy copies to each host (components/tls).
    // Left out, their outputs stay unknown and the program refuses to copy a file whose content is unknown.
    ...(tls ? ["--target", `${root}$pulumi-nodejs:dynamic/cim-nats:TlsCa::tls-ca`, "--target", `${root}$pulumi-nodejs:dynamic/cim-nats:ServerCert::tls-cert-**`, "--target", `${root}$pulumi-nodejs:dynamic/cim-nats:RoutePassword::tls-route-password`] : []),
  ]);
  const planned = await preview(project);
  if (planned.run.code !== 0) throw new Error(`preview for the prior state failed:\n${planned.diagnostics.map((d) => d.message).join("\n")}`);
  const exported = JSON.parse((await project.pulumi(["stack", "export", "--show-secrets"])).stdout);
  const base: any[] = exported.deployment.resources;
  const security = base.find((r) => r.type === "cim-nats:security:NatsSecurity");
  const userCreds: Record<string, string> = fromSecret(security.outputs.userCreds);
  const operatorKey = base.find((r) => r.type === "pulumi-nodejs:dynamic/cim-nats:NKey" && r.outputs?.kind === "operator");
  const counts: Record<string, number> = {};
  // Each container's host key read (container-host-keys.ts) runs on its node: the node's address
  // and pinned key from the stack config; what it printed, the key every deploy connection pins.
  const config = (load(fs.readFileSync(path.join(project.projectDir, "Pulumi.prod.yaml"), "utf8")) as { config: Record<string, any> }).config;
  const nodeOf = (host: string): { address: string; hostKey?: string } => {
    const node = config["cim-nats:topology"].hosts.find((h: { name: string }) => h.name === host)?.node;
    return (config["cim-nats:proxmox"].ssh?.nodes ?? []).find((n: { name: string }) => n.name === node) ?? { address: "" };
  };
  const verifyHostKeys = config["cim-nats:proxmox"].ssh?.verifyHostKeys !== false;
  // Secret copies (their sources are masked in the preview), by what the targeted up made:
  // creds named after their user (leaf-<leaf>.creds, cid-service.creds), and a server's TLS files
  // (<server>-ca.pem, -cert.pem, -key.pem, a hub member's -cluster-auth.conf: substrates.ts nixosTlsFiles).
  const outputsOf = (type: string, resourceName: string) => base.find((r) => r.type === type && nameOf(r.urn) === resourceName)?.outputs;
  const topology = parseTopology(config["cim-nats:topology"], { name: "prod" });
  const secretFileText = (copy: string): string => {
    const user = Object.keys(userCreds).find((u) => copy.endsWith(`-secrets-${u}.creds`));
    if (user !== undefined) return userCreds[user];
    const m = /-copy-var-lib-cim-nats-secrets-(.+)-(ca\.pem|cert\.pem|key\.pem|cluster-auth\.conf)$/.exec(copy);
    const ca = outputsOf("pulumi-nodejs:dynamic/cim-nats:TlsCa", "tls-ca");
    const cert = m && outputsOf("pulumi-nodejs:dynamic/cim-nats:ServerCert", `tls-cert-${m[1]}`);
    const member = m && topology.hub.members.find((i) => i.serverName === m[1]);
    const password = outputsOf("pulumi-nodejs:dynamic/cim-nats:RoutePassword", "tls-route-password")?.password;
    const text =
      m?.[2] === "ca.pem" ? ca?.certPem
      : m?.[2] === "cert.pem" ? cert?.certPem
      : m?.[2] === "key.pem" ? cert?.keyPem
      : m?.[2] === "cluster-auth.conf" && member && password ? renderClusterAuth(topology, member, ROUTE_USER, fromSecret(password))
      : undefined;
    if (text === undefined) throw new Error(`${copy}: a secret copy that is neither a user's creds nor a TLS file of the state`);
    return fromSecret(text);
  };

  const build = (containerOutputs: Readonly<Record<string, Record<string, unknown>>>, plans: readonly Preview[]) => {
    const resources = [...base];
    const known = new Set(resources.map((r) => r.urn));
    // JetStream resources need servers: left out, except what the targeted up already made.
    const kept = (urn: string) => known.has(urn) || !needsServers(urn);
    for (const key of Object.keys(counts)) delete counts[key];
    // What a round leaves for the next (its inputs unknown yet), and so everything that depends on it.
    const later = new Set<string>();
    for (const step of plans.flatMap((p) => p.steps)) {
      if (step.op !== "create" || !kept(step.urn) || known.has(step.urn)) continue;
      const s = step.newState!;
      if ((s.dependencies ?? []).some((d) => later.has(d) && !known.has(d))) {
        later.add(step.urn);
        continue;
      }
      const name = nameOf(step.urn);
      const host = Object.keys(hostAddresses).find((h) => name.startsWith(`deploy-${h}-`));
      const inputs: Record<string, any> = { ...s.inputs };
      const hostKeyRead = name.endsWith("-hostkey");
      if (hostKeyRead) {
        const node = nodeOf(host!);
        inputs.connection = secretPlaintext({ dialErrorLimit: 10, host: node.address, hostKey: node.hostKey, perDialTimeout: 15, port: 22, user: "root" });
        // Its trigger: the container's id, as an `up` stored it (the prior containers' ids are their vmids).
        const vmid = config["cim-nats:topology"].hosts.find((h: { name: string }) => h.name === host).vmid;
        inputs.triggers = [String(vmid)];
      } else if (s.type === "command:local:Command") {
        // A host's build: the key its closure copy pins (no deploy key: the agent logs in).
        if (verifyHostKeys) inputs.environment = { CIM_NATS_HOST_KEY: PRIOR_CONTAINER_HOST_KEY };
        else delete inputs.environment;
      } else if (s.type.startsWith("command:remote:")) {
        // The command SDK makes every connection secret.
        inputs.connection = secretPlaintext({
          dialErrorLimit: 20,
          host: hostAddresses[host!],
          ...(verifyHostKeys ? { hostKey: PRIOR_CONTAINER_HOST_KEY } : {}),
          perDialTimeout: 15,
          port: 22,
          user: "root",
        });
        if (inputs.source === "[secret]") {
          const text = secretFileText(name);
          inputs.source = secretPlaintext({ [ASSET_SIG]: ASSET_VALUE, hash: createHash("sha256").update(text).digest("hex"), text });
        }
      } else if (s.type === PUSH_TYPE) {
        // An account's JWT push (components/security/account-pushes.ts): its system-account creds,
        // the operator seed and (the data account's) the JetStream admin's creds for the source
        // nudge, from what the targeted up made.
        if (inputs.creds === "[secret]") inputs.creds = secretPlaintext(userCreds[SYSTEM_MONITOR_USER]);
        if (inputs.sourceNudgeCreds === "[secret]") inputs.sourceNudgeCreds = secretPlaintext(userCreds[JETSTREAM_ADMIN_USER]);
        if (inputs.operatorSeed === "[secret]") inputs.operatorSeed = secretPlaintext(fromSecret(operatorKey.outputs.seed));
      }
      if (JSON.stringify(inputs).includes('"[secret]"')) throw new Error(`${name}: a masked secret input the prior state cannot restore`);
      // Known only once what it depends on is in the state: written from a later preview.
      if (JSON.stringify(inputs).includes(UNKNOWN)) {
        later.add(step.urn);
        continue;
      }
      const container = s.type === CONTAINER_TYPE;
      const outputs = container
        ? (containerOutputs[step.urn] ?? { ...withoutDefaults(inputs), id: String(inputs.vmId) })
        : s.type === "command:remote:Command"
          ? { ...withoutDefaults(inputs), stdout: hostKeyRead ? `${PRIOR_CONTAINER_HOST_KEY} root@${host}` : "", stderr: "" }
          : s.type === "command:local:Command"
            ? { ...withoutDefaults(inputs), stdout: priorSystemPath(host!, String(inputs.stdin)), stderr: "" }
            : s.type === PUSH_TYPE
              ? { ...withoutDefaults(inputs), confirmed: (inputs.servers as { name: string }[]).map((v) => v.name), pending: [] }
              : withoutDefaults(inputs);
      const deps = (s.dependencies ?? []).filter(kept);
      const propertyDependencies = Object.fromEntries(Object.entries(s.propertyDependencies ?? {}).map(([k, v]) => [k, v.filter(kept)]));
      const extra = s as any;
      resources.push({
        urn: step.urn,
        custom: s.custom ?? false,
        ...(s.custom ? { id: container ? String(inputs.vmId) : `${name}-0000` } : {}),
        type: s.type,
        inputs,
        outputs: s.custom ? outputs : {},
        ...(s.parent ? { parent: s.parent } : {}),
        ...(extra.protect ? { protect: true } : {}),
        ...(s.provider ? { provider: s.provider } : {}),
        ...(deps.length > 0 ? { dependencies: deps } : {}),
        propertyDependencies,
        ...(extra.additionalSecretOutputs ? { additionalSecretOutputs: extra.additionalSecretOutputs } : {}),
        ...(extra.ignoreChanges ? { ignoreChanges: extra.ignoreChanges } : {}),
        ...(extra.replaceOnChanges ? { replaceOnChanges: extra.replaceOnChanges } : {}),
      });
      known.add(step.urn);
      counts[s.type] = (counts[s.type] ?? 0) + 1;
    }
    return { ...exported, deployment: { ...exported.deployment, resources } };
  };
  const importState = async (deployment: unknown) => {
    const file = path.join(project.dir, "prior-state.json");
    fs.writeFileSync(file, JSON.stringify(deployment), { mode: 0o600 });
    try {
      await project.pulumi(["stack", "import", "--file", file]);
    } finally {
      fs.rmSync(file, { force: true });
    }
  };

  // Round 1: containers with their checked inputs as outputs, every command whose inputs are known
  // (a switch's are not: it activates what its build printed). The bridged provider then plans
  // what it would store after a create (defaults and computed attributes): round 2 stores that.
  // Then, with containers and builds as an up leaves them, the next plan knows each switch's
  // script: round 3 stores the switches (and what waits for them).
  const plans = [planned];
  await importState(build({}, plans));
  const planned2 = await preview(project);
  const containerOutputs: Record<string, Record<string, unknown>> = {};
  for (const step of planned2.steps) {
    if (step.newState?.type !== CONTAINER_TYPE || !step.newState.outputs) continue;
    containerOutputs[step.urn] = afterCreate(step.newState.outputs, step.newState.inputs as Record<string, any>);
  }
  await importState(build(containerOutputs, plans));
  plans.push(await preview(project));
  await importState(build(containerOutputs, plans));
  return { counts, ms: Date.now() - started };
}

/** An account's JWT push (components/security/jwt-push.ts). */
const PUSH_TYPE = "pulumi-nodejs:dynamic/cim-nats:AccountJwtPush";
const CONTAINER_TYPE = "proxmoxve:index/containerLegacy:ContainerLegacy";
/** The store path a host's build printed in the prior state: a function of its script, as Nix's is of its inputs. */
export const priorSystemPath = (host: string, script: string) => `/nix/store/${createHash("sha256").update(script).digest("hex").slice(0, 32)}-nixos-system-${host}`;
/** The SSH host key every container of the prior state had (what its read on the node printed). */
export const PRIOR_CONTAINER_HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKMGwCj9hlKhSiEbGGa6LAIXyFvC9YhJ0ptMvHaYXKwe";
const ASSET_SIG = SECRET_SIG;
const ASSET_VALUE = "c44067f5952c0a294b673a41bacd8c17";
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/**
 * A container's planned state with what Proxmox reports after creating it in place of the
 * plan's unknowns (ids, MAC, volume paths, addresses), as a `pulumi up` would have stored it.
 */
function afterCreate(planned: Record<string, unknown>, inputs: Record<string, any>): Record<string, unknown> {
  const vmId = inputs.vmId as number;
  let volume = 0;
  const fill = (v: any, key: string): any => {
    if (v === UNKNOWN) {
      switch (key) {
        case "id":
          return String(vmId);
        case "units":
          return 1024;
        case "pathInDatastore":
          return `vm-${vmId}-disk-${volume++}`;
        case "macAddress":
          return `BC:24:11:00:${(vmId % 256).toString(16).padStart(2, "0").toUpperCase()}:01`;
        case "ipv4":
        case "ipv6":
          return {};
        default:
          return null;
      }
    }
    if (v === "[secret]") return secretPlaintext(null);
    if (Array.isArray(v)) return v.map((x) => fill(x, key));
    if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fill(x, k)]));
    return v;
  };
  return fill(planned, "");
}

/**
 * main just before the prodtls merge: the last program whose prod stack had no TLS resources,
 * no route password and no TLS files on its hosts (the proxmox substrate did not place them).
 */
export const BEFORE_PROD_TLS = "cf2e1ebea458ed92e6a8606bffe92bd84d777f52";

/** What makes up the program in a project copy (copyProject copies these from the checkout). */
const PROGRAM_PATHS = ["components", "nix", "index.ts"] as const;

/** Why `revision`'s program cannot be read from this checkout's git history, or "". */
export function missingRevision(revision: string): string {
  const r = spawnSync("git", ["-C", PROJECT_ROOT, "cat-file", "-e", `${revision}^{commit}`], { encoding: "utf8" });
  return r.status === 0 ? "" : `commit ${revision.slice(0, 12)} is not in this checkout's git history (a shallow clone?): ${(r.stderr || r.error?.message || "").trim()}`;
}

/**
 * Runs `body` with the copy's program as it was at `revision` (git archive of components/, nix/,
 * index.ts; the copy's Pulumi.prod.yaml and secrets stay), then puts this checkout's program back:
 * a state written inside is what that release's `up` leaves.
 */
export async function withProgramAt<T>(project: Pick<ProdProject, "projectDir">, revision: string, body: () => Promise<T>): Promise<T> {
  // Releases before accounts per service required every user to name its account (services were
  // in the application account): their program reads the copy's config with that added back.
  const configs = ["Pulumi.prod.yaml", "Pulumi.dev.yaml"].map((f) => path.join(project.projectDir, f)).filter((f) => fs.existsSync(f));
  const originals = new Map(configs.map((f) => [f, fs.readFileSync(f, "utf8")]));
  for (const f of configs) fs.writeFileSync(f, withServiceAccounts(originals.get(f)!));
  const replace = (fill: () => void) => {
    for (const p of PROGRAM_PATHS) fs.rmSync(path.join(project.projectDir, p), { recursive: true, force: true });
    fill();
  };
  replace(() => {
    const tar = execFileSync("git", ["-C", PROJECT_ROOT, "archive", "--format=tar", revision, ...PROGRAM_PATHS], { maxBuffer: 256 * 1024 * 1024 });
    execFileSync("tar", ["-x", "-C", project.projectDir], { input: tar });
  });
  try {
    return await body();
  } finally {
    replace(() => {
      for (const p of PROGRAM_PATHS) fs.cpSync(path.join(PROJECT_ROOT, p), path.join(project.projectDir, p), { recursive: true });
    });
    for (const [f, text] of originals) fs.writeFileSync(f, text);
  }
}

/** A stack config whose users without `account` name the application account (what releases before accounts per service required). */
function withServiceAccounts(text: string): string {
  const doc = load(text) as { config?: Record<string, { applicationAccount?: string; accounts?: { name: string }[]; users?: Record<string, unknown>[] }> };
  const security = doc.config?.["cim-nats:security"];
  if (!security?.users) return text;
  const app = security.applicationAccount ?? security.accounts?.[0]?.name;
  for (const u of security.users) if (u.account === undefined && u.leafLink === undefined) u.account = app;
  return dump(doc, { lineWidth: -1 });
}
