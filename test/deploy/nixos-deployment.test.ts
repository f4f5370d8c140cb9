/**
 * The prod deployment under Pulumi's mocks: the exact inputs of every command, which resources
 * wait for which (container → build; container → stage → secret copies; build + copies → switch;
 * hub members chained), scripts that change for exactly the host whose files changed, and
 * secrets that stay secret. What a change plans (update or replace) is read off the SDK's own
 * registration (engine-plan.ts), so a `triggers`-style replacement cannot hide behind the test.
 */
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { contentSha256, embeddedFiles } from "../../components/deploy/build-script";
import { NixosDeployment } from "../../components/deploy/nixos-deployment";
import { deployConnection } from "../../components/proxmox/deploy-connection";
import { ProxmoxInventory } from "../../components/proxmox/inventory";
import { ConfigError } from "../../components/topology/types";
import { prodFixture } from "../proxmox/fixtures";
import { installMocks, MockRecorder, mockSystemPath, registered, secretInput, valueOf } from "../proxmox/mocks";
import { commandRun, plannedOperation } from "./engine-plan";
import { credsOf, credsPath, ENTRY_PATH, HOST_PATH, MODULE_PATH, prodFiles } from "./prod-files";

const HOSTS = ["nats-1", "nats-2", "nats-3", "cimstor"] as const;
const ADDRESS = { "nats-1": "10.0.0.41", "nats-2": "10.0.0.42", "nats-3": "10.0.0.43", cimstor: "172.16.0.2" } as const;
const STAGE = "/var/lib/cim-nats/.deploy";

