import { describe, expect, it } from "vitest";
import { contentTrigger, RenderedFile, stagedFiles, stagingName } from "../../components/deploy/files";
import { rebuildOrder } from "../../components/deploy/rebuild-order";
import { ConfigError } from "../../components/topology/types";
import { prodFixture } from "../proxmox/fixtures";

const MODULE: RenderedFile = { path: "/etc/nixos/cim-nats/modules/cim-nats.nix", content: "{ ... }: { }\n", mode: "0644", secret: false };
const HOST: RenderedFile = { path: "/etc/nixos/cim-nats/host.nix", content: "# nats-1\n", mode: "0644", secret: false };
const CREDS: RenderedFile = { path: "/var/lib/cim-nats/secrets/nats-1-leaf.creds", content: "-----BEGIN NATS USER JWT-----\n", mode: "0600", secret: true };

describe("stagedFiles", () => {
  it("sorts by path and names each file after its path", () => {
    expect(stagedFiles("nats-1", [CREDS, HOST, MODULE])).toEqual([
      { path: "/etc/nixos/cim-nats/host.nix", mode: "0644", secret: false, stagingName: "etc-nixos-cim-nats-host.nix" },
      { path: "/etc/nixos/cim-nats/modules/cim-nats.nix", mode: "0644", secret: false, stagingName: "etc-nixos-cim-nats-modules-cim-nats.nix" },
      { path: "/var/lib/cim-nats/secrets/nats-1-leaf.creds", mode: "0600", secret: true, stagingName: "var-lib-cim-nats-secrets-nats-1-leaf.creds" },
    ]);
    expect(stagingName("/etc/a b/c'd")).toBe("etc-a_b-c_d");
  });

  it.each([
    ["relative path", { ...HOST, path: "etc/nixos/x.nix" }, "deploy.nats-1.files[0].path", /is not an absolute file path/],
    ["'..' in the path", { ...HOST, path: "/etc/nixos/../shadow" }, "deploy.nats-1.files[0].path", /without '.' or '..' segments/],
    ["a directory", { ...HOST, path: "/etc/nixos/" }, "deploy.nats-1.files[0].path", /is not an absolute file path/],
    ["mode not octal", { ...HOST, mode: "rw-r--r--" }, "deploy.nats-1.files[0].mode", /'rw-r--r--' is not an octal file mode/],
    ["secret readable by others", { ...CREDS, mode: "0644" }, "deploy.nats-1.files[0].mode", /secret file '.*' has mode 0644, readable beyond its owner: use "0600"/],
    ["secret readable by the group", { ...CREDS, mode: "640" }, "deploy.nats-1.files[0].mode", /has mode 0640/],
    ["secret in the Nix store", { ...CREDS, path: "/nix/store/abc-leaf.creds" }, "deploy.nats-1.files[0].path", /world-readable Nix store/],
  ])("%s", (_name, file, propertyPath, reason) => {
    try {
      stagedFiles("nats-1", [file as RenderedFile]);
      throw new Error("expected a ConfigError");
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).issues).toContainEqual({ propertyPath, reason: expect.stringMatching(reason) });
    }
  });

  it("rejects duplicates, staging-name clashes and an empty file set, all at once", () => {
    try {
      stagedFiles("nats-1", [HOST, HOST, { ...HOST, path: "/etc-nixos/cim-nats/host.nix" }]);
      throw new Error("expected a ConfigError");
    } catch (e) {
      expect((e as ConfigError).issues.map((i) => i.propertyPath)).toEqual(["deploy.nats-1.files[1].path", "deploy.nats-1.files[2].path"]);
    }
    expect(() => stagedFiles("nats-1", [])).toThrow(/host 'nats-1' has no files to deploy/);
  });
});

describe("contentTrigger", () => {
  const base = contentTrigger([MODULE, HOST, CREDS]);

  it("hashes every file; order of the input does not matter", () => {
    expect(base.contentHash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(Object.keys(base.fileHashes)).toEqual([HOST.path, MODULE.path, CREDS.path]);
    expect(contentTrigger([CREDS, HOST, MODULE])).toEqual(base);
  });

  it.each([
    ["content", { ...HOST, content: "# nats-1 changed\n" }],
    ["mode", { ...HOST, mode: "0640" }],
  ])("a changed %s changes the host hash and only that file's hash", (_what, changed) => {
    const after = contentTrigger([MODULE, changed, CREDS]);
    expect(after.contentHash).not.toBe(base.contentHash);
    expect(after.fileHashes[HOST.path]).not.toBe(base.fileHashes[HOST.path]);
    expect(after.fileHashes[MODULE.path]).toBe(base.fileHashes[MODULE.path]);
    expect(after.fileHashes[CREDS.path]).toBe(base.fileHashes[CREDS.path]);
  });

  it("a renamed file changes the hash even with the same content", () => {
    expect(contentTrigger([MODULE, { ...HOST, path: "/etc/nixos/cim-nats/host2.nix" }, CREDS]).contentHash).not.toBe(base.contentHash);
  });

  it("never contains the content of a secret", () => {
    expect(JSON.stringify(base)).not.toContain("NATS USER JWT");
  });
});

describe("rebuildOrder", () => {
  it("chains the prod hub members one at a time; the storage leaf waits for nobody", () => {
    expect(rebuildOrder(prodFixture().topology)).toEqual([
      { host: "nats-1" },
      { host: "nats-2", after: "nats-1" },
      { host: "nats-3", after: "nats-2" },
      { host: "cimstor" },
    ]);
  });
});
