/**
 * The cim-nats NixOS module evaluated for every rendered prod host with nixpkgs' real module
 * system (`lib.evalModules` from the nixpkgs lib snapshot, eval-nixos.nix): the units, firewall
 * ports, state dirs and the exact nats-server config each unit would run, which must pass the
 * real `nats-server -t`; which trigger a change touches (reload vs restart, as reload-rules.ts
 * classifies it); and the lame duck stop.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { serverConfigTree, type NatsConfTree } from "../../components/render/nats-server-config";
import { classifyConfigChange, restartOnlyView } from "../../components/render/reload-rules";
import { parseTopology } from "../../components/topology/parse";
import { readStackConfig } from "../support/stack-config";
import { renderNixosHost } from "../../components/render/nixos-host";
import type { ServerSecurity } from "../../components/render/server-security";
import { formatNatsConf } from "../../components/render/nats-conf";
import type { Topology } from "../../components/topology/types";
import { checkServerConfig } from "../render/nats-server-check";
import { stackTopology } from "../render/stack-topology";
import { testSecurity } from "../render/test-security";
import { nixEvalJson, nixInstantiate } from "./nix-instantiate";

const ROOT = path.resolve(__dirname, "../..");
const HARNESS = path.join(__dirname, "eval-nixos.nix");
const work = fs.mkdtempSync(path.join(os.tmpdir(), "cim-nats-module-"));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/** nixpkgs' lib: CIM_NATS_NIXPKGS_LIB (a lib dir or the snapshot tarball), default ../shared/nixpkgs-lib. */
function nixpkgsLib(): string | undefined {
  const given = process.env.CIM_NATS_NIXPKGS_LIB ?? path.resolve(ROOT, "..", "shared", "nixpkgs-lib");
  if (!fs.existsSync(given)) return undefined;
  if (fs.existsSync(path.join(given, "default.nix"))) return given;
  const tarball = fs.statSync(given).isDirectory() ? fs.readdirSync(given).find((f) => /^nixpkgs-lib-.*\.tar\.gz$/.test(f)) : path.basename(given);
  if (!tarball) return undefined;
  const into = path.join(work, "nixpkgs-lib");
  fs.mkdirSync(into, { recursive: true });
  const tar = spawnSync("tar", ["xzf", fs.statSync(given).isDirectory() ? path.join(given, tarball) : given, "-C", into], { encoding: "utf8" });
  if (tar.status !== 0) throw new Error(`cannot extract ${tarball}: ${tar.stderr}`);
  return path.join(into, "lib");
}
const LIB = nixpkgsLib();
if (!LIB) console.warn("module-eval: skipped: no nixpkgs lib snapshot (set CIM_NATS_NIXPKGS_LIB to a lib dir or ../shared/nixpkgs-lib/nixpkgs-lib-*.tar.gz)");

let fileCount = 0;
function writeHost(text: string): string {
  const dir = path.join(work, `host-${fileCount++}`);
  fs.mkdirSync(path.join(dir, "modules"), { recursive: true });
  for (const f of ["cim-nats.nix", "nats-server.nix"]) fs.copyFileSync(path.join(ROOT, "nix", "modules", f), path.join(dir, "modules", f));
  fs.writeFileSync(path.join(dir, "host.nix"), text);
  return path.join(dir, "host.nix");
}

type Unit = { serviceConfig: Record<string, any>; wantedBy: string[]; reloadTriggers: string[]; restartTriggers: string[]; reloadIfChanged: boolean };
type Evaluated = {
  systemd: { services: Record<string, Unit>; tmpfiles: { rules: string[] } };
  environment: { etc: Record<string, { source: string }> };
  networking: { firewall: { allowedTCPPorts: number[]; extraInputRules: string }; nftables: { enable: boolean } };
  users: { users: Record<string, { isSystemUser: boolean }> };
  failedAssertions: string[];
};

function evalExpression(hostFile: string, extraModules = ""): string {
  return `import ${HARNESS} { lib = import ${LIB}; hostFile = ${hostFile}; extraModules = [ ${extraModules} ]; }`;
}

function evalHost(hostText: string, extraModules = ""): Evaluated {
  return nixEvalJson(evalExpression(writeHost(hostText), extraModules)) as Evaluated;
}

/**
 * The module's nftables rules inside the chain nixpkgs appends them to (firewall-nftables.nix:
 * `input-allow` of table `nixos-fw`), checked by the real `nft -c` (Debian's nftables; no
 * kernel state is touched). Skipped with a warning when nft is absent.
 */
