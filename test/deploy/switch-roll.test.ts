/**
 * The switch script of a hub host across a route transport change (deploy/route-roll.ts), run by
 * bash on this machine against a real nats-server: a lone hub member whose route peers never
 * answer, which is what a member restarted on a new transport sees of peers still on the old one
 * (no meta leader, so the full /healthz never passes). The marker on the host decides the wait:
 * changed or missing relaxes it to js-server-only (not on the chain's last hub host); equal keeps
 * the full check. The marker is written only once every wait passed.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type HubRoll, routeTransportMarker } from "../../components/deploy/route-roll";
import { DEFAULT_DEPLOY_OPTIONS, stageDirCommand, switchScript } from "../../components/deploy/scripts";
import { natsServerBinary } from "../../components/local/nats-process";
import { freePort } from "../../harness/free-port";
import { writeFakeSystem, writeNixFakes } from "./nix-fakes";
import { runBash } from "./run-bash";

const ADDRESS = "127.0.141.20";
const NEW = routeTransportMarker({ name: "c", tls: true, auth: true });
const OLD = routeTransportMarker({ name: "c", tls: false, auth: false });

/** Each case has its own host name, ports and root, so the cases run at once. */
describe.concurrent("a hub host's switch across a route transport change", () => {
  let dir: string;
  const pids: number[] = [];

  let bin: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "cim-roll-switch-"));
    bin = join(dir, "bin");
    writeNixFakes(bin, join(dir, "units"), join(dir, "nix-env.log"));
    mkdirSync(join(dir, "units"));
  });
  afterAll(() => {
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGTERM");
      } catch {
        // already gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  /** Runs the switch of host `name` (hub member `<name>-hub`, peers that never answer) with the marker as given. */
  async function run(name: string, opts: { mode: "create" | "update"; marker?: string; lastHubHost: string }) {
    const [port, monitoringPort, routePort] = [await freePort(ADDRESS), await freePort(ADDRESS), await freePort(ADDRESS)];
    const peers = [await freePort(ADDRESS), await freePort(ADDRESS)].map((p) => `nats-route://${ADDRESS}:${p}`).join(",");
    const server = `${name}-hub`;
    const pidFile = join(dir, "units", `${server}.pid`);
    const system = writeFakeSystem(
      join(dir, "store", name),
      `(exec ${natsServerBinary()} -a ${ADDRESS} -p ${port} -m ${monitoringPort} -P ${pidFile} -n ${server} -js -sd ${join(dir, `${name}-js`)} --cluster_name c --cluster nats-route://${ADDRESS}:${routePort} --routes ${peers}) >${join(dir, `${name}.log`)} 2>&1 </dev/null &`,
    );
    const markerPath = join(dir, `${name}-root`, "var/lib/cim-nats/route-transport");
    if (opts.marker !== undefined) {
      mkdirSync(join(dir, `${name}-root`, "var/lib/cim-nats"), { recursive: true });
      writeFileSync(markerPath, `${opts.marker}\n`);
    }
    const options = { ...DEFAULT_DEPLOY_OPTIONS, stagingDir: join(dir, `${name}-stage`), healthTimeoutSeconds: 4 };
    expect(spawnSync("bash", ["-c", stageDirCommand(options)]).status).toBe(0);
    const roll: HubRoll = { markerPath, transport: NEW, hubServer: server, lastHubHost: opts.lastHubHost };
    const profile = join(dir, `${name}-root`, "profile");
    const script = switchScript(name, [], [{ serverName: server, unit: server, monitoringAddress: ADDRESS, monitoringPort }], options, { system, profile }, roll);
    const result = await runBash(["-s", "--", opts.mode], script, { ...process.env, PATH: `${bin}:${process.env.PATH}` }, 60_000);
    if (existsSync(pidFile)) pids.push(Number(readFileSync(pidFile, "utf8")));
    const health = (path: string) => `http://${ADDRESS}:${monitoringPort}${path}`;
    return { ...result, health, marker: existsSync(markerPath) ? readFileSync(markerPath, "utf8") : undefined };
  }

  it.each([
    ["missing (the first deploy of this release)", undefined, "unrecorded"],
    ["of another transport", OLD, OLD],
  ])("update, marker %s, on a hub host before the last: waits for its own server only, then records the new transport", async (_what, marker, was) => {
    const r = await run(`early-${was === OLD ? "old" : "none"}`, { mode: "update", marker, lastHubHost: "last" });
    const server = `early-${was === OLD ? "old" : "none"}-hub`;
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout.split("\n").slice(0, 2)).toEqual([
      `cim-nats: route transport ${was} -> ${NEW}: ${server} waits for its own server only (peers not yet switched still route the old way; last, the last hub host, waits for the cluster)`,
      `cim-nats: ${server} healthy (${r.health("/healthz?js-server-only=true")})`,
    ]);
    expect(r.marker).toBe(`${NEW}\n`);
  });

  it("update, marker equal to the new transport: the full /healthz, as any rolling update (a lone member fails it)", async () => {
    const r = await run("same", { mode: "update", marker: NEW, lastHubHost: "last" });
    expect(r.status).toBe(1);
    expect(r.stdout).not.toContain("route transport");
    expect(r.stderr.split("\n")[0]).toBe(`cim-nats: same-hub (unit same-hub active) did not answer ${r.health("/healthz")} within 4s`);
    expect(r.marker).toBe(`${NEW}\n`);
  });

  it("update on the last hub host: the full /healthz even across the change; a failed wait leaves the old marker, so a re-run still sees the change", async () => {
    const r = await run("last", { mode: "update", marker: OLD, lastHubHost: "last" });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe(`cim-nats: route transport ${OLD} -> ${NEW}: last-hub waits for the whole cluster (last hub host)\n`);
    expect(r.stderr.split("\n")[0]).toBe(`cim-nats: last-hub (unit last-hub active) did not answer ${r.health("/healthz")} within 4s`);
    expect(r.marker).toBe(`${OLD}\n`);
  });

  it("create: js-server-only as always, no transport message, the transport recorded", async () => {
    const r = await run("fresh", { mode: "create", lastHubHost: "fresh" });
    expect(r.status).toBe(0);
    expect(r.stdout).not.toContain("route transport");
    expect(r.stdout).toContain(`cim-nats: fresh-hub healthy (${r.health("/healthz?js-server-only=true")})`);
    expect(r.marker).toBe(`${NEW}\n`);
  });
});
