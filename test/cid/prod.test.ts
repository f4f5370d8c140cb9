/**
 * The CID service for a prod host, from the same spec as dev: the NixOS module evaluated with
 * nixpkgs' real `lib.evalModules` (hardened unit, creds copied by root into its runtime dir, never in the
 * store), and the bundled program run with the pinned node against a real nats-server
 * (127.0.70.2): it serves, and drains on SIGTERM with exit 0.
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Objm } from "@nats-io/obj";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleCidService } from "../../components/cid/bundle";
import { cidOf } from "../../components/cid/cid";
import { putObject } from "../../components/cid/client";
import { cidServiceHostFiles, renderCidServiceNix } from "../../components/cid/prod";
import type { CidServiceSpec } from "../../components/cid/spec";
import { startNatsServer, stopNatsServer, waitHealthy } from "../../components/local/nats-process";
import { nixEvalJson, nixInstantiate } from "../nix/nix-instantiate";

const ROOT = path.resolve(__dirname, "..", "..");
const ADDR = "127.0.70.2";
const spec: CidServiceSpec = {
  leaf: "cimstor",
  host: "cimstor",
  address: "172.16.0.2",
  clientUrl: "nats://172.16.0.2:4222",
  jetstreamDomain: "cimstor",
  user: "cid-service",
  inboxPrefix: "_INBOX_cid-service",
  bucket: "CLUSTER_OBJECTS",
  subjectPrefix: "cimstor.objects",
  healthPort: 8290,
  maxPendingBytes: 64 * 1024 * 1024,
};

let work: string;
let bundle: string;
beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "cim-cid-prod-"));
  bundle = bundleCidService(ROOT);
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/** nixpkgs' lib from the snapshot in ../shared/nixpkgs-lib (as test/nix/module-eval.test.ts finds it). */
function nixpkgsLib(): string | undefined {
  const given = process.env.CIM_NATS_NIXPKGS_LIB ?? path.resolve(ROOT, "..", "shared", "nixpkgs-lib");
  if (!fs.existsSync(given)) return undefined;
  if (fs.existsSync(path.join(given, "default.nix"))) return given;
  const tarball = fs.readdirSync(given).find((f) => /^nixpkgs-lib-.*\.tar\.gz$/.test(f));
  if (!tarball) return undefined;
  const into = path.join(work, "nixpkgs-lib");
  fs.mkdirSync(into, { recursive: true });
  spawnSync("tar", ["xzf", path.join(given, tarball), "-C", into]);
  return path.join(into, "lib");
}

