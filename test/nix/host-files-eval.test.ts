/**
 * Every file a prod host's system is built from, evaluated whole: the files are taken from what
 * `pulumi up -s prod` declares (the public ones from each host's build script, the secrets from
 * the mocks' CopyToRemote sources at the paths the switch installs them to), and each host's
 * /etc/nixos/configuration.nix — which imports host.nix, access.nix, system.nix, the secret
 * hashes, the modules and (cimstor) the CID service — goes through nixpkgs' real `lib.evalModules`
 * (eval-nixos.nix) with nixpkgs' own types for what they set: systemd services (serviceConfig
 * checked as nixpkgs checks it), nix.gc, nix.channel, openssh; and with a model of nixpkgs'
 * Proxmox LXC profile (test/nix/stub-modules: the host name it forces to "", sshd per connection,
 * and the LXC service override that empties every unit's LoadCredential=). A misspelt option
 * (`wantsBy`), a bad unit type (`Type = "simpel"`) and a mistyped nix.gc are rejected. Pure
 * evaluation: nothing is built or fetched.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { embeddedFiles } from "../../components/deploy/build-script";
import { DEFAULT_NIXPKGS_PIN } from "../../components/deploy/nixos-system";
import { plain, runProdProgram, type Registered } from "../stack/prod-program";
import { nixEvalJson, nixInstantiate, nixpkgsLib } from "./nix-instantiate";

const ROOT = path.resolve(__dirname, "../..");
const HARNESS = path.join(__dirname, "eval-nixos.nix");
const HOSTS = ["nats-1", "nats-2", "nats-3", "cimstor"];

const work = fs.mkdtempSync(path.join(os.tmpdir(), "cim-nixpin-hosts-"));
const LIB = nixpkgsLib(work);
if (!LIB) console.warn("host-files-eval: skipped: no nixpkgs lib snapshot (CIM_NATS_NIXPKGS_LIB or ../shared/nixpkgs-lib)");
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/** Host → its files (final path → text), as the prod program builds and deploys them. */
async function deployedFiles(registered: readonly Registered[]): Promise<Record<string, Record<string, string>>> {
  const out: Record<string, Record<string, string>> = {};
  for (const host of HOSTS) {
    out[host] = embeddedFiles(plain(registered.find((r) => r.name === `deploy-${host}-build`)!.inputs.stdin));
    const script: string = plain(registered.find((r) => r.name === `deploy-${host}-switch`)!.inputs.stdin);
    // `install -D -m <mode> <staged> <final>`: where each staged secret ends up.
    const finalOf = new Map([...script.matchAll(/^ {4}install -D -m \d+ (\S+) (\S+) \|\| return 1$/gm)].map((m) => [m[1], m[2]]));
    for (const copy of registered.filter((r) => r.type === "command:remote:CopyToRemote" && r.name.startsWith(`deploy-${host}-copy-`))) {
      const final = finalOf.get(plain(copy.inputs.remotePath));
      if (!final) throw new Error(`${copy.name}: its staged file is never installed by the switch`);
      out[host][final] = await plain(plain(copy.inputs.source).text);
    }
  }
  return out;
}

/** The effective [Service] settings of a unit once the drop-ins the system ships apply (systemd: an empty assignment resets the setting, a value replaces it). */
function effectiveService(serviceConfig: Record<string, unknown>, packages: { destination: string; text: string }[]): Record<string, unknown> {
  const out: Record<string, unknown> = { ...serviceConfig };
  for (const p of packages.filter((x) => /\/systemd\/system\/service\.d\/[^/]+\.conf$/.test(x.destination))) {
    for (const line of p.text.split("\n").filter((l) => /^\w+=/.test(l))) {
      const [key, value] = [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)];
      if (value === "") delete out[key];
      else out[key] = value;
    }
  }
  return out;
}

/** Writes a host's files under `work/<dir>` (so /etc/nixos/configuration.nix's relative imports resolve). */
function writeTree(dir: string, files: Record<string, string>, edit: (p: string, text: string) => string = (_p, t) => t): string {
  const root = path.join(work, dir);
  for (const [p, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(root + p), { recursive: true });
    fs.writeFileSync(root + p, edit(p, text));
  }
  return root;
}

