/**
 * `npm run render -- <stack> <dir> [--check]` (scripts/render.ts), run as the CLI: offline, from
 * Pulumi.<stack>.yaml alone. The files a reviewer diffs exist, carry TLS and the cluster include,
 * no secret, and `--check` runs the real nats-server -t on every config (throwaway certificates).
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkStack, readStackModel, renderStack } from "../../scripts/render";

const ROOT = path.resolve(__dirname, "../..");
const work = fs.mkdtempSync(path.join(os.tmpdir(), "cim-nats-render-"));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

function render(stack: string): { status: number | null; stdout: string; stderr: string; dir: string } {
  const dir = path.join(work, stack);
  const run = spawnSync("bash", ["scripts/with-env.sh", "npx", "tsx", "scripts/render.ts", stack, dir, "--check"], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr, dir };
}

const SERVERS = ["nats-1", "nats-2", "nats-3", "cimstor", "nats-1-hub", "nats-2-hub", "nats-3-hub"];

describe("npm run render", () => {
  it("prod: every server's config and every host's NixOS files, TLS, route include, loopback monitoring; --check passes", () => {
    const run = render("prod");
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    for (const s of SERVERS) expect(run.stdout).toContain(`${s}: valid`);
    for (const s of SERVERS) {
      const text = fs.readFileSync(path.join(run.dir, `${s}.conf`), "utf8");
      expect(text).toContain("tls: {");
      expect(text).toMatch(/^http: "127\.0\.0\.1:822[23]"$/m);
      if (s.endsWith("-hub")) expect(text).toContain('  include "cluster-auth.conf"');
    }
    expect(fs.readFileSync(path.join(run.dir, "nats-1.conf"), "utf8")).toContain('http: "127.0.0.1:8222"');
    for (const h of ["nats-1", "nats-2", "nats-3", "cimstor"]) {
      const hostNix = fs.readFileSync(path.join(run.dir, "nixos", h, "etc/nixos/cim-nats/host.nix"), "utf8");
      expect(hostNix).toContain(`keyFile = "/var/lib/cim-nats/secrets/${h}/key.pem";`);
      expect(fs.existsSync(path.join(run.dir, "nixos", h, "etc/nixos/configuration.nix"))).toBe(true);
    }
    // Nothing secret: no key, no route password, no creds file.
    const all = spawnSync("grep", ["-rlE", "PRIVATE KEY|cim-route:|NATS USER JWT", run.dir], { encoding: "utf8" });
    expect(all.stdout).toBe("");
    expect(fs.readdirSync(path.join(run.dir, "nixos", "nats-1")).length).toBeGreaterThan(0);
  }, 180_000);

  it("dev: the local servers' configs with TLS and the include; --check passes", () => {
    const run = render("dev");
    expect(run.status).toBe(0);
    for (const s of SERVERS) expect(run.stdout).toContain(`${s}: valid`);
    expect(fs.readFileSync(path.join(run.dir, "nats-2-hub.conf"), "utf8")).toContain('include "cluster-auth.conf"');
    expect(fs.readFileSync(path.join(run.dir, "nats-2.conf"), "utf8")).toMatch(/cert_file: ".*\/nats-2\/tls\/cert\.pem"/);
    expect(fs.existsSync(path.join(run.dir, "nixos"))).toBe(false);
  }, 180_000);

  it("--check fails a config nats-server refuses (the check can fail)", async () => {
    const model = readStackModel("prod");
    const rendered = renderStack("prod", model);
    const broken = rendered.servers.map((s) => (s.instance.serverName === "nats-2-hub" ? { ...s, text: s.text.replace('include "cluster-auth.conf"', 'include "missing.conf"') } : s));
    const lines = await checkStack(model.topology, broken);
    expect(lines.find((l) => l.serverName === "nats-2-hub")!.valid).toBe(false);
    expect(lines.filter((l) => l.valid)).toHaveLength(6);
  }, 60_000);
});
