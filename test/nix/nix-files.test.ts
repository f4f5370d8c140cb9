/**
 * Every .nix file in nix/ and every rendered per-host file parses with nix-instantiate, and a
 * rendered host file evaluates to exactly the config tree the nats-server tests validate.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { serverConfigTree } from "../../components/render/nats-server-config";
import { nixosRunningSettings, renderNixosHost } from "../../components/render/nixos-host";
import { instanceByName } from "../../components/topology/endpoints";
import { toNix, type NixValue } from "../../components/render/to-nix";
import { stackTopology } from "../render/stack-topology";
import { testSecurity } from "../render/test-security";
import { nixEvalJson, nixInstantiate } from "./nix-instantiate";

const ROOT = path.resolve(__dirname, "../..");
const work = fs.mkdtempSync(path.join(os.tmpdir(), "cim-nats-nix-"));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

function nixFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? nixFiles(p) : e.name.endsWith(".nix") ? [p] : [];
  });
}

/** Writes a rendered host file beside a `modules/` copy of nix/modules, as deployed. */
function writeHost(name: string, text: string): string {
  const dir = path.join(work, name);
  fs.mkdirSync(path.join(dir, "modules"), { recursive: true });
  fs.cpSync(path.join(ROOT, "nix", "modules"), path.join(dir, "modules"), { recursive: true });
  fs.writeFileSync(path.join(dir, "host.nix"), text);
  return path.join(dir, "host.nix");
}

describe("nix-instantiate --parse", () => {
  const files = nixFiles(path.join(ROOT, "nix")).map((f) => path.relative(ROOT, f));

  it("finds the module", () => {
    expect(files).toContain("nix/modules/cim-nats.nix");
  });

  it.each(files)("%s parses", (file) => {
    const run = nixInstantiate(["--parse", path.join(ROOT, file)]);
    expect(run.stderr.replace(/^warning:.*\n/gm, "")).toBe("");
    expect(run.ok).toBe(true);
  });

  it("rejects a broken file (the check can fail)", () => {
    const file = path.join(work, "broken.nix");
    fs.writeFileSync(file, "{ a = 1; b = ; }");
    expect(nixInstantiate(["--parse", file]).ok).toBe(false);
  });

  describe.each(["prod", "dev"] as const)("rendered %s host files", (stack) => {
    const topology = stackTopology(stack);
    it.each(topology.hosts.map((h) => h.name))("%s parses, with and without operator mode", async (host) => {
      const { security } = await testSecurity(topology, "/var/lib/cim-nats/secrets");
      for (const [variant, sec] of [["open", undefined], ["operator", security]] as const) {
        const file = writeHost(`${stack}-${host}-${variant}`, renderNixosHost(topology, host, sec));
        const run = nixInstantiate(["--parse", file]);
        expect(run.ok, `${variant}: ${run.stderr}`).toBe(true);
      }
    });
  });
});

describe("a rendered host file evaluated by Nix", () => {
  it("carries exactly the tested config tree in each instance's settings", async () => {
    const prod = stackTopology("prod");
    const { security } = await testSecurity(prod, "/var/lib/cim-nats/secrets");
    const file = writeHost("eval-nats-2", renderNixosHost(prod, "nats-2", security));
    const host = nixEvalJson(`let h = import ${file} { }; in { inherit (h) networking; imports = map toString h.imports; inherit (h.services) cim-nats; }`) as any;
    expect(host.networking.hostName).toBe("nats-2");
    expect(host.imports).toEqual([path.join(path.dirname(file), "modules", "cim-nats.nix")]);
    expect(host["cim-nats"].enable).toBe(true);
    expect(host["cim-nats"].instances.hub.settings).toEqual(serverConfigTree(prod, "nats-2-hub", security));
    expect(host["cim-nats"].instances.leaf.settings).toEqual(nixosRunningSettings(prod, instanceByName(prod, "nats-2"), security));
    expect(host["cim-nats"].instances.leaf.leafnodeCredentialsFile).toBe("/var/lib/cim-nats/secrets/leaf-nats-2.creds");
    expect(host["cim-nats"].instances.leaf.systemLinkCredentialsFile).toBe("/var/lib/cim-nats/secrets/leaf-nats-2-sys.creds");
  });
});

describe("toNix", () => {
  const tricky: NixValue = {
    plain: "nats-1",
    interpolation: "${builtins.currentTime} and $HOME",
    quotes: 'say "hi" \\ back\\slash',
    whitespace: "line1\nline2\ttab\r",
    unicode: "Zürich ✓",
    numbers: [0, 42, -1, 2.5, -0.5],
    flags: [true, false, null],
    nested: { "quoted.key": 1, "with space": 2, if: 3, "x-y_z'": 4, "1st": 5, empty: {}, list: [] },
  };

  it("round-trips tricky values through nix-instantiate unchanged", () => {
    expect(nixEvalJson(toNix(tricky))).toEqual(tricky);
  });

  it("escapes ${ so no value can interpolate", () => {
    expect(toNix("${x}")).toBe('"\\${x}"');
  });
});
