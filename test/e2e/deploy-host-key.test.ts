/**
 * SSH host-key pinning of the deploy, with the real Pulumi CLI and the real command provider
 * (pulumi-resource-command 1.2.1, whose `connection.hostKey` becomes ssh.FixedHostKey) and the
 * builds' closure copy (ssh with a known_hosts of that one key) against the sshd test host
 * (Debian's sshd on 127.0.145.x standing in for the four containers, the Nix stand-ins of
 * test/deploy/ssh-fixture.ts):
 * - every host pinned to a key the host does not have: `up` fails with the provider's host key
 *   mismatch and the copy's failed verification, and nothing was sent: sshd never accepted a
 *   login, no staging dir, no creds, no closure;
 * - pinned to the key the host has: the same deployment lands (creds 0600), hub members in turn.
 * The host-key check happens in the SSH key exchange, before authentication and before any
 * channel, which is why the secret creds cannot leave on a connection to the wrong host.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Topology } from "../../components/topology/types";
import { freePort } from "../../harness/free-port";
import { generateOpenSshKey } from "../proxmox/ssh-key";
import { SSHD, SshHost, startSshHost } from "../deploy/ssh-host";
import { copyLog, deployTools, sshDeployFiles, sshTestTopology, stopRecordedServers, storeDir, switchLog } from "../deploy/ssh-fixture";
import { missingProdPlugins } from "./prod-project";
import { PROJECT_ROOT, pulumiEnv, runPulumi, type PulumiContext } from "../../harness/pulumi-cli";

const PREFIX = "127.0.145";
const SKIP = !fs.existsSync(SSHD) ? `${SSHD} is missing (apt-get install openssh-server)` : missingProdPlugins();
if (SKIP) console.warn(`deploy-host-key: skipped: ${SKIP}`);

/** The program: the real NixosDeployment component over the spec the test writes. */
const PROGRAM = `
import * as pulumi from "@pulumi/pulumi";
import { readFileSync } from "node:fs";
import { NixosDeployment } from ${JSON.stringify(path.join(PROJECT_ROOT, "components", "deploy", "nixos-deployment"))};
const spec = JSON.parse(readFileSync(process.env.CIM_DEPLOY_SPEC!, "utf8"));
new NixosDeployment("ssh", {
  topology: spec.topology,
  hosts: spec.hosts.map((h: any) => ({ ...h, files: h.files.map((f: any) => ({ ...f, content: f.secret ? pulumi.secret(f.content) : f.content })) })),
  connection: spec.connection,
  options: spec.options,
});
`;

describe.skipIf(SKIP !== "")("the deploy pins each host's SSH key (real CLI and command provider, sshd on loopback)", () => {
  let dir: string;
  let root: string;
  let topology: Topology;
  let ssh: SshHost;
  let context: PulumiContext;

  const writeSpec = (hostKey: string) =>
    fs.writeFileSync(
      path.join(dir, "spec.json"),
      JSON.stringify({
        topology,
        hosts: sshDeployFiles(topology, root),
        connection: {
          port: ssh.port,
          privateKey: ssh.clientKey,
          dialErrorLimit: 2,
          perDialTimeout: 5,
          hostKeys: Object.fromEntries(topology.hosts.map((h) => [h.name, hostKey])),
        },
        options: { stagingDir: path.join(dir, "stage"), healthTimeoutSeconds: 60 },
      }),
      { mode: 0o600 },
    );
  const up = (allowFailure: boolean) => runPulumi(context, ["up", "--yes", "--skip-preview", "-s", "hostkey"], { allowFailure, timeoutMs: 300_000 });
  const landed = () => topology.hosts.map((h) => `${root}/${h.address}/var/lib/cim-nats/secrets/${h.name}-leaf.creds`).filter((p) => fs.existsSync(p));

  beforeAll(async () => {
    dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "cim-nixpin-hostkey-")));
    root = path.join(dir, "root");
    topology = await sshTestTopology(dir, PREFIX, "hostkey");
    const tools = deployTools(dir, root);
    ssh = await startSshHost(path.join(dir, "sshd"), [`${PREFIX}.1`, ...topology.hosts.map((h) => h.address)], await freePort(`${PREFIX}.1`), tools.hostBin);
    const project = path.join(dir, "project");
    fs.mkdirSync(project);
    fs.symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(project, "node_modules"));
    fs.writeFileSync(path.join(project, "Pulumi.yaml"), "name: cim-nats-deploy-hostkey\nruntime:\n  name: nodejs\n  options:\n    typescript: true\nmain: index.ts\n");
    fs.writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "cim-nats-deploy-hostkey", private: true }));
    fs.writeFileSync(path.join(project, "index.ts"), PROGRAM);
    fs.mkdirSync(path.join(dir, "state"));
    // The deploying machine's environment, which the provider's local commands (the builds) run with.
    const env = pulumiEnv(path.join(dir, "state"), { CIM_DEPLOY_SPEC: path.join(dir, "spec.json"), PULUMI_NODEJS_TRANSPILE_ONLY: "true", SSH_AUTH_SOCK: "", XDG_CACHE_HOME: path.join(dir, "cache") });
    context = { cwd: project, env: { ...env, PATH: `${tools.builderBin}:${env.PATH}` } };
    await runPulumi(context, ["stack", "init", "hostkey"]);
  }, 120_000);

  afterAll(async () => {
    if (root) stopRecordedServers(root);
    await ssh?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("a host presenting another key than the pinned one: up fails at the key exchange, nothing is sent", async () => {
    const other = generateOpenSshKey("not-this-host").publicKey.split(" ").slice(0, 2).join(" ");
    writeSpec(other);
    const run = await up(true);
    expect(run.code).not.toBe(0);
    expect(run.stdout + run.stderr).toContain("ssh: host key mismatch");
    // The closure copy refused the host too (its ssh pins the same key).
    expect(run.stdout + run.stderr).toContain("Host key verification failed");
    // Nothing reached the hosts: not the staging dir, not the creds, not a closure.
    expect(fs.existsSync(path.join(dir, "stage"))).toBe(false);
    expect(landed()).toEqual([]);
    expect(copyLog(dir)).toEqual([]);
    expect(fs.readdirSync(storeDir(dir))).toEqual([]);
    expect(switchLog(dir)).toEqual([]);
    // sshd saw connections but never a login: the client stopped before authenticating.
    expect(ssh.log()).not.toContain("Accepted publickey");
  }, 300_000);

  it("pinned to the key the hosts have: the same deployment lands (creds 0600) and every host rebuilds", async () => {
    writeSpec(ssh.hostPublicKey.split(" ").slice(0, 2).join(" "));
    const run = await up(false);
    expect(run.code).toBe(0);
    expect(ssh.log()).toContain("Accepted publickey");
    expect(landed()).toHaveLength(topology.hosts.length);
    expect(copyLog(dir).map((l) => l.subject).sort()).toEqual(topology.hosts.map((h) => h.address).sort());
    for (const h of topology.hosts) {
      const creds = `${root}/${h.address}/var/lib/cim-nats/secrets/${h.name}-leaf.creds`;
      expect((fs.statSync(creds).mode & 0o777).toString(8)).toBe("600");
    }
    expect(switchLog(dir).filter((l) => l.event === "start").map((l) => l.subject).sort()).toEqual(topology.hosts.map((h) => h.address).sort());
  }, 300_000);
});
