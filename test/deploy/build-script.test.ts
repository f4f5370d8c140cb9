/**
 * The build script run for real by bash on this machine (the deploying machine): it writes the
 * host's public files byte for byte into a private temp dir (removed after), fetches the nixpkgs
 * pin with Debian's real nix-instantiate (a `file://` tarball, a throwaway store) and builds the
 * system against it, then copies the closure with the container's host key pinned; stdout is the
 * store path alone. `nix-build` and `nix-copy-closure` are recorders here (no nixpkgs, no Nix
 * daemon on this machine); test/deploy/ssh-replay.test.ts copies over real SSH.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildScript, contentSha256, embeddedFiles, secretHashesModule, type BuildSettings, type ClosureTarget } from "../../components/deploy/build-script";
import type { RenderedFile } from "../../components/deploy/files";
import { nixpkgsPinFile } from "../../components/deploy/nixos-system";
import { generateOpenSshKey } from "../proxmox/ssh-key";
import { eventually } from "../support/eventually";

const HAS_NIX = spawnSync("nix-instantiate", ["--version"]).status === 0;
const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPdDPmOhoM7QsPD27uStGCQOd47WiiKlG2IDSRAtDQZQ";
const TARGET: ClosureTarget = { host: "nats-1", address: "10.0.0.41", user: "root", port: 22, pinHostKey: true };

describe("buildScript under bash", () => {
  let dir: string;
  let bin: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "cim-build-"));
    bin = join(dir, "bin");
    mkdirSync(bin);
    // nix-build: records its arguments, keeps a copy of the configuration it was given, prints a store path.
    writeFileSync(
      join(bin, "nix-build"),
      `#!/usr/bin/env bash
set -eu
echo "nix-build $*" >> "$LOG"
config=''
for a in "$@"; do case "$a" in nixos-config=*) config=\${a#nixos-config=} ;; esac; done
[[ -n \${FAIL_BUILD:-} ]] && { echo "error: builder for '/nix/store/x-nixos-system-nats-1.drv' failed with exit code 1" >&2; exit 100; }
root=\${config%/etc/nixos/configuration.nix}
rm -rf "$SEEN" && cp -a "$root" "$SEEN"
echo "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-nixos-system-nats-1-25.11"
`,
      { mode: 0o755 },
    );
    // nix-copy-closure: records its arguments, NIX_SSHOPTS, the pinned known_hosts and the agent's keys.
    writeFileSync(
      join(bin, "nix-copy-closure"),
      `#!/usr/bin/env bash
set -eu
echo "nix-copy-closure $*" >> "$LOG"
echo "NIX_SSHOPTS=$NIX_SSHOPTS" >> "$LOG"
kh=$(sed -n 's/.*UserKnownHostsFile=\\([^ ]*\\).*/\\1/p' <<<"$NIX_SSHOPTS")
[[ -f $kh ]] && echo "known_hosts: $(cat "$kh")" >> "$LOG"
if [[ -n \${SSH_AUTH_SOCK:-} ]]; then echo "agent: $(ssh-add -l | cut -d' ' -f2)" >> "$LOG"; echo "agent pid: \${SSH_AGENT_PID:-}" >> "$LOG"; fi
`,
      { mode: 0o755 },
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const settings: BuildSettings = { nixosConfig: "/etc/nixos/configuration.nix", gcRootName: "prod-nats-1" };
  const files: RenderedFile[] = [
    { path: "/etc/nixos/configuration.nix", content: "{ ... }: { imports = [ ./cim-nats/host.nix ]; }\n", mode: "0644", secret: false },
    // A line that could end a naive heredoc, quotes, $ and backslashes: written as they are.
    { path: "/etc/nixos/cim-nats/host.nix", content: "# it's 'host'\nEOF\n${not.expanded} \\n $(not run)\n{ ... }: { }\n", mode: "0644", secret: false },
    // No final newline (the CID bundle can end that way).
    { path: "/etc/nixos/cim-nats/cid-service.js", content: "console.log('x')", mode: "0644", secret: false },
    { path: "/var/lib/cim-nats/secrets/nats-1-leaf.creds", content: "-----BEGIN NATS USER JWT-----\nSEED\n", mode: "0600", secret: true },
  ];

  function build(name: string, script: string, env: Record<string, string> = {}) {
    const log = join(dir, `${name}.log`);
    const seen = join(dir, `${name}-seen`);
    const tmp = join(dir, `${name}-tmp`);
    mkdirSync(tmp);
    const run = spawnSync("bash", ["-s"], {
      input: script,
      encoding: "utf8",
      timeout: 60_000,
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, LOG: log, SEEN: seen, TMPDIR: tmp, XDG_CACHE_HOME: join(dir, `${name}-cache`), SSH_AUTH_SOCK: "", CIM_NATS_HOST_KEY: HOST_KEY, ...env },
    });
    return { ...run, log: () => (existsSync(log) ? readFileSync(log, "utf8") : ""), seen, tmp };
  }

  it("writes the public files byte for byte, builds the entry point, copies with the host key pinned, prints the store path", () => {
    const run = build("ok", buildScript(files, settings, TARGET));
    expect(run.stderr).toContain("cim-nats: nats-1: built /nix/store/0123456789abcdfghijklmnpqrsvwxyz-nixos-system-nats-1-25.11");
    expect(run.status).toBe(0);
    expect(run.stdout).toBe("/nix/store/0123456789abcdfghijklmnpqrsvwxyz-nixos-system-nats-1-25.11\n");
    for (const f of files.filter((x) => !x.secret)) expect(readFileSync(run.seen + f.path, "utf8")).toBe(f.content);
    // The secret never reaches the build machine's build dir.
    expect(existsSync(`${run.seen}/var/lib/cim-nats/secrets/nats-1-leaf.creds`)).toBe(false);
    const lines = run.log().split("\n");
    expect(lines[0]).toMatch(
      new RegExp(`^nix-build <nixpkgs/nixos> -A system -I nixos-config=${run.tmp}/cim-nats-build-nats-1\\.\\w+/etc/nixos/configuration\\.nix --out-link ${dir}/ok-cache/cim-nats/gcroots/prod-nats-1$`),
    );
    expect(lines[1]).toBe("nix-copy-closure --to root@10.0.0.41 /nix/store/0123456789abcdfghijklmnpqrsvwxyz-nixos-system-nats-1-25.11");
    expect(lines[2]).toMatch(/^NIX_SSHOPTS=-p 22 -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=\S+\/known_hosts -o HostKeyAlgorithms=ssh-ed25519$/);
    expect(lines[3]).toBe(`known_hosts: 10.0.0.41 ${HOST_KEY}`);
    // The private build dir is gone.
    expect(readdirSync(run.tmp)).toEqual([]);
  });

  it("without the key to pin nothing is copied", () => {
    const run = build("nokey", buildScript(files, settings, TARGET), { CIM_NATS_HOST_KEY: "" });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("cim-nats: nats-1: no host key to pin (CIM_NATS_HOST_KEY): nothing is copied to an unverified host");
    expect(run.log()).not.toContain("nix-copy-closure");
  });

  it("a non-default SSH port pins the key as [address]:port; an unpinned host is not verified", () => {
    const pinned = build("port", buildScript(files, settings, { ...TARGET, port: 2222 }));
    expect(pinned.status, pinned.stderr).toBe(0);
    expect(pinned.log()).toContain(`known_hosts: [10.0.0.41]:2222 ${HOST_KEY}`);
    const open = build("unpinned", buildScript(files, settings, { ...TARGET, pinHostKey: false }), { CIM_NATS_HOST_KEY: "" });
    expect(open.status, open.stderr).toBe(0);
    expect(open.log()).toContain("NIX_SSHOPTS=-p 22 -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null\n");
  });

  it("the stack's deploy key (when there is no agent) lives in a throwaway agent for the copy only", async () => {
    const key = generateOpenSshKey("cim-build-test");
    const fingerprint = spawnSync("ssh-keygen", ["-lf", "-"], { input: key.publicKey, encoding: "utf8" }).stdout.split(" ")[1];
    const run = build("key", buildScript(files, settings, TARGET), { CIM_NATS_DEPLOY_KEY: key.privateKey });
    expect(run.status, run.stderr).toBe(0);
    expect(run.log()).toContain(`agent: ${fingerprint}\n`);
    // The agent died with the build.
    const pid = Number(/agent pid: (\d+)/.exec(run.log())?.[1]);
    expect(pid).toBeGreaterThan(0);
    // Gone (or a zombie waiting for whichever process adopted it to reap it): the signal is on its way.
    const state = () => (existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0] : "gone");
    await eventually("the build's agent to exit", async () => state(), (s) => s === "gone" || s === "Z", 5_000);
  });

  it("a declared build host builds (Nix's --builders, no local jobs)", () => {
    const run = build("builders", buildScript(files, { ...settings, builders: "ssh://nix@builder x86_64-linux" }, TARGET));
    expect(run.status, run.stderr).toBe(0);
    expect(run.log().split("\n")[0]).toMatch(/ --builders ssh:\/\/nix@builder x86_64-linux --max-jobs 0$/);
  });

  it("a failing build copies nothing and fails", () => {
    const run = build("fail", buildScript(files, settings, TARGET), { FAIL_BUILD: "1" });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain("failed with exit code 1");
    expect(run.log()).not.toContain("nix-copy-closure");
    expect(run.stdout).toBe("");
  });

  it("carries every public file (embeddedFiles reads them back), the secrets' hashes only, never a secret", () => {
    const script = buildScript([...files, { path: "/etc/nixos/cim-nats/secret-hashes.nix", content: secretHashesModule(files), mode: "0644", secret: false }], settings, TARGET);
    const embedded = embeddedFiles(script);
    expect(Object.keys(embedded).sort()).toEqual([...files.filter((f) => !f.secret).map((f) => f.path), "/etc/nixos/cim-nats/secret-hashes.nix"].sort());
    for (const f of files.filter((x) => !x.secret)) expect(embedded[f.path]).toBe(f.content);
    expect(embedded["/etc/nixos/cim-nats/secret-hashes.nix"]).toContain(`"/var/lib/cim-nats/secrets/nats-1-leaf.creds" = "${contentSha256(files[3].content)}";`);
    expect(script).not.toContain("SEED");
  });

  it("refuses files without the entry point it builds", () => {
    expect(() => buildScript(files.slice(1), settings, TARGET)).toThrow("host 'nats-1': /etc/nixos/configuration.nix is not among its files, so its system cannot be built");
  });

  describe.skipIf(!HAS_NIX)("the nixpkgs pin, fetched by the real nix-instantiate", () => {
    let tarball: string;
    let narHash: string;

    beforeAll(() => {
      // A stand-in nixpkgs tree, packed like GitHub's archive (one top directory).
      const tree = join(dir, "tree", "nixpkgs-0000");
      mkdirSync(join(tree, "nixos"), { recursive: true });
      writeFileSync(join(tree, "nixos", "default.nix"), "{ ... }: { }\n");
      writeFileSync(join(tree, ".version"), "25.11\n");
      tarball = join(dir, "nixpkgs.tar.gz");
      expect(spawnSync("tar", ["czf", tarball, "-C", join(dir, "tree"), "nixpkgs-0000"]).status).toBe(0);
      narHash = spawnSync("nix-hash", ["--type", "sha256", "--base32", tree], { encoding: "utf8" }).stdout.trim();
      expect(narHash).toMatch(/^[0-9a-z]{52}$/);
    });

    function pinned(name: string, sha256: string) {
      const pin: RenderedFile = { path: "/etc/nixos/cim-nats/nixpkgs.nix", content: nixpkgsPinFile({ url: `file://${tarball}`, sha256 }), mode: "0644", secret: false };
      // A store of its own under the test dir: no daemon, nothing of the machine's.
      return build(name, buildScript([...files, pin], { ...settings, nixpkgsPin: pin.path }, TARGET), { NIX_REMOTE: join(dir, `${name}-store`) });
    }

    it("fetches the pin and builds against it", () => {
      const run = pinned("pin-ok", narHash);
      expect(run.status, run.stderr).toBe(0);
      const nixBuild = run.log().split("\n")[0];
      const storePath = /^nix-build (\/nix\/store\/[a-z0-9]{32}-source)\/nixos -A system -I nixpkgs=\1 -I nixos-config=/.exec(nixBuild)?.[1];
      expect(storePath, nixBuild).toBeDefined();
      // What Nix put in the (chroot) store is the tree the tarball holds.
      expect(readFileSync(join(dir, "pin-ok-store", storePath!, ".version"), "utf8")).toBe("25.11\n");
    });

    it("a wrong sha256 fails with Nix's hash mismatch, before anything is built (the check can fail)", () => {
      const run = pinned("pin-bad", "0".repeat(52));
      expect(run.status).toBe(1);
      expect(run.stderr).toContain(`hash mismatch in file downloaded from 'file://${tarball}'`);
      expect(run.stderr).toContain(`got:       sha256:${narHash}`);
      expect(run.stderr).toContain("cim-nats: nats-1: cannot fetch the pinned nixpkgs");
      expect(run.log()).toBe("");
      expect(run.stdout).toBe("");
    });
  });
});
