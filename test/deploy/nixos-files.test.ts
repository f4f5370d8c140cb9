/**
 * The files a prod host's system is built from, in particular access.nix: the deploy's SSH keys delivered as
 * NixOS config (so a key rotation is a file change, never a container replacement), read by
 * sshd exclusively (so removing a key revokes it).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { accessModule, ENTRY_POINT, nixosHostFiles } from "../../components/deploy/nixos-files";
import { DEFAULT_NIXOS_SYSTEM } from "../../components/deploy/nixos-system";
import { nixEvalJson, nixInstantiate } from "../nix/nix-instantiate";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFU/fLj2yKro1J6pmiZLSe1n3TeI4dbZ0M1O7Rkp27a4";
const OPS = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOps ops "laptop" ${x}';
const work = fs.mkdtempSync(path.join(os.tmpdir(), "cim-nats-access-"));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe("access.nix", () => {
  const text = accessModule({ user: "root", port: 22, authorizedKeys: [KEY, OPS] });

  it("lists exactly the stack's keys for the deploy user, and sshd reads only those", () => {
    const file = path.join(work, "access.nix");
    fs.writeFileSync(file, text);
    expect(nixInstantiate(["--parse", file]).ok).toBe(true);
    // Evaluated with a two-function stand-in for lib: the module's own values, quoting included.
    const evaluated = nixEvalJson(`(import ${file} { lib = { mkForce = v: { _force = v; }; }; })`) as any;
    expect(evaluated).toEqual({
      // Always running, not per connection (proxmox-lxc.nix's default).
      services: { openssh: { enable: true, ports: [22], startWhenNeeded: false, authorizedKeysFiles: { _force: ["/etc/ssh/authorized_keys.d/%u"] } } },
      users: { users: { root: { openssh: { authorizedKeys: { keys: [KEY, OPS] } } } } },
    });
  });

  it("refuses an empty key list (the deploy would lock itself out)", () => {
    expect(() => accessModule({ user: "root", port: 22, authorizedKeys: [] })).toThrow(/no authorized keys/);
  });

  it("is imported by configuration.nix and deployed beside the host file", () => {
    expect(ENTRY_POINT).toContain("    ./cim-nats/access.nix\n");
    const files = nixosHostFiles({
      moduleText: "{ ... }: { }\n",
      natsServerText: "{ lib, pkgs }: { }\n",
      system: DEFAULT_NIXOS_SYSTEM,
      hostText: "{ ... }: { }\n",
      credentials: {},
      access: { user: "root", port: 2222, authorizedKeys: [KEY] },
    });
    const access = files.find((f) => f.path === "/etc/nixos/cim-nats/access.nix")!;
    expect(access).toEqual({ path: "/etc/nixos/cim-nats/access.nix", content: expect.stringContaining("services.openssh.ports = [ 2222 ];"), mode: "0644", secret: false });
  });

  it("the pinned nats-server, the nixpkgs pin and Nix's settings go beside the module; configuration.nix imports system.nix", () => {
    expect(ENTRY_POINT).toContain("    ./cim-nats/system.nix\n");
    const files = nixosHostFiles({ moduleText: "m", natsServerText: "n", system: DEFAULT_NIXOS_SYSTEM, hostText: "h", credentials: {}, access: { user: "root", port: 22, authorizedKeys: [KEY] } });
    expect(files.map((f) => f.path)).toEqual([
      "/etc/nixos/configuration.nix",
      "/etc/nixos/cim-nats/modules/cim-nats.nix",
      "/etc/nixos/cim-nats/modules/nats-server.nix",
      "/etc/nixos/cim-nats/nixpkgs.nix",
      "/etc/nixos/cim-nats/system.nix",
      "/etc/nixos/cim-nats/host.nix",
      "/etc/nixos/cim-nats/access.nix",
    ]);
    const pin = files.find((f) => f.path === "/etc/nixos/cim-nats/nixpkgs.nix")!;
    const file = path.join(work, "nixpkgs.nix");
    fs.writeFileSync(file, pin.content);
    // Parsed, not evaluated: evaluating would download nixpkgs. The pin is exactly the default's.
    expect(nixInstantiate(["--parse", file]).ok).toBe(true);
    expect(pin.content).toContain(`url = "${DEFAULT_NIXOS_SYSTEM.nixpkgs.url}";`);
    expect(pin.content).toContain(`sha256 = "${DEFAULT_NIXOS_SYSTEM.nixpkgs.sha256}";`);
  });
});