describe("NixosDeployment of the prod stack (mocked)", () => {
  let mocks: MockRecorder;
  let base: NixosDeployment;
  const fixture = prodFixture();
  const connection = (host: keyof typeof ADDRESS) =>
    secretInput({ host: ADDRESS[host], user: "root", port: 22, privateKey: fixture.key.privateKey, dialErrorLimit: 20, perDialTimeout: 15 });

  beforeAll(async () => {
    mocks = await installMocks("prod");
    const inventory = new ProxmoxInventory("prod", { topology: fixture.topology, spec: fixture.spec });
    const dependsOn = Object.fromEntries(Object.entries(inventory.containers).map(([h, c]) => [h, c.container]));
    const args = { topology: fixture.topology, connection: deployConnection(fixture.spec), dependsOn };
    base = new NixosDeployment("deploy", { ...args, hosts: prodFiles(fixture.topology) });
    // Same stack, one host's rendered host file changed; and one leaf's creds rotated.
    const changed = new NixosDeployment("changed", { ...args, hosts: prodFiles(fixture.topology, { "nats-2": "# rebuilt\n" }) });
    const rotated = new NixosDeployment("rotated", { ...args, hosts: prodFiles(fixture.topology, {}, { "nats-2": ".v2" }) });
    await registered([...Object.values(base.switches), ...Object.values(changed.switches), ...Object.values(rotated.switches)]);
  });

  const deployOf = (prefix: string) => mocks.registered.filter((r) => r.name.startsWith(`${prefix}-`) && r.type.startsWith("command:"));
  /** What the host's build printed under the mocks: a store path that follows its script. */
  const system = (host: string) => mockSystemPath(mocks.byName(`deploy-${host}-build`));

  it("declares a build, a stage, one copy per secret and a switch per host, named after host and file", () => {
    // Registration order is asynchronous: compare as sets.
    expect(deployOf("deploy").map((r) => `${r.type.split(":").slice(1).join(":")} ${r.name}`).sort()).toEqual(
      HOSTS.flatMap((h) => [
        `local:Command deploy-${h}-build`,
        `remote:Command deploy-${h}-stage`,
        `remote:CopyToRemote deploy-${h}-copy-var-lib-cim-nats-secrets-${h}-leaf.creds`,
        `remote:Command deploy-${h}-switch`,
      ]).sort(),
    );
  });

  it.each(HOSTS)("%s: the build runs here once the container exists: exact inputs, the stack's key only as a secret environment value", (host) => {
    const build = mocks.byName(`deploy-${host}-build`);
    expect(build.inputs).toEqual({
      create: "bash -s",
      update: "bash -s",
      stdin: expect.any(String),
      // The stack's key only as a secret (no agent here); the container's host key the copy pins.
      environment: secretInput({ CIM_NATS_DEPLOY_KEY: fixture.key.privateKey }),
      addPreviousOutputInEnv: false,
    });
    expect(build.dependencies).toEqual([mocks.urnOf(`${host}-container`)]);
    // No triggers: nothing forces a replacement.
    expect(build.options.replaceOnChanges).toEqual(["triggers[*]"]);
  });

  it.each(HOSTS)("%s: the build script carries the public files and the secrets' hashes, never a secret; it copies the closure to the host", (host) => {
    const stdin: string = mocks.byName(`deploy-${host}-build`).inputs.stdin;
    const files = embeddedFiles(stdin);
    expect(Object.keys(files).sort()).toEqual([ENTRY_PATH, "/etc/nixos/cim-nats/secret-hashes.nix", HOST_PATH, MODULE_PATH].sort());
    expect(files[HOST_PATH]).toBe(`# ${host}\n{ ... }: { imports = [ ./modules/cim-nats.nix ]; }\n`);
    expect(files["/etc/nixos/cim-nats/secret-hashes.nix"]).toContain(`"${credsPath(host)}" = "${contentSha256(credsOf(host))}";`);
    expect(stdin).not.toContain("NATS USER JWT");
    expect(stdin).toContain(`nix-copy-closure --to root@${ADDRESS[host]} "$system"`);
    expect(stdin).toContain(`--out-link "$roots"/prod-${host}`);
  });

  it.each(HOSTS)("%s: the stage command makes the private staging dir, after the container exists", (host) => {
    const stage = mocks.byName(`deploy-${host}-stage`);
    expect(stage.inputs).toEqual({ connection: connection(host), create: `install -d -m 0700 ${STAGE}`, addPreviousOutputInEnv: false });
    expect(stage.dependencies).toEqual([mocks.urnOf(`${host}-container`)]);
  });

  it.each(HOSTS)("%s: only the secret is copied to the host, as a secret asset, into the staging dir", async (host) => {
    const copies = mocks.registered.filter((r) => r.name.startsWith(`deploy-${host}-copy-`));
    const seen = await Promise.all(
      copies.map(async (c) => ({ remotePath: c.inputs.remotePath, secret: c.inputs.source.value !== undefined, text: await c.inputs.source.value.text, connection: c.inputs.connection, deps: c.dependencies })),
    );
    expect(seen).toEqual([
      { remotePath: `${STAGE}/var-lib-cim-nats-secrets-${host}-leaf.creds`, secret: true, text: credsOf(host), connection: connection(host), deps: [mocks.urnOf(`deploy-${host}-stage`)] },
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
    expect(sw.options.replaceOnChanges).toEqual(["triggers[*]"]);
    expect(await valueOf(base.contentHashes["nats-1"])).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it("nats-1's switch activates the system its build printed, installs the staged secret, waits for both servers' units and /healthz", () => {
    const stdin: string = mocks.byName("deploy-nats-1-switch").inputs.stdin;
    const lines = stdin.split("\n");
    expect(lines.slice(0, 3)).toEqual([
      "# cim-nats: activate host nats-1's NixOS system (built and copied by its build step); roll back unless healthy within 300s.",
      `# system ${system("nats-1")}`,
      `# secret sha256:${contentSha256(credsOf("nats-1")).slice(0, 16)} ${credsPath("nats-1")}`,
    ]);
    expect(lines).toContain(`SYSTEM=${system("nats-1")}`);
    expect(lines).toContain("PROFILE=/nix/var/nix/profiles/system");
    expect(lines).toContain(`    install -D -m 0600 ${STAGE}/var-lib-cim-nats-secrets-nats-1-leaf.creds ${credsPath("nats-1")} || return 1`);
    expect(lines).toContain(`    rm -f ${STAGE}/var-lib-cim-nats-secrets-nats-1-leaf.creds`);
    const healthy = lines.slice(lines.indexOf("healthy() { # every server of the host") + 1, lines.indexOf("activate() { # system: the profile's new generation, then switch to it") - 1);
    // The script runs on the host, where loopback monitoring answers.
    expect(healthy).toEqual([
      "  wait_healthy nats-1 cim-nats-leaf 127.0.0.1 8222 || return 1",
      "  wait_healthy nats-1-hub cim-nats-hub 127.0.0.1 8223 || return 1",
      // Both run the pinned nats-server (/varz), or the generation counts as unhealthy.
      "  check_version nats-1 127.0.0.1 8222 || return 1",
      "  check_version nats-1-hub 127.0.0.1 8223 || return 1",
      "  true",
    ]);
    expect(stdin).not.toContain("NATS USER JWT");
    // The script is plain (not secret), so the preview shows what changed.
    expect(typeof stdin).toBe("string");
  });

  it("hub members switch one at a time; the storage leaf does not wait; each switch waits for its build and its copies", () => {
    const switchDeps = (host: string) => mocks.byName(`deploy-${host}-switch`).dependencies.filter((u: string) => u.includes("::deploy-") && u.endsWith("-switch"));
    expect(switchDeps("nats-1")).toEqual([]);
    expect(switchDeps("nats-2")).toEqual([mocks.urnOf("deploy-nats-1-switch")]);
    expect(switchDeps("nats-3")).toEqual([mocks.urnOf("deploy-nats-2-switch")]);
    expect(switchDeps("cimstor")).toEqual([]);
    for (const host of HOSTS) {
      const deps = mocks.byName(`deploy-${host}-switch`).dependencies;
      expect(deps).toContain(mocks.urnOf(`deploy-${host}-build`));
      expect(deps).toContain(mocks.urnOf(`deploy-${host}-copy-var-lib-cim-nats-secrets-${host}-leaf.creds`));
    }
  });

  const planned = async (prefix: string) =>
    (
      await Promise.all(
        deployOf("deploy").map(async (r) => {
          const after = mocks.byName(r.name.replace(/^deploy-/, `${prefix}-`));
          const op = await plannedOperation(r, after);
          return [after.name, op, commandRun(op, after.inputs)] as const;
        }),
      )
    ).filter(([, op]) => op !== "same");

  it("a change to nats-2's host file plans updates of nats-2's build and of its switch (a new system to activate), nothing else", async () => {
    expect((await planned("changed")).sort()).toEqual([
      ["changed-nats-2-build", "update", "bash -s"],
      ["changed-nats-2-switch", "update", "bash -s -- update"],
    ]);
    const before = embeddedFiles(mocks.byName("deploy-nats-2-build").inputs.stdin);
    const after = embeddedFiles(mocks.byName("changed-nats-2-build").inputs.stdin);
    expect(Object.keys(after).filter((p) => after[p] !== before[p])).toEqual([HOST_PATH]);
  });

  it("a rotated creds file plans updates of its copy, the build (its hash) and the switch, which runs update", async () => {
    expect((await planned("rotated")).sort()).toEqual([
      ["rotated-nats-2-build", "update", "bash -s"],
      ["rotated-nats-2-copy-var-lib-cim-nats-secrets-nats-2-leaf.creds", "update", undefined],
      ["rotated-nats-2-switch", "update", "bash -s -- update"],
    ]);
    const secretLine = (name: string) => mocks.byName(name).inputs.stdin.split("\n").find((l: string) => l.startsWith("# secret "));
    expect(secretLine("rotated-nats-2-switch")).toBe(`# secret sha256:${contentSha256(credsOf("nats-2", ".v2")).slice(0, 16)} ${credsPath("nats-2")}`);
    expect(secretLine("rotated-nats-2-switch")).not.toBe(secretLine("deploy-nats-2-switch"));
  });

  it("exposes each host's content hash as a plain output", async () => {
    for (const h of HOSTS) {
      expect(await pulumi.isSecret(base.contentHashes[h])).toBe(false);
      expect(await valueOf(base.contentHashes[h])).toMatch(/^sha256:[0-9a-f]{64}$/);
    }
  });
});

describe("NixosDeployment through an SSH agent (mocked)", () => {
  it("with no key, no key is anywhere in its inputs: the agent (SSH_AUTH_SOCK) authenticates every step", async () => {
    const mocks = await installMocks("prod");
    const fixture = prodFixture();
    const deployment = new NixosDeployment("agent", { topology: fixture.topology, hosts: prodFiles(fixture.topology), connection: { user: "root", port: 22 } });
    await registered(Object.values(deployment.switches));
    const mine = mocks.registered.filter((r) => r.name.startsWith("agent-"));
    expect(mine.length).toBe(16);
    expect(JSON.stringify(mine.map((r) => r.inputs))).not.toContain("PRIVATE KEY");
    expect(mocks.byName("agent-nats-1-build").inputs.environment).toBeUndefined();
    // (@pulumi/command makes every connection secret, key or not.)
    expect(mocks.byName("agent-nats-1-switch").inputs.connection).toEqual(secretInput({ host: "10.0.0.41", user: "root", port: 22, dialErrorLimit: 20, perDialTimeout: 15 }));
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
      "deploy.nats-2.files[3].mode",
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

  it("a host without the entry point its system is built from: an error naming it, before any resource", async () => {
    const files = prodFiles(fixture.topology).map((f) => (f.host === "nats-3" ? { ...f, files: f.files.filter((x) => x.path !== ENTRY_PATH) } : f));
    expect(() => new NixosDeployment("noentry", { topology: fixture.topology, hosts: files, connection: {} })).toThrow(
      "host 'nats-3': /etc/nixos/configuration.nix is not among its files, so its system cannot be built",
    );
    await new Promise((r) => setTimeout(r, 50));
    expect(mocks.registered.filter((r) => r.name.startsWith("noentry-"))).toEqual([]);
  });
});