function nftCheck(rules: string): { ok: boolean; output: string } | undefined {
  if (!fs.existsSync("/usr/sbin/nft")) {
    console.warn("module-eval: nft -c skipped: /usr/sbin/nft missing (npm run setup installs Debian's nftables)");
    return undefined;
  }
  const file = path.join(work, `rules-${fileCount++}.nft`);
  fs.writeFileSync(file, `table inet nixos-fw {\n  chain input-allow {\n${rules}\n  }\n}\n`);
  const run = spawnSync("/usr/sbin/nft", ["-c", "-f", file], { encoding: "utf8" });
  return { ok: run.status === 0, output: `${run.stdout}${run.stderr}` };
}

/** The JSON the stub `formats.json.generate` embedded in a store path (between '#' marks). */
function configOf(storePath: string): NatsConfTree {
  return JSON.parse(storePath.slice(storePath.indexOf("#") + 1, storePath.indexOf("#", storePath.indexOf("#") + 1)));
}

/** What the module must write: the tested tree, with leaf creds pointing at the systemd credential. */
function expectedConfig(topology: Topology, serverName: string, unit: string, security?: ServerSecurity): NatsConfTree {
  const tree = serverConfigTree(topology, serverName, security) as any;
  if (!security || !tree.leafnodes?.remotes) return tree;
  const credentials = `/run/credentials/${unit}.service/leafnode.creds`;
  return { ...tree, leafnodes: { remotes: tree.leafnodes.remotes.map((r: object) => ({ ...r, credentials })) } };
}

