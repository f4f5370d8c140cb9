import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  isProcessRunning,
  startNatsServer,
  stopNatsServer,
  waitHealthy,
} from "../../components/local/nats-process";
import { freePort } from "../../harness/free-port";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cim-nats-process-"));
const started: number[] = [];
afterAll(async () => {
  await Promise.all(started.map((pid) => stopNatsServer(pid)));
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A minimal server config on random loopback ports. */
async function writeConfig(name: string, address = "127.0.0.1"): Promise<{ configPath: string; logPath: string; client: number; monitoring: number }> {
  const [client, monitoring] = [await freePort(address), await freePort(address)];
  const configPath = path.join(dir, `${name}.conf`);
  fs.writeFileSync(configPath, `server_name: "${name}"\nlisten: "${address}:${client}"\nhttp: "${address}:${monitoring}"\n`);
  return { configPath, logPath: path.join(dir, `${name}.log`), client, monitoring };
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}

/** Session id of a process (field 6 of /proc/<pid>/stat). */
function sessionId(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[3]);
}

describe("startNatsServer / waitHealthy / stopNatsServer", () => {
  it("starts a detached server in its own session, healthy on its ports, and stops it", async () => {
    const cfg = await writeConfig("plain");
    const pidPath = path.join(dir, "plain.pid");
    const { pid } = await startNatsServer({ configPath: cfg.configPath, logPath: cfg.logPath, pidPath });
    started.push(pid);
    await waitHealthy(`http://127.0.0.1:${cfg.monitoring}`, 15_000, pid);
    expect(sessionId(pid)).toBe(pid);
    expect(await portOpen(cfg.client)).toBe(true);
    expect(fs.readFileSync(pidPath, "utf8").trim()).toBe(String(pid));
    expect(fs.readFileSync(cfg.logPath, "utf8")).toContain("Server is ready");

    await stopNatsServer(pid, 5_000);
    expect(isProcessRunning(pid)).toBe(false);
    expect(await portOpen(cfg.client)).toBe(false);
  });

  it("outlives the process that started it, and another process stops it by pid", async () => {
    const cfg = await writeConfig("orphan");
    // What the dev stack does: a short-lived process (a Pulumi provider) starts the server.
    const modulePath = path.resolve(__dirname, "../../components/local/nats-process.ts");
    const script =
      `require(${JSON.stringify(modulePath)}).startNatsServer(${JSON.stringify({ configPath: cfg.configPath, logPath: cfg.logPath })})` +
      ".then((p) => { console.log(p.pid); process.exit(0); })";
    const starter = spawnSync(process.execPath, ["--require", "tsx/cjs", "-e", script], {
      encoding: "utf8",
      timeout: 30_000,
      cwd: path.resolve(__dirname, "../.."),
    });
    expect(starter.status, starter.stderr).toBe(0);
    const pid = Number(starter.stdout.trim());
    started.push(pid);
    await waitHealthy(`http://127.0.0.1:${cfg.monitoring}`, 15_000, pid);
    expect(isProcessRunning(pid)).toBe(true);
    await stopNatsServer(pid, 5_000);
    expect(isProcessRunning(pid)).toBe(false);
  });

  it("waitHealthy fails fast, naming the pid, when the server exits at start", async () => {
    const cfg = await writeConfig("clash");
    // Occupy the monitoring port: nats-server refuses to start.
    const blocker = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => blocker.listen(cfg.monitoring, "127.0.0.1", resolve));
    try {
      const { pid } = await startNatsServer({ configPath: cfg.configPath, logPath: cfg.logPath });
      started.push(pid);
      const t0 = Date.now();
      await expect(waitHealthy(`http://127.0.0.1:${cfg.monitoring}`, 20_000, pid)).rejects.toThrow(`nats-server pid ${pid} exited before`);
      expect(Date.now() - t0).toBeLessThan(5_000);
      expect(fs.readFileSync(cfg.logPath, "utf8")).toContain("address already in use");
    } finally {
      blocker.close();
    }
  });

  it("waitHealthy gives up after its timeout with the last answer", async () => {
    const port = await freePort();
    await expect(waitHealthy(`http://127.0.0.1:${port}`, 300)).rejects.toThrow(`http://127.0.0.1:${port}/healthz not healthy within 300 ms`);
  });

  it("stopNatsServer treats an exited pid as stopped and leaves a non-nats-server pid alone", async () => {
    const sleeper = spawn("sleep", ["30"], { stdio: "ignore" });
    try {
      await stopNatsServer(sleeper.pid!, 1_000);
      expect(isProcessRunning(sleeper.pid!)).toBe(true);
    } finally {
      sleeper.kill("SIGKILL");
    }
    await new Promise((resolve) => sleeper.once("exit", resolve));
    await expect(stopNatsServer(sleeper.pid!, 1_000)).resolves.toBeUndefined();
  });

  it("names the missing binary and the setup command", async () => {
    const cfg = await writeConfig("missing");
    await expect(
      startNatsServer({ configPath: cfg.configPath, logPath: cfg.logPath, binary: path.join(dir, "no-such-nats-server") }),
    ).rejects.toThrow(/no-such-nats-server' is missing or not executable; run `npm run setup`/);
  });
});

describe("lame duck stops", () => {
  /** A server with a lame duck of 30 s (nats-server's minimum) and the given grace period, plus one connected client. */
  const address = "127.0.22.30";
  async function serverWithClient(name: string, grace: string) {
    const cfg = await writeConfig(name, address);
    fs.appendFileSync(cfg.configPath, `lame_duck_duration: "30s"\nlame_duck_grace_period: "${grace}"\n`);
    const { pid } = await startNatsServer({ configPath: cfg.configPath, logPath: cfg.logPath });
    started.push(pid);
    await waitHealthy(`http://${address}:${cfg.monitoring}`, 15_000, pid);
    const client = net.connect(cfg.client, address);
    await new Promise<void>((resolve) => client.once("data", () => resolve()));
    client.write('CONNECT {"verbose":false}\r\nPING\r\n');
    return { ...cfg, pid, client };
  }

  it("SIGUSR2 enters lame duck mode: the server closes its clients after the grace period and exits", async () => {
    const s = await serverWithClient("ldm", "500ms");
    const closed = new Promise<number>((resolve) => s.client.once("close", () => resolve(Date.now())));
    const t0 = Date.now();
    await stopNatsServer(s.pid, 40_000, { signal: "SIGUSR2" });
    expect(isProcessRunning(s.pid)).toBe(false);
    expect(fs.readFileSync(s.logPath, "utf8")).toContain("Entering lame duck mode");
    // The client was closed by the server (not cut by a kill), after the grace period.
    expect((await closed) - t0).toBeGreaterThanOrEqual(400);
  });

  it("a lame duck stop that outlasts its timeout is finished with SIGKILL", async () => {
    const s = await serverWithClient("ldm-slow", "20s");
    const t0 = Date.now();
    await stopNatsServer(s.pid, 1_000, { signal: "SIGUSR2" });
    const took = Date.now() - t0;
    s.client.destroy();
    expect(isProcessRunning(s.pid)).toBe(false);
    expect(took).toBeGreaterThanOrEqual(1_000);
    expect(took).toBeLessThan(6_000);
    expect(fs.readFileSync(s.logPath, "utf8")).toContain("Entering lame duck mode");
  });
});