describe("the prod unit", () => {
  it("host files: module, bundle, the enabling file, and the creds 0600 outside the store", () => {
    const files = cidServiceHostFiles({ spec, moduleText: "MODULE", bundleText: "BUNDLE", creds: "CREDS" });
    expect(files.map((f) => [f.path, f.mode, f.secret])).toEqual([
      ["/etc/nixos/cim-nats/modules/cim-cid-service.nix", "0644", false],
      ["/etc/nixos/cim-nats/cid-service.js", "0644", false],
      ["/etc/nixos/cim-nats/cid-service.nix", "0644", false],
      ["/var/lib/cim-nats/secrets/cid-service.creds", "0600", true],
    ]);
  });

  it("the module and the rendered file parse", () => {
    for (const text of [fs.readFileSync(path.join(ROOT, "nix", "modules", "cim-cid-service.nix"), "utf8"), renderCidServiceNix(spec)]) {
      const file = path.join(work, `parse-${Math.random().toString(36).slice(2)}.nix`);
      fs.writeFileSync(file, text);
      const run = nixInstantiate(["--parse", file]);
      expect(run.ok, run.stderr).toBe(true);
    }
  });

  it("evaluates with nixpkgs' module system to a hardened unit reading its creds from its runtime dir (root copies them there; not LoadCredential)", (ctx) => {
    const lib = nixpkgsLib();
    if (!lib) return ctx.skip();
    const dir = path.join(work, "host");
    fs.mkdirSync(path.join(dir, "modules"), { recursive: true });
    fs.copyFileSync(path.join(ROOT, "nix", "modules", "cim-cid-service.nix"), path.join(dir, "modules", "cim-cid-service.nix"));
    fs.writeFileSync(path.join(dir, "cid-service.js"), "// bundle\n");
    fs.writeFileSync(path.join(dir, "cid-service.nix"), renderCidServiceNix(spec));
    const out = nixEvalJson(`import ${path.join(__dirname, "eval-cid-service.nix")} { lib = import ${lib}; hostFile = ${path.join(dir, "cid-service.nix")}; }`) as {
      systemd: { services: Record<string, { environment: Record<string, string>; serviceConfig: Record<string, unknown>; wantedBy: string[]; after: string[] }> };
      failedAssertions: string[];
    };
    expect(out.failedAssertions).toEqual([]);
    const unit = out.systemd.services["cim-cid-service"];
    expect(unit.wantedBy).toEqual(["multi-user.target"]);
    expect(unit.after).toContain("cim-nats-leaf.service");
    expect(unit.environment).toMatchObject({
      CID_NATS_URLS: "nats://172.16.0.2:4222",
      CID_NATS_CREDS: "/run/cim-cid-service/nats.creds",
      CID_BUCKET: "CLUSTER_OBJECTS",
      CID_SUBJECT_PREFIX: "cimstor.objects",
      CID_INBOX_PREFIX: "_INBOX_cid-service",
      CID_HEALTH_ADDR: "172.16.0.2:8290",
    });
    // LXC's service override empties LoadCredential= in unprivileged containers: the unit does not use it.
    expect(unit.serviceConfig.LoadCredential).toBeUndefined();
    const install = String((unit.serviceConfig.ExecStartPre as string[])[0]);
    expect(install).toMatch(/^\+\/nix\/store\/stub-cim-cid-service-runtime-files<<</);
    expect([...install.matchAll(/^place (\S+) (\S+)$/gm)].map((m) => `${m[2]}<-${m[1]}`)).toEqual(["nats.creds<-/var/lib/cim-nats/secrets/cid-service.creds"]);
    expect(unit.serviceConfig).toMatchObject({
      RuntimeDirectory: "cim-cid-service",
      RuntimeDirectoryMode: "0700",
      DynamicUser: true,
      KillSignal: "SIGTERM",
      NoNewPrivileges: true,
      ProtectSystem: "strict",
      CapabilityBoundingSet: "",
      MemoryDenyWriteExecute: false,
    });
    expect(String(unit.serviceConfig.ExecStart)).toMatch(/^\/nix\/store\/stub-nodejs-22\/bin\/node \/nix\/store\/[a-z0-9]{32}-cid-service\.js$/);
    // No creds text anywhere in the evaluated config: only the path.
    expect(JSON.stringify(out)).not.toContain("BEGIN NATS USER JWT");
  });
});

describe("the bundled program", () => {
  it("serves with the pinned node and no node_modules, and drains on SIGTERM", async () => {
    const dir = fs.mkdtempSync(path.join(work, "run-"));
    const conf = path.join(dir, "nats.conf");
    fs.writeFileSync(conf, [`listen: "${ADDR}:4222"`, `http: "${ADDR}:8222"`, `jetstream { store_dir: "${dir}/js" }`].join("\n"));
    const { pid } = await startNatsServer({ configPath: conf, logPath: path.join(dir, "nats.log") });
    try {
      await waitHealthy(`http://${ADDR}:8222`, 15_000, pid);
      const nc = await connect({ servers: `nats://${ADDR}:4222` });
      await new Objm(nc).create("CLUSTER_OBJECTS");
      const script = path.join(dir, "cid-service.js");
      fs.writeFileSync(script, bundle);
      const child = spawn(process.execPath, [script], {
        cwd: dir,
        env: { PATH: "/usr/bin:/bin", CID_NATS_URLS: `nats://${ADDR}:4222`, CID_HEALTH_ADDR: `${ADDR}:8291` },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      child.stdout.on("data", (d: Buffer) => (out += d.toString()));
      child.stderr.on("data", (d: Buffer) => (out += d.toString()));
      const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
      const deadline = Date.now() + 15_000;
      while (!(await fetch(`http://${ADDR}:8291/healthz`).then((r) => r.status === 200, () => false))) {
        if (Date.now() > deadline) throw new Error(`bundle not healthy:\n${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const bytes = new TextEncoder().encode("from the bundle");
      expect(await putObject(nc, bytes, { subjectPrefix: "cimstor.objects" })).toBe(cidOf(bytes));
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      expect(out).toContain("drained");
      await nc.close();
    } finally {
      await stopNatsServer(pid);
    }
  }, 60_000);
});