describe.skipIf(!LIB)("the cim-nats module evaluated for every prod host", () => {
  const prod = stackTopology("prod");

  describe.each([
    ["open", false],
    ["operator mode", true],
  ])("%s", (_mode, operator) => {
    it.each(prod.hosts.map((h) => h.name))("%s: one hardened unit per instance running the tested config", async (hostName) => {
      const security = operator ? (await testSecurity(prod, "/var/lib/cim-nats/secrets")).security : undefined;
      const host = prod.hosts.find((h) => h.name === hostName)!;
      const evaluated = evalHost(renderNixosHost(prod, hostName, security));
      expect(evaluated.failedAssertions).toEqual([]);
      expect(Object.keys(evaluated.systemd.services).sort()).toEqual(host.instances.map((i) => `cim-nats-${i.kind}`).sort());

      for (const instance of host.instances) {
        const unit = `cim-nats-${instance.kind}`;
        const service = evaluated.systemd.services[unit];
        const sc = service.serviceConfig;
        expect(service.wantedBy).toEqual(["multi-user.target"]);
        // The unit runs a stable path; /etc points it at the validated store file.
        // ...of the pinned nats-server (nix/modules/nats-server.nix), not nixpkgs' of the day.
        expect(sc.ExecStart).toBe(`/nix/store/stub-nats-server-2.15.2/bin/nats-server -c /etc/cim-nats/${instance.kind}.json`);
        const source = evaluated.environment.etc[`cim-nats/${instance.kind}.json`].source;
        expect(source).toMatch(/^\/nix\/store\/stub-cim-nats-\w+-validated\.json\[nats-server -t -c /);
        expect(service.reloadTriggers).toEqual([source]);
        expect(service.reloadIfChanged).toBe(false);
        expect(sc.StateDirectory).toBe(`cim-nats/${instance.serverName}`);
        expect(sc.ReadWritePaths).toEqual([instance.storeDir]);
        expect([sc.User, sc.Group, sc.ProtectSystem, sc.NoNewPrivileges, sc.LimitNOFILE]).toEqual(["cim-nats", "cim-nats", "strict", true, 800000]);
        expect([sc.ExecReload, sc.KillSignal, sc.KillMode, sc.SuccessExitStatus, sc.TimeoutStopSec]).toEqual([
          "/nix/store/stub-coreutils/bin/kill -HUP $MAINPID",
          "SIGUSR2",
          "mixed",
          [0, "SIGUSR2"],
          String(prod.lameDuck.durationSeconds + 30),
        ]);
        if (operator && instance.kind === "leaf") {
          expect(sc.LoadCredential).toEqual([`leafnode.creds:/var/lib/cim-nats/secrets/leaf-${instance.serverName}.creds`]);
        } else {
          expect(sc.LoadCredential).toBeUndefined();
        }

        const config = configOf(source);
        expect(config).toEqual(expectedConfig(prod, instance.serverName, unit, security));
        // Restarted only for what SIGHUP cannot apply.
        expect(service.restartTriggers).toHaveLength(1);
        const settings = host.instances.length > 0 ? (evaluated as any).services["cim-nats"].instances[instance.kind].settings : undefined;
        expect(configOf(service.restartTriggers[0])).toEqual(restartOnlyView(settings));
        const check = checkServerConfig(formatNatsConf(config));
        expect(check.output, unit).toContain("is valid");
      }

      // Per listener: client ports open; monitoring (loopback) closed; routes and leafnodes from their peers only.
      expect([...evaluated.networking.firewall.allowedTCPPorts].sort()).toEqual(host.instances.map((i) => i.clientPort).sort());
      const hub = host.instances.find((i) => i.kind === "hub");
      const others = prod.hub.members.filter((m) => m !== hub).map((m) => m.address);
      const leafHosts = prod.leaves.map((l) => l.address).join(", ");
      const rules = hub
        ? [
            `ip saddr { ${others.join(", ")} } tcp dport 6222 accept comment "cim-nats hub routes"`,
            `ip saddr { ${leafHosts} } tcp dport 7422 accept comment "cim-nats hub leafnodes"`,
          ]
        : [];
      expect(evaluated.networking.firewall.extraInputRules).toBe(rules.join("\n"));
      expect(evaluated.networking.nftables.enable).toBe(hub !== undefined);
      expect(evaluated.users.users["cim-nats"].isSystemUser).toBe(true);
      expect(evaluated.systemd.tmpfiles.rules).toEqual([]);
    });
  });
});

describe.skipIf(!LIB)("the firewall, per listener", () => {
  const prod = stackTopology("prod");

  it("nats-1: routes only from nats-2 and nats-3, leafnodes only from the four leaf hosts, rules nft accepts", () => {
    const firewall = evalHost(renderNixosHost(prod, "nats-1")).networking.firewall;
    expect(firewall.extraInputRules.split("\n")).toEqual([
      'ip saddr { 10.0.0.42, 10.0.0.43 } tcp dport 6222 accept comment "cim-nats hub routes"',
      'ip saddr { 10.0.0.41, 10.0.0.42, 10.0.0.43, 172.16.0.2 } tcp dport 7422 accept comment "cim-nats hub leafnodes"',
    ]);
    expect([...firewall.allowedTCPPorts].sort()).toEqual([4222, 4223]);
    const check = nftCheck(firewall.extraInputRules);
    if (check) expect(check.output).toBe("");
    if (check) expect(check.ok).toBe(true);
  });

  it("nft refuses a malformed rule (the check can fail)", () => {
    const check = nftCheck('ip saddr { 10.0.0.42, } tcp dport 6222 acept comment "x"');
    if (check) expect(check.ok).toBe(false);
  });

  it("a leaf added to the config is let into every hub member's leafnode port", () => {
    const grown = prodWith((raw) => raw.hosts.push({ name: "leaf-04", vmid: 205, node: "pve2", address: "10.0.0.44", roles: ["leaf"] }));
    expect(evalHost(renderNixosHost(grown, "nats-3")).networking.firewall.extraInputRules).toContain(
      'ip saddr { 10.0.0.41, 10.0.0.42, 10.0.0.43, 172.16.0.2, 10.0.0.44 } tcp dport 7422 accept',
    );
  });

  it("monitoring.listen: host binds the host address and opens the monitoring ports", () => {
    const exposed = prodWith((raw) => (raw.monitoring = { listen: "host" }));
    const evaluated = evalHost(renderNixosHost(exposed, "nats-2"));
    expect([...evaluated.networking.firewall.allowedTCPPorts].sort()).toEqual([4222, 4223, 8222, 8223]);
    expect(configOf(evaluated.environment.etc["cim-nats/hub.json"].source).http).toBe("10.0.0.42:8223");
  });

  it("a host that turns nftables off gets an assertion naming the fix", () => {
    const evaluated = evalHost(renderNixosHost(prod, "nats-1"), "{ networking.nftables.enable = false; }");
    expect(evaluated.failedAssertions.join("\n")).toContain("route and leafnode ports are opened only to their peers, with nftables rules");
  });

  it("a leaf-only host (cimstor) needs no peer rules and keeps the host's firewall backend", () => {
    const evaluated = evalHost(renderNixosHost(prod, "cimstor"));
    expect(evaluated.networking.firewall.extraInputRules).toBe("");
    expect(evaluated.networking.nftables.enable).toBe(false);
    expect(evaluated.networking.firewall.allowedTCPPorts).toEqual([4222]);
  });
});

describe.skipIf(!LIB)("the module's own checks", () => {
  const prod = stackTopology("prod");
  const nats1 = renderNixosHost(prod, "nats-1");

  it("an assertion names a relative data dir (the dev topology's) and the fix", () => {
    const evaluated = evalHost(renderNixosHost(stackTopology("dev"), "nats-1"));
    expect(evaluated.failedAssertions).toContain(
      "services.cim-nats.instances.leaf.dataDir is '.cim-dev/dev/nats-1'; give an absolute path (e.g. /var/lib/cim-nats/nats-1).",
    );
  });

  it("an assertion names two instances sharing a port", () => {
    const clash = nats1.replace("port = 4223;", "port = 4222;");
    expect(clash).not.toBe(nats1);
    expect(evalHost(clash).failedAssertions.join("\n")).toContain("two listeners share a port");
  });

  it("a data dir outside /var/lib gets a tmpfiles rule instead of a StateDirectory", () => {
    const moved = nats1.replace('dataDir = "/var/lib/cim-nats/nats-1";', 'dataDir = "/srv/nats/nats-1";');
    const evaluated = evalHost(moved);
    expect(evaluated.systemd.tmpfiles.rules).toEqual(["d /srv/nats/nats-1 0750 cim-nats cim-nats - -"]);
    expect(evaluated.systemd.services["cim-nats-leaf"].serviceConfig.StateDirectory).toBeUndefined();
  });

  it.each([
    ["a misspelt option", nats1.replace("monitorPort = 8222;", "monitorPrt = 8222;"), "The option `services.cim-nats.instances.leaf.monitorPrt' does not exist"],
    ["a wrong type", nats1.replace("port = 4222;", 'port = "4222";'), "A definition for option `services.cim-nats.instances.leaf.port' is not of type `16 bit unsigned integer"],
  ])("evaluation fails on %s (the check can fail)", (_case, text, message) => {
    const file = writeHost(text);
    const run = nixInstantiate(["--eval", "--strict", "--json", "-E", evalExpression(file)]);
    expect(run.ok).toBe(false);
    expect(run.stderr).toContain(message);
  });
});

/** The prod topology with one stack-config edit. */
function prodWith(edit: (raw: any) => void): Topology {
  const raw = JSON.parse(JSON.stringify(readStackConfig("prod").topology));
  edit(raw);
  return parseTopology(raw, { name: "prod", leafDenyImports: stackTopology("prod").leafDenyImports });
}

describe.skipIf(!LIB)("reload or restart: the trigger a change touches", () => {
  const unitOf = (topology: Topology, kind: "leaf" | "hub") => evalHost(renderNixosHost(topology, "nats-2")).systemd.services[`cim-nats-${kind}`];
  const prod = stackTopology("prod");

  it.each([
    // cluster.routes and cluster.name: SIGHUP applies them (reload-rules.ts).
    ["the hub's cluster name", "hub", "reload", (raw: any): void => void (raw.hub.cluster = "cim-hub-2")],
    ["a hub member's client port", "hub", "restart", (raw: any): void => void (raw.hub.ports.client = 4333)],
    ["the leaf's JetStream store limit going down", "leaf", "restart", (raw: any): void => void (raw.leaf.jetstream.maxFile = "5G")],
    ["the lame duck duration", "leaf", "restart", (raw: any): void => void (raw.lameDuck = { durationSeconds: 45 })],
  ] as const)("%s: %s unit → %s", (_name, kind, expected, edit) => {
    const changed = prodWith(edit);
    const serverName = kind === "hub" ? "nats-2-hub" : "nats-2";
    // What the renderer's rules say...
    expect(classifyConfigChange(serverConfigTree(prod, serverName), serverConfigTree(changed, serverName)).kind).toBe(expected);
    // ...is what the unit does: X-Reload-Triggers changes either way; X-Restart-Triggers only for a restart.
    const before = unitOf(prod, kind);
    const after = unitOf(changed, kind);
    expect(after.reloadTriggers).not.toEqual(before.reloadTriggers);
    expect(after.restartTriggers.join() !== before.restartTriggers.join()).toBe(expected === "restart");
    // And the unit file itself (ExecStart) does not change, or NixOS would restart regardless.
    expect(after.serviceConfig.ExecStart).toBe(before.serviceConfig.ExecStart);
  });

  it("stop timeout follows the topology's lame duck duration", () => {
    const unit = unitOf(prodWith((raw) => (raw.lameDuck = { durationSeconds: 90 })), "hub");
    expect(unit.serviceConfig.TimeoutStopSec).toBe("120");
    expect(configOf(unit.reloadTriggers[0]).lame_duck_duration).toBe("90s");
  });

  it("without restartSettings every change restarts (the safe default)", () => {
    const text = renderNixosHost(prod, "nats-2").replace(/ {8}restartSettings = \{[\s\S]*?\n {8}\};\n/g, "");
    expect(text).not.toContain("restartSettings");
    const unit = evalHost(text).systemd.services["cim-nats-leaf"];
    expect(configOf(unit.restartTriggers[0])).toEqual(configOf(unit.reloadTriggers[0]));
  });
});
