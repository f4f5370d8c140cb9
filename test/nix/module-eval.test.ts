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
import { nixosRunningSettings, nixosTlsInput, renderNixosHost } from "../../components/render/nixos-host";
import { readRenderedConf } from "../../components/local/conf-reader";
import { natsServerBinary } from "../../components/local/nats-process";
import { checkStack } from "../../scripts/render";
import type { Topology } from "../../components/topology/types";
import { stackTopology } from "../render/stack-topology";
import { testSecurity } from "../render/test-security";
import { nixEvalJson, nixInstantiate, nixpkgsLib } from "./nix-instantiate";

const ROOT = path.resolve(__dirname, "../..");
const HARNESS = path.join(__dirname, "eval-nixos.nix");
const work = fs.mkdtempSync(path.join(os.tmpdir(), "cim-nats-module-"));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

const LIB = nixpkgsLib(work);
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

/** The JSON the stub `formats.json.generate` embedded in a store path (between '#' marks): the restart-only view. */
function jsonOf(storePath: string): NatsConfTree {
  return JSON.parse(storePath.slice(storePath.indexOf("#") + 1, storePath.indexOf("#", storePath.indexOf("#") + 1)));
}

/** The text the stub `writeText` / `writeShellScript` embedded (between '<<<' and '>>>'). */
function textOf(storePath: string): string {
  return storePath.slice(storePath.indexOf("<<<") + 3, storePath.indexOf(">>>"));
}

/** The config a unit runs (nats-server syntax, written by the module's toNatsConf) as a tree. */
function configOf(storePath: string): NatsConfTree {
  const tree = readRenderedConf(textOf(storePath));
  if (!tree) throw new Error(`not a config the reader understands:\n${textOf(storePath)}`);
  return tree;
}

/** The prod hosts' TLS: certificates on every listener and link, route authorization on the hub. */
const TLS = { tls: true, routeAuth: true } as const;

