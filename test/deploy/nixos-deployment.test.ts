/**
 * The prod deployment under Pulumi's mocks: the exact inputs of every command, which resources
 * wait for which (container → stage → copies → switch, hub members chained), a switch whose
 * script changes for exactly the host whose files changed, and secrets that stay secret. What a
 * change plans (update or replace) is read off the SDK's own registration (engine-plan.ts), so a
 * `triggers`-style replacement cannot hide behind the test.
 */
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { NixosDeployment } from "../../components/deploy/nixos-deployment";
import { deployConnection } from "../../components/proxmox/deploy-connection";
import { ProxmoxInventory } from "../../components/proxmox/inventory";
import { ConfigError } from "../../components/topology/types";
import { prodFixture } from "../proxmox/fixtures";
import { installMocks, MockRecorder, registered, secretInput, valueOf } from "../proxmox/mocks";
import { commandRun, plannedOperation } from "./engine-plan";
import { credsPath, HOST_PATH, MODULE_PATH, prodFiles } from "./prod-files";

const HOSTS = ["nats-1", "nats-2", "nats-3", "cimstor"] as const;
const ADDRESS = { "nats-1": "10.0.0.41", "nats-2": "10.0.0.42", "nats-3": "10.0.0.43", cimstor: "172.16.0.2" } as const;
const STAGE = "/var/lib/cim-nats/.deploy";

