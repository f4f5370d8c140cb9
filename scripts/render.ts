/**
 * `npm run render -- <stack> <dir> [--check]`: what a stack's servers would run, written to <dir>
 * for review, offline — no Pulumi engine, no state, no deploy. From Pulumi.<stack>.yaml alone:
 *
 * - `<dir>/<server>.conf`: every server's config in nats-server's own syntax (prod: the config the
 *   NixOS unit runs, its files named in the unit's runtime dir; dev: the local process's);
 * - prod: `<dir>/nixos/<host>/…`: every host's NixOS files at their container paths.
 *
 * Secrets are never written: keys, route passwords and creds are referenced by the paths the
 * deploy places them at. The operator-mode blocks (operator, accounts) are not rendered: their JWTs
 * are issued by the stack's resources and live in its state. `access.nix` shows the configured
 * deploy keys (`ssh.authorizedKeys`), and when the stack logs in with a key in its config
 * (`ssh.agent` off), that key's public half as a placeholder (derived from the secret
 * `cim-nats:sshPrivateKey`).
 *
 * `--check` issues a throwaway CA, server certificates and route password into a temp dir,
 * points each config's TLS files and cluster include there and runs the pinned `nats-server -t`
 * on every config, one line per server; exit 1 when any fails.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { load } from "js-yaml";
import { nixosHostFiles } from "../components/deploy/nixos-files";
import { natsServerBinary } from "../components/local/nats-process";
import { localServerFilePath } from "../components/local/local-topology";
import { deployAccess } from "../components/proxmox/deploy-connection";
import { renderClusterAuth } from "../components/render/cluster-auth";
import { renderServerConfig } from "../components/render/nats-server-config";
import { nixosRunningSettings, nixosTlsInput, renderNixosHost, type NixosTlsOptions } from "../components/render/nixos-host";
import { formatNatsConf } from "../components/render/nats-conf";
import type { ServerTlsInput } from "../components/render/server-tls";
import { loadStackModel, Substrate, type StackModel } from "../components/stack/stack-model";
import { issueCa, issueServerCert } from "../components/tls/certs";
import { serverCertNames } from "../components/tls/names";
import { ROUTE_USER } from "../components/tls/types";
import { withDataDir } from "../components/topology/rebase";
import type { ServerInstance, Topology } from "../components/topology/types";

const ROOT = path.resolve(__dirname, "..");

/** One rendered server config and the secret files it references. */
export type RenderedServer = { readonly instance: ServerInstance; readonly text: string; readonly tls: ServerTlsInput };

export type RenderedStack = {
  readonly servers: readonly RenderedServer[];
  /** Path relative to the output dir → text (public files only). */
  readonly files: Readonly<Record<string, string>>;
};

/** Stands in for the deploy key's public half (derived from the secret `cim-nats:sshPrivateKey`). */
const DEPLOY_KEY_PLACEHOLDER = "ssh-ed25519 DEPLOYKEY public-half-of-cim-nats:sshPrivateKey";

/** The stack model from Pulumi.<stack>.yaml, as the program would read it, with placeholder secrets. */
export function readStackModel(stack: string, root = ROOT): StackModel {
  const file = path.join(root, `Pulumi.${stack}.yaml`);
  if (!fs.existsSync(file)) throw new Error(`no stack config ${file}: name a stack with a Pulumi.<stack>.yaml (dev, prod)`);
  const doc = load(fs.readFileSync(file, "utf8")) as { config?: Record<string, unknown> };
  const get = (k: string) => doc.config?.[`cim-nats:${k}`];
  const proxmox = get("proxmox") as { ssh?: Record<string, unknown> } | undefined;
  // The secrets are not here: with a key in the config, the deploy's SSH access renders its public
  // half as a placeholder; with the agent, the configured keys are the whole list.
  const keyless = proxmox?.ssh?.agent === true;
  const renderProxmox = proxmox && {
    ...proxmox,
    ssh: { ...(proxmox.ssh ?? {}), agent: true, authorizedKeys: [...((proxmox.ssh?.authorizedKeys as string[]) ?? []), ...(keyless ? [] : [DEPLOY_KEY_PLACEHOLDER])] },
  };
  return loadStackModel(
    stack,
    {
      substrate: get("substrate") as string | undefined,
      topology: get("topology"),
      jetstream: get("jetstream"),
      security: get("security"),
      proxmox: renderProxmox,
      tls: get("tls"),
      // mode provided: the CA key is a secret the check does not need (it issues its own CA).
      ...((get("tls") as { mode?: string } | undefined)?.mode === "provided" ? { tlsCaKey: "-----BEGIN PRIVATE KEY-----\nrender\n-----END PRIVATE KEY-----\n" } : {}),
    },
    { apiToken: "root@pam!render=00000000-0000-0000-0000-000000000000" },
  );
}

/** Where a local (dev) server's TLS files and include live: its own folder (components/stack/substrates.ts). */
function localTlsInput(instance: ServerInstance, options: NixosTlsOptions, topology: Topology): ServerTlsInput {
  return {
    ...(options.tls
      ? { tls: { certFile: localServerFilePath(instance, "tls/cert.pem"), keyFile: localServerFilePath(instance, "tls/key.pem"), caFile: localServerFilePath(instance, "tls/ca.pem") } }
      : {}),
    ...(options.routeAuth && instance.kind === "hub" && topology.hub.members.length > 1 ? { clusterAuth: { include: "cluster-auth.conf" } } : {}),
  };
}