const evalArgs = (root: string) => `{ lib = import ${LIB}; hostFile = ${root}/etc/nixos/configuration.nix; }`;

describe.skipIf(!LIB)("every file the prod program deploys, evaluated whole", () => {
  let files: Record<string, Record<string, string>>;
  beforeAll(async () => {
    files = await deployedFiles((await runProdProgram()).registered);
  }, 60_000);

  it("each host's system is built from the entry point, the modules, the pinned nats-server and nixpkgs, Nix's settings and the secret hashes", () => {
    for (const host of HOSTS) {
      expect(Object.keys(files[host])).toEqual(
        expect.arrayContaining([
          "/etc/nixos/configuration.nix",
          "/etc/nixos/cim-nats/host.nix",
          "/etc/nixos/cim-nats/access.nix",
          "/etc/nixos/cim-nats/system.nix",
          "/etc/nixos/cim-nats/nixpkgs.nix",
          "/etc/nixos/cim-nats/secret-hashes.nix",
          "/etc/nixos/cim-nats/modules/cim-nats.nix",
          "/etc/nixos/cim-nats/modules/nats-server.nix",
        ]),
      );
      // Byte for byte the repo's files.
      expect(files[host]["/etc/nixos/cim-nats/modules/nats-server.nix"]).toBe(fs.readFileSync(path.join(ROOT, "nix/modules/nats-server.nix"), "utf8"));
    }
  });

  it.each(HOSTS)("%s: configuration.nix and everything it imports pass nixpkgs' evalModules with nixpkgs' types", (host) => {
    const root = writeTree(`ok-${host}`, files[host]);
    const evaluated = nixEvalJson(`import ${HARNESS} ${evalArgs(root)}`) as any;
    expect(evaluated.failedAssertions).toEqual([]);
    // system.nix: garbage collection; no channel, no NIX_PATH (the system is built elsewhere).
    expect(evaluated.nix.gc).toEqual({ automatic: true, dates: "weekly", options: "--delete-older-than 30d", persistent: true, randomizedDelaySec: "0" });
    expect(evaluated.nix.nixPath).toEqual([]);
    expect(evaluated.nix.channel.enable).toBe(false);
    expect(evaluated.boot.isContainer).toBe(true);
    expect(evaluated.services.openssh.enable).toBe(true);
    // Every secret the deploy installs is hashed for the units' triggers.
    const secrets = Object.keys(files[host]).filter((p) => p.startsWith("/var/lib/cim-nats/secrets/"));
    expect(Object.keys(evaluated.services["cim-nats"].secretFileHashes).sort()).toEqual(secrets.sort());
    // Every nats-server unit runs the pinned package: nats-server 2.15.2 from the Go proxy zip.
    const units = Object.keys(evaluated.systemd.services).filter((u) => u.startsWith("cim-nats-"));
    expect(units.length).toBeGreaterThan(0);
    for (const u of units) expect(evaluated.systemd.services[u].serviceConfig.ExecStart).toMatch(/^\/nix\/store\/stub-nats-server-2\.15\.2\/bin\/nats-server -c /);
    // TLS on: each unit reads its config and secret files from its runtime dir, copied there by root.
    for (const u of units) {
      const sc = evaluated.systemd.services[u].serviceConfig;
      expect(sc.ExecStart).toMatch(new RegExp(`-c /run/${u}/nats\\.conf$`));
      expect(sc.ExecStartPre[0]).toContain(`place /var/lib/cim-nats/secrets/`);
      expect(evaluated.services["cim-nats"].instances[u.replace("cim-nats-", "")].tls).not.toBeNull();
    }
    const pkg = evaluated.natsServerBuild;
    expect(pkg).toMatchObject({
      pname: "nats-server",
      version: "2.15.2",
      src: { url: "https://proxy.golang.org/github.com/nats-io/nats-server/v2/@v/v2.15.2.zip", hash: "sha256-zTKsPoFCNNK5k2itHu9xw8djNKVZV4C1wyFm7uSaq6Y=", fetcher: "fetchurl" },
      sourceRoot: "github.com/nats-io/nats-server/v2@v2.15.2",
      vendorHash: "sha256-qzGUFmsKDac2Yu8jnVhfbj7vzJaur13Th0bydzRq+sc=",
      subPackages: ["."],
      doCheck: false,
      // The stub nixpkgs' default Go is 1.25: the package takes go_1_26, as go.mod asks.
      go: "go-1.26.2",
    });
    if (host === "cimstor") expect(evaluated.systemd.services["cim-cid-service"].serviceConfig.Type).toBe("simple");
    if (host === "cimstor") {
      // The CID service trusts the stack CA placed for its leaf, copied into its runtime dir.
      expect(evaluated.systemd.services["cim-cid-service"].environment.CID_NATS_CA).toBe("/run/cim-cid-service/ca.pem");
      expect(evaluated.systemd.services["cim-cid-service"].serviceConfig.ExecStartPre[0]).toContain("place /var/lib/cim-nats/secrets/cimstor/ca.pem ca.pem");
    }
  });

  it("nixpkgs.nix is a fetchTarball of exactly the pin (evaluated with fetchTarball stubbed: nothing is downloaded)", () => {
    const root = writeTree("pin", files["nats-1"]);
    const pin = nixEvalJson(`scopedImport { builtins = builtins // { fetchTarball = args: args; }; } ${root}/etc/nixos/cim-nats/nixpkgs.nix`);
    expect(pin).toEqual(DEFAULT_NIXPKGS_PIN);
  });

  /** Evaluates nats-1 with one file edited; returns stderr of the failed run. */
  function rejected(name: string, file: string, from: string, to: string): string {
    const root = writeTree(name, files["nats-1"], (p, t) => {
      if (p !== file) return t;
      expect(t).toContain(from);
      return t.split(from).join(to);
    });
    const run = nixInstantiate(["--eval", "--strict", "--json", "-E", `import ${HARNESS} ${evalArgs(root)}`]);
    expect(run.ok).toBe(false);
    return run.stderr;
  }

  it("a misspelt option (wantsBy) is rejected (the check can fail)", () => {
    const stderr = rejected("wants-by", "/etc/nixos/cim-nats/modules/cim-nats.nix", "wantedBy = [", "wantsBy = [");
    expect(stderr).toMatch(/The option `systemd\.services\.cim-nats-(leaf|hub)\.wantsBy' does not exist/);
  });

  it('a unit Type systemd does not know (Type = "simpel") is rejected, as nixpkgs checks it (the check can fail)', () => {
    const stderr = rejected("type-simpel", "/etc/nixos/cim-nats/modules/cim-nats.nix", 'Type = "simple";', 'Type = "simpel";');
    expect(stderr).toContain("Systemd Service field `Type' cannot have value `simpel'.");
    expect(stderr).toMatch(/A definition for option `systemd\.services\.cim-nats-(leaf|hub)\.serviceConfig' is not of type `attribute set of \(systemd option\)'/);
  });

  it("a mistyped nix.gc is rejected (the check can fail)", () => {
    const stderr = rejected("gc-type", "/etc/nixos/cim-nats/system.nix", "automatic = true;", 'automatic = "yes";');
    expect(stderr).toContain("A definition for option `nix.gc.automatic' is not of type `boolean'");
  });

  describe("under nixpkgs' Proxmox LXC profile (modelled: test/nix/stub-modules)", () => {
    type Unit = { serviceConfig: Record<string, any> };
    const evaluate = (name: string, host: string, extraModules = "", edit?: (p: string, t: string) => string) =>
      nixEvalJson(`import ${HARNESS} { lib = import ${LIB}; hostFile = ${writeTree(name, files[host], edit)}/etc/nixos/configuration.nix; extraModules = [ ${extraModules} ]; }`) as any;
    /** Units that declare LoadCredential= and lose it to the drop-ins the system ships: they would start without their secrets. */
    const credentialsLost = (evaluated: any) =>
      Object.entries(evaluated.systemd.services as Record<string, Unit>)
        .filter(([, u]) => u.serviceConfig.LoadCredential !== undefined && effectiveService(u.serviceConfig, evaluated.systemd.packages).LoadCredential === undefined)
        .map(([name]) => name);

    it.each(HOSTS)("%s: keeps the host name the stack gives it (the profile forces \"\" unless manageHostName)", (host) => {
      expect(evaluate(`lxc-name-${host}`, host).networking.hostName).toBe(host);
    });

    it("without proxmoxLXC.manageHostName the profile empties it (the check can fail)", () => {
      const evaluated = evaluate("lxc-name-off", "nats-1", "", (p, t) => (p === "/etc/nixos/configuration.nix" ? t.replace("  proxmoxLXC.manageHostName = true;\n", "") : t));
      expect(evaluated.networking.hostName).toBe("");
    });

    it.each(HOSTS)("%s: the service override applies to every unit, and each still gets its secrets: copied into its runtime dir by root, none through LoadCredential", (host) => {
      const evaluated = evaluate(`lxc-units-${host}`, host);
      expect(evaluated.systemd.packages.map((p: { destination: string }) => p.destination)).toEqual(["/etc/systemd/system/service.d/zzz-lxc-service.conf"]);
      const units = Object.entries(evaluated.systemd.services as Record<string, Unit>);
      expect(units.length).toBeGreaterThan(0);
      for (const [name, unit] of units) {
        const effective = effectiveService(unit.serviceConfig, evaluated.systemd.packages);
        // The override is live: it relaxes the unit's hardening...
        expect([effective.NoNewPrivileges, effective.ProtectProc], name).toEqual(["no", "default"]);
        // ...and would empty its credentials, which no unit uses.
        expect(unit.serviceConfig.LoadCredential, name).toBeUndefined();
        expect(String(unit.serviceConfig.ExecStartPre[0]), name).toMatch(/^\+\/nix\/store\/stub-cim-[\w-]+-runtime-files<<<[\s\S]*\nplace \/var\/lib\/cim-nats\/secrets\//);
      }
      expect(credentialsLost(evaluated)).toEqual([]);
      // A leaf's remotes read the creds root placed in its runtime dir.
      const leaf = evaluated.environment.etc["cim-nats/leaf.conf"].source as string;
      expect(leaf).toContain('"credentials": "/run/cim-nats-leaf/leafnode.creds"');
      expect(String(evaluated.systemd.services["cim-nats-leaf"].serviceConfig.ExecStartPre[0])).toMatch(/\nplace \/var\/lib\/cim-nats\/secrets\/\S+\.creds leafnode\.creds\n/);
    });

    it("a unit reading its creds through LoadCredential would start without them (the check can fail)", () => {
      const evaluated = evaluate("lxc-loadcredential", "nats-1", `{ systemd.services.cim-nats-leaf.serviceConfig.LoadCredential = [ "leafnode.creds:/var/lib/cim-nats/secrets/leaf-nats-1.creds" ]; }`);
      expect(credentialsLost(evaluated)).toEqual(["cim-nats-leaf"]);
    });

    it.each(HOSTS)("%s: sshd always runs (access.nix), not per connection as the profile would have it", (host) => {
      expect(evaluate(`lxc-sshd-${host}`, host).services.openssh.startWhenNeeded).toBe(false);
    });
  });

  it("without a Go 1.26 in the pinned nixpkgs, the package says so (not a cryptic build error)", () => {
    const pkgs = `{ go = { version = "1.24.3"; }; fetchurl = a: a; unzip = null; buildGoModule.override = { go }: args: args // { go = go.version; }; }`;
    const run = nixInstantiate(["--eval", "--strict", "-E", `((import ${ROOT}/nix/modules/nats-server.nix) { lib = import ${LIB}; pkgs = ${pkgs}; }).go`]);
    expect(run.ok).toBe(false);
    expect(run.stderr).toContain("cim-nats: nats-server 2.15.2 needs Go >= 1.26 (its go.mod says go 1.26.0)");
  });
});