describe.skipIf(!LIB)("the cim-nats module evaluated for every prod host", () => {
  const prod = stackTopology("prod");

  describe.each([
    ["open", false],
    ["operator mode", true],
  ])("%s", (_mode, operator) => {
    it.each(prod.hosts.map((h) => h.name))("%s: one hardened unit per instance running the tested config", async (hostName) => {
      const security = operator ? (await testSecurity(prod, "/var/lib/cim-nats/secrets")).security : undefined;
      const host = prod.hosts.find((h) => h.name === hostName)!;
      const evaluated = evalHost(renderNixosHost(prod, hostName, security, TLS));
      expect(evaluated.failedAssertions).toEqual([]);
      expect(Object.keys(evaluated.systemd.services).sort()).toEqual(host.instances.map((i) => `cim-nats-${i.kind}`).sort());

      for (const instance of host.instances) {
        const unit = `cim-nats-${instance.kind}`;
        const service = evaluated.systemd.services[unit];
        const sc = service.serviceConfig;
        expect(service.wantedBy).toEqual(["multi-user.target"]);
        // The unit runs a stable path; /etc points it at the validated store file.
        // ...of the pinned nats-server (nix/modules/nats-server.nix), not nixpkgs' of the day.
        // It reads the config from its runtime dir, where root copied it (and the secret files) first.
        expect(sc.ExecStart).toBe(`/nix/store/stub-nats-server-2.15.2/bin/nats-server -c /run/${unit}/nats.conf`);
        expect([sc.RuntimeDirectory, sc.RuntimeDirectoryMode]).toEqual([unit, "0700"]);
        const source = evaluated.environment.etc[`cim-nats/${instance.kind}.conf`].source;
        expect(source).toMatch(/^\/nix\/store\/stub-cim-nats-\w+-validated\.conf\[/);
        // The secret files do not exist where the test evaluates: no hashes, only the config.
        expect(service.reloadTriggers).toEqual([source]);
        const install = sc.ExecStartPre[0] as string;
        expect(sc.ExecStartPre).toEqual([install]);
        expect(install).toMatch(/^\+\/nix\/store\/stub-cim-nats-\w+-runtime-files<<</);
        const secrets = `/var/lib/cim-nats/secrets/${instance.serverName}`;
        const placed = [...textOf(install).matchAll(/^place (\S+) (\S+)$/gm)].map((m) => `${m[2]}<-${m[1]}`).sort();
        expect(placed).toEqual(
          [
            `nats.conf<-/etc/cim-nats/${instance.kind}.conf`,
            `cert.pem<-${secrets}/cert.pem`,
            `key.pem<-${secrets}/key.pem`,
            `ca.pem<-${secrets}/ca.pem`,
            ...(instance.kind === "hub" ? [`cluster-auth.conf<-${secrets}/cluster-auth.conf`] : []),
            // The leaf-link creds too: not through LoadCredential, which LXC's service override empties.
            ...(operator && instance.kind === "leaf"
              ? [
                  `leafnode.creds<-/var/lib/cim-nats/secrets/leaf-${instance.serverName}.creds`,
                  `system-link.creds<-/var/lib/cim-nats/secrets/leaf-${instance.serverName}-sys.creds`,
                ]
              : []),
          ].sort(),
        );
        expect(service.reloadIfChanged).toBe(false);
        expect(sc.StateDirectory).toBe(`cim-nats/${instance.serverName}`);
        expect(sc.ReadWritePaths).toEqual([instance.storeDir]);
        expect([sc.User, sc.Group, sc.ProtectSystem, sc.NoNewPrivileges, sc.LimitNOFILE]).toEqual(["cim-nats", "cim-nats", "strict", true, 800000]);
        expect([sc.ExecReload, sc.KillSignal, sc.KillMode, sc.SuccessExitStatus, sc.TimeoutStopSec]).toEqual([
          [install, "/nix/store/stub-coreutils/bin/kill -HUP $MAINPID"],
          "SIGUSR2",
          "mixed",
          [0, "SIGUSR2"],
          String(prod.lameDuck.durationSeconds + 30),
        ]);
        expect(sc.LoadCredential).toBeUndefined();

        const config = configOf(source);
        expect(config).toEqual(nixosRunningSettings(prod, instance, security, TLS));
        // Restarted only for what SIGHUP cannot apply.
        expect(service.restartTriggers).toHaveLength(1);
        const settings = host.instances.length > 0 ? (evaluated as any).services["cim-nats"].instances[instance.kind].settings : undefined;
        expect(jsonOf(service.restartTriggers[0])).toEqual(restartOnlyView(settings));
        // The exact text, its runtime files stood in by throwaway ones from components/tls: real nats-server -t.
        const [check] = await checkStack(prod, [{ instance, text: textOf(source.slice(source.indexOf("<<<"))), tls: nixosTlsInput(prod, instance, TLS) }]);
        expect(check.output, unit).toContain("is valid");
        expect(check.valid).toBe(true);
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
    expect(configOf(evaluated.environment.etc["cim-nats/hub.conf"].source).http).toBe("10.0.0.42:8223");
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
    expect(jsonOf(unit.restartTriggers[0])).toEqual(configOf(unit.reloadTriggers[0]));
  });
});

/** Runs a stub runCommand's script (between '[' and the last ']') as the build would, its input file real. */
function runBuildScript(source: string, dir: string): { status: number | null; output: string } {
  let script = source.slice(source.indexOf("[") + 1, source.lastIndexOf("]"));
  script = script.replace(/\/nix\/store\/stub-[\w.-]+\.conf<<<([\s\S]*?)>>>/g, (_m, text: string) => {
    const file = path.join(dir, "unvalidated.conf");
    fs.writeFileSync(file, text);
    return file;
  });
  const bin = path.dirname(natsServerBinary());
  const run = spawnSync("bash", ["-e", "-c", script], { cwd: dir, encoding: "utf8", env: { ...process.env, out: path.join(dir, "out"), PATH: `${bin}:${process.env.PATH}` } });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

describe.skipIf(!LIB)("TLS and route authorization on a prod host", () => {
  const prod = stackTopology("prod");

  it("the build-time check (nats-server -t in the sandbox, throwaway openssl certificate and include) passes, and fails without the include", () => {
    const hasOpenssl = spawnSync("openssl", ["version"]).status === 0;
    if (!hasOpenssl) return console.warn("module-eval: build-time check skipped: no openssl on PATH");
    const evaluated = evalHost(renderNixosHost(prod, "nats-1", undefined, TLS));
    for (const kind of ["leaf", "hub"]) {
      const source = evaluated.environment.etc[`cim-nats/${kind}.conf`].source;
      const dir = fs.mkdtempSync(path.join(work, `build-${kind}-`));
      const run = runBuildScript(source, dir);
      expect(run.output, kind).toContain("is valid");
      expect(run.status).toBe(0);
      expect(fs.readlinkSync(path.join(dir, "out"))).toBe(path.join(dir, "unvalidated.conf"));
    }
    // The same script without its throwaway include: nats-server refuses the config (the check can fail).
    const hub = evaluated.environment.etc["cim-nats/hub.conf"].source;
    const broken = hub.replace(/printf 'authorization[^\n]*\n/, "");
    expect(broken).not.toBe(hub);
    const run = runBuildScript(broken, fs.mkdtempSync(path.join(work, "build-broken-")));
    expect(run.status).not.toBe(0);
    expect(run.output).toContain("cluster-auth.conf");
  });

  it("a re-issued certificate or route authorization reloads the unit (hash in reloadTriggers), never restarts it", () => {
    const files = fs.mkdtempSync(path.join(work, "secrets-"));
    const names = ["cert.pem", "key.pem", "ca.pem", "cluster-auth.conf"];
    const write = (serial: string) => names.forEach((n) => fs.writeFileSync(path.join(files, n), `${n} ${serial}\n`));
    const pointed = (text: string) => text.split("/var/lib/cim-nats/secrets/nats-2-hub/").join(`${files}/`);
    const hostText = pointed(renderNixosHost(prod, "nats-2", undefined, TLS));
    write("1");
    const before = evalHost(hostText).systemd.services["cim-nats-hub"];
    const hash = (n: string) => require("node:crypto").createHash("sha256").update(fs.readFileSync(path.join(files, n))).digest("hex");
    expect(before.reloadTriggers.slice(1).sort()).toEqual(names.map(hash).sort());
    write("2");
    const after = evalHost(hostText).systemd.services["cim-nats-hub"];
    expect(after.reloadTriggers).not.toEqual(before.reloadTriggers);
    expect(after.restartTriggers).toEqual(before.restartTriggers);
    expect(after.serviceConfig.ExecStart).toBe(before.serviceConfig.ExecStart);
    expect(after.serviceConfig.ExecStartPre).toEqual(before.serviceConfig.ExecStartPre);
  });

  it("built where the secrets are not (build once, copy): the hashes the deploy records are the triggers", async () => {
    // operator mode: nats-2's leaf has link creds. No secret file exists where this evaluates.
    const { security } = await testSecurity(prod, "/var/lib/cim-nats/secrets");
    const hostText = renderNixosHost(prod, "nats-2", security, TLS);
    const hashes = (serial: string) =>
      `{ services.cim-nats.secretFileHashes = { ${[
        "/var/lib/cim-nats/secrets/nats-2-hub/cert.pem",
        "/var/lib/cim-nats/secrets/nats-2-hub/key.pem",
        "/var/lib/cim-nats/secrets/nats-2-hub/ca.pem",
        "/var/lib/cim-nats/secrets/nats-2-hub/cluster-auth.conf",
        "/var/lib/cim-nats/secrets/leaf-nats-2.creds",
      ]
        .map((p) => `"${p}" = "${serial}-${path.basename(p)}";`)
        .join(" ")} }; }`;
    const without = evalHost(hostText).systemd.services;
    const first = evalHost(hostText, hashes("1")).systemd.services;
    expect(first["cim-nats-hub"].reloadTriggers.slice(1).sort()).toEqual(["1-ca.pem", "1-cert.pem", "1-cluster-auth.conf", "1-key.pem"]);
    expect(first["cim-nats-leaf"].restartTriggers.slice(1)).toEqual(["1-leaf-nats-2.creds"]);
    // Without them a build elsewhere would never see a rotation: nothing to hash.
    expect(without["cim-nats-hub"].reloadTriggers).toHaveLength(1);
    expect(without["cim-nats-leaf"].restartTriggers).toHaveLength(1);
    // Rotated: the hub reloads (certificates, route password), the leaf restarts (its link logs in again).
    const rotated = evalHost(hostText, hashes("2")).systemd.services;
    expect(rotated["cim-nats-hub"].reloadTriggers).not.toEqual(first["cim-nats-hub"].reloadTriggers);
    expect(rotated["cim-nats-hub"].restartTriggers).toEqual(first["cim-nats-hub"].restartTriggers);
    expect(rotated["cim-nats-leaf"].restartTriggers).not.toEqual(first["cim-nats-leaf"].restartTriggers);
  });

  it("the runtime-files script places each file 0400 for the service user, whole, and a second run replaces them", () => {
    const evaluated = evalHost(renderNixosHost(prod, "nats-3", undefined, TLS));
    const script = textOf(evaluated.systemd.services["cim-nats-hub"].serviceConfig.ExecStartPre[0]);
    const dir = fs.mkdtempSync(path.join(work, "runtime-"));
    const src = fs.mkdtempSync(path.join(work, "src-"));
    const me = os.userInfo().username;
    const group = spawnSync("id", ["-gn"], { encoding: "utf8" }).stdout.trim();
    let local = script
      .replace("dir=/run/cim-nats-hub", `dir=${dir}`)
      .replace("-o cim-nats -g cim-nats", `-o ${me} -g ${group}`)
      .split("/nix/store/stub-coreutils/bin/").join("");
    for (const m of [...script.matchAll(/^place (\S+) (\S+)$/gm)]) {
      const to = path.join(src, m[2]);
      fs.writeFileSync(to, `${m[2]} v1\n`, { mode: 0o600 });
      local = local.replace(`place ${m[1]} `, `place ${to} `);
    }
    expect(spawnSync("bash", ["-c", local], { encoding: "utf8" }).status).toBe(0);
    expect(fs.readdirSync(dir).sort()).toEqual(["ca.pem", "cert.pem", "cluster-auth.conf", "key.pem", "nats.conf"]);
    for (const f of fs.readdirSync(dir)) expect((fs.statSync(path.join(dir, f)).mode & 0o777).toString(8)).toBe("400");
    fs.writeFileSync(path.join(src, "cert.pem"), "cert.pem v2\n");
    expect(spawnSync("bash", ["-c", local], { encoding: "utf8" }).status).toBe(0);
    expect(fs.readFileSync(path.join(dir, "cert.pem"), "utf8")).toBe("cert.pem v2\n");
  });

  it("a secret file in the Nix store is refused with the fix", () => {
    const text = renderNixosHost(prod, "nats-1", undefined, TLS).replace('keyFile = "/var/lib/cim-nats/secrets/nats-1/key.pem";', 'keyFile = "/nix/store/x-key.pem";');
    expect(evalHost(text).failedAssertions.join("\n")).toContain("the source of key.pem is '/nix/store/x-key.pem'; give an absolute path outside the Nix store");
  });
});