/** Every server's config and (prod) every host's NixOS files, without secrets. */
export function renderStack(stack: string, model: StackModel, root = ROOT): RenderedStack {
  const options: NixosTlsOptions = { tls: model.tls.mode !== "off", routeAuth: model.topology.hub.members.length > 1 };
  const files: Record<string, string> = {};
  const servers: RenderedServer[] = [];
  if (model.substrate === Substrate.Proxmox) {
    const t = model.topology;
    const modules = (f: string) => fs.readFileSync(path.join(root, "nix", "modules", f), "utf8");
    for (const host of t.hosts) {
      for (const instance of host.instances) {
        const tls = nixosTlsInput(t, instance, options);
        const header = `# ${instance.serverName}: the config its unit cim-nats-${instance.kind} runs on ${host.name} (rendered offline by scripts/render.ts; operator-mode blocks come from the stack's state).\n`;
        servers.push({ instance, text: header + formatNatsConf(nixosRunningSettings(t, instance, undefined, options)), tls });
      }
      const hostFiles = nixosHostFiles<string>({
        moduleText: modules("cim-nats.nix"),
        natsServerText: modules("nats-server.nix"),
        system: model.proxmox!.nixos,
        hostText: renderNixosHost(t, host.name, undefined, options),
        credentials: {},
        access: deployAccess(model.proxmox!),
      });
      for (const f of hostFiles.filter((f) => !f.secret)) files[path.join("nixos", host.name, f.path)] = f.content;
    }
  } else {
    const config = (load(fs.readFileSync(path.join(root, `Pulumi.${stack}.yaml`), "utf8")) as { config: Record<string, { dataDir?: string }> }).config;
    const dataDir = path.resolve(root, config["cim-nats:topology"]?.dataDir ?? `.cim-dev/${stack}`);
    const t = withDataDir(model.topology, dataDir);
    for (const instance of [...t.leaves, ...t.hub.members]) {
      const tls = localTlsInput(instance, options, t);
      servers.push({ instance, text: renderServerConfig(t, instance.serverName, undefined, tls), tls });
    }
  }
  for (const s of servers) files[`${s.instance.serverName}.conf`] = s.text;
  return { servers, files };
}

export type CheckLine = { readonly serverName: string; readonly valid: boolean; readonly output: string };

/**
 * Each config with its TLS files and cluster include pointed at throwaway ones (a fresh CA and
 * certificates naming the server, a route authorization of the real shape with a dummy password),
 * checked by the pinned `nats-server -t`.
 */
export async function checkStack(topology: Topology, servers: readonly RenderedServer[]): Promise<CheckLine[]> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "cim-nats-render-check-"));
  try {
    const ca = await issueCa({ commonName: "cim-nats render check CA", days: 1 });
    const lines: CheckLine[] = [];
    for (const s of servers) {
      const dir = path.join(work, s.instance.serverName);
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      let text = s.text;
      if (s.tls.tls) {
        const cert = await issueServerCert({ caCertPem: ca.certPem, caKeyPem: ca.keyPem, names: serverCertNames(s.instance), days: 1 });
        const put = (from: string, name: string, content: string) => {
          fs.writeFileSync(path.join(dir, name), content, { mode: 0o600 });
          text = text.split(JSON.stringify(from)).join(JSON.stringify(path.join(dir, name)));
        };
        put(s.tls.tls.certFile, "cert.pem", cert.certPem);
        put(s.tls.tls.keyFile, "key.pem", cert.keyPem);
        put(s.tls.tls.caFile, "ca.pem", ca.certPem);
      }
      // The include resolves beside the config: write both into the server's folder.
      if (s.tls.clusterAuth) {
        fs.writeFileSync(path.join(dir, s.tls.clusterAuth.include), renderClusterAuth(topology, s.instance, ROUTE_USER, "render-check-dummy-password-000000"), { mode: 0o600 });
      }
      const conf = path.join(dir, "nats.conf");
      fs.writeFileSync(conf, text);
      const run = spawnSync(natsServerBinary(), ["-t", "-c", conf], { encoding: "utf8", timeout: 30_000 });
      lines.push({ serverName: s.instance.serverName, valid: run.status === 0, output: `${run.stdout ?? ""}${run.stderr ?? ""}`.trim() });
    }
    return lines;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

async function main(argv: readonly string[]): Promise<number> {
  const check = argv.includes("--check");
  const [stack, dir] = argv.filter((a) => a !== "--check");
  if (!stack || !dir) {
    console.error("usage: npm run render -- <stack> <dir> [--check]   (e.g. npm run render -- prod /tmp/prod-render --check)");
    return 2;
  }
  const model = readStackModel(stack);
  const rendered = renderStack(stack, model);
  for (const [rel, text] of Object.entries(rendered.files)) {
    const to = path.join(dir, rel);
    fs.mkdirSync(path.dirname(to), { recursive: true });
    fs.writeFileSync(to, text);
  }
  console.log(`${stack}: ${rendered.servers.length} server configs and ${Object.keys(rendered.files).length - rendered.servers.length} NixOS files in ${dir}`);
  if (!check) return 0;
  // Route URLs name addresses and ports only: the model's topology serves either substrate.
  const lines = await checkStack(model.topology, rendered.servers);
  for (const l of lines) console.log(`${l.serverName}: ${l.valid ? "valid" : "INVALID"}${l.valid ? "" : `: ${l.output}`}`);
  return lines.every((l) => l.valid) ? 0 : 1;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : String(err));
      process.exit(1);
    },
  );
}