describe("NixosDeployment of the prod stack (mocked)", () => {
  let mocks: MockRecorder;
  let base: NixosDeployment;
  let changed: NixosDeployment;
  const fixture = prodFixture();
  const connection = (host: keyof typeof ADDRESS) =>
    secretInput({ host: ADDRESS[host], user: "root", port: 22, privateKey: fixture.key.privateKey, dialErrorLimit: 20, perDialTimeout: 15 });

  beforeAll(async () => {
    mocks = await installMocks("prod");
    const inventory = new ProxmoxInventory("prod", { topology: fixture.topology, spec: fixture.spec });
    const dependsOn = Object.fromEntries(Object.entries(inventory.containers).map(([h, c]) => [h, c.container]));
    const args = { topology: fixture.topology, connection: deployConnection(fixture.spec), dependsOn };
    base = new NixosDeployment("deploy", { ...args, hosts: prodFiles(fixture.topology) });
    // Same stack, one host's rendered host file changed.
    changed = new NixosDeployment("changed", { ...args, hosts: prodFiles(fixture.topology, { "nats-2": "# rebuilt\n" }) });
    await registered([...Object.values(base.switches), ...Object.values(changed.switches)]);
  });

  const deployOf = (prefix: string) => mocks.registered.filter((r) => r.name.startsWith(`${prefix}-`) && r.type.startsWith("command:"));

  it("declares stage, one copy per file and a switch per host, named after host and file", () => {
    // Registration order is asynchronous: compare as sets.
    expect(deployOf("deploy").map((r) => `${r.type.split(":").pop()} ${r.name}`).sort()).toEqual(
      HOSTS.flatMap((h) => [
        `Command deploy-${h}-stage`,
        `CopyToRemote deploy-${h}-copy-etc-nixos-cim-nats-host.nix`,
        `CopyToRemote deploy-${h}-copy-etc-nixos-cim-nats-modules-cim-nats.nix`,
        `CopyToRemote deploy-${h}-copy-var-lib-cim-nats-secrets-${h}-leaf.creds`,
        `Command deploy-${h}-switch`,
      ]).sort(),
    );
  });

  it.each(HOSTS)("%s: the stage command makes the private staging dir, after the container exists", (host) => {
    const stage = mocks.byName(`deploy-${host}-stage`);
    expect(stage.inputs).toEqual({ connection: connection(host), create: `install -d -m 0700 ${STAGE}`, addPreviousOutputInEnv: false });
    expect(stage.dependencies).toEqual([mocks.urnOf(`${host}-container`)]);
  });

  it.each(HOSTS)("%s: each file is copied into the staging dir; the creds copy is secret", async (host) => {
    const copies = mocks.registered.filter((r) => r.name.startsWith(`deploy-${host}-copy-`));
    const seen = await Promise.all(
      copies.map(async (c) => {
        const secret = c.inputs.source.value !== undefined;
        const asset = secret ? c.inputs.source.value : c.inputs.source;
        return { remotePath: c.inputs.remotePath, secret, text: await asset.text, connection: c.inputs.connection, deps: c.dependencies };
      }),
    );
    const deps = [mocks.urnOf(`deploy-${host}-stage`)];
    expect(seen).toEqual([
      { remotePath: `${STAGE}/etc-nixos-cim-nats-host.nix`, secret: false, text: `# ${host}\n{ ... }: { imports = [ ./modules/cim-nats.nix ]; }\n`, connection: connection(host), deps },
      { remotePath: `${STAGE}/etc-nixos-cim-nats-modules-cim-nats.nix`, secret: false, text: "{ config, lib, pkgs, ... }: { }\n", connection: connection(host), deps },
      {
        remotePath: `${STAGE}/var-lib-cim-nats-secrets-${host}-leaf.creds`,
        secret: true,
        text: `-----BEGIN NATS USER JWT-----\neyJ0eXAi.${host}\n------END NATS USER JWT------\n`,
        connection: connection(host),
        deps,
      },
    ]);
  });

  it("nats-1's switch: exact inputs; no triggers, so nothing forces a replacement", async () => {
    const sw = mocks.byName("deploy-nats-1-switch");
    expect(sw.inputs).toEqual({
      connection: connection("nats-1"),
      create: "bash -s -- create",
      update: "bash -s -- update",
      stdin: expect.any(String),
      addPreviousOutputInEnv: false,
    });
    // What @pulumi/command adds on its own; none of the switch's inputs falls under it.
    expect(sw.options.replaceOnChanges).toEqual(["triggers[*]"]);
    expect(await valueOf(base.contentHashes["nats-1"])).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it("nats-1's script installs each staged file with its mode, switches, then waits for both servers", () => {
    const lines: string[] = mocks.byName("deploy-nats-1-switch").inputs.stdin.split("\n");
    const body = lines.slice(lines.indexOf("deploy() {") + 1, lines.indexOf("}", lines.indexOf("deploy() {")));
    expect(body).toEqual([
      "  set -euo pipefail",
      "  install -d -m 0700 /var/lib/cim-nats/secrets",
      `  install -D -m 0644 ${STAGE}/etc-nixos-cim-nats-host.nix ${HOST_PATH}`,
      `  install -D -m 0644 ${STAGE}/etc-nixos-cim-nats-modules-cim-nats.nix ${MODULE_PATH}`,
      `  install -D -m 0600 ${STAGE}/var-lib-cim-nats-secrets-nats-1-leaf.creds ${credsPath("nats-1")}`,
      "  nixos-rebuild switch",
      // The script runs on the host, where loopback monitoring answers.
      "  wait_healthy nats-1 127.0.0.1 8222",
      "  wait_healthy nats-1-hub 127.0.0.1 8223",
      // Both run the pinned nats-server (/varz), or the switch fails.
      "  check_version nats-1 127.0.0.1 8222",
      "  check_version nats-1-hub 127.0.0.1 8223",
      '  echo "cim-nats: nats-1 deployed"',
    ]);
  });

  it.each(HOSTS)("%s: the script names its content hash and each file's hash", async (host) => {
    const stdin: string = mocks.byName(`deploy-${host}-switch`).inputs.stdin;
    expect(stdin).toContain(`\n# content ${await valueOf(base.contentHashes[host])}\n`);
    for (const path of [HOST_PATH, MODULE_PATH, credsPath(host)]) expect(stdin).toMatch(new RegExp(`\n#   sha256:[0-9a-f]{16} ${path}\n`));
  });

  it.each(HOSTS)("%s: the switch waits for each server on the host, and nothing secret is in it", (host) => {
    const sw = mocks.byName(`deploy-${host}-switch`);
    const waits = sw.inputs.stdin.split("\n").filter((l: string) => l.startsWith("  wait_healthy "));
    const expected = host === "cimstor" ? ["  wait_healthy cimstor 127.0.0.1 8222"] : [`  wait_healthy ${host} 127.0.0.1 8222`, `  wait_healthy ${host}-hub 127.0.0.1 8223`];
    expect(waits).toEqual(expected);
    expect(sw.inputs.stdin).not.toContain("NATS USER JWT");
    // The script is plain (not secret), so the preview shows which file changed.
    expect(typeof sw.inputs.stdin).toBe("string");
  });

  it("hub members switch one at a time; the storage leaf does not wait", () => {
    const switchDeps = (host: string) =>
      mocks.byName(`deploy-${host}-switch`).dependencies.filter((u: string) => u.includes("::deploy-") && u.endsWith("-switch"));
    expect(switchDeps("nats-1")).toEqual([]);
    expect(switchDeps("nats-2")).toEqual([mocks.urnOf("deploy-nats-1-switch")]);
    expect(switchDeps("nats-3")).toEqual([mocks.urnOf("deploy-nats-2-switch")]);
    expect(switchDeps("cimstor")).toEqual([]);
  });

  it.each(HOSTS)("%s: the switch runs after all of its host's copies", (host) => {
    const copies = mocks.registered.filter((r) => r.name.startsWith(`deploy-${host}-copy-`)).map((r) => mocks.urnOf(r.name));
    const deps = mocks.byName(`deploy-${host}-switch`).dependencies;
    expect(copies).toHaveLength(3);
    for (const c of copies) expect(deps).toContain(c);
  });

  it("a change to nats-2's host file plans an update of nats-2's copy and switch only, which runs the switch's update path", async () => {
    const plans = await Promise.all(
      deployOf("deploy").map(async (r) => {
        const after = mocks.byName(r.name.replace(/^deploy-/, "changed-"));
        const op = await plannedOperation(r, after);
        return [after.name, op, commandRun(op, after.inputs)] as const;
      }),
    );
    expect(plans.filter(([, op]) => op !== "same").sort()).toEqual([
      ["changed-nats-2-copy-etc-nixos-cim-nats-host.nix", "update", undefined],
      ["changed-nats-2-switch", "update", "bash -s -- update"],
    ]);
  });

  it("the changed script says which file changed", async () => {
    const fileLines = (name: string) => mocks.byName(name).inputs.stdin.split("\n").filter((l: string) => l.startsWith("#   "));
    const before = fileLines("deploy-nats-2-switch");
    const after = fileLines("changed-nats-2-switch");
    expect(after.filter((l: string) => !before.includes(l))).toEqual([expect.stringMatching(new RegExp(`^#   sha256:[0-9a-f]{16} ${HOST_PATH}$`))]);
    expect(await valueOf(changed.contentHashes["nats-2"])).not.toBe(await valueOf(base.contentHashes["nats-2"]));
  });

  it("exposes each host's content hash as a plain output", async () => {
    for (const h of HOSTS) {
      expect(await pulumi.isSecret(base.contentHashes[h])).toBe(false);
      expect(mocks.byName(`deploy-${h}-switch`).inputs.stdin).toContain(`# content ${await valueOf(base.contentHashes[h])}\n`);
    }
  });
});

describe("NixosDeployment bad input (mocked)", () => {
  const fixture = prodFixture();
  let mocks: MockRecorder;
  beforeAll(async () => {
    mocks = await installMocks("prod");
  });

  it.each([
    ["a host without files", (files: ReturnType<typeof prodFiles>) => files.filter((f) => f.host !== "cimstor"), "deploy.hosts", /host 'cimstor' has no rendered files/],
    ["files for an unknown host", (files: ReturnType<typeof prodFiles>) => [...files, { host: "nats-9", files: files[0].files }], "deploy.hosts[4].host", /unknown host 'nats-9'/],
    ["a host twice", (files: ReturnType<typeof prodFiles>) => [...files, files[0]], "deploy.hosts[4].host", /host 'nats-1' has two file sets/],
    [
      "a world-readable secret",
      (files: ReturnType<typeof prodFiles>) => files.map((f) => (f.host === "nats-2" ? { ...f, files: f.files.map((x) => (x.secret ? { ...x, mode: "0644" } : x)) } : f)),
      "deploy.nats-2.files[2].mode",
      /secret file '\/var\/lib\/cim-nats\/secrets\/nats-2-leaf.creds' has mode 0644/,
    ],
  ])("%s: ConfigError before any resource", async (_name, change, propertyPath, reason) => {
    let error: unknown;
    try {
      new NixosDeployment(`bad-${propertyPath}`, { topology: fixture.topology, hosts: change(prodFiles(fixture.topology)), connection: {} });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues).toContainEqual({ propertyPath, reason: expect.stringMatching(reason) });
    await new Promise((r) => setTimeout(r, 50));
    expect(mocks.registered.filter((r) => r.type.startsWith("command:") && r.name.startsWith("bad-"))).toEqual([]);
  });
});
