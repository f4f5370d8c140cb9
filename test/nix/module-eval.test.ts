/**
 * The cim-nats NixOS module evaluated for every rendered prod host with a small stand-in for
 * nixpkgs' lib and module system (eval-host.nix): the units, firewall ports, state dirs and the
 * exact nats-server config each unit would run, which must pass the real `nats-server -t`.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { serverConfigTree, type NatsConfTree } from "../../components/render/nats-server-config";
import { renderNixosHost } from "../../components/render/nixos-host";
import type { ServerSecurity } from "../../components/render/server-security";
import { formatNatsConf } from "../../components/render/nats-conf";
import type { Topology } from "../../components/topology/types";
import { checkServerConfig } from "../render/nats-server-check";
import { stackTopology } from "../render/stack-topology";
import { testSecurity } from "../render/test-security";
import { nixEvalJson, nixInstantiate } from "./nix-instantiate";

const ROOT = path.resolve(__dirname, "../..");
const HARNESS = path.join(__dirname, "eval-host.nix");
const work = fs.mkdtempSync(path.join(os.tmpdir(), "cim-nats-module-"));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

let fileCount = 0;
function writeHost(text: string): string {
  const dir = path.join(work, `host-${fileCount++}`);
  fs.mkdirSync(path.join(dir, "modules"), { recursive: true });
  fs.copyFileSync(path.join(ROOT, "nix", "modules", "cim-nats.nix"), path.join(dir, "modules", "cim-nats.nix"));
  fs.writeFileSync(path.join(dir, "host.nix"), text);
  return path.join(dir, "host.nix");
}

type Evaluated = {
  systemd: { services: Record<string, { serviceConfig: Record<string, any>; wantedBy: string[] }>; tmpfiles: { rules: string[] } };
  networking: { firewall: { allowedTCPPorts: number[] } };
  users: { users: Record<string, { isSystemUser: boolean }> };
  failedAssertions: string[];
};

function evalHost(hostText: string): Evaluated {
  return nixEvalJson(`import ${HARNESS} { hostFile = ${writeHost(hostText)}; }`) as Evaluated;
}

/** The JSON config the stub `formats.json.generate` embedded in ExecStart (between '#' marks). */
function configOf(execStart: string): NatsConfTree {
  return JSON.parse(execStart.slice(execStart.indexOf("#") + 1, execStart.indexOf("#", execStart.indexOf("#") + 1)));
}

/** What the module must write: the tested tree, with leaf creds pointing at the systemd credential. */
function expectedConfig(topology: Topology, serverName: string, unit: string, security?: ServerSecurity): NatsConfTree {
  const tree = serverConfigTree(topology, serverName, security) as any;
  if (!security || !tree.leafnodes?.remotes) return tree;
  const credentials = `/run/credentials/${unit}.service/leafnode.creds`;
  return { ...tree, leafnodes: { remotes: tree.leafnodes.remotes.map((r: object) => ({ ...r, credentials })) } };
}

describe("the cim-nats module evaluated for every prod host", () => {
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
        expect(sc.ExecStart).toMatch(/^\/nix\/store\/stub-nats-server\/bin\/nats-server -c \/nix\/store\/stub-cim-nats-\w+-validated\.json\[nats-server -t -c /);
        expect(sc.StateDirectory).toBe(`cim-nats/${instance.serverName}`);
        expect(sc.ReadWritePaths).toEqual([instance.storeDir]);
        expect([sc.User, sc.Group, sc.ProtectSystem, sc.NoNewPrivileges, sc.LimitNOFILE]).toEqual(["cim-nats", "cim-nats", "strict", true, 800000]);
        if (operator && instance.kind === "leaf") {
          expect(sc.LoadCredential).toEqual([`leafnode.creds:/var/lib/cim-nats/secrets/leaf-${instance.serverName}.creds`]);
        } else {
          expect(sc.LoadCredential).toBeUndefined();
        }

        const config = configOf(sc.ExecStart);
        expect(config).toEqual(expectedConfig(prod, instance.serverName, unit, security));
        const check = checkServerConfig(formatNatsConf(config));
        expect(check.output, unit).toContain("is valid");
      }

      const ports = host.instances.flatMap((i) => [i.clientPort, i.monitoringPort, i.routePort, i.leafnodePort]).filter((p) => p !== undefined);
      expect([...evaluated.networking.firewall.allowedTCPPorts].sort()).toEqual([...ports].sort());
      expect(evaluated.users.users["cim-nats"].isSystemUser).toBe(true);
      expect(evaluated.systemd.tmpfiles.rules).toEqual([]);
    });
  });
});

describe("the module's own checks", () => {
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
    ["a misspelt option", nats1.replace("monitorPort = 8222;", "monitorPrt = 8222;"), "no such option 'monitorPrt'"],
    ["a wrong type", nats1.replace("port = 4222;", 'port = "4222";'), 'services.cim-nats.instances.leaf.port: "4222" is not a port'],
  ])("evaluation fails on %s (the check can fail)", (_case, text, message) => {
    const file = writeHost(text);
    const run = nixInstantiate(["--eval", "--strict", "--json", "-E", `import ${HARNESS} { hostFile = ${file}; }`]);
    expect(run.ok).toBe(false);
    expect(run.stderr).toContain(message);
  });
});
